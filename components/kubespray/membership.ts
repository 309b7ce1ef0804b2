// Control-plane and etcd membership changes, as Kubespray v2.31.0 documents them in docs/operations/nodes.md
// ("Adding/replacing a control plane node", "Adding/Removal of first kube_control_plane and etcd-master",
// "Adding an etcd node", "Removing an etcd node"). Pure: from the members of the last deployment and of the
// config, the ordered steps one `up` runs (the cluster command's create), or why it refuses. playbook.ts
// composes them into the cluster command; `npm run plan` and the in-up log print the same steps.
//
// The rules, each from that document:
//   - a member leaves through remove-node.yml while it is still in the inventory (`-e node=NAME`), with
//     `reset_nodes=false allow_ungraceful_removal=true` when its machine does not answer; then cluster.yml
//     regenerates the remaining members' configuration (the API servers' --etcd-servers included);
//   - kube_control_plane[0] cannot be removed as it is: the inventory is reordered so that a surviving
//     control plane is first, and the cluster is upgraded (cluster.yml) with that order before the removal;
//   - an etcd member joins by cluster.yml --limit=etcd,kube_control_plane -e ignore_assert_errors=yes, then
//     upgrade-cluster.yml with the same options updates every member's etcd configuration;
//   - a new control plane is appended at the end of kube_control_plane, never first;
//   - nodes.md's "restart nginx-proxy" step does not apply: with the API VIP as loadbalancer_apiserver,
//     Kubespray deploys no localhost proxy (loadbalancer_apiserver_localhost defaults to false);
//   - nodes.md's "edit the cluster-info ConfigMap" step does not apply: its server is the VIP
//     (kubeadm's controlPlaneEndpoint), never a control plane's own address (checked by the real-cluster test).
//
// Decided at run time, because only then is it known which machines answer (an Ansible ping, the playbooks'
// own connection), and checked before the first step:
//   - every member that stays must answer: with one of them dead, removing or adding a member leaves etcd
//     without a majority (3 members, one dead, one removed: 1 of 2). Refused, naming the node;
//   - a leaving member that does not answer gets the unreachable-node options, and when it is
//     kube_control_plane[0] the reordering cluster.yml is left out: with a dead etcd member still listed,
//     cluster.yml's etcd health checks cannot pass. remove-node.yml then runs on the reordered inventory (it
//     delegates to the first control plane and the first etcd member, which must not be the dead node), and
//     the cluster.yml after it applies the new order (documented deviation: that node cannot be upgraded).
// Refused at preview: more than one etcd member (or more than one control plane) leaving or joining per `up`;
// no control plane or etcd member left. One leaving and one joining in the same `up` is a replacement: the
// count goes n -> n-1 -> n. An even count in the config is allowed for one `up` only with etcd.allowEvenMembers
// (config/config.ts) and only one member away from the odd count deployed (this module's evenCountErrors).
import type { DeployedMembers } from "../config/config";
import type { CommandSpec, Playbook } from "./playbook";

/** Members by name; `controlPlane` in inventory order (its first is kube_control_plane[0]). */
export interface Members {
    controlPlane: readonly string[];
    etcd: readonly string[];
}

export interface MembershipStep {
    /** What the step does, for the plan and the in-up log. */
    title: string;
    /** The section of docs/operations/nodes.md it follows. */
    doc: string;
    playbook: Playbook;
    /** `--limit=` (group or host names). */
    limit?: string[];
    extraVars?: [string, string][];
    /**
     * Leaving members the step's inventory still lists: the step runs on the transition inventory (the members
     * before the change, a joining one not yet listed, the leaving ones last) instead of the config's hosts.yaml.
     */
    keepHosts: string[];
    /** Extra variables added when this node's machine does not answer at run time. */
    ifUnreachable?: { node: string; extraVars: [string, string][] };
    /** Run only when this node's machine answers; otherwise skipped, with this reason logged. */
    onlyIfAnswers?: { node: string; otherwise: string };
}

export interface MembershipPlan {
    steps: MembershipStep[];
    errors: string[];
    /** Members that stay: each must answer at run time before the first step, or nothing runs. */
    mustAnswer: string[];
    /** Members that leave, in order (their machines are probed at run time). */
    leaving: string[];
}

const majority = (n: number): number => Math.floor(n / 2) + 1;
const without = (list: readonly string[], gone: readonly string[]): string[] => list.filter((n) => !gone.includes(n));
const union = (...lists: (readonly string[])[]): string[] => [...new Set(lists.flat())];
export const UNREACHABLE_VARS: [string, string][] = [["reset_nodes", "false"], ["allow_ungraceful_removal", "true"]];
/** nodes.md, "Adding an etcd node": the limit and variable of both runs that add a member. */
const JOIN_LIMIT = ["etcd", "kube_control_plane"];
const JOIN_VARS: [string, string][] = [["ignore_assert_errors", "yes"]];

/** True when the control-plane or etcd membership (or kube_control_plane[0]) differs. */
export function membershipChanged(before: Members, after: Members): boolean {
    const sameSet = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((n) => b.includes(n));
    return !sameSet(before.controlPlane, after.controlPlane) || !sameSet(before.etcd, after.etcd);
}

/** The steps that take the deployed members `before` to `after`, or the reasons this `up` cannot. */
export function membershipSteps(before: Members, after: Members): MembershipPlan {
    const errors: string[] = [];
    const leavingEtcd = without(before.etcd, after.etcd);
    const joiningEtcd = without(after.etcd, before.etcd);
    const leavingCp = without(before.controlPlane, after.controlPlane);
    const joiningCp = without(after.controlPlane, before.controlPlane);
    const leaving = union(leavingCp, leavingEtcd);
    const joining = union(joiningCp, joiningEtcd);
    const n = before.etcd.length;

    if (leavingEtcd.length > 1) {
        errors.push(
            `etcd members ${leavingEtcd.join(", ")} would leave in one \`up\` (${n} -> ${n - leavingEtcd.length} members): etcd keeps its quorum only while ` +
                `${majority(n)} of ${n} answer, and removing two at once can take it below that. Remove one member per \`up\` ` +
                `(nodes: first without ${leavingEtcd[0]}, then without ${leavingEtcd.slice(1).join(", ")}; set etcd.allowEvenMembers for the even count in between).`,
        );
    }
    if (joiningEtcd.length > 1) {
        errors.push(
            `etcd members ${joiningEtcd.join(", ")} would join in one \`up\`: a member that is added but never starts counts against the quorum ` +
                `(docs/operations/nodes.md, "Adding an etcd node"). Add one member per \`up\` (first ${joiningEtcd[0]}; set etcd.allowEvenMembers for the even count in between).`,
        );
    }
    if (leavingCp.length > 1 || joiningCp.length > 1) {
        errors.push(
            `control planes ${[...leavingCp.map((c) => `${c} leaving`), ...joiningCp.map((c) => `${c} joining`)].join(", ")}: one control plane leaves and one joins per \`up\`.`,
        );
    }
    if (joiningCp.includes(after.controlPlane[0])) {
        errors.push(
            `${after.controlPlane[0]} would be kube_control_plane[0] (the first control plane in nodes) as it joins: Kubespray does not support a new control plane ` +
                `in the first position (docs/operations/nodes.md). List it after ${without(after.controlPlane, joiningCp).join(", ")} in nodes.`,
        );
    }
    if (after.controlPlane.length === 0 || after.etcd.length === 0) {
        errors.push("the cluster would have no control plane or no etcd member left");
    }
    const mustAnswer = without(union(before.controlPlane, before.etcd), leaving);
    if (errors.length > 0) return { steps: [], errors, mustAnswer, leaving };

    const steps: MembershipStep[] = [];
    const first = before.controlPlane[0];
    // Kubespray's validate_inventory stops on an even etcd count unless ignore_assert_errors (nodes.md passes it
    // for the join): the same for a step whose inventory lists an even count (etcd.allowEvenMembers).
    const evenBefore: [string, string][] = n % 2 === 0 ? JOIN_VARS : [];
    const evenAfter: [string, string][] = after.etcd.length % 2 === 0 ? JOIN_VARS : [];
    if (leaving.includes(first)) {
        steps.push({
            title: `reorder the inventory so that ${without(before.controlPlane, leaving)[0]} is kube_control_plane[0] (${first} last) and apply it with cluster.yml`,
            doc: "Adding/Removal of first kube_control_plane and etcd-master, 1) and 2)",
            playbook: "cluster.yml",
            ...(evenBefore.length > 0 ? { extraVars: evenBefore } : {}),
            keepHosts: [first],
            onlyIfAnswers: {
                node: first,
                otherwise: `${first} does not answer: no cluster.yml with it listed (etcd's health checks would wait on the dead member); remove-node.yml runs on the reordered inventory and the cluster.yml after it applies the new order`,
            },
        });
    }
    for (const node of leaving) {
        steps.push({
            title: `remove ${node} from the cluster (kubectl delete node, etcd member remove; reset when its machine answers)`,
            doc: leavingEtcd.includes(node) ? "Removing an etcd node, 1)" : "Adding/replacing a control plane node, 3)",
            playbook: "remove-node.yml",
            extraVars: [["node", node], ["skip_confirmation", "true"], ...evenBefore],
            keepHosts: [node],
            ifUnreachable: { node, extraVars: UNREACHABLE_VARS },
        });
    }
    if (joining.length === 0) {
        steps.push({
            title: `regenerate the remaining members' configuration (${mustAnswer.join(", ")}), the API servers' --etcd-servers included`,
            doc: "Removing an etcd node, 3) and 4)",
            playbook: "cluster.yml",
            ...(evenAfter.length > 0 ? { extraVars: evenAfter } : {}),
            keepHosts: [],
        });
    } else if (joiningEtcd.length === 1) {
        steps.push({
            title: `${joiningEtcd[0]} joins etcd${joiningCp.includes(joiningEtcd[0]) ? " and the control plane (appended to kube_control_plane)" : ""}`,
            doc: "Adding an etcd node, 1)",
            playbook: "cluster.yml",
            limit: JOIN_LIMIT,
            extraVars: JOIN_VARS,
            keepHosts: [],
        });
        steps.push({
            title: "update every member's etcd configuration and the API servers' --etcd-servers",
            doc: "Adding an etcd node, 1) and 2)",
            playbook: "upgrade-cluster.yml",
            limit: JOIN_LIMIT,
            extraVars: JOIN_VARS,
            keepHosts: [],
        });
    } else {
        steps.push({
            title: `${joiningCp.join(", ")} joins the control plane (appended to kube_control_plane)`,
            doc: "Adding/replacing a control plane node, 1)",
            playbook: "cluster.yml",
            keepHosts: [],
        });
    }
    return { steps, errors, mustAnswer, leaving };
}

/**
 * An even etcd or control-plane count is one step of a one-member-per-`up` change: allowed only when the last
 * deployment had an odd count one away from it. Without a last deployment (a first `up`) it is refused.
 */
export function evenCountErrors(before: Members | undefined, after: Members): string[] {
    const errors: string[] = [];
    for (const [role, group, a, b] of [
        ["etcd", "etcd", after.etcd.length, before?.etcd.length],
        ["control-plane", "kube_control_plane", after.controlPlane.length, before?.controlPlane.length],
    ] as const) {
        if (a % 2 === 1) continue;
        if (b === undefined) {
            errors.push(`nodes: ${a} nodes have the role ${role} (${group}) in a first deployment; etcd.allowEvenMembers allows an even count only as one step between two odd ones`);
        } else if (b % 2 === 0 || Math.abs(a - b) !== 1) {
            errors.push(`nodes: ${b} -> ${a} nodes with the role ${role} (${group}); etcd.allowEvenMembers allows an even count only one member away from the odd count deployed`);
        }
    }
    return errors;
}

/** The step lines, as the plan and the in-up log print them. */
export function formatSteps(plan: MembershipPlan): string[] {
    const lines = plan.mustAnswer.length > 0
        ? [`0. check that ${plan.mustAnswer.join(", ")} answer${plan.leaving.length > 0 ? `, and whether ${plan.leaving.join(", ")} answer${plan.leaving.length === 1 ? "s" : ""}` : ""} (Ansible ping); a staying member that does not answer stops the run before any change`]
        : [];
    plan.steps.forEach((s, i) => {
        const args = [s.playbook, ...(s.limit ? [`--limit=${s.limit.join(",")}`] : []), ...(s.extraVars ?? []).flatMap(([k, v]) => ["-e", `${k}=${v}`])];
        const when = [
            ...(s.ifUnreachable ? [`if ${s.ifUnreachable.node} does not answer: ${s.ifUnreachable.extraVars.map(([k, v]) => `-e ${k}=${v}`).join(" ")}`] : []),
            ...(s.onlyIfAnswers ? [`only if ${s.onlyIfAnswers.node} answers`] : []),
        ];
        lines.push(`${i + 1}. ${s.title}: ${args.join(" ")}${when.length > 0 ? ` [${when.join("; ")}]` : ""} (nodes.md: ${s.doc})`);
    });
    return lines;
}

/**
 * The control planes, etcd members and their hosts of a deployment, read from its specs (the stack output
 * kubesprayCommandSpecs; its cluster spec). Undefined when there is none (a first deployment).
 */
export function deployedMembersOf(specs: unknown): DeployedMembers | undefined {
    if (!Array.isArray(specs)) return undefined;
    const cluster = (specs as Partial<CommandSpec>[]).find((s) => s && s.kind === "cluster");
    if (!cluster?.members || !Array.isArray(cluster.members.controlPlane) || !Array.isArray(cluster.members.etcd)) return undefined;
    return {
        controlPlane: [...cluster.members.controlPlane],
        etcd: [...cluster.members.etcd],
        ...(Array.isArray(cluster.hosts) ? { hosts: cluster.hosts.map((h) => ({ ...h, roles: [...h.roles] })) } : {}),
    };
}

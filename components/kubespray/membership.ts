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
//
// What the cluster command runs for it (membershipAction, membershipCheck; playbook.ts renders the invocations):
// the transition inventory (hosts.membership.yaml next to hosts.yaml: the members that stay, the leaving ones last
// under the names and addresses the last deployment recorded, a joining one not yet listed) for the steps before
// the join, then the config's hosts.yaml. The pings make one connection attempt bounded by `timeout` (Kubespray's
// ansible.cfg asks ssh for 100), so a dead machine costs seconds, not Ansible's retries.
import type { ClusterConfig, DeployedHost, DeployedMembers, Role } from "../config/config";
import { heredoc, shQuote as shellQuote } from "../shared/shell";
import { etcdMemberNamesOf } from "./etcd-names";
import { InventoryMachine, renderHostsYaml } from "./inventory";
import type { CommandAction, CommandSpec, Playbook } from "./playbook";

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
    // A node that stays but gains or loses the control-plane or etcd role: nodes.md has no in-place procedure
    // (a node becomes an etcd member only after remove-node.yml), and the transition inventory would list it twice.
    const switching = union(before.controlPlane, before.etcd).filter((node) =>
        union(after.controlPlane, after.etcd).includes(node) &&
        (before.controlPlane.includes(node) !== after.controlPlane.includes(node) || before.etcd.includes(node) !== after.etcd.includes(node)));
    for (const node of switching) {
        errors.push(
            `${node} changes between control-plane and etcd roles in one \`up\`: Kubespray has no in-place procedure for that (docs/operations/nodes.md: ` +
                "a node becomes an etcd member only after remove-node.yml). Remove it from nodes (one `up`), then add it back with its new roles.",
        );
    }
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
            `etcd members ${joiningEtcd.join(", ")} would join in one \`up\`: this program adds one member per \`up\` (a member that is added but never ` +
                `starts counts against the quorum; nodes.md warns that joins in one run can fail while etcd still processes the first). ` +
                `Add ${joiningEtcd[0]} first (set etcd.allowEvenMembers for the even count in between), then the others.`,
        );
    }
    if (leavingEtcd.length > 0 && without(before.etcd, leavingEtcd).length === 0) {
        errors.push(
            `${leavingEtcd.join(", ")} is etcd's only member and would leave: removing it removes the cluster's data. Add the new member first ` +
                "(one `up` with both, etcd.allowEvenMembers), then remove the old one.",
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
            title: `regenerate the remaining members' configuration (${mustAnswer.join(", ")})`,
            doc: "Removing an etcd node, 3)",
            playbook: "cluster.yml",
            ...(evenAfter.length > 0 ? { extraVars: evenAfter } : {}),
            keepHosts: [],
        });
        if (leavingEtcd.length > 0) {
            // nodes.md's step 4 is a hand edit of every kube-apiserver.yaml; cluster.yml rewrites kubeadm's config but
            // not the static pods, which `kubeadm upgrade` (upgrade-cluster.yml, at the deployed version) re-renders.
            steps.push({
                title: "every API server's --etcd-servers without the removed member (upgrade-cluster.yml at the deployed version re-renders the static pods)",
                doc: "Removing an etcd node, 4)",
                playbook: "upgrade-cluster.yml",
                limit: JOIN_LIMIT,
                extraVars: JOIN_VARS,
                keepHosts: [],
            });
        }
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
            ...(evenAfter.length > 0 ? { extraVars: evenAfter } : {}),
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

// ---------------------------------------------------------------------------------------------
// The cluster command's part (playbook.ts composes it): the steps as invocations, what the log announces, and
// the transition inventory and run-time checks its shell runs first (membershipCheck).

/** Where a membership change's transition inventory is written: next to hosts.yaml, so the same group_vars apply. */
export const TRANSITION_HOSTS = "$KHA_INVENTORY/hosts.membership.yaml";

/** Control planes and etcd members, in inventory (config) order. */
export function membersOf(machines: readonly { name: string; roles: readonly Role[] }[]): Members {
    return {
        controlPlane: machines.filter((m) => m.roles.includes("control-plane")).map((m) => m.name),
        etcd: machines.filter((m) => m.roles.includes("etcd")).map((m) => m.name),
    };
}

/**
 * The cluster command's create for a membership change against config.deployedMembers, or undefined when the
 * membership is the deployed one (or the change is refused: predictRuns reports it, and nothing runs).
 */
export function membershipAction(
    config: ClusterConfig,
    machines: readonly InventoryMachine[],
): (Pick<CommandAction, "playbooks" | "announce" | "membership"> & { covers: string[] }) | undefined {
    const deployed = config.deployedMembers;
    const now = membersOf(machines);
    if (!deployed || !membershipChanged(deployed, now)) return undefined;
    const plan = membershipSteps(deployed, now);
    const known = new Map<string, DeployedHost>((deployed.hosts ?? []).map((h) => [h.name, h]));
    if (plan.errors.length > 0 || plan.leaving.some((n) => !known.has(n))) return undefined;
    const leaving = plan.leaving.map((n) => known.get(n)!);
    // The transition inventory: the members that stay (config order), the leaving ones last as the last deployment
    // reached them, under their etcd names; a joining member is not listed yet. Workers as they are.
    const joining = [...now.controlPlane, ...now.etcd].filter((n) => !deployed.controlPlane.includes(n) && !deployed.etcd.includes(n));
    const names = etcdMemberNamesOf(config, machines);
    const transitionMachines: InventoryMachine[] = [
        ...machines.filter((m) => !joining.includes(m.name)),
        ...leaving.map((h) => ({ name: h.name, roles: [...h.roles], ip: h.ip, sshAddress: h.sshAddress })),
    ];
    // Every listed member under the name it runs with: as the last deployment recorded it, which wins over a name
    // derived now (the same unless the config lost them).
    const recorded = Object.fromEntries((deployed.hosts ?? []).filter((h) => h.etcdMemberName).map((h) => [h.name, h.etcdMemberName!]));
    const transitionNames = {
        members: { ...names.members, ...recorded },
        retired: names.retired.filter((r) => !leaving.some((h) => h.etcdMemberName === r)),
    };
    return {
        playbooks: plan.steps.map((st) => ({
            playbook: st.playbook,
            ...(st.limit ? { limit: [...st.limit] } : {}),
            ...(st.extraVars ? { extraVars: st.extraVars } : {}),
            ...(st.keepHosts.length > 0 ? { transitionInventory: true } : {}),
            ...(st.ifUnreachable ? { ifUnreachable: st.ifUnreachable } : {}),
            ...(st.onlyIfAnswers ? { onlyIfAnswers: st.onlyIfAnswers } : {}),
        })),
        announce: [`control plane/etcd membership: ${deployed.controlPlane.join(", ")} / ${deployed.etcd.join(", ")} -> ${now.controlPlane.join(", ")} / ${now.etcd.join(", ")}; the steps (Kubespray docs/operations/nodes.md):`, ...formatSteps(plan)],
        // The nodes these runs set up: every node only when an unconditional cluster.yml without a limit runs (a new
        // worker in the same `up` otherwise gets its own scale.yml); else the control planes and etcd members.
        covers: plan.steps.some((st) => st.playbook === "cluster.yml" && !st.limit && !st.onlyIfAnswers && st.keepHosts.length === 0)
            ? machines.map((m) => m.name)
            : union(now.controlPlane, now.etcd),
        membership: {
            mustAnswer: plan.mustAnswer,
            leaving: plan.leaving,
            transitionHosts: renderHostsYaml({ ...config, etcdMemberNames: transitionNames }, transitionMachines),
        },
    };
}

// A membership change (./membership.ts): the transition inventory is written; before any playbook, every member
// that stays must answer an Ansible ping (else nothing runs: etcd could lose its majority), and each leaving
// member is probed; kha_up_<i> (1 answers, 0 not) picks its steps' options. The ping makes one connection
// attempt (Kubespray's ansible.cfg asks ssh for 100) and is bounded by `timeout`, so a dead machine costs
// about 30 s, not Ansible's retries.
export function membershipCheck(membership: NonNullable<CommandAction["membership"]>, progressWidth: number): string {
    let out = heredoc(`"${TRANSITION_HOSTS}"`, membership.transitionHosts);
    out += `kha_ansible=ansible
case "$KHA_ANSIBLE_PLAYBOOK" in */*) kha_ansible="\${KHA_ANSIBLE_PLAYBOOK%/*}/ansible" ;; esac
kha_ssh_args="$(sed -n 's/^[[:space:]]*ssh_args[[:space:]]*=[[:space:]]*//p' "$ANSIBLE_CONFIG" 2>/dev/null | head -n 1)"
command -v "$kha_ansible" >/dev/null 2>&1 || { echo "kubespray-ha: membership: no $kha_ansible next to $KHA_ANSIBLE_PLAYBOOK (Ansible pings the members before the change)" >&2; exit 2; }
kha_timeout=; command -v timeout >/dev/null 2>&1 && kha_timeout="timeout 120"
kha_answers() {
  { ANSIBLE_SSH_ARGS="-o ConnectionAttempts=1 \${kha_ssh_args:--C -o ControlMaster=auto -o ControlPersist=60s}" $kha_timeout \
    "$kha_ansible" "$1" -i "${TRANSITION_HOSTS}" --user "$KHA_SSH_USER" --private-key "$kha_tmp/ssh-key" -m ping -T 20 </dev/null >"$kha_tmp/ping" 2>&1 && kha_ping=0 || kha_ping=$?; }
  cat "$kha_tmp/ping" >> "$kha_log"
  return "$kha_ping"
}
`;
    if (membership.mustAnswer.length > 0) {
        out += `echo ${shellQuote(`kubespray-ha: membership: ${membership.mustAnswer.join(", ")} must answer before any change`)} | tee -a "$kha_log" >&2
if ! kha_answers ${shellQuote(membership.mustAnswer.join(","))}; then
  grep -E 'UNREACHABLE|FAILED' "$kha_tmp/ping" | cut -c 1-${progressWidth} >&2 || true
  echo ${shellQuote(`kubespray-ha: refusing the membership change: not every member that stays answers (${membership.mustAnswer.join(", ")}). Changing etcd's membership with one of them down can leave it without a majority: bring it back, or replace one dead member per \`up\` (starting with it); with etcd's quorum lost, follow Kubespray's docs/operations/recover-control-plane.md.`)} >&2
  exit 1
fi
`;
    }
    membership.leaving.forEach((node, i) => {
        out += `if kha_answers ${shellQuote(node)}; then kha_up_${i}=1; echo ${shellQuote(`kubespray-ha: membership: ${node} answers: it is drained and reset as it leaves`)} | tee -a "$kha_log" >&2
else kha_up_${i}=0; echo ${shellQuote(`kubespray-ha: membership: ${node} does not answer: it leaves as an unreachable node (-e reset_nodes=false -e allow_ungraceful_removal=true)`)} | tee -a "$kha_log" >&2; fi
`;
    });
    return out;
}

// Which Kubespray playbooks run, and when: the command resources the KubesprayRun
// component creates, described as plain data (CommandSpec), the exact shell each one
// runs (renderCommand), and a prediction of what `pulumi up` runs between two
// renders (predictRuns). Pure: nothing here imports Pulumi, so the `plan` script and
// the component share one source of truth.
//
// How a change reaches Kubespray (command resources, in dependency order):
//   inventory   writes hosts.yaml + group_vars; re-written (update) whenever their content changes.
//   cluster     cluster.yml. Triggers: the control-plane/etcd part of the inventory, the group_vars
//               without kube_version and offline.checksums (both move with a version change: the upgrade's),
//               extraArgs. Worker changes do not touch it.
//   upgrade     upgrade-cluster.yml. Trigger: kube_version. Refused at preview unless the version change is one
//               Kubespray supports and nothing else that runs Kubespray changes in the same `up` (./upgrade.ts).
//   kubeconfig  reads <inventory>/artifacts/admin.conf; replaced whenever cluster or upgrade is.
//   node-<w>    one per worker-only node, chained in config order. create: playbooks/facts.yml, then
//               scale.yml --limit=<w>; delete: remove-node.yml -e node=<w> -e skip_confirmation=true.
//               Depends on the node's machine, so Pulumi removes the node before deleting the server.
// Triggers change -> Pulumi replaces the command (its create runs). Any other input change is an
// in-place update, and every playbook command's update runs nothing: only content hashes run playbooks.
//
// The first `up` (or any `up` that runs cluster.yml) already sets up every node and the target
// kube_version. The cluster command then records, stamped with the deployment (the command provider's
// process: one per `pulumi up`), the nodes and kube_version it covered; a node or upgrade create in
// the same deployment finds itself in that record and skips its playbooks. A record from an earlier
// deployment never matches, so a worker removed and added back later does get scale.yml.
import { createHash } from "crypto";
import { heredoc, shQuote } from "../shared/shell";
import * as path from "path";
import { stringify } from "yaml";
import { ClusterConfig, EtcdMemberNames, Role } from "../config/config";
import { etcdMemberNamesOf } from "./etcd-names";
import { apiEndpointVars, InventoryMachine, RenderedFiles, renderInventory } from "./inventory";
import { evenCountErrors, membershipAction, membershipChanged, membershipCheck, membershipSteps, TRANSITION_HOSTS } from "./membership";
import { recoverAbortedFirstRun, recoveryNote } from "./recover";
import { upgradeSteps, UpgradeVersions, upgradeVersions, versionChangeErrors, versionsFromTrigger } from "./upgrade";

/**
 * The Kubespray playbooks this program runs, as paths inside the Kubespray tree (v2.25.1 and v2.31.0):
 * four at the root, and facts.yml, which exists only as playbooks/facts.yml. Never reset.yml.
 * tests/kubespray-tree.test.ts checks each against the real trees.
 */
export const PLAYBOOKS = ["cluster.yml", "playbooks/facts.yml", "scale.yml", "remove-node.yml", "upgrade-cluster.yml"] as const;
export type Playbook = (typeof PLAYBOOKS)[number];

/** Kinds of command resources, one `kind` per role in the pipeline above. */
export type CommandKind = "inventory" | "cluster" | "upgrade" | "kubeconfig" | "node";

/** Environment variable of the `pulumi` process: `1` skips remove-node.yml (e.g. for `pulumi destroy`). */
export const SKIP_REMOVE_NODE_ENV = "KUBESPRAY_HA_SKIP_REMOVE_NODE";
/** Environment variable of the `pulumi` process: extra words for remove-node.yml (e.g. `-e reset_nodes=false`). */
export const REMOVE_NODE_ARGS_ENV = "KUBESPRAY_HA_REMOVE_NODE_ARGS";

/** What Ansible needs to reach one host, as the inventory lists it. */
export interface HostEntry {
    name: string;
    /** ansible_host */
    sshAddress: string;
    /** ip / access_ip */
    ip: string;
    roles: Role[];
    /** etcd members: etcd_member_name. */
    etcdMemberName?: string;
}

/** One `ansible-playbook` call. Common arguments (-i, -b, --forks, --user, --private-key, extraArgs) are added by renderCommand. */
export interface PlaybookInvocation {
    playbook: Playbook;
    /** `--limit=<a,b>`; absent: every host of the inventory. */
    limit?: string[];
    /** `-e key=value`, in order. */
    extraVars?: [string, string][];
    /**
     * A host the run needs that may already be gone from hosts.yaml (remove-node after the node left the
     * config). Passed as a second `-i` inventory holding just this host in kube_node.
     */
    extraHost?: HostEntry;
    /** Runs on the membership change's transition inventory (CommandAction.membership) instead of hosts.yaml. */
    transitionInventory?: boolean;
    /** Extra variables added when this node does not answer at run time (remove-node.yml of a dead machine). */
    ifUnreachable?: { node: string; extraVars: [string, string][] };
    /** Runs only when this node answers at run time; otherwise skipped with this reason. */
    onlyIfAnswers?: { node: string; otherwise: string };
}

/** Skip a create's playbooks when the cluster.yml run of the same deployment already covered it. */
export type SkipCondition =
    | { kind: "node-covered-by-cluster-run"; node: string }
    | { kind: "kube-version-deployed-by-cluster-run"; kubeVersion: string };

/** What one phase (create, update or delete) of a command does. */
export interface CommandAction {
    /** Playbooks, in order. Empty: no playbook runs (an update that only refreshes Pulumi's state). */
    playbooks: PlaybookInvocation[];
    /** When this holds at run time, nothing runs. */
    skipIf?: SkipCondition;
    /** After its playbooks succeed, record these nodes and kube_version for this deployment (cluster create). */
    recordsClusterRun?: { nodes: string[]; kubeVersion: string };
    /** Writes the rendered inventory (inventory command). */
    writesInventory?: boolean;
    /** Prints <inventory>/artifacts/admin.conf (kubeconfig command). */
    readsKubeconfig?: boolean;
    /** Lines logged before the playbooks run: what the run will do (the upgrade's steps, ./upgrade.ts). */
    announce?: string[];
    /**
     * A membership change (./membership.ts): these members must answer before the first playbook, and the
     * leaving ones (listed by a second inventory in their steps) are probed for the unreachable-node options.
     */
    membership?: {
        mustAnswer: string[];
        leaving: string[];
        /** hosts.yaml of the members before the change (a joining one not yet listed, the leaving ones last). */
        transitionHosts: string;
    };
}

/** Control-plane, etcd and worker members of the cluster, by name in config order. */
export interface ClusterMembers {
    controlPlane: string[];
    etcd: string[];
    workers: string[];
}

/**
 * One command resource of the KubesprayRun component, named `<component>-<id>`.
 * The component creates exactly these, with these triggers, dependencies and phases.
 */
export interface CommandSpec {
    /** Resource name suffix: inventory, cluster, upgrade, kubeconfig, node-<name>. */
    id: string;
    kind: CommandKind;
    /** The node of a `node` command. */
    node?: string;
    /**
     * Pulumi `triggers`: a change replaces the command, so its create runs (after its delete if
     * deleteBeforeReplace). The component appends the id of each machine in `machines` (when it is a
     * CustomResource), so a replaced server is set up again; predictRuns learns of those from its replacedMachines option.
     */
    triggers: string[];
    /** Digests of other inputs whose change is an in-place update (runs `update`). Only the inventory content. */
    inputs: string[];
    create: CommandAction;
    /** Always set: without one, Pulumi would re-run create on an update. */
    update: CommandAction;
    delete?: CommandAction;
    /** Ids of specs this one runs after (Pulumi dependsOn). */
    dependsOn: string[];
    /** Machines (by name) this command depends on and whose ssh address it renders. */
    machines: string[];
    /** Ids of specs whose create/replace replaces this one (their resource ids are among its triggers). */
    recreateAfter?: string[];
    /** Pulumi deleteBeforeReplace: node commands remove the old node before scaling the new one. */
    deleteBeforeReplace: boolean;
    /** The cluster command: who is control plane, etcd and worker, in inventory order (membership changes). */
    members?: ClusterMembers;
    /**
     * The cluster command: how the inventory reached each control plane and etcd member. The next deployment
     * lists a member that leaves from here until remove-node.yml removed it. Absent in deployments from before it.
     */
    hosts?: HostEntry[];
    /**
     * The cluster command: the etcd member names hosts.yaml gives, and the retired ones. The next deployment
     * reads them back (./etcd-names.ts) so members keep their names. Absent in deployments from before it.
     */
    etcdMemberNames?: EtcdMemberNames;
    /**
     * Cluster and node commands: a hash of their triggers as the config alone makes them (every SSH address,
     * the public API addresses and the etcd member names left out), so a deployment's specs and the
     * component's preview skeleton (addresses still pending) compare equal when no setting changed.
     */
    settingsKey?: string;
    /** The cluster command: the API endpoint the cluster was built for (a VIP change on a deployed cluster is refused). */
    apiEndpoint?: { vip: string; domainName: string };
    /** The upgrade command: the versions this deployment runs (the next one's version rules compare them). */
    versions?: UpgradeVersions;
    /** The upgrade command: what upgrade-cluster.yml does, with the worker batches by name (the plan's text). */
    upgradeSteps?: string[];
}

/** Options of kubesprayCommandSpecs. */
export interface CommandSpecOptions {
    /** Only build the specs with these ids (faster; the component builds each from its own machines). */
    only?: readonly string[];
    /** Internal: leave settingsKey out (the pass that computes it). */
    withoutSettingsKey?: boolean;
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** True for a node that only has the worker role: it gets its own scale/remove-node command. */
export function isWorkerOnly(node: { roles: readonly Role[] }): boolean {
    return node.roles.includes("worker") && !node.roles.includes("control-plane") && !node.roles.includes("etcd");
}

/** The kube_version the inventory renders, or `kubespray-default` when the config leaves it to Kubespray. */
export function renderedKubeVersion(config: ClusterConfig): string {
    const v = apiEndpointVars(config).kube_version;
    return typeof v === "string" ? v : "kubespray-default";
}

/** The id of the node command of a worker. */
export function nodeCommandId(name: string): string {
    return `node-${name}`;
}

function hostEntry(m: InventoryMachine): HostEntry {
    return { name: m.name, sshAddress: m.sshAddress, ip: m.ip, roles: [...m.roles] };
}

/**
 * The cluster command's create: cluster.yml, or when the control-plane/etcd membership differs from the last
 * deployment's (config.deployedMembers), the steps of ./membership.ts. Their refusals are predictRuns' errors
 * (the component fails at preview); here a refused change still gets the plain run, which never starts.
 */
function clusterCreate(config: ClusterConfig, machines: readonly InventoryMachine[], kubeVersion: string): CommandAction {
    const change = membershipAction(config, machines);
    if (!change) return { playbooks: [{ playbook: "cluster.yml" }], recordsClusterRun: { nodes: machines.map((m) => m.name), kubeVersion } };
    const { covers, ...action } = change;
    return { ...action, recordsClusterRun: { nodes: covers, kubeVersion } };
}

function nothing(): CommandAction {
    return { playbooks: [] };
}

/**
 * The command resources KubesprayRun creates for this config and these machines, in dependency order
 * (inventory, cluster, upgrade, kubeconfig, then one node command per worker-only node in config order).
 * Deterministic: the same input gives equal specs.
 */
export function kubesprayCommandSpecs(
    config: ClusterConfig,
    machines: readonly InventoryMachine[],
    options: CommandSpecOptions = {},
): CommandSpec[] {
    const wanted = (id: string) => options.only === undefined || options.only.includes(id);
    const workers = machines.filter(isWorkerOnly);
    const clusterMachines = machines.filter((m) => !isWorkerOnly(m));
    const kubeVersion = renderedKubeVersion(config);
    const specs: CommandSpec[] = [];

    if (wanted("inventory")) {
        specs.push({
            id: "inventory",
            kind: "inventory",
            triggers: [],
            inputs: [`sha256:${sha256(inventoryArchive(config, machines))}`],
            create: { playbooks: [], writesInventory: true },
            update: { playbooks: [], writesInventory: true },
            dependsOn: [],
            machines: machines.map((m) => m.name),
            deleteBeforeReplace: false,
        });
    }
    if (wanted("cluster")) {
        // kube_version is left out (upgrade's trigger), and so are offline.checksums (they change with the
        // versions, so with an upgrade, which applies them) and worker-only nodes (their own commands).
        const files = renderInventory(
            { ...config, kubeVersion: undefined, ...(config.offline ? { offline: { ...config.offline, checksums: {} } } : {}) },
            clusterMachines,
        );
        const etcdNames = etcdMemberNamesOf(config, machines);
        specs.push({
            id: "cluster",
            kind: "cluster",
            triggers: [
                ...Object.entries(files).map(([file, content]) =>
                    `${file === "hosts.yaml" ? "hosts.yaml (control plane and etcd)" : file}: sha256:${sha256(content)}`),
                `extraArgs: sha256:${sha256(JSON.stringify(config.kubespray.extraArgs))}`,
            ],
            inputs: [],
            create: clusterCreate(config, machines, kubeVersion),
            update: nothing(),
            dependsOn: ["inventory"],
            machines: clusterMachines.map((m) => m.name),
            deleteBeforeReplace: false,
            members: {
                controlPlane: machines.filter((m) => m.roles.includes("control-plane")).map((m) => m.name),
                etcd: machines.filter((m) => m.roles.includes("etcd")).map((m) => m.name),
                workers: machines.filter((m) => m.roles.includes("worker")).map((m) => m.name),
            },
            etcdMemberNames: etcdNames,
            hosts: clusterMachines.map((m) => {
                const etcdName = etcdNames.members[m.name];
                return { ...hostEntry(m), ...(etcdName ? { etcdMemberName: etcdName } : {}) };
            }),
            apiEndpoint: { vip: config.vip.address, domainName: config.vip.domainName ?? config.vip.address },
        });
    }
    if (wanted("upgrade")) {
        const upgradeNodes = {
            etcd: clusterMachines.filter((m) => m.roles.includes("etcd")).map((m) => m.name),
            controlPlane: clusterMachines.filter((m) => m.roles.includes("control-plane")).map((m) => m.name),
            workers: workers.map((m) => m.name),
        };
        const upgradeSettings = { groupVars: config.groupVars, extraArgs: config.kubespray.extraArgs };
        const versions = upgradeVersions(config);
        specs.push({
            id: "upgrade",
            kind: "upgrade",
            triggers: [`kube_version: ${kubeVersion}`],
            inputs: [],
            create: {
                playbooks: [{ playbook: "upgrade-cluster.yml" }],
                skipIf: { kind: "kube-version-deployed-by-cluster-run", kubeVersion },
                announce: upgradeSteps(versions.kube, upgradeNodes, upgradeSettings, { workerNames: false }),
            },
            update: nothing(),
            dependsOn: ["cluster"],
            machines: [],
            deleteBeforeReplace: false,
            versions,
            upgradeSteps: upgradeSteps(versions.kube, upgradeNodes, upgradeSettings),
        });
    }
    if (wanted("kubeconfig")) {
        specs.push({
            id: "kubeconfig",
            kind: "kubeconfig",
            triggers: [],
            inputs: [],
            create: { playbooks: [], readsKubeconfig: true },
            update: { playbooks: [], readsKubeconfig: true },
            dependsOn: ["cluster", "upgrade"],
            machines: [],
            recreateAfter: ["cluster", "upgrade"],
            deleteBeforeReplace: false,
        });
    }
    let previous = "upgrade";
    for (const w of workers) {
        const id = nodeCommandId(w.name);
        const entry = hostEntry(w);
        if (wanted(id)) {
            specs.push({
                id,
                kind: "node",
                node: w.name,
                triggers: [`${w.name}: ansible_host=${entry.sshAddress} ip=${entry.ip} roles=${entry.roles.join(",")}`],
                inputs: [],
                create: {
                    playbooks: [{ playbook: "playbooks/facts.yml" }, { playbook: "scale.yml", limit: [w.name] }],
                    skipIf: { kind: "node-covered-by-cluster-run", node: w.name },
                },
                update: nothing(),
                delete: {
                    playbooks: [{
                        playbook: "remove-node.yml",
                        extraVars: [["node", w.name], ["skip_confirmation", "true"]],
                        extraHost: entry,
                    }],
                },
                // Serialised: two Kubespray runs against one control plane at once are not safe.
                dependsOn: [previous],
                machines: [w.name],
                deleteBeforeReplace: true,
            });
        }
        previous = id;
    }
    if (!options.withoutSettingsKey) {
        // The same specs from the config alone: what the preview skeleton can compare (see settingsKey).
        const configOnly = kubesprayCommandSpecs(
            { ...config, publicApiAddresses: undefined, etcdMemberNames: undefined, deployedMembers: undefined },
            machines.map((m) => ({ ...m, sshAddress: "<address>" })),
            { ...options, withoutSettingsKey: true },
        );
        for (const spec of specs) {
            if (spec.kind !== "cluster" && spec.kind !== "node") continue;
            const same = configOnly.find((c) => c.id === spec.id);
            if (same) spec.settingsKey = `sha256:${sha256(JSON.stringify(same.triggers))}`;
        }
    }
    return specs;
}

// ---------------------------------------------------------------------------------------------
// predictRuns: what `pulumi up` runs when the specs change from `before` to `after`.

/** One playbook run predicted by predictRuns. */
export interface PlaybookRun {
    /** The spec (command resource) whose phase runs it. */
    specId: string;
    phase: "create" | "update" | "delete";
    playbook: Playbook;
    limit?: string[];
    extraVars?: [string, string][];
    /** The playbook-specific arguments, e.g. `["scale.yml", "--limit=w4"]`. */
    args: string[];
    /** A run-time condition (a membership step that depends on whether a leaving machine answers). */
    when?: string;
}

/** How Pulumi treats one command resource. */
export type ChangeOp = "create" | "update" | "replace" | "delete" | "same";

export interface ResourceChange {
    id: string;
    kind: CommandKind;
    op: ChangeOp;
    /** Why a create runs no playbook (covered by this deployment's cluster.yml). */
    skipped?: string;
    /** Replaced because Pulumi replaces these machines' resources (predictRuns' replacedMachines). */
    machinesReplaced?: string[];
}

/** Options of predictRuns. */
export interface PredictOptions {
    /** Nodes whose machine resource (`Machine.resource`, whose id the cluster/node triggers hold) is replaced. */
    replacedMachines?: readonly string[];
}

/** The prediction: runs in the order Pulumi performs them, per-resource operations, warnings and refusals. */
export interface RunPlan {
    runs: PlaybookRun[];
    changes: ResourceChange[];
    /** Things that run but deserve attention (etcd quorum, unsafe in-place upgrade). */
    warnings: string[];
    /** Transitions this program refuses (the component fails before running anything). */
    errors: string[];
    /** A version change this `up` makes with upgrade-cluster.yml: from, to, and its steps (./upgrade.ts). */
    upgrade?: { from: string; to: string; steps: string[] };
    /** A control-plane/etcd membership change this `up` makes (./membership.ts): what changes, then its steps. */
    membership?: string[];
    /** What a run does first that its command line does not show (the recovery check before cluster.yml, ./recover.ts). */
    notes: string[];
}

/** `["scale.yml", "--limit=w4", "-e", "node=w4"]` for an invocation (without the common arguments). */
export function invocationArgs(inv: PlaybookInvocation): string[] {
    const args: string[] = [inv.playbook];
    if (inv.limit && inv.limit.length > 0) {
        args.push(`--limit=${inv.limit.join(",")}`);
    }
    for (const [k, v] of inv.extraVars ?? []) {
        args.push("-e", `${k}=${v}`);
    }
    return args;
}

function sameList(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
    const x = a ?? [];
    const y = b ?? [];
    return x.length === y.length && x.every((v, i) => v === y[i]);
}

function runsOf(spec: CommandSpec, phase: "create" | "update" | "delete", action: CommandAction | undefined): PlaybookRun[] {
    return (action?.playbooks ?? []).map((inv) => ({
        specId: spec.id,
        phase,
        playbook: inv.playbook,
        ...(inv.limit ? { limit: [...inv.limit] } : {}),
        ...(inv.extraVars ? { extraVars: inv.extraVars.map(([k, v]) => [k, v] as [string, string]) } : {}),
        args: invocationArgs(inv),
        ...(inv.ifUnreachable ? { when: `if ${inv.ifUnreachable.node} does not answer: ${inv.ifUnreachable.extraVars.map(([k, v]) => `-e ${k}=${v}`).join(" ")}` } : {}),
        ...(inv.onlyIfAnswers ? { when: `only if ${inv.onlyIfAnswers.node} answers` } : {}),
    }));
}

/**
 * A control-plane/etcd membership change between two deployments (./membership.ts): its refusals, and an even
 * count that is not one member away from the odd count deployed. Names only, so the preview skeleton suffices.
 */
function membershipErrors(prev: CommandSpec, next: CommandSpec): string[] {
    const before = prev.members!;
    const after = next.members!;
    const errors: string[] = [];
    if (after.etcd.length % 2 === 0 || after.controlPlane.length % 2 === 0) errors.push(...evenCountErrors(before, after));
    if (!membershipChanged(before, after)) return errors;
    const plan = membershipSteps(before, after);
    errors.push(...plan.errors);
    const unknown = plan.leaving.filter((n) => !(prev.hosts ?? []).some((h) => h.name === n));
    if (plan.errors.length === 0 && unknown.length > 0) {
        errors.push(
            `${unknown.join(", ")} leave${unknown.length === 1 ? "s" : ""} the control plane/etcd, but the last deployment did not record how Kubespray reached ${unknown.length === 1 ? "it" : "them"} ` +
                "(a deployment from before membership changes were automated): run one `up` with no node change first, then remove it.",
        );
    }
    return errors;
}

/**
 * A deployed cluster's API endpoint (vip.address, vip.domainName) cannot move by a re-run of cluster.yml:
 * Kubespray then rewrites only the workers' kubelet.conf and kube-proxy's ConfigMap
 * (roles/kubernetes/kubeadm/tasks/main.yml), while the control planes' admin.conf, kubeadm's
 * controlPlaneEndpoint and the other kubeconfigs keep the old address. Refused, with the way to do it.
 * Deployments from before specs recorded the endpoint carry none: nothing to compare.
 */
function apiEndpointChange(before: CommandSpec["apiEndpoint"], after: CommandSpec["apiEndpoint"]): string | undefined {
    if (!before || !after || (before.vip === after.vip && before.domainName === after.domainName)) return undefined;
    const what = [
        ...(before.vip !== after.vip ? [`vip.address: ${before.vip} -> ${after.vip}`] : []),
        // An unset domainName follows the VIP: said once, as the VIP's move.
        ...(before.domainName !== after.domainName && (before.domainName !== before.vip || after.domainName !== after.vip)
            ? [`vip.domainName (API endpoint name): ${before.domainName} -> ${after.domainName}`]
            : []),
    ].join(", ");
    return (
        `${what} on a deployed cluster: cluster.yml would rewrite only the workers' kubelet.conf and kube-proxy's ConfigMap ` +
        "(Kubespray roles/kubernetes/kubeadm/tasks/main.yml); the control planes' /etc/kubernetes/admin.conf, controller-manager.conf, scheduler.conf " +
        "and kubeadm's controlPlaneEndpoint (ConfigMap kube-system/kubeadm-config) keep the old address, and so does every kubeconfig handed out. " +
        `This program does not move a deployed cluster's endpoint: keep vip.address ${before.vip}${before.domainName !== before.vip ? ` and vip.domainName ${before.domainName}` : ""}, ` +
        "or deploy a new stack at the new address and move the workloads to it (the API server certificates, every kubeconfig and " +
        "kube-vip's or the Load Balancer's address change with it)."
    );
}

/**
 * Version rules (./upgrade.ts) between the last deployment's upgrade spec and this one, into `errors`, and
 * when the upgrade runs: what it does. An upgrade runs alone: with cluster.yml in the same `up`, cluster.yml
 * would apply the new version first without upgrade_cluster_setup (kubelets only); with a worker added,
 * removed or rebuilt, upgrade-cluster.yml would run on (or without) it before its own command.
 */
function versionChange(
    beforeSpecs: readonly CommandSpec[],
    afterSpecs: readonly CommandSpec[],
    changes: readonly ResourceChange[],
    errors: string[],
): RunPlan["upgrade"] {
    const prev = beforeSpecs.find((s) => s.id === "upgrade");
    const next = afterSpecs.find((s) => s.id === "upgrade");
    if (!prev || !next?.versions) return undefined;
    const before: Partial<UpgradeVersions> = prev.versions ?? versionsFromTrigger(prev.triggers[0]);
    const after = next.versions;
    const versionErrors = versionChangeErrors(before, after);
    errors.push(...versionErrors);
    if (!changes.some((c) => c.id === "upgrade" && c.op === "replace")) return undefined;
    const from = before.kube ?? "the deployed version";
    // Another change that runs Kubespray: a worker added or removed, or a cluster/node command whose settings
    // changed. Compared by settingsKey where both sides have one (the preview skeleton has no addresses yet).
    const prevSpecs = new Map(beforeSpecs.map((s) => [s.id, s]));
    const nextSpecs = new Map(afterSpecs.map((s) => [s.id, s]));
    const others = changes.filter((c) => {
        if ((c.kind !== "cluster" && c.kind !== "node") || c.op === "same") return false;
        const [p, n] = [prevSpecs.get(c.id)?.settingsKey, nextSpecs.get(c.id)?.settingsKey];
        return p === undefined || n === undefined || p !== n;
    });
    if (others.length > 0) {
        const what = others.map((c) => (c.kind === "cluster" ? "cluster settings (cluster.yml)" : `${c.id.replace(/^node-/, "worker ")} (${c.op})`));
        errors.push(
            `kubeVersion: ${from} -> ${after.kube} comes with other changes that run Kubespray: ${what.join(", ")}. ` +
                "upgrade-cluster.yml must run alone (with cluster.yml first, the new version would reach the kubelets but not the control plane; " +
                "a worker added, removed or rebuilt would be upgraded before it is set up). Split the change: " +
                `first \`up\` the other changes with kubeVersion ${from}, then change kubeVersion (and offline.checksums) alone.`,
        );
    }
    return versionErrors.length > 0 ? undefined : { from, to: after.kube, steps: next.upgradeSteps ?? next.create.announce ?? [] };
}

/**
 * Predicts what `pulumi up` runs when the KubesprayRun specs go from `before` (the last deployment;
 * undefined for the first one) to `after`, mirroring Pulumi's diff of those command resources:
 * a new spec runs its create; changed triggers replace it (delete then create for deleteBeforeReplace,
 * else create now and delete the old one at the end); other changed inputs update it in place; a spec
 * that is gone runs its delete at the end, dependents first. A create whose node (or kube_version) the
 * cluster.yml run of the same deployment covered runs nothing.
 *
 * `options.replacedMachines`: nodes whose machine resource Pulumi replaces in this `up` (components/nodes/
 * identity.ts diffIdentities). The component keys the cluster and node commands on those resources' ids, so
 * each command with such a machine is replaced too; Pulumi deletes those commands when it replaces the
 * machine, before any Kubespray command is created, so their deletes (remove-node.yml of a rebuilt worker,
 * on the old machine) come first.
 */
export function predictRuns(before: readonly CommandSpec[] | undefined, after: readonly CommandSpec[], options: PredictOptions = {}): RunPlan {
    const replacedMachines = new Set(options.replacedMachines ?? []);
    const earlyDeletes: PlaybookRun[] = [];
    const old = new Map((before ?? []).map((s) => [s.id, s]));
    const now = new Set(after.map((s) => s.id));
    const changes: ResourceChange[] = [];
    const runs: PlaybookRun[] = [];
    const lateDeletes: PlaybookRun[] = [];
    const warnings: string[] = [];
    const errors: string[] = [];
    const recreated = new Set<string>();
    let record: { nodes: string[]; kubeVersion: string } | undefined;

    for (const spec of after) {
        const prev = old.get(spec.id);
        const machinesReplaced = prev && (spec.kind === "cluster" || spec.kind === "node") ? spec.machines.filter((m) => replacedMachines.has(m)) : [];
        let op: ChangeOp;
        if (!prev) {
            op = "create";
        } else if (!sameList(prev.triggers, spec.triggers) || (spec.recreateAfter ?? []).some((id) => recreated.has(id)) || machinesReplaced.length > 0) {
            op = "replace";
        } else if (!sameList(prev.inputs, spec.inputs)) {
            op = "update";
        } else {
            op = "same";
        }
        const change: ResourceChange = { id: spec.id, kind: spec.kind, op, ...(machinesReplaced.length > 0 ? { machinesReplaced } : {}) };
        if (op === "create" || op === "replace") {
            recreated.add(spec.id);
            if (op === "replace" && prev) {
                if (machinesReplaced.length > 0) {
                    earlyDeletes.push(...runsOf(prev, "delete", prev.delete));
                } else if (spec.deleteBeforeReplace) {
                    runs.push(...runsOf(prev, "delete", prev.delete));
                } else {
                    lateDeletes.push(...runsOf(prev, "delete", prev.delete));
                }
            }
            const skip = spec.create.skipIf;
            const covered =
                skip !== undefined &&
                record !== undefined &&
                (skip.kind === "node-covered-by-cluster-run" ? record.nodes.includes(skip.node) : record.kubeVersion === skip.kubeVersion);
            if (covered) {
                change.skipped = skip!.kind === "node-covered-by-cluster-run"
                    ? `${skip!.node} was set up by cluster.yml in this deployment`
                    : `cluster.yml deployed kube_version ${skip!.kubeVersion} in this deployment`;
            } else {
                runs.push(...runsOf(spec, "create", spec.create));
                if (spec.create.recordsClusterRun) {
                    record = spec.create.recordsClusterRun;
                }
            }
        } else if (op === "update") {
            runs.push(...runsOf(spec, "update", spec.update));
        }
        changes.push(change);
    }
    const gone = (before ?? []).filter((s) => !now.has(s.id)).reverse();
    for (const spec of gone) {
        changes.push({ id: spec.id, kind: spec.kind, op: "delete" });
        lateDeletes.push(...runsOf(spec, "delete", spec.delete));
    }
    runs.push(...lateDeletes);
    runs.unshift(...earlyDeletes);

    const prevCluster = old.get("cluster");
    const cluster = after.find((s) => s.id === "cluster");
    const endpointError = apiEndpointChange(prevCluster?.apiEndpoint, cluster?.apiEndpoint);
    if (endpointError) errors.push(endpointError);
    if (prevCluster?.members && cluster?.members) {
        const wasWorkerOnly = new Set((before ?? []).filter((s) => s.kind === "node").map((s) => s.node!));
        const isWorkerOnlyNow = new Set(after.filter((s) => s.kind === "node").map((s) => s.node!));
        const allBefore = new Set([...prevCluster.members.controlPlane, ...prevCluster.members.etcd, ...prevCluster.members.workers]);
        const allAfter = new Set([...cluster.members.controlPlane, ...cluster.members.etcd, ...cluster.members.workers]);
        for (const name of allAfter) {
            if (!allBefore.has(name)) continue;
            if (wasWorkerOnly.has(name) !== isWorkerOnlyNow.has(name)) {
                errors.push(
                    `node ${name} changes between worker-only and control-plane/etcd roles in one \`up\`: Pulumi would ` +
                        `${wasWorkerOnly.has(name) ? "run remove-node.yml on it after cluster.yml made it a control-plane/etcd member" : "scale it as a worker while it is still a control-plane/etcd member"}. ` +
                        "Remove it from nodes (one `up`), then add it back with its new roles.",
                );
            }
        }
        errors.push(...membershipErrors(prevCluster, cluster));
    }
    if (!before && cluster?.members) errors.push(...evenCountErrors(undefined, cluster.members));
    const upgrade = versionChange(before ?? [], after, changes, errors);
    const inventoryChange = changes.find((c) => c.id === "inventory");
    if (before && inventoryChange?.op === "update" && runs.length === 0) {
        warnings.push(
            "only the inventory's offline.checksums changed: they are rewritten now and read by Kubespray at its next run " +
                "(an upgrade's, which is where they belong); no playbook runs.",
        );
    }
    const clusterSpec = after.find((s) => s.id === "cluster");
    const notes = runs.some((r) => r.specId === "cluster" && r.phase === "create" && r.playbook === "cluster.yml") && clusterSpec?.members
        ? [recoveryNote(clusterSpec.members.controlPlane)]
        : [];
    const membership = clusterSpec?.create.membership && changes.some((c) => c.id === "cluster" && (c.op === "create" || c.op === "replace"))
        ? clusterSpec.create.announce
        : undefined;
    return { runs, changes, warnings, errors, notes, ...(upgrade ? { upgrade } : {}), ...(membership ? { membership } : {}) };
}

// ---------------------------------------------------------------------------------------------
// renderCommand: the shell each command resource runs. Exported so the end-to-end test runs the
// very same strings with the same environment as the component.

/** Where a stack's Kubespray files live on the machine that runs Pulumi. */
export interface RunPaths {
    /** Kubespray checkout (config.kubespray.dir); playbooks run from here with its ansible.cfg. */
    kubesprayDir: string;
    /** config.kubespray.workDir/<config.name>: logs, cluster-run record, inventory.meta. */
    runDir: string;
    /** <runDir>/inventory: hosts.yaml, group_vars/, and Kubespray's artifacts/admin.conf. */
    inventoryDir: string;
    /** <runDir>/logs: one log file per playbook command run. */
    logDir: string;
}

/**
 * The paths as the config writes them (relative ones stay relative, normalised): what the commands
 * get in their environment, so their inputs do not depend on where the project is checked out. The
 * scripts resolve relative paths against their working directory, the Pulumi project.
 */
export function commandPaths(config: ClusterConfig): RunPaths {
    const runDir = path.posix.normalize(path.posix.join(config.kubespray.workDir, config.name));
    return {
        kubesprayDir: path.posix.normalize(config.kubespray.dir),
        runDir,
        inventoryDir: path.posix.join(runDir, "inventory"),
        logDir: path.posix.join(runDir, "logs"),
    };
}

/** The same paths resolved against `baseDir` (default: the current directory), all absolute. */
export function runPaths(config: ClusterConfig, baseDir: string = process.cwd()): RunPaths {
    const rel = commandPaths(config);
    return {
        kubesprayDir: path.resolve(baseDir, rel.kubesprayDir),
        runDir: path.resolve(baseDir, rel.runDir),
        inventoryDir: path.resolve(baseDir, rel.inventoryDir),
        logDir: path.resolve(baseDir, rel.logDir),
    };
}

/** Progress lines a playbook command streams to Pulumi (and so keeps in its `stderr` output) at most. */
export const PROGRESS_LINE_LIMIT = 1000;
/** Characters of one progress line at most. */
export const PROGRESS_LINE_WIDTH = 240;
/** Lines of the full log a failed playbook command prints at the end. */
export const FAILURE_TAIL_LINES = 60;

// The first lines of every script: relative paths of the environment become absolute against the
// working directory (the Pulumi project), before any `cd`.
const RESOLVE_PATHS = `kha_abs() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s/%s\n' "$PWD" "$1" ;; esac; }
KHA_RUN_DIR="$(kha_abs "$KHA_RUN_DIR")"
KHA_INVENTORY="$(kha_abs "$KHA_INVENTORY")"
`;

/** What the component feeds a command on stdin. */
export type StdinKind = "ssh-private-key" | "inventory-archive" | "none";

/** The shell of one command resource: /bin/sh -c <phase script>, with `environment` added and `stdin` fed. */
export interface ShellCommand {
    create: string;
    update: string;
    delete?: string;
    /** Non-secret environment (paths, user); the same for every phase. */
    environment: Record<string, string>;
    /** ssh-private-key: the secret key, written to a 0600 temp file that a trap removes; never in a string. */
    stdin: StdinKind;
    /** Pulumi `logging`: the kubeconfig reader must not stream its stdout (the admin key) to the log. */
    logging: "stdoutAndStderr" | "stderr";
}

/** Quotes a word for /bin/sh (components/shared/shell.ts). */
export const shellQuote = shQuote;

export function inventoryMeta(config: ClusterConfig, machines: readonly InventoryMachine[]): string {
    return [
        `forks=${forksFor(machines.length)}`,
        `kube_version=${renderedKubeVersion(config)}`,
        ...machines.map((m) => `node=${m.name}`),
    ].join("\n") + "\n";
}

/** --forks: at least the node count, and never below Ansible's default of 5. */
export function forksFor(nodeCount: number): number {
    return Math.max(5, nodeCount);
}

/**
 * The inventory command's stdin: a /bin/sh script that writes the rendered inventory files into
 * $KHA_INVENTORY and inventory.meta into $KHA_RUN_DIR (here-documents; no size limit of the command line).
 */
export function inventoryArchive(config: ClusterConfig, machines: readonly InventoryMachine[]): string {
    const files: RenderedFiles = renderInventory(config, machines);
    const dirs = [...new Set(Object.keys(files).map((f) => path.posix.dirname(f)).filter((d) => d !== "."))].sort();
    let script = "";
    for (const d of dirs) {
        script += `mkdir -p "$KHA_INVENTORY"/${shellQuote(d)}\n`;
    }
    for (const [file, content] of Object.entries(files)) {
        script += heredoc(`"$KHA_INVENTORY"/${shellQuote(file)}`, content);
    }
    script += heredoc(`"$KHA_RUN_DIR"/inventory.meta`, inventoryMeta(config, machines));
    return script;
}

// Shared by every playbook command: strict shell, the key from stdin into a 0600 temp file removed by
// a trap, the run log, and kha_playbook which writes Ansible's output to the log and its progress to
// stderr (Pulumi streams it; stdout stays empty). No secret ever appears in the script or the environment.
function preamble(id: string, phase: string): string {
    return `# kubespray-ha ${id} ${phase}
set -eu
set -f
umask 077
${RESOLVE_PATHS}KHA_KUBESPRAY_DIR="$(kha_abs "$KHA_KUBESPRAY_DIR")"
ANSIBLE_CONFIG="$(kha_abs "$ANSIBLE_CONFIG")"
export ANSIBLE_CONFIG
case "$KHA_ANSIBLE_PLAYBOOK" in */*) KHA_ANSIBLE_PLAYBOOK="$(kha_abs "$KHA_ANSIBLE_PLAYBOOK")" ;; esac
cd "$KHA_KUBESPRAY_DIR" 2>/dev/null || { echo "kubespray-ha: kubespray.dir $KHA_KUBESPRAY_DIR does not exist: put a Kubespray checkout there" >&2; exit 2; }
# The tree must be the Kubespray version the stack names (its galaxy.yml), or its playbooks do another version's work.
[ -f galaxy.yml ] || { echo "kubespray-ha: kubespray.dir $KHA_KUBESPRAY_DIR is not a Kubespray checkout (no galaxy.yml): put Kubespray $KHA_KUBESPRAY_VERSION there" >&2; exit 2; }
kha_tree="v$(sed -n 's/^version:[[:space:]]*"\\{0,1\\}\\([^"[:space:]]*\\)"\\{0,1\\}[[:space:]]*$/\\1/p' galaxy.yml | head -n 1)"
[ "$kha_tree" = "$KHA_KUBESPRAY_VERSION" ] || { echo "kubespray-ha: kubespray.dir $KHA_KUBESPRAY_DIR holds Kubespray $kha_tree (its galaxy.yml), but kubesprayVersion is $KHA_KUBESPRAY_VERSION: check out $KHA_KUBESPRAY_VERSION there, or set kubesprayVersion to what the cluster runs" >&2; exit 2; }
[ -f "$KHA_INVENTORY/hosts.yaml" ] || { echo "kubespray-ha: no inventory at $KHA_INVENTORY/hosts.yaml (written by the inventory command)" >&2; exit 2; }
mkdir -p "$KHA_RUN_DIR/logs"
kha_log="$KHA_RUN_DIR/logs/$(date -u +%Y%m%dT%H%M%SZ)-${id}-${phase}.log"
kha_tmp="$(mktemp -d "\${TMPDIR:-/tmp}/kubespray-ha.XXXXXX")"
trap 'rm -rf "$kha_tmp"' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
cat > "$kha_tmp/ssh-key"
[ -s "$kha_tmp/ssh-key" ] || { echo "kubespray-ha: no SSH private key on stdin" >&2; exit 2; }
[ -z "$(tail -c 1 "$kha_tmp/ssh-key")" ] || echo >> "$kha_tmp/ssh-key"
chmod 600 "$kha_tmp/ssh-key"
kha_forks="$(sed -n 's/^forks=//p' "$KHA_RUN_DIR/inventory.meta" 2>/dev/null || true)"
[ -n "$kha_forks" ] || kha_forks=5
# The deployment: the command provider process (one per \`pulumi up\`) and its start time.
kha_stamp() {
  if [ -r "/proc/$PPID/stat" ]; then
    echo "$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || true):$PPID:$(sed 's/^.*) //' "/proc/$PPID/stat" | cut -d' ' -f20)"
  else
    echo "$PPID:$(ps -o lstart= -p "$PPID" 2>/dev/null || true)"
  fi
}
# True when cluster.yml ran in this deployment and covered $1 (node=<name> or kube_version=<v>).
kha_covered() {
  [ -f "$KHA_RUN_DIR/cluster-run" ] && grep -qxF "stamp=$(kha_stamp)" "$KHA_RUN_DIR/cluster-run" && grep -qxF "$1" "$KHA_RUN_DIR/cluster-run"
}
# Ansible's whole output goes to the log file; Pulumi gets (and keeps in the command's stderr output)
# only progress: play and task names, failures, warnings and the recap, at most ${PROGRESS_LINE_LIMIT} lines of
# ${PROGRESS_LINE_WIDTH} characters, and on failure the log's last ${FAILURE_TAIL_LINES} lines.
kha_progress() {
  awk -v limit=${PROGRESS_LINE_LIMIT} -v width=${PROGRESS_LINE_WIDTH} -v logfile="$kha_log" '
    /^PLAY RECAP/ { recap = 1 }
    recap || /^(PLAY|TASK|RUNNING HANDLER) \[/ || /^(fatal|failed|FAILED|ERROR|\[ERROR|\[WARNING)/ || /UNREACHABLE|unreachable=[1-9]/ || /"msg": "kubespray-ha recovery: / {
      if (n < limit) { print substr($0, 1, width) > "/dev/stderr"; fflush("/dev/stderr") }
      else if (n == limit) { print "kubespray-ha: more progress in " logfile > "/dev/stderr"; fflush("/dev/stderr") }
      n++
    }'
}
# (\`a && b || c\`: under set -e a failing playbook must not end the group before its status is kept.)
kha_hosts="$KHA_INVENTORY/hosts.yaml"
kha_playbook() {
  echo "kubespray-ha: $KHA_ANSIBLE_PLAYBOOK -i $kha_hosts -b --forks $kha_forks --user $KHA_SSH_USER $* (log: $kha_log)" | tee -a "$kha_log" >&2
  { "$KHA_ANSIBLE_PLAYBOOK" -i "$kha_hosts" -b --forks "$kha_forks" --user "$KHA_SSH_USER" --private-key "$kha_tmp/ssh-key" "$@" </dev/null 2>&1 && echo 0 > "$kha_tmp/rc" || echo "$?" > "$kha_tmp/rc"; } | tee -a "$kha_log" | kha_progress
  kha_rc="$(cat "$kha_tmp/rc")"
  if [ "$kha_rc" != 0 ]; then
    echo "kubespray-ha: ansible-playbook $1 failed (exit $kha_rc); its last ${FAILURE_TAIL_LINES} lines (full log: $kha_log):" >&2
    tail -n ${FAILURE_TAIL_LINES} "$kha_log" | cut -c 1-${PROGRESS_LINE_WIDTH} >&2
    exit "$kha_rc"
  fi
}
`;
}

/** A worker hosts.yaml no longer lists (its remove-node.yml after it left the config), in kube_node. */
function extraHostInventory(host: HostEntry, config: ClusterConfig): string {
    return stringify({
        all: {
            hosts: { [host.name]: { ansible_host: host.sshAddress, ansible_port: config.ssh.port, ip: host.ip, access_ip: host.ip } },
            children: { kube_node: { hosts: { [host.name]: null } } },
        },
    });
}

function renderInvocation(inv: PlaybookInvocation, config: ClusterConfig, n: number, leaving: readonly string[] = []): string {
    let out = "";
    const words: string[] = [];
    const upVar = (node: string) => `"$kha_up_${leaving.indexOf(node)}"`;
    if (inv.extraHost) {
        const file = `"$kha_tmp/extra-host-${n}.yaml"`;
        out += heredoc(file, extraHostInventory(inv.extraHost, config));
        words.push("-i", file);
    }
    words.push(...invocationArgs(inv).map(shellQuote), ...config.kubespray.extraArgs.map(shellQuote));
    if (inv.playbook === "remove-node.yml") {
        // Word-split on purpose: operator escape hatch, e.g. "-e reset_nodes=false -e allow_ungraceful_removal=true".
        words.push(`\${${REMOVE_NODE_ARGS_ENV}:-}`);
    }
    if (inv.ifUnreachable) {
        // Word-split on purpose (set -f is on): the options for a machine that does not answer, or nothing.
        out += `kha_more=; [ ${upVar(inv.ifUnreachable.node)} = 1 ] || kha_more=${shellQuote(inv.ifUnreachable.extraVars.map(([k, v]) => `-e ${k}=${v}`).join(" "))}\n`;
        words.push("$kha_more");
    }
    const run = inv.transitionInventory
        ? `kha_hosts="${TRANSITION_HOSTS}"; kha_playbook ${words.join(" ")}; kha_hosts="$KHA_INVENTORY/hosts.yaml"`
        : `kha_playbook ${words.join(" ")}`;
    if (inv.onlyIfAnswers) {
        return `${out}if [ ${upVar(inv.onlyIfAnswers.node)} = 1 ]; then ${run}
else echo ${shellQuote(`kubespray-ha: skipped ${inv.playbook}: ${inv.onlyIfAnswers.otherwise}`)} | tee -a "$kha_log" >&2; fi\n`;
    }
    return `${out}${run}\n`;
}

function renderAction(spec: CommandSpec, phase: "create" | "update" | "delete", action: CommandAction, config: ClusterConfig): string {
    if (action.writesInventory) {
        // umask 077: Kubespray later writes artifacts/admin.conf (the admin key) under this directory.
        return `# kubespray-ha ${spec.id} ${phase}: write the rendered inventory (stdin)
set -eu
umask 077
${RESOLVE_PATHS}export KHA_RUN_DIR KHA_INVENTORY
mkdir -p "$KHA_INVENTORY"
rm -rf "$KHA_INVENTORY/group_vars" "$KHA_INVENTORY/hosts.yaml"
/bin/sh -eu
`;
    }
    if (action.readsKubeconfig) {
        return `# kubespray-ha ${spec.id} ${phase}: print the admin kubeconfig Kubespray wrote (kubeconfig_localhost)
set -eu
${RESOLVE_PATHS}kha_conf="$KHA_INVENTORY/artifacts/admin.conf"
[ -s "$kha_conf" ] || { echo "kubespray-ha: $kha_conf is missing: Kubespray writes it at the end of cluster.yml (kubeconfig_localhost: true). Was kubespray.workDir removed, or is this another machine? Restore it from the machine that ran cluster.yml." >&2; exit 1; }
cat "$kha_conf"
`;
    }
    if (action.playbooks.length === 0) {
        return `# kubespray-ha ${spec.id} ${phase}: nothing to run (only trigger changes run playbooks)
cat > /dev/null
`;
    }
    let body = preamble(spec.id, phase);
    if (phase === "delete" && action.playbooks.some((p) => p.playbook === "remove-node.yml")) {
        // Checked first, so `pulumi destroy` can skip it even where Kubespray is not checked out.
        body = `if [ "\${${SKIP_REMOVE_NODE_ENV}:-}" = 1 ]; then echo "kubespray-ha: ${SKIP_REMOVE_NODE_ENV}=1: not running remove-node.yml for ${spec.node}" >&2; exit 0; fi\n` + body;
    }
    const skip = action.skipIf;
    if (skip?.kind === "node-covered-by-cluster-run") {
        body += `if kha_covered ${shellQuote(`node=${skip.node}`)}; then echo "kubespray-ha: ${skip.node} was set up by cluster.yml in this deployment: no scale.yml needed" >&2; exit 0; fi\n`;
    } else if (skip?.kind === "kube-version-deployed-by-cluster-run") {
        body += `if kha_covered ${shellQuote(`kube_version=${skip.kubeVersion}`)}; then echo "kubespray-ha: cluster.yml deployed kube_version ${skip.kubeVersion} in this deployment: no upgrade-cluster.yml needed" >&2; exit 0; fi\n`;
    }
    for (const line of action.announce ?? []) {
        // To Pulumi's log (stderr) and to the run's log file, like the playbook lines.
        body += `echo ${shellQuote(`kubespray-ha: ${line}`)} | tee -a "$kha_log" >&2\n`;
    }
    if (action.recordsClusterRun) body += recoverAbortedFirstRun();
    if (action.membership) body += membershipCheck(action.membership, PROGRESS_LINE_WIDTH);
    action.playbooks.forEach((inv, i) => {
        body += renderInvocation(inv, config, i, action.membership?.leaving);
    });
    if (action.recordsClusterRun) {
        body += `{ echo "stamp=$(kha_stamp)"; cat "$KHA_RUN_DIR/inventory.meta"; } > "$KHA_RUN_DIR/cluster-run.new"
mv -f "$KHA_RUN_DIR/cluster-run.new" "$KHA_RUN_DIR/cluster-run"
`;
    }
    return body;
}

/**
 * The shell of one command resource. Its environment holds the paths as the config writes them
 * (commandPaths), so nothing in a command's inputs depends on where the project is checked out.
 */
export function renderCommand(config: ClusterConfig, spec: CommandSpec): ShellCommand {
    const paths = commandPaths(config);
    const environment: Record<string, string> = {
        KHA_RUN_DIR: paths.runDir,
        KHA_INVENTORY: paths.inventoryDir,
    };
    const playbooks = spec.kind !== "inventory" && spec.kind !== "kubeconfig";
    if (playbooks) {
        Object.assign(environment, {
            ANSIBLE_CONFIG: path.posix.join(paths.kubesprayDir, "ansible.cfg"),
            PYTHONUNBUFFERED: "1",
            KHA_KUBESPRAY_DIR: paths.kubesprayDir,
            KHA_KUBESPRAY_VERSION: config.kubesprayVersion,
            KHA_ANSIBLE_PLAYBOOK: config.kubespray.ansiblePlaybook,
            KHA_SSH_USER: config.ssh.user,
        });
    }
    return {
        create: renderAction(spec, "create", spec.create, config),
        update: renderAction(spec, "update", spec.update, config),
        ...(spec.delete ? { delete: renderAction(spec, "delete", spec.delete, config) } : {}),
        environment,
        stdin: spec.kind === "inventory" ? "inventory-archive" : playbooks ? "ssh-private-key" : "none",
        logging: spec.kind === "kubeconfig" ? "stderr" : "stdoutAndStderr",
    };
}

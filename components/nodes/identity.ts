// Node identity: per node, the Pulumi resources its backend creates for it and the inputs whose change
// replaces them, from the same pure functions the node components take their resource names, triggers,
// replacing properties and `protect` from. `npm run plan` compares the identities of two configs to say
// which machines an `up` rebuilds (blank: Kubespray runs on them again), re-checks or restarts, and which
// of those Pulumi refuses because the resource is protected. Pure: nothing here imports Pulumi.
import type { ClusterConfig, NodeConfig, Role } from "../config/config";
import { hcloudReadyTriggerInputs, serverReplaceInputs, serverSpecs } from "./hcloud/hcloud-spec";
import { LibvirtPlan, libvirtTriggerInputs, planLibvirt } from "./libvirt/libvirt-xml";

// ---- resource names (the components name their children with these) ----

/** The component names index.ts gives: the node backend is `<name>`, the Kubespray run `<name>-kubespray`. */
export function componentNames(config: Pick<ClusterConfig, "name">): { nodes: string; kubespray: string } {
    return { nodes: config.name, kubespray: `${config.name}-kubespray` };
}

export function libvirtNetworkResourceName(component: string): string {
    return `${component}-network`;
}

/** The commands of one libvirt node, in creation order. */
export function libvirtNodeResourceNames(component: string, node: string): { disk: string; seed: string; domain: string; ready: string } {
    const at = `${component}-${node}`;
    return { disk: `${at}-disk`, seed: `${at}-seed`, domain: `${at}-domain`, ready: `${at}-ready` };
}

export function hcloudServerResourceName(component: string, node: string): string {
    return `${component}-${node}`;
}

export function hcloudReadyResourceName(component: string, node: string): string {
    return `${hcloudServerResourceName(component, node)}-ready`;
}

export function baremetalReadyResourceName(component: string, node: string): string {
    return `${component}-${node}-ready`;
}

/** The baremetal readiness check's trigger: re-checked (a new check, new id) when where or how Ansible connects changes. */
export function baremetalReadyTriggerInputs(config: ClusterConfig, node: Pick<NodeConfig, "ip" | "sshAddress">): { address: string; user: string; port: number } {
    return { address: node.sshAddress ?? node.ip, user: config.ssh.user, port: config.ssh.port };
}

/** True when `protect` goes on this node's machine: an etcd member, unless `protectEtcdMembers` is false. */
export function isProtected(config: Pick<ClusterConfig, "protectEtcdMembers">, roles: readonly Role[]): boolean {
    return config.protectEtcdMembers && roles.includes("etcd");
}

// ---- identities ----

/**
 * What replaces resources of a node, by effect:
 * - `rebuild`: a blank machine (a new disk from the base image, a new server): Kubespray sets it up again.
 * - `recheck`: only the readiness check is new (baremetal: another address, user or port); the machine
 *   stays, and its Kubespray commands run again because they key on the check's id.
 * - `restart`: the libvirt domain is re-created on the same disk (a cold boot); nothing runs again.
 */
export type ReplaceKind = "rebuild" | "recheck" | "restart";
const KINDS: readonly ReplaceKind[] = ["rebuild", "recheck", "restart"];

export interface NodeIdentity {
    node: string;
    roles: Role[];
    /** Pulumi resource names of the node's resources. A new name is a new resource; the old one is deleted. */
    resources: string[];
    /** Of `resources`, those that are the machine itself (libvirt disk, seed, domain; the hcloud server). None on baremetal. */
    machine: string[];
    /** `Machine.resource`: its id is in the triggers of the Kubespray cluster and node commands. */
    resource: string;
    /** Of `resources`, those created with `protect: true`. */
    protected: string[];
    /**
     * Per kind: the inputs, keyed by the config they come from (`libvirt.baseImage`), that the component
     * hashes into the triggers of (or passes as replacing properties to) the resources in `replaces`.
     */
    changes: Record<ReplaceKind, { inputs: Record<string, unknown>; replaces: string[] }>;
}

/** Leaves of a trigger object by dotted path, renamed by `labels` (an unlabelled leaf keeps its path). */
function labelled(value: unknown, labels: Record<string, string>, at = "", out: Record<string, unknown> = {}): Record<string, unknown> {
    if (value !== null && typeof value === "object" && !Array.isArray(value)) {
        for (const [k, v] of Object.entries(value)) labelled(v, labels, at ? `${at}.${k}` : k, out);
    } else if (labels[at] !== "") {
        out[labels[at] ?? at] = value;
    }
    return out;
}

// "" drops a leaf: the always-null host, and the hashes of parts shown elsewhere.
const LIBVIRT_DISK_LABELS: Record<string, string> = {
    "target.uri": "libvirt.uri",
    "target.host": "",
    base: "libvirt.baseImage",
    disk: "disk file (libvirt.storageDir, name)",
    size: "disk GiB (libvirt.diskGiB, nodes[].diskGiB)",
    "seed.userData": "cloud-init user-data (ssh.user, SSH public key)",
    "seed.networkConfig": "cloud-init network-config (nodes[].ip, interface, network)",
    "seed.metaData": "cloud-init meta-data (name)",
};
const LIBVIRT_DOMAIN_LABELS: Record<string, string> = {
    "target.uri": "libvirt.uri",
    "target.host": "",
    disk: "",
    name: "domain name (name)",
    uuid: "domain UUID (name)",
    network: "libvirt network (bridge, network.gateway, libvirt.forward)",
};
const HCLOUD_SERVER_LABELS: Record<string, string> = { location: "location (hcloud.location, nodes[].location)" };
const HCLOUD_READY_LABELS: Record<string, string> = { user: "ssh.user", port: "ssh.port" };
const BAREMETAL_READY_LABELS: Record<string, string> = { address: "SSH address (nodes[].sshAddress, nodes[].ip)", user: "ssh.user", port: "ssh.port" };

const none = () => ({ inputs: {}, replaces: [] as string[] });

/** libvirt, from the component's own plan and trigger inputs. */
export function libvirtIdentities(config: ClusterConfig, plan: LibvirtPlan, component = componentNames(config).nodes): NodeIdentity[] {
    const triggers = libvirtTriggerInputs(plan);
    return plan.nodes.map((node, i) => {
        const t = triggers.nodes[i];
        const names = libvirtNodeResourceNames(component, node.name);
        return {
            node: node.name,
            roles: [...node.roles],
            resources: [names.disk, names.seed, names.domain, names.ready],
            machine: [names.disk, names.seed, names.domain],
            resource: names.ready,
            protected: isProtected(config, node.roles) ? [names.disk, names.domain] : [],
            changes: {
                rebuild: { inputs: labelled(t.disk, LIBVIRT_DISK_LABELS), replaces: [names.disk, names.seed, names.domain, names.ready] },
                recheck: none(),
                restart: { inputs: labelled(t.domain, LIBVIRT_DOMAIN_LABELS), replaces: [names.domain] },
            },
        };
    });
}

/** hcloud: the server and the inputs that replace it. */
export function hcloudIdentities(config: ClusterConfig, component = componentNames(config).nodes): NodeIdentity[] {
    return serverSpecs(config).map((spec) => {
        const server = hcloudServerResourceName(component, spec.node);
        const ready = hcloudReadyResourceName(component, spec.node);
        return {
            node: spec.node,
            roles: [...spec.roles],
            resources: [server, ready],
            machine: [server],
            resource: ready,
            protected: isProtected(config, spec.roles) ? [server] : [],
            changes: {
                // A new server gets a new readiness check (its trigger holds the server's id).
                rebuild: { inputs: labelled(serverReplaceInputs(spec), HCLOUD_SERVER_LABELS), replaces: [server, ready] },
                recheck: { inputs: labelled(hcloudReadyTriggerInputs(config), HCLOUD_READY_LABELS), replaces: [ready] },
                restart: none(),
            },
        };
    });
}

/** baremetal: nothing is created but the readiness check; the machines are never rebuilt by the program. */
export function baremetalIdentities(config: ClusterConfig, component = componentNames(config).nodes): NodeIdentity[] {
    return config.nodes.map((node) => {
        const ready = baremetalReadyResourceName(component, node.name);
        return {
            node: node.name,
            roles: [...node.roles],
            resources: [ready],
            machine: [],
            resource: ready,
            protected: [],
            changes: { rebuild: none(), recheck: { inputs: labelled(baremetalReadyTriggerInputs(config, node), BAREMETAL_READY_LABELS), replaces: [ready] }, restart: none() },
        };
    });
}

/**
 * The SSH public key as `npm run plan` knows it: `ssh.publicKey`, or a stand-in naming `ssh.publicKeyPath`
 * (the plan reads no key files: a changed path counts as a changed key, a key changed inside the same file
 * does not show).
 */
export function planPublicKey(config: ClusterConfig): string {
    if (config.ssh.publicKey !== undefined) return config.ssh.publicKey;
    return `<the key in ssh.publicKeyPath ${config.ssh.publicKeyPath ?? "(unset)"}>`;
}

/** Every node's identity for this config, as the backend's component would build it. */
export function nodeIdentities(config: ClusterConfig, sshPublicKey: string = planPublicKey(config)): NodeIdentity[] {
    switch (config.backend) {
        case "libvirt":
            return libvirtIdentities(config, planLibvirt(config, sshPublicKey, { forward: config.libvirt.forward }));
        case "hcloud":
            return hcloudIdentities(config);
        case "baremetal":
            return baremetalIdentities(config);
    }
}

// ---- comparing two deployments ----

/** What an `up` does to one node's resources. */
export interface MachineChange {
    node: string;
    /** rebuilt: a blank machine; rechecked: a new readiness check on the same machine; restarted: a cold boot. */
    kind: "rebuilt" | "rechecked" | "restarted";
    /** Which inputs changed, e.g. `libvirt.baseImage: /a.qcow2 -> /b.qcow2`. */
    reasons: string[];
    roles: Role[];
    /** Set when Pulumi refuses the change: a protected resource would be replaced or deleted. */
    refused?: string;
}

export interface IdentityDiff {
    changes: MachineChange[];
    /** Nodes whose `Machine.resource` is replaced (a new id in their Kubespray triggers): predictRuns' replacedMachines. */
    replacedMachines: string[];
    /** Everything Pulumi refuses (protected resources), one sentence each, naming the node. */
    refusals: string[];
}

function shown(value: unknown): string | undefined {
    if (typeof value === "number" || typeof value === "boolean") return String(value);
    if (typeof value === "string" && value.length <= 80 && !value.includes("\n") && !/^[0-9a-f]{64}$/.test(value)) return value;
    return undefined;
}

function inputReasons(before: Record<string, unknown>, after: Record<string, unknown>): string[] {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
    return keys
        .filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]))
        .map((k) => {
            const [b, a] = [shown(before[k]), shown(after[k])];
            return b !== undefined && a !== undefined ? `${k}: ${b} -> ${a}` : `${k} changed`;
        });
}

const UNPROTECT_FIRST = "first `pulumi up` with protectEtcdMembers: false (or `pulumi state unprotect <urn>`), then this change";

/**
 * What going from the `before` identities (the last deployment) to `after` does to each node present in both,
 * and what Pulumi refuses: replacing a resource protected before and after (Pulumi allows unprotecting and
 * replacing in one `up`), and deleting one that was protected (a node removed, or renamed resources).
 */
export function diffIdentities(before: readonly NodeIdentity[], after: readonly NodeIdentity[]): IdentityDiff {
    const old = new Map(before.map((n) => [n.node, n]));
    const changes: MachineChange[] = [];
    const refusals: string[] = [];
    for (const now of after) {
        const was = old.get(now.node);
        if (!was) continue;
        let change: MachineChange | undefined;
        if (JSON.stringify(was.resources) !== JSON.stringify(now.resources)) {
            change = {
                node: now.node,
                kind: was.machine.length > 0 || now.machine.length > 0 ? "rebuilt" : "rechecked",
                reasons: [`new resource names: ${was.machine[0] ?? was.resource} -> ${now.machine[0] ?? now.resource} (name)`],
                roles: now.roles,
            };
            if (was.protected.length > 0) {
                change.refused = `${now.node}: its resources get new names, so Pulumi deletes the old ones, which are protected (${was.protected.join(", ")}): ${UNPROTECT_FIRST}`;
            }
        } else {
            for (const kind of KINDS) {
                const reasons = inputReasons(was.changes[kind].inputs, now.changes[kind].inputs);
                if (reasons.length === 0) continue;
                change = { node: now.node, kind: kind === "rebuild" ? "rebuilt" : kind === "recheck" ? "rechecked" : "restarted", reasons, roles: now.roles };
                const blocked = now.changes[kind].replaces.filter((r) => was.protected.includes(r) && now.protected.includes(r));
                if (blocked.length > 0) {
                    change.refused =
                        `${now.node}: Pulumi refuses to replace its protected ${blocked.join(", ")} (etcd member, protectEtcdMembers): ` +
                        "set protectEtcdMembers: false in this change to let it be replaced, or undo the change";
                }
                break;
            }
        }
        if (change) {
            changes.push(change);
            if (change.refused) refusals.push(change.refused);
        }
    }
    const names = new Set(after.map((n) => n.node));
    for (const gone of before.filter((n) => !names.has(n.node) && n.protected.length > 0)) {
        refusals.push(`${gone.node} is removed, and Pulumi refuses to delete its protected ${gone.protected.join(", ")}: ${UNPROTECT_FIRST}`);
    }
    const replacedMachines = changes.filter((c) => c.kind !== "restarted").map((c) => c.node);
    return { changes, replacedMachines, refusals };
}

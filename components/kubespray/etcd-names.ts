// etcd member names (`etcd_member_name` in hosts.yaml). Kubespray's roles/etcd make it the member's --name,
// its entry in ETCD_INITIAL_CLUSTER and the name `etcdctl member add` registers, so a running member must keep
// it: renaming one breaks the cluster. The rule:
//   - a node that was an etcd member in the last deployment keeps the name it had there;
//   - a new member gets etcd<N>, N above every name in use or retired (etcd may still list a member that left);
//   - a first deployment numbers the etcd nodes etcd1..etcdN in config order, as this program always did, so
//     stacks deployed before names were kept keep theirs.
// The last deployment's names are in its cluster CommandSpec (`etcdMemberNames`, stack output
// kubesprayCommandSpecs); a deployment from before that field has `members.etcd`, whose positions were its names.
// Pure: KubesprayRun (against the stack's last deployment) and `npm run plan` (against the base ref) share it.
import { ClusterConfig, EtcdMemberNames, nodesWithRole, Role } from "../config/config";
import type { CommandSpec } from "./playbook";

const NUMBERED = /^etcd([1-9][0-9]*)$/;

const has = (record: Record<string, string>, key: string) => Object.prototype.hasOwnProperty.call(record, key);

/** etcd1..etcdN over the etcd nodes in the order given (the first deployment's names). */
export function positionalEtcdMemberNames(etcdNodes: readonly string[]): Record<string, string> {
    return Object.fromEntries(etcdNodes.map((n, i) => [n, `etcd${i + 1}`]));
}

/**
 * The names hosts.yaml gives the etcd members among `machines`: `config.etcdMemberNames` when a deployment
 * fixed them, else etcd1..etcdN in the machines' order. Throws when a fixed set lacks one of the members.
 */
export function etcdMemberNamesOf(config: ClusterConfig, machines: readonly { name: string; roles: readonly Role[] }[]): EtcdMemberNames {
    const etcd = nodesWithRole(machines, "etcd").map((m) => m.name);
    const fixed = config.etcdMemberNames;
    if (!fixed) return { members: positionalEtcdMemberNames(etcd), retired: [] };
    const missing = etcd.filter((n) => !has(fixed.members, n));
    if (missing.length > 0) {
        throw new Error(`etcdMemberNames: no etcd member name for ${missing.join(", ")} (set by nextEtcdMemberNames for every etcd node)`);
    }
    return { members: Object.fromEntries(etcd.map((n) => [n, fixed.members[n]])), retired: [...fixed.retired] };
}

function isStringRecord(value: unknown): value is Record<string, string> {
    return value !== null && typeof value === "object" && !Array.isArray(value) && Object.values(value).every((v) => typeof v === "string");
}

/**
 * The etcd member names a deployment used, read from its specs (the stack output kubesprayCommandSpecs):
 * the cluster spec's `etcdMemberNames`, or for a deployment from before that field, its `members.etcd`
 * numbered etcd1..etcdN (what its hosts.yaml said). Undefined when there is none (first deployment, or not a
 * spec list). Throws on a malformed `etcdMemberNames`: guessing could rename a running member.
 */
export function recordedEtcdMemberNames(specs: unknown): EtcdMemberNames | undefined {
    if (!Array.isArray(specs)) return undefined;
    const cluster = (specs as Partial<CommandSpec>[]).find((s) => s && s.kind === "cluster");
    if (!cluster) return undefined;
    const recorded: unknown = cluster.etcdMemberNames;
    if (recorded !== undefined) {
        const r = recorded as Partial<EtcdMemberNames>;
        if (!isStringRecord(r.members) || !Array.isArray(r.retired) || !r.retired.every((n) => typeof n === "string")) {
            throw new Error(`the last deployment's ${cluster.id ?? "cluster"} spec has a malformed etcdMemberNames: ${JSON.stringify(recorded)}`);
        }
        return { members: { ...r.members }, retired: [...r.retired] };
    }
    const etcd = cluster.members?.etcd;
    if (!Array.isArray(etcd) || !etcd.every((n) => typeof n === "string")) return undefined;
    return { members: positionalEtcdMemberNames(etcd), retired: [] };
}

/**
 * The names of the next deployment's etcd members (`etcdNodes`, in config order) after one that used
 * `previous`: members keep theirs, members that left are retired, new members get etcd<N> with N above every
 * name in use or retired, in config order. Without `previous` (first deployment): etcd1..etcdN.
 */
export function nextEtcdMemberNames(etcdNodes: readonly string[], previous: EtcdMemberNames | undefined): EtcdMemberNames {
    if (!previous) return { members: positionalEtcdMemberNames(etcdNodes), retired: [] };
    const left = Object.keys(previous.members).filter((n) => !etcdNodes.includes(n)).map((n) => previous.members[n]);
    const retired = [...new Set([...previous.retired, ...left])].sort();
    let next = 1 + Math.max(0, ...[...Object.values(previous.members), ...retired].map((n) => Number(NUMBERED.exec(n)?.[1] ?? 0)));
    const members: Record<string, string> = {};
    for (const n of etcdNodes) {
        members[n] = has(previous.members, n) ? previous.members[n] : `etcd${next++}`;
    }
    return { members, retired };
}

/**
 * The config with the etcd member names that follow the deployment whose specs are `previousSpecs` (the
 * stack's last deployment for `pulumi up`, the base ref's render for `npm run plan`). Unchanged when that
 * deployment recorded none (first deployment): etcd1..etcdN as ever.
 */
export function withEtcdMemberNames(config: ClusterConfig, previousSpecs: unknown): ClusterConfig {
    const previous = recordedEtcdMemberNames(previousSpecs);
    if (!previous) return config;
    return { ...config, etcdMemberNames: nextEtcdMemberNames(nodesWithRole(config.nodes, "etcd").map((n) => n.name), previous) };
}

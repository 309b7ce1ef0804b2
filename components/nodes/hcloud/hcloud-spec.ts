// Hetzner Cloud: what the HcloudCluster component creates, computed from the validated
// config alone: firewall rules, server specs, labels, Load Balancer settings, the readiness
// check. The Hetzner rules of the config itself live in config/hcloud-rules.ts. Pure: nothing
// here imports Pulumi, so it is tested without mocks.
import type { ClusterConfig, NodeConfig, Role } from "../../config/config";
import { API_PORT, inSubnet, isIPv4, parseSubnet } from "../../config/vip";
import { inSpreadGroup, LABEL_PREFIX, serverName } from "../../config/hcloud-rules";
import { shQuote } from "../../shared/shell";
import { firstUpChecks, waitReadyScript } from "../wait-ready";

export { hcloudProblems, LABEL_PREFIX, LOCATION_ZONES, networkIpRange, serverName, serverTypeUses, SPREAD_GROUP_LIMIT } from "../../config/hcloud-rules";

/**
 * The Load Balancer's health check for the API service: a TCP connect to 6443 every 5 s,
 * 3 s timeout, 3 failures to mark a control plane down (about 15 s to fail over; Hetzner's
 * default of 15 s x 3 would take 45 s).
 */
export const API_HEALTH_CHECK = { protocol: "tcp", port: API_PORT, interval: 5, timeout: 3, retries: 3 } as const;

/** One inbound rule of the servers' firewall (the shape of hcloud.types.input.FirewallRule). */
export interface FirewallRuleSpec {
    description: string;
    direction: "in";
    protocol: "tcp" | "icmp";
    /** Absent for ICMP. */
    port?: string;
    sourceIps: string[];
}

/** Everything a server needs that is known from config. */
export interface ServerSpec {
    /** The node's name in the config and in the inventory (Kubernetes node name). */
    node: string;
    roles: Role[];
    /** Hetzner server name (the hostname cloud-init sets): `<config.name>-<node>`. */
    serverName: string;
    serverType: string;
    image: string;
    location: string;
    /** Fixed private IP in the node subnet. */
    ip: string;
    labels: Record<string, string>;
    /** Control-plane and etcd nodes share a spread placement group (never on one host). */
    spread: boolean;
    /** Control-plane nodes are the Load Balancer's targets. */
    loadBalancerTarget: boolean;
}

function unique(list: readonly string[]): string[] {
    return [...new Set(list)];
}

/**
 * The firewall of every server's public interface. Hetzner firewalls only filter public
 * traffic, so the private network (etcd, kubelet, CNI, the Load Balancer's health checks)
 * is not affected; unmatched inbound public traffic is dropped.
 *
 * - SSH (`ssh.port`, 22) from `hcloud.firewall.sshSourceCidrs`: Ansible connects there.
 * - The API (6443) from `hcloud.firewall.apiSourceCidrs`, only when the list is not empty.
 * - ICMP from `hcloud.firewall.sshSourceCidrs` only: the operator can ping the nodes while
 *   the rest of the internet cannot. Replies to the servers' own outbound traffic (including
 *   path-MTU "fragmentation needed") pass anyway, the firewall is stateful.
 */
export function firewallRules(config: ClusterConfig): FirewallRuleSpec[] {
    const ssh = unique(config.hcloud.firewall.sshSourceCidrs);
    const api = unique(config.hcloud.firewall.apiSourceCidrs);
    const rules: FirewallRuleSpec[] = [
        { description: "SSH for Ansible", direction: "in", protocol: "tcp", port: String(config.ssh.port), sourceIps: ssh },
    ];
    if (api.length > 0) {
        rules.push({ description: "Kubernetes API", direction: "in", protocol: "tcp", port: String(API_PORT), sourceIps: api });
    }
    rules.push({ description: "ICMP from the SSH sources", direction: "in", protocol: "icmp", sourceIps: ssh });
    return rules;
}

function sortedRecord(entries: [string, string][]): Record<string, string> {
    return Object.fromEntries(entries.sort(([a], [b]) => a.localeCompare(b)));
}

/** Labels of every resource: `hcloud.labels` plus `kubespray-ha/cluster: <name>`. */
export function clusterLabels(config: ClusterConfig): Record<string, string> {
    return sortedRecord([...Object.entries(config.hcloud.labels), [`${LABEL_PREFIX}/cluster`, config.name]]);
}

/**
 * A server's labels: the cluster labels, `kubespray-ha/node: <name>` and one
 * `kubespray-ha/<role>: "true"` per role (control-plane, etcd, worker), so label selectors
 * (`kubespray-ha/control-plane=true`) find each role. Labels update in place.
 */
export function serverLabels(config: ClusterConfig, node: Pick<NodeConfig, "name" | "roles">): Record<string, string> {
    return sortedRecord([
        ...Object.entries(clusterLabels(config)),
        [`${LABEL_PREFIX}/node`, node.name],
        ...node.roles.map((role): [string, string] => [`${LABEL_PREFIX}/${role}`, "true"]),
    ]);
}

/** One spec per node, in config order; per-node serverType/image/location override hcloud.*. */
export function serverSpecs(config: ClusterConfig): ServerSpec[] {
    return config.nodes.map((node) => ({
        node: node.name,
        roles: [...node.roles],
        serverName: serverName(config, node.name),
        serverType: node.serverType ?? config.hcloud.serverType,
        image: node.image ?? config.hcloud.image,
        location: node.location ?? config.hcloud.location,
        ip: node.ip,
        labels: serverLabels(config, node),
        spread: inSpreadGroup(node.roles),
        loadBalancerTarget: node.roles.includes("control-plane"),
    }));
}



/**
 * Server inputs the component must not diff: both force a new server at Hetzner, yet neither is a change
 * meant for a running node (a new default image applies to servers created from now on; a rotated SSH key
 * is rolled out by Ansible). `pulumi up --replace <urn>` rebuilds one on purpose.
 */
export const SERVER_IGNORE_CHANGES = ["image", "sshKeys"] as const;

/**
 * The server inputs, as the component passes them, whose change replaces the server (ForceNew in
 * terraform-provider-hcloud: location, datacenter, user_data, image and ssh_keys; the program sets no
 * datacenter or user_data, and ignores image and sshKeys). Server type, labels, networks, firewall and
 * placement group update in place. A replaced server is a blank machine.
 */
export function serverReplaceInputs(spec: ServerSpec): { location: string } {
    return { location: spec.location };
}

/** RFC 5737 documentation ranges: the example's firewall placeholders, never where Pulumi runs. */
const DOCUMENTATION_RANGES = ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"].map((c) => parseSubnet(c));

/** Entries of `hcloud.firewall.sshSourceCidrs` inside a documentation range (left in from the example). */
export function placeholderSshSources(config: ClusterConfig): string[] {
    return config.hcloud.firewall.sshSourceCidrs.filter((cidr) => {
        const address = cidr.split("/")[0];
        return isIPv4(address) && DOCUMENTATION_RANGES.some((range) => inSubnet(address, range));
    });
}

/**
 * What the readiness check prints when a server is not ready in time: the node, its address, the bound
 * and the likely causes, by the symptom ssh printed above it.
 */
export function readinessFailureHint(config: ClusterConfig, spec: Pick<ServerSpec, "node" | "image">, address: string): string {
    const cidrs = config.hcloud.firewall.sshSourceCidrs;
    const placeholders = placeholderSshSources(config);
    const key = config.hcloud.sshKeyName !== undefined
        ? `the existing hcloud SSH key hcloud.sshKeyName "${config.hcloud.sshKeyName}"`
        : "ssh.publicKey / ssh.publicKeyPath (uploaded as the servers' SSH key)";
    return (
        `hcloud node ${spec.node} (${address}): not ready for Kubespray within ${config.ssh.waitSeconds}s (ssh.waitSeconds). Likely causes: ` +
        `(1) "Connection timed out" above: the address Pulumi runs from is not in hcloud.firewall.sshSourceCidrs (${cidrs.join(", ")}), ` +
        `the firewall drops everything else` +
        (placeholders.length > 0 ? `; ${placeholders.join(", ")} is a documentation range (RFC 5737), the example's placeholder: replace it with your own address` : "") +
        `; (2) "Permission denied (publickey)": the private key (kubespray-ha:sshPrivateKey or ssh.privateKeyPath) is not the one of ${key}, or ssh.user ${config.ssh.user} is wrong; ` +
        `(3) cloud-init failed or hangs on hcloud.image ${spec.image} (see its output above)`
    );
}

/** What re-runs the readiness check besides a new server: how Ansible logs in. */
export function hcloudReadyTriggerInputs(config: ClusterConfig): { user: string; port: number } {
    return { user: config.ssh.user, port: config.ssh.port };
}

/**
 * The readiness check of one server, for `/bin/sh -c` with the private key on stdin: the shared one of
 * ../wait-ready (kind hcloud: SSH answers, then `cloud-init status --wait`, then the first-up
 * checks), bounded by `ssh.waitSeconds`, at the server's public IPv4 (known once it exists), followed on
 * failure by readinessFailureHint.
 */
export function hcloudReadyScript(config: ClusterConfig, spec: Pick<ServerSpec, "node" | "roles" | "image">, address: string): string {
    const wait = waitReadyScript({
        node: spec.node,
        ip: address,
        user: config.ssh.user,
        port: config.ssh.port,
        timeoutSeconds: config.ssh.waitSeconds,
        kind: "hcloud",
        checks: firstUpChecks(config),
    });
    const hint = readinessFailureHint(config, spec, address);
    return `# hcloud server ${spec.node}: SSH, cloud-init and the first-up checks, at most ssh.waitSeconds
` +
        `if (
${wait}); then exit 0; fi
` +
        `echo ${shQuote(hint)} >&2
` +
        `exit 1
`;
}

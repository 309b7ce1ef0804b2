// Hetzner Cloud: what the HcloudCluster component creates, computed from the validated
// config alone: firewall rules, server specs, labels, Load Balancer settings. The Hetzner
// rules of the config itself live in config/hcloud-rules.ts. Pure: nothing here imports
// Pulumi, so it is tested without mocks.
import type { ClusterConfig, NodeConfig, Role } from "../../config/config";
import { API_PORT } from "../../config/vip";
import { inSpreadGroup, LABEL_PREFIX, serverName } from "../../config/hcloud-rules";

export { hcloudProblems, LABEL_PREFIX, LOCATION_ZONES, networkIpRange, serverName, SPREAD_GROUP_LIMIT } from "../../config/hcloud-rules";

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

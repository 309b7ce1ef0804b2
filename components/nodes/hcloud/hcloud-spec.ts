// Hetzner Cloud: what the HcloudCluster component creates, computed from the validated
// config alone: firewall rules, server specs, labels, Load Balancer settings, and the
// Hetzner-specific rules the generic config schema does not know. Pure: nothing here
// imports Pulumi, so it is tested without mocks.
import { Address4 } from "ip-address";
import type { ClusterConfig, NodeConfig, Role } from "../../config/config";
import { API_PORT, RuleViolation } from "../../config/vip";

/** Prefix of the labels this program sets; `hcloud.labels` may not use it. */
export const LABEL_PREFIX = "kubespray-ha";

/** Hetzner puts at most 10 servers into one spread placement group. */
export const SPREAD_GROUP_LIMIT = 10;

/**
 * The network zone of each Hetzner location known when this was written. A location missing
 * here is not refused (Hetzner adds locations); a known one in the wrong zone is.
 */
export const LOCATION_ZONES: Readonly<Record<string, string>> = {
    fsn1: "eu-central",
    nbg1: "eu-central",
    hel1: "eu-central",
    ash: "us-east",
    hil: "us-west",
    sin: "ap-southeast",
};

/** Hetzner Cloud networks must lie inside one of the RFC 1918 ranges. */
const RFC1918 = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"];

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

/** True when the CIDR `inner` lies entirely inside the CIDR `outer`. */
function cidrInside(inner: string, outer: string): boolean {
    try {
        return new Address4(inner).isInSubnet(new Address4(outer));
    } catch {
        return false;
    }
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

/** The Hetzner name of a server. */
export function serverName(config: ClusterConfig, node: string): string {
    return `${config.name}-${node}`;
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
        spread: node.roles.includes("control-plane") || node.roles.includes("etcd"),
        loadBalancerTarget: node.roles.includes("control-plane"),
    }));
}

/** The Hetzner Network's ip_range: `hcloud.networkIpRange`, else the node subnet itself. */
export function networkIpRange(config: ClusterConfig): string {
    return config.hcloud.networkIpRange ?? config.subnet.cidr;
}

// Hetzner label syntax: keys `[prefix/]name`, names and values at most 63 characters,
// alphanumeric at both ends, `-_.` inside; values may be empty.
const LABEL_NAME = /^[A-Za-z0-9]([-_.A-Za-z0-9]{0,61}[A-Za-z0-9])?$/;
const LABEL_PREFIX_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function labelKeyProblem(key: string): string | undefined {
    const slash = key.lastIndexOf("/");
    const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
    const name = slash >= 0 ? key.slice(slash + 1) : key;
    if (!LABEL_NAME.test(name) || (prefix !== undefined && (prefix.length > 253 || !LABEL_PREFIX_RE.test(prefix)))) {
        return "is not a valid Hetzner label key ([prefix/]name; name up to 63 characters of a-z, 0-9, '-', '_', '.')";
    }
    if (prefix === LABEL_PREFIX || prefix === "hetzner.cloud" || prefix?.endsWith(".hetzner.cloud")) {
        return `uses the reserved prefix ${prefix}/`;
    }
    return undefined;
}

/**
 * The Hetzner rules the generic schema does not check. Each problem names its config key.
 * Empty for a config the HcloudCluster component can build.
 */
export function hcloudProblems(config: ClusterConfig): RuleViolation[] {
    const problems: RuleViolation[] = [];
    if (config.backend !== "hcloud") {
        problems.push({ key: "backend", message: `is ${config.backend}; HcloudCluster only builds backend hcloud` });
        return problems;
    }
    if (config.vip.mode !== "loadbalancer") {
        problems.push({ key: "vip.mode", message: `${config.vip.mode} cannot hold a VIP on Hetzner Cloud; use loadbalancer` });
    }
    if (config.ssh.port !== 22) {
        problems.push({ key: "ssh.port", message: `${config.ssh.port}: Hetzner images run sshd on 22 and this program does not move it; use 22 on hcloud` });
    }
    for (const [key, value] of Object.entries(config.hcloud.labels)) {
        const keyProblem = labelKeyProblem(key);
        if (keyProblem) problems.push({ key: `hcloud.labels.${key}`, message: keyProblem });
        if (value !== "" && !LABEL_NAME.test(value)) {
            problems.push({ key: `hcloud.labels.${key}`, message: `value "${value}" is not a valid Hetzner label value (up to 63 characters of a-z, 0-9, '-', '_', '.')` });
        }
    }
    const rangeKey = config.hcloud.networkIpRange !== undefined ? "hcloud.networkIpRange" : "network.cidr";
    const range = networkIpRange(config);
    if (!RFC1918.some((r) => cidrInside(range, r))) {
        problems.push({ key: rangeKey, message: `${range} is not inside a private RFC 1918 range (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16), as Hetzner networks must be` });
    }
    const zone = config.hcloud.networkZone;
    const checkLocation = (location: string, key: string) => {
        const known = LOCATION_ZONES[location];
        if (known !== undefined && known !== zone) {
            problems.push({ key, message: `${location} is in network zone ${known}, not hcloud.networkZone ${zone}; servers and the Load Balancer must be in the subnet's zone` });
        }
    };
    checkLocation(config.hcloud.location, "hcloud.location");
    config.nodes.forEach((node, i) => {
        if (node.location !== undefined) checkLocation(node.location, `nodes[${i}].location`);
        const name = serverName(config, node.name);
        if (name.length > 63) {
            problems.push({ key: `nodes[${i}].name`, message: `the server name ${name} (name + "-" + node name) is longer than 63 characters` });
        }
    });
    const spread = serverSpecs(config).filter((s) => s.spread).length;
    if (spread > SPREAD_GROUP_LIMIT) {
        problems.push({ key: "nodes", message: `${spread} control-plane/etcd nodes; a Hetzner spread placement group holds at most ${SPREAD_GROUP_LIMIT}` });
    }
    return problems;
}

// Hetzner Cloud rules of the stack config: what the generic schema does not know (labels, zones,
// RFC 1918 ranges, name lengths, spread-group size, server types no longer sold). Lives with the config so
// config/ imports no backend.
import { Address4 } from "ip-address";
import type { ClusterConfig, Role } from "./config";
import { serverTypeFindings, ServerTypeUse, staticKnowledge } from "./hcloud-server-types";
import { RuleViolation } from "./vip";

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

/** True when the CIDR `inner` lies entirely inside the CIDR `outer`. */
function cidrInside(inner: string, outer: string): boolean {
    try {
        return new Address4(inner).isInSubnet(new Address4(outer));
    } catch {
        return false;
    }
}

/** Control-plane and etcd nodes share a spread placement group (never on one host). */
export function inSpreadGroup(roles: readonly Role[]): boolean {
    return roles.includes("control-plane") || roles.includes("etcd");
}

/** The Hetzner name of a server. */
export function serverName(config: ClusterConfig, node: string): string {
    return `${config.name}-${node}`;
}

/**
 * Per node, the server type it asks for, where, and the key that sets it: `nodes[<i>].serverType` when the
 * node has its own, else `hcloud.serverType`. In config order.
 */
export function serverTypeUses(config: Pick<ClusterConfig, "nodes" | "hcloud">): ServerTypeUse[] {
    return config.nodes.map((node, i) => ({
        key: node.serverType !== undefined ? `nodes[${i}].serverType` : "hcloud.serverType",
        node: node.name,
        serverType: node.serverType ?? config.hcloud.serverType,
        location: node.location ?? config.hcloud.location,
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
export function hcloudProblems(config: ClusterConfig, now: Date = new Date()): RuleViolation[] {
    const problems: RuleViolation[] = [];
    if (config.backend !== "hcloud") {
        problems.push({ key: "backend", message: `is ${config.backend}; HcloudCluster only builds backend hcloud` });
        return problems;
    }
    if (config.vip.mode !== "loadbalancer") {
        problems.push({ key: "vip.mode", message: `${config.vip.mode} cannot hold a VIP on Hetzner Cloud; use loadbalancer` });
    }
    if (config.hcloud.apiEndpoint === "public" && !config.hcloud.enablePublicInterface) {
        problems.push({
            key: "hcloud.apiEndpoint",
            message: "public needs hcloud.enablePublicInterface: true (without it the Load Balancer has no public IP); set hcloud.enablePublicInterface: true or hcloud.apiEndpoint: private",
        });
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
    // Offline, from the static list; at preview HcloudCluster asks Hetzner with the same rule.
    problems.push(...serverTypeFindings(serverTypeUses(config), staticKnowledge, now).errors);
    const spread = config.nodes.filter((n) => inSpreadGroup(n.roles)).length;
    if (spread > SPREAD_GROUP_LIMIT) {
        problems.push({ key: "nodes", message: `${spread} control-plane/etcd nodes; a Hetzner spread placement group holds at most ${SPREAD_GROUP_LIMIT}` });
    }
    return problems;
}

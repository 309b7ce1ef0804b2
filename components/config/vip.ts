// VIP reservation rules: pure functions over IPv4 addresses, built on the
// `ip-address` library (no hand-written IP math). Nothing here imports Pulumi.
import { Address4 } from "ip-address";

/** The Kubernetes API port behind the VIP. */
export const API_PORT = 6443;

/** An IPv4 subnet as the rules see it. */
export interface Subnet {
    /** Canonical CIDR, e.g. 192.168.122.0/24. */
    cidr: string;
    network: string;
    broadcast: string;
    /** The gateway: the given one, or the first host address (.1). */
    gateway: string;
    prefix: number;
}

export interface AddressRange {
    start: string;
    end: string;
}

/** One problem found by a rule, tied to the config key that causes it. */
export interface RuleViolation {
    key: string;
    message: string;
}

/** Parses a dotted-quad IPv4 address; returns undefined when it is not one (leading zeros, CIDR suffix, IPv6...). */
export function parseIPv4(text: string): Address4 | undefined {
    if (typeof text !== "string" || text.includes("/")) {
        return undefined;
    }
    try {
        const address = new Address4(text);
        return address.correctForm() === text ? address : undefined;
    } catch {
        return undefined;
    }
}

export function isIPv4(text: string): boolean {
    return parseIPv4(text) !== undefined;
}

/** Parses `a.b.c.d/n`. Throws with a reason when malformed or when host bits are set. */
export function parseSubnet(cidr: string, gateway?: string): Subnet {
    const slash = typeof cidr === "string" ? cidr.indexOf("/") : -1;
    if (slash < 0) {
        throw new Error(`"${cidr}" is not a CIDR (expected a.b.c.d/prefix)`);
    }
    const base = parseIPv4(cidr.slice(0, slash));
    const prefixText = cidr.slice(slash + 1);
    if (!base || !/^\d{1,2}$/.test(prefixText)) {
        throw new Error(`"${cidr}" is not a valid IPv4 CIDR`);
    }
    let net: Address4;
    try {
        net = new Address4(cidr);
    } catch (err) {
        throw new Error(`"${cidr}" is not a valid IPv4 CIDR: ${(err as Error).message}`);
    }
    if (net.subnetMask > 30) {
        throw new Error(`"${cidr}" is too small: a node subnet needs at least /30`);
    }
    const network = net.startAddress().correctForm();
    if (network !== base.correctForm()) {
        throw new Error(`"${cidr}" has host bits set; the network is ${network}/${net.subnetMask}`);
    }
    return {
        cidr: `${network}/${net.subnetMask}`,
        network,
        broadcast: net.endAddress().correctForm(),
        gateway: gateway ?? net.startAddress().offset(1).correctForm(),
        prefix: net.subnetMask,
    };
}

function toBig(address: string): bigint {
    const parsed = parseIPv4(address);
    if (!parsed) {
        throw new Error(`"${address}" is not an IPv4 address`);
    }
    return parsed.bigInt();
}

export function inSubnet(address: string, subnet: Subnet): boolean {
    const parsed = parseIPv4(address);
    return parsed !== undefined && parsed.isInSubnet(new Address4(subnet.cidr));
}

export function inRange(address: string, range: AddressRange): boolean {
    const a = toBig(address);
    return a >= toBig(range.start) && a <= toBig(range.end);
}

export function compareIPv4(a: string, b: string): number {
    const d = toBig(a) - toBig(b);
    return d < 0n ? -1 : d > 0n ? 1 : 0;
}

/**
 * Why `address` cannot be used as a host (node or VIP) address in `subnet`,
 * or undefined when it can. `what` names the address in the message.
 */
export function hostAddressProblem(address: string, subnet: Subnet): string | undefined {
    if (!isIPv4(address)) {
        return `"${address}" is not an IPv4 address`;
    }
    if (!inSubnet(address, subnet)) {
        return `${address} is outside the node subnet ${subnet.cidr}`;
    }
    if (address === subnet.network) {
        return `${address} is the network address of ${subnet.cidr}`;
    }
    if (address === subnet.broadcast) {
        return `${address} is the broadcast address of ${subnet.cidr}`;
    }
    if (address === subnet.gateway) {
        return `${address} is the gateway address of ${subnet.cidr}`;
    }
    return undefined;
}

/** Checks a DHCP range against the subnet: both ends inside, start <= end, gateway not leased. */
export function checkDhcpRange(range: AddressRange, subnet: Subnet, key: string): RuleViolation[] {
    const problems: RuleViolation[] = [];
    for (const end of ["start", "end"] as const) {
        const problem = hostAddressProblem(range[end], subnet);
        if (problem) {
            problems.push({ key: `${key}.${end}`, message: problem });
        }
    }
    if (problems.length === 0 && compareIPv4(range.start, range.end) > 0) {
        problems.push({ key, message: `start ${range.start} is after end ${range.end}` });
    }
    return problems;
}

export interface VipCheckInput {
    vip: string;
    subnet: Subnet;
    nodeIps: string[];
    dhcpRange?: AddressRange;
}

/** The reservation rules for a VIP that the user chose. Empty when it is usable. */
export function checkVip(input: VipCheckInput): string[] {
    const { vip, subnet, nodeIps, dhcpRange } = input;
    const problem = hostAddressProblem(vip, subnet);
    if (problem) {
        return [problem];
    }
    const problems: string[] = [];
    if (nodeIps.includes(vip)) {
        problems.push(`${vip} is already a node IP`);
    }
    if (dhcpRange && inRange(vip, dhcpRange)) {
        problems.push(`${vip} is inside the DHCP range ${dhcpRange.start}-${dhcpRange.end}, where a lease could take it`);
    }
    return problems;
}

/**
 * Picks a VIP when none is configured: the highest usable address of the subnet
 * that is outside the DHCP range, not the gateway, and not a node IP or next to
 * one (so nodes numbered upwards never run into it). Deterministic: the same
 * inputs always give the same address. Returns undefined when none is free.
 */
export function pickVip(subnet: Subnet, nodeIps: string[], dhcpRange?: AddressRange): string | undefined {
    const nodes = nodeIps.map(toBig);
    const network = toBig(subnet.network);
    for (let candidate = toBig(subnet.broadcast) - 1n; candidate > network; candidate--) {
        const text = Address4.fromBigInt(candidate).correctForm();
        if (dhcpRange && inRange(text, dhcpRange)) {
            candidate = toBig(dhcpRange.start); // skip the whole range at once
            continue;
        }
        if (text === subnet.gateway) {
            continue;
        }
        if (nodes.some((n) => n - candidate <= 1n && candidate - n <= 1n)) {
            continue;
        }
        return text;
    }
    return undefined;
}

// kube-vip's BGP mode: a router id per control-plane node (each is its own BGP speaker), the local AS,
// the peers, and the peers' passwords, which come from their own secret config key. Pure.
import { createHash } from "crypto";
import { isIPv4, RuleViolation } from "./vip";

/** Secret config key: peer address -> BGP (TCP MD5) password. */
export const BGP_PEER_PASSWORDS_SECRET = "bgpPeerPasswords";
const SECRET_KEY = `kubespray-ha:${BGP_PEER_PASSWORDS_SECRET}`;

/** An encrypted value read offline (render, plan): shown as `placeholder`, never checked. */
export interface OfflineSecret {
    placeholder: string;
}

/** `kubespray-ha:bgpPeerPasswords` as the caller read it. */
export interface BgpPeerPasswordsInput {
    /** Peer address -> password (or an OfflineSecret); an OfflineSecret for the whole key when it is one ciphertext. */
    passwords: Record<string, string | OfflineSecret> | OfflineSecret | unknown;
    /** True when it was set with `pulumi config set --secret` (refused otherwise: it would sit in Pulumi.<stack>.yaml in plain text). */
    secret: boolean;
}

export interface BgpPeer {
    address: string;
    as: number;
    /** From kubespray-ha:bgpPeerPasswords; secret (ClusterConfig.inventorySecrets names the key). */
    password?: string;
}

export interface BgpConfig {
    /** Control-plane node name -> kube_vip_bgp_routerid (a host var: each speaker needs its own). */
    routerIds: Record<string, string>;
    localAs: number;
    peers: BgpPeer[];
}

export interface BgpInput {
    mode: string;
    bgp?: { routerId?: string; localAs?: number; peers?: { address: string; as: number; password?: unknown }[] };
    nodes: readonly { name: string; ip: string; roles: readonly string[]; bgpRouterId?: string }[];
    passwords?: BgpPeerPasswordsInput;
}

const isSecure = (v: unknown): v is { secure: string } =>
    typeof v === "object" && v !== null && !Array.isArray(v) && Object.keys(v).length === 1 && typeof (v as { secure: unknown }).secure === "string";

/** The placeholder render and plan show for a ciphertext: a short hash of it, so a changed secret shows as changed. */
function placeholder(ciphertext: string): OfflineSecret {
    return { placeholder: `<secret sha256:${createHash("sha256").update(ciphertext).digest("hex").slice(0, 12)}>` };
}

/**
 * `kubespray-ha:bgpPeerPasswords` as a stack file holds it (render, plan: never decrypted). Per-peer
 * `secure:` values (`pulumi config set --secret --path 'kubespray-ha:bgpPeerPasswords["<address>"]'`)
 * keep the addresses visible; one `secure:` JSON object hides them. Plain values are passed on, marked not secret.
 */
export function stackFilePeerPasswords(value: unknown): BgpPeerPasswordsInput | undefined {
    if (value === undefined || value === null) return undefined;
    if (isSecure(value)) return { passwords: placeholder(value.secure), secret: true };
    if (typeof value !== "object" || Array.isArray(value)) return { passwords: value, secret: false };
    const entries = Object.entries(value as Record<string, unknown>);
    return {
        passwords: Object.fromEntries(entries.map(([k, v]) => [k, isSecure(v) ? placeholder(v.secure) : v])),
        secret: entries.every(([, v]) => isSecure(v)),
    };
}

function isOfflineSecret(v: unknown): v is OfflineSecret {
    return typeof v === "object" && v !== null && typeof (v as OfflineSecret).placeholder === "string";
}

/**
 * Why kube-vip cannot carry this password, or undefined. kube-vip's bgp_peers is
 * `address:AS:password:multihop[:port]` joined with ',' (and cut at '/'), so none of those may appear;
 * Linux TCP MD5 keys are at most 80 bytes (TCP_MD5SIG_MAXKEYLEN).
 */
function passwordProblem(pw: unknown): string | undefined {
    if (typeof pw !== "string") return "must be a string";
    if (pw.length === 0) return "is empty; leave the peer out of kubespray-ha:bgpPeerPasswords for no password";
    if (Buffer.byteLength(pw) > 80) return `is ${Buffer.byteLength(pw)} bytes; TCP MD5 keys are at most 80`;
    if (/[:,/\s]/.test(pw)) return "contains ':', ',', '/' or whitespace, which kube-vip's bgp_peers format (address:AS:password:multihop, comma-separated) cannot carry";
    return undefined;
}

/** Resolves the BGP settings (undefined outside BGP mode or on a problem, which goes to `problems`). */
export function resolveBgp(input: BgpInput, problems: RuleViolation[], warnings: RuleViolation[]): BgpConfig | undefined {
    const { mode, bgp, nodes, passwords } = input;
    nodes.forEach((n, i) => {
        if (n.bgpRouterId === undefined) return;
        if (mode !== "bgp") warnings.push({ key: `nodes[${i}].bgpRouterId`, message: `has no effect: vip.mode is ${mode}, not bgp` });
        else if (!n.roles.includes("control-plane")) warnings.push({ key: `nodes[${i}].bgpRouterId`, message: "has no effect: kube-vip runs on control-plane nodes only" });
    });
    if (mode !== "bgp") {
        if (bgp) problems.push({ key: "vip.bgp", message: `set, but vip.mode is ${mode}; set vip.mode: bgp or remove vip.bgp` });
        if (passwords !== undefined) problems.push({ key: SECRET_KEY, message: `set, but vip.mode is ${mode}; BGP peer passwords need vip.mode: bgp` });
        return undefined;
    }
    const before = problems.length;
    if (!bgp?.localAs) problems.push({ key: "vip.bgp.localAs", message: "required when vip.mode is bgp (kube_vip_local_as)" });
    const peers = bgp?.peers ?? [];
    if (peers.length === 0) problems.push({ key: "vip.bgp.peers", message: "at least one BGP peer {address, as} is required when vip.mode is bgp" });
    peers.forEach((p, i) => {
        if (p.password !== undefined) {
            problems.push({
                key: `vip.bgp.peers[${i}].password`,
                message: `would be stored in plain text in the stack file; set it as a secret instead: pulumi config set --secret --path '${SECRET_KEY}["${p.address}"]' <password>`,
            });
        }
    });

    // A router id identifies one BGP speaker: every control plane runs kube-vip and peers on its own.
    const controlPlanes = nodes.map((n, i) => ({ n, i })).filter(({ n }) => n.roles.includes("control-plane"));
    if (bgp?.routerId !== undefined && controlPlanes.length > 1) {
        problems.push({
            key: "vip.bgp.routerId",
            message: `one router id for ${controlPlanes.length} control-plane nodes: each is its own BGP speaker and needs its own; ` +
                "remove vip.bgp.routerId (each node then uses its ip) or set nodes[].bgpRouterId per control-plane node",
        });
    }
    const routerIds: Record<string, string> = {};
    const owner = new Map<string, string>();
    for (const { n, i } of controlPlanes) {
        const id = n.bgpRouterId ?? (controlPlanes.length === 1 ? bgp?.routerId : undefined) ?? n.ip;
        const other = owner.get(id);
        if (other !== undefined) {
            problems.push({ key: `nodes[${i}].bgpRouterId`, message: `${id} is also the router id of ${other}; each control plane needs its own` });
        }
        owner.set(id, n.name);
        routerIds[n.name] = id;
    }

    const byAddress = new Map(peers.map((p) => [p.address, p]));
    const resolvedPasswords = new Map<string, string>();
    if (passwords !== undefined) {
        if (!passwords.secret) {
            problems.push({
                key: SECRET_KEY,
                message: `is not a secret, so the passwords sit in plain text in Pulumi.<stack>.yaml; set each with pulumi config set --secret --path '${SECRET_KEY}["<peer address>"]' <password>`,
            });
        }
        const value = passwords.passwords;
        if (isOfflineSecret(value)) {
            // One ciphertext read offline: which peers have a password is unknown; every peer shows the placeholder.
            peers.forEach((p) => resolvedPasswords.set(p.address, value.placeholder));
        } else if (typeof value !== "object" || value === null || Array.isArray(value)) {
            problems.push({ key: SECRET_KEY, message: 'must be an object {"<peer address>": "<password>"}' });
        } else {
            for (const [address, pw] of Object.entries(value as Record<string, unknown>)) {
                const key = `${SECRET_KEY}["${address}"]`;
                if (!isIPv4(address) || !byAddress.has(address)) {
                    problems.push({ key, message: `${address} is not in vip.bgp.peers (${peers.map((p) => p.address).join(", ") || "none"})` });
                    continue;
                }
                if (isOfflineSecret(pw)) {
                    resolvedPasswords.set(address, pw.placeholder);
                    continue;
                }
                const why = passwordProblem(pw);
                if (why) problems.push({ key, message: `the password ${why}` });
                else resolvedPasswords.set(address, pw as string);
            }
        }
    }
    if (problems.length > before) return undefined;
    return {
        routerIds,
        localAs: bgp!.localAs!,
        peers: peers.map((p) => ({ address: p.address, as: p.as, ...(resolvedPasswords.has(p.address) ? { password: resolvedPasswords.get(p.address)! } : {}) })),
    };
}

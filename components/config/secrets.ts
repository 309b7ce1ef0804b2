// Secret values inside the stack config (`pulumi config set --secret --path 'cluster.groupVars.x'`):
// where they may be, and how the offline tools (render, plan) show them without ever holding the
// plaintext. The program itself gets them decrypted and keeps everything they reach secret
// (ClusterConfig.inventorySecrets); a secret anywhere the program cannot keep secret is refused.
import { createHash } from "crypto";
import { RuleViolation } from "./vip";

/** A `secure:` value as a stack file holds it (ciphertext). */
export interface SecureValue {
    secure: string;
}

/** One `secure:` leaf of the cluster config: its path (`groupVars.token`, `groupVars.list[0]`) and ciphertext. */
export interface SecureLeaf {
    path: string;
    ciphertext: string;
}

/** Config paths below which a secret value may stand: their values only reach the inventory, which then stays secret. */
export const SECRET_ALLOWED_UNDER = ["groupVars"] as const;

export function isSecureValue(value: unknown): value is SecureValue {
    return (
        value !== null &&
        typeof value === "object" &&
        !Array.isArray(value) &&
        Object.keys(value).length === 1 &&
        typeof (value as SecureValue).secure === "string"
    );
}

/** Every `secure:` leaf below `value`, in document order. */
export function secureLeaves(value: unknown, at = ""): SecureLeaf[] {
    if (isSecureValue(value)) return [{ path: at, ciphertext: value.secure }];
    if (Array.isArray(value)) return value.flatMap((v, i) => secureLeaves(v, `${at}[${i}]`));
    if (value !== null && typeof value === "object") {
        return Object.entries(value).flatMap(([k, v]) => secureLeaves(v, at === "" ? k : `${at}.${k}`));
    }
    return [];
}

/**
 * What the offline tools render instead of a secret: its path and a short hash of its ciphertext, so a
 * changed secret shows as a changed value in `npm run plan` while neither plaintext nor ciphertext appears.
 */
export function secretPlaceholder(leaf: SecureLeaf): string {
    const digest = createHash("sha256").update(leaf.ciphertext).digest("hex").slice(0, 12);
    return `<secret ${leaf.path}, ciphertext sha256:${digest}>`;
}

/** True for a placeholder secretPlaceholder made. */
export function isSecretPlaceholder(value: unknown): value is string {
    return typeof value === "string" && /^<secret [^,>]+, ciphertext sha256:[0-9a-f]{12}>$/.test(value);
}

/** `value` with every `secure:` leaf replaced by its placeholder. */
export function redactSecureLeaves(value: unknown, at = ""): unknown {
    if (isSecureValue(value)) return secretPlaceholder({ path: at, ciphertext: value.secure });
    if (Array.isArray(value)) return value.map((v, i) => redactSecureLeaves(v, `${at}[${i}]`));
    if (value !== null && typeof value === "object") {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactSecureLeaves(v, at === "" ? k : `${at}.${k}`)]));
    }
    return value;
}

/** True when a config path lies below one of SECRET_ALLOWED_UNDER. */
export function secretAllowedAt(path: string): boolean {
    return SECRET_ALLOWED_UNDER.some((root) => path.startsWith(`${root}.`) || path.startsWith(`${root}[`));
}

/** A problem for every secret path the program cannot keep secret (it would reach resource names, commands or plain outputs). */
export function secretPathProblems(paths: readonly string[]): RuleViolation[] {
    return paths
        .filter((p) => !secretAllowedAt(p))
        .map((key) => ({
            key,
            message: /^vip\.bgp\.peers\[\d+\]\.password$/.test(key)
                ? "must not be set here: BGP peer passwords go in the secret kubespray-ha:bgpPeerPasswords ({peer address: password})"
                : `must not be a secret: only ${SECRET_ALLOWED_UNDER.join(", ")} values may be (they reach only the inventory, which then stays secret); set it in plain text`,
        }));
}

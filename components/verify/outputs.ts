// What `npm run verify` checks against: the stack's outputs (`pulumi stack output --json --show-secrets`),
// the SSH settings of its config and the credentials of its exported kubeconfig. Pure: parses text,
// touches no network and no file.
import { parse } from "yaml";

/** A node as the `nodes` output lists it, with the address SSH reaches it on (`nodeSshAddresses`). */
export interface VerifyNode {
    name: string;
    roles: string[];
    ip: string;
    sshAddress: string;
}

/** The credentials and endpoint of the kubeconfig's current context. */
export interface KubeconfigCredentials {
    server: string;
    /** PEM of certificate-authority-data; absent: the system CAs. */
    ca?: string;
    /** PEM of client-certificate-data / client-key-data. */
    cert?: string;
    key?: string;
    token?: string;
}

/** Everything the checks need from the stack. */
export interface VerifyTarget {
    stack: string;
    vip: string;
    vipMode: string;
    apiServerUrl: string;
    nodes: VerifyNode[];
    kubeconfig: KubeconfigCredentials;
}

/** A stack output or kubeconfig that verify cannot work with; the message names the output. */
export class VerifyInputError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "VerifyInputError";
    }
}

const b64 = (v: unknown, what: string): string => {
    if (typeof v !== "string" || v.length === 0) throw new VerifyInputError(`the kubeconfig's ${what} is empty`);
    return Buffer.from(v, "base64").toString("utf8");
};

/**
 * The current context's cluster and user of a kubeconfig (the first ones when no current-context is set).
 * Only inline credentials (`*-data`, `token`) are read: the stack's kubeconfig carries them inline.
 */
export function parseKubeconfig(text: string): KubeconfigCredentials {
    let doc: any;
    try {
        doc = parse(text);
    } catch (err) {
        throw new VerifyInputError(`the kubeconfig output is not valid YAML: ${(err as Error).message}`);
    }
    if (!doc || typeof doc !== "object") throw new VerifyInputError("the kubeconfig output is empty");
    const contexts: any[] = Array.isArray(doc.contexts) ? doc.contexts : [];
    const clusters: any[] = Array.isArray(doc.clusters) ? doc.clusters : [];
    const users: any[] = Array.isArray(doc.users) ? doc.users : [];
    const ctx = contexts.find((c) => c?.name === doc["current-context"]) ?? contexts[0];
    const cluster = (ctx ? clusters.find((c) => c?.name === ctx.context?.cluster) : undefined) ?? clusters[0];
    const user = (ctx ? users.find((u) => u?.name === ctx.context?.user) : undefined) ?? users[0];
    if (!cluster?.cluster?.server) throw new VerifyInputError("the kubeconfig has no cluster with a server");
    const c = cluster.cluster;
    const u = user?.user ?? {};
    const creds: KubeconfigCredentials = { server: String(c.server) };
    if (c["certificate-authority-data"] !== undefined) creds.ca = b64(c["certificate-authority-data"], "certificate-authority-data");
    if (u["client-certificate-data"] !== undefined) creds.cert = b64(u["client-certificate-data"], "client-certificate-data");
    if (u["client-key-data"] !== undefined) creds.key = b64(u["client-key-data"], "client-key-data");
    if (typeof u.token === "string") creds.token = u.token;
    if (!creds.token && !(creds.cert && creds.key)) {
        throw new VerifyInputError("the kubeconfig's user has neither inline client-certificate-data/client-key-data nor a token");
    }
    return creds;
}

/** The JSON of `pulumi stack output --json --show-secrets` as verify's target. */
export function parseStackOutputs(json: string, stack: string): VerifyTarget {
    let out: Record<string, any>;
    try {
        out = JSON.parse(json);
    } catch (err) {
        throw new VerifyInputError(`pulumi stack output did not print JSON: ${(err as Error).message}`);
    }
    const need = (key: string) => {
        if (out[key] === undefined || out[key] === null) {
            throw new VerifyInputError(`stack ${stack} has no output "${key}": was \`pulumi up\` run (and did it finish)?`);
        }
        return out[key];
    };
    const kubeconfigText = need("kubeconfig");
    if (typeof kubeconfigText !== "string") {
        throw new VerifyInputError('the "kubeconfig" output is not a string (run pulumi stack output with --show-secrets)');
    }
    const sshAddresses: Record<string, string> = out.nodeSshAddresses ?? {};
    const nodes = (need("nodes") as any[]).map((n): VerifyNode => ({
        name: String(n.name),
        roles: Array.isArray(n.roles) ? n.roles.map(String) : [],
        ip: String(n.ip),
        sshAddress: String(sshAddresses[n.name] ?? n.ip),
    }));
    return {
        stack,
        vip: String(need("vip")),
        vipMode: String(out.vipMode ?? "arp"),
        apiServerUrl: String(need("apiServerUrl")),
        nodes,
        kubeconfig: parseKubeconfig(kubeconfigText),
    };
}

/** SSH settings from the stack's config (`pulumi config --json --show-secrets`). */
export interface SshSettings {
    user: string;
    port: number;
    /** The secret `kubespray-ha:sshPrivateKey`, if set. */
    privateKey?: string;
    /** `ssh.privateKeyPath`, if set (relative to the project directory). */
    privateKeyPath?: string;
}

/**
 * The SSH settings of `pulumi config --json --show-secrets`: user and port from `kubespray-ha:cluster`
 * (`defaults`: the program's own, from the parsed config), the key from the secret
 * `kubespray-ha:sshPrivateKey` or `ssh.privateKeyPath`.
 */
export function parseSshSettings(json: string, defaults: { user: string; port: number }): SshSettings {
    let cfg: Record<string, { value?: string; objectValue?: any; secret?: boolean }>;
    try {
        cfg = JSON.parse(json);
    } catch (err) {
        throw new VerifyInputError(`pulumi config did not print JSON: ${(err as Error).message}`);
    }
    const entry = cfg["kubespray-ha:cluster"];
    let cluster: any = entry?.objectValue;
    if (cluster === undefined && typeof entry?.value === "string") {
        try {
            cluster = JSON.parse(entry.value);
        } catch {
            cluster = undefined;
        }
    }
    const ssh = cluster?.ssh ?? {};
    const settings: SshSettings = {
        user: typeof ssh.user === "string" ? ssh.user : defaults.user,
        port: typeof ssh.port === "number" ? ssh.port : defaults.port,
    };
    const key = cfg["kubespray-ha:sshPrivateKey"]?.value;
    if (typeof key === "string" && key.length > 0) settings.privateKey = key;
    if (typeof ssh.privateKeyPath === "string") settings.privateKeyPath = ssh.privateKeyPath;
    if (!settings.privateKey && !settings.privateKeyPath) {
        throw new VerifyInputError("the stack has neither the secret kubespray-ha:sshPrivateKey nor ssh.privateKeyPath: verify cannot log in to the nodes");
    }
    return settings;
}

/** The raw `kubespray-ha:cluster` object of `pulumi config --json` (for the program's defaults), or undefined. */
export function rawClusterConfig(json: string): unknown {
    const entry = JSON.parse(json)["kubespray-ha:cluster"];
    if (entry?.objectValue !== undefined) return entry.objectValue;
    if (typeof entry?.value === "string") {
        try {
            return JSON.parse(entry.value);
        } catch {
            return undefined;
        }
    }
    return undefined;
}

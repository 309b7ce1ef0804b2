// The boundary where the stack config and its secrets enter the Pulumi program.
// Validation itself is pure (./config); this file only reads pulumi.Config, wraps
// secrets with pulumi.secret where they enter, and turns config errors into
// pulumi.RunError so `pulumi preview` fails before any resource is registered.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { BGP_PEER_PASSWORDS_SECRET, BgpPeerPasswordsInput } from "./bgp";
import { ClusterConfig, CONFIG_KEY, CONFIG_NAMESPACE, ConfigError, parseClusterConfig, SSH_PRIVATE_KEY_SECRET } from "./config";
import { readStackConfig } from "./stackfile";

export interface ProgramInputs {
    config: ClusterConfig;
    /** The SSH private key Ansible uses, always a secret. */
    sshPrivateKey: pulumi.Output<string>;
    /** The SSH public key installed on the nodes (undefined on hcloud with hcloud.sshKeyName). */
    sshPublicKey: string | undefined;
    /** `hcloud:token`, a secret; only on the hcloud backend. */
    hcloudToken?: pulumi.Output<string>;
}

export function expandHome(file: string): string {
    return file === "~" || file.startsWith("~/") ? path.join(os.homedir(), file.slice(1)) : file;
}

function readKeyFile(file: string, key: string): string {
    const resolved = expandHome(file);
    try {
        return fs.readFileSync(resolved, "utf8");
    } catch (err) {
        throw new ConfigError([{ key, message: `cannot read ${resolved}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` }]);
    }
}

/**
 * Paths inside `kubespray-ha:cluster` that hold secrets. Pulumi decrypts them and only says that the key
 * as a whole holds one; which paths do is read from the stack file (ciphertext only, never decrypted).
 * Without a readable stack file (config from Pulumi ESC, another directory) every groupVars value counts.
 */
export function clusterSecurePaths(stack: string, dir = process.cwd()): string[] {
    const key = `${CONFIG_NAMESPACE}:${CONFIG_KEY}`;
    // isConfigSecret is the SDK's own test (internal in 3.248; tests/config-secrets.test.ts pins it).
    const isSecret = (pulumi.runtime as unknown as { isConfigSecret?: (k: string) => boolean }).isConfigSecret;
    if (isSecret === undefined) throw new Error("@pulumi/pulumi has no runtime.isConfigSecret: cannot tell secret config values apart");
    if (!isSecret(key)) return [];
    try {
        const paths = readStackConfig(
            fs.readFileSync(path.join(dir, "Pulumi.yaml"), "utf8"),
            fs.readFileSync(path.join(dir, `Pulumi.${stack}.yaml`), "utf8"),
            stack,
        ).securePaths;
        if (paths.length > 0) return paths;
    } catch (err) {
        if (err instanceof Error && /must not be a secret/.test(err.message)) {
            throw new ConfigError([{ key, message: "must not be a secret as a whole: keep secrets in their own paths (`pulumi config set --secret --path 'cluster.groupVars.<name>'`)" }]);
        }
    }
    return ["groupVars.*"];
}

/**
 * The secret `kubespray-ha:bgpPeerPasswords`, plaintext for validation and rendering (ClusterConfig.inventorySecrets
 * then makes everything rendered secret), with whether it was set with --secret (a plain one is refused).
 */
function bgpPeerPasswords(cfg: pulumi.Config): BgpPeerPasswordsInput | undefined {
    const passwords = cfg.getObject<unknown>(BGP_PEER_PASSWORDS_SECRET);
    if (passwords === undefined) return undefined;
    // Internal in @pulumi/pulumi 3.248 (not in its .d.ts); missing -> assume secret (everything it reaches is wrapped anyway).
    const isSecret = (pulumi.runtime as unknown as { isConfigSecret?: (k: string) => boolean }).isConfigSecret;
    return { passwords, secret: isSecret === undefined || isSecret(`${CONFIG_NAMESPACE}:${BGP_PEER_PASSWORDS_SECRET}`) };
}

/** Reads and validates everything the program needs from config. Throws pulumi.RunError naming the key. */
export function loadProgramInputs(stack = pulumi.getStack()): ProgramInputs {
    try {
        const cfg = new pulumi.Config(CONFIG_NAMESPACE);
        const config = parseClusterConfig(cfg.getObject<unknown>(CONFIG_KEY), { stack, securePaths: clusterSecurePaths(stack), bgpPeerPasswords: bgpPeerPasswords(cfg) });
        // Valid but without effect on this backend or mode (config/no-effect.ts): said, not refused.
        for (const w of config.warnings) void pulumi.log.warn(`${CONFIG_NAMESPACE}:${CONFIG_KEY} ${w.key}: ${w.message}`);

        const secretKey = cfg.getSecret(SSH_PRIVATE_KEY_SECRET);
        const keyPath = config.ssh.privateKeyPath;
        if (secretKey !== undefined && keyPath !== undefined) {
            throw new ConfigError([{ key: "ssh.privateKeyPath", message: `set either ${CONFIG_NAMESPACE}:${SSH_PRIVATE_KEY_SECRET} (secret) or ssh.privateKeyPath, not both` }]);
        }
        if (secretKey === undefined && keyPath === undefined) {
            throw new ConfigError([{
                key: `${CONFIG_NAMESPACE}:${SSH_PRIVATE_KEY_SECRET}`,
                message: `missing SSH private key: \`pulumi config set --secret ${CONFIG_NAMESPACE}:${SSH_PRIVATE_KEY_SECRET} < key\` or set ssh.privateKeyPath`,
            }]);
        }
        const sshPrivateKey = secretKey ?? pulumi.secret(readKeyFile(keyPath!, "ssh.privateKeyPath"));
        const sshPublicKey = config.ssh.publicKey ?? (config.ssh.publicKeyPath ? readKeyFile(config.ssh.publicKeyPath, "ssh.publicKeyPath").trim() : undefined);

        let hcloudToken: pulumi.Output<string> | undefined;
        if (config.backend === "hcloud") {
            hcloudToken = new pulumi.Config("hcloud").getSecret("token");
            if (hcloudToken === undefined) {
                throw new ConfigError([{ key: "hcloud:token", message: "missing Hetzner Cloud API token: `pulumi config set --secret hcloud:token <token>`" }]);
            }
        }
        return { config, sshPrivateKey: pulumi.secret(sshPrivateKey), sshPublicKey, hcloudToken };
    } catch (err) {
        if (err instanceof ConfigError) {
            throw new pulumi.RunError(err.message);
        }
        throw err;
    }
}

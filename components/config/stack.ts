// The boundary where the stack config and its secrets enter the Pulumi program.
// Validation itself is pure (./config); this file only reads pulumi.Config, wraps
// secrets with pulumi.secret where they enter, and turns config errors into
// pulumi.RunError so `pulumi preview` fails before any resource is registered.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { ClusterConfig, CONFIG_KEY, CONFIG_NAMESPACE, ConfigError, parseClusterConfig, SSH_PRIVATE_KEY_SECRET } from "./config";

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

/** Reads and validates everything the program needs from config. Throws pulumi.RunError naming the key. */
export function loadProgramInputs(stack = pulumi.getStack()): ProgramInputs {
    try {
        const cfg = new pulumi.Config(CONFIG_NAMESPACE);
        const config = parseClusterConfig(cfg.getObject<unknown>(CONFIG_KEY), { stack });

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

// Reading a stack's config the way `pulumi` does, without the Pulumi CLI: from the
// text of Pulumi.yaml and Pulumi.<stack>.yaml. Used by `render` and `plan`, which
// must work offline. Secret (`secure:`) values are never decrypted here.
import { parse } from "yaml";
import { BGP_PEER_PASSWORDS_SECRET, BgpPeerPasswordsInput, stackFilePeerPasswords } from "./bgp";
import { CONFIG_KEY, CONFIG_NAMESPACE } from "./config";
import { redactSecureLeaves, secureLeaves } from "./secrets";

export const PROJECT_NAME = "kubespray-ha";

export interface StackFileConfig {
    /**
     * The raw `kubespray-ha:cluster` object (undefined when absent), each `secure:` leaf inside replaced by
     * a placeholder naming its path (config/secrets.ts): no ciphertext reaches a rendered file.
     */
    cluster: unknown;
    /** Paths inside `kubespray-ha:cluster` whose values are `secure:` (pass as ParseOptions.securePaths). */
    securePaths: string[];
    /** Config keys set in the stack file whose value is encrypted (`secure:`). */
    secretKeys: string[];
    /** `kubespray-ha:bgpPeerPasswords` with placeholders for its `secure:` values (pass as ParseOptions.bgpPeerPasswords). */
    bgpPeerPasswords?: BgpPeerPasswordsInput;
}

export function readStackConfig(projectYaml: string, stackYaml: string, stack: string): StackFileConfig {
    const project = parse(projectYaml) as { name?: string; config?: Record<string, unknown> } | null;
    if (project?.name !== PROJECT_NAME) {
        throw new Error(`Pulumi.yaml: project name is "${project?.name}", expected "${PROJECT_NAME}"`);
    }
    const stackDoc = (parse(stackYaml) ?? {}) as { config?: Record<string, unknown> };
    const config = stackDoc.config ?? {};
    const key = `${CONFIG_NAMESPACE}:${CONFIG_KEY}`;
    const projectDefault = project.config?.[key] ?? project.config?.[CONFIG_KEY];
    const defaultValue =
        projectDefault && typeof projectDefault === "object" && "default" in projectDefault
            ? (projectDefault as { default: unknown }).default
            : projectDefault;
    const secretKeys = Object.entries(config)
        .filter(([, v]) => v !== null && typeof v === "object" && "secure" in (v as object))
        .map(([k]) => k)
        .sort();
    if (secretKeys.includes(key)) {
        throw new Error(`Pulumi.${stack}.yaml: ${key} must not be a secret; keep secrets in their own keys`);
    }
    const cluster = config[key] ?? defaultValue;
    const bgpPeerPasswords = stackFilePeerPasswords(config[`${CONFIG_NAMESPACE}:${BGP_PEER_PASSWORDS_SECRET}`]);
    return { cluster: redactSecureLeaves(cluster), securePaths: secureLeaves(cluster).map((l) => l.path), secretKeys, bgpPeerPasswords };
}

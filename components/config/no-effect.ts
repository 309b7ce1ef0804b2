// Keys that are valid but do nothing on the chosen backend or mode: warnings, not errors (a config
// shared between stacks should still deploy). Only keys the user wrote count, never defaults. Pure.
import { RuleViolation } from "./vip";

type Raw = Record<string, unknown>;

const has = (obj: unknown, key: string): boolean => typeof obj === "object" && obj !== null && (obj as Raw)[key] !== undefined;

/** Per-node keys and the backend they belong to. */
const NODE_KEYS: Record<string, string> = {
    serverType: "hcloud", image: "hcloud", location: "hcloud",
    vcpus: "libvirt", memoryMiB: "libvirt", diskGiB: "libvirt",
};

/**
 * Warnings for keys of `raw` (the cluster object as written) that have no effect with this backend and
 * VIP mode. `raw` has passed the schema already.
 */
export function noEffectWarnings(raw: Raw, backend: string, mode: string): RuleViolation[] {
    const warnings: RuleViolation[] = [];
    const warn = (key: string, message: string) => warnings.push({ key, message });
    if (mode === "loadbalancer") {
        // The Hetzner Load Balancer holds the VIP; kube-vip is not deployed (kube_vip_enabled: false).
        const why = "has no effect: the Hetzner Load Balancer holds the VIP and kube-vip is not deployed";
        if (has(raw, "interface")) warn("interface", why);
        for (const k of ["servicesEnabled", "leaseDuration", "renewDeadline", "retryPeriod", "image"]) {
            if (has(raw.vip, k)) warn(`vip.${k}`, why);
        }
    }
    for (const section of ["hcloud", "libvirt"]) {
        if (backend !== section && has(raw, section)) warn(section, `has no effect: backend is ${backend}, the ${section} section is ignored`);
    }
    const nodes = Array.isArray(raw.nodes) ? raw.nodes : [];
    nodes.forEach((node, i) => {
        for (const [k, owner] of Object.entries(NODE_KEYS)) {
            if (owner !== backend && has(node, k)) warn(`nodes[${i}].${k}`, `has no effect: only the ${owner} backend reads it (backend is ${backend})`);
        }
    });
    const ssh = raw.ssh;
    if (backend === "libvirt" && has(ssh, "waitSeconds")) {
        warn("ssh.waitSeconds", "has no effect on libvirt: only baremetal and hcloud wait ssh.waitSeconds (libvirt: libvirt.bootTimeoutSeconds)");
    }
    for (const k of ["publicKey", "publicKeyPath"]) {
        if (!has(ssh, k)) continue;
        if (backend === "baremetal") warn(`ssh.${k}`, "has no effect on baremetal: the machines must already trust the key; nothing installs it");
        if (backend === "hcloud" && has(raw.hcloud, "sshKeyName")) warn(`ssh.${k}`, "is ignored: hcloud.sshKeyName names the existing Hetzner SSH key the servers get");
    }
    return warnings;
}

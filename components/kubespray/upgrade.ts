// Version changes through `pulumi up`, as Kubespray documents them in docs/operations/upgrades.md
// (v2.31.0; the same text in v2.25.1):
// - "Graceful upgrade": a kube_version change runs upgrade-cluster.yml (playbooks/upgrade_cluster.yml): etcd
//   first (install_etcd.yml), then the control planes one at a time (`serial: 1`, the control-plane role with
//   `upgrade_cluster_setup: true`, so `kubeadm upgrade` runs), each cordoned and drained before
//   (roles/upgrade/pre-upgrade: drain_nodes, drain_grace_period 300, drain_timeout 360s) and uncordoned after
//   (roles/upgrade/post-upgrade), then the network plugin, then the worker-only nodes in batches
//   (`serial: "{{ serial | default('20%') }}"`). cluster.yml alone is the "unsafe upgrade": without
//   `-e upgrade_cluster_setup=true` (the role default is false) it moves the kubelets but not the control plane.
// - "Multiple upgrades": "Do not skip minor releases (patches releases are ok) when upgrading--upgrade by one
//   tag at a time", for Kubernetes and for Kubespray's own tags; with kube_version unset, a new Kubespray tag
//   moves the cluster to that tag's default.
// What this module decides, from the versions a deployment recorded (UpgradeVersions, on the upgrade command's
// spec) and the config's: which version changes are refused at preview (versionChangeErrors), and what an
// upgrade-cluster.yml run does, step by step (upgradeSteps: the plan prints it, the command logs it). Pure.
import { major, minor, parse as parseVersion, SemVer } from "semver";
import { ClusterConfig } from "../config/config";
import { KUBESPRAY_VERSION_FACTS } from "../config/kubespray-versions";

/** Kubespray's defaults in roles/upgrade/pre-upgrade/defaults/main.yml (v2.25.1 and v2.31.0). */
export const DRAIN_DEFAULTS = { drain_nodes: true, drain_grace_period: 300, drain_timeout: "360s" } as const;
/** upgrade_cluster.yml's batch size for worker-only nodes when `-e serial=` is not given. */
export const DEFAULT_SERIAL = "20%";

/** The versions a deployment runs: what the upgrade command's spec records, and what the next one compares. */
export interface UpgradeVersions {
    /** kubesprayVersion, e.g. v2.31.0. */
    kubespray: string;
    /** The Kubernetes release the cluster runs, without a leading v: kubeVersion, or Kubespray's default. */
    kube: string;
    /** kubeVersion is set in the config (false: the cluster follows the Kubespray version's default). */
    pinned: boolean;
}

const bare = (v: string) => v.replace(/^v/, "");

function defaultKubeVersion(kubespray: string): string | undefined {
    const facts = (KUBESPRAY_VERSION_FACTS as Record<string, { defaultKubeVersion: string }>)[kubespray];
    return facts ? bare(facts.defaultKubeVersion) : undefined;
}

/** The versions this config deploys. */
export function upgradeVersions(config: Pick<ClusterConfig, "kubesprayVersion" | "kubeVersion">): UpgradeVersions {
    const kube = config.kubeVersion !== undefined ? bare(config.kubeVersion) : defaultKubeVersion(config.kubesprayVersion) ?? "unknown";
    return { kubespray: config.kubesprayVersion, kube, pinned: config.kubeVersion !== undefined };
}

/**
 * The versions an older spec (exported before specs recorded them) implies: its trigger `kube_version: X`
 * names a pinned version, or `kubespray-default`. The Kubespray version is then unknown.
 */
export function versionsFromTrigger(trigger: string | undefined): Partial<UpgradeVersions> {
    const v = /^kube_version: (.+)$/.exec(trigger ?? "")?.[1];
    if (v === undefined) return {};
    return v === "kubespray-default" ? { pinned: false } : { kube: bare(v), pinned: true };
}

function semver(v: string): SemVer | undefined {
    return parseVersion(bare(v)) ?? undefined;
}

/** The supported Kubespray tags, oldest first. */
function supportedTags(): string[] {
    return Object.keys(KUBESPRAY_VERSION_FACTS).sort((a, b) => semver(a)!.compare(semver(b)!));
}

/**
 * Why going from the deployed versions to the config's is refused: each message starts with the config key
 * (kubeVersion, kubesprayVersion) and says what to do instead. Empty: the change is one Kubespray supports.
 */
export function versionChangeErrors(before: Partial<UpgradeVersions>, after: UpgradeVersions): string[] {
    const errors: string[] = [];
    const ksChanged = before.kubespray !== undefined && before.kubespray !== after.kubespray;
    if (before.pinned === true && !after.pinned) {
        errors.push(
            `kubeVersion: removed (the cluster runs ${before.kube ?? "a pinned version"}): the cluster would move to Kubespray ${after.kubespray}'s default ` +
                `${after.kube} without a word in the config. Keep kubeVersion: ${before.kube ?? "<the running version>"}, or set the version to upgrade to.`,
        );
    } else if (before.pinned === false && !after.pinned && ksChanged) {
        const from = defaultKubeVersion(before.kubespray!);
        if (from !== after.kube) {
            errors.push(
                `kubesprayVersion: ${before.kubespray} -> ${after.kubespray} while kubeVersion is unset would move Kubernetes from ${from} (${before.kubespray}'s default) ` +
                    `to ${after.kube} (${after.kubespray}'s default). Pin kubeVersion: ${from} first (an \`up\` that runs nothing), then change one version at a time.`,
            );
        }
    }
    if (ksChanged) {
        const from = semver(before.kubespray!);
        const to = semver(after.kubespray);
        if (from && to && to.compare(from) < 0) {
            errors.push(`kubesprayVersion: ${before.kubespray} -> ${after.kubespray} is a downgrade; Kubespray does not downgrade a cluster. Keep kubesprayVersion: ${before.kubespray}.`);
        } else if (from && to && (major(to) !== major(from) || minor(to) > minor(from) + 1)) {
            const next = supportedTags().filter((t) => semver(t)!.compare(from) > 0 && major(semver(t)!) === major(from) && minor(semver(t)!) === minor(from) + 1);
            errors.push(
                `kubesprayVersion: ${before.kubespray} -> ${after.kubespray} skips Kubespray releases: Kubespray upgrades one tag at a time ` +
                    `(docs/operations/upgrades.md, "Multiple upgrades"), each with upgrade-cluster.yml from that tag's tree. ` +
                    (next.length > 0
                        ? `Go to ${next.join(" or ")} first.`
                        : `The next step is a v${major(from)}.${minor(from) + 1}.x tag, which this program does not support (it supports ${supportedTags().join(", ")}): ` +
                          `run the intermediate upgrades with Kubespray itself, then set kubesprayVersion and kubeVersion to what the cluster runs.`),
            );
        }
    }
    if (before.kube !== undefined && before.kube !== after.kube) {
        const from = semver(before.kube);
        const to = semver(after.kube);
        if (from && to && to.compare(from) < 0) {
            errors.push(
                `kubeVersion: ${before.kube} -> ${after.kube} is a downgrade; kubeadm and Kubespray only upgrade. Keep kubeVersion: ${before.kube}` +
                    (major(to) === major(from) && minor(to) === minor(from) ? " (a lower patch of the same minor is a downgrade too)." : "."),
            );
        } else if (from && to && (major(to) !== major(from) || minor(to) > minor(from) + 1)) {
            errors.push(
                `kubeVersion: ${before.kube} -> ${after.kube} skips Kubernetes ${major(from)}.${minor(from) + 1}: Kubernetes and Kubespray upgrade one minor at a time ` +
                    `("Do not skip minor releases", docs/operations/upgrades.md). Upgrade to a ${major(from)}.${minor(from) + 1}.x release first, then to ${after.kube}.`,
            );
        }
    }
    return errors;
}

/** What upgrade-cluster.yml does to these nodes, as its plays and roles do it. */
export interface UpgradeNodes {
    /** kube_control_plane, in inventory order: upgraded one at a time. */
    controlPlane: readonly string[];
    /** etcd members, upgraded first. */
    etcd: readonly string[];
    /** Worker-only nodes (kube_node:!kube_control_plane), in inventory order: upgraded in batches. */
    workers: readonly string[];
}

/** Ansible's batch size for `serial: "<n>%"` (or a number): a share of the hosts, rounded down, at least 1. */
export function batchSize(serial: string, hosts: number): number {
    const pct = /^(\d+(?:\.\d+)?)%$/.exec(serial);
    const n = pct ? Math.floor((hosts * Number(pct[1])) / 100) : Number.parseInt(serial, 10);
    return Math.max(1, Number.isFinite(n) ? Math.min(n, Math.max(hosts, 1)) : 1);
}

/** `-e serial=<v>` (or `--extra-vars serial=<v>`) in kubespray.extraArgs, else Kubespray's 20%. */
export function serialOf(extraArgs: readonly string[]): string {
    let found: string | undefined;
    extraArgs.forEach((a, i) => {
        const word = a === "-e" || a === "--extra-vars" ? extraArgs[i + 1] : /^(?:-e|--extra-vars=)(.*)$/.exec(a)?.[1];
        const m = /^serial=(\S+)$/.exec(word ?? "");
        if (m) found = m[1];
    });
    return found ?? DEFAULT_SERIAL;
}

/**
 * The steps of one upgrade-cluster.yml run to Kubernetes `to`, in the order its plays run them: the same
 * lines in the plan and in the upgrade command's log. Drain settings from groupVars (Kubespray's defaults
 * otherwise); the worker batch size from `-e serial=` in kubespray.extraArgs.
 */
export function upgradeSteps(
    to: string,
    nodes: UpgradeNodes,
    settings: { groupVars: Readonly<Record<string, unknown>>; extraArgs: readonly string[] },
    options: { workerNames?: boolean } = {},
): string[] {
    const gv = settings.groupVars;
    const drain = gv.drain_nodes === undefined ? DRAIN_DEFAULTS.drain_nodes : gv.drain_nodes === true || gv.drain_nodes === "true";
    const grace = gv.drain_grace_period ?? DRAIN_DEFAULTS.drain_grace_period;
    const timeout = gv.drain_timeout ?? DRAIN_DEFAULTS.drain_timeout;
    const each = drain
        ? `cordoned, drained (kubectl drain --grace-period ${String(grace)} --timeout ${String(timeout)}), upgraded, uncordoned`
        : "cordoned, upgraded without a drain (drain_nodes: false), uncordoned";
    const etcdThrottle = Math.floor(nodes.etcd.length / 2);
    const etcdVersion = gv.etcd_version === undefined ? `the etcd version Kubespray pins for Kubernetes ${minorOf(to)}` : `etcd_version ${String(gv.etcd_version)}`;
    const steps = [
        `upgrade-cluster.yml to Kubernetes ${to} (Kubespray docs/operations/upgrades.md, "Graceful upgrade"):`,
        `1. every node: preinstall checks, then the files and images of the new version downloaded (nothing restarted yet)`,
        `2. etcd on ${nodes.etcd.join(", ")} (install_etcd.yml): backed up; restarted only if its binary or settings change (${etcdVersion}), ` +
            `${etcdThrottle > 0 ? `at most ${etcdThrottle} member${etcdThrottle === 1 ? "" : "s"} at a time (roles/etcd/handlers: throttle members // 2)` : "in one step (a single member: the API pauses)"}`,
        `3. control planes one at a time (serial: 1), in inventory order: ${nodes.controlPlane.join(" -> ")}; each ${each}, with kubeadm upgrade (upgrade_cluster_setup: true)`,
        `4. the network plugin on every node (serial ${serialOf(settings.extraArgs)})`,
    ];
    const serial = serialOf(settings.extraArgs);
    if (options.workerNames === false) {
        // The command's log names no worker and no count: a worker added or removed must not change the
        // upgrade command (its inputs would differ, and Pulumi would update it).
        steps.push(`5. worker-only nodes, if any, in batches of ${serial} of them (serial), in inventory order; each ${each}`);
    } else if (nodes.workers.length > 0) {
        const size = batchSize(serial, nodes.workers.length);
        const batches: string[] = [];
        for (let i = 0; i < nodes.workers.length; i += size) batches.push(nodes.workers.slice(i, i + size).join(", "));
        steps.push(`5. worker-only nodes in batches of ${size} (serial ${serial}): ${batches.map((b) => `[${b}]`).join(" -> ")}; each ${each}`);
    } else {
        steps.push("5. no worker-only nodes");
    }
    return steps;
}

function minorOf(v: string): string {
    const s = semver(v);
    return s ? `${major(s)}.${minor(s)}` : v;
}

// The `offline` stack config: the files repo and the registry an air-gapped cluster pulls from, and
// per-artifact sha256 overrides. Schema and rules only (errors name the key);
// components/kubespray/offline.ts renders it into group_vars/all/offline.yml.
import { z } from "zod";
import { RuleViolation } from "./vip";

/**
 * The artifacts whose checksum Kubespray reads from one overridable role default, per version:
 * name -> `<name>_binary_checksum` or `<name>_archive_checksum` in
 * roles/kubespray_defaults/defaults/main/download.yml (v2.25.1: roles/kubespray-defaults/...).
 * tests/offline.test.ts compares these lists with the real trees.
 */
const CHECKSUM_ARTIFACTS: Record<string, { binary: string[]; archive: string[] }> = {
    "v2.25.1": {
        binary: ["etcd", "cni", "kubelet", "kubectl", "kubeadm", "yq", "calicoctl", "ciliumcli", "crictl", "runc", "crun", "kata_containers", "gvisor_runsc", "gvisor_containerd_shim", "skopeo"],
        archive: ["calico_crds", "crio", "cri_dockerd", "helm", "youki", "nerdctl", "krew", "containerd"],
    },
    "v2.31.0": {
        binary: ["etcd", "cni", "kubelet", "kubectl", "kubeadm", "yq", "calicoctl", "ciliumcli", "crictl", "runc", "crun", "kata_containers", "gvisor_runsc", "gvisor_containerd_shim", "skopeo"],
        archive: ["crio", "cri_dockerd", "helm", "youki", "nerdctl", "containerd", "containerd_static"],
    },
};

/** `offline.checksums` key -> the Kubespray variable it overrides, for a Kubespray version (empty for an unknown one). */
export function checksumVariables(kubesprayVersion: string): Record<string, string> {
    const artifacts = CHECKSUM_ARTIFACTS[kubesprayVersion] ?? { binary: [], archive: [] };
    const entries = [
        ...artifacts.binary.map((n) => [n, `${n}_binary_checksum`]),
        ...artifacts.archive.map((n) => [n, `${n}_archive_checksum`]),
    ];
    return Object.fromEntries(entries.sort(([a], [b]) => a.localeCompare(b)));
}

export const offlineSchema = z
    .object({
        /** files_repo: http(s) URL, no trailing slash; laid out as <host>/<upstream path> (dl.k8s.io/release/...). */
        filesRepo: z.string(),
        /** registry_host: host[:port]; every *_image_repo points here, images keep their upstream path. */
        registry: z.string(),
        /** Plain HTTP (or a certificate the nodes do not trust): containerd mirror entries with skip_verify. */
        registryInsecure: z.boolean().default(false),
        /** Per-artifact sha256 overrides (64 hex digits), e.g. { kubeadm: "0c04..." }. */
        checksums: z
            .record(z.string().regex(/^[0-9a-fA-F]{64}$/, "must be a sha256: 64 hex digits").transform((s) => s.toLowerCase()))
            .default({}),
    })
    .strict();

export type OfflineConfig = z.infer<typeof offlineSchema>;

const LABEL = "[A-Za-z0-9](?:[-A-Za-z0-9]{0,61}[A-Za-z0-9])?";
const HOST = `(?:${LABEL}(?:\\.${LABEL})*|\\[[0-9A-Fa-f:.]+\\])`;
const HOST_PORT = new RegExp(`^${HOST}(?::(\\d{1,5}))?$`);

function portProblem(port: string | undefined): string | undefined {
    return port !== undefined && (Number(port) < 1 || Number(port) > 65535) ? `port ${port} is not in 1-65535` : undefined;
}

function filesRepoProblem(value: string): string | undefined {
    const m = new RegExp(`^(https?)://(${HOST})(?::(\\d{1,5}))?(/[^\\s?#]*)?$`).exec(value);
    if (!m) {
        if (/^[a-z][a-z0-9+.-]*:\/\/[^/]*@/i.test(value)) return "credentials in the URL are not supported (they would be stored and shown in plain text)";
        if (/[?#]/.test(value)) return `"${value}" must not have a query or fragment`;
        return `"${value}" is not an http:// or https:// URL (e.g. http://10.0.0.5:8080)`;
    }
    if (value.endsWith("/")) return `"${value}" must not end with "/" (Kubespray appends /github.com/..., /dl.k8s.io/...)`;
    return portProblem(m[3]);
}

function registryProblem(value: string): string | undefined {
    if (/^[a-z]+:\/\//i.test(value)) return `"${value}" must be host[:port] without a scheme (set offline.registryInsecure for plain HTTP)`;
    const m = HOST_PORT.exec(value);
    if (!m) return `"${value}" is not host[:port] (e.g. 10.0.0.5:5000 or registry.example.com)`;
    return portProblem(m[1]);
}

/** Kubespray variables rendered from `offline` -> the config key that sets them. */
const OWNED: Record<string, string> = {
    files_repo: "offline.filesRepo",
    github_url: "offline.filesRepo",
    dl_k8s_io_url: "offline.filesRepo",
    storage_googleapis_url: "offline.filesRepo",
    get_helm_url: "offline.filesRepo",
    registry_host: "offline.registry",
    kube_image_repo: "offline.registry",
    gcr_image_repo: "offline.registry",
    docker_image_repo: "offline.registry",
    quay_image_repo: "offline.registry",
    github_image_repo: "offline.registry",
    local_path_provisioner_helper_image_repo: "offline.registry",
};

/** Rendered only with `registryInsecure: true`; otherwise they stay the user's (e.g. registry credentials). */
export const INSECURE_REGISTRY_VARS = ["containerd_registries_mirrors", "crio_insecure_registries", "docker_insecure_registries"] as const;

/** The config key that manages a Kubespray variable through `offline`, or undefined. */
export function offlineOwner(key: string, offline: OfflineConfig | undefined): string | undefined {
    if (OWNED[key]) return OWNED[key];
    for (const version of Object.keys(CHECKSUM_ARTIFACTS)) {
        const name = Object.entries(checksumVariables(version)).find(([, v]) => v === key)?.[0];
        if (name) return `offline.checksums.${name}`;
    }
    if (offline?.registryInsecure && (INSECURE_REGISTRY_VARS as readonly string[]).includes(key)) return "offline.registryInsecure";
    return undefined;
}

/** Every rule of `offline`, plus the groupVars keys it manages. */
export function offlineProblems(offline: OfflineConfig | undefined, kubesprayVersion: string, groupVarKeys: readonly string[]): RuleViolation[] {
    const problems: RuleViolation[] = [];
    for (const key of groupVarKeys) {
        const owner = offlineOwner(key, offline);
        if (owner) problems.push({ key: `groupVars.${key}`, message: `is managed by this program; set ${owner} instead` });
    }
    if (!offline) return problems;
    const files = filesRepoProblem(offline.filesRepo);
    if (files) problems.push({ key: "offline.filesRepo", message: files });
    const registry = registryProblem(offline.registry);
    if (registry) problems.push({ key: "offline.registry", message: registry });
    const known = checksumVariables(kubesprayVersion);
    for (const name of Object.keys(offline.checksums)) {
        if (!known[name]) {
            problems.push({
                key: `offline.checksums.${name}`,
                message: `Kubespray ${kubesprayVersion} has no ${name}_binary_checksum or ${name}_archive_checksum; known: ${Object.keys(known).join(", ")}`,
            });
        }
    }
    return problems;
}

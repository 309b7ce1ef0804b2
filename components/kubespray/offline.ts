// group_vars/all/offline.yml: the `offline` config as the variables Kubespray's offline docs name
// (docs/operations/offline-environment.md in v2.31.0, inventory/sample/group_vars/all/offline.yml
// in both versions). In group_vars/all because the download role and containerd run on every host,
// etcd-only hosts included, and group_vars/k8s_cluster does not reach those. Pure.
import { ClusterConfig, KubesprayVersion } from "../config/config";
import { checksumVariables } from "../config/offline";

/** Where the offline variables are rendered, inside the inventory dir. */
export const OFFLINE_VARS_FILE = "group_vars/all/offline.yml";

/** The upstream hosts Kubespray downloads files from; the files repo mirrors each as a top directory. */
export const FILES_REPO_HOSTS: Record<string, string> = {
    github_url: "github.com",
    dl_k8s_io_url: "dl.k8s.io",
    storage_googleapis_url: "storage.googleapis.com",
    get_helm_url: "get.helm.sh",
};

/** The image repo variables pointed at the registry, with Kubespray's defaults; images keep their upstream path (flannel/flannel). */
export const UPSTREAM_IMAGE_REPOS: Record<string, string> = {
    kube_image_repo: "registry.k8s.io",
    gcr_image_repo: "gcr.io",
    docker_image_repo: "docker.io",
    quay_image_repo: "quay.io",
    github_image_repo: "ghcr.io",
};

/**
 * How a checksum override is written: v2.25.1's tables and get_url call take the bare hex
 * (`'sha256:' + download.sha256`), v2.31.0's carry the `sha256:` prefix (`checksum: download.checksum`).
 */
export function checksumValue(version: KubesprayVersion, sha256: string): string {
    return version === "v2.25.1" ? sha256 : `sha256:${sha256}`;
}

/** The variables of group_vars/all/offline.yml, or undefined when `offline` is not configured. */
export function offlineVars(config: ClusterConfig): Record<string, unknown> | undefined {
    const offline = config.offline;
    if (!offline) return undefined;
    const vars: Record<string, unknown> = {
        files_repo: offline.filesRepo,
        registry_host: offline.registry,
        // The same templates as Kubespray's docs: the layout is <files_repo>/<upstream host>/<upstream path>.
        ...Object.fromEntries(Object.entries(FILES_REPO_HOSTS).map(([v, host]) => [v, `{{ files_repo }}/${host}`])),
        ...Object.fromEntries(Object.keys(UPSTREAM_IMAGE_REPOS).map((v) => [v, "{{ registry_host }}"])),
        // The local-path provisioner's helper pod image is not one of the *_image_repo ones.
        local_path_provisioner_helper_image_repo: "{{ registry_host }}/busybox",
    };
    if (offline.registryInsecure) {
        // containerd: certs.d/<registry>/hosts.toml (v2.31.0) or config.toml mirrors (v2.25.1), both from this list.
        vars.containerd_registries_mirrors = [
            { prefix: offline.registry, mirrors: [{ host: `http://${offline.registry}`, capabilities: ["pull", "resolve"], skip_verify: true }] },
        ];
        vars.crio_insecure_registries = [offline.registry];
        vars.docker_insecure_registries = [offline.registry];
    }
    const names = checksumVariables(config.kubesprayVersion);
    for (const [name, sha256] of Object.entries(offline.checksums)) {
        vars[names[name]] = checksumValue(config.kubesprayVersion, sha256);
    }
    return vars;
}

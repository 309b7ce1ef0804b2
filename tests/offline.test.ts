// Air-gapped installs: the `offline` config (rules naming their keys), group_vars/all/offline.yml for
// each Kubespray version, and, with the REAL Kubespray trees (tests/infra/kubespray.sh) and real
// Ansible, that Kubespray turns the rendered inventory into mirror URLs and image names for every
// artifact it would fetch; plus `npm run offline-list`, compared with the test mirror's manifests
// (tests/infra/build-mirror.sh: Kubernetes 1.35.4 and the upgrade test's 1.34.2) when that mirror is built.
// Without a tree or its venv: the real-Ansible parts skip with the reason printed (fail under CI).
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { parse, stringify } from "yaml";
import { ConfigError, KUBESPRAY_VERSIONS, parseClusterConfig } from "../components/config/config";
import { checksumVariables } from "../components/config/offline";
import { renderInventory, renderTimeMachines } from "../components/kubespray/inventory";
import { FILES_REPO_HOSTS, OFFLINE_VARS_FILE, UPSTREAM_IMAGE_REPOS } from "../components/kubespray/offline";
import { inventoryArchive, kubesprayCommandSpecs } from "../components/kubespray/playbook";
import { BillOfMaterials, billOfMaterials, evaluateDownloads, evaluationHosts } from "../components/review/offline-list";
import { runOfflineList } from "../scripts/offline-list";
import { baremetalRaw } from "./fixtures";
import { MIRROR_ETCD, MIRROR_K8S, MIRROR_SETS, MirrorManifest, mirrorDir as testMirrorDir } from "./helpers/mirror";
import { requireOrSkip } from "./helpers/real-tests";
import { tempDirs } from "./helpers/tmp";

jest.setTimeout(900_000);

const ROOT = path.join(__dirname, "..");
const tmp = tempDirs();
const FILES_REPO = "http://10.250.0.1:8080";
const REGISTRY = "10.250.0.1:5000";
const SHA_A = "a".repeat(64);
const SHA_B = "b".repeat(64);

const parseConfig = (raw: unknown) => parseClusterConfig(raw, { stack: "test" });

/** The problems a raw config fails with (none: []). */
function problemsOf(raw: unknown): { key: string; message: string }[] {
    try {
        parseConfig(raw);
        return [];
    } catch (err) {
        if (err instanceof ConfigError) return err.problems;
        throw err;
    }
}

function withOffline(offline: Record<string, unknown>, version = "v2.31.0"): any {
    return { ...baremetalRaw(), kubesprayVersion: version, offline: { filesRepo: FILES_REPO, registry: REGISTRY, ...offline } };
}

/**
 * The test stack of ../shared/REAL-CLUSTER.md: containerd, flannel, kube-vip ARP, etcd on the hosts, no DNS
 * autoscaler, no nodelocaldns, helm/metrics-server/ingress off; crictl 1.34.0 on v2.31.0.
 */
function testStack(version: string, checksums: Record<string, string> = {}): any {
    return {
        ...baremetalRaw(),
        kubesprayVersion: version,
        interface: "host0",
        kubeProxyMode: "iptables",
        groupVars: {
            kube_network_plugin: "flannel",
            container_manager: "containerd",
            etcd_deployment_type: "host",
            enable_dns_autoscaler: false,
            enable_nodelocaldns: false,
            helm_enabled: false,
            metrics_server_enabled: false,
            ingress_nginx_enabled: false,
            ...(version === "v2.31.0" ? { crictl_version: "1.34.0" } : {}),
        },
        offline: { filesRepo: FILES_REPO, registry: REGISTRY, registryInsecure: true, checksums },
    };
}

/** Many add-ons on, etcd in containers, dedicated workers: more of Kubespray's downloads enabled. */
function broadStack(version: string, groupVars: Record<string, unknown> = {}): any {
    return {
        ...testStack(version),
        nodes: [
            { name: "cp1", ip: "10.250.0.11", roles: ["control-plane", "etcd"] },
            { name: "cp2", ip: "10.250.0.12", roles: ["control-plane", "etcd"] },
            { name: "cp3", ip: "10.250.0.13", roles: ["control-plane", "etcd"] },
            { name: "w1", ip: "10.250.0.21", roles: ["worker"] },
        ],
        groupVars: {
            kube_network_plugin: "calico",
            etcd_deployment_type: "kubeadm",
            helm_enabled: true,
            metrics_server_enabled: true,
            local_path_provisioner_enabled: true,
            cert_manager_enabled: true,
            registry_enabled: true,
            enable_nodelocaldns: true,
            ...groupVars,
        },
    };
}

// ---------------------------------------------------------------------------------------------
describe("offline config", () => {
    it("accepts the documented shape and fills the defaults", () => {
        const config = parseConfig(withOffline({ checksums: { kubeadm: SHA_A.toUpperCase() } }));
        expect(config.offline).toEqual({ filesRepo: FILES_REPO, registry: REGISTRY, registryInsecure: false, checksums: { kubeadm: SHA_A } });
        expect(parseConfig(baremetalRaw()).offline).toBeUndefined();
        for (const ok of ["https://mirror.example.com/kubespray", "http://[fd00::5]:8080"]) {
            expect(problemsOf(withOffline({ filesRepo: ok }))).toEqual([]);
        }
        for (const ok of ["registry.example.com", "[fd00::5]:5000", "localhost:5000"]) {
            expect(problemsOf(withOffline({ registry: ok }))).toEqual([]);
        }
    });

    it.each([
        ["offline.filesRepo", { filesRepo: "http://10.0.0.5:8080/" }, /must not end with "\/"/],
        ["offline.filesRepo", { filesRepo: "ftp://10.0.0.5" }, /not an http:\/\/ or https:\/\/ URL/],
        ["offline.filesRepo", { filesRepo: "10.0.0.5:8080" }, /not an http:\/\/ or https:\/\/ URL/],
        ["offline.filesRepo", { filesRepo: "https://user:pw@mirror.example.com" }, /credentials/],
        ["offline.filesRepo", { filesRepo: "http://10.0.0.5:8080/?x=1" }, /query or fragment/],
        ["offline.filesRepo", { filesRepo: "http://10.0.0.5:99999" }, /port 99999/],
        ["offline.registry", { registry: "http://10.0.0.5:5000" }, /without a scheme/],
        ["offline.registry", { registry: "10.0.0.5:5000/path" }, /not host\[:port\]/],
        ["offline.registry", { registry: "10.0.0.5:0" }, /port 0/],
        ["offline.checksums.kubeadm", { checksums: { kubeadm: "sha256:" + SHA_A } }, /64 hex digits/],
        ["offline.checksums.kubeadm", { checksums: { kubeadm: "abc" } }, /64 hex digits/],
        ["offline.checksums.kubeadmm", { checksums: { kubeadmm: SHA_A } }, /Kubespray v2\.31\.0 has no kubeadmm_binary_checksum or kubeadmm_archive_checksum; known: .*kubeadm/],
        ["offline.registryInsecure", { registryInsecure: "yes" }, /boolean/],
        ["offline.mirror", { mirror: "x" }, /Unrecognized key/],
    ])("%s: %j is refused", (key, offline, reason) => {
        const problems = problemsOf(withOffline(offline));
        const hit = problems.find((p) => p.key === key || (key === "offline.mirror" && p.key === "offline"));
        expect(hit ? `${hit.key}: ${hit.message}` : JSON.stringify(problems)).toMatch(reason);
    });

    it("requires filesRepo and registry", () => {
        const keys = problemsOf({ ...baremetalRaw(), offline: {} }).map((p) => p.key);
        expect(keys).toEqual(expect.arrayContaining(["offline.filesRepo", "offline.registry"]));
    });

    it("knows the checksum keys of the selected Kubespray version", () => {
        expect(problemsOf(withOffline({ checksums: { krew: SHA_A } }, "v2.25.1"))).toEqual([]);
        expect(problemsOf(withOffline({ checksums: { krew: SHA_A } }, "v2.31.0")).map((p) => p.key)).toEqual(["offline.checksums.krew"]);
        expect(problemsOf(withOffline({ checksums: { containerd_static: SHA_A } }, "v2.31.0"))).toEqual([]);
        expect(problemsOf(withOffline({ checksums: { containerd_static: SHA_A } }, "v2.25.1")).map((p) => p.key)).toEqual(["offline.checksums.containerd_static"]);
    });

    it("refuses the variables it manages in groupVars, naming the offline key to set", () => {
        const refused = (groupVars: Record<string, unknown>, offline?: Record<string, unknown>) =>
            problemsOf({ ...(offline ? withOffline(offline) : baremetalRaw()), groupVars }).map((p) => `${p.key}: ${p.message}`);
        expect(refused({ files_repo: "http://x" })).toEqual(["groupVars.files_repo: is managed by this program; set offline.filesRepo instead"]);
        expect(refused({ github_url: "http://x" })).toEqual(["groupVars.github_url: is managed by this program; set offline.filesRepo instead"]);
        expect(refused({ quay_image_repo: "x" })).toEqual(["groupVars.quay_image_repo: is managed by this program; set offline.registry instead"]);
        expect(refused({ kubeadm_binary_checksum: "x" })).toEqual(["groupVars.kubeadm_binary_checksum: is managed by this program; set offline.checksums.kubeadm instead"]);
        expect(refused({ nerdctl_archive_checksum: "x" })).toEqual(["groupVars.nerdctl_archive_checksum: is managed by this program; set offline.checksums.nerdctl instead"]);
        // Only rendered for an insecure registry; otherwise the user's (e.g. with registry credentials).
        expect(refused({ containerd_registries_mirrors: [] })).toEqual([]);
        expect(refused({ containerd_registries_mirrors: [] }, { registryInsecure: false })).toEqual([]);
        expect(refused({ containerd_registries_mirrors: [] }, { registryInsecure: true })).toEqual([
            "groupVars.containerd_registries_mirrors: is managed by this program; set offline.registryInsecure instead",
        ]);
    });
});

// ---------------------------------------------------------------------------------------------
describe("group_vars/all/offline.yml", () => {
    const render = (raw: unknown) => {
        const config = parseConfig(raw);
        return renderInventory(config, renderTimeMachines(config));
    };

    it("is rendered only with offline, into group_vars/all (etcd-only hosts are not in k8s_cluster)", () => {
        expect(Object.keys(render(baremetalRaw()))).not.toContain(OFFLINE_VARS_FILE);
        const files = render(withOffline({}));
        expect(OFFLINE_VARS_FILE).toBe("group_vars/all/offline.yml");
        expect(Object.keys(files)).toEqual([...Object.keys(files)].sort((a, b) => a.localeCompare(b)));
        expect(render(withOffline({}))).toEqual(files);
    });

    it.each([...KUBESPRAY_VERSIONS])("%s: the variables of Kubespray's offline docs, checksums in the version's form", (version) => {
        const vars = parse(render(withOffline({ registryInsecure: true, checksums: { kubeadm: SHA_A, containerd: SHA_B } }, version))[OFFLINE_VARS_FILE]);
        const prefix = version === "v2.25.1" ? "" : "sha256:";
        expect(vars).toEqual({
            files_repo: FILES_REPO,
            registry_host: REGISTRY,
            github_url: "{{ files_repo }}/github.com",
            dl_k8s_io_url: "{{ files_repo }}/dl.k8s.io",
            storage_googleapis_url: "{{ files_repo }}/storage.googleapis.com",
            get_helm_url: "{{ files_repo }}/get.helm.sh",
            kube_image_repo: "{{ registry_host }}",
            gcr_image_repo: "{{ registry_host }}",
            docker_image_repo: "{{ registry_host }}",
            quay_image_repo: "{{ registry_host }}",
            github_image_repo: "{{ registry_host }}",
            local_path_provisioner_helper_image_repo: "{{ registry_host }}/busybox",
            containerd_registries_mirrors: [{ prefix: REGISTRY, mirrors: [{ host: `http://${REGISTRY}`, capabilities: ["pull", "resolve"], skip_verify: true }] }],
            crio_insecure_registries: [REGISTRY],
            docker_insecure_registries: [REGISTRY],
            kubeadm_binary_checksum: `${prefix}${SHA_A}`,
            containerd_archive_checksum: `${prefix}${SHA_B}`,
        });
    });

    it("reaches `pulumi up`: the inventory command writes it, and a change of it triggers cluster.yml", () => {
        const config = parseConfig(withOffline({}));
        const machines = renderTimeMachines(config);
        const archive = inventoryArchive(config, machines);
        expect(archive).toMatch(/^mkdir -p "\$KHA_INVENTORY"\/group_vars\/all$/m);
        expect(archive).toMatch(/^cat > "\$KHA_INVENTORY"\/group_vars\/all\/offline\.yml <<'KHA_EOF_0'$/m);
        const cluster = (raw: unknown) => kubesprayCommandSpecs(parseConfig(raw), machines).find((s) => s.id === "cluster")!.triggers;
        const before = cluster(withOffline({}));
        const after = cluster(withOffline({ registry: "10.250.0.2:5000" }));
        expect(after.filter((t) => !before.includes(t))).toEqual([expect.stringMatching(/^group_vars\/all\/offline\.yml: sha256:/)]);
    });

    it("leaves the registry mirrors alone for a trusted HTTPS registry", () => {
        const vars = parse(render(withOffline({ registryInsecure: false }))[OFFLINE_VARS_FILE]);
        expect(Object.keys(vars)).not.toEqual(expect.arrayContaining(["containerd_registries_mirrors"]));
        expect(vars).not.toHaveProperty("crio_insecure_registries");
    });
});

// ---------------------------------------------------------------------------------------------
// The real trees and real Ansible.

function kubespray(version: string): { tree: string; bin: string } | { reason: string } {
    const script = path.join(ROOT, "tests", "infra", "kubespray.sh");
    if (!fs.existsSync(script)) return { reason: "tests/infra/kubespray.sh is missing" };
    const r = spawnSync(script, [version], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    if (r.status !== 0) {
        return { reason: `tests/infra/kubespray.sh ${version} failed (${r.status ?? r.signal}): ${(r.stderr ?? "").trim().split("\n").slice(-5).join(" | ")}` };
    }
    const [tree, bin] = r.stdout.trim().split("\n");
    return { tree, bin };
}

function skipOrFail(what: string, reason: string): void {
    requireOrSkip(`${what} of tests/offline.test.ts`, reason, what);
}

function bomOf(raw: unknown, tree: string, ansiblePlaybook: string): BillOfMaterials {
    const config = parseConfig(raw);
    return billOfMaterials(config, evaluateDownloads(config, { kubesprayDir: tree, ansiblePlaybook }), tree);
}

/** Every artifact on the mirror, laid out as <upstream host>/<upstream path>; images keep their upstream path. */
function expectAllMirrored(bom: BillOfMaterials): void {
    expect(bom.warnings).toEqual([]);
    expect(bom.files.length).toBeGreaterThan(0);
    expect(bom.images.length).toBeGreaterThan(0);
    for (const f of bom.files) {
        expect(f.url.startsWith(`${FILES_REPO}/`) ? f.url : `not on the files repo: ${f.url}`).toBe(`${FILES_REPO}/${f.path}`);
        expect(f.upstreamUrl).toBe(`https://${f.path}`);
        expect(Object.values(FILES_REPO_HOSTS)).toContain(f.path.split("/")[0]);
    }
    for (const i of bom.images) {
        expect(i.image.startsWith(`${REGISTRY}/`) ? i.image : `not on the registry: ${i.image}`).toBe(`${REGISTRY}/${i.path}:${i.tag}`);
        expect(i.upstream.replace(/^[^/]+\//, "")).toBe(`${i.path}:${i.tag}`);
    }
}

const trees = new Map(KUBESPRAY_VERSIONS.map((v) => [v, kubespray(v)] as const));

for (const version of KUBESPRAY_VERSIONS) {
    const found = trees.get(version)!;
    if ("reason" in found) {
        skipOrFail(`the real Kubespray ${version} offline checks`, found.reason);
        continue;
    }
    const { tree, bin } = found;
    const ansiblePlaybook = path.join(bin, "ansible-playbook");

    describe(`real Kubespray ${version} with the rendered offline.yml`, () => {
        const downloadYml = fs.readFileSync(
            path.join(tree, "roles", version === "v2.25.1" ? "kubespray-defaults" : "kubespray_defaults", "defaults", "main", "download.yml"),
            "utf8",
        );

        it("has exactly the <name>_binary_checksum / <name>_archive_checksum defaults offline.checksums accepts", () => {
            const inTree = [...downloadYml.matchAll(/^([a-z_]+_(?:binary|archive)_checksum):/gm)].map((m) => m[1]).sort();
            expect(Object.values(checksumVariables(version)).sort()).toEqual(inTree);
        });

        it("defines every variable offline.yml renders, with the upstream defaults offline-list assumes", () => {
            const defaults = parse(downloadYml) as Record<string, unknown>;
            for (const [v, host] of Object.entries(FILES_REPO_HOSTS)) expect([v, defaults[v]]).toEqual([v, `https://${host}`]);
            for (const [v, repo] of Object.entries(UPSTREAM_IMAGE_REPOS)) expect([v, defaults[v]]).toEqual([v, repo]);
            const config = parseConfig(withOffline({ registryInsecure: true, checksums: { kubeadm: SHA_A } }, version));
            const rendered = Object.keys(parse(renderInventory(config, renderTimeMachines(config))[OFFLINE_VARS_FILE]));
            const grep = spawnSync("grep", ["-rhoE", "--include=*.yml", "^[a-z0-9_]+:", path.join(tree, "roles")], { encoding: "utf8" });
            const defined = new Set(grep.stdout.split("\n").map((l) => l.replace(/:$/, "")));
            // files_repo and registry_host are the docs' own inputs: no role defines them, the others use them.
            expect(rendered.filter((v) => !defined.has(v) && v !== "files_repo" && v !== "registry_host")).toEqual([]);
        });

        it("derives mirror URLs and image names for every download of the test stack, with the overridden checksums", () => {
            const bom = bomOf(testStack(version, { kubeadm: SHA_A, containerd: SHA_B }), tree, ansiblePlaybook);
            expectAllMirrored(bom);
            expect(bom.files.map((f) => f.name).sort()).toEqual(["cni", "containerd", "crictl", "etcd", "kubeadm", "kubectl", "kubelet", "nerdctl", "runc"]);
            // v2.25.1 downloads the DNS autoscaler's image whatever enable_dns_autoscaler says (its own `enabled`).
            expect(bom.images.map((i) => i.name).sort()).toEqual([
                "coredns", ...(version === "v2.25.1" ? ["dnsautoscaler"] : []), "flannel", "flannel_init", "kube-vip", "kubeadm_kube_apiserver",
                "kubeadm_kube_controller_manager", "kubeadm_kube_proxy", "kubeadm_kube_scheduler", "pod_infra",
            ]);
            expect(bom.files.find((f) => f.name === "kubeadm")!.sha256).toBe(SHA_A);
            expect(bom.files.find((f) => f.name === "containerd")!.sha256).toBe(SHA_B);
            expect(bom.files.find((f) => f.name === "kubelet")!.sha256).toMatch(/^[0-9a-f]{64}$/);
            if (version === "v2.31.0") {
                expect(bom.files.find((f) => f.name === "crictl")!.path).toBe("github.com/kubernetes-sigs/cri-tools/releases/download/v1.34.0/crictl-v1.34.0-linux-amd64.tar.gz");
            }
        });

        it.each([
            ["calico, etcd in containers, helm, metrics-server, local-path, cert-manager, registry, nodelocaldns", {}],
            ["cri-o", { container_manager: "crio", kube_network_plugin: "flannel" }],
            ["docker", { container_manager: "docker", kube_network_plugin: "flannel", etcd_deployment_type: "docker" }],
        ])("mirrors everything with %s", (_what, groupVars) => {
            const bom = bomOf(broadStack(version, groupVars), tree, ansiblePlaybook);
            expectAllMirrored(bom);
            expect(bom.hosts.map((h) => h.name)).toEqual(["cp1", "w1"]);
        });

        it("writes containerd's hosts.toml for the insecure registry: http:// host, skip_verify", () => {
            const config = parseConfig(testStack(version));
            const dir = tmp(`kha-offline-hosts-${version}-`);
            const inventory = path.join(dir, "inventory");
            for (const [file, content] of Object.entries(renderInventory(config, renderTimeMachines(config)))) {
                fs.mkdirSync(path.dirname(path.join(inventory, file)), { recursive: true });
                fs.writeFileSync(path.join(inventory, file), content);
            }
            const template = path.join(tree, "roles", "container-engine", "containerd", "templates", "hosts.toml.j2");
            fs.writeFileSync(path.join(dir, "hosts.yml"), stringify([{
                hosts: evaluationHosts(config)[0],
                connection: "local",
                gather_facts: false,
                vars: { ansible_python_interpreter: "{{ ansible_playbook_python }}" },
                tasks: [{
                    copy: { dest: `${dir}/{{ item.prefix }}.toml`, content: `{{ lookup('template', '${template}') }}`, mode: "0600" },
                    loop: "{{ containerd_registries_mirrors }}",
                }],
            }]));
            const r = spawnSync(ansiblePlaybook, ["-i", path.join(inventory, "hosts.yaml"), path.join(dir, "hosts.yml")], { cwd: dir, encoding: "utf8" });
            expect(r.status === 0 ? "" : r.stdout + r.stderr).toBe("");
            const toml = fs.readFileSync(path.join(dir, `${REGISTRY}.toml`), "utf8");
            expect(toml).toMatch(new RegExp(`^server = "https://${REGISTRY}"$`, "m"));
            expect(toml).toMatch(new RegExp(`^\\[host\\."http://${REGISTRY}"\\]\\n {2}capabilities = \\["pull","resolve"\\]\\n {2}skip_verify = true$`, "m"));
        });
    });
}

// ---------------------------------------------------------------------------------------------
describe("npm run offline-list", () => {
    const project = (cluster: unknown, stack = "test"): string => {
        const dir = tmp("kha-offline-list-");
        fs.copyFileSync(path.join(ROOT, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
        fs.writeFileSync(path.join(dir, `Pulumi.${stack}.yaml`), stringify({ config: { "kubespray-ha:cluster": cluster } }));
        return dir;
    };
    const run = (args: string[]) => {
        let stdout = "";
        let stderr = "";
        const code = runOfflineList(args, { cwd: ROOT, stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
        return { code, stdout, stderr };
    };

    it("fails naming kubespray.dir when no Kubespray tree is there", () => {
        const empty = tmp("kha-no-kubespray-");
        const dir = project({ ...testStack("v2.31.0"), kubespray: { dir: empty } });
        const res = run(["--stack", "test", "--dir", dir]);
        expect(res.code).toBe(1);
        expect(res.stdout).toBe("");
        expect(res.stderr).toMatch(new RegExp(`kubespray\\.dir: ${empty} is not a Kubespray checkout \\(no galaxy\\.yml\\)`));
    });

    it("refuses a tree of another Kubespray version, naming kubespray.dir", () => {
        const found = trees.get("v2.25.1")!;
        if ("reason" in found) return;
        const res = run(["--stack", "test", "--dir", project({ ...testStack("v2.31.0"), kubespray: { dir: found.tree } })]);
        expect(res.code).toBe(1);
        expect(res.stderr).toMatch(/kubespray\.dir: .* holds Kubespray v2\.25\.1, but kubesprayVersion is v2\.31\.0/);
    });

    it("fails naming kubespray.ansiblePlaybook when it cannot be run", () => {
        const found = trees.get("v2.31.0")!;
        if ("reason" in found) return;
        const res = run(["--stack", "test", "--dir", project({ ...testStack("v2.31.0"), kubespray: { dir: found.tree, ansiblePlaybook: "/nonexistent/ansible-playbook" } })]);
        expect(res.code).toBe(1);
        expect(res.stderr).toMatch(/kubespray\.ansiblePlaybook: \/nonexistent\/ansible-playbook not found/);
    });

    it("rejects bad arguments", () => {
        expect(run([]).stderr).toMatch(/--stack is required/);
        expect(run(["--stack", "x", "--format", "md"]).stderr).toMatch(/--format must be one of text, json/);
    });

    const v231 = trees.get("v2.31.0")!;
    const mirrorDir = testMirrorDir();

    (("reason" in v231) ? it.skip : it)("lists text and JSON from the stack's kubespray.dir and ansiblePlaybook", () => {
        const { tree, bin } = v231 as { tree: string; bin: string };
        const dir = project({ ...testStack("v2.31.0"), kubespray: { dir: tree, ansiblePlaybook: path.join(bin, "ansible-playbook") } });
        const text = run(["--stack", "test", "--dir", dir]);
        expect(text.stderr).toBe("");
        expect(text.code).toBe(0);
        expect(text.stdout).toMatch(/^Files \(9\): sha256, path in the files repo, upstream URL$/m);
        expect(text.stdout).toMatch(/^ {2}[0-9a-f]{64} {2}dl\.k8s\.io\/release\/v1\.35\.4\/bin\/linux\/amd64\/kubeadm {2}https:\/\/dl\.k8s\.io\/release\/v1\.35\.4\/bin\/linux\/amd64\/kubeadm$/m);
        expect(text.stdout).toMatch(new RegExp(`^ {2}${REGISTRY.replace(/\./g, "\\.")}/flannel/flannel:v0\\.28\\.4 {2}docker\\.io/flannel/flannel:v0\\.28\\.4$`, "m"));
        const json = run(["--stack", "test", "--dir", dir, "--format", "json"]);
        expect(json.code).toBe(0);
        const bom = JSON.parse(json.stdout) as BillOfMaterials;
        expect(bom).toMatchObject({ stack: "test", kubesprayVersion: "v2.31.0", filesRepo: FILES_REPO, registry: REGISTRY });
        expect(bom.files).toHaveLength(9);
        expect(bom.images).toHaveLength(9);
    });

    (("reason" in v231) ? it.skip : it)("gives the same list with Debian's ansible-core (ansible-playbook on PATH), when there is one", () => {
        const which = spawnSync("sh", ["-c", "command -v ansible-playbook"], { encoding: "utf8" });
        if (which.status !== 0) {
            console.warn("skipping the PATH ansible-playbook comparison: no ansible-playbook on PATH");
            return;
        }
        const { tree, bin } = v231 as { tree: string; bin: string };
        const onPath = bomOf(testStack("v2.31.0"), tree, which.stdout.trim());
        expect(onPath).toEqual(bomOf(testStack("v2.31.0"), tree, path.join(bin, "ansible-playbook")));
    });

    // The test mirror (tests/infra/build-mirror.sh) holds exactly what offline-list lists for the test stack,
    // with the checksums of what it built fed into offline.checksums: at Kubespray's default Kubernetes
    // (manifest.json) and at the upgrade test's first version (manifest-<version>.json), where the test
    // stack pins etcd_version (Kubespray's etcd for 1.34 cannot be built here; tests/helpers/mirror.ts).
    for (const set of MIRROR_SETS) {
        const manifestFile = path.join(mirrorDir, set.manifest);
        const current = set.kubeVersion === MIRROR_K8S;
        const manifestReason = "reason" in v231 ? v231.reason : fs.existsSync(manifestFile) ? undefined : `no ${manifestFile} (build it with tests/infra/build-mirror.sh)`;
        if (manifestReason) {
            skipOrFail(`offline-list against the test mirror's ${current ? "manifest" : set.manifest}`, manifestReason);
            continue;
        }
        const title = current
            ? "lists exactly the files and images of the test mirror's manifest (v2.31.0 test stack)"
            : `lists exactly the files and images of the test mirror's ${set.manifest} (v2.31.0 test stack at kubeVersion ${set.kubeVersion}, etcd_version ${MIRROR_ETCD})`;
        it(title, () => {
            const { tree, bin } = v231 as { tree: string; bin: string };
            const manifest = JSON.parse(fs.readFileSync(manifestFile, "utf8")) as MirrorManifest;
            const checksums = JSON.parse(fs.readFileSync(path.join(mirrorDir, set.checksums), "utf8")) as Record<string, string>;
            expect(manifest.kubesprayVersion).toBe("v2.31.0");
            const stack = testStack("v2.31.0", checksums);
            const cluster = current ? stack : { ...stack, kubeVersion: set.kubeVersion, groupVars: { ...stack.groupVars, etcd_version: MIRROR_ETCD } };
            const dir = project({ ...cluster, kubespray: { dir: tree, ansiblePlaybook: path.join(bin, "ansible-playbook") } });
            const res = run(["--stack", "test", "--dir", dir, "--format", "json"]);
            expect(res.stderr).toBe("");
            const bom = JSON.parse(res.stdout) as BillOfMaterials;
            const key = (x: { path: string; sha256: string | null }) => `${x.path} ${x.sha256}`;
            expect(bom.files.map(key).sort()).toEqual(manifest.files.map(key).sort());
            expect(bom.files.find((f) => f.name === "kubeadm")?.path).toBe(`dl.k8s.io/release/v${set.kubeVersion}/bin/linux/amd64/kubeadm`);
            const strip = (repo: string) => (repo.startsWith(`${REGISTRY}/`) ? repo.slice(REGISTRY.length + 1) : repo);
            expect(bom.images.map((i) => `${i.path}:${i.tag}`).sort()).toEqual(manifest.images.map((i) => `${strip(i.repo)}:${i.tag}`).sort());
        });
    }
});

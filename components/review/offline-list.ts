// `npm run offline-list`: the bill of materials of a stack's Kubespray run, i.e. every file (with the
// sha256 Kubespray checks) and every image it pulls, so a mirror can be filled from a connected
// machine. Not a hand list: real Ansible evaluates Kubespray's own `downloads` (role kubespray_defaults
// of the tree at kubespray.dir) against this stack's rendered inventory, on one host per distinct role
// set, with the download role's selection (enabled, and a group of the host). The kubeadm images are
// the four Kubespray's contrib/offline/generate_list.sh adds (kubeadm lists them at run time).
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ClusterConfig, ConfigError } from "../config/config";
import { renderInventory, renderTimeMachines } from "../kubespray/inventory";
import { FILES_REPO_HOSTS, UPSTREAM_IMAGE_REPOS } from "../kubespray/offline";
import { writeInventory } from "./summary";

/** One entry of Kubespray's `downloads` as the evaluation playbook reports it. */
export interface EvaluatedDownload {
    name: string;
    container: boolean;
    url: string;
    /** v2.31.0: `sha256:<hex>`; v2.25.1: the bare hex; images: a digest or empty. */
    checksum: string;
    repo: string;
    tag: string;
}

export interface HostEvaluation {
    host: string;
    groups: string[];
    /** With the stack's inventory (the mirror, when `offline` is set). */
    mirror: EvaluatedDownload[];
    /** The same with Kubespray's upstream defaults for the URL and image repo variables. */
    upstream: EvaluatedDownload[];
}

export interface BomFile {
    /** Kubespray's download name (kubeadm, etcd, cni...). */
    name: string;
    /** The URL Kubespray fetches (on the files repo when `offline` is set). */
    url: string;
    /** Where the file comes from on the internet. */
    upstreamUrl: string;
    /** Path inside the files repo: <upstream host>/<upstream path>. */
    path: string;
    /** The sha256 Kubespray checks (an offline.checksums override, else its own table); null when it checks none. */
    sha256: string | null;
    /** False when `offline` is set but Kubespray would still fetch this from elsewhere. */
    mirrored: boolean;
}

export interface BomImage {
    name: string;
    /** repo:tag as Kubespray pulls it (on the registry when `offline` is set). */
    image: string;
    /** repo:tag upstream. */
    upstream: string;
    /** Path inside the registry (repository without the registry host) and tag. */
    path: string;
    tag: string;
    /** Pulled by this digest instead of the tag, when Kubespray has one (`<name>_digest_checksum`). */
    digest?: string;
    mirrored: boolean;
}

export interface BillOfMaterials {
    stack: string;
    kubesprayVersion: string;
    kubesprayDir: string;
    filesRepo?: string;
    registry?: string;
    /** The hosts evaluated, one per distinct role set. */
    hosts: { name: string; groups: string[] }[];
    files: BomFile[];
    images: BomImage[];
    warnings: string[];
}

/** One host per distinct role set (their group_vars and Kubespray's per-group selection differ), in config order. */
export function evaluationHosts(config: ClusterConfig): string[] {
    const seen = new Set<string>();
    const hosts: string[] = [];
    for (const n of config.nodes) {
        const key = [...n.roles].sort().join(",");
        if (!seen.has(key)) {
            seen.add(key);
            hosts.push(n.name);
        }
    }
    return hosts;
}

/** The tree at kubespray.dir: its version (galaxy.yml) must be the configured one. Errors name kubespray.dir. */
export function checkKubesprayTree(config: ClusterConfig, dir: string): { role: string } {
    const fail = (message: string): never => {
        throw new ConfigError([{ key: "kubespray.dir", message }]);
    };
    const galaxy = path.join(dir, "galaxy.yml");
    if (!fs.existsSync(galaxy)) {
        fail(`${dir} is not a Kubespray checkout (no galaxy.yml): put Kubespray ${config.kubesprayVersion} there, or pass --kubespray-dir`);
    }
    const version = /^version:\s*"?([^\s"]+)"?\s*$/m.exec(fs.readFileSync(galaxy, "utf8"))?.[1];
    if (`v${version}` !== config.kubesprayVersion) {
        fail(`${dir} holds Kubespray v${version}, but kubesprayVersion is ${config.kubesprayVersion}`);
    }
    // v2.25.1 spells the role with a dash, later versions with an underscore.
    const role = ["kubespray_defaults", "kubespray-defaults"].find((r) => fs.existsSync(path.join(dir, "roles", r, "defaults", "main")));
    return { role: role ?? fail(`${dir} has no roles/kubespray_defaults (nor roles/kubespray-defaults)`) };
}

const SELECT = `{%- set ns = namespace(out=[]) -%}
      {%- for name, item in downloads.items() -%}
      {%- set d = download_defaults | combine(item) -%}
      {%- if (d.enabled | bool) and (item.enabled | bool) and (group_names | intersect(d.groups) | length > 0) -%}
      {%- set ns.out = ns.out + [{'name': name, 'container': d.container | bool, 'url': d.url | string,
            'checksum': (d.checksum if 'checksum' in d else d.sha256 | default('')) | string,
            'repo': d.repo | string, 'tag': d.tag | string}] -%}
      {%- endif -%}
      {%- endfor -%}
      {%- if 'k8s_cluster' in group_names and not (skip_kubeadm_images | bool) -%}
      {%- for image in ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy'] -%}
      {%- set ns.out = ns.out + [{'name': 'kubeadm_' ~ image | replace('-', '_'), 'container': true, 'url': 'None', 'checksum': '',
            'repo': (kubeadm_image_repo | default(kube_image_repo)) ~ '/' ~ image, 'tag': 'v' ~ (kube_version | regex_replace('^v', ''))}] -%}
      {%- endfor -%}
      {%- endif -%}
      {{ {'host': inventory_hostname, 'groups': group_names | sort, 'downloads': ns.out} | to_json }}`;

/** The evaluation playbook: role kubespray_defaults loaded (when: false, as Kubespray's generate_list.yml does), no connection. */
export function evaluationPlaybook(role: string, outDir: string): string {
    const upstream = {
        ...Object.fromEntries(Object.entries(FILES_REPO_HOSTS).map(([v, host]) => [v, `https://${host}`])),
        ...UPSTREAM_IMAGE_REPOS,
    };
    const upstreamVars = Object.entries(upstream).map(([k, v]) => `        ${k}: ${JSON.stringify(v)}`).join("\n");
    return `# Written by kubespray-ha offline-list: Kubespray's own download list for this inventory, evaluated locally.
- name: kubespray-ha offline-list
  hosts: all
  connection: local
  gather_facts: false
  vars:
    ansible_connection: local
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
    # The only node facts the download URLs read: Linux on x86_64 (Kubespray derives image_arch amd64 from it).
    ansible_system: Linux
    ansible_architecture: x86_64
    kha_out: ${JSON.stringify(outDir)}
    kha_selected: >-
      ${SELECT}
  roles:
    - role: ${role}
      when: false
  tasks:
    - name: Kubespray's downloads for this host, with this inventory
      copy:
        dest: "{{ kha_out }}/{{ inventory_hostname }}.mirror.json"
        content: "{{ kha_selected }}"
        mode: "0600"
    - name: The same with Kubespray's upstream URLs and image repos
      vars:
${upstreamVars}
      copy:
        dest: "{{ kha_out }}/{{ inventory_hostname }}.upstream.json"
        content: "{{ kha_selected }}"
        mode: "0600"
`;
}

function ansibleCfg(treeDir: string): string {
    return `[defaults]
roles_path = ${path.join(treeDir, "roles")}
force_valid_group_names = ignore
gathering = explicit
fact_caching = memory
retry_files_enabled = False
deprecation_warnings = False
interpreter_python = auto_silent
[inventory]
ignore_patterns = artifacts, credentials
`;
}

export interface EvaluateOptions {
    /** Absolute path of the Kubespray tree (config.kubespray.dir resolved). */
    kubesprayDir: string;
    /** ansible-playbook executable (config.kubespray.ansiblePlaybook). */
    ansiblePlaybook: string;
    /** Seconds before the evaluation is killed (default 600). */
    timeoutSeconds?: number;
}

function readJson(file: string): { host: string; groups: string[]; downloads: EvaluatedDownload[] } {
    const text = fs.readFileSync(file, "utf8");
    return JSON.parse(text);
}

/** Runs the evaluation playbook with real Ansible against the stack's rendered inventory (in a temp dir, removed after). */
export function evaluateDownloads(config: ClusterConfig, options: EvaluateOptions): HostEvaluation[] {
    const { role } = checkKubesprayTree(config, options.kubesprayDir);
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "kubespray-ha-offline-list-"));
    try {
        const inventory = path.join(work, "inventory");
        writeInventory(inventory, renderInventory(config, renderTimeMachines(config)));
        const out = path.join(work, "out");
        fs.mkdirSync(out);
        fs.writeFileSync(path.join(work, "offline-list.yml"), evaluationPlaybook(role, out));
        fs.writeFileSync(path.join(work, "ansible.cfg"), ansibleCfg(options.kubesprayDir));
        const hosts = evaluationHosts(config);
        const res = spawnSync(
            options.ansiblePlaybook,
            ["-i", path.join(inventory, "hosts.yaml"), "--limit", hosts.join(","), path.join(work, "offline-list.yml")],
            {
                cwd: work,
                encoding: "utf8",
                env: { ...process.env, ANSIBLE_CONFIG: path.join(work, "ansible.cfg"), ANSIBLE_NOCOLOR: "1" },
                timeout: (options.timeoutSeconds ?? 600) * 1000,
                maxBuffer: 64 * 1024 * 1024,
            },
        );
        if (res.error) {
            const missing = (res.error as NodeJS.ErrnoException).code === "ENOENT";
            throw new ConfigError([{
                key: "kubespray.ansiblePlaybook",
                message: missing ? `${options.ansiblePlaybook} not found (use a venv with Kubespray's ansible-core, or pass --ansible-playbook)` : res.error.message,
            }]);
        }
        if (res.status !== 0) {
            // Ansible's templating errors quote whole variables: keep the end, where the cause is.
            const tail = `${res.stdout}\n${res.stderr}`.trim().slice(-4000);
            throw new Error(`ansible-playbook evaluating Kubespray's downloads failed (exit ${res.status}):\n${tail}`);
        }
        return hosts.map((host) => {
            const mirror = readJson(path.join(out, `${host}.mirror.json`));
            const upstream = readJson(path.join(out, `${host}.upstream.json`));
            return { host, groups: mirror.groups, mirror: mirror.downloads, upstream: upstream.downloads };
        });
    } finally {
        fs.rmSync(work, { recursive: true, force: true });
    }
}

function sha256Of(checksum: string): string | null {
    const hex = checksum.replace(/^sha256:/, "").trim().toLowerCase();
    return /^[0-9a-f]{64}$/.test(hex) ? hex : null;
}

const byKey = <T>(key: (t: T) => string) => (a: T, b: T) => key(a).localeCompare(key(b));

/** Merges the hosts' evaluations into one list of files and images (pure). */
export function billOfMaterials(config: ClusterConfig, evaluations: readonly HostEvaluation[], kubesprayDir: string): BillOfMaterials {
    const filesRepo = config.offline?.filesRepo;
    const registry = config.offline?.registry;
    const files = new Map<string, BomFile>();
    const images = new Map<string, BomImage>();
    for (const ev of evaluations) {
        const upstream = new Map(ev.upstream.map((d) => [d.name, d]));
        for (const d of [...ev.mirror].sort(byKey((x) => x.name))) {
            const up = upstream.get(d.name) ?? d;
            if (!d.container) {
                if (files.has(d.url)) continue;
                const onMirror = filesRepo !== undefined && d.url.startsWith(`${filesRepo}/`);
                files.set(d.url, {
                    name: d.name,
                    url: d.url,
                    upstreamUrl: up.url,
                    path: onMirror ? d.url.slice(filesRepo!.length + 1) : up.url.replace(/^[a-z]+:\/\//, ""),
                    sha256: sha256Of(d.checksum),
                    mirrored: onMirror,
                });
            } else {
                const image = `${d.repo}:${d.tag}`;
                if (images.has(image)) continue;
                const onMirror = registry !== undefined && d.repo.startsWith(`${registry}/`);
                const digest = sha256Of(d.checksum);
                images.set(image, {
                    name: d.name,
                    image,
                    upstream: `${up.repo}:${up.tag}`,
                    path: onMirror ? d.repo.slice(registry!.length + 1) : up.repo,
                    tag: d.tag,
                    ...(digest ? { digest: `sha256:${digest}` } : {}),
                    mirrored: onMirror,
                });
            }
        }
    }
    const warnings: string[] = [];
    if (config.offline) {
        for (const f of files.values()) if (!f.mirrored) warnings.push(`file ${f.name} is not fetched from offline.filesRepo: ${f.url}`);
        for (const i of images.values()) if (!i.mirrored) warnings.push(`image ${i.name} is not pulled from offline.registry: ${i.image}`);
    } else {
        warnings.push("offline is not set: Kubespray fetches these from the internet (set offline.filesRepo and offline.registry to use a mirror)");
    }
    return {
        stack: config.name,
        kubesprayVersion: config.kubesprayVersion,
        kubesprayDir,
        ...(filesRepo ? { filesRepo } : {}),
        ...(registry ? { registry } : {}),
        hosts: evaluations.map((e) => ({ name: e.host, groups: e.groups })),
        files: [...files.values()].sort(byKey((f) => f.path)),
        images: [...images.values()].sort(byKey((i) => i.image)),
        warnings,
    };
}

export function formatBomText(bom: BillOfMaterials): string {
    const lines = [
        `kubespray-ha offline-list for stack "${bom.stack}": Kubespray ${bom.kubesprayVersion} (${bom.kubesprayDir})`,
        `evaluated on: ${bom.hosts.map((h) => `${h.name} [${h.groups.join(", ")}]`).join("; ")}`,
        `files repo: ${bom.filesRepo ?? "(none: upstream)"}    registry: ${bom.registry ?? "(none: upstream)"}`,
        "",
        `Files (${bom.files.length}): sha256, path in the files repo, upstream URL`,
        ...bom.files.map((f) => `  ${f.sha256 ?? "(no checksum)".padEnd(64)}  ${f.path}  ${f.upstreamUrl}`),
        "",
        `Images (${bom.images.length}): image as pulled, upstream image`,
        ...bom.images.map((i) => `  ${i.image}${i.digest ? `@${i.digest}` : ""}  ${i.upstream}`),
    ];
    if (bom.warnings.length > 0) lines.push("", ...bom.warnings.map((w) => `warning: ${w}`));
    return lines.join("\n") + "\n";
}

export function formatBomJson(bom: BillOfMaterials): string {
    return JSON.stringify(bom, null, 2) + "\n";
}

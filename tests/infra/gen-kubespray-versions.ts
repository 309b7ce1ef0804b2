// Derives what the program must know about each supported Kubespray version from the REAL source
// (../shared/third-party-src/kubespray-<version>.tar.gz, unmodified upstream) and renders
// components/config/kubespray-versions.ts. tests/kubespray-versions.test.ts re-derives it and fails when
// the checked-in module differs, so the module cannot drift from Kubespray.
//
//   npx ts-node --transpile-only tests/infra/gen-kubespray-versions.ts            # print the module
//   npx ts-node --transpile-only tests/infra/gen-kubespray-versions.ts --write    # rewrite it
//
// Each tarball is extracted into a fresh temp dir (0.2 s, removed afterwards): nothing is cached, so
// there is no stale tree to trust. KUBESPRAY_HA_THIRD_PARTY_SRC overrides the tarball directory.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse } from "yaml";

export const ROOT = path.resolve(__dirname, "..", "..");
export const MODULE_PATH = path.join(ROOT, "components", "config", "kubespray-versions.ts");

export function tarballDir(): string {
    return process.env.KUBESPRAY_HA_THIRD_PARTY_SRC ?? path.resolve(ROOT, "..", "shared", "third-party-src");
}

export function tarballPath(version: string): string {
    return path.join(tarballDir(), `kubespray-${version}.tar.gz`);
}

/** What the program needs of one Kubespray version (the shape of KUBESPRAY_VERSION_FACTS's values). */
export interface DerivedFacts {
    kubeVersions: string[];
    defaultKubeVersion: string;
    kubeVersionPrefix: "v" | "";
    kubeProxyModes: string[];
    kubeVip: { variable: "kube_vip_image_tag" | "kube_vip_version"; default: string };
}

function log(message: string): void {
    process.stderr.write(`[gen-kubespray-versions] ${message}\n`);
}

function walk(dir: string): string[] {
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
        const full = path.join(dir, e.name);
        return e.isDirectory() ? walk(full) : [full];
    });
}

/** Extracts the tarball into a temp dir, calls `use` with the tree, removes the dir. */
export function withTree<T>(version: string, use: (tree: string) => T): T {
    const tarball = tarballPath(version);
    if (!fs.existsSync(tarball)) throw new Error(`no ${tarball} (set KUBESPRAY_HA_THIRD_PARTY_SRC)`);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `kha-kubespray-${version}-`));
    try {
        log(`extracting ${tarball}`);
        const r = spawnSync("tar", ["-xzf", tarball, "-C", dir], { encoding: "utf8" });
        if (r.status !== 0) throw new Error(`tar -xzf ${tarball} failed: ${r.stderr}`);
        const top = fs.readdirSync(dir).filter((e) => fs.statSync(path.join(dir, e)).isDirectory());
        if (top.length !== 1 || !fs.existsSync(path.join(dir, top[0], "cluster.yml"))) throw new Error(`${tarball} does not hold one Kubespray tree`);
        return use(path.join(dir, top[0]));
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/**
 * Top-level keys of the defaults/ and vars/ YAML files of the kubespray defaults role: kubespray-defaults
 * (v2.25.1) or kubespray_defaults (v2.31.0, which keeps a tasks-only kubespray-defaults stub).
 */
function defaultsRoleVars(tree: string): Map<string, { file: string; value: unknown }[]> {
    const roles = path.join(tree, "roles");
    const dirs = fs.readdirSync(roles).filter((r) => /^kubespray[-_]defaults$/.test(r))
        .flatMap((r) => ["defaults", "vars"].map((d) => path.join(roles, r, d)))
        .filter((d) => fs.existsSync(d));
    if (dirs.length === 0) throw new Error(`${tree}: no roles/kubespray[-_]defaults/{defaults,vars}`);
    const vars = new Map<string, { file: string; value: unknown }[]>();
    for (const file of dirs.flatMap(walk).filter((f) => /\.ya?ml$/.test(f)).sort()) {
        const doc = parse(fs.readFileSync(file, "utf8"));
        if (!doc || typeof doc !== "object" || Array.isArray(doc)) continue;
        for (const [k, v] of Object.entries(doc)) {
            vars.set(k, [...(vars.get(k) ?? []), { file: path.relative(tree, file), value: v }]);
        }
    }
    return vars;
}

/** A kube_version default: a literal, or Kubespray's `(kubelet_checksums['amd64'] | dict2items)[N].key`. */
function evalVersionExpr(value: unknown, amd64Kubelet: string[], name: string): string {
    const text = String(value).trim();
    const m = /^\{\{\s*\(kubelet_checksums\['amd64'\]\s*\|\s*dict2items\)\[(-?\d+)\]\.key\s*\}\}$/.exec(text);
    if (m) {
        const i = Number(m[1]);
        const v = amd64Kubelet[i < 0 ? amd64Kubelet.length + i : i];
        if (v === undefined) throw new Error(`${name}: index ${i} outside kubelet_checksums.amd64`);
        return v;
    }
    if (/\{\{|\{%/.test(text)) throw new Error(`${name}: unrecognised template ${text}; teach gen-kubespray-versions.ts to read it`);
    return text;
}

function versionKey(v: string): number[] {
    return v.replace(/^v/, "").split(".").map(Number);
}

function compareVersions(a: string, b: string): number {
    const x = versionKey(a);
    const y = versionKey(b);
    for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] - y[i];
    return 0;
}

/** The kube_proxy_mode values Kubespray's own assert accepts (`kube_proxy_mode in [...]`, in a role's tasks). */
function kubeProxyModes(tree: string): string[] {
    const found = new Map<string, string>();
    for (const file of walk(path.join(tree, "roles")).filter((f) => /\.ya?ml$/.test(f))) {
        for (const m of fs.readFileSync(file, "utf8").matchAll(/kube_proxy_mode in \[([^\]]*)\]/g)) {
            const list = [...m[1].matchAll(/'([^']*)'|"([^"]*)"/g)].map((q) => q[1] ?? q[2]);
            found.set(JSON.stringify(list), path.relative(tree, file));
        }
    }
    if (found.size !== 1) throw new Error(`expected one "kube_proxy_mode in [...]" list in roles/, found ${found.size}: ${[...found.entries()].map(([l, f]) => `${f}: ${l}`).join("; ")}`);
    return JSON.parse([...found.keys()][0]);
}

export function deriveFacts(tree: string): DerivedFacts {
    const vars = defaultsRoleVars(tree);
    const get = (name: string) => {
        const defs = vars.get(name) ?? [];
        if (defs.length === 0) throw new Error(`${name} is not defined in the kubespray defaults role`);
        // Kubespray defines some variables in two files; the ones read here must not disagree.
        if (new Set(defs.map((d) => JSON.stringify(d.value))).size > 1) {
            throw new Error(`${name} has different values in ${defs.map((d) => d.file).join(", ")}`);
        }
        return defs[0].value;
    };
    // Kubespray downloads kubeadm, kubelet and kubectl by these checksums (validate_inventory in v2.31.0
    // asserts kube_version is a key of all three): a version is supported when all three have amd64 checksums.
    const amd64 = (name: string): string[] => {
        const table = get(name) as Record<string, Record<string, unknown>>;
        return Object.entries(table.amd64 ?? {}).filter(([, sum]) => sum !== 0 && sum !== "0" && sum !== null).map(([v]) => String(v));
    };
    const kubelet = amd64("kubelet_checksums");
    const kubeadm = new Set(amd64("kubeadm_checksums"));
    const kubectl = new Set(amd64("kubectl_checksums"));
    const minRequired = evalVersionExpr(get("kube_version_min_required"), kubelet, "kube_version_min_required");
    const kubeVersions = kubelet
        .filter((v) => kubeadm.has(v) && kubectl.has(v) && compareVersions(v, minRequired) >= 0)
        .sort((a, b) => compareVersions(b, a));
    const defaultKubeVersion = evalVersionExpr(get("kube_version"), kubelet, "kube_version");
    const prefixes = new Set(kubeVersions.map((v) => (v.startsWith("v") ? "v" : "")));
    if (prefixes.size !== 1) throw new Error(`kube versions mix forms with and without a leading v: ${kubeVersions.join(", ")}`);
    if (!kubeVersions.includes(defaultKubeVersion)) throw new Error(`the default kube_version ${defaultKubeVersion} has no checksums`);

    // v2.25.1 pins kube_vip_image_tag itself; newer ones derive it as "v{{ kube_vip_version }}".
    const tag = String(get("kube_vip_image_tag"));
    const kubeVip: DerivedFacts["kubeVip"] = /^v?\{\{\s*kube_vip_version\s*\}\}$/.test(tag)
        ? { variable: "kube_vip_version", default: String(get("kube_vip_version")) }
        : { variable: "kube_vip_image_tag", default: tag };
    if (/\{\{/.test(kubeVip.default)) throw new Error(`${kubeVip.variable}: unrecognised template ${kubeVip.default}`);

    return { kubeVersions, defaultKubeVersion, kubeVersionPrefix: [...prefixes][0] as "v" | "", kubeProxyModes: kubeProxyModes(tree), kubeVip };
}

/** The text of components/config/kubespray-versions.ts for these facts (keys in the given order). */
export function renderModule(facts: Record<string, DerivedFacts>): string {
    const body = Object.entries(facts)
        .map(([version, f]) => [
            `    ${JSON.stringify(version)}: {`,
            `        kubeVersions: [${f.kubeVersions.map((v) => JSON.stringify(v)).join(", ")}],`,
            `        defaultKubeVersion: ${JSON.stringify(f.defaultKubeVersion)},`,
            `        kubeVersionPrefix: ${JSON.stringify(f.kubeVersionPrefix)},`,
            `        kubeProxyModes: [${f.kubeProxyModes.map((v) => JSON.stringify(v)).join(", ")}],`,
            `        kubeVip: { variable: ${JSON.stringify(f.kubeVip.variable)}, default: ${JSON.stringify(f.kubeVip.default)} },`,
            "    },",
        ].join("\n"))
        .join("\n");
    return `// GENERATED by tests/infra/gen-kubespray-versions.ts from the Kubespray release tarballs; do not edit.
// tests/kubespray-versions.test.ts re-derives it from the real trees and fails when it differs.
// Per Kubespray version, newest first where it is a list:
// - kubeVersions: every kube_version with amd64 kubeadm, kubelet and kubectl checksums (and not below
//   kube_version_min_required), in the form Kubespray writes it (kubeVersionPrefix "v": v1.29.10);
// - defaultKubeVersion: Kubespray's kube_version default;
// - kubeProxyModes: the values Kubespray's own "kube_proxy_mode in [...]" assert accepts;
// - kubeVip: the variable that pins the kube-vip image and its default.

export interface KubesprayVersionFacts {
    readonly kubeVersions: readonly string[];
    readonly defaultKubeVersion: string;
    readonly kubeVersionPrefix: "v" | "";
    readonly kubeProxyModes: readonly string[];
    readonly kubeVip: { readonly variable: "kube_vip_image_tag" | "kube_vip_version"; readonly default: string };
}

export const KUBESPRAY_VERSION_FACTS: Readonly<Record<${Object.keys(facts).map((v) => JSON.stringify(v)).join(" | ")}, KubesprayVersionFacts>> = {
${body}
};
`;
}

/** Derives the facts of each version, in the given order. */
export function deriveAll(versions: readonly string[]): Record<string, DerivedFacts> {
    return Object.fromEntries(versions.map((v) => [v, withTree(v, deriveFacts)]));
}

if (require.main === module) {
    // The supported versions are the keys of the checked-in module (or the arguments, to add one).
    const args = process.argv.slice(2).filter((a) => a !== "--write");
    const versions = args.length > 0 ? args : (Object.keys((require(MODULE_PATH) as { KUBESPRAY_VERSION_FACTS: object }).KUBESPRAY_VERSION_FACTS));
    const text = renderModule(deriveAll(versions));
    if (process.argv.includes("--write")) {
        fs.writeFileSync(MODULE_PATH, text);
        log(`wrote ${path.relative(ROOT, MODULE_PATH)}`);
    } else {
        process.stdout.write(text);
    }
}

// The cold path of the build scripts, without the hour of compiles: every metadata and source step of
// tests/infra/build-mirror.sh and tests/infra/install-pulumi.sh (`--check-sources`) against an EMPTY
// cache and an EMPTY Go module cache (GOMODCACHE in a temp dir; the scripts set GOFLAGS themselves), as
// on a brand-new machine. Issue 24: the module proxy's .info carries no Origin for runc v1.4.2 (nor for
// k8s.io/kubernetes and containerd at their versions); the mirror build read Origin.Hash under `jq -e`
// and stopped after 50 minutes. Needs the Go module proxy, the upstream snapshots and apt's package lists:
// skipped with the reason printed when go is missing, a failure under CI.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { requireOrSkip } from "./helpers/real-tests";
import { tempDirs } from "./helpers/tmp";

jest.setTimeout(600_000);

const INFRA = path.join(__dirname, "infra");
const tmp = tempDirs();
const hasGo = spawnSync("sh", ["-c", "command -v go"]).status === 0;

interface Run {
    status: number | null;
    stderr: string;
}

/** Runs SCRIPT --check-sources with a fresh cache root and module cache; the module cache is emptied after. */
function checkSources(script: string, extraEnv: Record<string, string> = {}): Run {
    const root = tmp("kha-cold-");
    const gomod = path.join(root, "gomodcache");
    const env: NodeJS.ProcessEnv = { ...process.env, KUBESPRAY_HA_CACHE: path.join(root, "cache"), GOMODCACHE: gomod, ...extraEnv };
    delete env.GOFLAGS;
    try {
        const r = spawnSync("bash", [path.join(INFRA, script), "--check-sources"], { env, encoding: "utf8", timeout: 540_000 });
        return { status: r.status, stderr: r.stderr };
    } finally {
        // Go writes its module cache read-only; make it removable for tempDirs' cleanup.
        spawnSync("chmod", ["-R", "u+w", root]);
    }
}

// The scripts' default snapshot dir (KUBESPRAY_HA_THIRD_PARTY_SRC overrides it), outside the repository.
const SNAPSHOTS = process.env.KUBESPRAY_HA_THIRD_PARTY_SRC ?? path.resolve(__dirname, "..", "..", "shared", "third-party-src");
const reason = !hasGo ? "no go on PATH" : !fs.existsSync(SNAPSHOTS) ? `no upstream snapshots in ${SNAPSHOTS} (set KUBESPRAY_HA_THIRD_PARTY_SRC)` : undefined;
requireOrSkip("the cold-path checks of the build scripts (tests/cold-path.test.ts)", reason, "go and the upstream snapshots are there");

(reason ? describe.skip : describe)("build scripts on an empty cache (metadata and source steps only)", () => {
    test("build-mirror.sh resolves every module, snapshot, Debian package and derivation with no cache", () => {
        const r = checkSources("build-mirror.sh");
        expect({ status: r.status, tail: r.stderr.split("\n").slice(-25).join("\n") }).toMatchObject({ status: 0 });
        for (const m of [
            "k8s.io/kubernetes@v1.35.4",
            "k8s.io/kubernetes@v1.34.2",
            "go.etcd.io/etcd/server/v3@v3.6.10",
            "github.com/coredns/coredns@v1.12.4",
            "github.com/coredns/coredns@v1.12.1",
            "github.com/containerd/containerd/v2@v2.2.3",
            "github.com/opencontainers/runc@v1.4.2",
        ]) {
            expect(r.stderr).toMatch(new RegExp(`ok ${m.replace(/[.]/g, "\\.")}: released \\d{4}-\\d\\d-\\d\\dT`));
        }
        // What a binary is stamped with is the pinned table, never the proxy's optional Origin.
        expect(r.stderr).toMatch(/ok go\.etcd\.io\/etcd\/server\/v3@v3\.6\.10: .*commit db8d13a5421fcbd1c5825a148735b80c7d36cd2d/);
        expect(r.stderr).toMatch(/ok github\.com\/coredns\/coredns@v1\.12\.1: .*commit 707c7c10acd52cb94e959e76ae233d9b76af0854/);
        expect(r.stderr).toMatch(/github\.com\/opencontainers\/runc@v1\.4\.2: no pinned commit.*stamped without a commit/);
        expect(r.stderr).toMatch(/ok \d+ staging modules of k8s\.io\/kubernetes at v0\.35\.4/);
        expect(r.stderr).toMatch(/ok \d+ staging modules of k8s\.io\/kubernetes at v0\.34\.2/);
        expect(r.stderr).toMatch(/ok \d+ Debian packages for the images: .*iptables/);
        expect(r.stderr).toMatch(/ok Kubespray v2\.31\.0 derives 9 files and \d+ images at the recipe's versions for Kubernetes 1\.35\.4$/m);
        // The upgrade test's first version, with the etcd the test stack pins (Kubespray's 3.5.29 is refused by the proxy).
        expect(r.stderr).toMatch(/ok Kubespray v2\.31\.0 derives 9 files and \d+ images at the recipe's versions for Kubernetes 1\.34\.2 \(group_vars etcd_version=3\.6\.10 kube_version=1\.34\.2\)$/m);
        expect(r.stderr).toMatch(/sources ok/);
    });

    test("install-pulumi.sh resolves its snapshots and served modules with no cache", () => {
        const r = checkSources("install-pulumi.sh");
        expect({ status: r.status, tail: r.stderr.split("\n").slice(-15).join("\n") }).toMatchObject({ status: 0 });
        expect(r.stderr).toMatch(/ok github\.com\/pulumi\/pulumi\/pkg\/v3@v3\.248\.\d+ \(go\.mod: \d+ requirements/);
        expect(r.stderr).toMatch(/ok github\.com\/pulumi\/pulumi-kubernetes\/provider\/v4@/);
        expect(r.stderr).toMatch(/sources ok/);
    });

    test.each(["build-mirror.sh", "install-pulumi.sh"])("%s without the upstream snapshots fails naming the file", (script) => {
        const empty = tmp("kha-cold-nosrc-");
        const r = checkSources(script, { KUBESPRAY_HA_THIRD_PARTY_SRC: empty });
        expect(r.status).toBe(1);
        expect(r.stderr).toMatch(new RegExp(`upstream source ${empty}/[\\w.-]+\\.tar\\.gz not found`));
    });

    test("no build script reads a field of `go mod download`/`go list -m` that the proxy may omit", () => {
        // Origin is optional in the proxy's .info: it may only be read with a default, and only by commit_of.
        for (const f of fs.readdirSync(INFRA).filter((n) => n.endsWith(".sh"))) {
            const lines = fs.readFileSync(path.join(INFRA, f), "utf8").split("\n");
            const reads = lines.filter((l) => /\.Origin\b|Origin\.Hash/.test(l) && !/^\s*#/.test(l));
            for (const l of reads) expect(`${f}: ${l.trim()}`).toMatch(/\.Origin\.Hash \/\/ empty/);
        }
    });
});

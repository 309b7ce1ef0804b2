// The REAL offline mirror for Kubespray v2.31.0: what tests/infra/build-mirror.sh built (cached under
// ${KUBESPRAY_HA_CACHE:-~/.cache/kubespray-ha}/mirror-v2.31.0), served by tests/infra/mirror.sh on loopback:
//   1. every file of manifest.json (Kubernetes 1.35.4) and manifest-1.34.2.json (the upgrade test's
//      first version) is served at its files_repo path with the manifest's sha256, and checksums.json /
//      checksums-1.34.2.json (what the tests feed into offline.checksums) agree;
//   2. every image of both manifests and of manifest-extra.json is pullable from the docker-registry as
//      linux/amd64 with its entrypoint in the image; the 1.34.2 set differs from 1.35.4's only by its
//      Kubernetes binaries, kubeadm images and coredns; kube-vip/kube-vip holds Kubespray's v1.0.3 and the
//      extra v1.0.4 (manifest-extra.json, not in either set);
//   3. both servers listen only on the given address; bad addresses are refused;
//   4. stop kills exactly the PIDs start wrote.
// Without a built mirror the serving tests are skipped with the reason printed (under CI they fail).
import { execFileSync, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as path from "path";
import {
    MIRROR_EXTRA_MANIFEST,
    MIRROR_K8S,
    MIRROR_KUBE_VIP_EXTRA,
    MIRROR_SETS,
    MIRROR_UPGRADE_FROM_K8S,
    MirrorExtraManifest,
    MirrorManifest,
    mirrorDir,
} from "./helpers/mirror";
import { requireOrSkip } from "./helpers/real-tests";
import { tempDirs } from "./helpers/tmp";

jest.setTimeout(600_000);

const MIRROR_SH = path.join(__dirname, "infra", "mirror.sh");
const MIRROR = mirrorDir();
const CRANE = path.join(MIRROR, "bin", "crane");
const ADDRESS = "127.0.0.1";
const tmp = tempDirs();

const onPath = (tool: string) => spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0;

function missingReason(): string | undefined {
    if (!fs.existsSync(path.join(MIRROR, "COMPLETE"))) return `no mirror in ${MIRROR} (build it with tests/infra/build-mirror.sh: ~30-50 min cold)`;
    if (!fs.existsSync(CRANE)) return `no crane in ${CRANE} (rebuild the mirror)`;
    for (const set of MIRROR_SETS) {
        for (const file of [set.manifest, set.checksums]) {
            if (!fs.existsSync(path.join(MIRROR, file))) return `no ${file} in ${MIRROR}: a mirror of an older recipe (rebuild it with tests/infra/build-mirror.sh)`;
        }
    }
    if (!fs.existsSync(path.join(MIRROR, MIRROR_EXTRA_MANIFEST))) return `no ${MIRROR_EXTRA_MANIFEST} in ${MIRROR}: a mirror of an older recipe (rebuild it with tests/infra/build-mirror.sh)`;
    if (!onPath("docker-registry")) return "no docker-registry (apt-get install docker-registry)";
    return undefined;
}

const reason = missingReason();
requireOrSkip("the offline mirror tests of tests/mirror.test.ts", reason, "the offline mirror is built");

/** A TCP port nobody listens on right now. */
function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.once("error", reject);
        srv.listen(0, ADDRESS, () => {
            const port = (srv.address() as net.AddressInfo).port;
            srv.close(() => resolve(port));
        });
    });
}

/** GETs url and returns the status and the sha256 of the body (streamed: some files are 100 MB). */
function fetchSha256(url: string): Promise<{ status: number; sha256: string; bytes: number }> {
    return new Promise((resolve, reject) => {
        http.get(url, (res) => {
            const hash = crypto.createHash("sha256");
            let bytes = 0;
            res.on("data", (chunk: Buffer) => {
                hash.update(chunk);
                bytes += chunk.length;
            });
            res.on("end", () => resolve({ status: res.statusCode ?? 0, sha256: hash.digest("hex"), bytes }));
            res.on("error", reject);
        }).on("error", reject);
    });
}

function mirrorSh(...args: string[]): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync("bash", [MIRROR_SH, ...args], { encoding: "utf8", timeout: 120_000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function crane(...args: string[]): string {
    return execFileSync(CRANE, args, { encoding: "utf8", maxBuffer: 64 << 20 });
}

/** Alive = exists and is not a zombie. */
function alive(pid: number): boolean {
    try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        return !/^\d+ \(.*\) [ZX]/.test(stat);
    } catch {
        return false;
    }
}

/** Local addresses (as dotted IPv4, or "ipv6") with a listening TCP socket on port. */
function listeners(port: number): string[] {
    const found: string[] = [];
    for (const [file, v6] of [["/proc/net/tcp", false], ["/proc/net/tcp6", true]] as const) {
        if (!fs.existsSync(file)) continue;
        for (const line of fs.readFileSync(file, "utf8").split("\n").slice(1)) {
            const f = line.trim().split(/\s+/);
            if (f.length < 4 || f[3] !== "0A") continue;
            const [hexAddr, hexPort] = f[1].split(":");
            if (parseInt(hexPort, 16) !== port) continue;
            found.push(v6 ? "ipv6" : (hexAddr.match(/../g) as string[]).reverse().map((b) => parseInt(b, 16)).join("."));
        }
    }
    return found;
}

describe("mirror.sh refuses what it must not bind", () => {
    it.each(["0.0.0.0", "192.168.1.10", "10.251.0.1", "10.250.0", "localhost", "127.0.0.01"])("refuses %s", (addr) => {
        const state = tmp("mirror-refuse-");
        const r = mirrorSh("start", addr, "18080", "15000", state);
        expect(r.status).not.toBe(0);
        expect(r.stderr).toMatch(/refusing address/);
        expect(fs.readdirSync(state)).toEqual([]);
    });
});

(reason ? describe.skip : describe)("the offline mirror served on loopback", () => {
    const read = (file: string): unknown => (reason ? undefined : JSON.parse(fs.readFileSync(path.join(MIRROR, file), "utf8")));
    const sets = MIRROR_SETS.map((set) => ({
        ...set,
        manifest: read(set.manifest) as MirrorManifest,
        checksums: (read(set.checksums) ?? {}) as Record<string, string>,
    }));
    const [current, upgradeFrom] = sets;
    const extra = read(MIRROR_EXTRA_MANIFEST) as MirrorExtraManifest;
    let state = "";
    let filesPort = 0;
    let registryPort = 0;
    let started = false;

    beforeAll(async () => {
        state = tmp("mirror-state-");
        filesPort = await freePort();
        do registryPort = await freePort();
        while (registryPort === filesPort);
        const r = mirrorSh("start", ADDRESS, String(filesPort), String(registryPort), state);
        if (r.status !== 0) throw new Error(`mirror.sh start failed (${r.status}): ${r.stderr}`);
        started = true;
        expect(r.stdout).toContain(`files_repo=http://${ADDRESS}:${filesPort}`);
        expect(r.stdout).toContain(`registry=${ADDRESS}:${registryPort}`);
    });

    afterAll(() => {
        if (started) mirrorSh("stop", state);
    });

    it.each(MIRROR_SETS.map((s) => s.kubeVersion))("is the mirror of the Kubespray version it names (Kubernetes %s)", (kubeVersion) => {
        const { manifest } = sets.find((s) => s.kubeVersion === kubeVersion)!;
        expect(manifest.kubesprayVersion).toBe("v2.31.0");
        expect(manifest.files.length).toBeGreaterThan(0);
        expect(manifest.images.length).toBeGreaterThan(0);
        for (const k of ["kubeadm", "kubelet", "kubectl"]) {
            expect(manifest.files.find((f) => f.name === k)?.path).toBe(`dl.k8s.io/release/v${kubeVersion}/bin/linux/amd64/${k}`);
        }
        for (const c of ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy"]) {
            expect(manifest.images).toContainEqual({ repo: c, tag: `v${kubeVersion}` });
        }
    });

    it(`holds for ${MIRROR_UPGRADE_FROM_K8S} what ${MIRROR_K8S} holds but its Kubernetes binaries, kubeadm images and coredns`, () => {
        const own = (p: string) => /^dl\.k8s\.io\/release\//.test(p);
        const ownImage = (repo: string) => /^kube-(apiserver|controller-manager|scheduler|proxy)$|^coredns\/coredns$/.test(repo);
        expect(upgradeFrom.manifest.files.filter((f) => !own(f.path))).toEqual(current.manifest.files.filter((f) => !own(f.path)));
        expect(upgradeFrom.manifest.images.filter((i) => !ownImage(i.repo))).toEqual(current.manifest.images.filter((i) => !ownImage(i.repo)));
        expect(upgradeFrom.manifest.images.find((i) => i.repo === "coredns/coredns")?.tag).toBe("v1.12.1");
        expect(current.manifest.images.find((i) => i.repo === "coredns/coredns")?.tag).toBe("v1.12.4");
        // etcd 3.6.10 at both (pinned at the first version, see tests/helpers/mirror.ts).
        expect(upgradeFrom.manifest.files.find((f) => f.name === "etcd")?.path).toMatch(/\/v3\.6\.10\/etcd-v3\.6\.10-linux-amd64\.tar\.gz$/);
    });

    it("serves every manifest file at its files_repo path with the manifest's sha256", async () => {
        const served = new Set<string>();
        for (const { manifest } of sets) {
            for (const f of manifest.files) {
                if (served.has(`${f.path} ${f.sha256}`)) continue;
                const got = await fetchSha256(`http://${ADDRESS}:${filesPort}/${f.path}`);
                expect({ path: f.path, status: got.status, sha256: got.sha256 }).toEqual({ path: f.path, status: 200, sha256: f.sha256 });
                expect(got.bytes).toBeGreaterThan(0);
                served.add(`${f.path} ${f.sha256}`);
            }
        }
        const missing = await fetchSha256(`http://${ADDRESS}:${filesPort}/dl.k8s.io/release/v0.0.0/bin/linux/amd64/kubeadm`);
        expect(missing.status).toBe(404);
    });

    it.each(MIRROR_SETS.map((s) => [s.kubeVersion, s.checksums]))(
        "has a checksum for each artifact whose Kubespray checksum var it overrides, equal to the served file's (Kubernetes %s, %s)",
        (kubeVersion) => {
            const { manifest, checksums } = sets.find((s) => s.kubeVersion === kubeVersion)!;
            for (const name of ["kubeadm", "kubelet", "kubectl", "etcd", "cni", "crictl", "runc", "containerd", "nerdctl"]) {
                expect(checksums[name]).toMatch(/^[0-9a-f]{64}$/);
            }
            expect(Object.keys(checksums).sort()).toEqual(manifest.files.map((f) => f.name).sort());
            for (const f of manifest.files) {
                expect({ name: f.name, sha256: checksums[f.name] }).toEqual({ name: f.name, sha256: f.sha256 });
                expect([`${f.name}_binary_checksum`, `${f.name}_archive_checksum`]).toContain(f.checksumVar);
            }
        },
    );

    it(`holds kube-vip v${MIRROR_KUBE_VIP_EXTRA} beside Kubespray's v1.0.3, only in ${MIRROR_EXTRA_MANIFEST}`, () => {
        for (const { manifest } of sets) expect(manifest.images.filter((i) => i.repo === "kube-vip/kube-vip")).toEqual([{ repo: "kube-vip/kube-vip", tag: "v1.0.3" }]);
        expect(extra.kubesprayVersion).toBe("v2.31.0");
        expect(extra.groupVars).toEqual({ kube_vip_version: MIRROR_KUBE_VIP_EXTRA });
        expect(extra.images).toEqual([{ repo: "kube-vip/kube-vip", tag: `v${MIRROR_KUBE_VIP_EXTRA}`, digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) }]);
        const repo = `${ADDRESS}:${registryPort}/kube-vip/kube-vip`;
        expect(crane("ls", "--insecure", repo).split("\n").filter(Boolean).sort()).toEqual(["v1.0.3", `v${MIRROR_KUBE_VIP_EXTRA}`]);
        expect(crane("digest", "--insecure", `${repo}:v${MIRROR_KUBE_VIP_EXTRA}`).trim()).toBe(extra.images[0].digest);
    });

    it("serves every image of both manifests and manifest-extra.json as linux/amd64 with its entrypoint inside the image", () => {
        const all = [...sets.flatMap(({ manifest }) => manifest.images), ...extra.images];
        const images = new Map(all.map((i) => [`${i.repo}:${i.tag}`, i] as const));
        for (const img of images.values()) {
            const ref = `${ADDRESS}:${registryPort}/${img.repo}:${img.tag}`;
            const m = JSON.parse(crane("manifest", "--insecure", ref));
            expect(m.layers?.length ?? 0).toBeGreaterThan(0);
            const cfg = JSON.parse(crane("config", "--insecure", ref));
            expect({ ref, os: cfg.os, architecture: cfg.architecture }).toEqual({ ref, os: "linux", architecture: "amd64" });
            const entrypoint: string[] = cfg.config?.Entrypoint ?? [];
            expect(entrypoint.length).toBeGreaterThan(0);
            // Pull every blob (export) and find the entrypoint's file in the flattened filesystem.
            const list = spawnSync("bash", ["-c", 'set -o pipefail; "$1" export --insecure "$2" - | tar -t', "_", CRANE, ref], {
                encoding: "utf8",
                maxBuffer: 64 << 20,
            });
            expect({ ref, status: list.status }).toEqual({ ref, status: 0 });
            expect(list.stdout.split("\n").map((l) => l.replace(/^\.?\//, ""))).toContain(entrypoint[0].replace(/^\//, ""));
        }
    });

    it("is read-only: a push is refused", () => {
        const layer = path.join(tmp("mirror-push-"), "layer.tar");
        execFileSync("tar", ["-cf", layer, "-T", "/dev/null"]);
        const r = spawnSync(CRANE, ["append", "--insecure", "--oci-empty-base", "-f", layer, "-t", `${ADDRESS}:${registryPort}/should-not-exist:x`], { encoding: "utf8" });
        expect(r.status).not.toBe(0);
        expect(spawnSync(CRANE, ["manifest", "--insecure", `${ADDRESS}:${registryPort}/should-not-exist:x`]).status).not.toBe(0);
    });

    it("listens only on the given address", () => {
        for (const port of [filesPort, registryPort]) {
            const addrs = listeners(port);
            expect(addrs.length).toBeGreaterThan(0);
            expect(new Set(addrs)).toEqual(new Set([ADDRESS]));
        }
    });

    it("refuses a second start from the same state dir", () => {
        const r = mirrorSh("start", ADDRESS, String(filesPort), String(registryPort), state);
        expect(r.status).not.toBe(0);
        expect(r.stderr).toMatch(/already running/);
    });

    it("stops exactly the PIDs it wrote", () => {
        const pids = ["files", "registry"].map((n) => Number(fs.readFileSync(path.join(state, `${n}.pid`), "utf8").trim()));
        for (const pid of pids) expect(alive(pid)).toBe(true);
        const r = mirrorSh("stop", state);
        expect(r.status).toBe(0);
        started = false;
        for (const pid of pids) expect({ pid, alive: alive(pid) }).toEqual({ pid, alive: false });
        expect(fs.readdirSync(state).filter((f) => f.endsWith(".pid"))).toEqual([]);
        expect(listeners(filesPort)).toEqual([]);
        expect(listeners(registryPort)).toEqual([]);
    });
});

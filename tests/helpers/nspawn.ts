// systemd-nspawn test nodes (tests/infra/nspawn-nodes.sh): real systemd, sshd and a static address on a
// bridge the test makes in its own /24 of 10.250.0.0/16. The node image is tests/infra/build-node-rootfs.sh
// (cached; ~5 min to build). Everything a handle makes is removed by destroy(), which is safe to call twice;
// a handle still alive when the process exits is removed then (synchronously).
import { ChildProcess, execFileSync, spawn, spawnSync, SpawnSyncReturns } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const INFRA = path.join(__dirname, "..", "infra");
export const NSPAWN_NODES_SCRIPT = path.join(INFRA, "nspawn-nodes.sh");
export const BUILD_ROOTFS_SCRIPT = path.join(INFRA, "build-node-rootfs.sh");
const TOOLS = ["systemd-nspawn", "ip", "ssh", "ssh-keygen", "ssh-keyscan"];

const hasCommand = (tool: string) => spawnSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" }).status === 0;

/** The cached node rootfs, or undefined when it has not been built. */
export function cachedNodeRootfs(): string | undefined {
    const r = spawnSync(BUILD_ROOTFS_SCRIPT, ["--cached"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    return r.status === 0 ? r.stdout.trim().split("\n").pop() : undefined;
}

/**
 * Why nspawn nodes cannot run here, or undefined when they can. `build: true` builds the node rootfs
 * when it is not cached (minutes; progress on stderr) instead of reporting it missing.
 */
export function nspawnNodesOrReason(options: { build?: boolean } = {}): string | undefined {
    if (process.platform !== "linux") return `needs Linux (platform ${process.platform})`;
    if (typeof process.getuid === "function" && process.getuid() !== 0) return "needs root (bridges, cgroups, systemd-nspawn)";
    for (const tool of TOOLS) {
        if (!hasCommand(tool)) return `${tool} is not installed (apt-get install -y systemd-container openssh-client iproute2)`;
    }
    if (!fs.existsSync("/sys/fs/cgroup")) return "no cgroup file system at /sys/fs/cgroup";
    if (cachedNodeRootfs()) return undefined;
    if (!options.build) {
        const where = spawnSync(BUILD_ROOTFS_SCRIPT, ["--print-path"], { encoding: "utf8" }).stdout.trim();
        return `the node rootfs is not built (${where}): run tests/infra/build-node-rootfs.sh (about 5 minutes)`;
    }
    if (!hasCommand("debootstrap")) return "debootstrap is not installed (apt-get install -y debootstrap)";
    const r = spawnSync(BUILD_ROOTFS_SCRIPT, [], { stdio: ["ignore", "ignore", "inherit"] });
    return r.status === 0 && cachedNodeRootfs() ? undefined : `tests/infra/build-node-rootfs.sh failed (exit ${r.status ?? r.signal})`;
}

export interface NodeSpec {
    name: string;
    ip: string;
}

export interface CreateNodesOptions {
    /** First three octets of the test's /24, e.g. "10.250.40": the bridge gets .1, the nodes' gateway. */
    subnet: string;
    /** Host bridge name (at most 15 characters). Made if absent, removed by destroy() if it was made. */
    bridge: string;
    nodes: NodeSpec[];
    /** Public key root accepts on every node. */
    publicKeyFile: string;
    /** Node rootfs; default: the cached one (built if missing). */
    rootfs?: string;
}

export interface NspawnNodes {
    /** Where nspawn-nodes.sh keeps the nodes' state (rootfs copies, PIDs, cgroups). Gone after destroy(). */
    readonly stateDir: string;
    readonly bridge: string;
    /** The bridge's address, the nodes' default route. */
    readonly gateway: string;
    readonly nodes: readonly NodeSpec[];
    /** The nodes' SSH host keys by IP, for StrictHostKeyChecking=yes. */
    readonly knownHostsFile: string;
    /** SIGKILL every process of the node (a hard failure). */
    stop(name: string): Promise<void>;
    /** Boot the node again from its rootfs copy; resolves when it answers SSH. */
    start(name: string): Promise<void>;
    /** Remove everything createNodes made. Safe to call twice. */
    destroy(): Promise<void>;
    /** PIDs of every process in the nodes' cgroups (systemd-nspawn and everything inside), now. */
    processes(): number[];
    /** The cgroup directories nspawn-nodes.sh made for the nodes. */
    cgroups(): string[];
    /** `ssh root@<node> <command>` with the given private key, host keys checked. */
    ssh(privateKeyFile: string, name: string, command: string, timeoutMs?: number): SpawnSyncReturns<string>;
}

/** Runs nspawn-nodes.sh, streaming its stderr (progress) to ours; rejects with its tail on failure. */
function runScript(args: string[]): Promise<void> {
    return new Promise((resolve, reject) => {
        const child: ChildProcess = spawn(NSPAWN_NODES_SCRIPT, args, { stdio: ["ignore", "ignore", "pipe"] });
        let stderr = "";
        child.stderr!.on("data", (d: Buffer) => {
            stderr += d.toString();
            process.stderr.write(d);
        });
        child.once("error", reject);
        child.once("close", (code, signal) => {
            if (code === 0) resolve();
            else reject(new Error(`nspawn-nodes.sh ${args[0]} failed (${code ?? signal}):\n${stderr.split("\n").slice(-30).join("\n")}`));
        });
    });
}

const live = new Set<string>();
let exitHookInstalled = false;
function installExitHook(): void {
    if (exitHookInstalled) return;
    exitHookInstalled = true;
    process.on("exit", () => {
        for (const stateDir of live) {
            try {
                execFileSync(NSPAWN_NODES_SCRIPT, ["down", stateDir], { stdio: ["ignore", "ignore", "inherit"] });
                fs.rmSync(stateDir, { recursive: true, force: true });
            } catch {
                process.stderr.write(`nspawn nodes in ${stateDir} could not be removed: run ${NSPAWN_NODES_SCRIPT} down ${stateDir}\n`);
            }
        }
    });
}

const readLines = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").filter((l) => l !== "") : []);

/** Boots the nodes and resolves when every one answers SSH; on failure nothing is left behind. */
export async function createNodes(options: CreateNodesOptions): Promise<NspawnNodes> {
    const { subnet, bridge, nodes, publicKeyFile } = options;
    if (!/^10\.250\.\d{1,3}$/.test(subnet) || Number(subnet.split(".")[2]) > 255) {
        throw new Error(`subnet must be the first three octets of a /24 in 10.250.0.0/16, e.g. 10.250.40 (got ${subnet})`);
    }
    if (bridge.length > 15) throw new Error(`bridge name ${bridge} is longer than 15 characters`);
    for (const n of nodes) {
        if (!n.ip.startsWith(`${subnet}.`)) throw new Error(`node ${n.name}: ${n.ip} is not in ${subnet}.0/24`);
    }
    const gateway = `${subnet}.1`;
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), `kha-nspawn-${bridge}-`));
    const rootfs = options.rootfs ?? cachedNodeRootfs();
    installExitHook();
    live.add(stateDir);
    try {
        await runScript([
            "up", stateDir, bridge, `${gateway}/24`, ...nodes.map((n) => `${n.name}=${n.ip}`),
            "--pubkey", publicKeyFile, ...(rootfs ? ["--rootfs", rootfs] : []),
        ]);
    } catch (err) {
        // `up` removes what it made when it fails; down again to be sure, then the dir.
        await runScript(["down", stateDir]).catch(() => undefined);
        fs.rmSync(stateDir, { recursive: true, force: true });
        live.delete(stateDir);
        throw err;
    }

    const nodeDir = (name: string) => path.join(stateDir, "nodes", name);
    const cgroups = () => nodes.flatMap((n) => readLines(path.join(nodeDir(n.name), "cgroups")));
    let destroyed = false;
    const handle: NspawnNodes = {
        stateDir,
        bridge,
        gateway,
        nodes,
        knownHostsFile: path.join(stateDir, "known_hosts"),
        stop: (name) => runScript(["stop-node", stateDir, name]),
        start: (name) => runScript(["start-node", stateDir, name]),
        async destroy() {
            if (destroyed) return;
            await runScript(["down", stateDir]);
            fs.rmSync(stateDir, { recursive: true, force: true });
            live.delete(stateDir);
            destroyed = true;
        },
        processes() {
            const pids = new Set<number>();
            for (const cg of cgroups()) {
                if (!fs.existsSync(cg)) continue;
                const walk = (dir: string) => {
                    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
                        if (entry.isDirectory()) walk(path.join(dir, entry.name));
                    }
                    readLines(path.join(dir, "cgroup.procs")).forEach((p) => pids.add(Number(p)));
                };
                walk(cg);
            }
            return [...pids].sort((a, b) => a - b);
        },
        cgroups,
        ssh(privateKeyFile, name, command, timeoutMs = 60_000) {
            const node = nodes.find((n) => n.name === name);
            if (!node) throw new Error(`no node ${name}`);
            return spawnSync("ssh", [
                "-i", privateKeyFile,
                "-o", `UserKnownHostsFile=${path.join(stateDir, "known_hosts")}`,
                "-o", "StrictHostKeyChecking=yes",
                "-o", "BatchMode=yes",
                "-o", "ConnectTimeout=5",
                "-o", "LogLevel=ERROR",
                `root@${node.ip}`, command,
            ], { encoding: "utf8", timeout: timeoutMs });
        },
    };
    return handle;
}

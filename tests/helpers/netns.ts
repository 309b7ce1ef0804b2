// Network namespaces that stand in for nodes: each gets a veth to a bridge in the root namespace,
// an address in 10.250.0.0/24 and its own sshd accepting one test key for root. Everything is
// created by `start` and removed by `stop` (namespaces, links, sshd processes, temp files).
import { generateKeyPair } from "./keys";
import { ChildProcess, execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";

const SSHD = "/usr/sbin/sshd";
const TOOLS = ["ip", "ssh-keygen", "ssh", "ansible-playbook"];

/** Why the namespace test cannot run here, or undefined when it can. */
export function missingPrerequisite(): string | undefined {
    if (process.platform !== "linux") return `needs Linux network namespaces (platform ${process.platform})`;
    if (typeof process.getuid === "function" && process.getuid() !== 0) return "needs root (ip netns, sshd)";
    for (const tool of TOOLS) {
        try {
            execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" });
        } catch {
            return `${tool} is not installed (apt-get install -y ansible openssh-server openssh-client iproute2)`;
        }
    }
    if (!fs.existsSync(SSHD)) return `${SSHD} is not installed (apt-get install -y openssh-server)`;
    const probe = `khaprobe${process.pid % 100000}`;
    try {
        execFileSync("ip", ["netns", "add", probe], { stdio: "pipe" });
        execFileSync("ip", ["netns", "del", probe], { stdio: "pipe" });
    } catch (err) {
        return `cannot create network namespaces: ${(err as Error).message.split("\n")[0]}`;
    }
    return undefined;
}

export interface NamespaceHost {
    /** Inventory name. */
    name: string;
    namespace: string;
    address: string;
}

export interface Lab {
    hosts: NamespaceHost[];
    /** Private key (OpenSSH format) root logs in with on every host. */
    privateKey: string;
    dir: string;
}

const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: "pipe" }).toString();
const tryRun = (cmd: string, args: string[]) => {
    try {
        run(cmd, args);
    } catch {
        // already gone
    }
};

/** Namespaces `khae2e<tag>-<i>` on bridge `khabr<tag>`; addresses `<prefix>.<first + i>`, bridge `<prefix>.<bridgeHost>`/24. */
export class NamespaceLab {
    private readonly sshd: ChildProcess[] = [];
    private readonly tag = String(process.pid % 100000);
    private readonly bridge = `khabr${this.tag}`;
    private dir = "";
    public hosts: NamespaceHost[] = [];

    constructor(
        private readonly names: string[],
        private readonly prefix = "10.250.0",
        private readonly first = 211,
        private readonly bridgeHost = 209,
    ) {}

    async start(): Promise<Lab> {
        this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "kha-e2e-"));
        fs.chmodSync(this.dir, 0o755);
        const key = generateKeyPair(this.dir, "id_ed25519", "kubespray-ha-e2e").privateKeyPath;
        fs.copyFileSync(`${key}.pub`, path.join(this.dir, "authorized_keys"));
        fs.chmodSync(path.join(this.dir, "authorized_keys"), 0o600);
        const hostKey = generateKeyPair(this.dir, "host_ed25519", "kubespray-ha-e2e-host").privateKeyPath;
        fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });

        run("ip", ["link", "add", this.bridge, "type", "bridge"]);
        run("ip", ["addr", "add", `${this.prefix}.${this.bridgeHost}/24`, "dev", this.bridge]);
        run("ip", ["link", "set", this.bridge, "up"]);

        this.hosts = this.names.map((name, i) => ({ name, namespace: `khae2e${this.tag}-${i}`, address: `${this.prefix}.${this.first + i}` }));
        for (const [i, h] of this.hosts.entries()) {
            const outside = `khav${this.tag}x${i}`;
            run("ip", ["netns", "add", h.namespace]);
            run("ip", ["link", "add", outside, "type", "veth", "peer", "name", "eth0", "netns", h.namespace]);
            run("ip", ["link", "set", outside, "master", this.bridge]);
            run("ip", ["link", "set", outside, "up"]);
            run("ip", ["-n", h.namespace, "link", "set", "lo", "up"]);
            run("ip", ["-n", h.namespace, "addr", "add", `${h.address}/24`, "dev", "eth0"]);
            run("ip", ["-n", h.namespace, "link", "set", "eth0", "up"]);
            const config = path.join(this.dir, `sshd-${i}.conf`);
            fs.writeFileSync(config, [
                `ListenAddress ${h.address}`,
                "Port 22",
                `HostKey ${hostKey}`,
                `PidFile ${path.join(this.dir, `sshd-${i}.pid`)}`,
                `AuthorizedKeysFile ${path.join(this.dir, "authorized_keys")}`,
                "PermitRootLogin prohibit-password",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "UsePAM no",
                "StrictModes no",
                "PrintMotd no",
                "Subsystem sftp internal-sftp",
                "",
            ].join("\n"));
            const child = spawn("ip", ["netns", "exec", h.namespace, SSHD, "-D", "-e", "-f", config], { stdio: ["ignore", "ignore", "pipe"] });
            let stderr = "";
            child.stderr!.on("data", (d) => (stderr += d.toString()));
            this.sshd.push(child);
            await waitForPort(h.address, 22, 10_000, () => stderr);
        }
        return { hosts: this.hosts, privateKey: fs.readFileSync(key, "utf8"), dir: this.dir };
    }

    async stop(): Promise<void> {
        for (const child of this.sshd) {
            if (child.exitCode === null && child.pid !== undefined) {
                child.kill("SIGTERM");
                await new Promise((resolve) => {
                    const timer = setTimeout(resolve, 3000);
                    child.once("exit", () => {
                        clearTimeout(timer);
                        resolve(undefined);
                    });
                });
            }
        }
        for (const h of this.hosts) {
            tryRun("ip", ["netns", "del", h.namespace]);
        }
        this.hosts.forEach((_h, i) => tryRun("ip", ["link", "del", `khav${this.tag}x${i}`]));
        tryRun("ip", ["link", "del", this.bridge]);
        if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
    }
}

async function waitForPort(host: string, port: number, timeoutMs: number, log: () => string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const ok = await new Promise<boolean>((resolve) => {
            const socket = net.connect({ host, port, timeout: 500 });
            socket.once("connect", () => {
                socket.destroy();
                resolve(true);
            });
            socket.once("error", () => resolve(false));
            socket.once("timeout", () => {
                socket.destroy();
                resolve(false);
            });
        });
        if (ok) return;
        if (Date.now() > deadline) throw new Error(`sshd on ${host}:${port} did not come up: ${log()}`);
        await new Promise((r) => setTimeout(r, 100));
    }
}

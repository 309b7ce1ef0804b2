// A real libvirt cluster driven by the real Pulumi engine, for tests/e2e-vms.test.ts and
// scripts/bench-vms.ts: the stack config (isolated 10.250.20.0/24, VIP .100, nodes from .21, software
// emulation, direct kernel boot of the test image), a generated SSH key, `pulumi up` with the engine's
// events timed as they arrive, a watch for each VM's first SSH banner, SSH into the VMs as the login
// user, and a cleanup that removes every libvirt object and file of the lab even after a failure.
//
//   const lab = createVmLab();                        // key, temp dirs, staged image, unique name
//   const stack = await vmStack(engine, lab, THREE_NODES);
//   const up = await timedUp(stack, lab);             // events, seconds, first SSH per node
//   destroyVmLab(lab);                                // virsh destroy/undefine, net-*, rm -rf
import { generateKeyPair } from "./keys";
import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { EngineEvent, Stack, UpResult } from "@pulumi/pulumi/automation";
import { parse, stringify } from "yaml";
import { copyProject, Engine, engineStack, findEngine, pluginsMissing } from "./engine";
import { LIBVIRT_URI, libvirtdMissingReason, notRootReason, skipReason } from "./libvirtd";
import { cacheRoot, IMAGE_BOOT, stageTestImage, TestImage, testImageMissingReason } from "./vm-image";

export const STANDIN_DIR = path.join(__dirname, "..", "fixtures", "kubespray-standin");
export const SUBNET = "10.250.20.0/24";
export const GATEWAY = "10.250.20.1";
export const VIP = "10.250.20.100";
export const STACK = "vms";
/** Names of everything this lab creates start with this, followed by 4 hex digits. */
export const LAB_PREFIX = "khavm";
const LAB_NAME = new RegExp(`^${LAB_PREFIX}[0-9a-f]{4}$`);
const IMAGES_DIR = "/var/lib/libvirt/images";

export interface VmNode {
    name: string;
    ip: string;
    roles: string[];
}

export const THREE_NODES: VmNode[] = [1, 2, 3].map((i) => ({ name: `node${i}`, ip: `10.250.20.2${i}`, roles: ["control-plane", "etcd", "worker"] }));
export const WORKER4: VmNode = { name: "node4", ip: "10.250.20.24", roles: ["worker"] };
/** The e2e test's cluster: one control plane (odd, so valid), then one worker added and removed. */
export const ONE_NODE: VmNode[] = [THREE_NODES[0]];
export const WORKER2: VmNode = { name: "node2", ip: "10.250.20.22", roles: ["worker"] };

/**
 * The boot of one software-emulated VM as last measured on this machine: seconds from its domain's
 * start to the readiness wait done (SSH + cloud-init), with how many VMs booted at once.
 */
const BOOT_RECORD = () => path.join(cacheRoot(), "vm-boot-measured.json");
/** Before any boot was measured on this machine: a first-run budget, not a guess at the boot. */
export const FIRST_RUN_BOOT_SECONDS = 900;
/** The readiness budget is this many times the measured boot (2 cores, TCG: a busy moment doubles it). */
export const BOOT_BUDGET_FACTOR = 4;
const MIN_BOOT_BUDGET_SECONDS = 240;

/** libvirt.bootTimeoutSeconds for the lab, derived from the measured boot, and the derivation in words. */
export function bootBudget(): { seconds: number; why: string } {
    try {
        const m = JSON.parse(fs.readFileSync(BOOT_RECORD(), "utf8")) as { seconds: number; concurrent: number; at: string };
        if (typeof m.seconds === "number" && m.seconds > 0) {
            const seconds = Math.max(MIN_BOOT_BUDGET_SECONDS, Math.ceil(BOOT_BUDGET_FACTOR * m.seconds));
            return { seconds, why: `${BOOT_BUDGET_FACTOR} x the boot measured here on ${m.at} (${m.seconds.toFixed(0)} s, ${m.concurrent} VM(s) at once), at least ${MIN_BOOT_BUDGET_SECONDS} s` };
        }
    } catch {
        // nothing measured yet
    }
    return { seconds: FIRST_RUN_BOOT_SECONDS, why: `no boot measured on this machine yet (${BOOT_RECORD()}): the first-run budget` };
}

/** Keeps the slowest boot of an up (per-node ready seconds) for the next run's budget. */
export function recordBoot(ready: Record<string, number>): void {
    const all = Object.values(ready);
    if (all.length === 0) return;
    const record = { seconds: Math.max(...all), concurrent: all.length, at: new Date().toISOString() };
    fs.mkdirSync(path.dirname(BOOT_RECORD()), { recursive: true });
    fs.writeFileSync(BOOT_RECORD(), `${JSON.stringify(record, null, 2)}\n`);
}

const TOOLS: Record<string, string> = {
    virsh: "libvirt-clients",
    "qemu-img": "qemu-utils",
    "cloud-localds": "cloud-image-utils",
    ssh: "openssh-client",
    "ssh-keygen": "openssh-client",
    "ansible-playbook": "ansible",
};

function onPath(tool: string): boolean {
    return spawnSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" }).status === 0;
}

function toolsMissingReason(): string | undefined {
    const missing = Object.keys(TOOLS).filter((t) => !onPath(t));
    return missing.length === 0 ? undefined : `missing ${missing.join(", ")} (apt-get install -y ${[...new Set(missing.map((t) => TOOLS[t]))].join(" ")})`;
}

let engine: Engine | undefined;

function engineMissingReason(): string | undefined {
    const found = findEngine();
    if ("reason" in found) return found.reason;
    const plugins = pluginsMissing(found, ["command", "kubernetes"]);
    if (plugins) return plugins;
    engine = found;
    return undefined;
}

/** The subnet must be free: no interface of this machine may hold an address in 10.250.20.0/24. */
function subnetBusyReason(): string | undefined {
    const r = spawnSync("ip", ["-o", "-4", "addr", "show"], { encoding: "utf8" });
    const holder = (r.stdout ?? "").split("\n").find((l) => / inet 10\.250\.20\./.test(l));
    return holder ? `${SUBNET} is already in use on this machine: ${holder.trim()}` : undefined;
}

/** The engine, or why real-VM engine tests cannot run here (printed as "skipping <what>: <reason>"). */
export function vmEngineOrReason(what: string): Engine | { reason: string } {
    removeStaleLabs();
    const reason = skipReason(what, notRootReason, toolsMissingReason, testImageMissingReason, libvirtdMissingReason, engineMissingReason, subnetBusyReason);
    return reason ? { reason } : engine!;
}

export interface VmLab {
    /** `khavm<4 hex>`: config name, prefix of the domains, network `<name>-net`, bridge `virbr-<name>`. */
    name: string;
    network: string;
    bridge: string;
    storageDir: string;
    /** Temp dir: key, record, Kubespray work dir. */
    dir: string;
    privateKey: string;
    privateKeyFile: string;
    publicKey: string;
    /** $KHA_STANDIN_RECORD: the path the stand-in playbooks record under, on the controller and on each VM. */
    record: string;
    workDir: string;
    image: TestImage;
    /** libvirt.bootTimeoutSeconds, fixed for the lab's life (a change would re-run the readiness waits). */
    boot: { seconds: number; why: string };
    /** The copied project (set by vmStack). */
    projectDir?: string;
}

export function createVmLab(): VmLab {
    const image = stageTestImage();
    if (!image) throw new Error(`no test image: ${testImageMissingReason()}`);
    const name = `${LAB_PREFIX}${crypto.randomBytes(2).toString("hex")}`;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${name}-`));
    // Tells removeStaleLabs() of another process that this lab is in use.
    fs.writeFileSync(path.join(dir, "pid"), String(process.pid));
    const privateKeyFile = generateKeyPair(dir, "id_ed25519", `${name}@test`).privateKeyPath;
    return {
        name,
        network: `${name}-net`,
        bridge: `virbr-${name}`.slice(0, 15),
        storageDir: path.join(IMAGES_DIR, name),
        dir,
        privateKey: fs.readFileSync(privateKeyFile, "utf8"),
        privateKeyFile,
        publicKey: fs.readFileSync(`${privateKeyFile}.pub`, "utf8").trim(),
        record: path.join(dir, "record"),
        workDir: path.join(dir, "kubespray-work"),
        image,
        boot: bootBudget(),
    };
}

/** The `kubespray-ha:cluster` config of the lab with these nodes. */
export function clusterConfig(lab: VmLab, nodes: VmNode[]): Record<string, unknown> {
    return {
        backend: "libvirt",
        name: lab.name,
        network: { cidr: SUBNET },
        vip: { address: VIP },
        interface: IMAGE_BOOT.interfaceName,
        // The test destroys its stack: protected etcd members would make `destroy` fail.
        protectEtcdMembers: false,
        ssh: { user: "kube", publicKey: lab.publicKey },
        libvirt: {
            uri: LIBVIRT_URI,
            forward: "none",
            domainType: IMAGE_BOOT.domainType,
            memoryMiB: IMAGE_BOOT.minMemoryMiB,
            vcpus: 1,
            diskGiB: 4,
            baseImage: lab.image.baseImage,
            kernel: lab.image.kernel,
            initrd: lab.image.initrd,
            cmdline: IMAGE_BOOT.cmdline,
            storageDir: lab.storageDir,
            bootTimeoutSeconds: lab.boot.seconds,
        },
        kubespray: {
            dir: STANDIN_DIR,
            workDir: lab.workDir,
            // The stand-in's ansible.cfg says `su` (its netns hosts log in as root); the VMs' login user
            // has passwordless sudo from cloud-init.
            extraArgs: ["-e", "ansible_become_method=sudo"],
        },
        nodes,
    };
}

/** A stack of a fresh copy of the program with the lab's config and its private key as the secret. */
export async function vmStack(eng: Engine, lab: VmLab, nodes: VmNode[]): Promise<Stack> {
    lab.projectDir = copyProject({ [STACK]: { "kubespray-ha:cluster": clusterConfig(lab, nodes) } });
    fs.mkdirSync(lab.record, { recursive: true });
    const stack = await engineStack(eng, lab.projectDir, STACK, { KHA_STANDIN_RECORD: lab.record });
    await stack.setConfig("kubespray-ha:sshPrivateKey", { value: lab.privateKey, secret: true });
    return stack;
}

/** Rewrites the stack file's cluster config with these nodes (the encrypted key stays as it is). */
export function setNodes(lab: VmLab, nodes: VmNode[]): void {
    const file = path.join(lab.projectDir!, `Pulumi.${STACK}.yaml`);
    const doc = parse(fs.readFileSync(file, "utf8"));
    doc.config["kubespray-ha:cluster"] = clusterConfig(lab, nodes);
    fs.writeFileSync(file, stringify(doc));
}

/** An engine event with the time (ms) it reached us; the engine's own timestamp has 1 s resolution. */
export interface TimedEvent {
    at: number;
    event: EngineEvent;
}

export interface TimedUp {
    result: UpResult;
    seconds: number;
    events: TimedEvent[];
    /** Per node: seconds from its domain started (create done) to its first SSH banner. */
    firstSsh: Record<string, number>;
    /** Per node: seconds from its domain started to the readiness wait done (SSH + cloud-init). */
    ready: Record<string, number>;
    /** The engine's log lines per resource name (the command's stdout/stderr lines). */
    logs: Record<string, string[]>;
}

/** Name (last URN segment) of a resource. */
export const urnName = (urn: string) => urn.split("::").pop()!;

/** The steps of an update, in the order the engine finished them: `<op> <resource name>`. */
export function finishedSteps(events: TimedEvent[]): string[] {
    return events.filter((e) => e.event.resOutputsEvent).map((e) => `${e.event.resOutputsEvent!.metadata.op} ${urnName(e.event.resOutputsEvent!.metadata.urn)}`);
}

/**
 * Answers once per node whether its SSH server sends a banner. Only while the lab's bridge exists: without
 * it the route to 10.250.20.0/24 would be the default one, and nothing may leave for another network.
 */
function sshBanner(lab: VmLab, ip: string): Promise<boolean> {
    if (!fs.existsSync(`/sys/class/net/${lab.bridge}`)) return Promise.resolve(false);
    return new Promise((resolve) => {
        const sock = net.createConnection({ host: ip, port: 22 });
        const done = (ok: boolean) => {
            sock.destroy();
            resolve(ok);
        };
        sock.setTimeout(2000, () => done(false));
        sock.once("data", (d) => done(d.toString().startsWith("SSH-")));
        sock.once("error", () => done(false));
    });
}

/**
 * `pulumi up` with events timed and, per node whose domain starts, its first SSH banner. `signal` sends
 * the CLI a SIGINT (Pulumi then lets the running steps finish and stops).
 */
export async function timedUp(stack: Stack, lab: VmLab, nodes: VmNode[], signal?: AbortSignal): Promise<TimedUp> {
    const events: TimedEvent[] = [];
    const started: Record<string, number> = {};
    const firstSsh: Record<string, number> = {};
    const ready: Record<string, number> = {};
    const logs: Record<string, string[]> = {};
    const watches: Promise<void>[] = [];
    let stop = false;
    const watch = async (node: VmNode) => {
        while (!stop && firstSsh[node.name] === undefined) {
            const t = Date.now();
            if (await sshBanner(lab, node.ip)) {
                firstSsh[node.name] = (Date.now() - started[node.name]) / 1000;
                return;
            }
            await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (Date.now() - t))));
        }
    };
    const t0 = Date.now();
    let result: UpResult;
    try {
        result = await stack.up({
            color: "never",
            signal,
            onEvent: (event) => {
                const at = Date.now();
                events.push({ at, event });
                const out = event.resOutputsEvent;
                if (out) {
                    const name = urnName(out.metadata.urn);
                    for (const n of nodes) {
                        if (out.metadata.op === "create" && name === `${lab.name}-${n.name}-domain`) {
                            started[n.name] = at;
                            watches.push(watch(n));
                        }
                        if (out.metadata.op === "create" && name === `${lab.name}-${n.name}-ready` && started[n.name] !== undefined) {
                            ready[n.name] = (at - started[n.name]) / 1000;
                        }
                    }
                }
                const diag = event.diagnosticEvent;
                if (diag?.urn) {
                    (logs[urnName(diag.urn)] ??= []).push(diag.message.trimEnd());
                }
            },
        });
    } finally {
        stop = true;
        await Promise.all(watches);
    }
    return { result, seconds: (Date.now() - t0) / 1000, events, firstSsh, ready, logs };
}

/** Runs a command on a VM over SSH as the login user; throws with stderr on failure. */
export function sshRun(lab: VmLab, ip: string, command: string): string {
    const r = spawnSync(
        "ssh",
        ["-n", "-i", lab.privateKeyFile, "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10", `kube@${ip}`, command],
        { encoding: "utf8", timeout: 60_000 },
    );
    if (r.status !== 0) throw new Error(`ssh kube@${ip} ${command}: exit ${r.status ?? r.signal}: ${r.stderr}`);
    return r.stdout;
}

export function virsh(...args: string[]): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync("virsh", ["-c", LIBVIRT_URI, ...args], { encoding: "utf8", timeout: 60_000 });
    return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

const lines = (text: string) => text.split("\n").map((l) => l.trim()).filter(Boolean);

/** What of the lab exists now: domains, networks, files in its storage dir (and whether the dir exists). */
export function labObjects(lab: Pick<VmLab, "name" | "storageDir">): { domains: string[]; networks: string[]; storageDir: string[] | undefined } {
    const mine = (n: string) => n.startsWith(`${lab.name}-`);
    return {
        domains: lines(virsh("list", "--all", "--name").stdout).filter(mine),
        networks: lines(virsh("net-list", "--all", "--name").stdout).filter(mine),
        storageDir: fs.existsSync(lab.storageDir) ? fs.readdirSync(lab.storageDir) : undefined,
    };
}

/**
 * Kills (SIGKILL) every process started for the lab that still runs: the Pulumi CLI, its plugins and
 * their commands (readiness waits, Ansible) all inherit KHA_STANDIN_RECORD=<lab.record> from vmStack.
 * After a SIGINT Pulumi lets running steps finish, and a readiness wait on a VM that is gone only ends
 * at bootTimeoutSeconds. Returns the pids killed.
 */
export function killLabProcesses(lab: Pick<VmLab, "record">): number[] {
    const marker = `KHA_STANDIN_RECORD=${lab.record}`;
    const killed: number[] = [];
    for (const pid of fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d) && Number(d) !== process.pid)) {
        try {
            if (fs.readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").includes(marker)) {
                process.kill(Number(pid), "SIGKILL");
                killed.push(Number(pid));
            }
        } catch {
            // gone meanwhile, or not ours to read
        }
    }
    return killed;
}

/** Removes every domain, network and file of the lab. Best effort, never throws; returns what is left. */
export function destroyVmLab(lab: Pick<VmLab, "name" | "storageDir"> & Partial<VmLab>): ReturnType<typeof labObjects> {
    const found = labObjects(lab);
    for (const d of found.domains) {
        virsh("destroy", "--domain", d);
        virsh("undefine", "--domain", d, "--managed-save", "--snapshots-metadata");
    }
    for (const n of found.networks) {
        virsh("net-destroy", "--network", n);
        virsh("net-undefine", "--network", n);
    }
    fs.rmSync(lab.storageDir, { recursive: true, force: true });
    for (const d of [lab.dir, lab.projectDir]) {
        if (d) fs.rmSync(d, { recursive: true, force: true });
    }
    return labObjects(lab);
}

/** True when a live process owns the lab (its temp dir holds the pid of a running process). */
function labInUse(name: string): boolean {
    return fs.readdirSync(os.tmpdir()).some((d) => {
        if (!d.startsWith(`${name}-`)) return false;
        try {
            process.kill(Number(fs.readFileSync(path.join(os.tmpdir(), d, "pid"), "utf8")), 0);
            return true;
        } catch {
            return false;
        }
    });
}

/** Labs a killed earlier run left behind (names khavm<4 hex>, no live owner): their domains, networks and storage dirs. */
export function removeStaleLabs(): void {
    if (!onPath("virsh") || spawnSync("virsh", ["-c", LIBVIRT_URI, "version"], { stdio: "ignore", timeout: 15_000 }).status !== 0) return;
    const names = new Set<string>();
    for (const n of [...lines(virsh("list", "--all", "--name").stdout), ...lines(virsh("net-list", "--all", "--name").stdout)]) {
        const prefix = n.split("-")[0];
        if (LAB_NAME.test(prefix)) names.add(prefix);
    }
    for (const d of fs.existsSync(IMAGES_DIR) ? fs.readdirSync(IMAGES_DIR) : []) {
        if (LAB_NAME.test(d)) names.add(d);
    }
    for (const name of [...names].filter((n) => !labInUse(n))) {
        console.warn(`removing a stale lab of an earlier run: ${name}`);
        destroyVmLab({ name, storageDir: path.join(IMAGES_DIR, name) });
    }
}

// End to end with real VMs: the real Pulumi engine (Automation API, tests/helpers/engine.ts) runs the
// program on the libvirt backend against the local libvirtd: an isolated network 10.250.20.0/24, one
// Debian VM (software emulation, 768 MiB, 1 vCPU, direct kernel boot of the test image) on a qcow2
// overlay with a cloud-init seed, the readiness wait over SSH, and tests/fixtures/kubespray-standin run by
// real Ansible over SSH into the VMs as `kube` with sudo. Then a no-op `up`, a second (worker) VM added
// and removed again, and `destroy`. Sized for software emulation on 2 cores (issue 24): at most two VMs
// at once, one booting at a time (three TCG VMs booting together missed a fixed 400 s wait on a quiet
// machine), and the readiness budget derived from the boot last measured here (bootBudget(), printed).
// Needs root, libvirtd, the test image and the engine: skipped with the reason printed, failed under CI.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";
import { parse } from "yaml";
import { Engine, stateText } from "./helpers/engine";
import { missingPrerequisiteFails } from "./helpers/real-tests";
import {
    createVmLab,
    destroyVmLab,
    finishedSteps,
    killLabProcesses,
    labObjects,
    setNodes,
    sshRun,
    STANDIN_DIR,
    bootBudget,
    ONE_NODE,
    recordBoot,
    TimedUp,
    timedUp,
    urnName,
    VIP,
    virsh,
    VmLab,
    VmNode,
    vmEngineOrReason,
    vmStack,
    WORKER2,
} from "./helpers/vm-cluster";

const WHAT = "tests/e2e-vms.test.ts (libvirt VMs under the real Pulumi engine)";
const found: Engine | { reason: string } = process.env.KUBESPRAY_HA_SKIP_REAL_VMS
    ? { reason: "KUBESPRAY_HA_SKIP_REAL_VMS is set" }
    : vmEngineOrReason(WHAT);
const reason = "reason" in found ? found.reason : undefined;
if (reason && missingPrerequisiteFails() && !process.env.KUBESPRAY_HA_SKIP_REAL_VMS) {
    test("real-VM prerequisites", () => {
        throw new Error(`${WHAT} cannot run under CI: ${reason}`);
    });
}

const MIN = 60_000;
/** Minutes a step that boots a VM may take: the readiness budget plus the rest of the up. */
const BOOT_STEP_MINUTES = Math.ceil(bootBudget().seconds / 60) + 5;
const CONFIG = `config=${path.join(STANDIN_DIR, "ansible.cfg")}`;
const API = `api=${VIP}:6443`;

(reason ? describe.skip : describe)("libvirt VMs under the real Pulumi engine, Kubespray stand-in over SSH", () => {
    const engine = found as Engine;
    const t0 = Date.now();
    const figures: Record<string, unknown> = {};
    let lab: VmLab;
    let stack: Stack;
    /** The first step that failed: the later ones build on it and fail at once instead of waiting. */
    let broken: string | undefined;
    /** Lines of the controller's runs.log and of each VM's record already seen by an earlier step. */
    let runsSeen = 0;
    const hostSeen: Record<string, number> = {};

    /** The operation in flight: a step that times out leaves it running; afterAll stops it before cleaning up. */
    let inFlight: Promise<unknown> | undefined;
    const abort = new AbortController();

    function step(title: string, minutes: number, body: () => Promise<void>): void {
        it(title, async () => {
            if (broken) throw new Error(`not run: an earlier step failed (${broken})`);
            try {
                await body();
            } catch (err) {
                broken = title;
                throw err;
            }
        }, minutes * MIN);
    }

    function runUp(nodes: VmNode[]): Promise<TimedUp> {
        const op = timedUp(stack, lab, nodes, abort.signal);
        inFlight = op.catch(() => undefined);
        return op;
    }

    beforeAll(async () => {
        lab = createVmLab();
        console.log(`${WHAT}: libvirt.bootTimeoutSeconds ${lab.boot.seconds}: ${lab.boot.why}`);
        figures.bootTimeoutSeconds = lab.boot.seconds;
        stack = await vmStack(engine, lab, ONE_NODE);
    }, 2 * MIN);

    afterAll(async () => {
        if (!lab) return;
        abort.abort();
        // Pulumi lets running steps finish after a SIGINT (a readiness wait can take minutes): bounded.
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([inFlight, new Promise((r) => (timer = setTimeout(r, MIN)))]);
        clearTimeout(timer);
        const killed = killLabProcesses(lab);
        if (killed.length > 0) console.warn(`${WHAT}: killed processes still running for the lab: ${killed.join(" ")}`);
        const left = destroyVmLab(lab);
        figures.wholeFileSeconds = (Date.now() - t0) / 1000;
        console.log(`${WHAT}: measured\n${JSON.stringify(figures, null, 2)}`);
        if (left.domains.length + left.networks.length > 0 || left.storageDir) {
            console.warn(`${WHAT}: cleanup left ${JSON.stringify(left)}`);
        }
    }, 3 * MIN);

    const name = (node: string, role: string) => `${lab.name}-${node}-${role}`;

    /** Playbook runs recorded on the controller since the last call. */
    function newRuns(): string[] {
        const file = path.join(lab.record, "runs.log");
        const all = fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").map((l) => l.trimEnd()).filter(Boolean) : [];
        const fresh = all.slice(runsSeen);
        runsSeen = all.length;
        return fresh;
    }

    /** What the stand-in recorded on the VM itself (read over SSH) since the last call. */
    function newHostRecords(node: VmNode): string[] {
        const all = sshRun(lab, node.ip, `cat ${lab.record}/hosts/${node.name}.log 2>/dev/null || true`).split("\n").filter(Boolean);
        const fresh = all.slice(hostSeen[node.name] ?? 0);
        hostSeen[node.name] = all.length;
        return fresh;
    }

    function expectRunning(node: VmNode): void {
        const info = virsh("dominfo", "--domain", `${lab.name}-${node.name}`);
        expect(info.status).toBe(0);
        expect(info.stdout).toMatch(/^State:\s+running$/m);
        expect(info.stdout).toMatch(/^CPU\(s\):\s+1$/m);
        expect(info.stdout).toMatch(/^Max memory:\s+786432 KiB$/m);
        const xml = virsh("dumpxml", "--domain", `${lab.name}-${node.name}`).stdout;
        expect(xml).toMatch(/<domain type='qemu'/);
        expect(xml).toContain(`<kernel>${lab.image.kernel}</kernel>`);
        expect(xml).toContain(`<initrd>${lab.image.initrd}</initrd>`);
        expect(xml).toContain("<cmdline>root=/dev/vda rw console=ttyS0</cmdline>");
        expect(xml).toContain(`<source file='${path.join(lab.storageDir, `${lab.name}-${node.name}.qcow2`)}'`);
        expect(xml).toContain(`<source file='${path.join(lab.storageDir, `${lab.name}-${node.name}-seed.iso`)}'`);
        expect(xml).toContain(`<source network='${lab.network}'`);
    }

    /** The VM booted from its seed: hostname, static address on enp1s0, cloud-init done, the user's sudo. */
    function expectBootedFromSeed(node: VmNode, up: TimedUp): void {
        expect(up.logs[name(node.name, "ready")]).toContain(`${node.name}: ready (SSH answers, cloud-init done)`);
        const out = sshRun(lab, node.ip, "hostname; ip -4 -o addr show dev enp1s0; cloud-init status; sudo -n id -un").split("\n");
        expect(out[0]).toBe(node.name);
        expect(out[1]).toContain(`inet ${node.ip}/24`);
        expect(out[2]).toBe("status: done");
        expect(out[3]).toBe("root");
    }

    function storageFiles(nodes: VmNode[]): string[] {
        return nodes.flatMap((n) => [`${lab.name}-${n.name}-seed.iso`, `${lab.name}-${n.name}.qcow2`]).sort();
    }

    function figuresOf(up: TimedUp): Record<string, unknown> {
        return { seconds: up.seconds, firstSshSeconds: up.firstSsh, readySeconds: up.ready, changes: up.result.summary.resourceChanges };
    }

    step("up: an isolated network, a VM from an overlay and a seed, ready over SSH; cluster.yml ran on it; kubeconfig at the VIP", BOOT_STEP_MINUTES, async () => {
        const up = await runUp(ONE_NODE);
        figures.firstUp = figuresOf(up);
        expect(up.result.summary.result).toBe("succeeded");
        recordBoot(up.ready);

        // The network: isolated (no <forward>), the bridge at the gateway, one DHCP host entry per node.
        const info = virsh("net-info", "--network", lab.network);
        expect(info.stdout).toMatch(/^Active:\s+yes$/m);
        expect(info.stdout).toMatch(new RegExp(`^Bridge:\\s+${lab.bridge}$`, "m"));
        const netXml = virsh("net-dumpxml", "--network", lab.network).stdout;
        expect(netXml).not.toContain("<forward");
        expect(netXml).toContain("<ip address='10.250.20.1' prefix='24'>");
        for (const n of ONE_NODE) expect(netXml).toContain(`name='${n.name}' ip='${n.ip}'`);

        // The overlay on the staged base image and the seed ISO, in the storage dir; a running domain.
        expect(fs.readdirSync(lab.storageDir).sort()).toEqual(storageFiles(ONE_NODE));
        for (const n of ONE_NODE) {
            // -U: the running domain holds the image's write lock.
            const disk = JSON.parse(execFileSync("qemu-img", ["info", "-U", "--output=json", path.join(lab.storageDir, `${lab.name}-${n.name}.qcow2`)], { encoding: "utf8" }));
            expect(disk["backing-filename"]).toBe(lab.image.baseImage);
            expect(disk["virtual-size"]).toBe(4 * 1024 ** 3);
            expectRunning(n);
            expectBootedFromSeed(n, up);
        }

        // The stand-in's cluster.yml ran once, over SSH into every VM as kube; nothing else ran (the
        // upgrade was covered by cluster.yml in the same deployment).
        expect(newRuns()).toEqual([`cluster.yml limit= forks=5 ${CONFIG} hosts=node1 kube_version=kubespray-default ${API}`]);
        for (const n of ONE_NODE) {
            expect(newHostRecords(n)).toEqual([`cluster.yml kube_version=kubespray-default ${API} server=${n.ip} user=kube`]);
        }

        // The exported kubeconfig is a secret whose server is the VIP; the state holds no plaintext key.
        const outputs = await stack.outputs();
        expect(outputs.kubeconfig.secret).toBe(true);
        expect(parse(outputs.kubeconfig.value).clusters[0].cluster.server).toBe(`https://${VIP}:6443`);
        expect(outputs.apiServerUrl.value).toBe(`https://${VIP}:6443`);
        const keyBody = lab.privateKey.split("\n")[1];
        expect(stateText(lab.projectDir!)).not.toContain(keyBody);
    });

    step("a second up changes nothing and runs no playbook", 5, async () => {
        const up = await runUp(ONE_NODE);
        figures.noopUp = figuresOf(up);
        // "read": the program's StackReference to its own last deployment (lastDeploymentSpecs), read on every up.
        expect(Object.keys(up.result.summary.resourceChanges ?? {}).sort()).toEqual(["read", "same"]);
        expect(up.result.summary.resourceChanges!.read).toBe(1);
        expect(newRuns()).toEqual([]);
        for (const n of ONE_NODE) expect(newHostRecords(n)).toEqual([]);
    });

    step("adding a worker boots one more VM and runs only facts.yml and scale.yml --limit=node2", BOOT_STEP_MINUTES, async () => {
        setNodes(lab, [...ONE_NODE, WORKER2]);
        const up = await runUp([WORKER2]);
        figures.addWorkerUp = figuresOf(up);
        const created = finishedSteps(up.events).filter((s) => s.startsWith("create ")).sort();
        expect(created).toEqual(
            ["disk", "seed", "domain", "ready"].map((r) => `create ${name("node2", r)}`).concat(`create ${lab.name}-kubespray-node-node2`).sort(),
        );
        expect(fs.readdirSync(lab.storageDir).sort()).toEqual(storageFiles([...ONE_NODE, WORKER2]));
        expect(labObjects(lab).domains.sort()).toEqual([...ONE_NODE, WORKER2].map((n) => `${lab.name}-${n.name}`));
        expectRunning(WORKER2);
        expectBootedFromSeed(WORKER2, up);
        expect(newRuns()).toEqual([
            `playbooks/facts.yml limit= forks=5 ${CONFIG} hosts=node1,node2`,
            `scale.yml limit=node2 forks=5 ${CONFIG} hosts=node2`,
        ]);
        for (const n of ONE_NODE) expect(newHostRecords(n)).toEqual([`playbooks/facts.yml  server=${n.ip} user=kube`]);
        expect(newHostRecords(WORKER2)).toEqual([`playbooks/facts.yml  server=${WORKER2.ip} user=kube`, `scale.yml  server=${WORKER2.ip} user=kube`]);
    });

    step("removing the worker runs remove-node.yml on its VM before the VM is destroyed", 6, async () => {
        setNodes(lab, ONE_NODE);
        const up = await runUp([]);
        figures.removeWorkerUp = figuresOf(up);
        // remove-node.yml reached the VM over SSH (its own address), so the VM was up when it ran.
        expect(newRuns()).toEqual([`remove-node.yml limit= forks=5 ${CONFIG} hosts=node2 node=node2 skip_confirmation=true ip=${WORKER2.ip}`]);
        // Engine order: the node command's delete finished before the domain's delete began.
        const steps = finishedSteps(up.events);
        const removeNode = steps.indexOf(`delete ${lab.name}-kubespray-node-node2`);
        const domainDeleted = steps.indexOf(`delete ${name("node2", "domain")}`);
        expect(removeNode).toBeGreaterThanOrEqual(0);
        expect(domainDeleted).toBeGreaterThan(removeNode);
        const domainDeleteStarts = up.events.find((e) => e.event.resourcePreEvent?.metadata.op === "delete" && urnName(e.event.resourcePreEvent.metadata.urn) === name("node2", "domain"))!;
        const removeNodeDone = up.events.find((e) => e.event.resOutputsEvent?.metadata.op === "delete" && urnName(e.event.resOutputsEvent.metadata.urn) === `${lab.name}-kubespray-node-node2`)!;
        expect(domainDeleteStarts.event.sequence).toBeGreaterThan(removeNodeDone.event.sequence);
        // Wall clock: the stand-in's record of the run was written before the domain was gone.
        const recordedAt = fs.statSync(path.join(lab.record, "runs.log")).mtimeMs;
        const domainGoneAt = up.events.find((e) => e.event.resOutputsEvent?.metadata.op === "delete" && urnName(e.event.resOutputsEvent.metadata.urn) === name("node2", "domain"))!.at;
        expect(recordedAt).toBeLessThan(domainGoneAt);
        figures.removeNodeRecordedSecondsBeforeDomainGone = (domainGoneAt - recordedAt) / 1000;

        expect(labObjects(lab).domains.sort()).toEqual(ONE_NODE.map((n) => `${lab.name}-${n.name}`));
        expect(fs.readdirSync(lab.storageDir).sort()).toEqual(storageFiles(ONE_NODE));
        for (const n of ONE_NODE) expectRunning(n);
    });

    step("destroy leaves no domain, no network, no file", 6, async () => {
        const t = Date.now();
        const op = stack.destroy({ color: "never", signal: abort.signal });
        inFlight = op.catch(() => undefined);
        const result = await op;
        figures.destroySeconds = (Date.now() - t) / 1000;
        expect(result.summary.result).toBe("succeeded");
        const left = labObjects(lab);
        expect(left).toEqual({ domains: [], networks: [], storageDir: undefined });
        expect(virsh("list", "--all", "--name").stdout).not.toContain(lab.name);
        expect(virsh("net-list", "--all", "--name").stdout).not.toContain(lab.name);
        expect(fs.existsSync(`/sys/class/net/${lab.bridge}`)).toBe(false);
    });
});

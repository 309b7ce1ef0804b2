// The program under the REAL Pulumi engine (Automation API, file:// backend, passphrase secrets):
//   1. preview of the dev (libvirt) stack and of the hetzner stack; bad config fails the preview naming the key;
//   2. up of a baremetal stack whose machines are network namespaces with sshd, Kubespray being
//      tests/fixtures/kubespray-standin run by real Ansible: outputs, a no-op second up, secrets in the
//      state, adding a worker;
//   3. a second program reads the outputs through a StackReference;
//   4. destroy: remove-node.yml runs before the worker's machine goes.
// The engine is what tests/infra/install-pulumi.sh built (see tests/helpers/engine.ts). Without it, or without a
// provider plugin, or without network namespaces, the tests are skipped with the reason printed; under CI a
// missing CLI fails.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";
import { parse, stringify } from "yaml";
import { copyProject, Engine, engineStack, findEngine, pluginsMissing, stateText } from "./helpers/engine";
import { EventLog, exportWithoutSecrets, unmarkedOccurrences, writeConsumerProgram } from "./helpers/engine-events";
import { generateKeyPair } from "./helpers/keys";
import { Lab, missingPrerequisite, NamespaceLab } from "./helpers/netns";
import { requireOrSkip } from "./helpers/real-tests";

jest.setTimeout(300_000);

/** The hcloud provider's API endpoint for the previews: a closed port on loopback, so no lookup leaves this machine. */
const HETZNER_OFFLINE = { HCLOUD_ENDPOINT: "http://127.0.0.1:9/v1" };

const ROOT = path.join(__dirname, "..");
const STANDIN = path.join(__dirname, "fixtures", "kubespray-standin");
const ANSIBLE_PLAYBOOK = "/usr/bin/ansible-playbook";
const PREFIX = "10.250.1";
const VIP = `${PREFIX}.100`;
const CLUSTER = "kubespray-ha:cluster";

const found = findEngine();
const engineReason = "reason" in found ? found.reason : undefined;
const engine = engineReason === undefined ? (found as Engine) : undefined;
requireOrSkip("tests/engine.test.ts", engineReason, "the Pulumi engine is installed");
const programReason = engine ? pluginsMissing(engine, ["command", "kubernetes"]) : engineReason;
if (engine && programReason) console.warn(`skipping the engine tests: ${programReason}`);
const hcloudReason = engine ? pluginsMissing(engine, ["hcloud"]) : engineReason;
if (engine && hcloudReason) console.warn(`skipping the preview of the hetzner stack: ${hcloudReason}`);
const netnsReason = engine && !programReason ? missingPrerequisite() : undefined;
requireOrSkip("the baremetal stack of tests/engine.test.ts", netnsReason, "network namespaces for the baremetal stack");

/** Seconds per engine operation, printed in afterAll. */
const timings: [string, number][] = [];
async function timed<T>(label: string, op: () => Promise<T>): Promise<T> {
    const t0 = Date.now();
    try {
        return await op();
    } finally {
        timings.push([label, (Date.now() - t0) / 1000]);
    }
}
afterAll(() => {
    if (timings.length > 0) console.log(`engine timings (s):\n${timings.map(([l, s]) => `  ${l}: ${s.toFixed(1)}`).join("\n")}`);
});

const readStackFile = (name: string) => parse(fs.readFileSync(path.join(ROOT, `Pulumi.${name}.yaml`), "utf8")).config as Record<string, any>;
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v));

/** The resources in a stack's state (none before the first up and after destroy). */
async function stateResources(stack: Stack): Promise<{ urn: string; type: string }[]> {
    const exported = await stack.exportStack();
    return (exported.deployment?.resources ?? []) as { urn: string; type: string }[];
}

(programReason ? describe.skip : describe)("preview under the real engine", () => {
    let work: string;
    let project: string;
    const stacks: Record<string, Record<string, any>> = {};

    beforeAll(() => {
        work = fs.mkdtempSync(path.join(os.tmpdir(), "kha-engine-work-"));
        const keys = generateKeyPair(path.join(work, "keys"), "id_ed25519", "kubespray-ha-engine-test");
        const dev = readStackFile("dev");
        dev[CLUSTER].ssh = { ...dev[CLUSTER].ssh, publicKeyPath: keys.publicKeyPath, privateKeyPath: keys.privateKeyPath };
        const hetzner = readStackFile("hetzner");
        hetzner[CLUSTER].ssh = { ...hetzner[CLUSTER].ssh, publicKeyPath: keys.publicKeyPath };
        stacks.dev = dev;
        stacks.hetzner = hetzner;

        stacks["bad-vip"] = clone(dev);
        stacks["bad-vip"][CLUSTER].vip.address = "192.168.122.1";
        stacks["bad-even"] = clone(dev);
        stacks["bad-even"][CLUSTER].nodes = dev[CLUSTER].nodes.slice(0, 2);
        stacks["bad-nokey"] = clone(dev);
        delete stacks["bad-nokey"][CLUSTER].ssh.privateKeyPath;
        stacks["bad-arp"] = clone(hetzner);
        stacks["bad-arp"][CLUSTER].vip.mode = "arp";
        stacks["bad-notoken"] = clone(hetzner);
        project = copyProject(stacks);
    });

    afterAll(() => {
        for (const dir of [project, work]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it("dev (libvirt): the nodes, the Kubespray commands and the Kubernetes provider, nothing else", async () => {
        const stack = await engineStack(engine!, project, "dev");
        const log = new EventLog();
        const result = await timed("preview dev", () => stack.preview({ onEvent: log.onEvent }));
        expect(log.errors()).toBe("");
        const creates = log.countByType("create");
        // The network, per node its disk, seed ISO, domain and readiness commands; then inventory, cluster,
        // upgrade, kubeconfig (every node has the worker role too, so there is no worker-only node command).
        expect(creates).toEqual({
            "pulumi:pulumi:Stack": 1,
            "kubespray-ha:index:LibvirtCluster": 1,
            "kubespray-ha:index:KubesprayRun": 1,
            "command:local:Command": 17,
            "pulumi:providers:command": 1,
            "pulumi:providers:kubernetes": 1,
            // The default provider of the StackReference to the stack's last deployment (lastDeploymentSpecs).
            "pulumi:providers:pulumi": 1,
        });
        // The change summary counts every resource but the default providers and the self-reference.
        expect(result.changeSummary).toEqual({ create: 21 });
        const names = log.steps("pre").filter((s) => s.type === "command:local:Command").map((s) => s.name);
        expect(names.sort()).toEqual([
            "dev-kubenode1-disk", "dev-kubenode1-domain", "dev-kubenode1-ready", "dev-kubenode1-seed",
            "dev-kubenode2-disk", "dev-kubenode2-domain", "dev-kubenode2-ready", "dev-kubenode2-seed",
            "dev-kubenode3-disk", "dev-kubenode3-domain", "dev-kubenode3-ready", "dev-kubenode3-seed",
            "dev-kubespray-cluster", "dev-kubespray-inventory", "dev-kubespray-kubeconfig", "dev-kubespray-upgrade",
            "dev-network",
        ]);
        console.log(`dev preview: ${JSON.stringify(creates)}; commands: ${names.join(", ")}`);
        expect(await stateResources(stack)).toEqual([]);
    });

    (hcloudReason ? it.skip : it)("hetzner (real hcloud provider, fake token): servers at their private IPs, the LB at the VIP, the firewall", async () => {
        const stack = await engineStack(engine!, project, "hetzner", HETZNER_OFFLINE);
        await stack.setConfig("kubespray-ha:sshPrivateKey", { value: "not-a-key", secret: true });
        await stack.setConfig("hcloud:token", { value: "x".repeat(64), secret: true });
        const log = new EventLog();
        await timed("preview hetzner", () => stack.preview({ onEvent: log.onEvent }));
        // The only errors: the provider's own report of its server-type lookups, refused on loopback (no
        // Hetzner API here; one per type); the program then warns, per type, that only the static list was checked.
        const lookupFailure = /^(\[ERROR\] An unexpected error was encountered during an API request\.|: API request failed|.*server_types\?name=\w+.*(connection refused|127\.0\.0\.1:9).*)$/i;
        const errors = log.errors().split("\n").filter((l) => l.trim() !== "");
        expect(errors.filter((l) => !lookupFailure.test(l.trim()))).toEqual([]);
        const types = new Set((stacks.hetzner[CLUSTER].nodes as { serverType?: string }[]).map((n) => n.serverType ?? stacks.hetzner[CLUSTER].hcloud?.serverType ?? "cx23"));
        const warned = log.events.filter((e) => e.diagnosticEvent?.severity === "warning").map((e) => e.diagnosticEvent!.message);
        for (const t of types) expect(warned.join("\n")).toContain(`could not read Hetzner's data for ${t}`);
        const creates = log.countByType("create");
        const cfg = stacks.hetzner[CLUSTER];
        const nodes = cfg.nodes as { name: string; ip: string; roles: string[] }[];
        const controlPlanes = nodes.filter((n) => n.roles.includes("control-plane"));
        expect(creates["kubespray-ha:index:HcloudCluster"]).toBe(1);
        expect(creates["pulumi:providers:hcloud"]).toBeGreaterThanOrEqual(1);
        expect(creates["hcloud:index/server:Server"]).toBe(nodes.length);
        expect(creates["hcloud:index/loadBalancer:LoadBalancer"]).toBe(1);
        expect(creates["hcloud:index/loadBalancerTarget:LoadBalancerTarget"]).toBe(controlPlanes.length);
        expect(creates["hcloud:index/firewall:Firewall"]).toBe(1);
        expect(creates["pulumi:providers:kubernetes"]).toBe(1);

        // Each server joins the subnet at the IP its node has in the stack file.
        const servers = Object.values(log.plannedInputs("hcloud:index/server:Server"));
        const serverIps = Object.fromEntries(servers.map((s) => [s.name as string, (s.networks as { ip: string }[]).map((n) => n.ip)]));
        expect(Object.values(serverIps).sort()).toEqual(nodes.map((n) => [n.ip]).sort());
        // The Load Balancer sits at the VIP in that subnet, forwards the API port to the control planes' private IPs.
        const lbNetworks = Object.values(log.plannedInputs("hcloud:index/loadBalancerNetwork:LoadBalancerNetwork"));
        expect(lbNetworks.map((n) => n.ip)).toEqual([cfg.vip.address]);
        expect(lbNetworks[0].enablePublicInterface).toBe(cfg.hcloud.enablePublicInterface);
        const services = Object.values(log.plannedInputs("hcloud:index/loadBalancerService:LoadBalancerService"));
        expect(services.map((x) => [x.protocol, x.listenPort, x.destinationPort])).toEqual([["tcp", 6443, 6443]]);
        const targets = Object.values(log.plannedInputs("hcloud:index/loadBalancerTarget:LoadBalancerTarget"));
        expect(targets.map((t) => [t.type, t.usePrivateIp])).toEqual(controlPlanes.map(() => ["server", true]));
        // The firewall opens SSH and the API only to the configured sources.
        const firewalls = Object.values(log.plannedInputs("hcloud:index/firewall:Firewall"));
        const rules = (firewalls[0].rules as { direction: string; protocol: string; port?: string; sourceIps: string[] }[])
            .map((r) => `${r.direction} ${r.protocol} ${r.port ?? "-"} from ${[...r.sourceIps].sort().join(",")}`);
        const from = (cidrs: string[]) => [...cidrs].sort().join(",");
        expect(rules).toEqual(expect.arrayContaining([
            `in tcp 22 from ${from(cfg.hcloud.firewall.sshSourceCidrs)}`,
            `in tcp 6443 from ${from(cfg.hcloud.firewall.apiSourceCidrs)}`,
        ]));
        expect(rules.filter((r) => r.startsWith("in tcp"))).toHaveLength(2);
        console.log(`hetzner preview: ${JSON.stringify(creates)}; server IPs ${JSON.stringify(serverIps)}; firewall: ${rules.join("; ")}`);
        expect(await stateResources(stack)).toEqual([]);
    });

    (hcloudReason ? it.skip : it)("hetzner: cluster.yml and each worker's remove-node depend on the Load Balancer, its network attachment, targets and service (the engine's update plan)", async () => {
        const stack = await engineStack(engine!, project, "hetzner", HETZNER_OFFLINE);
        await stack.setConfig("kubespray-ha:sshPrivateKey", { value: "not-a-key", secret: true });
        await stack.setConfig("hcloud:token", { value: "x".repeat(64), secret: true });
        // `pulumi preview --save-plan`: the engine's goal for every resource, with the dependencies the
        // program registered (dependsOn and the resources behind its inputs).
        const planFile = path.join(work, "hetzner-plan.json");
        await timed("preview hetzner (save plan)", () => stack.preview({ plan: planFile }));
        type Goal = { type: string; name: string; dependencies?: string[] };
        const plan = JSON.parse(fs.readFileSync(planFile, "utf8")) as { resourcePlans: Record<string, { goal?: Goal }> };
        const goals = Object.fromEntries(Object.entries(plan.resourcePlans).flatMap(([urn, p]) => (p.goal ? [[urn, p.goal]] : []))) as Record<string, Goal>;
        const ofType = (type: string) => Object.keys(goals).filter((u) => goals[u].type === type);
        /** Everything `urn` depends on, directly or through other resources. */
        const reach = (urn: string): Set<string> => {
            const seen = new Set<string>();
            const todo = [...(goals[urn]?.dependencies ?? [])];
            while (todo.length > 0) {
                const u = todo.pop()!;
                if (!seen.has(u)) {
                    seen.add(u);
                    todo.push(...(goals[u]?.dependencies ?? []));
                }
            }
            return seen;
        };

        const cfg = stacks.hetzner[CLUSTER];
        const nodes = cfg.nodes as { name: string; roles: string[] }[];
        const apiParts = [
            ...ofType("hcloud:index/loadBalancer:LoadBalancer"),
            ...ofType("hcloud:index/loadBalancerNetwork:LoadBalancerNetwork"),
            ...ofType("hcloud:index/loadBalancerTarget:LoadBalancerTarget"),
            ...ofType("hcloud:index/loadBalancerService:LoadBalancerService"),
        ];
        const controlPlanes = nodes.filter((n) => n.roles.includes("control-plane"));
        // One Load Balancer, one network attachment, a target per control plane, one service.
        expect(apiParts).toHaveLength(3 + controlPlanes.length);
        // The example keeps the public interface off: the case where only dependsOn orders cluster.yml.
        expect(cfg.hcloud.enablePublicInterface).toBe(false);

        const commands = ofType("command:local:Command");
        const command = (name: string) => {
            const urn = commands.find((u) => goals[u].name === name);
            expect({ name, planned: urn !== undefined }).toEqual({ name, planned: true });
            return urn!;
        };
        const prefix = `${cfg.name ?? "hetzner"}-kubespray`;
        const workers = nodes.filter((n) => !n.roles.includes("control-plane") && !n.roles.includes("etcd"));
        expect(workers.length).toBeGreaterThan(0);
        // cluster.yml (create) and remove-node.yml (delete of each worker's node command).
        const playbookCommands = [`${prefix}-cluster`, ...workers.map((w) => `${prefix}-node-${w.name}`)];
        const report: string[] = [];
        for (const name of playbookCommands) {
            const reached = reach(command(name));
            const missing = apiParts.filter((u) => !reached.has(u)).map((u) => goals[u].name);
            expect({ name, missing }).toEqual({ name, missing: [] });
            const direct = new Set(goals[command(name)].dependencies ?? []);
            report.push(`${name} -> ${apiParts.map((u) => `${goals[u].name}${direct.has(u) ? "" : " (transitively)"}`).join(", ")}`);
        }
        // No part of the Load Balancer depends on a Kubespray command: the engine creates the Load Balancer
        // first and, on destroy or removal, deletes the dependents first, so remove-node.yml runs while the
        // VIP still answers.
        for (const u of apiParts) {
            const onCommands = [...reach(u)].filter((d) => commands.includes(d)).map((d) => goals[d].name);
            expect({ part: goals[u].name, onCommands }).toEqual({ part: goals[u].name, onCommands: [] });
        }
        console.log(`hetzner update plan (real engine, real hcloud plugin, fake token): ${report.join("; ")}`);
        expect(await stateResources(stack)).toEqual([]);
    });

    // Config errors throw while the program loads, before any provider is needed, so the hcloud ones
    // run without pulumi-resource-hcloud. `up` too must fail and leave an empty stack.
    // [stack, error, secrets to set, also try `up`] (up costs one more program compile; two cases show it).
    const bad: [string, RegExp, Record<string, string>, boolean][] = [
        ["bad-vip", /vip\.address: 192\.168\.122\.1 is the gateway address/, {}, true],
        ["bad-even", /nodes: 2 nodes have the role control-plane/, {}, false],
        ["bad-nokey", /kubespray-ha:sshPrivateKey: missing SSH private key/, {}, false],
        ["bad-arp", /vip\.mode: arp cannot hold a VIP on Hetzner Cloud/, {}, false],
        ["bad-notoken", /hcloud:token: missing Hetzner Cloud API token/, { "kubespray-ha:sshPrivateKey": "not-a-key" }, true],
    ];
    it.each(bad)("%s: preview fails naming the key, and nothing is created", async (name, pattern, secrets, alsoUp) => {
        const stack = await engineStack(engine!, project, name);
        for (const [key, value] of Object.entries(secrets)) {
            await stack.setConfig(key, { value, secret: true });
        }
        const log = new EventLog();
        await expect(timed(`preview ${name} (fails)`, () => stack.preview({ onEvent: log.onEvent }))).rejects.toThrow(pattern);
        expect(log.errors()).toMatch(pattern);
        // Nothing but the stack itself was even planned.
        expect(log.steps("pre").filter((s) => s.type !== "pulumi:pulumi:Stack")).toEqual([]);
        if (alsoUp) {
            await expect(timed(`up ${name} (fails)`, () => stack.up())).rejects.toThrow(pattern);
        }
        expect((await stateResources(stack)).filter((r) => r.type !== "pulumi:pulumi:Stack")).toEqual([]);
    });
});

(programReason || netnsReason ? describe.skip : describe)("a baremetal stack of network-namespace hosts under the real engine", () => {
    const lab = new NamespaceLab(["cp1", "w1", "w2", "w3"], PREFIX, 11, 1);
    let env: Lab;
    let work: string;
    let project: string;
    let record: string;
    let tmp: string;
    let stack: Stack;
    let config: Record<string, any>;

    const lines = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").map((l) => l.trimEnd()).filter(Boolean) : []);
    /** runs.log: one line per playbook run (the stand-in records it on the controller). */
    const runs = () => lines(path.join(record, "runs.log"));
    const hostLog = (name: string) => lines(path.join(record, "hosts", `${name}.log`));
    const hostAddress = (name: string) => env.hosts.find((h) => h.name === name)!.address;
    const ansibleCfg = `config=${path.join(STANDIN, "ansible.cfg")}`;
    const stackFile = () => path.join(project, "Pulumi.bm.yaml");

    function clusterConfig(names: string[]): Record<string, unknown> {
        return {
            backend: "baremetal",
            name: "bm",
            // The namespaces' NIC (tests/helpers/netns.ts); the readiness check confirms it on each control plane.
            interface: "eth0",
            network: { cidr: `${PREFIX}.0/24` },
            vip: { address: VIP },
            ssh: { user: "root", waitSeconds: 30 },
            nodes: env.hosts
                .filter((h) => names.includes(h.name))
                .map((h) => ({ name: h.name, ip: h.address, roles: h.name.startsWith("cp") ? ["control-plane", "etcd"] : ["worker"] })),
            kubespray: { dir: STANDIN, workDir: path.join(project, ".kubespray-ha"), ansiblePlaybook: ANSIBLE_PLAYBOOK },
        };
    }

    /** Rewrites the nodes in Pulumi.bm.yaml, keeping the encrypted secret and the salt. */
    function setNodes(names: string[]): void {
        const file = parse(fs.readFileSync(stackFile(), "utf8"));
        file.config[CLUSTER] = clusterConfig(names);
        fs.writeFileSync(stackFile(), stringify(file));
    }

    beforeAll(async () => {
        env = await lab.start();
        work = fs.mkdtempSync(path.join(os.tmpdir(), "kha-engine-bm-"));
        record = path.join(work, "record");
        tmp = path.join(work, "tmp");
        fs.mkdirSync(path.join(record, "hosts"), { recursive: true });
        fs.mkdirSync(tmp);
        project = copyProject({});
        config = clusterConfig(["cp1", "w1", "w2"]);
        fs.writeFileSync(stackFile(), stringify({ config: { [CLUSTER]: config } }));
        // The stand-in playbooks record into KHA_STANDIN_RECORD; the commands' temp files go to TMPDIR.
        stack = await engineStack(engine!, project, "bm", { KHA_STANDIN_RECORD: record, TMPDIR: tmp });
        await stack.setConfig("kubespray-ha:sshPrivateKey", { value: env.privateKey, secret: true });
    });

    afterAll(async () => {
        await lab.stop();
        for (const dir of [project, work]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    /** No file the commands left in TMPDIR holds the private key (the traps removed the key files). */
    function expectNoKeyInTmp(): void {
        const body = env.privateKey.split("\n").filter((l) => l && !l.startsWith("-----"))[0];
        const walk = (d: string): string[] => fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : [path.join(d, e.name)]));
        for (const f of walk(tmp)) {
            expect({ file: f, hasKey: fs.readFileSync(f, "utf8").includes(body) }).toEqual({ file: f, hasKey: false });
        }
    }

    let kubeconfigText = "";

    it("first up: readiness over SSH, cluster.yml on all three hosts, a secret kubeconfig at https://VIP:6443", async () => {
        const log = new EventLog();
        const result = await timed("first up (baremetal)", () => stack.up({ onEvent: log.onEvent }));
        expect(result.summary.result).toBe("succeeded");
        kubeconfigText = result.outputs.kubeconfig.value as string;
        const creates = log.countByType("create");
        expect(creates).toEqual({
            "pulumi:pulumi:Stack": 1,
            "kubespray-ha:index:BaremetalCluster": 1,
            "kubespray-ha:index:KubesprayRun": 1,
            "pulumi:providers:command": 1,
            "pulumi:providers:kubernetes": 1,
            "pulumi:providers:pulumi": 1,
            // 3 ready checks; inventory, cluster, upgrade, kubeconfig; node-w1, node-w2
            "command:local:Command": 9,
        });
        // Every resource but the default providers and the self-reference (read, counted from the next up on).
        expect(result.summary.resourceChanges).toEqual({ create: 13 });

        // One Kubespray run: cluster.yml over every host; the workers' and the upgrade's creates find
        // themselves covered by that run and run nothing.
        expect(runs()).toEqual([`cluster.yml limit= forks=5 ${ansibleCfg} hosts=cp1,w1,w2 kube_version=kubespray-default api=${VIP}:6443`]);
        expect(hostLog("cp1")).toEqual([`cluster.yml kube_version=kubespray-default api=${VIP}:6443 server=${PREFIX}.11 user=root`]);
        expect(hostLog("w2")).toEqual([`cluster.yml kube_version=kubespray-default api=${VIP}:6443 server=${PREFIX}.13 user=root`]);
        expect(hostLog("w3")).toEqual([]);

        const out = result.outputs;
        expect(out.kubeconfig.secret).toBe(true);
        const kc = parse(kubeconfigText);
        expect(kc.clusters[0].cluster.server).toBe(`https://${VIP}:6443`);
        expect(kc.users[0].user["client-key-data"]).toBe(Buffer.from("stand-in client key").toString("base64"));
        expect(out.apiServerUrl).toEqual({ value: `https://${VIP}:6443`, secret: false });
        expect(out.vip).toEqual({ value: VIP, secret: false });
        expect(out.nodeSshAddresses.value).toEqual({ cp1: `${PREFIX}.11`, w1: `${PREFIX}.12`, w2: `${PREFIX}.13` });
        expectNoKeyInTmp();
    });

    it("second up: no change, no command runs", async () => {
        const before = runs().length;
        const log = new EventLog();
        const result = await timed("no-op up (baremetal)", () => stack.up({ onEvent: log.onEvent }));
        console.log(`no-op up: resourceChanges ${JSON.stringify(result.summary.resourceChanges)}`);
        expect(result.summary.resourceChanges).toEqual({ same: 13, read: 1 });
        expect(log.changes()).toEqual(["read pulumi:pulumi:StackReference bm-last-deployment"]);
        expect(log.steps("pre").filter((s) => s.type === "command:local:Command" && s.op !== "same")).toEqual([]);
        expect(runs().length).toBe(before);
        for (const h of ["cp1", "w1", "w2"]) expect(hostLog(h)).toHaveLength(1);
    });

    it("the state holds neither the kubeconfig's client key nor the SSH private key in plaintext", async () => {
        const clientKey = parse(kubeconfigText).users[0].user["client-key-data"] as string;
        const keyLines = env.privateKey.split("\n").filter((l) => l && !l.startsWith("-----"));
        expect(keyLines.length).toBeGreaterThan(0);
        const needles: [string, string][] = [
            ["client-key-data", clientKey],
            ["client key, decoded", "stand-in client key"],
            ...keyLines.map((l, i): [string, string] => [`SSH private key line ${i + 1}`, l]),
        ];
        // The state files of the backend and `pulumi stack export` (no --show-secrets): ciphertext only.
        const files = stateText(project);
        const exported = exportWithoutSecrets(engine!.binDir, stack);
        expect(files).toMatch(/"ciphertext"/);
        for (const [where, text] of [["state files", files], ["pulumi stack export", exported], ["Pulumi.bm.yaml", fs.readFileSync(stackFile(), "utf8")]]) {
            for (const [what, needle] of needles) {
                expect({ where, what, found: text.includes(needle) }).toEqual({ where, what, found: false });
            }
        }
        // Automation API's exportStack() always decrypts (--show-secrets): there every occurrence must sit
        // inside a secret envelope (the kubeconfig command's stdout, the component and stack outputs, the
        // provider's kubeconfig; the key as stdin of every command).
        const deployment = (await stack.exportStack()).deployment;
        for (const [what, needle] of needles) {
            expect({ what, unmarked: unmarkedOccurrences(deployment, needle) }).toEqual({ what, unmarked: [] });
        }
        // ...and it is there (decrypted), so the check above looked at something.
        expect(JSON.stringify(deployment)).toContain(clientKey);
    });

    it("another stack reads the outputs through a StackReference; the kubeconfig stays secret", async () => {
        const consumerDir = path.join(work, "consumer");
        writeConsumerProgram(consumerDir, path.join(ROOT, "node_modules"));
        const consumer = await engineStack(engine!, consumerDir, "reader", { PULUMI_BACKEND_URL: `file://${path.join(project, ".state")}` });
        // A file backend has no organizations: stacks are organization/<project>/<stack>.
        await consumer.setConfig("consumer:ref", { value: "organization/kubespray-ha/bm" });
        const result = await timed("up of the StackReference consumer", () => consumer.up());
        const out = result.outputs;
        expect(out.apiServerUrl).toEqual({ value: `https://${VIP}:6443`, secret: false });
        expect(out.vip).toEqual({ value: VIP, secret: false });
        expect(out.nodes.value).toEqual([
            { name: "cp1", roles: ["control-plane", "etcd"], ip: `${PREFIX}.11` },
            { name: "w1", roles: ["worker"], ip: `${PREFIX}.12` },
            { name: "w2", roles: ["worker"], ip: `${PREFIX}.13` },
        ]);
        expect(out.kubeconfig.secret).toBe(true);
        expect(out.kubeconfig.value).toBe(kubeconfigText);
        expect(out.kubeconfigIsSecret.value).toBe(true);
        await timed("destroy of the consumer", () => consumer.destroy());
    });

    it("adding a worker: preview shows only its resources; up runs facts.yml + scale.yml --limit=w3", async () => {
        setNodes(["cp1", "w1", "w2", "w3"]);
        const log = new EventLog();
        const preview = await timed("preview with a 4th host", () => stack.preview({ onEvent: log.onEvent }));
        console.log(`preview after adding w3: ${JSON.stringify(preview.changeSummary)}; ${log.changes().join("; ")}`);
        expect(log.changes().filter((c) => c.startsWith("create "))).toEqual([
            "create command:local:Command bm-kubespray-node-w3",
            "create command:local:Command bm-w3-ready",
        ]);
        // The inventory files list w3 now: rewritten in place (update runs no playbook). Nothing else changes.
        expect(log.changes().filter((c) => !c.startsWith("create "))).toEqual([
            "read pulumi:pulumi:StackReference bm-last-deployment",
            "update command:local:Command bm-kubespray-inventory",
        ]);
        expect(preview.changeSummary).toEqual({ create: 2, update: 1, same: 12 });

        const before = runs().length;
        const beforeHosts = Object.fromEntries(["cp1", "w1", "w2"].map((h) => [h, hostLog(h).length]));
        const result = await timed("up with a 4th host", () => stack.up());
        expect(result.summary.resourceChanges).toEqual({ create: 2, update: 1, same: 12 });
        expect(runs().slice(before)).toEqual([
            `playbooks/facts.yml limit= forks=5 ${ansibleCfg} hosts=cp1,w1,w2,w3`,
            `scale.yml limit=w3 forks=5 ${ansibleCfg} hosts=w3`,
        ]);
        expect(hostLog("w3")).toEqual([`playbooks/facts.yml  server=${PREFIX}.14 user=root`, `scale.yml  server=${PREFIX}.14 user=root`]);
        for (const h of ["cp1", "w1", "w2"]) expect(hostLog(h).slice(beforeHosts[h])).toEqual([`playbooks/facts.yml  server=${hostAddress(h)} user=root`]);
        expectNoKeyInTmp();
    });

    it("a role swap (workers becoming control-plane/etcd) fails the up before any command runs", async () => {
        // The program reads its last deployment through a StackReference to itself (lastDeploymentSpecs).
        const file = parse(fs.readFileSync(stackFile(), "utf8"));
        const saved = stringify(file);
        file.config[CLUSTER].nodes = file.config[CLUSTER].nodes.map((n: any) => (n.name === "w1" || n.name === "w2" ? { ...n, roles: ["control-plane", "etcd"] } : n));
        fs.writeFileSync(stackFile(), stringify(file));
        const before = runs().length;
        const log = new EventLog();
        try {
            await expect(timed("up with a role swap", () => stack.up({ onEvent: log.onEvent }))).rejects.toThrow(/refusing this change \(nodes or versions\):[\s\S]*node w1 changes between worker-only and control-plane\/etcd roles/);
            expect(runs().length).toBe(before);
            expect(log.changes().filter((c) => c.includes("command:local:Command"))).toEqual([]);
        } finally {
            fs.writeFileSync(stackFile(), saved);
        }
    });

    it("destroy: remove-node.yml for each worker before its machine's ready check goes; nothing left", async () => {
        const before = runs().length;
        const log = new EventLog();
        const result = await timed("destroy (baremetal)", () => stack.destroy({ onEvent: log.onEvent }));
        expect(result.summary.result).toBe("succeeded");
        // The StackReference (read, not created) is discarded from the state, not deleted.
        expect(result.summary.resourceChanges).toEqual({ delete: 15, discard: 1 });
        expect(log.steps("failed")).toEqual([]);

        const removals = runs().slice(before);
        expect(removals.sort()).toEqual(
            ["w1", "w2", "w3"].map((w) => `remove-node.yml limit= forks=5 ${ansibleCfg} hosts=${w} node=${w} skip_confirmation=true ip=${hostAddress(w)}`),
        );
        for (const w of ["w1", "w2", "w3"]) {
            expect(hostLog(w).pop()).toBe(`remove-node.yml node=${w} skip_confirmation=true ip=${hostAddress(w)} server=${hostAddress(w)} user=root`);
        }
        expect(hostLog("cp1").some((l) => l.startsWith("remove-node.yml"))).toBe(false);

        // Engine order: each node command's delete finished before its ready check's delete started.
        const deletes = log.steps().filter((s) => s.op === "delete");
        const seq = (kind: "pre" | "outputs", name: string) => {
            const s = deletes.find((d) => d.kind === kind && d.name === name);
            expect({ kind, name, found: s !== undefined }).toEqual({ kind, name, found: true });
            return s!.seq;
        };
        for (const w of ["w1", "w2", "w3"]) {
            expect(seq("outputs", `bm-kubespray-node-${w}`)).toBeLessThan(seq("pre", `bm-${w}-ready`));
        }
        // The node commands are chained (w3 after w2 after w1), so they are removed last-first.
        expect(seq("outputs", "bm-kubespray-node-w3")).toBeLessThan(seq("pre", "bm-kubespray-node-w2"));
        expect(seq("outputs", "bm-kubespray-node-w2")).toBeLessThan(seq("pre", "bm-kubespray-node-w1"));

        expect(await stateResources(stack)).toEqual([]);
        expectNoKeyInTmp();
    });
});

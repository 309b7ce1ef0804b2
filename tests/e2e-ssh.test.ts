// End to end with real Ansible and real SSH: three network namespaces (10.250.0.0/24), each with its
// own sshd, stand in for the nodes; tests/fixtures/kubespray-standin stands in for Kubespray. Each
// `up` runs the component's exact commands (renderCommand) the way Pulumi would between two renders,
// and the stand-in playbooks record which playbook ran on which host with which --limit/--forks.
// Needs root, iproute2, openssh-server and ansible; skipped with a reason otherwise, failed under CI.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse } from "yaml";
import { ClusterConfig, parseClusterConfig } from "../components/config/config";
import { InventoryMachine } from "../components/kubespray/inventory";
import { checkKubeconfig } from "../components/kubespray/kubeconfig";
import { kubesprayCommandSpecs, RunPlan, runPaths } from "../components/kubespray/playbook";
import { deploymentSteps, Render, runDeployment, StepResult } from "./helpers/deployment";
import { Lab, missingPrerequisite, NamespaceLab } from "./helpers/netns";
import { requireOrSkip } from "./helpers/real-tests";

const STANDIN = path.join(__dirname, "fixtures", "kubespray-standin");
const VIP = "10.250.0.220";

const reason = missingPrerequisite();
requireOrSkip("tests/e2e-ssh.test.ts", reason, "e2e-ssh prerequisites");

(reason ? describe.skip : describe)("Kubespray commands over real SSH to network namespaces", () => {
    const lab = new NamespaceLab(["cp1", "w1", "w2"]);
    let env: Lab;
    let work: string;
    let record: string;
    let tmp: string;
    let previous: Render | undefined;

    beforeAll(async () => {
        env = await lab.start();
        work = fs.mkdtempSync(path.join(os.tmpdir(), "kha-e2e-work-"));
        record = path.join(work, "record");
        tmp = path.join(work, "tmp");
        fs.mkdirSync(tmp);
    });

    afterAll(async () => {
        await lab.stop();
        if (work) fs.rmSync(work, { recursive: true, force: true });
    });

    function render(names: string[], extra: Record<string, unknown> = {}): Render {
        const raw = {
            backend: "baremetal",
            name: "e2e",
            interface: "eth0",
            network: { cidr: "10.250.0.0/24" },
            vip: { address: VIP },
            ssh: { user: "root" },
            nodes: env.hosts
                .filter((h) => names.includes(h.name))
                .map((h) => ({ name: h.name, ip: h.address, roles: h.name.startsWith("cp") ? ["control-plane", "etcd"] : ["worker"] })),
            kubespray: { dir: STANDIN, workDir: path.join(work, "state") },
            ...extra,
        };
        const config: ClusterConfig = parseClusterConfig(raw, { stack: "e2e" });
        const machines: InventoryMachine[] = config.nodes.map((n) => ({ name: n.name, roles: n.roles, ip: n.ip, sshAddress: n.ip }));
        return { config, machines, specs: kubesprayCommandSpecs(config, machines) };
    }

    interface Up {
        plan: RunPlan;
        results: StepResult[];
        /** runs.log: one line per playbook run, recorded on the controller. */
        runs: string[];
        /** Per host: the lines its own shell (over SSH) appended. */
        hosts: Record<string, string[]>;
    }

    /** One `pulumi up` from the previous render to `next`. */
    function up(next: Render): Up {
        fs.rmSync(record, { recursive: true, force: true });
        fs.mkdirSync(path.join(record, "hosts"), { recursive: true });
        const { plan, steps } = deploymentSteps(previous, next, env.privateKey);
        const results = steps.length === 0 ? [] : runDeployment(steps, { KHA_STANDIN_RECORD: record, TMPDIR: tmp });
        for (const r of results) {
            if (r.status !== 0) throw new Error(`${r.label} failed (${r.status}):\n${r.stderr}\n${r.stdout}`);
        }
        expect(results.map((r) => r.label)).toEqual(steps.map((s) => s.label));
        previous = next;
        const lines = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").map((l) => l.trimEnd()).filter(Boolean) : []);
        const hosts = Object.fromEntries(env.hosts.map((h) => [h.name, lines(path.join(record, "hosts", `${h.name}.log`))]));
        const runs = lines(path.join(record, "runs.log"));
        // What ran is what predictRuns said would run: same playbooks, same --limit, same order.
        expect(runs.map((l) => l.split(" forks=")[0])).toEqual(plan.runs.map((r) => `${r.playbook} limit=${(r.limit ?? []).join(",")}`));
        // The private key never outlives a command (trap), and nothing else is left in TMPDIR.
        expect(fs.readdirSync(tmp)).toEqual([]);
        return { plan, results, runs, hosts };
    }

    const config = `config=${path.join(STANDIN, "ansible.cfg")}`;

    it("first up: cluster.yml on every node over SSH; the worker and the upgrade are covered; kubeconfig at the VIP", () => {
        const next = render(["cp1", "w1"]);
        const { runs, hosts, results } = up(next);
        expect(runs).toEqual([`cluster.yml limit= forks=5 ${config} hosts=cp1,w1 kube_version=kubespray-default api=${VIP}:6443`]);
        expect(hosts.cp1).toEqual([`cluster.yml kube_version=kubespray-default api=${VIP}:6443 server=10.250.0.211 user=root`]);
        expect(hosts.w1).toEqual([`cluster.yml kube_version=kubespray-default api=${VIP}:6443 server=10.250.0.212 user=root`]);
        expect(hosts.w2).toEqual([]);
        const byLabel = Object.fromEntries(results.map((r) => [r.label, r]));
        expect(byLabel["node-w1 create"].stderr).toMatch(/w1 was set up by cluster\.yml in this deployment/);
        expect(byLabel["upgrade create"].stderr).toMatch(/cluster\.yml deployed kube_version kubespray-default in this deployment/);
        // The kubeconfig command prints Kubespray's artifacts/admin.conf, which points at the VIP.
        const kubeconfig = byLabel["kubeconfig create"].stdout;
        expect(checkKubeconfig(kubeconfig, next.config.apiServerUrl).clusters).toEqual([{ name: "cluster.local", server: `https://${VIP}:6443` }]);
        expect(parse(kubeconfig).users[0].user["client-key-data"]).toBeDefined();
        // The playbook output is tee'd to a log file in the work dir, and never reaches stdout.
        const logs = fs.readdirSync(runPaths(next.config).logDir);
        expect(logs.some((f) => /-cluster-create\.log$/.test(f))).toBe(true);
        expect(byLabel["cluster create"].stdout).toBe("");
        expect(byLabel["cluster create"].stderr).toMatch(/PLAY RECAP/);
    });

    it("no change: nothing runs", () => {
        const { plan, results, runs } = up(render(["cp1", "w1"]));
        expect(plan.runs).toEqual([]);
        expect(results).toEqual([]);
        expect(runs).toEqual([]);
    });

    it("add a worker: facts.yml on every node, then scale.yml --limit=<new node> on it alone", () => {
        const { runs, hosts } = up(render(["cp1", "w1", "w2"]));
        expect(runs).toEqual([
            `playbooks/facts.yml limit= forks=5 ${config} hosts=cp1,w1,w2`,
            `scale.yml limit=w2 forks=5 ${config} hosts=w2`,
        ]);
        expect(hosts.cp1).toEqual(["playbooks/facts.yml  server=10.250.0.211 user=root"]);
        expect(hosts.w1).toEqual(["playbooks/facts.yml  server=10.250.0.212 user=root"]);
        expect(hosts.w2).toEqual(["playbooks/facts.yml  server=10.250.0.213 user=root", "scale.yml  server=10.250.0.213 user=root"]);
    });

    it("change kubeVersion: upgrade-cluster.yml, not cluster.yml", () => {
        const { runs } = up(render(["cp1", "w1", "w2"], { kubeVersion: "1.34.3" }));
        expect(runs).toEqual([`upgrade-cluster.yml limit= forks=5 ${config} hosts=cp1,w1,w2 kube_version=1.34.3`]);
    });

    it("remove a worker: remove-node.yml -e node=<name> -e skip_confirmation=true, on it alone, after it left the inventory", () => {
        const next = render(["cp1", "w1"], { kubeVersion: "1.34.3" });
        const { runs, hosts } = up(next);
        expect(runs).toEqual([`remove-node.yml limit= forks=5 ${config} hosts=w2 node=w2 skip_confirmation=true ip=10.250.0.213`]);
        expect(hosts.w2).toEqual(["remove-node.yml node=w2 skip_confirmation=true ip=10.250.0.213 server=10.250.0.213 user=root"]);
        expect(hosts.cp1).toEqual([]);
        const inventory = parse(fs.readFileSync(path.join(runPaths(next.config).inventoryDir, "hosts.yaml"), "utf8"));
        expect(Object.keys(inventory.all.hosts)).toEqual(["cp1", "w1"]);
    });

    it("add the worker back in a later up: it is scaled again (an earlier cluster.yml does not count)", () => {
        const { runs } = up(render(["cp1", "w1", "w2"], { kubeVersion: "1.34.3" }));
        expect(runs).toEqual([
            `playbooks/facts.yml limit= forks=5 ${config} hosts=cp1,w1,w2`,
            `scale.yml limit=w2 forks=5 ${config} hosts=w2`,
        ]);
    });

    it("change a group_var: cluster.yml on every node, and the kubeconfig is read again", () => {
        const { runs, results } = up(render(["cp1", "w1", "w2"], { kubeVersion: "1.34.3", groupVars: { dns_mode: "coredns" } }));
        expect(runs).toEqual([`cluster.yml limit= forks=5 ${config} hosts=cp1,w1,w2 kube_version=1.34.3 api=${VIP}:6443`]);
        expect(results.map((r) => r.label)).toEqual(["inventory update", "cluster create", "kubeconfig create"]);
    });
});

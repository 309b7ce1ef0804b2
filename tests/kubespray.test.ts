// KubesprayRun under Pulumi's mock runtime: the command resources it registers, built from
// kubesprayCommandSpecs, with their triggers, phases, dependencies and secrets.
import * as pulumi from "@pulumi/pulumi";
import { ClusterConfig, parseClusterConfig } from "../components/config/config";
import { parse } from "yaml";
import { deployedMembersOf } from "../components/kubespray/membership";
import { withEtcdMemberNames } from "../components/kubespray/etcd-names";
import { CommandSpec, kubesprayCommandSpecs, renderCommand } from "../components/kubespray/playbook";
import { hcloudRaw } from "./fixtures";
import { adminConf, FakeServer, fakeMachines, isRawSecret, recordingMocks, Registration, settle, valueOf } from "./helpers/kubespray";

const KEY_TEXT = "-----BEGIN OPENSSH PRIVATE KEY-----\nsecret-key-material-kha\n-----END OPENSSH PRIVATE KEY-----\n";
const VIP_URL = "https://10.0.1.5:6443";

let registrations: Registration[];
let KubesprayRun: typeof import("../components/kubespray/run").KubesprayRun;
let refuseUnsafeChanges: typeof import("../components/kubespray/run").refuseUnsafeChanges;
let checkedKubeconfig: typeof import("../components/kubespray/run").checkedKubeconfig;

beforeAll(async () => {
    registrations = await recordingMocks(() => adminConf(VIP_URL));
    ({ KubesprayRun, refuseUnsafeChanges, checkedKubeconfig } = await import("../components/kubespray/run"));
});

const address = (_name: string, ip: string) => ip.replace("10.0.1.", "203.0.113.");

function configOf(raw: any): ClusterConfig {
    return parseClusterConfig(raw, { stack: "test" });
}

/** Constructs a KubesprayRun and waits until every child is registered. */
async function construct(name: string, raw: any, extra: { previousCommandSpecs?: pulumi.Input<CommandSpec[] | undefined>; apiDependencies?: pulumi.Resource[] } = {}) {
    const config = configOf(raw);
    const run = new KubesprayRun(name, { config, machines: fakeMachines(config, address), sshPrivateKey: KEY_TEXT, baseDir: "/project", ...extra });
    await Promise.all(Object.values(run.commands).map((c) => valueOf(c.urn)));
    await valueOf(run.provider.urn);
    return { run, config };
}

const of = (component: string) => registrations.filter((r) => r.name.startsWith(`${component}-`) && r.type === "command:local:Command");
const cmd = (component: string, id: string) => {
    const found = registrations.find((r) => r.name === `${component}-${id}` && r.type === "command:local:Command");
    if (!found) throw new Error(`no command ${component}-${id}`);
    return found;
};
/** Pure specs for the same config and addresses the component saw. */
const pureSpecs = (config: ClusterConfig) =>
    kubesprayCommandSpecs(config, config.nodes.map((n) => ({ name: n.name, roles: n.roles, ip: n.ip, sshAddress: address(n.name, n.ip) })));

describe("KubesprayRun", () => {
    let base: { run: InstanceType<typeof KubesprayRun>; config: ClusterConfig };
    beforeAll(async () => {
        base = await construct("a", hcloudRaw(3, 2));
    });

    it("registers one command per spec, a component and a Kubernetes provider", () => {
        expect(of("a").map((r) => r.name).sort()).toEqual([
            "a-cluster", "a-inventory", "a-kubeconfig", "a-node-worker1", "a-node-worker2", "a-upgrade",
        ]);
        expect(registrations.find((r) => r.name === "a")!.type).toBe("kubespray-ha:index:KubesprayRun");
        expect(registrations.find((r) => r.name === "a-k8s")!.type).toBe("pulumi:providers:kubernetes");
        // Relative to baseDir: an output never carries a path of the deployer's machine.
        expect(base.run.inventoryDir).toBe(".kubespray-ha/test/inventory");
    });

    it("builds every command from kubesprayCommandSpecs + renderCommand", async () => {
        const specs = pureSpecs(base.config);
        expect(await valueOf(base.run.commandSpecs)).toEqual(specs);
        for (const spec of specs) {
            const shell = renderCommand(base.config, spec);
            const r = cmd("a", spec.id);
            expect(r.inputs.create).toBe(shell.create);
            expect(r.inputs.update).toBe(shell.update);
            expect(r.inputs.delete).toBe(shell.delete);
            expect(r.inputs.environment).toEqual(shell.environment);
            expect(r.inputs.logging).toBe(shell.logging);
            expect(r.inputs.addPreviousOutputInEnv).toBe(false);
        }
    });

    it("gives the cluster and node commands the spec triggers plus the machine ids", () => {
        const specs = pureSpecs(base.config);
        const cluster = specs.find((s) => s.id === "cluster")!;
        expect(cmd("a", "cluster").inputs.triggers).toEqual([
            ...cluster.triggers, "machine cp1: server-cp1-id", "machine cp2: server-cp2-id", "machine cp3: server-cp3-id",
        ]);
        expect(cmd("a", "node-worker2").inputs.triggers).toEqual([
            "worker2: ansible_host=203.0.113.102 ip=10.0.1.102 roles=worker", "machine worker2: server-worker2-id",
        ]);
        expect(cmd("a", "upgrade").inputs.triggers).toEqual(["kube_version: kubespray-default"]);
        expect(cmd("a", "kubeconfig").inputs.triggers).toEqual(["a-cluster-id", "a-upgrade-id"]);
        expect(cmd("a", "inventory").inputs.triggers).toBeUndefined();
    });

    it("has equal triggers for identical input (a second construction changes nothing)", async () => {
        await construct("b", hcloudRaw(3, 2));
        const triggers = (c: string) => Object.fromEntries(of(c).map((r) => [r.name.slice(c.length + 1), [r.inputs.triggers, r.inputs.create, r.inputs.stdin]]));
        const a = triggers("a");
        const b = triggers("b");
        // kubeconfig's triggers are the (per-component) resource ids of cluster and upgrade.
        delete a.kubeconfig;
        delete b.kubeconfig;
        expect(b).toEqual(a);
    });

    it("orders the commands: machines -> inventory -> cluster -> upgrade -> node chain; node commands depend on their server", () => {
        expect(cmd("a", "inventory").dependencies).toEqual(expect.arrayContaining(["server-cp1", "server-worker2"]));
        expect(cmd("a", "cluster").dependencies).toEqual(expect.arrayContaining(["a-inventory", "server-cp3"]));
        expect(cmd("a", "cluster").dependencies).not.toContain("server-worker1");
        expect(cmd("a", "upgrade").dependencies).toContain("a-cluster");
        expect(cmd("a", "kubeconfig").dependencies).toEqual(expect.arrayContaining(["a-cluster", "a-upgrade"]));
        expect(cmd("a", "node-worker1").dependencies).toEqual(expect.arrayContaining(["a-upgrade", "server-worker1"]));
        expect(cmd("a", "node-worker2").dependencies).toEqual(expect.arrayContaining(["a-node-worker1", "server-worker2"]));
        expect(cmd("a", "node-worker2").deleteBeforeReplace).toBe(true);
        expect(cmd("a", "cluster").deleteBeforeReplace).toBe(false);
    });

    it("makes every playbook command depend on the backend's apiDependencies (hcloud's Load Balancer), changing no input", async () => {
        // Stand-ins for the Load Balancer, its network attachment, service and targets.
        const api = ["api-lb", "api-lb-network", "api-lb-service", "api-lb-target-cp1"].map((n) => new FakeServer(n));
        await construct("api", hcloudRaw(3, 2), { apiDependencies: api });
        const names = ["api-lb", "api-lb-network", "api-lb-service", "api-lb-target-cp1"];
        for (const id of ["cluster", "upgrade", "node-worker1", "node-worker2"]) {
            expect({ id, deps: cmd("api", id).dependencies }).toEqual({ id, deps: expect.arrayContaining(names) });
        }
        // Writing the inventory and reading admin.conf touch local files only.
        for (const id of ["inventory", "kubeconfig"]) {
            expect({ id, deps: cmd("api", id).dependencies.filter((d) => names.includes(d)) }).toEqual({ id, deps: [] });
        }
        // Only the order changes: the same inputs as without them, so a no-change up runs no command.
        const inputs = (c: string, id: string) => {
            const { triggers, ...rest } = cmd(c, id).rawInputs;
            return { ...rest, triggers: id === "kubeconfig" ? undefined : triggers };
        };
        for (const id of ["inventory", "cluster", "upgrade", "kubeconfig", "node-worker1", "node-worker2"]) {
            expect({ id, inputs: inputs("api", id) }).toEqual({ id, inputs: inputs("a", id) });
        }
        expect(cmd("api", "node-worker2").deleteBeforeReplace).toBe(cmd("a", "node-worker2").deleteBeforeReplace);
    });

    it("adds a worker through facts.yml + scale.yml --limit=<new>, leaving the cluster command untouched", async () => {
        await construct("c", hcloudRaw(3, 3));
        const w3 = cmd("c", "node-worker3");
        expect(w3.inputs.create).toMatch(/\nkha_playbook playbooks\/facts\.yml\nkha_playbook scale\.yml --limit=worker3\n/);
        expect(w3.inputs.create).toMatch(/kha_covered node=worker3/);
        expect(w3.inputs.create).not.toMatch(/kha_playbook cluster\.yml/);
        expect(w3.dependencies).toEqual(expect.arrayContaining(["c-node-worker2", "server-worker3"]));
        for (const id of ["cluster", "upgrade", "node-worker1", "node-worker2"]) {
            expect(cmd("c", id).inputs.triggers).toEqual(cmd("a", id).inputs.triggers);
            expect(cmd("c", id).inputs.create).toEqual(cmd("a", id).inputs.create);
        }
        expect(cmd("c", "inventory").inputs.stdin).not.toEqual(cmd("a", "inventory").inputs.stdin);
    });

    it("removes a worker with remove-node.yml -e node=<name> -e skip_confirmation=true from the command's delete", async () => {
        await construct("d", hcloudRaw(3, 1));
        expect(of("d").map((r) => r.name)).not.toContain("d-node-worker2");
        // What Pulumi runs when d replaces a: the delete stored with a-node-worker2.
        const del = cmd("a", "node-worker2").inputs.delete as string;
        expect(del).toMatch(/kha_playbook -i "\$kha_tmp\/extra-host-0\.yaml" remove-node\.yml -e node=worker2 -e skip_confirmation=true/);
        expect(del).toContain("    worker2:\n      ansible_host: 203.0.113.102\n");
        // It depends on the server, so Pulumi deletes it (runs remove-node) before deleting the server.
        expect(cmd("a", "node-worker2").dependencies).toContain("server-worker2");
        expect(cmd("d", "cluster").inputs.triggers).toEqual(cmd("a", "cluster").inputs.triggers);
    });

    it("runs upgrade-cluster.yml when kubeVersion changes, and not cluster.yml", async () => {
        const raw = hcloudRaw(3, 2);
        raw.kubeVersion = "1.34.3";
        await construct("e", raw);
        expect(cmd("e", "upgrade").inputs.triggers).toEqual(["kube_version: 1.34.3"]);
        expect(cmd("e", "upgrade").inputs.create).toMatch(/\nkha_playbook upgrade-cluster\.yml\n/);
        expect(cmd("e", "cluster").inputs.triggers).toEqual(cmd("a", "cluster").inputs.triggers);
        expect(cmd("e", "node-worker1").inputs.triggers).toEqual(cmd("a", "node-worker1").inputs.triggers);
    });

    it("re-runs cluster.yml when a group_var changes", async () => {
        const raw = hcloudRaw(3, 2);
        raw.groupVars = { dns_mode: "coredns" };
        await construct("f", raw);
        expect(cmd("f", "cluster").inputs.triggers).not.toEqual(cmd("a", "cluster").inputs.triggers);
        expect(cmd("f", "cluster").inputs.create).toMatch(/\nkha_playbook cluster\.yml\n/);
        expect(cmd("f", "node-worker1").inputs.triggers).toEqual(cmd("a", "node-worker1").inputs.triggers);
    });

    it("refuses etcd 3 -> 5 in one up against the last deployment, and logs the steps of 3 -> 4 (etcd.allowEvenMembers)", async () => {
        const five = pureSpecs(configOf(hcloudRaw(5, 2)));
        await expect(settle(refuseUnsafeChanges(base.run.commandSpecs, five))).rejects.toThrow(/etcd members cp4, cp5 would join in one `up`/);
        const info = jest.spyOn(pulumi.log, "info");
        try {
            const four = hcloudRaw(3, 2);
            four.nodes.splice(3, 0, { name: "cp4", ip: "10.0.1.14", roles: ["control-plane", "etcd"] });
            four.etcd = { allowEvenMembers: true };
            const { run } = await construct("g", four, { previousCommandSpecs: base.run.commandSpecs });
            await valueOf(run.commandSpecs);
            await new Promise((r) => setTimeout(r, 50));
            expect(info.mock.calls.map((c) => c[0])).toContain(
                "Kubespray: expected runs: cluster.yml --limit=etcd,kube_control_plane -e ignore_assert_errors=yes; upgrade-cluster.yml --limit=etcd,kube_control_plane -e ignore_assert_errors=yes",
            );
        } finally {
            info.mockRestore();
        }
    });

    it("logs the expected runs against the previous deployment, without warnings for a worker", async () => {
        const warn = jest.spyOn(pulumi.log, "warn");
        const info = jest.spyOn(pulumi.log, "info");
        try {
            await construct("h", hcloudRaw(3, 3), { previousCommandSpecs: base.run.commandSpecs });
            await new Promise((r) => setTimeout(r, 50));
            expect(warn).not.toHaveBeenCalled();
            expect(info.mock.calls.map((c) => c[0])).toContain("Kubespray: expected runs: playbooks/facts.yml; scale.yml --limit=worker3");
        } finally {
            warn.mockRestore();
            info.mockRestore();
        }
    });

    it("keeps the etcd member names of the last deployment: cp1 replaced by cp9 leaves cp2=etcd2, cp3=etcd3", async () => {
        const raw = hcloudRaw(3, 2);
        raw.nodes.splice(0, 1);
        raw.nodes.splice(2, 0, { name: "cp9", ip: "10.0.1.19", roles: ["control-plane", "etcd"] });
        const { run, config } = await construct("m", raw, { previousCommandSpecs: base.run.commandSpecs });
        const hosts = parse((await valueOf(run.inventory))["hosts.yaml"]).all.hosts;
        expect(Object.fromEntries(["cp9", "cp2", "cp3"].map((n) => [n, hosts[n].etcd_member_name]))).toEqual({ cp9: "etcd4", cp2: "etcd2", cp3: "etcd3" });
        // Exactly what the pure code (and so `npm run plan`) gives for the same last deployment.
        const prev = await valueOf(base.run.commandSpecs);
        const expected = pureSpecs({ ...withEtcdMemberNames(config, prev), deployedMembers: deployedMembersOf(prev) });
        // cp1 leaves by nodes.md's steps: the cluster command's create runs them.
        expect(expected.find((s) => s.id === "cluster")!.create.playbooks.map((p) => p.playbook)).toEqual(["cluster.yml", "remove-node.yml", "cluster.yml", "upgrade-cluster.yml"]);
        expect(await valueOf(run.commandSpecs)).toEqual(expected);
        expect(expected.find((s) => s.id === "cluster")!.etcdMemberNames).toEqual({ members: { cp2: "etcd2", cp3: "etcd3", cp9: "etcd4" }, retired: ["etcd1"] });
    });

    it("a last deployment with positional names (no etcdMemberNames) changes no command input", async () => {
        const old = (await valueOf(base.run.commandSpecs)).map((s) => Object.fromEntries(Object.entries(s).filter(([k]) => k !== "etcdMemberNames")) as unknown as CommandSpec);
        expect(old.find((s) => s.id === "cluster")).not.toHaveProperty("etcdMemberNames");
        const { run } = await construct("n", hcloudRaw(3, 2), { previousCommandSpecs: old });
        const inputs = (c: string, id: string) => {
            const { triggers, ...rest } = cmd(c, id).rawInputs;
            return { ...rest, triggers: id === "kubeconfig" ? undefined : triggers };
        };
        for (const id of ["inventory", "cluster", "upgrade", "kubeconfig", "node-worker1", "node-worker2"]) {
            expect({ id, inputs: inputs("n", id) }).toEqual({ id, inputs: inputs("a", id) });
        }
        expect(await valueOf(run.commandSpecs)).toEqual(await valueOf(base.run.commandSpecs));
        expect(await valueOf(run.inventory)).toEqual(await valueOf(base.run.inventory));
    });

    it("refuses a node switching from worker-only to control plane, before any command is registered", async () => {
        const raw = hcloudRaw(3, 2);
        raw.nodes[3].roles = ["control-plane", "etcd", "worker"];
        raw.nodes[4].roles = ["control-plane", "etcd", "worker"];
        const next = pureSpecs(configOf(raw));
        await expect(settle(refuseUnsafeChanges(base.run.commandSpecs, next))).rejects.toThrow(
            /refusing this change \(nodes or versions\):\n  - node worker1 changes between worker-only and control-plane\/etcd roles/,
        );
        await expect(settle(refuseUnsafeChanges(base.run.commandSpecs, pureSpecs(configOf(hcloudRaw(3, 3)))))).resolves.toBeUndefined();
        await expect(settle(refuseUnsafeChanges(undefined, next))).resolves.toBeUndefined();
    });

    it("refuses a skipped Kubernetes minor against the last deployment, naming kubeVersion, before any command is registered", async () => {
        const at = (kubeVersion: string) => pureSpecs(configOf({ ...hcloudRaw(3, 2), kubeVersion }));
        await expect(settle(refuseUnsafeChanges(at("1.33.0"), at("1.35.4")))).rejects.toThrow(
            /refusing this change \(nodes or versions\):\n  - kubeVersion: 1\.33\.0 -> 1\.35\.4 skips Kubernetes 1\.34/,
        );
        await expect(settle(refuseUnsafeChanges(at("1.34.7"), at("1.35.4")))).resolves.toBeUndefined();
    });

    it("exports the kubeconfig as a secret pointing at the VIP", async () => {
        expect(await pulumi.isSecret(base.run.kubeconfig)).toBe(true);
        expect(await valueOf(base.run.kubeconfig)).toBe(adminConf(VIP_URL));
        expect(cmd("a", "kubeconfig").additionalSecretOutputs).toEqual(["stdout", "stderr"]);
        expect(cmd("a", "kubeconfig").inputs.logging).toBe("stderr");
        expect(isRawSecret(registrations.find((r) => r.name === "a-k8s")!.inputs.kubeconfig)).toBe(true);
    });

    it("fails naming the server when Kubespray wrote another one", async () => {
        const stdout = pulumi.output(adminConf("https://lb-apiserver.kubernetes.local:6443"));
        const checked = checkedKubeconfig(stdout, VIP_URL, "/work/inventory/artifacts/admin.conf");
        await expect(settle(checked)).rejects.toThrow(
            /admin\.conf: cluster "cluster\.local" has server https:\/\/lb-apiserver\.kubernetes\.local:6443, expected the API VIP https:\/\/10\.0\.1\.5:6443/,
        );
        const ok = checkedKubeconfig(pulumi.output(adminConf(VIP_URL)), VIP_URL, "admin.conf");
        expect(await pulumi.isSecret(ok)).toBe(true);
        expect(await valueOf(ok)).toBe(adminConf(VIP_URL));
    });

    it("feeds the SSH key only as a secret stdin: it is in no command, environment or trigger", () => {
        const commands = registrations.filter((r) => r.type === "command:local:Command");
        expect(commands.length).toBeGreaterThan(20);
        for (const r of commands) {
            const { stdin, ...rest } = r.inputs;
            expect(JSON.stringify(rest)).not.toContain("secret-key-material-kha");
            if (/-(cluster|upgrade|node-.*)$/.test(r.name)) {
                expect(isRawSecret(stdin)).toBe(true);
                expect(stdin.value).toBe(KEY_TEXT);
            } else {
                expect(JSON.stringify(stdin ?? "")).not.toContain("secret-key-material-kha");
            }
        }
        for (const r of registrations.filter((x) => x.type !== "command:local:Command")) {
            expect(JSON.stringify(r.inputs)).not.toContain("secret-key-material-kha");
        }
    });

    it("refuses machines that do not match the config", () => {
        const config = configOf(hcloudRaw(3, 2));
        const machines = fakeMachines(config, address);
        expect(() => new KubesprayRun("j", { config, machines: [...machines, machines[0]], sshPrivateKey: KEY_TEXT })).toThrow(/machine cp1 is given twice/);
        expect(() => new KubesprayRun("k", { config, machines: [], sshPrivateKey: KEY_TEXT })).toThrow(/no machines/);
        const wrong = machines.map((m) => (m.name === "worker1" ? { ...m, roles: ["control-plane" as const] } : m));
        expect(() => new KubesprayRun("l", { config, machines: wrong, sshPrivateKey: KEY_TEXT })).toThrow(/machine worker1 has roles control-plane but nodes says worker/);
    });
});

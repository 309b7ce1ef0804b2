// `npm run bench`: how long the program takes to evaluate under Pulumi's mocks for 3, 30 and 300
// nodes: config validation, inventory rendering, the command specs and their shells, and the
// KubesprayRun component with every command registered. Prints milliseconds; no thresholds.
import * as pulumi from "@pulumi/pulumi";
import { parseClusterConfig } from "../components/config/config";
import { InventoryMachine, renderInventory } from "../components/kubespray/inventory";
import { Machine } from "../components/nodes/machines";
import { kubesprayCommandSpecs, renderCommand } from "../components/kubespray/playbook";

const KUBECONFIG = (server: string) => `apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: Y2E=
    server: ${server}
  name: cluster.local
`;

/** A bare-metal config with `count` nodes: 1 control plane for 3 nodes, else 3; the rest workers. */
function rawConfig(count: number): unknown {
    const controlPlanes = count <= 3 ? 1 : 3;
    const nodes = Array.from({ length: count }, (_, i) => ({
        name: i < controlPlanes ? `cp${i + 1}` : `worker${i + 1 - controlPlanes}`,
        ip: `10.20.${Math.floor(i / 200)}.${(i % 200) + 10}`,
        roles: i < controlPlanes ? ["control-plane", "etcd"] : ["worker"],
    }));
    return {
        backend: "baremetal",
        network: { cidr: "10.20.0.0/16" },
        interface: "eth0",
        vip: { address: "10.20.255.100" },
        ssh: { user: "root" },
        nodes,
    };
}

class BenchServer extends pulumi.CustomResource {
    constructor(name: string) {
        super("bench:index:Server", name, {}, {});
    }
}

const ms = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;
const valueOf = <T>(o: pulumi.Output<T>) => new Promise<T>((resolve) => o.apply(resolve));

async function main(): Promise<void> {
    await pulumi.runtime.setMocks(
        {
            newResource: (args) => ({
                id: `${args.name}-id`,
                state: { ...args.inputs, ...(args.name.endsWith("-kubeconfig") ? { stdout: KUBECONFIG("https://10.20.255.100:6443") } : {}) },
            }),
            call: (args) => {
                throw new Error(`unmocked invoke ${args.token}`);
            },
        },
        "kubespray-ha",
        "bench",
        false,
    );
    const { KubesprayRun } = await import("../components/kubespray/run");

    const rows: string[][] = [["nodes", "config ms", "inventory ms", "specs+shell ms", "KubesprayRun (mocks) ms", "commands"]];
    for (const count of [3, 30, 300]) {
        let t = process.hrtime.bigint();
        const config = parseClusterConfig(rawConfig(count), { stack: `bench${count}` });
        const tConfig = ms(t);

        const planned: InventoryMachine[] = config.nodes.map((n) => ({ name: n.name, roles: n.roles, ip: n.ip, sshAddress: n.ip }));
        t = process.hrtime.bigint();
        renderInventory(config, planned);
        const tInventory = ms(t);

        t = process.hrtime.bigint();
        for (const spec of kubesprayCommandSpecs(config, planned)) renderCommand(config, spec);
        const tSpecs = ms(t);

        t = process.hrtime.bigint();
        const machines: Machine[] = config.nodes.map((n) => ({
            name: n.name, roles: [...n.roles], ip: n.ip, sshAddress: pulumi.output(n.ip), resource: new BenchServer(`bench${count}-${n.name}`),
        }));
        const run = new KubesprayRun(`bench${count}`, { config, machines, sshPrivateKey: "bench-key", baseDir: "/bench" });
        await Promise.all(Object.values(run.commands).map((c) => valueOf(c.urn)));
        await valueOf(run.kubeconfig);
        const tRun = ms(t);

        rows.push([String(count), tConfig.toFixed(1), tInventory.toFixed(1), tSpecs.toFixed(1), tRun.toFixed(1), String(Object.keys(run.commands).length)]);
    }
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    for (const r of rows) console.log(r.map((c, i) => c.padStart(widths[i])).join("  "));
}

// `npm run bench -- --vms`: real VMs instead (before main() installs the mocks); `--cluster`: the real
// cluster's figures from test-results/real-cluster.json (scripts/bench-cluster.ts); `--failover`: the failover
// bench on a real cluster (scripts/bench-failover.ts).
const run = process.argv.includes("--failover") ? () => import("./bench-failover").then((m) => m.main())
    : process.argv.includes("--cluster") ? () => import("./bench-cluster").then((m) => m.main())
    : process.argv.includes("--vms") ? () => import("./bench-vms").then((m) => m.main()) : main;
run().catch((err) => {
    console.error(err);
    process.exit(1);
});

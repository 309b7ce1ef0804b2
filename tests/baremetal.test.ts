// BaremetalCluster under Pulumi's mock runtime: one SSH readiness check per existing machine,
// the key only on stdin and secret.
import * as pulumi from "@pulumi/pulumi";
import { parseClusterConfig } from "../components/config/config";
import { BaremetalCluster } from "../components/nodes/baremetal";
import { baremetalIdentities, baremetalReadyTriggerInputs } from "../components/nodes/identity";
import { contentHash } from "../components/shared/hash";
import { baremetalRaw, libvirtRaw } from "./fixtures";
import { recordingMocks, Recorded } from "./helpers/mocks";

const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nbaremetal-test-key\n-----END OPENSSH PRIVATE KEY-----\n";
let records: Recorded[];

beforeAll(async () => {
    records = await recordingMocks();
});

const urnOf = (r: pulumi.Resource) => new Promise<string>((resolve) => r.urn.apply(resolve));

describe("BaremetalCluster", () => {
    const config = parseClusterConfig(baremetalRaw(), { stack: "metal" });
    let cluster: BaremetalCluster;
    beforeAll(async () => {
        cluster = new BaremetalCluster("metal", { config, sshPrivateKey: pulumi.secret(KEY) });
        await Promise.all(cluster.machines.map((m) => urnOf(m.resource)));
    });

    it("exposes every node with its private ip and where Ansible connects", async () => {
        const addresses = await Promise.all(cluster.machines.map((m) => new Promise((r) => m.sshAddress.apply(r))));
        expect(cluster.machines.map((m) => [m.name, m.ip, m.roles.join(",")])).toEqual([
            ["node1", "10.250.0.11", "control-plane,etcd,worker"],
            ["node2", "10.250.0.12", "control-plane,etcd,worker"],
            ["node3", "10.250.0.13", "control-plane,etcd,worker"],
        ]);
        expect(addresses).toEqual(["10.250.0.11", "127.0.0.1", "10.250.0.13"]);
    });

    it("registers one readiness command per node, under the component", async () => {
        const ready = records.filter((r) => r.type === "command:local:Command");
        expect(ready.map((r) => r.name).sort()).toEqual(["metal-node1-ready", "metal-node2-ready", "metal-node3-ready"]);
        const urn = await urnOf(cluster.machines[1].resource);
        expect(urn).toMatch(/kubespray-ha:index:BaremetalCluster\$command:local:Command::metal-node2-ready$/);
    });

    it("waits for SSH only (no cloud-init), bounded by ssh.waitSeconds, at the ssh address", () => {
        const create: string = records.find((r) => r.name === "metal-node2-ready")!.inputs.create;
        expect(create).toContain(`-i "$key" 127.0.0.1 true 2>&1`);
        expect(create).toContain("-l root");
        expect(create).toContain("(ssh.waitSeconds)");
        expect(create).toContain("deadline=$(( $(date +%s) + 300 ))");
        expect(create).not.toContain("cloud-init");
    });

    it("passes the key as a secret on stdin and never in a command string", async () => {
        for (const m of cluster.machines) {
            const stdin = (m.resource as unknown as { stdin: pulumi.Output<string> }).stdin;
            expect(await pulumi.isSecret(stdin)).toBe(true);
        }
        for (const r of records) {
            expect(JSON.stringify({ ...r.inputs, stdin: undefined })).not.toContain("baremetal-test-key");
        }
    });

    it("refuses a config of another backend", () => {
        const other = parseClusterConfig(libvirtRaw(), { stack: "x" });
        expect(() => new BaremetalCluster("x", { config: other, sshPrivateKey: KEY })).toThrow(/backend: is libvirt/);
    });

    it("names and triggers each check as its node identity says (npm run plan re-checks on the same inputs)", () => {
        const ids = baremetalIdentities(config, "metal");
        for (const [i, node] of config.nodes.entries()) {
            const rec = records.find((r) => r.name === ids[i].resource)!;
            expect(rec.inputs.triggers).toEqual([contentHash(baremetalReadyTriggerInputs(config, node))]);
        }
        expect(ids.every((id) => id.protected.length === 0 && id.machine.length === 0)).toBe(true);
    });
});

// LibvirtCluster under Pulumi's mock runtime: the resource graph (counts, parents, dependsOn,
// delete-before-replace), the commands it registers, and triggers that only change with content.
import * as pulumi from "@pulumi/pulumi";
import { ClusterConfig, parseClusterConfig } from "../components/config/config";
import { LibvirtCluster, LibvirtClusterArgs } from "../components/nodes/libvirt/libvirt";
import { libvirtTriggerInputs, planLibvirt } from "../components/nodes/libvirt/libvirt-xml";
import { libvirtIdentities, libvirtNetworkResourceName, libvirtNodeResourceNames } from "../components/nodes/identity";
import { contentHash } from "../components/shared/hash";
import { libvirtRaw, PUBLIC_KEY } from "./fixtures";
import { recordingMocks, Recorded, valueOf } from "./helpers/mocks";

/** Every newResource call, in order; a name's latest record wins. */
let records: Recorded[];

beforeAll(async () => {
    records = await recordingMocks("test");
});

const PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nfake\n-----END OPENSSH PRIVATE KEY-----\n";

function config(change: (raw: any) => void = () => undefined): ClusterConfig {
    const raw = libvirtRaw();
    change(raw);
    return parseClusterConfig(raw, { stack: "dev" });
}

/** The mock engine receives secrets wrapped in Pulumi's secret signature; unwrap and say so. */
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
function secretInput(v: any): { secret: boolean; value: any } {
    const secret = v !== null && typeof v === "object" && v["4dabf18193072939515e22adb298388d"] === SECRET_SIG;
    return { secret, value: secret ? v.value : v };
}

const value = valueOf;

interface Child {
    name: string;
    type: string;
    resource: pulumi.Resource;
    opts: pulumi.CustomResourceOptions;
    /** newResource's record: the inputs as the engine got them. */
    type_: string;
    inputs: any;
}

interface Built {
    cluster: LibvirtCluster;
    children: Map<string, Child>;
    dependsOn(name: string): string[];
}

/** Builds the component, records each child's options, and waits until every child is registered. */
async function build(name: string, cfg: ClusterConfig, extra: Partial<LibvirtClusterArgs> = {}): Promise<Built> {
    const seen: { name: string; type: string; resource: pulumi.Resource; opts: pulumi.CustomResourceOptions }[] = [];
    const cluster = new LibvirtCluster(
        name,
        { config: cfg, sshPublicKey: PUBLIC_KEY, sshPrivateKey: PRIVATE_KEY, ...extra },
        {
            transformations: [
                (args) => {
                    seen.push({ name: args.name, type: args.type, resource: args.resource, opts: args.opts as pulumi.CustomResourceOptions });
                    return undefined;
                },
            ],
        },
    );
    await value(cluster.urn);
    await Promise.all(seen.map((s) => value(s.resource.urn)));
    const byResource = new Map(seen.map((s) => [s.resource, s.name]));
    const children = new Map<string, Child>();
    for (const s of seen) {
        if (s.name === name) continue; // the component itself
        const rec = [...records].reverse().find((r) => r.name === s.name);
        if (!rec) throw new Error(`${s.name} was never registered`);
        children.set(s.name, { ...s, type_: rec.type, inputs: rec.inputs });
    }
    return {
        cluster,
        children,
        dependsOn: (child) => ((children.get(child)!.opts.dependsOn as pulumi.Resource[]) ?? []).map((r) => byResource.get(r)!).sort(),
    };
}

const NODES = ["kubenode1", "kubenode2", "kubenode3"];
const STEPS = ["disk", "seed", "domain", "ready"];

describe("LibvirtCluster resource graph", () => {
    let b: Built;
    beforeAll(async () => {
        b = await build("lv", config((raw) => (raw.libvirt = { domainType: "qemu", bootTimeoutSeconds: 321 })));
    });

    it("registers one network and disk, seed, domain and ready per node, all local commands", () => {
        const expected = ["lv-network", ...NODES.flatMap((n) => STEPS.map((s) => `lv-${n}-${s}`))];
        expect([...b.children.keys()].sort()).toEqual(expected.sort());
        for (const child of b.children.values()) {
            expect(child.type).toBe("command:local:Command");
            expect(child.type_).toBe("command:local:Command");
        }
    });

    it("parents every child to the component", async () => {
        for (const child of b.children.values()) {
            expect(child.opts.parent).toBe(b.cluster);
            expect(await value(child.resource.urn)).toContain("kubespray-ha:index:LibvirtCluster$command:local:Command::");
        }
        expect(await value(b.cluster.urn)).toMatch(/::kubespray-ha:index:LibvirtCluster::lv$/);
    });

    it("orders network -> disk/seed -> domain -> ready, so deletes run the other way and the network goes last", () => {
        expect(b.dependsOn("lv-network")).toEqual([]);
        for (const n of NODES) {
            expect(b.dependsOn(`lv-${n}-disk`)).toEqual(["lv-network"]);
            expect(b.dependsOn(`lv-${n}-seed`)).toEqual(["lv-network"]);
            expect(b.dependsOn(`lv-${n}-domain`)).toEqual([`lv-${n}-disk`, `lv-${n}-seed`, "lv-network"]);
            expect(b.dependsOn(`lv-${n}-ready`)).toEqual([`lv-${n}-domain`]);
        }
    });

    it("deletes before replacing (old and new share names) and never feeds previous output back", () => {
        for (const child of b.children.values()) {
            expect(child.opts.deleteBeforeReplace).toBe(true);
            expect(child.inputs.addPreviousOutputInEnv).toBe(false);
            // The readiness wait also holds its disk's id (see "LibvirtCluster triggers").
            expect(child.inputs.triggers).toHaveLength(child.name.endsWith("-ready") ? 2 : 1);
            expect(child.inputs.triggers[0]).toMatch(/^[0-9a-f]{64}$/);
        }
    });

    it("network: net-define from the XML on stdin, destroy/undefine on delete", () => {
        const plan = planLibvirt(config((raw) => (raw.libvirt = { domainType: "qemu" })), PUBLIC_KEY);
        const net = b.children.get("lv-network")!.inputs;
        expect(net.create).toContain("virsh -c qemu:///system net-define --file /dev/stdin");
        expect(net.create).toContain("net-start --network dev-net");
        expect(net.stdin).toBe(plan.networkXml);
        expect(net.delete).toContain("net-destroy --network dev-net");
        expect(net.delete).toContain("net-undefine --network dev-net");
    });

    it("per node: qemu-img overlay, cloud-localds seed, virsh define/start, cloud-init wait", () => {
        const plan = planLibvirt(config((raw) => (raw.libvirt = { domainType: "qemu" })), PUBLIC_KEY);
        NODES.forEach((n, i) => {
            const node = plan.nodes[i];
            const disk = b.children.get(`lv-${n}-disk`)!.inputs;
            expect(disk.create).toContain(`qemu-img create -q -f qcow2 -F qcow2 -b ${plan.baseImage} ${node.domain.diskPath} 20G`);
            expect(disk.delete).toContain(`rm -f -- ${node.domain.diskPath}`);
            const seed = b.children.get(`lv-${n}-seed`)!.inputs;
            expect(seed.create).toContain("cloud-localds -N");
            expect(seed.create).toContain(node.domain.seedPath);
            const files = seed.stdin.split("\n").slice(0, 3).map((l: string) => Buffer.from(l, "base64").toString());
            expect(files).toEqual([node.userData, node.networkConfig, node.metaData]);
            expect(seed.delete).toContain(`rm -f -- ${node.domain.seedPath}`);
            const domain = b.children.get(`lv-${n}-domain`)!.inputs;
            expect(domain.create).toContain("define --file /dev/stdin");
            expect(domain.create).toContain(`start --domain dev-${n}`);
            expect(domain.stdin).toBe(node.domainXml);
            expect(domain.stdin).toContain(`<domain type="qemu">`);
            expect(domain.delete).toContain(`destroy --domain dev-${n}`);
            expect(domain.delete).toContain(`undefine --domain dev-${n}`);
            const ready = b.children.get(`lv-${n}-ready`)!.inputs;
            expect(ready.create).toContain("cloud-init status --wait");
            expect(ready.create).toContain(`+ 321 ))`);
            expect(ready.create).toContain(`-l kube -i "$key" ${node.ip}`);
            expect(ready.create).not.toContain("PRIVATE KEY");
            expect(secretInput(ready.stdin)).toEqual({ secret: true, value: PRIVATE_KEY });
            expect(ready.delete).toBeUndefined();
        });
    });

    it("keeps the private key secret", async () => {
        const ready = b.children.get("lv-kubenode1-ready")!.resource as any;
        expect(await pulumi.isSecret(ready.stdin)).toBe(true);
    });

    it("exposes machines: name, roles, private ip as sshAddress, the ready command as resource", async () => {
        expect(b.cluster.machines.map((m) => [m.name, m.ip])).toEqual(NODES.map((n, i) => [n, `192.168.122.2${i + 1}`]));
        expect(b.cluster.machines[0].roles).toEqual(["control-plane", "etcd", "worker"]);
        for (const [i, m] of b.cluster.machines.entries()) {
            expect(await value(m.sshAddress)).toBe(m.ip);
            expect(m.resource).toBe(b.children.get(`lv-${NODES[i]}-ready`)!.resource);
        }
        expect(await value(b.cluster.networkName)).toBe("dev-net");
        expect(await value(b.cluster.domainNames)).toEqual(NODES.map((n) => `dev-${n}`));
    });
});

describe("LibvirtCluster triggers", () => {
    function triggers(b: Built): Record<string, string> {
        return Object.fromEntries([...b.children.entries()].map(([k, c]) => [k.replace(/^[^-]+-/, ""), c.inputs.triggers[0]]));
    }
    let base: Record<string, string>;
    beforeAll(async () => {
        base = triggers(await build("t1", config()));
    });

    it("are equal for two constructions with equal config", async () => {
        const again = triggers(await build("t2", config()));
        expect(again).toEqual(base);
        expect(new Set(Object.values(base)).size).toBe(Object.keys(base).length);
    });

    function changed(after: Record<string, string>): string[] {
        return Object.keys(base).filter((k) => base[k] !== after[k]).sort();
    }

    it("memory or vCPUs: no replacement (the domain is re-defined in place)", async () => {
        const b = await build("t3", config((raw) => (raw.nodes[0].memoryMiB = 8192)));
        expect(changed(triggers(b))).toEqual([]);
        expect(b.children.get("t3-kubenode1-domain")!.inputs.stdin).toContain(`<memory unit="MiB">8192</memory>`);
    });

    it("disk size: that node's disk, domain and wait are replaced", async () => {
        const after = triggers(await build("t4", config((raw) => (raw.nodes[1].diskGiB = 50))));
        expect(changed(after)).toEqual(["kubenode2-disk", "kubenode2-domain", "kubenode2-ready"]);
    });

    it("SSH key: every node gets a fresh disk (cloud-init applies a seed once)", async () => {
        const other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOtherKeyOtherKeyOtherKeyOtherKeyOtherKeyOth other@x";
        const after = triggers(await build("t5", config(), { sshPublicKey: other }));
        expect(changed(after)).toEqual(NODES.flatMap((n) => STEPS.map((s) => `${n}-${s}`)).sort());
    });

    it("DHCP range or a new node's host entry: the network is re-defined in place", async () => {
        const b = await build("t6", config((raw) => (raw.network.dhcpRange = { start: "192.168.122.200", end: "192.168.122.250" })));
        expect(changed(triggers(b))).toEqual([]);
        expect(b.children.get("t6-network")!.inputs.stdin).toContain(`<range start="192.168.122.200" end="192.168.122.250"/>`);
    });

    it("forward mode: a new network and a cold restart of the domains, disks and readiness waits kept (the wait re-runs in place)", async () => {
        const b = await build("t7", config(), { networkForward: "nat" });
        expect(changed(triggers(b))).toEqual(["network", ...NODES.map((n) => `${n}-domain`)].sort());
        // The domain's new trigger is in the wait's script: an in-place update, which runs the wait again.
        const before = await build("t7b", config());
        expect(b.children.get("t7-kubenode1-ready")!.inputs.create).not.toBe(before.children.get("t7b-kubenode1-ready")!.inputs.create);
    });

    it("gateway: everything, since the nodes' network-config changes too", async () => {
        const after = triggers(await build("t8", config((raw) => (raw.network.gateway = "192.168.122.2"))));
        expect(changed(after)).toEqual(Object.keys(base).sort());
    });
});

describe("LibvirtCluster on a remote hypervisor", () => {
    it("runs every command over SSH on libvirt.host, under /bin/sh", async () => {
        const b = await build(
            "rm",
            config((raw) => (raw.libvirt = { host: { address: "hv.example", user: "virt", port: 2222 } })),
            { hypervisorPrivateKey: "HVKEY" },
        );
        expect(b.children.size).toBe(13);
        for (const child of b.children.values()) {
            expect(child.type).toBe("command:remote:Command");
            const connection = secretInput(child.inputs.connection);
            expect(connection.secret).toBe(true);
            expect(connection.value).toMatchObject({ host: "hv.example", user: "virt", port: 2222, privateKey: "HVKEY" });
            expect(child.inputs.create).toMatch(/^sh -c '/);
            expect(child.inputs.addPreviousOutputInEnv).toBe(false);
        }
        expect(b.children.get("rm-network")!.inputs.delete).toMatch(/^sh -c '.*net-undefine/s);
    });

    it("leaves the key to the SSH agent when none is given", async () => {
        const b = await build("ra", config((raw) => (raw.libvirt = { host: { address: "hv.example" } })));
        const connection = secretInput(b.children.get("ra-network")!.inputs.connection).value;
        expect(connection).toMatchObject({ host: "hv.example", user: "root", port: 22 });
        expect(connection.privateKey).toBeUndefined();
    });
});

describe("LibvirtCluster config errors", () => {
    it("fails naming the key", () => {
        // parseClusterConfig refuses this already; the component checks again for configs built by hand.
        const good = config();
        const bad = { ...good, libvirt: { ...good.libvirt, storageDir: "relative/dir" } };
        expect(() => new LibvirtCluster("bad", { config: bad, sshPublicKey: PUBLIC_KEY, sshPrivateKey: PRIVATE_KEY })).toThrow(/libvirt\.storageDir/);
    });
});

describe("LibvirtCluster: triggers, names and protect from the pure functions npm run plan uses (issue 12.3, 12.9)", () => {
    const withWorker = (change: (raw: any) => void = () => undefined) =>
        config((raw) => {
            raw.nodes.push({ name: "kubenode4", ip: "192.168.122.24", roles: ["worker"] });
            change(raw);
        });

    it("hashes libvirtTriggerInputs into each command's triggers; the wait also holds its disk's id", async () => {
        const cfg = withWorker();
        const b = await build("sf", cfg);
        const t = libvirtTriggerInputs(planLibvirt(cfg, PUBLIC_KEY));
        expect(b.children.get(libvirtNetworkResourceName("sf"))!.inputs.triggers).toEqual([contentHash(t.network)]);
        for (const n of t.nodes) {
            const names = libvirtNodeResourceNames("sf", n.node);
            expect(b.children.get(names.disk)!.inputs.triggers).toEqual([contentHash(n.disk)]);
            expect(b.children.get(names.seed)!.inputs.triggers).toEqual([contentHash(n.seed)]);
            expect(b.children.get(names.domain)!.inputs.triggers).toEqual([contentHash(n.domain)]);
            // The mock gives every resource the id `<name>-id`: the disk's id, so Pulumi replaces the wait
            // (and the Kubespray commands keyed on it) before it deletes the old disk.
            expect(b.children.get(names.ready)!.inputs.triggers).toEqual([contentHash(n.ready), `${names.disk}-id`]);
        }
    });

    it("names its children as the node identities say, and protects exactly their protected resources", async () => {
        const cfg = withWorker();
        const b = await build("sn", cfg);
        const ids = libvirtIdentities(cfg, planLibvirt(cfg, PUBLIC_KEY), "sn");
        expect([...b.children.keys()].sort()).toEqual([libvirtNetworkResourceName("sn"), ...ids.flatMap((i) => i.resources)].sort());
        const protectedNames = [...b.children.values()].filter((c) => c.opts.protect === true).map((c) => c.name).sort();
        expect(protectedNames).toEqual(ids.flatMap((i) => i.protected).sort());
        // etcd members: disk and domain; the worker, seeds, waits and the network: none.
        expect(protectedNames).toEqual(["kubenode1", "kubenode2", "kubenode3"].flatMap((n) => [`sn-${n}-disk`, `sn-${n}-domain`]).sort());
    });

    it("protects nothing with protectEtcdMembers: false", async () => {
        const b = await build("su", withWorker((raw) => (raw.protectEtcdMembers = false)));
        expect([...b.children.values()].filter((c) => c.opts.protect).map((c) => c.name)).toEqual([]);
    });

    it("libvirt.host (how the hypervisor is reached): equal triggers, so nothing is replaced; the commands go to the new host", async () => {
        const strip = (b: Built) => Object.fromEntries([...b.children.entries()].map(([k, c]) => [k.replace(/^[^-]+-/, ""), c.inputs.triggers]));
        const local = await build("hl", config());
        const one = await build("ha", config((raw) => (raw.libvirt = { host: { address: "hv1.example" } })));
        const two = await build("hb", config((raw) => (raw.libvirt = { host: { address: "hv2.example", user: "virt", port: 2222 } })));
        const ids = (b: Built) => JSON.stringify(strip(b)).replace(/"[a-z]{2}-kubenode\d-disk-id"/g, "DISK-ID");
        expect(ids(one)).toBe(ids(local));
        expect(ids(two)).toBe(ids(one));
        expect(secretInput(two.children.get("hb-kubenode1-disk")!.inputs.connection).value).toMatchObject({ host: "hv2.example", user: "virt", port: 2222 });
    });
});

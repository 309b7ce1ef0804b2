// HcloudCluster under Pulumi's mock runtime: what it registers, with which inputs and
// options, for 3 and 5 control planes. The mock records every resource and throws on any
// invoke it does not know; a transformation on the component records each child's options.
// The Load Balancer gets public IPs from the mock and Kubespray's kubeconfig command prints an
// admin.conf at the VIP, so the public endpoint (SANs, kubeconfigs, provider) is checked end to end.
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";
import { ClusterConfig, parseClusterConfig } from "../components/config/config";
import { HcloudCluster } from "../components/nodes/hcloud/hcloud";
import { KubesprayRun } from "../components/kubespray/run";
import { adminConf } from "./helpers/admin-conf";
import { firewallRules, SERVER_IGNORE_CHANGES } from "../components/nodes/hcloud/hcloud-spec";
import { hcloudIdentities } from "../components/nodes/identity";
import { renderInventory } from "../components/kubespray/inventory";
import { readStackConfig } from "../components/config/stackfile";
import { hcloudRaw, libvirtRaw, PUBLIC_KEY } from "./fixtures";

interface Registered {
    type: string;
    name: string;
    inputs: any;
    provider?: string;
    id: string;
}
interface Child {
    type: string;
    name: string;
    props: any;
    opts: pulumi.CustomResourceOptions & pulumi.ComponentResourceOptions;
    resource: pulumi.Resource;
}

const TOKEN = "hcloud-test-token-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRS";
const PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nhcloud-test-key-material\n-----END OPENSSH PRIVATE KEY-----\n";
const EXISTING_KEY_ID = 4711;
/** The API VIP of hcloudRaw(); Kubespray's admin.conf points there. */
const VIP_URL = "https://10.0.1.5:6443";
const registered: Registered[] = [];
const invokes: { token: string; inputs: any }[] = [];
let nextId = 1000;

beforeAll(async () => {
    await pulumi.runtime.setMocks(
        {
            newResource: (args) => {
                const id = String(nextId++);
                registered.push({ type: args.type, name: args.name, inputs: args.inputs, provider: args.provider, id });
                const state: Record<string, unknown> = { ...args.inputs };
                if (args.type === "hcloud:index/server:Server") {
                    // A public IPv4 derived from the private one, so tests can tell them apart.
                    state.ipv4Address = `198.51.100.${String(args.inputs.networks[0].ip).split(".")[3]}`;
                }
                if (args.type === "hcloud:index/loadBalancer:LoadBalancer") {
                    // Hetzner gives every Load Balancer public addresses; one per Load Balancer here.
                    state.ipv4 = `192.0.2.${Number(id) % 250}`;
                    state.ipv6 = `2001:db8::${Number(id) % 250}`;
                }
                if (args.type === "command:local:Command" && args.name.endsWith("-kubeconfig")) {
                    state.stdout = adminConf(VIP_URL);
                    state.stderr = "";
                }
                return { id, state };
            },
            call: (args) => {
                invokes.push({ token: args.token, inputs: args.inputs });
                if (args.token === "hcloud:index/getSshKey:getSshKey") {
                    return { id: EXISTING_KEY_ID, name: args.inputs.name, publicKey: PUBLIC_KEY, fingerprint: "aa:bb", labels: {} };
                }
                if (args.token === "hcloud:index/getServerType:getServerType") {
                    return currentServerType(args.inputs.name);
                }
                throw new Error(`unmocked invoke ${args.token}`);
            },
        },
        "kubespray-ha",
        "hetzner",
        false,
    );
});

/** A current server type as the provider's getServerType returns it: orderable in the EU locations. */
function currentServerType(name: string) {
    const locations = ["fsn1", "nbg1", "hel1"].map((location, i) => ({
        id: i + 1, name: location, available: true, recommended: true, isDeprecated: false, deprecationAnnounced: "", unavailableAfter: "",
    }));
    return {
        id: 100 + name.length, name, description: name.toUpperCase(), architecture: "x86", category: "cost_optimized", cores: 2, cpuType: "shared",
        memory: 4, disk: 40, storageType: "local", includedTraffic: 0, isDeprecated: false, deprecationAnnounced: "", unavailableAfter: "", locations,
    };
}

function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => output.apply((v) => resolve(v)));
}

interface Built {
    config: ClusterConfig;
    cluster: HcloudCluster;
    /** What the mock engine registered for this cluster, in order. */
    resources: Registered[];
    /** The children as the component constructed them, with their resource options. */
    children: Child[];
}

async function build(
    name: string,
    raw: any,
    args: { sshPublicKey?: string; hcloudToken?: pulumi.Input<string>; sshPrivateKey?: pulumi.Input<string> } = {},
): Promise<Built> {
    const config = parseClusterConfig(raw, { stack: "hetzner" });
    const all: Child[] = [];
    const cluster = new HcloudCluster(
        name,
        {
            config,
            sshPublicKey: "sshPublicKey" in args ? args.sshPublicKey : PUBLIC_KEY,
            hcloudToken: args.hcloudToken ?? pulumi.secret(TOKEN),
            sshPrivateKey: "sshPrivateKey" in args ? args.sshPrivateKey : pulumi.secret(PRIVATE_KEY),
        },
        {
            transformations: [
                (t) => {
                    all.push({ type: t.type, name: t.name, props: t.props, opts: t.opts, resource: t.resource });
                    return undefined;
                },
            ],
        },
    );
    // Every registration has reached the mock once each resource has its URN.
    await Promise.all(all.map((c) => valueOf(c.resource.urn)));
    await Promise.all(cluster.machines.map((m) => valueOf(m.sshAddress)));
    const children = all.filter((c) => c.resource !== cluster);
    const resources = registered.filter((r) => r.name.startsWith(`${name}-`));
    return { config, cluster, resources, children };
}

/** A resource's logical name; compare names, not Resource objects (jest cannot print those). */
function nameOf(b: Built, resource: unknown): string {
    if (resource === b.cluster) return "(component)";
    return b.children.find((c) => c.resource === resource)?.name ?? "(not a child)";
}

const byType = (rs: Registered[], type: string) => rs.filter((r) => r.type === `hcloud:index/${type}`);
const one = (rs: Registered[], type: string) => {
    const found = byType(rs, type);
    expect(found).toHaveLength(1);
    return found[0];
};
const countTypes = (rs: { type: string }[]) =>
    rs.reduce<Record<string, number>>((acc, r) => ({ ...acc, [r.type]: (acc[r.type] ?? 0) + 1 }), {});

describe.each([
    [3, 2],
    [5, 3],
])("HcloudCluster with %i control planes and %i workers", (controlPlanes, workers) => {
    const name = `c${controlPlanes}`;
    let b: Built;
    beforeAll(async () => {
        b = await build(name, hcloudRaw(controlPlanes, workers));
    });
    const cpNames = () => b.config.nodes.filter((n) => n.roles.includes("control-plane")).map((n) => n.name);

    it("registers exactly the expected resources", () => {
        expect(countTypes(b.resources)).toEqual({
            "pulumi:providers:hcloud": 1,
            "hcloud:index/network:Network": 1,
            "hcloud:index/networkSubnet:NetworkSubnet": 1,
            "hcloud:index/sshKey:SshKey": 1,
            "hcloud:index/placementGroup:PlacementGroup": 1,
            "hcloud:index/firewall:Firewall": 1,
            "hcloud:index/server:Server": controlPlanes + workers,
            "hcloud:index/loadBalancer:LoadBalancer": 1,
            "hcloud:index/loadBalancerNetwork:LoadBalancerNetwork": 1,
            "hcloud:index/loadBalancerService:LoadBalancerService": 1,
            "hcloud:index/loadBalancerTarget:LoadBalancerTarget": controlPlanes,
            "command:local:Command": controlPlanes + workers,
        });
        expect(b.children).toHaveLength(b.resources.length);
    });

    it("names children <name>-<role> and parents them to the component", async () => {
        const nodes = b.config.nodes.map((n) => n.name);
        expect(b.resources.map((r) => r.name).sort()).toEqual(
            [
                "provider", "network", "subnet", "ssh-key", "spread", "firewall", "api-lb", "api-lb-network", "api-lb-service",
                ...nodes,
                ...nodes.map((n) => `${n}-ready`),
                ...cpNames().map((n) => `api-lb-target-${n}`),
            ].map((n) => `${name}-${n}`).sort(),
        );
        const componentUrn = await valueOf(b.cluster.urn);
        expect(componentUrn).toMatch(/::kubespray-ha:index:HcloudCluster::/);
        for (const child of b.children) {
            expect([child.name, nameOf(b, child.opts.parent)]).toEqual([child.name, "(component)"]);
            expect(await valueOf(child.resource.urn)).toContain(`::kubespray-ha:index:HcloudCluster$${child.type}::${child.name}`);
        }
    });

    it("manages every hcloud resource through its own provider, never the default one", async () => {
        const providerRef = `${await valueOf(b.cluster.provider.urn)}::${await valueOf(b.cluster.provider.id)}`;
        for (const r of b.resources.filter((x) => x.type.startsWith("hcloud:"))) {
            expect([r.name, r.provider]).toEqual([r.name, providerRef]);
        }
        expect(registered.filter((r) => r.type === "pulumi:providers:hcloud" && /default/.test(r.name))).toEqual([]);
    });

    it("creates the network from the config and the cloud subnet in it", () => {
        const network = one(b.resources, "network:Network");
        const subnet = one(b.resources, "networkSubnet:NetworkSubnet");
        expect(network.inputs).toMatchObject({ name: "hetzner-network", ipRange: "10.0.1.0/24" });
        expect(subnet.inputs).toEqual({ networkId: Number(network.id), type: "cloud", networkZone: "eu-central", ipRange: "10.0.1.0/24" });
    });

    it("gives each server its fixed private IP in the subnet, the firewall, and its role labels", () => {
        const subnet = one(b.resources, "networkSubnet:NetworkSubnet");
        const firewall = one(b.resources, "firewall:Firewall");
        const sshKey = one(b.resources, "sshKey:SshKey");
        const spread = one(b.resources, "placementGroup:PlacementGroup");
        const servers = byType(b.resources, "server:Server");
        // The mock sees registrations in the order their inputs resolve, not config order.
        const networks = Object.fromEntries(servers.map((s) => [s.name, s.inputs.networks]));
        expect(networks).toEqual(
            Object.fromEntries(b.config.nodes.map((n) => [`${name}-${n.name}`, [{ subnetId: subnet.id, ip: n.ip, aliasIps: [] }]])),
        );
        for (const s of servers) {
            const node = b.config.nodes.find((n) => `${name}-${n.name}` === s.name)!;
            const isCp = node.roles.includes("control-plane");
            expect(s.inputs).toMatchObject({
                name: `hetzner-${node.name}`,
                serverType: "cx23",
                image: "ubuntu-24.04",
                location: "nbg1",
                sshKeys: [sshKey.id],
                firewallIds: [Number(firewall.id)],
            });
            expect(s.inputs.placementGroupId).toBe(isCp ? Number(spread.id) : undefined);
            expect(s.inputs.labels["kubespray-ha/control-plane"]).toBe(isCp ? "true" : undefined);
            expect(s.inputs.labels["kubespray-ha/worker"]).toBe(isCp ? undefined : "true");
            expect(s.inputs.labels["kubespray-ha/cluster"]).toBe("hetzner");
        }
        expect(spread.inputs.type).toBe("spread");
    });

    it("allows exactly SSH and the API from their sources, and ICMP from the SSH sources", () => {
        const firewall = one(b.resources, "firewall:Firewall");
        expect(firewall.inputs.rules).toEqual([
            { description: "SSH for Ansible", direction: "in", protocol: "tcp", port: "22", sourceIps: ["203.0.113.0/24"] },
            { description: "Kubernetes API", direction: "in", protocol: "tcp", port: "6443", sourceIps: ["203.0.113.0/24"] },
            { description: "ICMP from the SSH sources", direction: "in", protocol: "icmp", sourceIps: ["203.0.113.0/24"] },
        ]);
        expect(firewall.inputs.rules).toEqual(firewallRules(b.config));
    });

    it("puts the Load Balancer's private IP at the VIP, without a public interface", async () => {
        const lb = one(b.resources, "loadBalancer:LoadBalancer");
        const lbNet = one(b.resources, "loadBalancerNetwork:LoadBalancerNetwork");
        const subnet = one(b.resources, "networkSubnet:NetworkSubnet");
        expect(lb.inputs).toMatchObject({ name: "hetzner-api", loadBalancerType: "lb11", location: "nbg1" });
        expect(lbNet.inputs).toEqual({ loadBalancerId: Number(lb.id), subnetId: subnet.id, ip: "10.0.1.5", enablePublicInterface: false });
        expect(await valueOf(b.cluster.loadBalancerIp)).toBe(b.config.vip.address);
    });

    it("forwards TCP 6443 to 6443 with a TCP health check", () => {
        const lb = one(b.resources, "loadBalancer:LoadBalancer");
        const service = one(b.resources, "loadBalancerService:LoadBalancerService");
        expect(service.inputs).toEqual({
            loadBalancerId: lb.id,
            protocol: "tcp",
            listenPort: 6443,
            destinationPort: 6443,
            healthCheck: { protocol: "tcp", port: 6443, interval: 5, timeout: 3, retries: 3 },
        });
    });

    it("targets the control-plane servers, and only them, by private IP", () => {
        const lb = one(b.resources, "loadBalancer:LoadBalancer");
        const serverIds = new Map(byType(b.resources, "server:Server").map((s) => [s.name, Number(s.id)]));
        const targets = byType(b.resources, "loadBalancerTarget:LoadBalancerTarget");
        const byServer = (t: { serverId: number }, u: { serverId: number }) => t.serverId - u.serverId;
        expect(targets.map((t) => t.inputs).sort(byServer)).toEqual(
            cpNames()
                .map((n) => ({ loadBalancerId: Number(lb.id), type: "server", serverId: serverIds.get(`${name}-${n}`)!, usePrivateIp: true }))
                .sort(byServer),
        );
        expect(targets).toHaveLength(controlPlanes);
        // What KubesprayRun's playbooks wait for (NodeBackend.apiDependencies).
        expect(b.cluster.apiDependencies.map((r) => nameOf(b, r)).sort()).toEqual(
            [`${name}-api-lb`, `${name}-api-lb-network`, `${name}-api-lb-service`, ...cpNames().map((n) => `${name}-api-lb-target-${n}`)].sort(),
        );
    });

    it("orders the servers after the subnet and the targets after the Load Balancer's network attachment", () => {
        const dependsOn = (n: string) => {
            const child = b.children.find((c) => c.name === `${name}-${n}`)!;
            return [child.name, ((child.opts.dependsOn ?? []) as pulumi.Resource[]).map((r) => nameOf(b, r))];
        };
        for (const node of b.config.nodes) {
            expect(dependsOn(node.name)).toEqual([`${name}-${node.name}`, [`${name}-subnet`]]);
        }
        expect(dependsOn("api-lb-network")).toEqual([`${name}-api-lb-network`, [`${name}-subnet`]]);
        for (const cp of cpNames()) {
            expect(dependsOn(`api-lb-target-${cp}`)).toEqual([`${name}-api-lb-target-${cp}`, [`${name}-api-lb-network`]]);
        }
    });

    it("never replaces a server for an image or SSH key change, and deletes before replacing", () => {
        // The provider holds no Hetzner object; everything else has a fixed identity there.
        for (const c of b.children.filter((x) => x.type !== "pulumi:providers:hcloud")) {
            expect([c.name, c.opts.deleteBeforeReplace]).toEqual([c.name, true]);
            if (c.type === "hcloud:index/server:Server") {
                expect(c.opts.ignoreChanges).toEqual(["image", "sshKeys"]);
                // Labels must stay updatable in place.
                expect(c.opts.ignoreChanges).not.toContain("labels");
            } else {
                expect(c.opts.ignoreChanges).toBeUndefined();
            }
        }
    });

    it("exposes the machines: config name, roles and private IP, public IPv4 for SSH, the server's readiness check", async () => {
        expect(b.cluster.machines.map((m) => [m.name, m.roles, m.ip])).toEqual(b.config.nodes.map((n) => [n.name, n.roles, n.ip]));
        for (const m of b.cluster.machines) {
            expect(await valueOf(m.sshAddress)).toBe(`198.51.100.${m.ip.split(".")[3]}`);
            expect(nameOf(b, m.resource)).toBe(`${name}-${m.name}-ready`);
            expect(m.resource === b.cluster.ready[m.name]).toBe(true);
        }
    });

    it("renders group_vars without kube-vip and with the API at the Load Balancer's IP", async () => {
        const machines = await Promise.all(
            b.cluster.machines.map(async (m) => ({ name: m.name, roles: m.roles, ip: m.ip, sshAddress: await valueOf(m.sshAddress) })),
        );
        const files = renderInventory(b.config, machines);
        const lbIp = await valueOf(b.cluster.loadBalancerIp);
        expect(parse(files["group_vars/k8s_cluster/kube-vip.yml"])).toEqual({ kube_vip_enabled: false });
        const vars = parse(files["group_vars/k8s_cluster/k8s-cluster.yml"]);
        expect(vars.loadbalancer_apiserver).toEqual({ address: lbIp, port: 6443 });
        expect(vars.apiserver_loadbalancer_domain_name).toBe(lbIp);
        const hosts = parse(files["hosts.yaml"]).all.hosts;
        expect(hosts.cp1).toMatchObject({ ansible_host: "198.51.100.11", ip: "10.0.1.11" });
        expect(Object.keys(parse(files["hosts.yaml"]).all.children.kube_control_plane.hosts)).toEqual(cpNames());
    });
});

describe("HcloudCluster options", () => {
    it("gives the Load Balancer a public interface when hcloud.enablePublicInterface is true", async () => {
        const raw = hcloudRaw();
        raw.hcloud.enablePublicInterface = true;
        const b = await build("pub", raw);
        expect(one(b.resources, "loadBalancerNetwork:LoadBalancerNetwork").inputs.enablePublicInterface).toBe(true);
    });

    it("uses an existing SSH key named by hcloud.sshKeyName instead of uploading one", async () => {
        const raw = hcloudRaw();
        delete raw.ssh.publicKey;
        raw.hcloud.sshKeyName = "ops-key";
        const b = await build("named", raw, { sshPublicKey: undefined });
        expect(byType(b.resources, "sshKey:SshKey")).toEqual([]);
        expect(invokes).toContainEqual({ token: "hcloud:index/getSshKey:getSshKey", inputs: { name: "ops-key" } });
        for (const s of byType(b.resources, "server:Server")) {
            expect(s.inputs.sshKeys).toEqual([String(EXISTING_KEY_ID)]);
        }
    });

    it("applies per-node server type, image and location", async () => {
        const raw = hcloudRaw();
        raw.nodes[4] = { ...raw.nodes[4], serverType: "ccx33", image: "debian-12", location: "fsn1" };
        const b = await build("override", raw);
        expect(byType(b.resources, "server:Server").find((s) => s.name === "override-worker2")!.inputs).toMatchObject({
            serverType: "ccx33",
            image: "debian-12",
            location: "fsn1",
        });
    });
});

describe("HcloudCluster from the example stack Pulumi.hetzner.yaml", () => {
    it("builds 3 targets, the VIP 10.0.1.10 and the per-node server type", async () => {
        const root = path.join(__dirname, "..");
        const read = (f: string) => fs.readFileSync(path.join(root, f), "utf8");
        const { cluster } = readStackConfig(read("Pulumi.yaml"), read("Pulumi.hetzner.yaml"), "hetzner");
        const b = await build("example", cluster);
        expect(byType(b.resources, "loadBalancerTarget:LoadBalancerTarget")).toHaveLength(3);
        expect(await valueOf(b.cluster.loadBalancerIp)).toBe("10.0.1.10");
        expect(one(b.resources, "network:Network").inputs.ipRange).toBe("10.0.0.0/16");
        const worker = byType(b.resources, "server:Server").find((s) => s.name === "example-worker1")!;
        expect(worker.inputs).toMatchObject({ serverType: "cx33", labels: { environment: "example", "kubespray-ha/worker": "true" } });
        expect(byType(b.resources, "server:Server").find((s) => s.name === "example-cp1")!.inputs.serverType).toBe("cx23");
    });
});

describe("HcloudCluster secrets", () => {
    it("gives the token to the provider as a secret, and to nothing else", async () => {
        // Even a token passed in plain arrives at the provider wrapped as a secret.
        const b = await build("secret", hcloudRaw(), { hcloudToken: TOKEN });
        const provider = b.children.find((c) => c.type === "pulumi:providers:hcloud")!;
        expect(await pulumi.isSecret(provider.props.token)).toBe(true);
        expect(one(b.resources, "network:Network")).toBeDefined();
        // The engine receives it as a secret value (Pulumi's secret signature), not as plain text.
        const recordedProvider = b.resources.find((r) => r.type === "pulumi:providers:hcloud")!;
        expect(recordedProvider.inputs.token).toEqual({ [pulumi.runtime.specialSigKey]: pulumi.runtime.specialSecretSig, value: TOKEN });
        const holders = b.resources.filter((r) => JSON.stringify(r.inputs).includes(TOKEN)).map((r) => r.name);
        expect(holders).toEqual(["secret-provider"]);
    });
});

describe("HcloudCluster config errors", () => {
    const attempt = (raw: any, sshPublicKey?: string) => () =>
        new HcloudCluster("bad", { config: parseClusterConfig(raw, { stack: "hetzner" }), sshPublicKey, hcloudToken: pulumi.secret(TOKEN) });

    it("fails naming the key, before registering anything", () => {
        const before = registered.length;
        const raw = hcloudRaw();
        raw.ssh.port = 2222;
        expect(attempt(raw, PUBLIC_KEY)).toThrow(/ssh\.port: 2222/);
        expect(attempt(libvirtRaw(), PUBLIC_KEY)).toThrow(/backend: is libvirt/);
        const labels = hcloudRaw();
        labels.hcloud.labels = { "kubespray-ha/cluster": "x" };
        expect(attempt(labels, PUBLIC_KEY)).toThrow(/hcloud\.labels\.kubespray-ha\/cluster/);
        expect(attempt(hcloudRaw())).toThrow(/ssh\.publicKey: missing SSH public key/);
        expect(registered.length).toBe(before);
    });
});

describe("hcloud.apiEndpoint (config)", () => {
    const parsed = (change: (raw: any) => void) => {
        const raw = hcloudRaw();
        change(raw);
        return parseClusterConfig(raw, { stack: "hetzner" });
    };

    it("defaults to public with the public interface, private without it", () => {
        expect(parsed(() => undefined).hcloud.apiEndpoint).toBe("private");
        expect(parsed((r) => (r.hcloud.enablePublicInterface = true)).hcloud.apiEndpoint).toBe("public");
        expect(parsed((r) => Object.assign(r.hcloud, { enablePublicInterface: true, apiEndpoint: "private" })).hcloud.apiEndpoint).toBe("private");
        expect(parseClusterConfig({ ...libvirtRaw(), hcloud: { enablePublicInterface: true } }, { stack: "dev" }).hcloud.apiEndpoint).toBe("private");
    });

    it("refuses public without the public interface, naming both keys", () => {
        expect(() => parsed((r) => (r.hcloud.apiEndpoint = "public"))).toThrow(
            /hcloud\.apiEndpoint: public needs hcloud\.enablePublicInterface: true/,
        );
        expect(() => parsed((r) => (r.hcloud.apiEndpoint = "internet"))).toThrow(/hcloud\.apiEndpoint: Invalid enum value/);
    });
});

describe("HcloudCluster + KubesprayRun: the API endpoint for clients", () => {
    const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nkey-material\n-----END OPENSSH PRIVATE KEY-----\n";

    /** The cluster and Kubespray wired as index.ts wires them, under the mock. */
    async function deploy(name: string, hcloudKeys: Record<string, unknown>) {
        const raw = hcloudRaw();
        Object.assign(raw.hcloud, hcloudKeys);
        const b = await build(name, raw);
        const run = new KubesprayRun(`${name}-kubespray`, {
            config: b.config,
            machines: b.cluster.machines,
            sshPrivateKey: KEY,
            publicApiAddresses: b.cluster.publicApiAddresses,
        });
        await Promise.all(Object.values(run.commands).map((c) => valueOf(c.urn)));
        await valueOf(run.provider.urn);
        const provider = registered.find((r) => r.name === `${name}-kubespray-k8s`)!;
        return { ...b, run, provider };
    }
    /** The server of the kubeconfig the k8s provider was registered with (a secret envelope at the engine). */
    const providerServer = (provider: Registered) => {
        expect(provider.inputs.kubeconfig[pulumi.runtime.specialSigKey]).toBe(pulumi.runtime.specialSecretSig);
        return parse(provider.inputs.kubeconfig.value).clusters[0].cluster.server;
    };
    const sans = async (run: KubesprayRun) =>
        parse((await valueOf(run.inventory))["group_vars/k8s_cluster/k8s-cluster.yml"]).supplementary_addresses_in_ssl_keys;

    it("public interface on: the Load Balancer's public IPv4 and IPv6 join the certificate SANs, the VIP stays the cluster endpoint", async () => {
        const d = await deploy("pubsan", { enablePublicInterface: true });
        const ipv4 = await valueOf(d.cluster.loadBalancer.ipv4);
        const ipv6 = await valueOf(d.cluster.loadBalancer.ipv6);
        expect(ipv4).toMatch(/^192\.0\.2\.\d+$/);
        expect(await valueOf(d.cluster.publicApiAddresses!)).toEqual([ipv4, ipv6]);
        expect(await sans(d.run)).toEqual(["10.0.1.5", ipv4, ipv6]);
        const vars = parse((await valueOf(d.run.inventory))["group_vars/k8s_cluster/k8s-cluster.yml"]);
        expect(vars.loadbalancer_apiserver).toEqual({ address: "10.0.1.5", port: 6443 });
        expect(vars.apiserver_loadbalancer_domain_name).toBe("10.0.1.5");
        // What Kubespray really gets: the inventory command writes it from stdin.
        const inventoryCmd = registered.find((r) => r.name === "pubsan-kubespray-inventory")!;
        expect(inventoryCmd.inputs.stdin).toContain(`- ${ipv4}\n`);
        expect(inventoryCmd.inputs.stdin).not.toContain("known after create");
    });

    it("public interface off: no public address anywhere, the SANs are the VIP", async () => {
        const d = await deploy("privsan", {});
        expect(d.cluster.publicApiAddresses).toBeUndefined();
        expect(d.run.publicKubeconfig).toBeUndefined();
        expect(d.run.publicApiServerUrl).toBeUndefined();
        expect(await sans(d.run)).toEqual(["10.0.1.5"]);
        expect(providerServer(d.provider)).toBe(VIP_URL);
        expect(await valueOf(d.run.kubeconfig)).toBe(adminConf(VIP_URL));
    });

    it("apiEndpoint public (the default with the interface): kubeconfig and provider on the public IPv4, both kubeconfigs secret", async () => {
        const d = await deploy("pubep", { enablePublicInterface: true });
        const ipv4 = await valueOf(d.cluster.loadBalancer.ipv4);
        const url = `https://${ipv4}:6443`;
        expect(await valueOf(d.run.publicApiServerUrl!)).toBe(url);
        expect(await pulumi.isSecret(d.run.publicKubeconfig!)).toBe(true);
        expect(await pulumi.isSecret(d.run.kubeconfig)).toBe(true);
        const pub = parse(await valueOf(d.run.publicKubeconfig!));
        expect(pub.clusters[0].cluster.server).toBe(url);
        expect(pub.users).toEqual(parse(adminConf(VIP_URL)).users);
        expect(await valueOf(d.run.kubeconfig)).toBe(await valueOf(d.run.publicKubeconfig!));
        expect(providerServer(d.provider)).toBe(url);
    });

    it("apiEndpoint private with the interface on: kubeconfig and provider stay on the VIP, the public kubeconfig is still there", async () => {
        const d = await deploy("privep", { enablePublicInterface: true, apiEndpoint: "private" });
        const ipv4 = await valueOf(d.cluster.loadBalancer.ipv4);
        expect(providerServer(d.provider)).toBe(VIP_URL);
        expect(parse(await valueOf(d.run.kubeconfig)).clusters[0].cluster.server).toBe(VIP_URL);
        expect(await pulumi.isSecret(d.run.kubeconfig)).toBe(true);
        expect(parse(await valueOf(d.run.publicKubeconfig!)).clusters[0].cluster.server).toBe(`https://${ipv4}:6443`);
        expect(await pulumi.isSecret(d.run.publicKubeconfig!)).toBe(true);
        expect(await sans(d.run)).toContain(ipv4);
    });

    it("KubesprayRun refuses the public interface without the Load Balancer's addresses, and addresses without it", async () => {
        const on = hcloudRaw();
        on.hcloud.enablePublicInterface = true;
        const b = await build("refuse", on);
        const args = { config: b.config, machines: b.cluster.machines, sshPrivateKey: KEY };
        expect(() => new KubesprayRun("refuse-a", args)).toThrow(/publicApiAddresses missing: hcloud\.enablePublicInterface is on/);
        const off = parseClusterConfig(hcloudRaw(), { stack: "hetzner" });
        expect(() => new KubesprayRun("refuse-b", { ...args, config: off, publicApiAddresses: ["192.0.2.1"] })).toThrow(/publicApiAddresses given/);
    });
});

describe("HcloudCluster: server names, replacing inputs and protect from the node identities (issue 12.3, 12.9)", () => {
    it("passes each identity's replacing inputs (location) to its server, under the identity's resource name", async () => {
        const raw = hcloudRaw();
        raw.nodes[1].location = "fsn1";
        const b = await build("idn", raw);
        const ids = hcloudIdentities(b.config, "idn");
        expect(byType(b.resources, "server:Server").map((r) => r.name).sort()).toEqual(ids.flatMap((i) => i.machine).sort());
        for (const id of ids) {
            const server = b.resources.find((r) => r.name === id.machine[0])!;
            // The node's resource (what Kubespray keys on) is the server's readiness check.
            expect(b.resources.find((r) => r.name === id.resource)?.type).toBe("command:local:Command");
            expect(id.resource).toBe(`${id.machine[0]}-ready`);
            // The identity labels its inputs by config key; the values are what the server got.
            expect(Object.values(id.changes.rebuild.inputs)).toEqual([server.inputs.location]);
        }
        expect(b.resources.find((r) => r.name === "idn-cp2")!.inputs.location).toBe("fsn1");
        for (const c of b.children.filter((x) => x.type === "hcloud:index/server:Server")) {
            expect(c.opts.ignoreChanges).toEqual([...SERVER_IGNORE_CHANGES]);
        }
    });

    it("protects the etcd members' servers, and nothing else", async () => {
        const b = await build("prot", hcloudRaw(3, 2));
        const protectedNames = b.children.filter((c) => c.opts.protect === true).map((c) => c.name).sort();
        expect(protectedNames).toEqual(["prot-cp1", "prot-cp2", "prot-cp3"]);
        expect(protectedNames).toEqual(hcloudIdentities(b.config, "prot").flatMap((i) => i.protected).sort());
    });

    it("protects nothing with protectEtcdMembers: false", async () => {
        const b = await build("unprot", { ...hcloudRaw(3, 2), protectEtcdMembers: false });
        expect(b.children.filter((c) => c.opts.protect).map((c) => c.name)).toEqual([]);
    });
});

describe("HcloudCluster readiness: every server ends with the SSH + cloud-init check before Kubespray", () => {
    let b: Built;
    beforeAll(async () => {
        b = await build("rdy", hcloudRaw(3, 1));
    });
    const readyChild = (node: string) => b.children.find((c) => c.name === `rdy-${node}-ready`)!;
    const readyRecord = (node: string) => registered.find((r) => r.name === `rdy-${node}-ready`)!;

    it("one local command per server, after the server, re-created with it", () => {
        for (const node of b.config.nodes) {
            const child = readyChild(node.name);
            expect([child.name, child.type]).toEqual([`rdy-${node.name}-ready`, "command:local:Command"]);
            expect(((child.opts.dependsOn ?? []) as pulumi.Resource[]).map((r) => nameOf(b, r))).toEqual([`rdy-${node.name}`]);
            expect(child.opts.provider).toBeUndefined();
            const server = registered.find((r) => r.name === `rdy-${node.name}`)!;
            expect(readyRecord(node.name).inputs.triggers[0]).toBe(server.id);
            expect(readyRecord(node.name).inputs.interpreter).toEqual(["/bin/sh", "-c"]);
        }
    });

    it("waits for SSH and cloud-init at the server's public IPv4, bounded by ssh.waitSeconds", () => {
        const create: string = readyRecord("cp2").inputs.create;
        expect(create).toContain("cloud-init status --wait");
        expect(create).toContain("198.51.100.12");
        expect(create).toMatch(/-l root -i "\$key" 198\.51\.100\.12/);
        expect(create).toContain(`deadline=$(( $(date +%s) + ${b.config.ssh.waitSeconds} ))`);
        expect(b.config.ssh.waitSeconds).toBe(300);
    });

    it("fails naming the node, its address, ssh.waitSeconds and the likely causes (firewall sources, key)", () => {
        const create: string = readyRecord("worker1").inputs.create;
        // The last lines: the hint on stderr, then a failure, after the shared check ran in a subshell.
        const lines = create.trimEnd().split("\n");
        expect(lines.slice(-1)).toEqual(["exit 1"]);
        expect(lines.at(-2)).toMatch(/^echo '.*' >&2$/);
        const hint = lines.at(-2)!.replace(/'\\''/g, "'");
        expect(hint).toMatch(/hcloud node worker1 \(198\.51\.100\.101\): not ready for Kubespray within 300s \(ssh\.waitSeconds\)/);
        expect(hint).toMatch(/hcloud\.firewall\.sshSourceCidrs \(203\.0\.113\.0\/24\)/);
        expect(hint).toMatch(/203\.0\.113\.0\/24 is a documentation range \(RFC 5737\), the example's placeholder/);
        expect(hint).toMatch(/kubespray-ha:sshPrivateKey or ssh\.privateKeyPath/);
    });

    it("keeps the private key secret: on stdin only, a secret at the engine, never in the script", async () => {
        for (const node of b.config.nodes) {
            expect(await pulumi.isSecret(readyChild(node.name).props.stdin)).toBe(true);
            const record = readyRecord(node.name);
            expect(record.inputs.stdin).toEqual({ [pulumi.runtime.specialSigKey]: pulumi.runtime.specialSecretSig, value: PRIVATE_KEY });
            expect(record.inputs.create).not.toContain("hcloud-test-key-material");
            expect(record.inputs.addPreviousOutputInEnv).toBe(false);
        }
        // A key passed in plain is wrapped too.
        const plain = await build("rdyplain", hcloudRaw(1, 1), { sshPrivateKey: PRIVATE_KEY });
        for (const c of plain.children.filter((x) => x.type === "command:local:Command")) {
            expect(await pulumi.isSecret(c.props.stdin)).toBe(true);
        }
    });

    it("KubesprayRun's commands depend on the readiness checks, not on the bare servers", async () => {
        const seen: Child[] = [];
        const run = new KubesprayRun("rdy-kubespray", { config: b.config, machines: b.cluster.machines, sshPrivateKey: PRIVATE_KEY }, {
            transformations: [(t) => (seen.push({ type: t.type, name: t.name, props: t.props, opts: t.opts, resource: t.resource }), undefined)],
        });
        await Promise.all(Object.values(run.commands).map((c) => valueOf(c.urn)));
        const deps = (id: string) => ((seen.find((c) => c.name === `rdy-kubespray-${id}`)!.opts.dependsOn ?? []) as pulumi.Resource[]);
        const readyOf = (n: string) => b.cluster.ready[n] as pulumi.Resource;
        // cluster.yml runs on the control planes, the worker joins with its own command; the inventory needs all.
        for (const node of b.config.nodes) {
            const id = node.roles.includes("control-plane") ? "cluster" : `node-${node.name}`;
            expect([id, node.name, deps(id).includes(readyOf(node.name))]).toEqual([id, node.name, true]);
            expect(deps("inventory").includes(readyOf(node.name))).toBe(true);
            for (const cmd of ["inventory", "cluster", "node-worker1"]) {
                expect(deps(cmd).includes(b.cluster.servers[node.name])).toBe(false);
            }
        }
    });

    it("without sshPrivateKey: no check, the server is the machine, and a warning says so", async () => {
        const warn = jest.spyOn(pulumi.log, "warn");
        try {
            const bare = await build("nokey", hcloudRaw(1, 1), { sshPrivateKey: undefined });
            expect(bare.children.filter((c) => c.type === "command:local:Command")).toEqual([]);
            expect(bare.cluster.machines.every((m) => m.resource === bare.cluster.servers[m.name])).toBe(true);
            expect(warn.mock.calls.map((c) => c[0])).toContainEqual(expect.stringMatching(/sshPrivateKey not given: no readiness check/));
        } finally {
            warn.mockRestore();
        }
    });
});

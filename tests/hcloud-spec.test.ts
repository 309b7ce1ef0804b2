// The Hetzner backend's pure logic: firewall rules, server specs, labels and the Hetzner
// rules the generic schema does not check. No Pulumi, no mocks.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { ConfigError, parseClusterConfig } from "../components/config/config";
import {
    API_HEALTH_CHECK,
    clusterLabels,
    firewallRules,
    hcloudProblems,
    hcloudReadyScript,
    networkIpRange,
    placeholderSshSources,
    readinessFailureHint,
    serverLabels,
    serverSpecs,
    SERVER_IGNORE_CHANGES,
    serverReplaceInputs,
} from "../components/nodes/hcloud/hcloud-spec";
import { readStackConfig } from "../components/config/stackfile";
import { hcloudRaw, libvirtRaw } from "./fixtures";

const root = path.join(__dirname, "..");

const parse = (raw: any, stack = "hetzner") => parseClusterConfig(raw, { stack });
/** The keys parseClusterConfig refuses (it runs hcloudProblems on every hcloud config). */
const keys = (raw: any): string[] => {
    try {
        parse(raw);
        return [];
    } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        return err.problems.map((p) => p.key);
    }
};

describe("firewallRules", () => {
    it("opens SSH and the API to their configured sources, ICMP to the SSH sources, nothing else", () => {
        const raw = hcloudRaw();
        raw.hcloud.firewall = { sshSourceCidrs: ["203.0.113.0/24", "198.51.100.7/32"], apiSourceCidrs: ["192.0.2.0/24"] };
        expect(firewallRules(parse(raw))).toEqual([
            { description: "SSH for Ansible", direction: "in", protocol: "tcp", port: "22", sourceIps: ["203.0.113.0/24", "198.51.100.7/32"] },
            { description: "Kubernetes API", direction: "in", protocol: "tcp", port: "6443", sourceIps: ["192.0.2.0/24"] },
            { description: "ICMP from the SSH sources", direction: "in", protocol: "icmp", sourceIps: ["203.0.113.0/24", "198.51.100.7/32"] },
        ]);
    });

    it("leaves the API closed when apiSourceCidrs is empty", () => {
        const raw = hcloudRaw();
        raw.hcloud.firewall.apiSourceCidrs = [];
        const rules = firewallRules(parse(raw));
        expect(rules.map((r) => `${r.protocol}/${r.port ?? "-"}`)).toEqual(["tcp/22", "icmp/-"]);
    });

    it("never opens a rule to the whole internet or without sources", () => {
        for (const rule of firewallRules(parse(hcloudRaw()))) {
            expect(rule.sourceIps.length).toBeGreaterThan(0);
            expect(rule.sourceIps).not.toContain("0.0.0.0/0");
            expect(rule.direction).toBe("in");
        }
    });

    it("lists each source once", () => {
        const raw = hcloudRaw();
        raw.hcloud.firewall.sshSourceCidrs = ["203.0.113.0/24", "203.0.113.0/24"];
        expect(firewallRules(parse(raw))[0].sourceIps).toEqual(["203.0.113.0/24"]);
    });
});

describe("serverSpecs", () => {
    it("gives every node its fixed private IP, the defaults and a prefixed Hetzner name", () => {
        const specs = serverSpecs(parse(hcloudRaw(3, 2)));
        expect(specs.map((s) => [s.node, s.serverName, s.ip])).toEqual([
            ["cp1", "hetzner-cp1", "10.0.1.11"],
            ["cp2", "hetzner-cp2", "10.0.1.12"],
            ["cp3", "hetzner-cp3", "10.0.1.13"],
            ["worker1", "hetzner-worker1", "10.0.1.101"],
            ["worker2", "hetzner-worker2", "10.0.1.102"],
        ]);
        for (const s of specs) {
            expect([s.serverType, s.image, s.location]).toEqual(["cx23", "ubuntu-24.04", "nbg1"]);
        }
    });

    it("lets a node override serverType, image and location", () => {
        const raw = hcloudRaw();
        raw.hcloud.serverType = "cx33";
        raw.nodes[3] = { ...raw.nodes[3], serverType: "ccx23", image: "debian-12", location: "fsn1" };
        const specs = serverSpecs(parse(raw));
        expect(specs[0]).toMatchObject({ serverType: "cx33", image: "ubuntu-24.04", location: "nbg1" });
        expect(specs[3]).toMatchObject({ node: "worker1", serverType: "ccx23", image: "debian-12", location: "fsn1" });
    });

    it("targets only control planes, and spreads control-plane and etcd nodes", () => {
        const raw = hcloudRaw(3, 2);
        raw.nodes.push({ name: "etcd-only", ip: "10.0.1.50", roles: ["etcd"] });
        raw.nodes.push({ name: "etcd-only2", ip: "10.0.1.51", roles: ["etcd"] });
        const specs = serverSpecs(parse(raw));
        expect(specs.filter((s) => s.loadBalancerTarget).map((s) => s.node)).toEqual(["cp1", "cp2", "cp3"]);
        expect(specs.filter((s) => s.spread).map((s) => s.node)).toEqual(["cp1", "cp2", "cp3", "etcd-only", "etcd-only2"]);
    });
});

describe("labels", () => {
    it("adds the cluster, node and role labels to hcloud.labels", () => {
        const raw = hcloudRaw();
        raw.hcloud.labels = { team: "platform", env: "prod" };
        const config = parse(raw);
        expect(clusterLabels(config)).toEqual({ env: "prod", "kubespray-ha/cluster": "hetzner", team: "platform" });
        expect(serverLabels(config, config.nodes[0])).toEqual({
            env: "prod",
            team: "platform",
            "kubespray-ha/cluster": "hetzner",
            "kubespray-ha/node": "cp1",
            "kubespray-ha/control-plane": "true",
            "kubespray-ha/etcd": "true",
        });
        expect(serverSpecs(config)[4].labels).toMatchObject({ "kubespray-ha/worker": "true", "kubespray-ha/node": "worker2" });
        expect(serverSpecs(config)[4].labels).not.toHaveProperty("kubespray-ha/control-plane");
    });

    it("renders labels in a stable key order", () => {
        const a = hcloudRaw();
        a.hcloud.labels = { b: "1", a: "2" };
        const b = hcloudRaw();
        b.hcloud.labels = { a: "2", b: "1" };
        expect(JSON.stringify(serverSpecs(parse(a)))).toBe(JSON.stringify(serverSpecs(parse(b))));
    });
});

describe("networkIpRange", () => {
    it("defaults to the node subnet and takes hcloud.networkIpRange", () => {
        expect(networkIpRange(parse(hcloudRaw()))).toBe("10.0.1.0/24");
        const raw = hcloudRaw();
        raw.hcloud.networkIpRange = "10.0.0.0/16";
        expect(networkIpRange(parse(raw))).toBe("10.0.0.0/16");
    });
});

describe("hcloudProblems", () => {
    it("accepts the fixture", () => {
        expect(hcloudProblems(parse(hcloudRaw(3, 2)))).toEqual([]);
        expect(hcloudProblems(parse(hcloudRaw(5, 3)))).toEqual([]);
    });

    it("refuses another backend, naming backend", () => {
        expect(hcloudProblems(parse(libvirtRaw()))).toEqual([
            { key: "backend", message: expect.stringMatching(/libvirt/) },
        ]);
    });

    it("refuses an SSH port other than 22, naming ssh.port", () => {
        const raw = hcloudRaw();
        raw.ssh.port = 2222;
        expect(keys(raw)).toEqual(["ssh.port"]);
    });

    it("refuses invalid or reserved label keys and values, naming the label", () => {
        const raw = hcloudRaw();
        raw.hcloud.labels = { "bad key": "x", "kubespray-ha/cluster": "other", "hetzner.cloud/x": "y", ok: "has space", fine: "" };
        expect(keys(raw).sort()).toEqual([
            "hcloud.labels.bad key",
            "hcloud.labels.hetzner.cloud/x",
            "hcloud.labels.kubespray-ha/cluster",
            "hcloud.labels.ok",
        ]);
    });

    it("refuses a location outside hcloud.networkZone, naming it", () => {
        const raw = hcloudRaw();
        raw.nodes[1].location = "ash";
        expect(keys(raw)).toEqual(["nodes[1].location"]);
        const lb = hcloudRaw();
        lb.hcloud.location = "hil";
        expect(keys(lb)).toEqual(["hcloud.location"]);
        const zone = hcloudRaw();
        zone.hcloud = { ...zone.hcloud, location: "ash", networkZone: "us-east" };
        expect(keys(zone)).toEqual([]);
    });

    it("refuses a network outside RFC 1918, naming the key that sets it", () => {
        const raw = hcloudRaw();
        raw.network.cidr = "100.64.1.0/24";
        raw.vip.address = "100.64.1.5";
        raw.nodes.forEach((n: any, i: number) => (n.ip = `100.64.1.${20 + i}`));
        expect(keys(raw)).toEqual(["network.cidr"]);
        const range = hcloudRaw();
        range.hcloud.networkIpRange = "8.0.0.0/6";
        expect(keys(range)).toEqual(["hcloud.networkIpRange"]);
    });

    it("refuses more control-plane/etcd nodes than a spread group holds", () => {
        expect(keys(hcloudRaw(11, 1))).toEqual(["nodes"]);
    });

    it("refuses a server name longer than 63 characters", () => {
        const raw = hcloudRaw();
        raw.name = "a".repeat(60);
        expect(keys(raw)).toEqual(["nodes[0].name", "nodes[1].name", "nodes[2].name", "nodes[3].name", "nodes[4].name"]);
    });
});

describe("hcloud config rules (parseClusterConfig)", () => {
    it("fails ARP mode on hcloud at parse, naming vip.mode", () => {
        const raw = hcloudRaw();
        raw.vip.mode = "arp";
        expect(() => parse(raw)).toThrow(/vip\.mode: arp cannot hold a VIP on Hetzner Cloud/);
    });

    it("defaults hcloud to loadbalancer mode", () => {
        expect(parse(hcloudRaw()).vip.mode).toBe("loadbalancer");
    });
});

describe("API_HEALTH_CHECK", () => {
    it("checks TCP on the API port, timing out before the next check", () => {
        expect(API_HEALTH_CHECK).toMatchObject({ protocol: "tcp", port: 6443 });
        expect(API_HEALTH_CHECK.timeout).toBeLessThan(API_HEALTH_CHECK.interval);
    });
});

describe("the example stack Pulumi.hetzner.yaml", () => {
    const read = (file: string) => fs.readFileSync(path.join(root, file), "utf8");
    const config = () => parse(readStackConfig(read("Pulumi.yaml"), read("Pulumi.hetzner.yaml"), "hetzner").cluster);

    it("is a valid hcloud stack: 3 control planes, 2 workers, the Load Balancer VIP", () => {
        const c = config();
        expect(c.backend).toBe("hcloud");
        expect(c.vip).toMatchObject({ mode: "loadbalancer", address: "10.0.1.10", picked: false });
        expect(serverSpecs(c).filter((s) => s.loadBalancerTarget)).toHaveLength(3);
        expect(c.nodes.filter((n) => n.roles.includes("worker"))).toHaveLength(2);
        expect(hcloudProblems(c)).toEqual([]);
    });

    it("uses documentation addresses as firewall placeholders and tells how to set the token", () => {
        const c = config();
        expect([...c.hcloud.firewall.sshSourceCidrs, ...c.hcloud.firewall.apiSourceCidrs]).toEqual(["203.0.113.0/24", "203.0.113.0/24"]);
        expect(read("Pulumi.hetzner.yaml")).toMatch(/pulumi config set --secret hcloud:token/);
    });

    it("renders offline with `render --stack hetzner`, public IPs as placeholders", () => {
        const out = fs.mkdtempSync(path.join(os.tmpdir(), "kha-hetzner-"));
        const tsNode = path.join(root, "node_modules", ".bin", "ts-node");
        const result = spawnSync(tsNode, ["--transpile-only", path.join(root, "scripts", "render.ts"), "--stack", "hetzner", "--out", out], { cwd: root, encoding: "utf8" });
        expect(result.stderr).toBe("");
        expect(result.status).toBe(0);
        const inventory = path.join(out, "inventory");
        expect(parseYaml(fs.readFileSync(path.join(inventory, "group_vars/k8s_cluster/kube-vip.yml"), "utf8"))).toEqual({ kube_vip_enabled: false });
        const vars = parseYaml(fs.readFileSync(path.join(inventory, "group_vars/k8s_cluster/k8s-cluster.yml"), "utf8"));
        expect(vars.loadbalancer_apiserver).toEqual({ address: "10.0.1.10", port: 6443 });
        const hosts = parseYaml(fs.readFileSync(path.join(inventory, "hosts.yaml"), "utf8")).all.hosts;
        expect(hosts.cp1).toMatchObject({ ansible_host: "<known after create: public IPv4 of cp1>", ip: "10.0.1.11" });
    });
});

describe("serverReplaceInputs (what replaces a server, issue 12.3)", () => {
    it("is the location alone: server type, labels and IPs update in place; image and SSH keys are ignored", () => {
        const raw = hcloudRaw(3, 1);
        raw.nodes[3].location = "hel1";
        raw.nodes[3].serverType = "cx43";
        const specs = serverSpecs(parse(raw));
        expect(specs.map(serverReplaceInputs)).toEqual([{ location: "nbg1" }, { location: "nbg1" }, { location: "nbg1" }, { location: "hel1" }]);
        expect([...SERVER_IGNORE_CHANGES]).toEqual(["image", "sshKeys"]);
    });
});

describe("the readiness check of a server (pure)", () => {
    const spec = (raw: any, i = 0) => serverSpecs(parse(raw))[i];
    const hasSsh = spawnSync("sh", ["-c", "command -v ssh"]).status === 0;

    it("is the shared wait (SSH, cloud-init status --wait) at the address, bounded by ssh.waitSeconds, then the hint", () => {
        const raw = hcloudRaw(1, 1);
        raw.ssh.waitSeconds = 42;
        const config = parse(raw);
        const script = hcloudReadyScript(config, spec(raw), "198.51.100.7");
        expect(script).toMatch(/^# hcloud server cp1: /);
        expect(script).toContain("cloud-init status --wait");
        expect(script).toContain("deadline=$(( $(date +%s) + 42 ))");
        expect(script).toMatch(/-p 22 -l root -i "\$key" 198\.51\.100\.7 /);
        expect(script).toMatch(/\n\); then exit 0; fi\necho '.*' >&2\nexit 1\n$/);
        expect(script).not.toMatch(/PRIVATE KEY/);
    });

    it("names the node, the address, the bound and the causes: firewall sources (placeholders called out), key, cloud-init", () => {
        const raw = hcloudRaw(1, 1);
        const hint = readinessFailureHint(parse(raw), spec(raw, 1), "198.51.100.101");
        expect(hint).toMatch(/^hcloud node worker1 \(198\.51\.100\.101\): not ready for Kubespray within 300s \(ssh\.waitSeconds\)\./);
        expect(hint).toMatch(/"Connection timed out" above: the address Pulumi runs from is not in hcloud\.firewall\.sshSourceCidrs \(203\.0\.113\.0\/24\)/);
        expect(hint).toMatch(/203\.0\.113\.0\/24 is a documentation range \(RFC 5737\)/);
        expect(hint).toMatch(/"Permission denied \(publickey\)": the private key \(kubespray-ha:sshPrivateKey or ssh\.privateKeyPath\) is not the one of ssh\.publicKey/);
        expect(hint).toMatch(/cloud-init failed or hangs on hcloud\.image ubuntu-24\.04/);
        const real = hcloudRaw(1, 1);
        real.hcloud.firewall.sshSourceCidrs = ["192.0.2.10/32", "85.10.0.0/16"];
        delete real.ssh.publicKey;
        real.hcloud.sshKeyName = "ops";
        expect(placeholderSshSources(parse(real))).toEqual(["192.0.2.10/32"]);
        const named = readinessFailureHint(parse(real), spec(real), "198.51.100.11");
        expect(named).toMatch(/the existing hcloud SSH key hcloud\.sshKeyName "ops"/);
        real.hcloud.firewall.sshSourceCidrs = ["85.10.0.0/16"];
        expect(readinessFailureHint(parse(real), spec(real), "198.51.100.11")).not.toMatch(/documentation range/);
    });

    (hasSsh ? it : it.skip)("really fails in time with the hint on stderr and exit 1 (ssh to a closed port on 127.0.0.1)", () => {
        const raw = hcloudRaw(1, 1);
        raw.ssh.waitSeconds = 2;
        const script = hcloudReadyScript(parse(raw), spec(raw), "127.0.0.1").replace(/-p 22 /g, "-p 9 ");
        const run = spawnSync("/bin/sh", ["-c", script], { input: "not a key\n", encoding: "utf8", timeout: 30_000 });
        expect(run.status).toBe(1);
        expect(run.stderr).toMatch(/no SSH answer as root within 2s/);
        expect(run.stderr.trimEnd().split("\n").at(-1)).toMatch(/^hcloud node cp1 \(127\.0\.0\.1\): not ready for Kubespray within 2s \(ssh\.waitSeconds\)\. Likely causes:/);
    });
});

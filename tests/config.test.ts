import { ConfigError, KUBE_PROXY_MODES, KUBESPRAY_VERSIONS, parseClusterConfig, ParseOptions } from "../components/config/config";
import { KUBESPRAY_VERSION_FACTS } from "../components/config/kubespray-versions";
import { baremetalRaw, hcloudRaw, libvirtRaw } from "./fixtures";

const parse = (raw: unknown, options: Partial<ParseOptions> = {}) => parseClusterConfig(raw, { stack: "test", ...options });

/** Applies `change` to a fresh valid libvirt config and expects parsing to fail naming `key`. */
function expectRejected(change: (raw: any) => void, key: RegExp, reason?: RegExp, base = libvirtRaw, options: Partial<ParseOptions> = {}): void {
    rejectedWith(change, key, reason, base, options);
}

/** expectRejected, returning the error. */
function rejectedWith(change: (raw: any) => void, key: RegExp, reason?: RegExp, base = libvirtRaw, options: Partial<ParseOptions> = {}): ConfigError {
    const raw = base();
    change(raw);
    let error: unknown;
    try {
        parse(raw, options);
    } catch (err) {
        error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    const match = problems.find((p) => key.test(p.key) && (!reason || reason.test(p.message)));
    if (!match) {
        throw new Error(`expected a problem at ${key} ${reason ?? ""}, got:\n${(error as Error).message}`);
    }
    expect((error as Error).message).toContain(match.key);
    return error as ConfigError;
}

describe("valid configs", () => {
    it("fills defaults for the dev-like libvirt config", () => {
        const config = parse(libvirtRaw());
        expect(config.name).toBe("test");
        expect(config.vip).toMatchObject({ address: "192.168.122.100", mode: "arp", picked: false, leaseDuration: 3, renewDeadline: 2, retryPeriod: 1 });
        expect(config.kubeProxyMode).toBe("ipvs");
        expect(config.kubeProxyStrictArp).toBe(true);
        expect(config.ssh.user).toBe("kube");
        expect(config.apiServerUrl).toBe("https://192.168.122.100:6443");
        expect(config.libvirt.uri).toBe("qemu:///system");
        expect(config.subnet.gateway).toBe("192.168.122.1");
    });
    it("defaults hcloud to the loadbalancer mode, root user and no strict ARP", () => {
        const config = parse(hcloudRaw());
        expect(config.vip.mode).toBe("loadbalancer");
        expect(config.ssh.user).toBe("root");
        expect(config.kubeProxyStrictArp).toBe(false);
        expect(config.hcloud.enablePublicInterface).toBe(false);
    });
    it("picks a VIP deterministically when none is set", () => {
        const raw = libvirtRaw();
        delete raw.vip.address;
        const a = parse(raw);
        const b = parse(JSON.parse(JSON.stringify(raw)));
        expect(a.vip.address).toBe("192.168.122.149");
        expect(a.vip.picked).toBe(true);
        expect(b.vip.address).toBe(a.vip.address);
    });
    it("accepts BGP with AS and peers, each control plane its own router id, and iptables without strict ARP", () => {
        const raw = libvirtRaw();
        raw.vip = { address: "192.168.122.100", mode: "bgp", bgp: { localAs: 65001, peers: [{ address: "192.168.122.1", as: 65000 }] } };
        raw.nodes[2].bgpRouterId = "10.255.0.3";
        raw.kubeProxyMode = "iptables";
        const config = parse(raw);
        expect(config.vip.bgp).toEqual({
            routerIds: { kubenode1: "192.168.122.21", kubenode2: "192.168.122.22", kubenode3: "10.255.0.3" },
            localAs: 65001,
            peers: [{ address: "192.168.122.1", as: 65000 }],
        });
        expect(config.kubeProxyStrictArp).toBe(false);
        expect(config.inventorySecrets).toEqual([]);
    });
    it("takes vip.bgp.routerId as the router id of a single control plane", () => {
        const raw = libvirtRaw();
        raw.nodes[1].roles = ["etcd", "worker"];
        raw.nodes[2].roles = ["etcd", "worker"];
        raw.vip = { address: "192.168.122.100", mode: "bgp", bgp: { routerId: "10.255.0.1", localAs: 65001, peers: [{ address: "192.168.122.1", as: 65000 }] } };
        expect(parse(raw).vip.bgp!.routerIds).toEqual({ kubenode1: "10.255.0.1" });
    });
    it("accepts bare-metal machines that already trust the key, ARP by default", () => {
        const config = parse(baremetalRaw());
        expect(config.vip.mode).toBe("arp");
        expect(config.ssh).toMatchObject({ user: "root", port: 22, waitSeconds: 300 });
        expect(config.nodes[1].sshAddress).toBe("127.0.0.1");
    });
    it("reports every problem at once", () => {
        const raw = libvirtRaw();
        raw.vip.address = "192.168.122.1";
        raw.nodes[1].name = "kubenode1";
        expect(() => parse(raw)).toThrow(/vip\.address[\s\S]*|nodes\[1\]\.name/);
        try { parse(raw); } catch (err) { expect((err as ConfigError).problems.map((p) => p.key).sort()).toEqual(["nodes[1].name", "vip.address"]); }
    });
});

describe("bad input fails naming the config key", () => {
    // The VIP rules
    it("VIP outside the node subnet", () => expectRejected((r) => (r.vip.address = "10.1.2.3"), /^vip\.address$/, /outside the node subnet/));
    it("VIP equal to the network address", () => expectRejected((r) => (r.vip.address = "192.168.122.0"), /^vip\.address$/, /network address/));
    it("VIP equal to the broadcast address", () => expectRejected((r) => (r.vip.address = "192.168.122.255"), /^vip\.address$/, /broadcast/));
    it("VIP equal to the gateway (.1)", () => expectRejected((r) => (r.vip.address = "192.168.122.1"), /^vip\.address$/, /gateway/));
    it("VIP equal to a node IP", () => expectRejected((r) => (r.vip.address = "192.168.122.22"), /^vip\.address$/, /node IP/));
    it("VIP inside the libvirt DHCP range", () => expectRejected((r) => (r.vip.address = "192.168.122.160"), /^vip\.address$/, /DHCP range/));
    it("no VIP free outside the DHCP range", () =>
        expectRejected((r) => { delete r.vip.address; r.network.dhcpRange = { start: "192.168.122.2", end: "192.168.122.254" }; r.nodes.forEach((n: any, i: number) => (n.ip = `192.168.122.${2 + i}`)); }, /^(vip\.address|nodes\[\d\]\.ip)$/));
    // Malformed addresses
    it("malformed VIP", () => expectRejected((r) => (r.vip.address = "192.168.122.300"), /^vip\.address$/, /not an IPv4/));
    it("malformed CIDR", () => expectRejected((r) => (r.network.cidr = "192.168.122.0/40"), /^network\.cidr$/));
    it("CIDR without prefix", () => expectRejected((r) => (r.network.cidr = "192.168.122.0"), /^network\.cidr$/, /not a CIDR/));
    it("CIDR with host bits", () => expectRejected((r) => (r.network.cidr = "192.168.122.7/24"), /^network\.cidr$/, /host bits/));
    it("malformed node IP", () => expectRejected((r) => (r.nodes[2].ip = "192.168.122"), /^nodes\[2\]\.ip$/));
    it("node IP outside the subnet", () => expectRejected((r) => (r.nodes[0].ip = "192.168.1.21"), /^nodes\[0\]\.ip$/, /outside/));
    it("node IP inside the DHCP range", () => expectRejected((r) => (r.nodes[0].ip = "192.168.122.151"), /^nodes\[0\]\.ip$/, /dhcpRange/));
    it("malformed DHCP range", () => expectRejected((r) => (r.network.dhcpRange.end = "nope"), /^network\.dhcpRange\.end$/));
    it("DHCP range outside the subnet", () => expectRejected((r) => (r.network.dhcpRange.start = "10.0.0.5"), /^network\.dhcpRange\.start$/));
    it("DHCP range reversed", () => expectRejected((r) => (r.network.dhcpRange = { start: "192.168.122.200", end: "192.168.122.150" }), /^network\.dhcpRange$/, /after end/));
    it("malformed BGP peer", () => expectRejected((r) => { r.vip.mode = "bgp"; r.vip.bgp = { routerId: "192.168.122.21", localAs: 65000, peers: [{ address: "x", as: 65000 }] }; }, /^vip\.bgp\.peers\[0\]\.address$/));
    // Node counts and names
    it("no nodes", () => expectRejected((r) => (r.nodes = []), /^nodes$/, /at least one/));
    it("zero control-plane nodes", () => expectRejected((r) => r.nodes.forEach((n: any) => (n.roles = ["etcd", "worker"])), /^nodes$/, /control-plane/));
    it("an even number of control-plane nodes", () => expectRejected((r) => (r.nodes[2].roles = ["etcd", "worker"]), /^nodes$/, /2 nodes have the role control-plane .*odd/));
    it("zero etcd nodes", () => expectRejected((r) => r.nodes.forEach((n: any) => (n.roles = ["control-plane", "worker"])), /^nodes$/, /0 nodes have the role etcd/));
    it("an even number of etcd nodes", () => expectRejected((r) => (r.nodes[0].roles = ["control-plane", "worker"]), /^nodes$/, /2 nodes have the role etcd/));
    it("an even number of etcd nodes passes only with etcd.allowEvenMembers (one step of a one-member-per-up change), which the error names", () => {
        expectRejected((r) => (r.nodes[0].roles = ["control-plane", "worker"]), /^nodes$/, /etcd\.allowEvenMembers: true allows an even count for one `up`/);
        const raw = libvirtRaw();
        raw.nodes[0].roles = ["control-plane", "worker"];
        raw.etcd = { allowEvenMembers: true };
        expect(parse(raw).etcd.allowEvenMembers).toBe(true);
        // Zero stays refused.
        expectRejected((r) => { r.etcd = { allowEvenMembers: true }; r.nodes.forEach((n: any) => (n.roles = ["control-plane", "worker"])); }, /^nodes$/, /0 nodes have the role etcd/);
    });
    it("no worker", () => expectRejected((r) => r.nodes.forEach((n: any) => (n.roles = ["control-plane", "etcd"])), /^nodes$/, /worker/));
    it("duplicate node names", () => expectRejected((r) => (r.nodes[2].name = "kubenode1"), /^nodes\[2\]\.name$/, /duplicate/));
    it("duplicate node IPs", () => expectRejected((r) => (r.nodes[2].ip = "192.168.122.21"), /^nodes\[2\]\.ip$/, /duplicate/));
    it("invalid node name", () => expectRejected((r) => (r.nodes[0].name = "Kube_Node"), /^nodes\[0\]\.name$/, /DNS label/));
    it("unknown role", () => expectRejected((r) => (r.nodes[0].roles = ["master"]), /^nodes\[0\]\.roles\[0\]$/));
    // etcd's timings (etcd refuses to start with either)
    it("etcd election timeout under 5 heartbeats", () => expectRejected((r) => (r.etcd = { electionTimeoutMs: 1000, heartbeatIntervalMs: 250 }), /^etcd\.electionTimeoutMs$/, /5 x etcd\.heartbeatIntervalMs/));
    it("etcd election timeout over 50 s", () => expectRejected((r) => (r.etcd = { electionTimeoutMs: 60000 }), /^etcd\.electionTimeoutMs$/, /50000/));
    // Modes
    it("ARP mode on Hetzner Cloud", () => expectRejected((r) => (r.vip.mode = "arp"), /^vip\.mode$/, /layer 3/, hcloudRaw));
    it("BGP mode on Hetzner Cloud", () => expectRejected((r) => (r.vip.mode = "bgp"), /^vip\.mode$/, /layer 3/, hcloudRaw));
    it("loadbalancer mode on libvirt", () => expectRejected((r) => (r.vip.mode = "loadbalancer"), /^vip\.mode$/, /Hetzner/));
    it("loadbalancer mode on bare metal", () => expectRejected((r) => (r.vip.mode = "loadbalancer"), /^vip\.mode$/, /on baremetal use arp or bgp/, baremetalRaw));
    it("sshAddress on a backend that creates its nodes", () => expectRejected((r) => (r.nodes[0].sshAddress = "1.2.3.4"), /^nodes\[0\]\.sshAddress$/, /only for backend baremetal/));
    it("unknown VIP mode", () => expectRejected((r) => (r.vip.mode = "vrrp"), /^vip\.mode$/));
    it("one vip.bgp.routerId for three control planes", () => expectRejected((r) => { r.vip.mode = "bgp"; r.vip.bgp = { routerId: "192.168.122.21", localAs: 65000, peers: [{ address: "192.168.122.1", as: 65000 }] }; }, /^vip\.bgp\.routerId$/, /3 control-plane nodes.*nodes\[\]\.bgpRouterId/));
    it("two control planes with the same router id", () => expectRejected((r) => { r.vip.mode = "bgp"; r.vip.bgp = { localAs: 65000, peers: [{ address: "192.168.122.1", as: 65000 }] }; r.nodes[2].bgpRouterId = "192.168.122.21"; }, /^nodes\[2\]\.bgpRouterId$/, /also the router id of kubenode1/));
    it("a malformed router id", () => expectRejected((r) => (r.nodes[0].bgpRouterId = "router1"), /^nodes\[0\]\.bgpRouterId$/, /IPv4/));
    it("a BGP peer password in the cluster object (plain text)", () => expectRejected((r) => { r.vip.mode = "bgp"; r.vip.bgp = { localAs: 65000, peers: [{ address: "192.168.122.1", as: 65000, password: "pw" }] }; }, /^vip\.bgp\.peers\[0\]\.password$/, /--secret --path 'kubespray-ha:bgpPeerPasswords\["192\.168\.122\.1"\]'/));
    it("BGP without local AS", () => expectRejected((r) => { r.vip.mode = "bgp"; r.vip.bgp = { routerId: "192.168.122.21", peers: [{ address: "192.168.122.1", as: 65000 }] }; }, /^vip\.bgp\.localAs$/, /required/));
    it("BGP without peers", () => expectRejected((r) => { r.vip.mode = "bgp"; r.vip.bgp = { routerId: "192.168.122.21", localAs: 65000, peers: [] }; }, /^vip\.bgp\.peers$/));
    it("BGP without any bgp section", () => expectRejected((r) => (r.vip.mode = "bgp"), /^vip\.bgp\.(routerId|localAs|peers)$/));
    it("bgp settings without BGP mode", () => expectRejected((r) => (r.vip.bgp = { localAs: 65000 }), /^vip\.bgp$/));
    it("ipvs + ARP without strict ARP", () => expectRejected((r) => (r.kubeProxyStrictArp = false), /^kubeProxyStrictArp$/, /kube_proxy_strict_arp = true/));
    it("lease timings out of order", () => expectRejected((r) => { r.vip.leaseDuration = 3; r.vip.renewDeadline = 3; }, /^vip\.renewDeadline$/));
    // Backend and secrets that live in the cluster object
    it("unknown backend", () => expectRejected((r) => (r.backend = "aws"), /^backend$/, /unknown backend "aws"/));
    it("missing backend", () => expectRejected((r) => delete r.backend, /^backend$/));
    it("unknown Kubespray version", () => expectRejected((r) => (r.kubesprayVersion = "v2.20.0"), /^kubesprayVersion$/));
    it("unknown key (typo)", () => expectRejected((r) => (r.vip.adress = "192.168.122.100"), /^vip$/, /adress/));
    it("missing SSH public key", () => expectRejected((r) => delete r.ssh.publicKey, /^ssh\.publicKey$/, /missing/));
    it("malformed SSH public key", () => expectRejected((r) => (r.ssh.publicKey = "not a key"), /^ssh\.publicKey$/));
    it("hcloud without firewall SSH sources", () => expectRejected((r) => (r.hcloud.firewall.sshSourceCidrs = []), /^hcloud\.firewall\.sshSourceCidrs$/, /required/, hcloudRaw));
    it("hcloud with a malformed firewall CIDR", () => expectRejected((r) => (r.hcloud.firewall.apiSourceCidrs = ["1.2.3.4/99"]), /^hcloud\.firewall\.apiSourceCidrs\[0\]$/, undefined, hcloudRaw));
    it("hcloud network range not containing the subnet", () => expectRejected((r) => (r.hcloud.networkIpRange = "10.1.0.0/16"), /^hcloud\.networkIpRange$/, /does not contain/, hcloudRaw));
    it("a group var the program manages", () => expectRejected((r) => (r.groupVars = { kube_vip_address: "1.2.3.4" }), /^groupVars\.kube_vip_address$/, /managed/));
    it("an initrd without a kernel", () => expectRejected((r) => (r.libvirt = { initrd: "/boot/initrd.img" }), /^libvirt\.kernel$/));
    it("a missing cluster object", () => expect(() => parse(undefined)).toThrow(/kubespray-ha:cluster/));
});

/** The message of the problem at `key`. */
function problemAt(error: ConfigError, key: string): string {
    const p = error.problems.find((x) => x.key === key);
    if (!p) throw new Error(`no problem at ${key}: ${error.message}`);
    return p.message;
}

const bare = (v: string) => v.replace(/^v/, "");
const other = (v: string) => (v.startsWith("v") ? v.slice(1) : `v${v}`);

describe("what the selected Kubespray version supports (issue 12)", () => {
    describe.each([...KUBESPRAY_VERSIONS])("Kubespray %s", (version) => {
        const facts = KUBESPRAY_VERSION_FACTS[version];
        const withVersion = (kubeVersion?: string) => {
            const raw = libvirtRaw();
            raw.kubesprayVersion = version;
            if (kubeVersion !== undefined) raw.kubeVersion = kubeVersion;
            return raw;
        };
        it("accepts every kube version it has checksums for, with or without a leading v", () => {
            for (const v of facts.kubeVersions) {
                expect(parse(withVersion(v)).kubeVersion).toBe(v);
                expect(parse(withVersion(other(v))).kubeVersion).toBe(other(v));
            }
        });
        const [newest, oldest] = [facts.kubeVersions[0], facts.kubeVersions[facts.kubeVersions.length - 1]];
        const [major, minor, patch] = bare(newest).split(".").map(Number);
        const [oMajor, oMinor] = bare(oldest).split(".").map(Number);
        it.each([
            ["a newer patch release", `${major}.${minor}.${patch + 1}`],
            ["the next minor release", `${major}.${minor + 1}.0`],
            ["the minor release before the oldest", `${oMajor}.${oMinor - 1}.0`],
            ["a malformed version", `${major}.${minor}`],
        ])("refuses %s, naming kubeVersion and the supported range with a valid example", (_what, kubeVersion) => {
            const error = rejectedWith((r) => Object.assign(r, withVersion(kubeVersion)), /^kubeVersion$/);
            const message = problemAt(error, "kubeVersion");
            expect(message).toContain(version);
            expect(message).toContain(`${bare(oldest)}–${bare(newest)}`);
            const example = /e\.g\. (\S+?)[;,)]?$/.exec(message)?.[1];
            expect(example).toBeDefined();
            expect(parse(withVersion(example)).kubeVersion).toBe(example);
        });
        it.each([...KUBE_PROXY_MODES])("kubeProxyMode %s: accepted exactly when Kubespray's assert allows it", (mode) => {
            const raw = withVersion();
            raw.kubeProxyMode = mode;
            if (facts.kubeProxyModes.includes(mode)) {
                expect(parse(raw).kubeProxyMode).toBe(mode);
            } else {
                const message = problemAt(rejectedWith((r) => Object.assign(r, raw), /^kubeProxyMode$/), "kubeProxyMode");
                expect(message).toContain(version);
                for (const m of facts.kubeProxyModes) expect(message).toContain(m);
            }
        });
    });
});

describe("variables and arguments the program manages (issue 12)", () => {
    it.each([
        "kube_apiserver_port", "artifacts_dir", "kubeconfig_localhost", "loadbalancer_apiserver_port", "loadbalancer_apiserver_type",
        "apiserver_loadbalancer_domain_name", "kube_vip_leaseduration", "ansible_user", "ansible_port", "ansible_host", "ip", "access_ip",
        "etcd_member_name", "kubeadm_version", "kube_version", "cluster_name", "node", "etcd_election_timeout", "etcd_heartbeat_interval",
    ])("groupVars.%s is refused, naming the key", (name) =>
        expectRejected((r) => (r.groupVars = { container_manager: "containerd", [name]: "x" }), new RegExp(`^groupVars\\.${name}$`), /managed by this program/));

    it("accepts group vars and arguments the program does not manage", () => {
        const raw = libvirtRaw();
        raw.groupVars = { container_manager: "containerd", metrics_server_enabled: true };
        raw.kubespray = {
            extraArgs: ["-v", "-vvv", "--diff", "--tags", "etcd", "--skip-tags=download", "-e", "metrics_server_enabled=true", "-e", 'foo="a b" bar=1',
                "-e", '{"container_manager": "containerd"}', "--extra-vars=dashboard_enabled=false", "--timeout=60", "-edns_mode=coredns"],
        };
        expect(parse(raw).kubespray.extraArgs).toEqual(raw.kubespray.extraArgs);
    });

    it.each<[string[], number, RegExp]>([
        [["-e", "kube_vip_address=1.2.3.4"], 1, /kube_vip_address.*vip\.\*/],
        [["-e", "files_repo=http://10.0.0.9"], 1, /files_repo.*offline\.filesRepo/],
        [["-e", "kubeadm_binary_checksum=sha256:00"], 1, /kubeadm_binary_checksum.*offline\.checksums\.kubeadm/],
        [["-e kube_vip_address=1.2.3.4"], 0, /kube_vip_address/],
        [["-ekube_apiserver_port=8443"], 0, /kube_apiserver_port/],
        [["-bve", "artifacts_dir=/tmp"], 1, /artifacts_dir/],
        [["--extra-vars=loadbalancer_apiserver_port=8443"], 0, /loadbalancer_apiserver_port/],
        [["--extra", "apiserver_loadbalancer_domain_name=x"], 1, /apiserver_loadbalancer_domain_name/],
        [["-v", "-e", "metrics_server_enabled=true apiserver_loadbalancer_domain_name=x"], 2, /apiserver_loadbalancer_domain_name/],
        [["-e", '{"kube_apiserver_port": 8443}'], 1, /kube_apiserver_port/],
        [["-e", "{kubeconfig_localhost: false}"], 1, /kubeconfig_localhost/],
        [["-e", "@vars.yml"], 1, /cannot be checked.*groupVars/],
        [["--extra-vars=@vars.yml"], 0, /cannot be checked/],
        [["-e", "{not yaml"], 1, /cannot be parsed/],
        [["-e"], 0, /needs a value/],
        [["-i", "other.yaml"], 0, /inventory/],
        [["--inventory=other.yaml"], 0, /inventory/],
        [["--inv", "other.yaml"], 0, /--inventory/],
        [["--limit", "kubenode1"], 0, /limit/],
        [["-lkubenode1"], 0, /limit/],
        [["--private-key", "/root/.ssh/id"], 0, /private key|sshPrivateKey/],
        [["--key-file=/root/.ssh/id"], 0, /private key|sshPrivateKey/],
        [["-u", "root"], 0, /ssh\.user/],
        [["--user=root"], 0, /ssh\.user/],
        [["--forks", "50"], 0, /forks/],
        [["-bK"], 0, /prompt/],
        [["--ask-pass"], 0, /prompt/],
        [["--check"], 0, /dry run/],
        [["--syntax"], 0, /dry run/],
        [["--list-hosts"], 0, /dry run/],
        [["-v", "-C"], 1, /dry run/],
    ])("kubespray.extraArgs %j is refused, naming the word", (extraArgs, index, reason) => {
        const error = rejectedWith((r) => (r.kubespray = { extraArgs }), new RegExp(`^kubespray\\.extraArgs\\[${index}\\]$`), reason);
        expect(error.problems.filter((p) => p.key.startsWith("kubespray.extraArgs"))).toHaveLength(1);
    });
});

describe("names (issue 12)", () => {
    it.each(["Cluster.local", "cluster_local", "-cluster.local", "cluster..local", "cluster.local.", `${"a".repeat(64)}.local`, ""])(
        "clusterName %j is refused: not a lowercase RFC 1123 DNS name", (name) =>
            expectRejected((r) => (r.clusterName = name), /^clusterName$/, /RFC 1123/));
    it("accepts a lowercase multi-label clusterName", () => {
        const raw = libvirtRaw();
        raw.clusterName = "prod-eu.k8s.internal";
        expect(parse(raw).clusterName).toBe("prod-eu.k8s.internal");
    });
    it.each(["API.example.com", "api_server.example.com", "*.example.com", "api.example.com.", "https://api.example.com"])(
        "vip.domainName %j is refused: not a lowercase RFC 1123 DNS name", (name) =>
            expectRejected((r) => (r.vip.domainName = name), /^vip\.domainName$/, /RFC 1123/));
    it("refuses an IP address other than the VIP as vip.domainName, accepts the VIP itself", () => {
        expectRejected((r) => (r.vip.domainName = "192.168.122.50"), /^vip\.domainName$/, /not the VIP/);
        const raw = libvirtRaw();
        raw.vip.domainName = "192.168.122.100";
        expect(parse(raw).vip.domainName).toBe("192.168.122.100");
    });
    it("refuses a stack name that is not a DNS label as the default name, and says to set name", () => {
        const error = rejectedWith(() => undefined, /^name$/, /stack name "Prod_EU".*set name/, libvirtRaw, { stack: "Prod_EU" });
        expect(problemAt(error, "name")).toContain('"prod-eu"');
        const raw = libvirtRaw();
        raw.name = "prod-eu";
        expect(parse(raw, { stack: "Prod_EU" }).name).toBe("prod-eu");
    });
});

describe("kube-vip lease timings (issue 12)", () => {
    const lease = (leaseDuration: number, renewDeadline: number, retryPeriod: number) => (r: any) => Object.assign(r.vip, { leaseDuration, renewDeadline, retryPeriod });
    it("refuses a lease longer than 60 s", () => expectRejected(lease(61, 10, 2), /^vip\.leaseDuration$/, /60/));
    it("refuses a renew deadline not above 1.2 x the retry period (client-go panics)", () => expectRejected(lease(10, 6, 5), /^vip\.retryPeriod$/, /1\.2/));
    it("refuses a retry period of 0", () => expectRejected(lease(5, 3, 0), /^vip\.retryPeriod$/));
    it("accepts 15 / 10 / 2", () => {
        const raw = libvirtRaw();
        lease(15, 10, 2)(raw);
        expect(parse(raw).vip).toMatchObject({ leaseDuration: 15, renewDeadline: 10, retryPeriod: 2 });
    });
});

describe("etcd timings (issue 23)", () => {
    it("kube-vip stacks default to etcd's LAN values (the failover bench), Load Balancer stacks to Kubespray's", () => {
        expect(parse(libvirtRaw()).etcd).toEqual({ electionTimeoutMs: 1000, heartbeatIntervalMs: 100, allowEvenMembers: false });
        const bgp = libvirtRaw();
        bgp.vip = { address: "192.168.122.100", mode: "bgp", bgp: { localAs: 65000, peers: [{ address: "192.168.122.2", as: 65001 }] } };
        expect(parse(bgp).etcd).toEqual({ electionTimeoutMs: 1000, heartbeatIntervalMs: 100, allowEvenMembers: false });
        expect(parse(hcloudRaw()).etcd).toEqual({ electionTimeoutMs: 5000, heartbeatIntervalMs: 250, allowEvenMembers: false });
    });
    it("takes either value alone, checked against the other's default", () => {
        const raw = libvirtRaw();
        raw.etcd = { electionTimeoutMs: 2500 };
        expect(parse(raw).etcd).toEqual({ electionTimeoutMs: 2500, heartbeatIntervalMs: 100, allowEvenMembers: false });
        expectRejected((r) => (r.etcd = { heartbeatIntervalMs: 250 }), /^etcd\.electionTimeoutMs$/, /1000 ms \(the default for vip\.mode arp; set etcd\.electionTimeoutMs too\) must be at least 5 x etcd\.heartbeatIntervalMs \(250 ms\)/);
    });
});

describe("BGP peer passwords from the secret kubespray-ha:bgpPeerPasswords (issue 12)", () => {
    const bgp = (r: any) => {
        r.vip.mode = "bgp";
        r.vip.bgp = { localAs: 65001, peers: [{ address: "192.168.122.2", as: 65000 }, { address: "192.168.122.3", as: 65000 }] };
    };
    const bgpRaw = () => {
        const raw = libvirtRaw();
        bgp(raw);
        return raw;
    };
    it("puts each password on its peer and marks the inventory as carrying a secret", () => {
        const config = parse(bgpRaw(), { bgpPeerPasswords: { passwords: { "192.168.122.3": "s3cret-pw" }, secret: true } });
        expect(config.vip.bgp!.peers).toEqual([{ address: "192.168.122.2", as: 65000 }, { address: "192.168.122.3", as: 65000, password: "s3cret-pw" }]);
        expect(config.inventorySecrets).toEqual(["kubespray-ha:bgpPeerPasswords"]);
    });
    it("refuses passwords that were not set with --secret", () =>
        expectRejected(bgp, /^kubespray-ha:bgpPeerPasswords$/, /--secret/, libvirtRaw, { bgpPeerPasswords: { passwords: { "192.168.122.3": "pw" }, secret: false } }));
    it("refuses a password for an address that is no peer", () =>
        expectRejected(bgp, /^kubespray-ha:bgpPeerPasswords\["10\.9\.9\.9"\]$/, /not in vip\.bgp\.peers/, libvirtRaw, { bgpPeerPasswords: { passwords: { "10.9.9.9": "pw" }, secret: true } }));
    it.each(["a:b", "a,b", "a/b", "a b", "", "x".repeat(81)])("refuses the password %j kube-vip cannot carry", (pw) =>
        expectRejected(bgp, /^kubespray-ha:bgpPeerPasswords\["192\.168\.122\.2"\]$/, undefined, libvirtRaw, { bgpPeerPasswords: { passwords: { "192.168.122.2": pw }, secret: true } }));
    it("refuses passwords without BGP mode", () =>
        expectRejected(() => undefined, /^kubespray-ha:bgpPeerPasswords$/, /vip\.mode/, libvirtRaw, { bgpPeerPasswords: { passwords: { "192.168.122.2": "pw" }, secret: true } }));
    it("shows an encrypted password read offline as a placeholder, without checking it", () => {
        const config = parse(bgpRaw(), { bgpPeerPasswords: { passwords: { "192.168.122.2": { placeholder: "<secret 0123abcd>" } }, secret: true } });
        expect(config.vip.bgp!.peers[0].password).toBe("<secret 0123abcd>");
    });
});

describe("options without effect on the chosen backend: warnings, not errors (issue 12)", () => {
    const warningsOf = (raw: any) => parse(raw).warnings.map((w) => w.key);
    it("has none for the test configs and the shipped stacks' shapes", () => {
        expect(warningsOf(libvirtRaw())).toEqual([]);
        expect(warningsOf(hcloudRaw())).toEqual([]);
        expect(warningsOf(baremetalRaw())).toEqual([]);
    });
    it.each<[string, () => any, (r: any) => void, string]>([
        ["kube-vip's interface on hcloud", hcloudRaw, (r) => (r.interface = "eth0"), "interface"],
        ["vip.leaseDuration on hcloud", hcloudRaw, (r) => (r.vip.leaseDuration = 10), "vip.leaseDuration"],
        ["vip.renewDeadline on hcloud", hcloudRaw, (r) => (r.vip.renewDeadline = 2), "vip.renewDeadline"],
        ["vip.retryPeriod on hcloud", hcloudRaw, (r) => (r.vip.retryPeriod = 1), "vip.retryPeriod"],
        ["vip.servicesEnabled on hcloud", hcloudRaw, (r) => (r.vip.servicesEnabled = true), "vip.servicesEnabled"],
        ["vip.image on hcloud", hcloudRaw, (r) => (r.vip.image = { tag: "v0.9.2" }), "vip.image"],
        ["libvirt.* on hcloud", hcloudRaw, (r) => (r.libvirt = { vcpus: 4 }), "libvirt"],
        ["libvirt.* on baremetal", baremetalRaw, (r) => (r.libvirt = { uri: "qemu:///system" }), "libvirt"],
        ["hcloud.* on libvirt", libvirtRaw, (r) => (r.hcloud = { serverType: "cx32" }), "hcloud"],
        ["hcloud.* on baremetal", baremetalRaw, (r) => (r.hcloud = { location: "fsn1" }), "hcloud"],
        ["nodes[].serverType on libvirt", libvirtRaw, (r) => (r.nodes[1].serverType = "cx32"), "nodes[1].serverType"],
        ["nodes[].vcpus on hcloud", hcloudRaw, (r) => (r.nodes[0].vcpus = 4), "nodes[0].vcpus"],
        ["nodes[].diskGiB on baremetal", baremetalRaw, (r) => (r.nodes[0].diskGiB = 40), "nodes[0].diskGiB"],
        ["ssh.waitSeconds on libvirt", libvirtRaw, (r) => (r.ssh.waitSeconds = 60), "ssh.waitSeconds"],
        ["ssh.publicKey on baremetal", baremetalRaw, (r) => (r.ssh.publicKey = libvirtRaw().ssh.publicKey), "ssh.publicKey"],
        ["ssh.publicKey with hcloud.sshKeyName", hcloudRaw, (r) => (r.hcloud.sshKeyName = "ops"), "ssh.publicKey"],
        ["nodes[].bgpRouterId outside BGP mode", libvirtRaw, (r) => (r.nodes[0].bgpRouterId = "10.255.0.1"), "nodes[0].bgpRouterId"],
        ["nodes[].bgpRouterId on a worker-only node", libvirtRaw, (r) => {
            r.vip.mode = "bgp";
            r.vip.bgp = { localAs: 65001, peers: [{ address: "192.168.122.2", as: 65000 }] };
            r.nodes.push({ name: "worker1", ip: "192.168.122.31", roles: ["worker"], bgpRouterId: "10.255.0.9" });
        }, "nodes[3].bgpRouterId"],
    ])("%s", (_what, base, change, key) => {
        const raw = base();
        change(raw);
        const warnings = parse(raw).warnings;
        expect(warnings.map((w) => w.key)).toEqual([key]);
        expect(warnings[0].message).toMatch(/no effect|ignored|unused/);
    });
});

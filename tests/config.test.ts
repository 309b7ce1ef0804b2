import { ConfigError, parseClusterConfig } from "../components/config/config";
import { baremetalRaw, hcloudRaw, libvirtRaw } from "./fixtures";

const parse = (raw: unknown) => parseClusterConfig(raw, { stack: "test" });

/** Applies `change` to a fresh valid libvirt config and expects parsing to fail naming `key`. */
function expectRejected(change: (raw: any) => void, key: RegExp, reason?: RegExp, base = libvirtRaw) {
    const raw = base();
    change(raw);
    let error: unknown;
    try {
        parse(raw);
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
}

describe("valid configs", () => {
    it("fills defaults for the dev-like libvirt config", () => {
        const config = parse(libvirtRaw());
        expect(config.name).toBe("test");
        expect(config.vip).toMatchObject({ address: "192.168.122.100", mode: "arp", picked: false, leaseDuration: 5, renewDeadline: 3, retryPeriod: 1 });
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
    it("accepts BGP with router id, AS and peers and iptables without strict ARP", () => {
        const raw = libvirtRaw();
        raw.vip = { address: "192.168.122.100", mode: "bgp", bgp: { routerId: "192.168.122.21", localAs: 65001, peers: [{ address: "192.168.122.1", as: 65000 }] } };
        raw.kubeProxyMode = "iptables";
        const config = parse(raw);
        expect(config.vip.bgp).toEqual({ routerId: "192.168.122.21", localAs: 65001, peers: [{ address: "192.168.122.1", as: 65000 }] });
        expect(config.kubeProxyStrictArp).toBe(false);
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
    it("no worker", () => expectRejected((r) => r.nodes.forEach((n: any) => (n.roles = ["control-plane", "etcd"])), /^nodes$/, /worker/));
    it("duplicate node names", () => expectRejected((r) => (r.nodes[2].name = "kubenode1"), /^nodes\[2\]\.name$/, /duplicate/));
    it("duplicate node IPs", () => expectRejected((r) => (r.nodes[2].ip = "192.168.122.21"), /^nodes\[2\]\.ip$/, /duplicate/));
    it("invalid node name", () => expectRejected((r) => (r.nodes[0].name = "Kube_Node"), /^nodes\[0\]\.name$/, /DNS label/));
    it("unknown role", () => expectRejected((r) => (r.nodes[0].roles = ["master"]), /^nodes\[0\]\.roles\[0\]$/));
    // Modes
    it("ARP mode on Hetzner Cloud", () => expectRejected((r) => (r.vip.mode = "arp"), /^vip\.mode$/, /layer 3/, hcloudRaw));
    it("BGP mode on Hetzner Cloud", () => expectRejected((r) => (r.vip.mode = "bgp"), /^vip\.mode$/, /layer 3/, hcloudRaw));
    it("loadbalancer mode on libvirt", () => expectRejected((r) => (r.vip.mode = "loadbalancer"), /^vip\.mode$/, /Hetzner/));
    it("loadbalancer mode on bare metal", () => expectRejected((r) => (r.vip.mode = "loadbalancer"), /^vip\.mode$/, /on baremetal use arp or bgp/, baremetalRaw));
    it("sshAddress on a backend that creates its nodes", () => expectRejected((r) => (r.nodes[0].sshAddress = "1.2.3.4"), /^nodes\[0\]\.sshAddress$/, /only for backend baremetal/));
    it("unknown VIP mode", () => expectRejected((r) => (r.vip.mode = "vrrp"), /^vip\.mode$/));
    it("BGP without router id", () => expectRejected((r) => { r.vip.mode = "bgp"; r.vip.bgp = { localAs: 65000, peers: [{ address: "192.168.122.1", as: 65000 }] }; }, /^vip\.bgp\.routerId$/, /required/));
    it("BGP without local AS", () => expectRejected((r) => { r.vip.mode = "bgp"; r.vip.bgp = { routerId: "192.168.122.21", peers: [{ address: "192.168.122.1", as: 65000 }] }; }, /^vip\.bgp\.localAs$/, /required/));
    it("BGP without peers", () => expectRejected((r) => { r.vip.mode = "bgp"; r.vip.bgp = { routerId: "192.168.122.21", localAs: 65000, peers: [] }; }, /^vip\.bgp\.peers$/));
    it("BGP without any bgp section", () => expectRejected((r) => (r.vip.mode = "bgp"), /^vip\.bgp\.(routerId|localAs|peers)$/));
    it("bgp settings without BGP mode", () => expectRejected((r) => (r.vip.bgp = { routerId: "192.168.122.21" }), /^vip\.bgp$/));
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

import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { parseClusterConfig, ParseOptions } from "../components/config/config";
import { renderInventory, renderTimeMachines } from "../components/kubespray/inventory";
import { readStackConfig } from "../components/config/stackfile";
import { baremetalRaw, hcloudRaw, libvirtRaw } from "./fixtures";

const root = path.join(__dirname, "..");
const render = (raw: any, options: Partial<ParseOptions> = {}) => {
    const config = parseClusterConfig(raw, { stack: "test", ...options });
    return renderInventory(config, renderTimeMachines(config));
};
const groupVars = (files: Record<string, string>) => ({
    ...parse(files["group_vars/k8s_cluster/k8s-cluster.yml"]),
    ...parse(files["group_vars/k8s_cluster/kube-vip.yml"]),
});

function devStack() {
    const { cluster } = readStackConfig(
        fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8"),
        fs.readFileSync(path.join(root, "Pulumi.dev.yaml"), "utf8"),
        "dev",
    );
    return cluster;
}

describe("hosts.yaml", () => {
    const hosts = parse(render(libvirtRaw())["hosts.yaml"]);

    it("lists each host with ansible_host, ip and etcd_member_name", () => {
        expect(hosts.all.hosts).toEqual({
            kubenode1: { ansible_host: "192.168.122.21", ip: "192.168.122.21", access_ip: "192.168.122.21", etcd_member_name: "etcd1" },
            kubenode2: { ansible_host: "192.168.122.22", ip: "192.168.122.22", access_ip: "192.168.122.22", etcd_member_name: "etcd2" },
            kubenode3: { ansible_host: "192.168.122.23", ip: "192.168.122.23", access_ip: "192.168.122.23", etcd_member_name: "etcd3" },
        });
        expect(hosts.all.vars).toEqual({ ansible_user: "kube", ansible_port: 22 });
    });
    it("has Kubespray's groups and no legacy names", () => {
        const children = hosts.all.children;
        expect(Object.keys(children)).toEqual(["kube_control_plane", "etcd", "kube_node", "k8s_cluster"]);
        expect(Object.keys(children.k8s_cluster.children)).toEqual(["kube_control_plane", "kube_node"]);
        const text = render(libvirtRaw())["hosts.yaml"];
        expect(text).not.toMatch(/kube-master|kube-node|k8s-cluster/);
    });
    it("puts each role's hosts in its group, numbering only etcd members", () => {
        const raw = libvirtRaw();
        raw.nodes.push({ name: "worker1", ip: "192.168.122.31", roles: ["worker"] });
        raw.nodes[0].roles = ["control-plane", "worker"];
        raw.nodes.push({ name: "etcd9", ip: "192.168.122.41", roles: ["etcd"] });
        const h = parse(render(raw)["hosts.yaml"]);
        expect(Object.keys(h.all.children.kube_control_plane.hosts)).toEqual(["kubenode1", "kubenode2", "kubenode3"]);
        expect(Object.keys(h.all.children.etcd.hosts)).toEqual(["kubenode2", "kubenode3", "etcd9"]);
        expect(Object.keys(h.all.children.kube_node.hosts)).toEqual(["kubenode1", "kubenode2", "kubenode3", "worker1"]);
        expect(h.all.hosts.kubenode1.etcd_member_name).toBeUndefined();
        expect(h.all.hosts.etcd9.etcd_member_name).toBe("etcd3");
        expect(h.all.hosts.worker1.etcd_member_name).toBeUndefined();
    });
    it("connects to a bare-metal node at its sshAddress, else its ip", () => {
        const h = parse(render(baremetalRaw())["hosts.yaml"]);
        expect(h.all.hosts.node1).toMatchObject({ ansible_host: "10.250.0.11", ip: "10.250.0.11" });
        expect(h.all.hosts.node2).toMatchObject({ ansible_host: "127.0.0.1", ip: "10.250.0.12" });
    });
    it("shows hcloud public IPs as an explicit placeholder", () => {
        const h = parse(render(hcloudRaw())["hosts.yaml"]);
        expect(h.all.hosts.cp1.ansible_host).toBe("<known after create: public IPv4 of cp1>");
        expect(h.all.hosts.cp1.ip).toBe("10.0.1.11");
        expect(h.all.vars.ansible_user).toBe("root");
    });
});

describe("group_vars", () => {
    it("goes to group_vars/k8s_cluster (underscore), etcd's timings to group_vars/all (etcd-only hosts read them too)", () => {
        const files = render(libvirtRaw());
        expect(Object.keys(files)).toEqual(["group_vars/all/etcd.yml", "group_vars/k8s_cluster/k8s-cluster.yml", "group_vars/k8s_cluster/kube-vip.yml", "hosts.yaml"]);
        expect(parse(files["group_vars/all/etcd.yml"])).toEqual({ etcd_election_timeout: 1000, etcd_heartbeat_interval: 100 });
        const raw = libvirtRaw();
        raw.etcd = { electionTimeoutMs: 2500, heartbeatIntervalMs: 250 };
        expect(parse(render(raw)["group_vars/all/etcd.yml"])).toEqual({ etcd_election_timeout: 2500, etcd_heartbeat_interval: 250 });
    });
    it("ARP mode on v2.31.0: every kube-vip variable and the VIP endpoint", () => {
        expect(groupVars(render(libvirtRaw()))).toEqual({
            cluster_name: "cluster.local",
            apiserver_loadbalancer_domain_name: "192.168.122.100",
            loadbalancer_apiserver: { address: "192.168.122.100", port: 6443 },
            loadbalancer_apiserver_localhost: false,
            supplementary_addresses_in_ssl_keys: ["192.168.122.100"],
            kubeconfig_localhost: true,
            kube_proxy_mode: "ipvs",
            kube_proxy_strict_arp: true,
            kube_vip_enabled: true,
            kube_vip_controlplane_enabled: true,
            kube_vip_address: "192.168.122.100",
            kube_vip_interface: "enp1s0",
            kube_vip_arp_enabled: true,
            kube_vip_bgp_enabled: false,
            kube_vip_services_enabled: false,
            kube_vip_leader_election_enabled: true,
            kube_vip_leaseduration: 3,
            kube_vip_renewdeadline: 2,
            kube_vip_retryperiod: 1,
            kube_vip_version: "1.0.3",
        });
    });
    it("v2.25.1 pins kube_vip_image_tag with a leading v, v2.31.0 kube_vip_version without", () => {
        const old = libvirtRaw();
        old.kubesprayVersion = "v2.25.1";
        const oldVars = groupVars(render(old));
        expect(oldVars.kube_vip_image_tag).toBe("v0.8.0");
        expect(oldVars.kube_vip_version).toBeUndefined();
        const custom = libvirtRaw();
        custom.vip.image = { repo: "registry.local:5000/kube-vip/kube-vip", tag: "v0.9.2" };
        const customVars = groupVars(render(custom));
        expect(customVars.kube_vip_version).toBe("0.9.2");
        expect(customVars.kube_vip_image_tag).toBeUndefined();
        expect(customVars.kube_vip_image_repo).toBe("registry.local:5000/kube-vip/kube-vip");
    });
    it("kube_version follows the version's format", () => {
        const a = libvirtRaw();
        a.kubeVersion = "v1.33.5";
        expect(groupVars(render(a)).kube_version).toBe("1.33.5");
        a.kubesprayVersion = "v2.25.1";
        a.kubeVersion = "1.29.10";
        expect(groupVars(render(a)).kube_version).toBe("v1.29.10");
    });
    it("BGP mode: local AS and peers in kube-vip's format, strict ARP explicit", () => {
        const raw = libvirtRaw();
        raw.vip = { address: "192.168.122.100", mode: "bgp", bgp: { localAs: 65001, peers: [{ address: "192.168.122.2", as: 65000 }, { address: "192.168.122.3", as: 65000 }] } };
        const vars = groupVars(render(raw));
        expect(vars).toMatchObject({
            kube_vip_arp_enabled: false,
            kube_vip_bgp_enabled: true,
            kube_vip_local_as: 65001,
            kube_vip_bgppeers: ["192.168.122.2:65000::false", "192.168.122.3:65000::false"],
            kube_proxy_strict_arp: false,
        });
        expect(vars.kube_vip_bgp_as).toBeUndefined();
        // One value for every speaker would be wrong: the router id is a host var (below).
        expect(vars.kube_vip_bgp_routerid).toBeUndefined();
    });
    it("hcloud: kube-vip off, loadbalancer_apiserver at the VIP", () => {
        const vars = groupVars(render(hcloudRaw()));
        expect(vars.kube_vip_enabled).toBe(false);
        expect(Object.keys(vars).filter((k) => k.startsWith("kube_vip_"))).toEqual(["kube_vip_enabled"]);
        expect(vars.loadbalancer_apiserver).toEqual({ address: "10.0.1.5", port: 6443 });
        expect(vars.kube_proxy_strict_arp).toBe(false);
    });
    it("a DNS name goes into the domain name and the certificate SANs", () => {
        const raw = libvirtRaw();
        raw.vip.domainName = "k8s-api.example.com";
        const vars = groupVars(render(raw));
        expect(vars.apiserver_loadbalancer_domain_name).toBe("k8s-api.example.com");
        expect(vars.supplementary_addresses_in_ssl_keys).toEqual(["192.168.122.100", "k8s-api.example.com"]);
        expect(vars.loadbalancer_apiserver.address).toBe("192.168.122.100");
    });
    it("passes extra group vars through, sorted, in their own file", () => {
        const raw = libvirtRaw();
        raw.groupVars = { metrics_server_enabled: true, container_manager: "containerd" };
        const files = render(raw);
        expect(files["group_vars/k8s_cluster/zz-extra.yml"]).toMatch(/container_manager: containerd\nmetrics_server_enabled: true\n$/);
    });
});

describe("BGP mode per host, leases and peer passwords (issue 12)", () => {
    const bgpRaw = () => {
        const raw = libvirtRaw();
        raw.vip = { address: "192.168.122.100", mode: "bgp", leaseDuration: 15, renewDeadline: 10, retryPeriod: 2, bgp: { localAs: 65001, peers: [{ address: "192.168.122.2", as: 65000 }, { address: "192.168.122.3", as: 65000 }] } };
        raw.nodes[1].bgpRouterId = "10.255.0.2";
        raw.nodes.push({ name: "worker1", ip: "192.168.122.31", roles: ["worker"] });
        return raw;
    };
    it("gives each control plane its own kube_vip_bgp_routerid host var (its ip unless nodes[].bgpRouterId), workers none", () => {
        const hosts = parse(render(bgpRaw())["hosts.yaml"]).all.hosts;
        expect(Object.fromEntries(Object.entries(hosts).map(([name, h]: [string, any]) => [name, h.kube_vip_bgp_routerid]))).toEqual({
            kubenode1: "192.168.122.21",
            kubenode2: "10.255.0.2",
            kubenode3: "192.168.122.23",
            worker1: undefined,
        });
    });
    it("has no router id in ARP mode", () => {
        const hosts = parse(render(libvirtRaw())["hosts.yaml"]).all.hosts;
        expect(Object.values(hosts).some((h: any) => "kube_vip_bgp_routerid" in h)).toBe(false);
    });
    it("turns kube-vip's leader election on in BGP mode too, so the lease timings reach it", () => {
        // Kubespray's kube-vip.manifest.j2 writes vip_leaseduration/renewdeadline/retryperiod only under
        // kube_vip_leader_election_enabled, whose default is kube_vip_arp_enabled (false in BGP mode).
        expect(groupVars(render(bgpRaw()))).toMatchObject({ kube_vip_leader_election_enabled: true, kube_vip_leaseduration: 15, kube_vip_renewdeadline: 10, kube_vip_retryperiod: 2 });
        expect(groupVars(render(libvirtRaw())).kube_vip_leader_election_enabled).toBe(true);
    });
    it("writes peer passwords into kube_vip_bgppeers as address:AS:password:multihop", () => {
        const vars = groupVars(render(bgpRaw(), { bgpPeerPasswords: { passwords: { "192.168.122.3": "s3cret-pw" }, secret: true } }));
        expect(vars.kube_vip_bgppeers).toEqual(["192.168.122.2:65000::false", "192.168.122.3:65000:s3cret-pw:false"]);
    });
});

describe("determinism", () => {
    it("renders byte-for-byte the same output for the same config, whatever the key order", () => {
        const a = libvirtRaw();
        const b = JSON.parse(JSON.stringify(a), (_k, v) =>
            v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).reverse()) : v);
        expect(render(b)).toEqual(render(a));
        expect(JSON.stringify(render(a))).not.toMatch(/20\d\d-\d\d-\d\d/);
    });
    it("matches the dev stack snapshot", () => {
        expect(render(devStack())).toMatchSnapshot();
    });
});

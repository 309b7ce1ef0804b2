// The README's main job, `npm run render`, run as a real process; and real Ansible
// reading what it wrote.
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse, stringify } from "yaml";
import { hcloudRaw, libvirtRaw } from "./fixtures";

const root = path.join(__dirname, "..");
const tsNode = path.join(root, "node_modules", ".bin", "ts-node");

function runRender(args: string[]) {
    return spawnSync(tsNode, ["--transpile-only", path.join(root, "scripts", "render.ts"), ...args], { cwd: root, encoding: "utf8" });
}

function tmp(): string {
    return fs.mkdtempSync(path.join(os.tmpdir(), "kha-render-"));
}

function hasCommand(cmd: string): boolean {
    return spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
}

describe("npm run render", () => {
    const out = tmp();
    let result: ReturnType<typeof runRender>;
    beforeAll(() => {
        result = runRender(["--stack", "dev", "--out", out]);
    });

    it("writes the inventory of the dev stack and prints a summary", () => {
        expect(result.stderr).toBe("");
        expect(result.status).toBe(0);
        expect(result.stdout).toMatch(/backend libvirt/);
        expect(result.stdout).toMatch(/VIP: +192\.168\.122\.100 via kube-vip ARP/);
        expect(result.stdout).toMatch(/API URL: +https:\/\/192\.168\.122\.100:6443/);
        expect(result.stdout).toMatch(/kubenode3 +192\.168\.122\.23/);
        for (const file of ["hosts.yaml", "group_vars/k8s_cluster/k8s-cluster.yml", "group_vars/k8s_cluster/kube-vip.yml"]) {
            expect(fs.existsSync(path.join(out, "inventory", file))).toBe(true);
        }
        expect(parse(fs.readFileSync(path.join(out, "inventory/group_vars/k8s_cluster/kube-vip.yml"), "utf8")).kube_vip_address).toBe("192.168.122.100");
    });

    it("writes the same bytes on a second run", () => {
        const again = tmp();
        expect(runRender(["--stack", "dev", "--out", again]).status).toBe(0);
        for (const file of ["hosts.yaml", "group_vars/k8s_cluster/kube-vip.yml", "group_vars/k8s_cluster/k8s-cluster.yml"]) {
            expect(fs.readFileSync(path.join(again, "inventory", file))).toEqual(fs.readFileSync(path.join(out, "inventory", file)));
        }
    });

    const ansibleInventory = hasCommand("ansible-inventory");
    if (!ansibleInventory && process.env.CI) {
        it("has ansible-inventory in CI", () => {
            throw new Error("ansible-inventory is missing: .ci/run must install Debian's ansible");
        });
    } else if (!ansibleInventory) {
        console.warn("skipping the ansible-inventory test: ansible-inventory is not installed (apt-get install ansible)");
    }
    (ansibleInventory ? it : it.skip)("is read by real Ansible with Kubespray's groups", () => {
        const inv = path.join(out, "inventory", "hosts.yaml");
        const graph = execFileSync("ansible-inventory", ["-i", inv, "--graph"], { encoding: "utf8" });
        expect(graph).toMatch(/\|--@k8s_cluster:\n\s*\|  \|--@kube_control_plane:/);
        const list = JSON.parse(execFileSync("ansible-inventory", ["-i", inv, "--list"], { encoding: "utf8" }));
        const nodes = ["kubenode1", "kubenode2", "kubenode3"];
        expect(list.kube_control_plane.hosts).toEqual(nodes);
        expect(list.etcd.hosts).toEqual(nodes);
        expect(list.kube_node.hosts).toEqual(nodes);
        expect(list.k8s_cluster.children).toEqual(["kube_control_plane", "kube_node"]);
        const host = JSON.parse(execFileSync("ansible-inventory", ["-i", inv, "--host", "kubenode2"], { encoding: "utf8" }));
        // group_vars/k8s_cluster applies to hosts of the k8s_cluster group
        expect(host).toMatchObject({
            ansible_host: "192.168.122.22",
            ip: "192.168.122.22",
            etcd_member_name: "etcd2",
            kube_vip_address: "192.168.122.100",
            kube_proxy_strict_arp: true,
            loadbalancer_apiserver: { address: "192.168.122.100", port: 6443 },
        });
    });
});

describe("render with bad input", () => {
    function stackDir(cluster: unknown, extra: Record<string, unknown> = {}): string {
        const dir = tmp();
        fs.copyFileSync(path.join(root, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
        fs.writeFileSync(path.join(dir, "Pulumi.bad.yaml"), stringify({ config: { "kubespray-ha:cluster": cluster, ...extra } }));
        return dir;
    }
    const renderStack = (dir: string) => runRender(["--stack", "bad", "--out", path.join(dir, "out"), "--dir", dir]);

    it.each([
        ["vip.address", (r: any) => (r.vip.address = "192.168.122.1"), /vip\.address: 192\.168\.122\.1 is the gateway/],
        ["nodes", (r: any) => r.nodes.pop(), /nodes: 2 nodes have the role control-plane/],
        ["backend", (r: any) => (r.backend = "vmware"), /backend: unknown backend "vmware"/],
        ["kubeVersion", (r: any) => (r.kubeVersion = "1.32.0"), /kubeVersion: 1\.32\.0 is not supported by Kubespray v2\.31\.0.*e\.g\. /],
        ["kubeProxyMode", (r: any) => { r.kubesprayVersion = "v2.25.1"; r.kubeProxyMode = "nftables"; }, /kubeProxyMode: nftables is not supported by Kubespray v2\.25\.1/],
        ["kubespray.extraArgs[1]", (r: any) => (r.kubespray = { extraArgs: ["-e", "kube_apiserver_port=8443"] }), /kubespray\.extraArgs\[1\]: -e kube_apiserver_port/],
        ["groupVars.artifacts_dir", (r: any) => (r.groupVars = { artifacts_dir: "/tmp" }), /groupVars\.artifacts_dir: is managed/],
        ["clusterName", (r: any) => (r.clusterName = "Cluster_Local"), /clusterName: "Cluster_Local" is not a lowercase RFC 1123 DNS name/],
        ["vip.renewDeadline/retryPeriod", (r: any) => Object.assign(r.vip, { leaseDuration: 10, renewDeadline: 6, retryPeriod: 5 }), /vip\.retryPeriod: .*1\.2/],
    ])("exits non-zero naming %s", (_key, change, message) => {
        const raw = libvirtRaw();
        change(raw);
        const dir = stackDir(raw);
        const res = runRender(["--stack", "bad", "--out", path.join(dir, "out"), "--dir", dir]);
        expect(res.status).toBe(1);
        expect(res.stderr).toMatch(message);
        expect(fs.existsSync(path.join(dir, "out"))).toBe(false);
    });

    it("prints keys without effect on the backend as warnings on stderr and still renders (issue 12)", () => {
        const raw = hcloudRaw();
        raw.interface = "eth0";
        raw.libvirt = { vcpus: 4 };
        const dir = stackDir(raw);
        const res = renderStack(dir);
        expect(res.status).toBe(0);
        expect(res.stderr.trim().split("\n")).toEqual([
            expect.stringMatching(/^warning: interface: has no effect/),
            expect.stringMatching(/^warning: libvirt: has no effect/),
        ]);
        expect(fs.existsSync(path.join(dir, "out", "inventory", "hosts.yaml"))).toBe(true);
    });

    const bgp = () => {
        const raw = libvirtRaw();
        raw.vip = { address: "192.168.122.100", mode: "bgp", bgp: { localAs: 65001, peers: [{ address: "192.168.122.2", as: 65000 }, { address: "192.168.122.3", as: 65000 }] } };
        return raw;
    };
    const CIPHERTEXT = "v1:c2VjcmV0LWNpcGhlcnRleHQtbm90LXJlYWw=";

    it("renders a BGP peer password set with --secret as a placeholder, never the ciphertext (issue 12)", () => {
        const dir = stackDir(bgp(), { "kubespray-ha:bgpPeerPasswords": { "192.168.122.3": { secure: CIPHERTEXT } } });
        const res = renderStack(dir);
        expect(res.stderr).toBe("");
        expect(res.status).toBe(0);
        const text = fs.readFileSync(path.join(dir, "out", "inventory", "group_vars", "k8s_cluster", "kube-vip.yml"), "utf8");
        expect(parse(text).kube_vip_bgppeers).toEqual(["192.168.122.2:65000::false", expect.stringMatching(/^192\.168\.122\.3:65000:<secret sha256:[0-9a-f]{12}>:false$/)]);
        expect(text).not.toContain(CIPHERTEXT);
        const hosts = parse(fs.readFileSync(path.join(dir, "out", "inventory", "hosts.yaml"), "utf8")).all.hosts;
        expect(hosts.kubenode2.kube_vip_bgp_routerid).toBe("192.168.122.22");
    });

    it("exits non-zero when BGP peer passwords are in the stack file in plain text (issue 12)", () => {
        const dir = stackDir(bgp(), { "kubespray-ha:bgpPeerPasswords": { "192.168.122.3": "plain-pw" } });
        const res = renderStack(dir);
        expect(res.status).toBe(1);
        expect(res.stderr).toMatch(/kubespray-ha:bgpPeerPasswords: is not a secret/);
        expect(res.stderr).not.toContain("plain-pw");
    });

    it("exits non-zero for an unknown stack", () => {
        const res = runRender(["--stack", "nope", "--out", tmp()]);
        expect(res.status).toBe(1);
        expect(res.stderr).toMatch(/no stack file .*Pulumi\.nope\.yaml/);
    });
});

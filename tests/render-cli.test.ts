// The README's main job, `npm run render`, run as a real process; and real Ansible
// reading what it wrote.
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse, stringify } from "yaml";
import { libvirtRaw } from "./fixtures";

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
    function stackDir(cluster: unknown): string {
        const dir = tmp();
        fs.copyFileSync(path.join(root, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
        fs.writeFileSync(path.join(dir, "Pulumi.bad.yaml"), stringify({ config: { "kubespray-ha:cluster": cluster } }));
        return dir;
    }

    it.each([
        ["vip.address", (r: any) => (r.vip.address = "192.168.122.1"), /vip\.address: 192\.168\.122\.1 is the gateway/],
        ["nodes", (r: any) => r.nodes.pop(), /nodes: 2 nodes have the role control-plane/],
        ["backend", (r: any) => (r.backend = "vmware"), /backend: unknown backend "vmware"/],
    ])("exits non-zero naming %s", (_key, change, message) => {
        const raw = libvirtRaw();
        change(raw);
        const dir = stackDir(raw);
        const res = runRender(["--stack", "bad", "--out", path.join(dir, "out"), "--dir", dir]);
        expect(res.status).toBe(1);
        expect(res.stderr).toMatch(message);
        expect(fs.existsSync(path.join(dir, "out"))).toBe(false);
    });

    it("exits non-zero for an unknown stack", () => {
        const res = runRender(["--stack", "nope", "--out", tmp()]);
        expect(res.status).toBe(1);
        expect(res.stderr).toMatch(/no stack file .*Pulumi\.nope\.yaml/);
    });
});

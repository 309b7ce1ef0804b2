// What kube-vip really gets: the program's inventory fed to the REAL Kubespray task that writes the
// kube-vip static pod (roles/kubernetes/node/tasks/loadbalancer/kube-vip.yml and its
// kube-vip.manifest.j2, v2.25.1 and v2.31.0), run by the ansible-core each version asks for, on
// localhost with a connection of type local. Then the pod's env is read back: per-host BGP router ids,
// the lease timings in BGP mode too (Kubespray writes them only with leader election on), peer
// passwords in kube-vip's bgp_peers format, the VIP and the image pin (issue 12, item 8). And the
// option tables kubespray.extraArgs are checked with (config/managed-vars.ts) against that ansible-playbook.
// Needs tests/infra/kubespray.sh (tree + venv, cached); without it skips with the reason (fails under CI).
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { ClusterConfig, KUBE_VIP_DEFAULT_TAG, KUBESPRAY_VERSIONS, parseClusterConfig, ParseOptions } from "../components/config/config";
import { ANSIBLE_PLAYBOOK_LONG_OPTIONS, ANSIBLE_PLAYBOOK_OPTIONS_WITH_VALUE, ANSIBLE_PLAYBOOK_SHORT_OPTIONS } from "../components/config/managed-vars";
import { renderInventory, renderTimeMachines } from "../components/kubespray/inventory";
import { libvirtRaw } from "./fixtures";
import { kubesprayTree, run } from "./helpers/kubespray-tree";
import { requireOrSkip } from "./helpers/real-tests";
import { tempDirs } from "./helpers/tmp";

jest.setTimeout(300_000);

const tmp = tempDirs();

/** Runs Kubespray's kube-vip task for every control plane; returns host -> the pod's env (name -> value). */
async function kubeVipEnv(tree: string, bin: string, config: ClusterConfig): Promise<Record<string, Record<string, unknown>>> {
    const dir = tmp("kha-kube-vip-");
    const inventory = path.join(dir, "inventory");
    for (const [file, content] of Object.entries(renderInventory(config, renderTimeMachines(config)))) {
        fs.mkdirSync(path.dirname(path.join(inventory, file)), { recursive: true });
        fs.writeFileSync(path.join(inventory, file), content);
    }
    const controlPlanes = config.nodes.filter((n) => n.roles.includes("control-plane")).map((n) => n.name);
    for (const host of controlPlanes) fs.mkdirSync(path.join(dir, "out", host), { recursive: true });
    // v2.31.0 keeps a tasks-only kubespray-defaults stub next to kubespray_defaults.
    const defaultsRole = fs.existsSync(path.join(tree, "roles", "kubespray_defaults", "defaults")) ? "kubespray_defaults" : "kubespray-defaults";
    fs.writeFileSync(path.join(dir, "kube-vip.yml"), `- hosts: kube_control_plane
  connection: local
  gather_facts: false
  roles:
    - role: ${defaultsRole}
  tasks:
    - ansible.builtin.include_role:
        name: kubernetes/node
        tasks_from: loadbalancer/kube-vip
`);
    const { code, output } = await run(path.join(bin, "ansible-playbook"), [
        "-i", path.join(inventory, "hosts.yaml"), path.join(dir, "kube-vip.yml"),
        // Where the task writes the static pod, and the venv's Python for the local "connection".
        "-e", `kube_manifest_dir=${dir}/out/{{ inventory_hostname }}`, "-e", `ansible_python_interpreter=${path.join(bin, "python")}`,
    ], {
        cwd: dir,
        env: { ...process.env, ANSIBLE_ROLES_PATH: path.join(tree, "roles"), ANSIBLE_NOCOLOR: "1", ANSIBLE_LOCAL_TEMP: path.join(dir, ".ansible-tmp"), ANSIBLE_CONFIG: "" },
    });
    if (code !== 0) throw new Error(`ansible-playbook exited ${code}:\n${output.split("\n").slice(-30).join("\n")}`);
    return Object.fromEntries(controlPlanes.map((host) => {
        const pod = parse(fs.readFileSync(path.join(dir, "out", host, "kube-vip.yml"), "utf8"));
        const container = pod.spec.containers[0];
        return [host, { ...Object.fromEntries(container.env.map((e: { name: string; value: unknown }) => [e.name, e.value])), image: container.image }];
    }));
}

function config(version: string, mode: "arp" | "bgp", options: Partial<ParseOptions> = {}): ClusterConfig {
    const raw = libvirtRaw();
    raw.kubesprayVersion = version;
    raw.vip = { address: "192.168.122.100", mode, leaseDuration: 15, renewDeadline: 10, retryPeriod: 2 };
    if (mode === "bgp") {
        raw.vip.bgp = { localAs: 65001, peers: [{ address: "192.168.122.2", as: 65000 }, { address: "192.168.122.3", as: 65002 }] };
        raw.nodes[1].bgpRouterId = "10.255.0.2";
    }
    return parseClusterConfig(raw, { stack: "test", ...options });
}

for (const version of KUBESPRAY_VERSIONS) {
    const found = kubesprayTree(version, 3);
    if ("reason" in found) {
        requireOrSkip(`the real kube-vip manifest checks for ${version} of tests/kube-vip-manifest.test.ts`, found.reason, `Kubespray ${version} and its Ansible are available`);
        continue;
    }
    const { tree, bin } = found;

    describe(`Kubespray ${version} writes the kube-vip pod from the rendered inventory`, () => {
        it("BGP: its own router id per control plane, the lease timings, peers with passwords", async () => {
            const bgp = config(version, "bgp", { bgpPeerPasswords: { passwords: { "192.168.122.3": "s3cret-pw" }, secret: true } });
            const env = await kubeVipEnv(tree, bin, bgp);
            expect(Object.keys(env)).toEqual(["kubenode1", "kubenode2", "kubenode3"]);
            for (const [host, e] of Object.entries(env)) {
                expect({ host, ...e }).toMatchObject({
                    host,
                    bgp_enable: "true",
                    bgp_routerid: bgp.vip.bgp!.routerIds[host],
                    bgp_as: "65001",
                    bgp_peers: "192.168.122.2:65000::false,192.168.122.3:65002:s3cret-pw:false",
                    vip_leaderelection: "true",
                    vip_leaseduration: "15",
                    vip_renewdeadline: "10",
                    vip_retryperiod: "2",
                    address: "192.168.122.100",
                    port: "6443",
                    vip_nodename: host,
                });
                expect(String(e.vip_arp).toLowerCase()).toBe("false");
            }
            expect(new Set(Object.values(env).map((e) => e.bgp_routerid)).size).toBe(3);
            expect(env.kubenode2.bgp_routerid).toBe("10.255.0.2");
        });

        it("has an ansible-playbook whose options are exactly the ones kubespray.extraArgs are parsed with", () => {
            const help = spawnSync(path.join(bin, "ansible-playbook"), ["--help"], { encoding: "utf8" }).stdout;
            // "  -i INVENTORY, --inventory INVENTORY, --inventory-file INVENTORY  description"
            const groups = help.split("\n").filter((l) => /^ {2}-/.test(l)).map((l) =>
                l.trim().split(/\s{2,}/)[0].split(", ").map((o) => ({ name: o.split(" ")[0], value: o.includes(" ") })));
            const longs = groups.flat().filter((o) => o.name.startsWith("--"));
            expect([...new Set(longs.map((o) => o.name.slice(2)))].sort()).toEqual([...ANSIBLE_PLAYBOOK_LONG_OPTIONS].sort());
            expect([...new Set(longs.filter((o) => o.value).map((o) => o.name.slice(2)))].sort()).toEqual([...ANSIBLE_PLAYBOOK_OPTIONS_WITH_VALUE].sort());
            const shorts = Object.fromEntries(groups.flatMap((g) => {
                const short = g.find((o) => /^-\w$/.test(o.name));
                const long = g.find((o) => o.name.startsWith("--"));
                return short && long ? [[short.name.slice(1), long.name.slice(2)]] : [];
            }));
            expect(shorts).toEqual(ANSIBLE_PLAYBOOK_SHORT_OPTIONS);
        });

        it("ARP: leader election with the lease timings, no BGP, the pinned image", async () => {
            const env = await kubeVipEnv(tree, bin, config(version, "arp"));
            for (const e of Object.values(env)) {
                expect(e).toMatchObject({ vip_leaderelection: "true", vip_leaseduration: "15", vip_renewdeadline: "10", vip_retryperiod: "2", address: "192.168.122.100" });
                expect(String(e.vip_arp).toLowerCase()).toBe("true");
                expect(e.bgp_enable).toBeUndefined();
                expect(e.image).toMatch(new RegExp(`/kube-vip/kube-vip:${KUBE_VIP_DEFAULT_TAG[version as keyof typeof KUBE_VIP_DEFAULT_TAG].replace(/\./g, "\\.")}$`));
            }
        });
    });
}

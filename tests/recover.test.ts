// The recovery before cluster.yml (components/kubespray/recover.ts) decides from the cluster, not from
// local files. Its playbook runs here with real Ansible (ansible-playbook on PATH, Debian's ansible-core)
// over three local "control planes" (ansible_connection: local), each with its own kubeadm files, API
// port and etcd read, and its reset command pointed at a marker file: never at kubeadm.
//   - a working cluster (an API answers, etcd holds /registry keys): nothing is reset, also with every
//     API server down (a day-2 cluster.yml that failed), also kube_control_plane[0];
//   - etcd that cannot be read: nothing is reset;
//   - a first init that never completed (kubeadm ran on cp1 only, no API anywhere, etcd empty): cp1 is reset;
//   - every node's decision and reason is logged.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { stringify } from "yaml";
import { RECOVER_PLAYBOOK, recoveryNote } from "../components/kubespray/recover";
import { requireOrSkip } from "./helpers/real-tests";
import { tempDirs } from "./helpers/tmp";

jest.setTimeout(180_000);

const tmp = tempDirs();
const NODES = ["cp1", "cp2", "cp3"];
const ansible = spawnSync("sh", ["-c", "command -v ansible-playbook"], { encoding: "utf8" }).stdout.trim();

interface NodeState {
    kubeadmRan: boolean;
    apiAnswers: boolean;
    /** What etcd says: a /registry key, no key, or a failed read. */
    etcd: "data" | "empty" | "unread";
}

/** A port on 127.0.0.1 that answers (a listening server) or that nobody listens on. */
async function port(listening: boolean, servers: net.Server[]): Promise<number> {
    const server = net.createServer((s) => s.end());
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const p = (server.address() as net.AddressInfo).port;
    if (listening) servers.push(server);
    else await new Promise((r) => server.close(r));
    return p;
}

async function recover(states: Record<string, NodeState>): Promise<{ status: number | null; reset: string[]; decisions: string[]; out: string }> {
    const dir = tmp("kha-recover-");
    const servers: net.Server[] = [];
    try {
        const hosts: Record<string, Record<string, unknown>> = {};
        for (const [name, st] of Object.entries(states)) {
            const d = path.join(dir, name);
            fs.mkdirSync(d);
            if (st.kubeadmRan) fs.writeFileSync(path.join(d, "config.yaml"), "kind: KubeletConfiguration\n");
            hosts[name] = {
                ansible_connection: "local",
                ansible_python_interpreter: "/usr/bin/python3",
                ansible_become: false,
                kha_kubelet_config: path.join(d, "config.yaml"),
                kha_admin_conf: path.join(d, "admin.conf"),
                kha_api_port: await port(st.apiAnswers, servers),
                kha_api_timeout: 2,
                kha_etcd_registry_read: st.etcd === "data" ? "echo /registry/namespaces/default" : st.etcd === "empty" ? "true" : "echo 'context deadline exceeded' >&2; exit 1",
                kha_reset_command: `touch ${path.join(d, "reset")}`,
            };
        }
        const names = Object.keys(states);
        fs.writeFileSync(path.join(dir, "hosts.yaml"), stringify({ all: { hosts, children: { kube_control_plane: { hosts: Object.fromEntries(names.map((n) => [n, null])) }, etcd: { hosts: Object.fromEntries(names.map((n) => [n, null])) } } } }));
        fs.writeFileSync(path.join(dir, "recover.yml"), RECOVER_PLAYBOOK);
        const r = spawnSync(ansible, ["-i", path.join(dir, "hosts.yaml"), path.join(dir, "recover.yml")], {
            encoding: "utf8",
            env: { ...process.env, ANSIBLE_HOST_KEY_CHECKING: "False", ANSIBLE_NOCOLOR: "1", ANSIBLE_LOCAL_TEMP: path.join(dir, "tmp"), ANSIBLE_REMOTE_TEMP: path.join(dir, "tmp") },
            timeout: 120_000,
        });
        const out = `${r.stdout}${r.stderr}`;
        return {
            status: r.status,
            reset: names.filter((n) => fs.existsSync(path.join(dir, n, "reset"))),
            // Hosts answer in any order: by host name.
            decisions: [...out.matchAll(/"msg": "kubespray-ha recovery: ([^"]+)"/g)].map((m) => m[1]).sort(),
            out,
        };
    } finally {
        await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    }
}

const all = (st: NodeState) => Object.fromEntries(NODES.map((n) => [n, { ...st }]));

requireOrSkip("tests/recover.test.ts", ansible ? undefined : "no ansible-playbook on PATH (apt-get install ansible)", "Ansible runs the recovery playbook here");

(ansible ? describe : describe.skip)("the recovery before cluster.yml decides from the cluster (real Ansible, local hosts)", () => {
    it("a working cluster whose API servers are all down after a failed day-2 run: nothing is reset, kube_control_plane[0] included", async () => {
        const r = await recover(all({ kubeadmRan: true, apiAnswers: false, etcd: "data" }));
        expect(r.status).toBe(0);
        expect(r.reset).toEqual([]);
        expect(r.decisions).toEqual([
            "cp1 (kube_control_plane[0]): not reset: etcd holds Kubernetes data: this cluster has answered before",
            "cp2: not reset: etcd holds Kubernetes data: this cluster has answered before",
            "cp3: not reset: etcd holds Kubernetes data: this cluster has answered before",
        ]);
    });

    it("one API server answering is enough to reset nothing, even with etcd empty", async () => {
        const r = await recover({ ...all({ kubeadmRan: true, apiAnswers: false, etcd: "empty" }), cp3: { kubeadmRan: true, apiAnswers: true, etcd: "empty" } });
        expect(r.reset).toEqual([]);
        expect(r.decisions[0]).toBe("cp1 (kube_control_plane[0]): not reset: the API answers on cp3");
    });

    it("etcd that cannot be read (down, no etcdctl, no certificate) may hold data: nothing is reset", async () => {
        const r = await recover(all({ kubeadmRan: true, apiAnswers: false, etcd: "unread" }));
        expect(r.reset).toEqual([]);
        expect(r.decisions[1]).toBe("cp2: not reset: etcd could not be read, so it may hold cluster data");
        // One successful read is a quorum read for the whole cluster.
        const one = await recover({ ...all({ kubeadmRan: true, apiAnswers: false, etcd: "unread" }), cp2: { kubeadmRan: true, apiAnswers: false, etcd: "data" } });
        expect(one.reset).toEqual([]);
    });

    it("a first init that never completed (kubeadm ran on cp1, no API anywhere, etcd without Kubernetes data): cp1 alone is reset", async () => {
        const r = await recover({ cp1: { kubeadmRan: true, apiAnswers: false, etcd: "empty" }, cp2: { kubeadmRan: false, apiAnswers: false, etcd: "empty" }, cp3: { kubeadmRan: false, apiAnswers: false, etcd: "empty" } });
        expect(r.status).toBe(0);
        expect(r.reset).toEqual(["cp1"]);
        expect(r.decisions).toEqual([
            "cp1 (kube_control_plane[0]): RESET: kubeadm ran here, no API server answers on any control plane and etcd holds no Kubernetes data: a first init/join that never completed",
            "cp2: not reset: kubeadm never ran here",
            "cp3: not reset: kubeadm never ran here",
        ]);
        expect(r.out).toMatch(/TASK \[kubespray-ha \| kubeadm reset -f/);
    });

    it("fresh nodes (a true first up): nothing to reset", async () => {
        const r = await recover(all({ kubeadmRan: false, apiAnswers: false, etcd: "unread" }));
        expect(r.status).toBe(0);
        expect(r.reset).toEqual([]);
    });
});

describe("the plan's note on the recovery", () => {
    it("names the rule and the control planes, kube_control_plane[0] first", () => {
        expect(recoveryNote(["cp1", "cp2", "cp3"])).toMatch(/resets nothing, cp1 \(kube_control_plane\[0\]\) included\. Control planes checked: cp1, cp2, cp3\.$/);
    });
});

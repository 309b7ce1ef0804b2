// Pure tests of components/kubespray/playbook.ts: the command specs the KubesprayRun component creates,
// and predictRuns, which mirrors Pulumi's diff of those commands between two renders.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { parseClusterConfig } from "../components/config/config";
import { renderTimeMachines } from "../components/kubespray/inventory";
import { deployedMembersOf } from "../components/kubespray/membership";
import {
    CommandSpec,
    inventoryArchive,
    kubesprayCommandSpecs,
    FAILURE_TAIL_LINES,
    predictRuns,
    PROGRESS_LINE_LIMIT,
    renderCommand,
    shellQuote,
} from "../components/kubespray/playbook";
import { hcloudRaw } from "./fixtures";
import { tempDirs } from "./helpers/tmp";

const tmp = tempDirs();
/** Runs `fn` in a fresh temp dir (removed after the file's tests). */
const withTempDir = <T>(fn: (dir: string) => T): T => fn(fs.realpathSync(tmp("kha-playbook-")));

/** Specs for a raw hcloud-style config (cp1..cpN control-plane+etcd, worker1..M workers). */
function specsOf(raw: any): CommandSpec[] {
    const config = parseClusterConfig(raw, { stack: "test" });
    return kubesprayCommandSpecs(config, renderTimeMachines(config));
}

const base = () => hcloudRaw(3, 2);
const withWorkers = (n: number) => hcloudRaw(3, n);
const summary = (specs: CommandSpec[] | undefined, after: CommandSpec[]) =>
    predictRuns(specs, after).runs.map((r) => r.args.join(" "));

describe("kubesprayCommandSpecs", () => {
    const specs = specsOf(base());

    it("lists inventory, cluster, upgrade, kubeconfig, then one command per worker-only node, chained", () => {
        expect(specs.map((s) => s.id)).toEqual(["inventory", "cluster", "upgrade", "kubeconfig", "node-worker1", "node-worker2"]);
        expect(specs.find((s) => s.id === "node-worker1")!.dependsOn).toEqual(["upgrade"]);
        expect(specs.find((s) => s.id === "node-worker2")!.dependsOn).toEqual(["node-worker1"]);
        expect(specs.find((s) => s.id === "node-worker2")!.machines).toEqual(["worker2"]);
        expect(specs.find((s) => s.id === "node-worker2")!.deleteBeforeReplace).toBe(true);
    });

    it("is deterministic", () => {
        expect(specsOf(base())).toEqual(specs);
    });

    it("gives the cluster command no worker-only node and no kube_version", () => {
        const cluster = specs.find((s) => s.id === "cluster")!;
        expect(cluster.machines).toEqual(["cp1", "cp2", "cp3"]);
        expect(cluster.triggers.join("\n")).not.toMatch(/worker/);
        const raw = base();
        raw.kubeVersion = "1.34.3";
        expect(specsOf(raw).find((s) => s.id === "cluster")!.triggers).toEqual(cluster.triggers);
    });

    it("treats control-plane+worker nodes as cluster members, not scaled workers", () => {
        const raw = base();
        raw.nodes[0].roles = ["control-plane", "etcd", "worker"];
        const ids = specsOf(raw).map((s) => s.id);
        expect(ids).not.toContain("node-cp1");
    });

    it("only builds the requested specs", () => {
        const config = parseClusterConfig(base(), { stack: "test" });
        const only = kubesprayCommandSpecs(config, renderTimeMachines(config), { only: ["node-worker2"] });
        expect(only).toEqual([specs.find((s) => s.id === "node-worker2")]);
    });
});

describe("predictRuns", () => {
    it("first up: cluster.yml only; the upgrade and the workers are covered by it", () => {
        const plan = predictRuns(undefined, specsOf(base()));
        expect(plan.runs.map((r) => r.args.join(" "))).toEqual(["cluster.yml"]);
        expect(plan.changes.filter((c) => c.skipped).map((c) => c.id)).toEqual(["upgrade", "node-worker1", "node-worker2"]);
        expect(plan.warnings).toEqual([]);
    });

    it("no change: nothing runs", () => {
        const plan = predictRuns(specsOf(base()), specsOf(base()));
        expect(plan.runs).toEqual([]);
        expect(plan.changes.every((c) => c.op === "same")).toBe(true);
        expect(plan.warnings).toEqual([]);
    });

    it("add a worker: facts.yml, then scale.yml --limit=<new node>; nothing else", () => {
        const plan = predictRuns(specsOf(base()), specsOf(withWorkers(3)));
        expect(plan.runs.map((r) => r.args.join(" "))).toEqual(["playbooks/facts.yml", "scale.yml --limit=worker3"]);
        expect(plan.runs.every((r) => r.specId === "node-worker3" && r.phase === "create")).toBe(true);
        const ops = Object.fromEntries(plan.changes.map((c) => [c.id, c.op]));
        expect(ops).toEqual({
            inventory: "update", cluster: "same", upgrade: "same", kubeconfig: "same",
            "node-worker1": "same", "node-worker2": "same", "node-worker3": "create",
        });
    });

    it("add two workers: each is scaled on its own, in config order", () => {
        expect(summary(specsOf(base()), specsOf(withWorkers(4)))).toEqual([
            "playbooks/facts.yml", "scale.yml --limit=worker3", "playbooks/facts.yml", "scale.yml --limit=worker4",
        ]);
    });

    it("remove a worker: remove-node.yml -e node=<name> -e skip_confirmation=true, at the end", () => {
        const plan = predictRuns(specsOf(withWorkers(3)), specsOf(base()));
        expect(plan.runs).toEqual([{
            specId: "node-worker3",
            phase: "delete",
            playbook: "remove-node.yml",
            extraVars: [["node", "worker3"], ["skip_confirmation", "true"]],
            args: ["remove-node.yml", "-e", "node=worker3", "-e", "skip_confirmation=true"],
        }]);
        expect(plan.changes.at(-1)).toEqual({ id: "node-worker3", kind: "node", op: "delete" });
    });

    it("remove two workers: the later one first (dependents are deleted first)", () => {
        expect(summary(specsOf(withWorkers(4)), specsOf(base()))).toEqual([
            "remove-node.yml -e node=worker4 -e skip_confirmation=true",
            "remove-node.yml -e node=worker3 -e skip_confirmation=true",
        ]);
    });

    it("change a group_var: cluster.yml, and the kubeconfig is read again", () => {
        const raw = base();
        raw.groupVars = { container_manager: "containerd", dns_mode: "coredns" };
        const plan = predictRuns(specsOf(base()), specsOf(raw));
        expect(plan.runs.map((r) => r.args.join(" "))).toEqual(["cluster.yml"]);
        expect(plan.changes.find((c) => c.id === "kubeconfig")!.op).toBe("replace");
        expect(plan.changes.find((c) => c.id === "node-worker1")!.op).toBe("same");
        expect(plan.warnings).toEqual([]);
    });

    it("change extraArgs: cluster.yml", () => {
        const raw = base();
        raw.kubespray = { extraArgs: ["-e", "download_run_once=true"] };
        expect(summary(specsOf(base()), specsOf(raw))).toEqual(["cluster.yml"]);
    });

    it("change kubeVersion: upgrade-cluster.yml, not cluster.yml", () => {
        const before = base();
        before.kubeVersion = "1.33.4";
        const after = base();
        after.kubeVersion = "1.34.3";
        const plan = predictRuns(specsOf(before), specsOf(after));
        expect(plan.runs.map((r) => r.args.join(" "))).toEqual(["upgrade-cluster.yml"]);
        expect(plan.changes.find((c) => c.id === "cluster")!.op).toBe("same");
        expect(plan.warnings).toEqual([]);
        expect(plan.errors).toEqual([]);
        // The other version paths (refusals, checksums, the steps): tests/upgrade.test.ts.
    });

    it("a moved API endpoint (vip.address, vip.domainName) on a deployed cluster is refused with the reason; older specs without the record are not compared", () => {
        const before = base();
        const after = base();
        after.vip = { ...after.vip, address: "10.0.1.6" };
        const plan = predictRuns(specsOf(before), specsOf(after));
        expect(plan.errors).toEqual([expect.stringMatching(/^vip\.address: 10\.0\.1\.5 -> 10\.0\.1\.6 on a deployed cluster: .*roles\/kubernetes\/kubeadm\/tasks\/main\.yml.*controlPlaneEndpoint.*keep vip\.address 10\.0\.1\.5, or deploy a new stack/)]);
        const named = base();
        named.vip = { ...named.vip, domainName: "api.example.internal" };
        expect(predictRuns(specsOf(before), specsOf(named)).errors).toEqual([expect.stringMatching(/^vip\.domainName \(API endpoint name\): 10\.0\.1\.5 -> api\.example\.internal on a deployed cluster/)]);
        const old = specsOf(before).map((s) => ({ ...s, apiEndpoint: undefined }));
        expect(predictRuns(old, specsOf(after)).errors).toEqual([]);
        expect(predictRuns(undefined, specsOf(after)).errors).toEqual([]);
    });

    it("control plane/etcd 3 -> 5 or 5 -> 3 in one up is refused at preview, naming the nodes", () => {
        expect(predictRuns(specsOf(hcloudRaw(3, 2)), specsOf(hcloudRaw(5, 2))).errors).toEqual([
            expect.stringMatching(/^etcd members cp4, cp5 would join in one `up`/),
            expect.stringMatching(/^control planes cp4 joining, cp5 joining: one control plane leaves and one joins per `up`/),
        ]);
        expect(predictRuns(specsOf(hcloudRaw(5, 2)), specsOf(hcloudRaw(3, 2))).errors[0]).toMatch(/^etcd members cp4, cp5 would leave in one `up` \(5 -> 3 members\)/);
    });

    it("replacing kube_control_plane[0] runs nodes.md's steps from the cluster command, with the run-time conditions in the plan", () => {
        const before = specsOf(base());
        const raw = base();
        raw.nodes.splice(0, 1);
        raw.nodes.splice(2, 0, { name: "cp9", ip: "10.0.1.19", roles: ["control-plane", "etcd"] });
        const config = { ...parseClusterConfig(raw, { stack: "test" }), deployedMembers: deployedMembersOf(before) };
        const after = kubesprayCommandSpecs(config, renderTimeMachines(config));
        const plan = predictRuns(before, after);
        expect(plan.errors).toEqual([]);
        expect(plan.runs.map((r) => [r.specId, r.args.join(" "), r.when])).toEqual([
            ["cluster", "cluster.yml", "only if cp1 answers"],
            ["cluster", "remove-node.yml -e node=cp1 -e skip_confirmation=true", "if cp1 does not answer: -e reset_nodes=false -e allow_ungraceful_removal=true"],
            ["cluster", "cluster.yml --limit=etcd,kube_control_plane -e ignore_assert_errors=yes", undefined],
            ["cluster", "upgrade-cluster.yml --limit=etcd,kube_control_plane -e ignore_assert_errors=yes", undefined],
        ]);
        // The shell: the transition inventory (cp2, cp3 under their running names, cp1 last, cp9 not yet), then the
        // staying members checked before anything runs; the steps before the join run on that inventory.
        const create = renderCommand(config, after.find((s) => s.id === "cluster")!).create;
        const at = (text: string) => create.indexOf(text);
        const transition = parse(/cat > "\$KHA_INVENTORY\/hosts\.membership\.yaml" <<'(\w+)'\n([\s\S]*?)\n\1\n/.exec(create)![2]);
        expect(Object.keys(transition.all.children.etcd.hosts)).toEqual(["cp2", "cp3", "cp1"]);
        expect(Object.keys(transition.all.children.kube_control_plane.hosts)).toEqual(["cp2", "cp3", "cp1"]);
        expect(Object.fromEntries(["cp1", "cp2", "cp3"].map((n) => [n, transition.all.hosts[n].etcd_member_name]))).toEqual({ cp1: "etcd1", cp2: "etcd2", cp3: "etcd3" });
        expect(transition.all.hosts.cp9).toBeUndefined();
        expect(at("if ! kha_answers cp2,cp3;")).toBeGreaterThan(0);
        expect(at("if ! kha_answers cp2,cp3;")).toBeLessThan(at("kha_playbook cluster.yml"));
        // One connection attempt, bounded (Kubespray's ansible.cfg asks ssh for 100).
        expect(create).toMatch(/kha_timeout=; command -v timeout >\/dev\/null 2>&1 && kha_timeout="timeout 120"/);
        expect(create).toMatch(/ANSIBLE_SSH_ARGS="-o ConnectionAttempts=1 [^"]*" \$kha_timeout/);
        expect(create).toMatch(/if \[ "\$kha_up_0" = 1 \]; then kha_hosts="\$KHA_INVENTORY\/hosts\.membership\.yaml"; kha_playbook cluster\.yml; kha_hosts="\$KHA_INVENTORY\/hosts\.yaml"\nelse echo 'kubespray-ha: skipped cluster\.yml: cp1 does not answer/);
        expect(create).toMatch(/kha_more=; \[ "\$kha_up_0" = 1 \] \|\| kha_more='-e reset_nodes=false -e allow_ungraceful_removal=true'\nkha_hosts="\$KHA_INVENTORY\/hosts\.membership\.yaml"; kha_playbook remove-node\.yml -e node=cp1 -e skip_confirmation=true \$\{KUBESPRAY_HA_REMOVE_NODE_ARGS:-\} \$kha_more; kha_hosts="\$KHA_INVENTORY\/hosts\.yaml"\nkha_playbook cluster\.yml --limit=etcd,kube_control_plane -e ignore_assert_errors=yes\n/);
        expect(create).toMatch(/echo 'kubespray-ha: 2\. remove cp1 from the cluster/);
        expect(spawnSync("bash", ["-n"], { input: create }).status).toBe(0);
    });

    it("a worker added in the same up as a control-plane replacement still gets its own scale.yml (the limited runs do not set it up)", () => {
        const before = specsOf(base());
        const raw = withWorkers(3);
        raw.nodes.splice(0, 1);
        raw.nodes.splice(2, 0, { name: "cp9", ip: "10.0.1.19", roles: ["control-plane", "etcd"] });
        const config = { ...parseClusterConfig(raw, { stack: "test" }), deployedMembers: deployedMembersOf(before) };
        const after = kubesprayCommandSpecs(config, renderTimeMachines(config));
        expect(after.find((s) => s.id === "cluster")!.create.recordsClusterRun!.nodes).toEqual(["cp2", "cp3", "cp9"]);
        expect(summary(before, after).slice(-2)).toEqual(["playbooks/facts.yml", "scale.yml --limit=worker3"]);
    });

    it("refuses a new control plane listed first (kube_control_plane[0]), naming where it goes", () => {
        const raw = base();
        raw.nodes[0] = { ...raw.nodes[0], name: "cp9", ip: "10.0.1.19" };
        expect(predictRuns(specsOf(base()), specsOf(raw)).errors).toEqual([expect.stringMatching(/^cp9 would be kube_control_plane\[0\] .* List it after cp2, cp3 in nodes\./)]);
    });

    it("an even etcd count only as one step from the odd count deployed", () => {
        const even = hcloudRaw(3, 2);
        even.nodes.splice(3, 0, { name: "cp4", ip: "10.0.1.14", roles: ["control-plane", "etcd"] });
        even.etcd = { allowEvenMembers: true };
        expect(predictRuns(specsOf(base()), specsOf(even)).errors).toEqual([]);
        // A first deployment has no odd count to step from.
        expect(predictRuns(undefined, specsOf(even)).errors).toEqual([
            expect.stringMatching(/^nodes: 4 nodes have the role etcd \(etcd\) in a first deployment/),
            expect.stringMatching(/^nodes: 4 nodes have the role control-plane \(kube_control_plane\) in a first deployment/),
        ]);
        expect(predictRuns(specsOf(hcloudRaw(1, 2)), specsOf(even)).errors.join("\n")).toMatch(/1 -> 4 nodes with the role etcd/);
    });

    it("a worker's address changes (server replaced): remove-node first, then scale it again", () => {
        const before = specsOf(base());
        const after = before.map((s) => s.id !== "node-worker2" ? s : {
            ...s, triggers: s.triggers.map((t) => t.replace(/ansible_host=[^ ]+/, "ansible_host=198.51.100.7")),
        });
        expect(summary(before, after)).toEqual([
            "remove-node.yml -e node=worker2 -e skip_confirmation=true", "playbooks/facts.yml", "scale.yml --limit=worker2",
        ]);
    });

    it("refuses a node moving between worker-only and control-plane roles", () => {
        const raw = hcloudRaw(3, 2);
        raw.nodes[4].roles = ["control-plane", "etcd", "worker"];
        raw.nodes[3].roles = ["control-plane", "etcd", "worker"];
        const plan = predictRuns(specsOf(hcloudRaw(3, 2)), specsOf(raw));
        expect(plan.errors[0]).toMatch(/node worker1 changes between worker-only and control-plane\/etcd/);
        expect(plan.errors[1]).toMatch(/node worker2 changes between worker-only and control-plane\/etcd/);
    });

    it("a removed worker plus a group_var change: cluster.yml first, remove-node at the end", () => {
        const raw = base();
        raw.groupVars = { dns_mode: "coredns" };
        expect(summary(specsOf(withWorkers(3)), specsOf(raw))).toEqual([
            "cluster.yml", "remove-node.yml -e node=worker3 -e skip_confirmation=true",
        ]);
    });

    it("an added worker plus a group_var change: cluster.yml covers it, no scale.yml", () => {
        const raw = withWorkers(3);
        raw.groupVars = { dns_mode: "coredns" };
        const plan = predictRuns(specsOf(base()), specsOf(raw));
        expect(plan.runs.map((r) => r.args.join(" "))).toEqual(["cluster.yml"]);
        expect(plan.changes.find((c) => c.id === "node-worker3")!.skipped).toMatch(/set up by cluster\.yml/);
    });
});

describe("renderCommand", () => {
    const config = parseClusterConfig(base(), { stack: "test" });
    const specs = kubesprayCommandSpecs(config, renderTimeMachines(config));
    const shell = (id: string) => renderCommand(config, specs.find((s) => s.id === id)!);

    it("runs cluster.yml from the Kubespray dir with its ansible.cfg, the inventory and the configured user", () => {
        const c = shell("cluster");
        expect(c.environment).toEqual({
            KHA_RUN_DIR: ".kubespray-ha/test",
            KHA_INVENTORY: ".kubespray-ha/test/inventory",
            ANSIBLE_CONFIG: "kubespray/ansible.cfg",
            PYTHONUNBUFFERED: "1",
            KHA_KUBESPRAY_DIR: "kubespray",
            KHA_KUBESPRAY_VERSION: "v2.31.0",
            KHA_ANSIBLE_PLAYBOOK: "ansible-playbook",
            KHA_SSH_USER: "root",
        });
        expect(c.create).toMatch(/^kha_playbook cluster\.yml$/m);
        expect(c.create).toContain(`"$KHA_ANSIBLE_PLAYBOOK" -i "$kha_hosts" -b --forks "$kha_forks" --user "$KHA_SSH_USER" --private-key "$kha_tmp/ssh-key"`);
        expect(c.create).toContain(`trap 'rm -rf "$kha_tmp"' EXIT`);
        expect(c.stdin).toBe("ssh-private-key");
        expect(c.update).not.toContain("kha_playbook");
        expect(c.delete).toBeUndefined();
    });

    it("scales a worker after facts.yml unless cluster.yml covered it, and removes it with its own host entry", () => {
        const c = shell("node-worker2");
        expect(c.create).toMatch(/kha_covered node=worker2.*\nkha_playbook playbooks\/facts\.yml\nkha_playbook scale\.yml --limit=worker2\n$/s);
        expect(c.delete).toMatch(/kha_playbook -i "\$kha_tmp\/extra-host-0\.yaml" remove-node\.yml -e node=worker2 -e skip_confirmation=true \$\{KUBESPRAY_HA_REMOVE_NODE_ARGS:-\}/);
        const extra = c.delete!.match(/<<'KHA_EOF_0'\n([\s\S]*?)KHA_EOF_0\n/)![1];
        expect(parse(extra)).toEqual({
            all: {
                hosts: { worker2: { ansible_host: "<known after create: public IPv4 of worker2>", ansible_port: 22, ip: "10.0.1.102", access_ip: "10.0.1.102" } },
                children: { kube_node: { hosts: { worker2: null } } },
            },
        });
        expect(c.delete!.indexOf("KUBESPRAY_HA_SKIP_REMOVE_NODE")).toBeLessThan(c.delete!.indexOf("cd \"$KHA_KUBESPRAY_DIR\""));
    });

    it("adds extraArgs after the playbook's own arguments", () => {
        const raw = base();
        raw.kubespray = { extraArgs: ["-e", "foo=it's"] };
        const cfg = parseClusterConfig(raw, { stack: "test" });
        const spec = kubesprayCommandSpecs(cfg, renderTimeMachines(cfg)).find((s) => s.id === "cluster")!;
        expect(renderCommand(cfg, spec).create).toContain(`kha_playbook cluster.yml -e 'foo=it'\\''s'`);
    });

    it("keeps the kubeconfig reader's stdout out of the log", () => {
        expect(shell("kubeconfig").logging).toBe("stderr");
        expect(shell("kubeconfig").stdin).toBe("none");
        expect(shell("cluster").logging).toBe("stdoutAndStderr");
    });

    it("writes the inventory from stdin here-documents, with a delimiter the content does not contain", () => {
        const raw = base();
        raw.groupVars = { weird: "KHA_EOF_0" };
        const cfg = parseClusterConfig(raw, { stack: "test" });
        const archive = inventoryArchive(cfg, renderTimeMachines(cfg));
        expect(archive).toContain(`cat > "$KHA_INVENTORY"/hosts.yaml <<'KHA_EOF_0'`);
        expect(archive).toContain(`cat > "$KHA_RUN_DIR"/inventory.meta <<'KHA_EOF_0'\nforks=5\nkube_version=kubespray-default\nnode=cp1\n`);
        expect(archive).toMatch(/zz-extra\.yml <<'KHA_EOF_0'\n/); // the YAML line is "weird: KHA_EOF_0", not the bare word
    });

    it("quotes shell words", () => {
        expect(shellQuote("scale.yml")).toBe("scale.yml");
        expect(shellQuote("--limit=a,b")).toBe("--limit=a,b");
        expect(shellQuote("a b")).toBe("'a b'");
        expect(shellQuote("$(x)")).toBe("'$(x)'");
    });

    it("gives every command the same inputs whichever directory the project is checked out in", () => {
        const cwd = process.cwd();
        const render = (dir: string) => {
            process.chdir(dir);
            try {
                return specs.map((sp) => renderCommand(config, sp));
            } finally {
                process.chdir(cwd);
            }
        };
        withTempDir((a) => withTempDir((b) => {
            const first = render(a);
            expect(JSON.stringify(first)).not.toContain(a);
            expect(render(b)).toEqual(first);
        }));
    });
});

// The scripts themselves, run by /bin/sh the way the command provider runs them: from the project
// directory, with relative paths in the environment, and a fake ansible-playbook that floods its output.
describe("renderCommand scripts, executed", () => {
    const FAKE_ANSIBLE = `#!/bin/sh
echo "ansible.cfg=$ANSIBLE_CONFIG cwd=$PWD args=$*"
# The recovery check before cluster.yml (recover.ts) prints a few lines in real runs.
case "$*" in *kubespray-ha-recover.yml*) echo "TASK [kubespray-ha | decision] ***"; echo '    "msg": "kubespray-ha recovery: cp1 (kube_control_plane[0]): not reset: kubeadm never ran here"'; echo '    "other": "not shown"'; exit 0 ;; esac
i=0
while [ $i -lt 3000 ]; do
  echo "TASK [role : task $i] ******"
  echo "ok: [cp1] => {\"chatty\": \"line $i of a very long result\"}"
  i=$((i + 1))
done
echo "PLAY RECAP *****"
echo "cp1 : ok=6000 changed=0 unreachable=0 failed=\${FAKE_FAILED:-0}"
exit \${FAKE_RC:-0}
`;

    function project(dir: string, extra: Record<string, unknown> = {}) {
        const rest = Object.fromEntries(Object.entries(extra).filter(([k]) => k !== "treeVersion"));
        const raw = { ...base(), kubespray: { dir: "vendor/kubespray", ansiblePlaybook: "venv/bin/ansible-playbook" }, ...rest };
        const cfg = parseClusterConfig(raw, { stack: "test" });
        fs.mkdirSync(path.join(dir, "vendor/kubespray"), { recursive: true });
        fs.writeFileSync(path.join(dir, "vendor/kubespray/ansible.cfg"), "[defaults]\n");
        fs.writeFileSync(path.join(dir, "vendor/kubespray/galaxy.yml"), `version: ${String(extra.treeVersion ?? "2.31.0")}\n`);
        fs.mkdirSync(path.join(dir, "venv/bin"), { recursive: true });
        fs.writeFileSync(path.join(dir, "venv/bin/ansible-playbook"), FAKE_ANSIBLE, { mode: 0o755 });
        const inv = path.join(dir, ".kubespray-ha/test/inventory");
        fs.mkdirSync(inv, { recursive: true });
        fs.writeFileSync(path.join(inv, "hosts.yaml"), "all: {}\n");
        fs.writeFileSync(path.join(dir, ".kubespray-ha/test/inventory.meta"), "forks=5\n");
        const spec = kubesprayCommandSpecs(cfg, renderTimeMachines(cfg)).find((x) => x.id === "cluster")!;
        return renderCommand(cfg, spec);
    }

    const run = (dir: string, script: string, env: Record<string, string>) =>
        spawnSync("/bin/sh", ["-c", script], { cwd: dir, input: "not a real key\n", env: { ...process.env, ...env }, encoding: "utf8" });

    it("resolves the relative paths against the project directory (ansible.cfg, ansible-playbook, inventory)", () => {
        withTempDir((dir) => {
            const sh = project(dir);
            const r = run(dir, sh.create, sh.environment);
            expect(r.status).toBe(0);
            const log = fs.readdirSync(path.join(dir, ".kubespray-ha/test/logs"));
            expect(log).toHaveLength(1);
            const full = fs.readFileSync(path.join(dir, ".kubespray-ha/test/logs", log[0]), "utf8");
            expect(full).toContain(`ansible.cfg=${dir}/vendor/kubespray/ansible.cfg cwd=${dir}/vendor/kubespray args=-i ${dir}/.kubespray-ha/test/inventory/hosts.yaml -b --forks 5`);
        });
    });

    it("keeps Ansible's whole output in the log file, and only bounded progress in what Pulumi captures", () => {
        withTempDir((dir) => {
            const sh = project(dir);
            // An earlier cluster.yml of this run dir never completed: the recovery check runs first.
            fs.writeFileSync(path.join(dir, ".kubespray-ha/test/cluster-attempt"), "2026-12-07T00:00:00Z\n");
            const r = run(dir, sh.create, sh.environment);
            expect(r.status).toBe(0);
            expect(r.stdout).toBe("");
            // cluster.yml's progress, after the recovery check's own few lines (its note, invocation and task).
            const lines = r.stderr.trimEnd().split("\n");
            const cluster = lines.slice(lines.findIndex((l) => / cluster\.yml \(log: /.test(l)));
            expect(lines.length - cluster.length).toBeLessThanOrEqual(5);
            // Each control plane's recovery decision reaches Pulumi's log; the rest of a debug result does not.
            expect(r.stderr).toContain('"msg": "kubespray-ha recovery: cp1 (kube_control_plane[0]): not reset: kubeadm never ran here"');
            expect(r.stderr).not.toContain("not shown");
            expect(cluster.length).toBeLessThanOrEqual(PROGRESS_LINE_LIMIT + 3);
            expect(cluster.filter((l) => l.startsWith("TASK [")).length).toBe(PROGRESS_LINE_LIMIT);
            expect(r.stderr).not.toContain("chatty");
            expect(r.stderr).toMatch(/kubespray-ha: more progress in .*\.log/);
            const log = fs.readdirSync(path.join(dir, ".kubespray-ha/test/logs"))[0];
            const full = fs.readFileSync(path.join(dir, ".kubespray-ha/test/logs", log), "utf8");
            expect(full.split("\n").filter((l) => l.includes("chatty"))).toHaveLength(3000);
        });
    });

    it("ends a failed run with the log's last lines, bounded, and the playbook's exit code", () => {
        withTempDir((dir) => {
            const sh = project(dir);
            const r = run(dir, sh.create, { ...sh.environment, FAKE_RC: "2", FAKE_FAILED: "1" });
            expect(r.status).toBe(2);
            const tail = r.stderr.slice(r.stderr.indexOf("failed (exit 2)"));
            expect(tail).toContain("cp1 : ok=6000 changed=0 unreachable=0 failed=1");
            expect(tail.trimEnd().split("\n").length).toBe(FAILURE_TAIL_LINES + 1);
        });
    });

    it("refuses a Kubespray tree of another version than kubesprayVersion, naming both, before any playbook", () => {
        withTempDir((dir) => {
            const sh = project(dir, { treeVersion: "2.25.1" });
            const r = run(dir, sh.create, sh.environment);
            expect(r.status).toBe(2);
            expect(r.stderr).toContain(`kubespray-ha: kubespray.dir ${dir}/vendor/kubespray holds Kubespray v2.25.1 (its galaxy.yml), but kubesprayVersion is v2.31.0`);
            expect(fs.existsSync(path.join(dir, ".kubespray-ha/test/logs"))).toBe(false);
        });
        withTempDir((dir) => {
            const sh = project(dir);
            fs.rmSync(path.join(dir, "vendor/kubespray/galaxy.yml"));
            const r = run(dir, sh.create, sh.environment);
            expect(r.status).toBe(2);
            expect(r.stderr).toContain("is not a Kubespray checkout (no galaxy.yml): put Kubespray v2.31.0 there");
        });
        withTempDir((dir) => {
            // The real trees quote nothing; a quoted version reads the same.
            const sh = project(dir);
            fs.writeFileSync(path.join(dir, "vendor/kubespray/galaxy.yml"), 'namespace: kubernetes_sigs\nversion: "2.31.0"\n');
            expect(run(dir, sh.create, sh.environment).status).toBe(0);
        });
    });
});

// Before cluster.yml, while this run dir has no completed cluster.yml, the create first runs the recovery
// playbook (components/kubespray/recover.ts; its decisions, from the cluster: tests/recover.test.ts).
describe("the recovery before cluster.yml (recover.ts)", () => {
    const FAKE = `#!/bin/sh
for a in "$@"; do case "$a" in *.yml) echo "$(basename "$a")" >> "$FAKE_RECORD" ;; esac; done
case "$*" in *kubespray-ha-recover.yml*) cat "$(for a in "$@"; do case "$a" in *recover.yml) echo "$a" ;; esac; done)" > "$FAKE_RECORD.playbook" ;; esac
case "$*" in *cluster.yml*) exit \${FAKE_CLUSTER_RC:-0} ;; esac
exit 0
`;
    function setUp(dir: string) {
        const raw = { ...base(), kubespray: { dir: "kubespray", ansiblePlaybook: "bin/ansible-playbook" } };
        const cfg = parseClusterConfig(raw, { stack: "test" });
        fs.mkdirSync(path.join(dir, "kubespray"), { recursive: true });
        fs.writeFileSync(path.join(dir, "kubespray/ansible.cfg"), "[defaults]\n");
        fs.writeFileSync(path.join(dir, "kubespray/galaxy.yml"), "version: 2.31.0\n");
        fs.mkdirSync(path.join(dir, "bin"), { recursive: true });
        fs.writeFileSync(path.join(dir, "bin/ansible-playbook"), FAKE, { mode: 0o755 });
        fs.mkdirSync(path.join(dir, ".kubespray-ha/test/inventory"), { recursive: true });
        fs.writeFileSync(path.join(dir, ".kubespray-ha/test/inventory/hosts.yaml"), "all: {}\n");
        fs.writeFileSync(path.join(dir, ".kubespray-ha/test/inventory.meta"), "forks=5\n");
        const sh = renderCommand(cfg, kubesprayCommandSpecs(cfg, renderTimeMachines(cfg)).find((x) => x.id === "cluster")!);
        const record = path.join(dir, "record");
        const create = (env: Record<string, string> = {}) => {
            fs.writeFileSync(record, "");
            const r = spawnSync("/bin/sh", ["-c", sh.create], { cwd: dir, input: "key\n", env: { ...process.env, ...sh.environment, FAKE_RECORD: record, ...env }, encoding: "utf8" });
            return { status: r.status, stderr: r.stderr, playbooks: fs.readFileSync(record, "utf8").trim().split("\n").filter(Boolean) };
        };
        return { create, runDir: path.join(dir, ".kubespray-ha/test"), record };
    }

    it("after a cluster.yml of this run dir that never completed, reads the cluster before the next one; never after one completed", () => {
        withTempDir((dir) => {
            const { create, runDir, record } = setUp(dir);
            const first = create({ FAKE_CLUSTER_RC: "2" });
            expect(first.status).toBe(2);
            expect(first.playbooks).toEqual(["cluster.yml"]);
            expect(fs.existsSync(path.join(runDir, "cluster-attempt"))).toBe(true);
            expect(fs.existsSync(path.join(runDir, "cluster-run"))).toBe(false);

            const second = create();
            expect(second.status).toBe(0);
            expect(second.playbooks).toEqual(["kubespray-ha-recover.yml", "cluster.yml"]);
            expect(second.stderr).toMatch(/kubespray-ha: the cluster\.yml started \S+ from this run dir never completed: reading the cluster first; kubeadm reset -f only on control planes where kubeadm ran, while no API server answers and etcd holds no Kubernetes data/);
            // The playbook reads kube_control_plane and etcd, then decides per control plane.
            const play = parse(fs.readFileSync(`${record}.playbook`, "utf8"));
            expect(play.map((p: any) => p.hosts)).toEqual(["kube_control_plane:etcd", "kube_control_plane"]);
            const reset = play[1].tasks.find((t: any) => /^kubespray-ha \| kubeadm reset -f/.test(t.name));
            expect(reset["ansible.builtin.command"]).toBe("{{ kha_reset_command | default('kubeadm reset -f') }}");
            expect(reset.when).toBe("kha_reset | bool");
            expect(fs.existsSync(path.join(runDir, "cluster-run"))).toBe(true);

            // Once completed, never again: a later cluster.yml (a changed group_var), even a failed one, runs alone.
            expect(create({ FAKE_CLUSTER_RC: "3" }).playbooks).toEqual(["cluster.yml"]);
            expect(create().playbooks).toEqual(["cluster.yml"]);
        });
    });

    it("a run dir with a completed cluster.yml from before the attempt record existed is never reset", () => {
        withTempDir((dir) => {
            const { create, runDir } = setUp(dir);
            fs.writeFileSync(path.join(runDir, "cluster-run"), "stamp=old\n");
            fs.writeFileSync(path.join(runDir, "cluster-attempt"), "2026-01-01T00:00:00Z\n");
            expect(create().playbooks).toEqual(["cluster.yml"]);
        });
    });
});

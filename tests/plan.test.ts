// `npm run plan`: over two real commits of a temporary git repository, run as the real CLI
// (exit codes included), then the same plans in Markdown and JSON in-process.
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { stringify } from "yaml";
import { diffVars, formatMarkdown, loadPlanSide, planStack, predictPlaybooks, SECRET_CHANGED } from "../components/review/plan";
import { runPlan } from "../scripts/plan";
import { hcloudRaw, libvirtRaw } from "./fixtures";
import { tempDirs } from "./helpers/tmp";
import { diffIdentities, nodeIdentities } from "../components/nodes/identity";
import { baremetalRaw } from "./fixtures";

const root = path.join(__dirname, "..");
const tsNode = path.join(root, "node_modules", ".bin", "ts-node");
const projectYaml = fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8");

const CLUSTER = "kubespray-ha:cluster";
const KEY_A = "v1:AAAAciphertextOfTheFirstKeyAAAA";
const KEY_B = "v1:BBBBciphertextOfTheSecondKeyBBB";

function stackYaml(cluster: unknown, extra: Record<string, unknown> = {}): string {
    return "# the dev stack\n" + stringify({ config: { [CLUSTER]: cluster, ...extra } });
}

const tmp = tempDirs();

/** A git repository holding the project files, on a branch `change` forked from `main`. */
class StackRepo {
    readonly dir = tmp("kha-plan-");

    constructor(branch = "main") {
        this.git("init", "-q", "-b", branch);
        fs.writeFileSync(path.join(this.dir, "Pulumi.yaml"), projectYaml);
    }

    git(...args: string[]): string {
        return execFileSync("git", ["-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false", ...args], {
            cwd: this.dir,
            encoding: "utf8",
        });
    }

    write(text: string, stack = "dev"): this {
        fs.writeFileSync(path.join(this.dir, `Pulumi.${stack}.yaml`), text);
        return this;
    }

    commit(message: string): string {
        this.git("add", "-A");
        this.git("commit", "-q", "--allow-empty", "-m", message);
        return this.git("rev-parse", "HEAD").trim();
    }

    /** Base on main, the change committed on a branch, as a PR would be. */
    static pr(before: string | undefined, after: string): StackRepo {
        const repo = new StackRepo();
        if (before !== undefined) repo.write(before);
        repo.commit("base");
        repo.git("checkout", "-q", "-b", "change");
        repo.write(after).commit("change");
        return repo;
    }
}

function cli(args: string[]) {
    return spawnSync(tsNode, ["--transpile-only", path.join(root, "scripts", "plan.ts"), ...args], { cwd: root, encoding: "utf8" });
}

function inProcess(args: string[]) {
    let stdout = "";
    let stderr = "";
    const code = runPlan(args, { cwd: root, stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
    return { code, stdout, stderr };
}

const withWorker = () => {
    const raw = libvirtRaw();
    raw.nodes.push({ name: "kubenode4", ip: "192.168.122.24", roles: ["worker"] });
    return raw;
};
const baseCluster = () => ({ ...libvirtRaw(), kubeVersion: "1.34.3", groupVars: { ntp_enabled: false, dns_mode: "coredns" } });
/** hcloudRaw() with the Load Balancer's public interface on; `apiEndpoint` unset means its default, public. */
const hcloudPublic = (apiEndpoint?: "private" | "public") => {
    const raw = hcloudRaw();
    raw.hcloud.enablePublicInterface = true;
    if (apiEndpoint) raw.hcloud.apiEndpoint = apiEndpoint;
    return raw;
};
const PUBLIC_URL = "https://<known after create: public IPv4 of the API Load Balancer>:6443";

interface Scenario {
    name: string;
    before: unknown;
    after: unknown;
    code: number;
    text: RegExp[];
    absent?: RegExp[];
}

const scenarios: Scenario[] = [
    {
        name: "add a worker",
        before: libvirtRaw(),
        after: withWorker(),
        code: 2,
        text: [
            /^Playbooks that would run, in order:\n {2}1\. playbooks\/facts\.yml +\(node-kubenode4 created\)\n {2}2\. scale\.yml --limit=kubenode4 +\(node-kubenode4 created\)\n\n/m,
            /^Nodes: 1 added, 0 removed, 0 changed, 3 unchanged$/m,
            /^ {2}\+ kubenode4 +192\.168\.122\.24 +\[worker\]$/m,
        ],
        absent: [/API ENDPOINT MOVES/, /cluster\.yml/],
    },
    {
        name: "remove a worker",
        before: withWorker(),
        after: libvirtRaw(),
        code: 2,
        text: [
            /^Playbooks that would run, in order:\n {2}1\. remove-node\.yml -e node=kubenode4 -e skip_confirmation=true +\(node-kubenode4 deleted\)\n\n/m,
            /^Nodes: 0 added, 1 removed, 0 changed, 3 unchanged$/m,
            /^ {2}- kubenode4 +192\.168\.122\.24 +\[worker\]$/m,
        ],
        absent: [/API ENDPOINT MOVES/, /cluster\.yml/],
    },
    {
        name: "change the VIP",
        before: libvirtRaw(),
        after: { ...libvirtRaw(), vip: { address: "192.168.122.101", mode: "arp" } },
        code: 1,
        text: [
            /^!!! REFUSED: `pulumi up` would fail before running anything: vip\.address: 192\.168\.122\.100 -> 192\.168\.122\.101 on a deployed cluster: cluster\.yml would rewrite only the workers' kubelet\.conf .*keep vip\.address 192\.168\.122\.100, or deploy a new stack at the new address/m,
            /^!!! API ENDPOINT MOVES: VIP 192\.168\.122\.100 -> 192\.168\.122\.101, API URL https:\/\/192\.168\.122\.100:6443 -> https:\/\/192\.168\.122\.101:6443\. .*REPLACES EVERY KUBERNETES RESOURCE/m,
            /^Playbooks that would run, in order:\n {2}1\. cluster\.yml +\(cluster replaced\)\n {2}first: before cluster\.yml, when a cluster\.yml started from this run dir never completed: the recovery check reads the cluster [^\n]*Control planes checked: [^\n]*\n\n/m,
            /^API endpoint: CHANGED \(MOVED\)$/m,
            /^ {2}~ kube_vip_address: 192\.168\.122\.100 -> 192\.168\.122\.101$/m,
            /^ {2}~ loadbalancer_apiserver: \{"address":"192\.168\.122\.100","port":6443\} -> \{"address":"192\.168\.122\.101","port":6443\}$/m,
            /^Nodes: 0 added, 0 removed, 0 changed, 3 unchanged$/m,
        ],
    },
    {
        name: "change a group_var",
        before: baseCluster(),
        after: { ...baseCluster(), groupVars: { ntp_enabled: true, dns_mode: "coredns", etcd_deployment_type: "host" } },
        code: 2,
        text: [
            /^Playbooks that would run, in order:\n {2}1\. cluster\.yml +\(cluster replaced\)\n {2}first: before cluster\.yml, when a cluster\.yml started from this run dir never completed: the recovery check reads the cluster [^\n]*Control planes checked: [^\n]*\n\n/m,
            /^Variables \(group_vars, inventory vars\): 1 added, 0 removed, 1 changed$/m,
            /^ {2}~ ntp_enabled: false -> true$/m,
            /^ {2}\+ etcd_deployment_type: host$/m,
        ],
        absent: [/dns_mode/, /API ENDPOINT MOVES/, /^ {2}[-+~] kubenode/m],
    },
    {
        // issue 15: group_vars/all/offline.yml is a new group_vars directory; it feeds cluster.yml.
        name: "switch to an offline mirror",
        before: libvirtRaw(),
        after: { ...libvirtRaw(), offline: { filesRepo: "http://10.0.0.5:8080", registry: "10.0.0.5:5000", registryInsecure: true, checksums: { kubeadm: "a".repeat(64) } } },
        code: 2,
        text: [
            /^Playbooks that would run, in order:\n {2}1\. cluster\.yml +\(cluster replaced\)\n {2}first: before cluster\.yml, when a cluster\.yml started from this run dir never completed: the recovery check reads the cluster [^\n]*Control planes checked: [^\n]*\n\n/m,
            /^Variables \(group_vars, inventory vars\): 16 added, 0 removed, 0 changed$/m,
            /^ {2}\+ files_repo \(all\): http:\/\/10\.0\.0\.5:8080$/m,
            /^ {2}\+ registry_host \(all\): 10\.0\.0\.5:5000$/m,
            /^ {2}\+ github_url \(all\): \{\{ files_repo \}\}\/github\.com$/m,
            /^ {2}\+ kube_image_repo \(all\): \{\{ registry_host \}\}$/m,
            /^ {2}\+ kubeadm_binary_checksum \(all\): sha256:a{64}$/m,
            /^ {2}\+ containerd_registries_mirrors \(all\): \[\{"mirrors":\[\{"capabilities":\["pull","resolve"\],"host":"http:\/\/10\.0\.0\.5:5000","skip_verify":true\}\],"prefix":"10\.0\.0\.5:5000"\}\]$/m,
        ],
        // Shown once, as the variables it renders, not again among the other settings.
        absent: [/Other settings/, /API ENDPOINT MOVES/, /upgrade-cluster/, /^ {2}[-+~] kubenode/m],
    },
    {
        name: "change kubeVersion",
        before: baseCluster(),
        after: { ...baseCluster(), kubeVersion: "1.35.4" },
        code: 2,
        text: [
            /^Playbooks that would run, in order:\n {2}1\. upgrade-cluster\.yml +\(upgrade replaced\)\n\n/m,
            /^Variables \(group_vars, inventory vars\): 0 added, 0 removed, 1 changed$/m,
            /^ {2}~ kube_version: 1\.34\.3 -> 1\.35\.4$/m,
        ],
        absent: [/API ENDPOINT MOVES/, /^ {2}\d\. cluster\.yml/m, /!!!/],
    },
    {
        name: "hcloud: the public interface on, the kubeconfig switches to it",
        before: hcloudRaw(),
        after: hcloudPublic(),
        code: 2,
        text: [
            /^!!! API CLIENT ENDPOINT SWITCHES: hcloud\.apiEndpoint private -> public, kubeconfig server https:\/\/10\.0\.1\.5:6443 -> https:\/\/<known after create: public IPv4 of the API Load Balancer>:6443\. .*REPLACES EVERY KUBERNETES RESOURCE.*The cluster itself stays on the VIP 10\.0\.1\.5\. A public API is reachable by anyone/m,
            /^Playbooks that would run, in order:\n {2}1\. cluster\.yml +\(cluster replaced\)\n {2}first: before cluster\.yml, when a cluster\.yml started from this run dir never completed: the recovery check reads the cluster [^\n]*Control planes checked: [^\n]*\n\n/m,
            /^API endpoint: CHANGED \(CLIENT ENDPOINT SWITCHES\)$/m,
            /^ {2}clients: {2}private https:\/\/10\.0\.1\.5:6443 -> public https:\/\/<known after create: public IPv4 of the API Load Balancer>:6443$/m,
            /^ {2}~ supplementary_addresses_in_ssl_keys: \["10\.0\.1\.5"\] -> \["10\.0\.1\.5","<known after create: public IPv4 of the API Load Balancer>","<known after create: public IPv6 of the API Load Balancer>"\]$/m,
            /^ {2}~ hcloud\.apiEndpoint: private -> public$/m,
        ],
        absent: [/API ENDPOINT MOVES/, /loadbalancer_apiserver/],
    },
    {
        name: "hcloud: the kubeconfig back on the private VIP, the interface stays on",
        before: hcloudPublic(),
        after: hcloudPublic("private"),
        code: 0,
        text: [
            /^!!! API CLIENT ENDPOINT SWITCHES: hcloud\.apiEndpoint public -> private, kubeconfig server https:\/\/<known after create: public IPv4 of the API Load Balancer>:6443 -> https:\/\/10\.0\.1\.5:6443\. .*REPLACES EVERY KUBERNETES RESOURCE/m,
            /^Playbooks: none would run\.$/m,
            /^Variables \(group_vars, inventory vars\): unchanged$/m,
        ],
        absent: [/reachable by anyone/, /API ENDPOINT MOVES/],
    },
];

describe("npm run plan over two commits (the real CLI)", () => {
    it.each(scenarios)("$name: exit $code", ({ before, after, code, text, absent }) => {
        const repo = StackRepo.pr(stackYaml(before), stackYaml(after));
        const res = cli(["--stack", "dev", "--dir", repo.dir]);
        // A refused change is also said on stderr, naming the stack.
        expect(res.stderr).toMatch(code === 1 ? /^plan: stack dev: the Kubespray component refuses this change: / : /^$/);
        expect(res.status).toBe(code);
        expect(res.stdout).toMatch(/^kubespray-ha plan for stack "dev": merge-base of HEAD and main \([0-9a-f]{7}\) -> working tree$/m);
        for (const re of text) expect(res.stdout).toMatch(re);
        for (const re of absent ?? []) expect(res.stdout).not.toMatch(re);
    });

    it("no change (the stack file only reformatted): exit 0, nothing runs", () => {
        const raw = baseCluster();
        const reordered = Object.fromEntries(Object.entries(raw).reverse());
        const repo = StackRepo.pr(stackYaml(raw), "# reformatted, same config\n" + stringify({ config: { [CLUSTER]: reordered } }, { indent: 4 }));
        expect(repo.git("diff", "--stat", "main", "change")).toMatch(/Pulumi\.dev\.yaml/);
        const res = cli(["--stack", "dev", "--dir", repo.dir]);
        expect(res.stderr).toBe("");
        expect(res.status).toBe(0);
        expect(res.stdout).toMatch(/^Playbooks: none would run\.$/m);
        expect(res.stdout).toMatch(/^Nodes: 0 added, 0 removed, 0 changed, 3 unchanged$/m);
        expect(res.stdout).toMatch(/^API endpoint: https:\/\/192\.168\.122\.100:6443 \(VIP 192\.168\.122\.100 via kube-vip ARP\), unchanged$/m);
        expect(res.stdout).toMatch(/^Variables \(group_vars, inventory vars\): unchanged$/m);
        expect(res.stdout).not.toMatch(/Other settings|Secrets/);
    });

    it("a changed secure: value shows as [secret changed], never its ciphertext", () => {
        const repo = StackRepo.pr(
            stackYaml(libvirtRaw(), { "kubespray-ha:sshPrivateKey": { secure: KEY_A } }),
            stackYaml(libvirtRaw(), { "kubespray-ha:sshPrivateKey": { secure: KEY_B } }),
        );
        const res = cli(["--stack", "dev", "--dir", repo.dir]);
        expect(res.status).toBe(0);
        expect(res.stdout).toMatch(/^Secrets \(compared by ciphertext, never decrypted\):\n {2}~ kubespray-ha:sshPrivateKey: \[secret changed\]$/m);
        for (const format of ["text", "md", "json"]) {
            const out = inProcess(["--stack", "dev", "--dir", repo.dir, "--format", format]);
            expect(out.stdout).toContain(SECRET_CHANGED);
            expect(out.stdout).not.toMatch(/AAAA|BBBB|ciphertextOf/);
        }
    });

    it("an unchanged secure: value shows nothing", () => {
        const extra = { "kubespray-ha:sshPrivateKey": { secure: KEY_A } };
        const repo = StackRepo.pr(stackYaml(libvirtRaw(), extra), stackYaml(withWorker(), extra));
        const res = cli(["--stack", "dev", "--dir", repo.dir]);
        expect(res.stdout).not.toMatch(/secret|AAAA/i);
    });

    it("a stack absent at the base is a new cluster", () => {
        const repo = StackRepo.pr(undefined, stackYaml(libvirtRaw()));
        const res = cli(["--stack", "dev", "--dir", repo.dir]);
        expect(res.stderr).toBe("");
        expect(res.status).toBe(2);
        expect(res.stdout).toMatch(/^kubespray-ha plan for stack "dev": \(stack absent\) -> working tree$/m);
        expect(res.stdout).toMatch(/^NEW CLUSTER: the stack does not exist at the base ref\.$/m);
        expect(res.stdout).toMatch(/^Playbooks that would run, in order:\n {2}1\. cluster\.yml +\(cluster created\)\n {2}not run: upgrade: cluster\.yml deployed kube_version kubespray-default in this deployment\n/m);
        expect(res.stdout).toMatch(/^Nodes: 3 added, 0 removed, 0 changed, 0 unchanged$/m);
        expect(res.stdout).toMatch(/^ {2}\+ kube_vip_address: 192\.168\.122\.100$/m);
        expect(res.stdout).not.toMatch(/API ENDPOINT MOVES/);
    });

    it("exits 1 when the Kubespray component would refuse the change (workers becoming control plane)", () => {
        const before = withWorker();
        before.nodes.push({ name: "kubenode5", ip: "192.168.122.25", roles: ["worker"] });
        const after = withWorker();
        after.nodes.push({ name: "kubenode5", ip: "192.168.122.25", roles: ["worker"] });
        for (const n of after.nodes.slice(3)) n.roles = ["control-plane", "etcd", "worker"];
        const repo = StackRepo.pr(stackYaml(before), stackYaml(after));
        const res = cli(["--stack", "dev", "--dir", repo.dir]);
        expect(res.status).toBe(1);
        expect(res.stdout).toMatch(/^!!! REFUSED: `pulumi up` would fail before running anything: node kubenode4 changes between worker-only and control-plane\/etcd roles/m);
        expect(res.stdout).toMatch(/^ {2}~ kubenode4 +roles: worker -> control-plane, etcd, worker$/m);
        expect(res.stderr).toMatch(/^plan: stack dev: the Kubespray component refuses this change: node kubenode4 changes/m);
    });

    it("exits 1 with the ConfigError when the working tree's config is bad", () => {
        const bad = { ...libvirtRaw(), vip: { address: "192.168.122.1", mode: "arp" } };
        const repo = StackRepo.pr(stackYaml(libvirtRaw()), stackYaml(bad));
        const res = cli(["--stack", "dev", "--dir", repo.dir]);
        expect(res.status).toBe(1);
        expect(res.stdout).toBe("");
        expect(res.stderr).toMatch(/^plan: stack dev at working tree: invalid stack config kubespray-ha:cluster:\n {2}- vip\.address: 192\.168\.122\.1 is the gateway/m);
    });

    it("exits 1 with the ConfigError when the base's config is bad", () => {
        const bad = libvirtRaw();
        bad.nodes.pop();
        const repo = StackRepo.pr(stackYaml(bad), stackYaml(libvirtRaw()));
        const res = cli(["--stack", "dev", "--dir", repo.dir]);
        expect(res.status).toBe(1);
        expect(res.stderr).toMatch(/^plan: stack dev at merge-base of HEAD and main \([0-9a-f]{7}\): invalid stack config kubespray-ha:cluster:\n {2}- nodes: 2 nodes have the role control-plane/m);
    });
});

describe("plan: refs and arguments", () => {
    it("reads an explicit --base, and the working tree's uncommitted changes", () => {
        const repo = new StackRepo();
        const first = repo.write(stackYaml(libvirtRaw())).commit("first");
        repo.write(stackYaml(withWorker())).commit("second, on main");
        // Not committed: the plan reads the working tree.
        const raw = withWorker();
        raw.nodes[3].ip = "192.168.122.34";
        repo.write(stackYaml(raw));

        const vsHead = inProcess(["--stack", "dev", "--dir", repo.dir]);
        expect(vsHead.code).toBe(2);
        expect(vsHead.stdout).toMatch(/^ {2}~ kubenode4 +ip: 192\.168\.122\.24 -> 192\.168\.122\.34$/m);
        // A node whose trigger changes is replaced: removed first (deleteBeforeReplace), then scaled again.
        // On libvirt a new IP is a new cloud-init seed, so a new disk too: the machine is rebuilt.
        expect(vsHead.stdout).toMatch(
            /^ {2}1\. remove-node\.yml -e node=kubenode4 -e skip_confirmation=true +\(node-kubenode4 replaced: delete of the old one, machine replaced: kubenode4\)\n {2}2\. playbooks\/facts\.yml +\(node-kubenode4 replaced, machine replaced: kubenode4\)\n {2}3\. scale\.yml --limit=kubenode4 /m,
        );
        expect(vsHead.stdout).toMatch(/^ {2}rebuilt: kubenode4 \(cloud-init network-config \(nodes\[\]\.ip, interface, network\) changed\)$/m);

        const vsFirst = inProcess(["--stack", "dev", "--dir", repo.dir, "--base", first.slice(0, 10)]);
        expect(vsFirst.stdout).toMatch(new RegExp(`for stack "dev": ${first.slice(0, 7)} -> working tree`));
        expect(vsFirst.stdout).toMatch(/^ {2}\+ kubenode4 +192\.168\.122\.34 +\[worker\]$/m);
    });

    it("falls back to HEAD when there is no main branch", () => {
        const repo = new StackRepo("trunk");
        repo.write(stackYaml(libvirtRaw())).commit("only");
        const res = inProcess(["--stack", "dev", "--dir", repo.dir]);
        expect(res.code).toBe(0);
        expect(res.stdout).toMatch(/: HEAD \([0-9a-f]{7}; no main branch\) -> working tree/);
    });

    it("works in a project that is a subdirectory of the repository", () => {
        const repo = new StackRepo();
        const sub = path.join(repo.dir, "infra");
        fs.mkdirSync(sub);
        fs.renameSync(path.join(repo.dir, "Pulumi.yaml"), path.join(sub, "Pulumi.yaml"));
        fs.writeFileSync(path.join(sub, "Pulumi.dev.yaml"), stackYaml(libvirtRaw()));
        repo.commit("base");
        repo.git("checkout", "-q", "-b", "change");
        fs.writeFileSync(path.join(sub, "Pulumi.dev.yaml"), stackYaml(withWorker()));
        repo.commit("change");
        const res = inProcess(["--stack", "dev", "--dir", sub]);
        expect(res.stderr).toBe("");
        expect(res.stdout).toMatch(/^ {2}\+ kubenode4 /m);
    });

    it("reports a stack removed by the change, exit 0", () => {
        const repo = StackRepo.pr(stackYaml(libvirtRaw()), "");
        fs.rmSync(path.join(repo.dir, "Pulumi.dev.yaml"));
        const res = inProcess(["--stack", "dev", "--dir", repo.dir]);
        expect(res.code).toBe(0);
        expect(res.stdout).toMatch(/Stack dev is removed in this change/);
    });

    it.each([
        [["--stack", "nope"], /no stack file .*Pulumi\.nope\.yaml/],
        [["--stack", "dev", "--base", "no-such-ref"], /--base no-such-ref: no such commit/],
        [["--stack", "dev", "--format", "html"], /--format must be one of text, md, json/],
        [["--stack", "../dev"], /is not a stack name/],
        [[], /--stack is required/],
        [["--stack", "dev", "--verbose"], /unknown argument --verbose/],
    ])("exits 1 on %j", (args, message) => {
        const repo = StackRepo.pr(stackYaml(libvirtRaw()), stackYaml(libvirtRaw()));
        const res = inProcess([...args, "--dir", repo.dir]);
        expect(res.code).toBe(1);
        expect(res.stderr).toMatch(message);
        expect(res.stdout).toBe("");
    });

    it("exits 1 outside a git repository", () => {
        const dir = tmp("kha-plan-nogit-");
        fs.writeFileSync(path.join(dir, "Pulumi.yaml"), projectYaml);
        fs.writeFileSync(path.join(dir, "Pulumi.dev.yaml"), stackYaml(libvirtRaw()));
        const res = inProcess(["--stack", "dev", "--dir", dir]);
        expect(res.code).toBe(1);
        expect(res.stderr).toMatch(/not inside a git work tree/);
    });
});

describe("plan of a Kubernetes upgrade", () => {
    it("states from, to and every step of upgrade-cluster.yml, the drain included", () => {
        const repo = StackRepo.pr(stackYaml(baseCluster()), stackYaml({ ...baseCluster(), kubeVersion: "1.35.4" }));
        const res = inProcess(["--stack", "dev", "--dir", repo.dir]);
        expect(res.code).toBe(2);
        expect(res.stdout).toMatch(/^ {2}1\. upgrade-cluster\.yml +\(upgrade replaced\)$/m);
        expect(res.stdout).toMatch(/^Kubernetes 1\.34\.3 -> 1\.35\.4: upgrade-cluster\.yml to Kubernetes 1\.35\.4 \(Kubespray docs\/operations\/upgrades\.md, "Graceful upgrade"\):$/m);
        expect(res.stdout).toMatch(/^ {2}3\. control planes one at a time \(serial: 1\), in inventory order: kubenode1 -> kubenode2 -> kubenode3; each cordoned, drained \(kubectl drain --grace-period 300 --timeout 360s\), upgraded, uncordoned/m);
        const md = inProcess(["--stack", "dev", "--dir", repo.dir, "--format", "md"]).stdout;
        expect(md).toMatch(/^\*\*Kubernetes `1\.34\.3` → `1\.35\.4`\*\*: upgrade-cluster\.yml to Kubernetes 1\.35\.4/m);
        expect(md).toMatch(/^- 2\. etcd on kubenode1, kubenode2, kubenode3 \(install_etcd\.yml\): backed up/m);
    });
});

describe("plan --format md and json", () => {
    const repo = StackRepo.pr(
        stackYaml(baseCluster()),
        stackYaml({ ...withWorker(), kubeVersion: "1.35.4", vip: { address: "192.168.122.101", mode: "arp" }, groupVars: { ntp_enabled: true, dns_mode: "coredns" } }),
    );

    it("Markdown: a caution block for the moved endpoint, tables for nodes, endpoint and variables", () => {
        const res = inProcess(["--stack", "dev", "--dir", repo.dir, "--format", "md"]);
        // kubeVersion changes with other settings and a new worker: refused (tests/upgrade.test.ts), the rest still shown.
        expect(res.code).toBe(1);
        const md = res.stdout;
        expect(md).toMatch(/^### kubespray-ha plan: stack `dev`$/m);
        expect(md).toMatch(/^> \[!CAUTION\]\n> API ENDPOINT MOVES: VIP 192\.168\.122\.100 -> 192\.168\.122\.101/m);
        expect(md).toMatch(/^\*\*Playbooks that would run, in order \(1\):\*\*\n\n1\. `cluster\.yml` \(cluster replaced\)\n\n- not run: upgrade: cluster\.yml deployed kube_version 1\.35\.4 in this deployment\n- not run: node-kubenode4: kubenode4 was set up by cluster\.yml in this deployment\n\n- first: before cluster\.yml, when a cluster\.yml started from this run dir never completed: the recovery check/m);
        expect(md).toMatch(/^> \[!CAUTION\]\n> \*\*Refused\*\*: `pulumi up` would fail before running anything: kubeVersion: 1\.34\.3 -> 1\.35\.4 comes with other changes that run Kubespray: cluster settings \(cluster\.yml\), worker kubenode4 \(create\)\. .*Split the change/m);
        expect(md).toMatch(/^\| added \| `kubenode4` \| `192\.168\.122\.24` \| worker \| {2}\|$/m);
        expect(md).toMatch(/^\| VIP \| `192\.168\.122\.100` \| `192\.168\.122\.101` \*\*MOVED\*\* \|$/m);
        expect(md).toMatch(/^\| changed \| `kube_version` \| `k8s_cluster` \| `1\.34\.3` \| `1\.35\.4` \|$/m);
        expect(md).toMatch(/^\| changed \| `ntp_enabled` \| `k8s_cluster` \| `false` \| `true` \|$/m);
        expect(md).toMatch(/^\| changed \| `loadbalancer_apiserver` \| `k8s_cluster` \| `\{"address":"192\.168\.122\.100","port":6443\}` \|/m);
    });

    it("JSON: the same plan for tools", () => {
        const res = inProcess(["--stack", "dev", "--dir", repo.dir, "--format", "json"]);
        expect(res.code).toBe(1);
        const plan = JSON.parse(res.stdout);
        expect(plan).toMatchObject({ stack: "dev", newStack: false, exitCode: 1, after: "working tree" });
        expect(plan.playbooks.runs).toEqual([{ specId: "cluster", phase: "create", op: "replace", playbook: "cluster.yml", args: ["cluster.yml"], command: "cluster.yml" }]);
        expect(plan.playbooks.errors).toEqual([
            expect.stringMatching(/^vip\.address: 192\.168\.122\.100 -> 192\.168\.122\.101 on a deployed cluster: /),
            expect.stringMatching(/^kubeVersion: 1\.34\.3 -> 1\.35\.4 comes with other changes that run Kubespray/),
        ]);
        expect(plan.nodes.added).toEqual([{ name: "kubenode4", ip: "192.168.122.24", roles: ["worker"], sshAddress: "192.168.122.24", settings: {} }]);
        expect(plan.endpoint).toMatchObject({ moved: true, before: { vip: "192.168.122.100" }, after: { vip: "192.168.122.101", apiServerUrl: "https://192.168.122.101:6443" } });
        expect(plan.vars).toContainEqual({ key: "kube_version", kind: "changed", before: "1.34.3", after: "1.35.4", group: "k8s_cluster", file: "group_vars/k8s_cluster/k8s-cluster.yml" });
        expect(plan.vars).toContainEqual({ key: "ntp_enabled", kind: "changed", before: false, after: true, group: "k8s_cluster", file: "group_vars/k8s_cluster/zz-extra.yml" });
    });
});

describe("plan logic (pure)", () => {
    const side = (cluster: unknown, extra: Record<string, unknown> = {}, label = "x") => loadPlanSide(projectYaml, stackYaml(cluster, extra), "dev", label);

    it("redacts secure: values inside groupVars and compares them by ciphertext", () => {
        const a = side({ ...libvirtRaw(), groupVars: { registry_password: { secure: KEY_A }, plain: 1 } });
        const b = side({ ...libvirtRaw(), groupVars: { registry_password: { secure: KEY_B }, plain: 1 } });
        expect(diffVars(a, b)).toEqual([{ key: "registry_password", kind: "changed", secretChanged: true, group: "k8s_cluster", file: "group_vars/k8s_cluster/zz-extra.yml" }]);
        expect(diffVars(a, a)).toEqual([]);
        const added = diffVars(side(libvirtRaw()), b);
        expect(JSON.stringify(added)).not.toMatch(/BBBB/);
        expect(added).toContainEqual(expect.objectContaining({ key: "registry_password", kind: "added", after: "[secret]" }));
    });

    it("reports settings outside the inventory (e.g. libvirt sizing) and per-node settings", () => {
        const before = side(libvirtRaw());
        const raw = libvirtRaw();
        raw.libvirt = { memoryMiB: 8192 };
        raw.nodes[0].vcpus = 4;
        const plan = planStack("dev", before, side(raw), predictPlaybooks(before, side(raw)));
        expect(plan.settings).toEqual([{ key: "libvirt.memoryMiB", kind: "changed", before: 4096, after: 8192 }]);
        expect(plan.nodes.changed).toEqual([{ name: "kubenode1", changes: [{ key: "vcpus", kind: "added", after: 4 }] }]);
    });

    it("flags a picked VIP that moves because the nodes changed", () => {
        const raw = libvirtRaw();
        delete raw.vip.address;
        delete raw.network.dhcpRange;
        const moved = libvirtRaw();
        delete moved.vip.address;
        delete moved.network.dhcpRange;
        moved.nodes.push({ name: "kubenode4", ip: "192.168.122.254", roles: ["worker"] });
        const before = side(raw);
        const after = side(moved);
        const plan = planStack("dev", before, after, predictPlaybooks(before, after));
        expect(plan.endpoint.moved).toBe(true);
        expect(plan.warnings[0]).toMatch(/API ENDPOINT MOVES: VIP 192\.168\.122\.254 -> .*set vip\.address to pin it/);
    });

    it("Markdown: a caution block and a kubeconfig server row when the client endpoint switches", () => {
        const before = side(hcloudRaw());
        const after = side(hcloudPublic());
        const plan = planStack("dev", before, after, predictPlaybooks(before, after));
        expect(plan.endpoint).toMatchObject({ moved: false, clientSwitched: true, before: { clientEndpoint: "private" }, after: { clientEndpoint: "public", clientUrl: PUBLIC_URL } });
        const md = formatMarkdown(plan);
        expect(md).toMatch(/^> \[!CAUTION\]\n> API CLIENT ENDPOINT SWITCHES: hcloud\.apiEndpoint private -> public/m);
        expect(md).toMatch(/^\| kubeconfig server \| private `https:\/\/10\.0\.1\.5:6443` \| public `https:\/\/<known after create: public IPv4 of the API Load Balancer>:6443` \*\*SWITCHED\*\* \|$/m);
    });

    it("says which clients follow a moved VIP: on the public endpoint the kubeconfig stays", () => {
        const moved = hcloudPublic();
        moved.vip.address = "10.0.1.6";
        const before = side(hcloudPublic());
        const plan = planStack("dev", before, side(moved), predictPlaybooks(before, side(moved)));
        expect(plan.endpoint).toMatchObject({ moved: true, clientSwitched: false });
        expect(plan.warnings[0]).toMatch(/^API ENDPOINT MOVES: VIP 10\.0\.1\.5 -> 10\.0\.1\.6, .*The kubeconfig and the k8s provider stay on the Load Balancer's public IP, but every kubelet and kube-proxy follows the VIP/);
        expect(plan.warnings.join("\n")).not.toMatch(/REPLACES EVERY/);
        const text = planStack("dev", side(hcloudRaw()), side(hcloudRaw()), predictPlaybooks(side(hcloudRaw()), side(hcloudRaw())));
        expect(text.warnings).toEqual([]);
    });
});

// Rebuilt machines (issue 12.3): what replaces a node's resources comes from components/nodes/identity.ts,
// the functions the node components build their names, triggers and protect from; what then runs from
// predictRuns with those machines replaced, as the Kubespray commands key on the machines' resource ids.
describe("npm run plan: nodes rebuilt by the change (the real CLI)", () => {
    const OTHER_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOtherKeyOtherKeyOtherKeyOtherKeyOtherKeyOth other@x";
    const open = (raw: any) => ({ ...raw, protectEtcdMembers: false });
    const worker = () => open(withWorker());

    const rebuilds: Scenario[] = [
        {
            name: "libvirt: a new SSH public key is a new cloud-init seed, so a new disk on every node: cluster.yml",
            before: open(libvirtRaw()),
            after: open({ ...libvirtRaw(), ssh: { ...libvirtRaw().ssh, publicKey: OTHER_KEY } }),
            code: 2,
            text: [
                /^Playbooks that would run, in order:\n {2}1\. cluster\.yml +\(cluster replaced, machine replaced: kubenode1, kubenode2, kubenode3\)\n {2}first: before cluster\.yml, when a cluster\.yml started from this run dir never completed: the recovery check reads the cluster [^\n]*Control planes checked: [^\n]*\n\n/m,
                /^Machines replaced: 3 rebuilt$/m,
                ...[1, 2, 3].map((i) => new RegExp(`^ {2}rebuilt: kubenode${i} \\(cloud-init user-data \\(ssh\\.user, SSH public key\\) changed\\)$`, "m")),
                /^!!! ETCD MEMBERS REBUILT BLANK: kubenode1, kubenode2, kubenode3\. .*a new, empty cluster\.$/m,
            ],
            absent: [/REFUSED/],
        },
        {
            name: "libvirt: a new base image rebuilds every node: the worker's remove-node.yml on its old VM first, then cluster.yml",
            before: worker(),
            after: { ...worker(), libvirt: { baseImage: "/var/lib/libvirt/images/debian-13-genericcloud-amd64.qcow2" } },
            code: 2,
            text: [
                /^Playbooks that would run, in order:\n {2}1\. remove-node\.yml -e node=kubenode4 -e skip_confirmation=true +\(node-kubenode4 replaced: delete of the old one, machine replaced: kubenode4\)\n {2}2\. cluster\.yml +\(cluster replaced, machine replaced: kubenode1, kubenode2, kubenode3\)\n {2}not run: node-kubenode4: kubenode4 was set up by cluster\.yml in this deployment\n/m,
                /^Machines replaced: 4 rebuilt$/m,
                /^ {2}rebuilt: kubenode4 \(libvirt\.baseImage: \/var\/lib\/libvirt\/images\/debian-12-genericcloud-amd64\.qcow2 -> \/var\/lib\/libvirt\/images\/debian-13-genericcloud-amd64\.qcow2\)$/m,
            ],
        },
        {
            name: "libvirt: a worker's disk size rebuilds that worker only: remove-node.yml, then facts.yml and scale.yml (etcd members stay protected)",
            before: withWorker(),
            after: (() => {
                const raw = withWorker();
                raw.nodes[3].diskGiB = 50;
                return raw;
            })(),
            code: 2,
            text: [
                /^Playbooks that would run, in order:\n {2}1\. remove-node\.yml -e node=kubenode4 -e skip_confirmation=true +\(node-kubenode4 replaced: delete of the old one, machine replaced: kubenode4\)\n {2}2\. playbooks\/facts\.yml +\(node-kubenode4 replaced, machine replaced: kubenode4\)\n {2}3\. scale\.yml --limit=kubenode4 +\(node-kubenode4 replaced, machine replaced: kubenode4\)\n\n/m,
                /^Machines replaced: 1 rebuilt\n {2}rebuilt: kubenode4 \(disk GiB \(libvirt\.diskGiB, nodes\[\]\.diskGiB\): 20 -> 50\)\n/m,
            ],
            absent: [/cluster\.yml/, /REFUSED/, /ETCD/],
        },
        {
            name: "the cluster name: every resource is new, the old ones go at the end (remove-node.yml of the old worker)",
            before: worker(),
            after: { ...worker(), name: "prod" },
            code: 2,
            text: [
                /^!!! CLUSTER RENAMED: name dev -> prod\. Every resource name changes/m,
                /^Playbooks that would run, in order:\n {2}1\. cluster\.yml +\(prod-kubespray-cluster created\)\n {2}2\. remove-node\.yml -e node=kubenode4 -e skip_confirmation=true +\(dev-kubespray-node-kubenode4 deleted\)\n/m,
                /^Machines replaced: 4 rebuilt$/m,
                /^ {2}rebuilt: kubenode1 \(new resource names: dev-kubenode1-disk -> prod-kubenode1-disk \(name\)\)$/m,
            ],
            absent: [/REFUSED/],
        },
        {
            name: "hcloud: a worker's location replaces its server: remove-node.yml, facts.yml, scale.yml",
            before: hcloudRaw(),
            after: (() => {
                const raw = hcloudRaw();
                raw.nodes[3].location = "fsn1";
                return raw;
            })(),
            code: 2,
            text: [
                /^Playbooks that would run, in order:\n {2}1\. remove-node\.yml -e node=worker1 -e skip_confirmation=true +\(node-worker1 replaced: delete of the old one, machine replaced: worker1\)\n {2}2\. playbooks\/facts\.yml +\(node-worker1 replaced, machine replaced: worker1\)\n {2}3\. scale\.yml --limit=worker1 /m,
                /^ {2}rebuilt: worker1 \(location \(hcloud\.location, nodes\[\]\.location\): nbg1 -> fsn1\)$/m,
            ],
            absent: [/cluster\.yml/, /worker2/],
        },
        {
            name: "hcloud: a control plane's location, unprotected in the same change: cluster.yml",
            before: hcloudRaw(),
            after: (() => {
                const raw = open(hcloudRaw());
                raw.nodes[0].location = "hel1";
                return raw;
            })(),
            code: 2,
            text: [
                /^Playbooks that would run, in order:\n {2}1\. cluster\.yml +\(cluster replaced, machine replaced: cp1\)\n/m,
                /^ {2}rebuilt: cp1 \(location \(hcloud\.location, nodes\[\]\.location\): nbg1 -> hel1\)$/m,
                /^!!! ETCD MEMBERS REBUILT BLANK: cp1\. .*Rebuild one etcd member per `up` at most\.$/m,
            ],
            absent: [/REFUSED/, /^ {2}\d\. remove-node/m],
        },
    ];

    it.each(rebuilds)("$name: exit $code", ({ before, after, code, text, absent }) => {
        const repo = StackRepo.pr(stackYaml(before), stackYaml(after));
        const res = cli(["--stack", "dev", "--dir", repo.dir]);
        // A refused change is also said on stderr, naming the stack.
        expect(res.stderr).toMatch(code === 1 ? /^plan: stack dev: the Kubespray component refuses this change: / : /^$/);
        expect(res.status).toBe(code);
        for (const re of text) expect(res.stdout).toMatch(re);
        for (const re of absent ?? []) expect(res.stdout).not.toMatch(re);
    });

    it("an etcd member is protected by default: Pulumi refuses to rebuild it, exit 1 naming the node and the key", () => {
        const repo = StackRepo.pr(stackYaml(libvirtRaw()), stackYaml({ ...libvirtRaw(), ssh: { ...libvirtRaw().ssh, publicKey: OTHER_KEY } }));
        const res = cli(["--stack", "dev", "--dir", repo.dir]);
        expect(res.status).toBe(1);
        expect(res.stdout).toMatch(/^!!! REFUSED: `pulumi up` would fail before running anything: kubenode1: Pulumi refuses to replace its protected dev-kubenode1-disk, dev-kubenode1-domain \(etcd member, protectEtcdMembers\)/m);
        expect(res.stdout).toMatch(/^ {2}rebuilt: kubenode1 \(cloud-init user-data .*\) REFUSED: protected$/m);
        expect(res.stderr).toMatch(/kubenode2: Pulumi refuses to replace its protected/);
    });

    it("a rename of a protected cluster is refused: the old etcd members would be deleted", () => {
        const res = inProcess(["--stack", "dev", "--dir", StackRepo.pr(stackYaml(libvirtRaw()), stackYaml({ ...libvirtRaw(), name: "prod" })).dir]);
        expect(res.code).toBe(1);
        expect(res.stdout).toMatch(/kubenode1: its resources get new names, so Pulumi deletes the old ones, which are protected \(dev-kubenode1-disk, dev-kubenode1-domain\): first `pulumi up` with protectEtcdMembers: false/);
    });

    it("libvirt.host (how the hypervisor is reached) rebuilds nothing: exit 0", () => {
        const moved = libvirtRaw();
        moved.libvirt = { host: { address: "hv.example", user: "virt", port: 2222 } };
        const res = cli(["--stack", "dev", "--dir", StackRepo.pr(stackYaml(libvirtRaw()), stackYaml(moved)).dir]);
        expect(res.status).toBe(0);
        expect(res.stdout).toMatch(/^Playbooks: none would run\.$/m);
        expect(res.stdout).not.toMatch(/Machines replaced|rebuilt|REFUSED/);
    });

    it("Markdown and JSON name the rebuilt node and why", () => {
        const after = withWorker();
        after.nodes[3].diskGiB = 50;
        const dir = StackRepo.pr(stackYaml(withWorker()), stackYaml(after)).dir;
        const md = inProcess(["--stack", "dev", "--dir", dir, "--format", "md"]);
        expect(md.code).toBe(2);
        expect(md.stdout).toMatch(/^\*\*Machines replaced: 1 rebuilt\*\*\n\n- rebuilt: `kubenode4` \(disk GiB/m);
        const json = JSON.parse(inProcess(["--stack", "dev", "--dir", dir, "--format", "json"]).stdout);
        expect(json.playbooks.machines).toEqual([
            { node: "kubenode4", kind: "rebuilt", roles: ["worker"], reasons: ["disk GiB (libvirt.diskGiB, nodes[].diskGiB): 20 -> 50"] },
        ]);
        expect(json.playbooks.runs.map((r: any) => [r.command, r.machinesReplaced])).toEqual([
            ["remove-node.yml -e node=kubenode4 -e skip_confirmation=true", ["kubenode4"]],
            ["playbooks/facts.yml", ["kubenode4"]],
            ["scale.yml --limit=kubenode4", ["kubenode4"]],
        ]);
    });
});

describe("node identities (pure)", () => {
    const cfg = (raw: any) => loadPlanSide(projectYaml, stackYaml(raw), "dev", "x").config;
    const diff = (a: any, b: any) => diffIdentities(nodeIdentities(cfg(a)), nodeIdentities(cfg(b)));

    it("memory, vCPUs, a DHCP range, a server type or labels replace no machine", () => {
        const more = libvirtRaw();
        more.nodes[0].memoryMiB = 8192;
        more.nodes[1].vcpus = 4;
        more.network.dhcpRange = { start: "192.168.122.200", end: "192.168.122.250" };
        expect(diff(libvirtRaw(), more)).toEqual({ changes: [], replacedMachines: [], refusals: [] });
        const bigger = hcloudRaw();
        bigger.hcloud.serverType = "cx33";
        bigger.hcloud.labels = { team: "a" };
        bigger.hcloud.image = "debian-12";
        expect(diff(hcloudRaw(), bigger)).toEqual({ changes: [], replacedMachines: [], refusals: [] });
    });

    it("libvirt forward mode: a cold restart on the same disks, nothing runs again, refused while protected", () => {
        const nat = (raw: any) => ({ ...raw, libvirt: { forward: "nat" } });
        const free = diff({ ...libvirtRaw(), protectEtcdMembers: false }, nat({ ...libvirtRaw(), protectEtcdMembers: false }));
        expect(free.changes.map((c) => [c.node, c.kind])).toEqual([["kubenode1", "restarted"], ["kubenode2", "restarted"], ["kubenode3", "restarted"]]);
        expect(free.replacedMachines).toEqual([]);
        expect(diff(libvirtRaw(), nat(libvirtRaw())).refusals).toHaveLength(3);
    });

    it("baremetal: a new SSH port re-checks every node (same machines), never rebuilds one", () => {
        const moved = baremetalRaw();
        moved.ssh.port = 2222;
        const d = diff(baremetalRaw(), moved);
        expect(d.changes.map((c) => [c.node, c.kind, c.reasons])).toEqual(["node1", "node2", "node3"].map((n) => [n, "rechecked", ["ssh.port: 22 -> 2222"]]));
        expect(d.replacedMachines).toEqual(["node1", "node2", "node3"]);
        expect(nodeIdentities(cfg(baremetalRaw())).every((n) => n.protected.length === 0)).toBe(true);
    });

    it("removing protected etcd members is refused; unprotected first, it goes ahead", () => {
        expect(diff(hcloudRaw(5, 2), hcloudRaw(3, 2)).refusals).toEqual([
            expect.stringMatching(/^cp4 is removed, and Pulumi refuses to delete its protected dev-cp4: first `pulumi up` with protectEtcdMembers: false/),
            expect.stringMatching(/^cp5 is removed/),
        ]);
        expect(diff({ ...hcloudRaw(5, 2), protectEtcdMembers: false }, hcloudRaw(3, 2)).refusals).toEqual([]);
    });
});

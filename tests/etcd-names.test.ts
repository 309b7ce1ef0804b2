// etcd member names (issue 21.1): a member keeps its etcd_member_name across deployments, a new member gets
// a name no member had, a first deployment and a stack deployed with positional names see no change, and
// `npm run plan` derives the names the same way `pulumi up` does (components/kubespray/etcd-names.ts).
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { parse, stringify } from "yaml";
import { ClusterConfig, parseClusterConfig } from "../components/config/config";
import { nextEtcdMemberNames, recordedEtcdMemberNames, withEtcdMemberNames } from "../components/kubespray/etcd-names";
import { renderInventory, renderTimeMachines } from "../components/kubespray/inventory";
import { CommandSpec, inventoryArchive, kubesprayCommandSpecs, predictRuns, renderCommand } from "../components/kubespray/playbook";
import { formatMarkdown, loadPlanSide, planStack, predictPlaybooks } from "../components/review/plan";
import { runPlan } from "../scripts/plan";
import { libvirtRaw } from "./fixtures";
import { tempDirs } from "./helpers/tmp";

const root = path.join(__dirname, "..");
const projectYaml = fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8");
const stackYaml = (cluster: unknown) => stringify({ config: { "kubespray-ha:cluster": cluster } });
const tmp = tempDirs();

const configOf = (raw: any): ClusterConfig => parseClusterConfig(raw, { stack: "dev" });
const specsOf = (config: ClusterConfig): CommandSpec[] => kubesprayCommandSpecs(config, renderTimeMachines(config));

/** One `pulumi up` as run.ts does it: the config gets the names that follow the last deployment's specs. */
function up(raw: any, last: CommandSpec[] | undefined): { config: ClusterConfig; specs: CommandSpec[] } {
    const config = withEtcdMemberNames(configOf(raw), last);
    return { config, specs: specsOf(config) };
}

function etcdNamesInHosts(config: ClusterConfig): Record<string, string> {
    const hosts = parse(renderInventory(config, renderTimeMachines(config))["hosts.yaml"]).all.hosts as Record<string, { etcd_member_name?: string }>;
    return Object.fromEntries(Object.entries(hosts).flatMap(([n, h]) => (h.etcd_member_name ? [[n, h.etcd_member_name]] : [])));
}

/** The specs of a deployment made before the cluster spec recorded etcdMemberNames. */
function oldStyle(specs: CommandSpec[]): CommandSpec[] {
    return specs.map((s) => Object.fromEntries(Object.entries(s).filter(([k]) => k !== "etcdMemberNames")) as unknown as CommandSpec);
}

/** libvirtRaw() with kubenode1 replaced by kubenode9 (new name, new IP) in its place. */
function replacedFirst(): any {
    const raw = libvirtRaw();
    // The new control plane goes after the others (Kubespray does not support a new kube_control_plane[0]).
    raw.nodes.splice(0, 1);
    raw.nodes.push({ name: "kubenode9", ip: "192.168.122.29", roles: ["control-plane", "etcd", "worker"] });
    return raw;
}

/** Control planes kubenode1..3 (not etcd), the etcd-only nodes `etcd` and worker-only nodes `workers`. */
function withEtcdNodes(etcd: string[], workers: string[] = []): any {
    const raw = libvirtRaw();
    for (const n of raw.nodes) n.roles = ["control-plane", "worker"];
    const ip = (name: string) => `192.168.122.${40 + Number(name.slice(1))}`;
    raw.nodes.push(...etcd.map((name) => ({ name, ip: ip(name), roles: ["etcd"] })), ...workers.map((name) => ({ name, ip: ip(name), roles: ["worker"] })));
    return raw;
}

describe("etcd member names", () => {
    it("first deployment: etcd1..etcdN over the etcd nodes in config order, as before", () => {
        const { config, specs } = up(libvirtRaw(), undefined);
        expect(etcdNamesInHosts(config)).toEqual({ kubenode1: "etcd1", kubenode2: "etcd2", kubenode3: "etcd3" });
        expect(specs.find((s) => s.id === "cluster")!.etcdMemberNames).toEqual({
            members: { kubenode1: "etcd1", kubenode2: "etcd2", kubenode3: "etcd3" },
            retired: [],
        });
    });

    it("replacing the first etcd node keeps kubenode2=etcd2, kubenode3=etcd3 and gives kubenode9 a new name", () => {
        const first = up(libvirtRaw(), undefined);
        const next = up(replacedFirst(), first.specs);
        expect(etcdNamesInHosts(next.config)).toEqual({ kubenode9: "etcd4", kubenode2: "etcd2", kubenode3: "etcd3" });
        expect(next.specs.find((s) => s.id === "cluster")!.etcdMemberNames).toEqual({
            members: { kubenode9: "etcd4", kubenode2: "etcd2", kubenode3: "etcd3" },
            retired: ["etcd1"],
        });
        // The same after a deployment with positional names (no etcdMemberNames in its specs).
        expect(etcdNamesInHosts(up(replacedFirst(), oldStyle(first.specs)).config)).toEqual({ kubenode9: "etcd4", kubenode2: "etcd2", kubenode3: "etcd3" });
        // The names stay on the next up, and nothing runs.
        const again = up(replacedFirst(), next.specs);
        expect(etcdNamesInHosts(again.config)).toEqual(etcdNamesInHosts(next.config));
        expect(again.specs).toEqual(next.specs);
        expect(predictRuns(next.specs, again.specs).runs).toEqual([]);
    });

    it("removing then re-adding a node never reuses a name in use or retired", () => {
        const d1 = up(withEtcdNodes(["e1", "e2", "e3"]), undefined);
        expect(etcdNamesInHosts(d1.config)).toEqual({ e1: "etcd1", e2: "etcd2", e3: "etcd3" });
        const d2 = up(withEtcdNodes(["e1"]), d1.specs);
        expect(etcdNamesInHosts(d2.config)).toEqual({ e1: "etcd1" });
        expect(d2.specs.find((s) => s.id === "cluster")!.etcdMemberNames!.retired).toEqual(["etcd2", "etcd3"]);
        // e2 and e3 back: new members, so new names (etcd may still list the old etcd2 and etcd3).
        const d3 = up(withEtcdNodes(["e1", "e2", "e3"]), d2.specs);
        expect(etcdNamesInHosts(d3.config)).toEqual({ e1: "etcd1", e2: "etcd4", e3: "etcd5" });
        // e2 replaced by e4: e1 and e3 keep theirs.
        const d4 = up(withEtcdNodes(["e1", "e3", "e4"]), d3.specs);
        expect(etcdNamesInHosts(d4.config)).toEqual({ e1: "etcd1", e3: "etcd5", e4: "etcd6" });
        // A node that only leaves the etcd group (e3 becomes a worker) retires its name too; rejoining gives another.
        const d5 = up(withEtcdNodes(["e1", "e4", "e5"], ["e3"]), d4.specs);
        expect(etcdNamesInHosts(d5.config)).toEqual({ e1: "etcd1", e4: "etcd6", e5: "etcd7" });
        const d6 = up(withEtcdNodes(["e1", "e3", "e4"]), d5.specs);
        expect(etcdNamesInHosts(d6.config)).toEqual({ e1: "etcd1", e3: "etcd8", e4: "etcd6" });
        expect(d6.specs.find((s) => s.id === "cluster")!.etcdMemberNames!.retired).toEqual(["etcd2", "etcd3", "etcd4", "etcd5", "etcd7"]);
        const used = [d1, d2, d3, d4, d5, d6].map((d) => Object.values(etcdNamesInHosts(d.config)));
        for (let i = 1; i < used.length; i++) {
            const fresh = used[i].filter((n) => !used[i - 1].includes(n));
            expect(fresh.filter((n) => used.slice(0, i).flat().includes(n))).toEqual([]);
        }
    });

    it("numbers several new members in config order, above the highest name in use or retired", () => {
        expect(nextEtcdMemberNames(["a", "x", "b", "y"], { members: { a: "etcd2", b: "etcd7" }, retired: ["etcd9", "etcd1"] })).toEqual({
            members: { a: "etcd2", x: "etcd10", b: "etcd7", y: "etcd11" },
            retired: ["etcd1", "etcd9"],
        });
        expect(nextEtcdMemberNames(["a", "b"], undefined)).toEqual({ members: { a: "etcd1", b: "etcd2" }, retired: [] });
    });

    it("reads a deployment without etcdMemberNames as the positional names its hosts.yaml had", () => {
        const raw = libvirtRaw();
        raw.nodes[0].roles = ["control-plane", "worker"];
        raw.nodes.push({ name: "etcd9", ip: "192.168.122.41", roles: ["etcd"] });
        const specs = oldStyle(specsOf(configOf(raw)));
        expect(recordedEtcdMemberNames(specs)).toEqual({ members: { kubenode2: "etcd1", kubenode3: "etcd2", etcd9: "etcd3" }, retired: [] });
        expect(recordedEtcdMemberNames(undefined)).toBeUndefined();
        expect(recordedEtcdMemberNames("not specs")).toBeUndefined();
        const broken = specsOf(configOf(raw)).map((s) => (s.id === "cluster" ? { ...s, etcdMemberNames: { members: { a: 1 } } } : s));
        expect(() => recordedEtcdMemberNames(broken)).toThrow(/malformed etcdMemberNames/);
    });

    it("a stack deployed with positional names sees no change in any command input when nothing else changed", () => {
        for (const raw of [libvirtRaw(), replacedFirst()]) {
            const config = configOf(raw);
            const machines = renderTimeMachines(config);
            const fresh = kubesprayCommandSpecs(config, machines);
            const derived = withEtcdMemberNames(config, oldStyle(fresh));
            expect(derived.etcdMemberNames).toBeDefined();
            const followed = kubesprayCommandSpecs(derived, machines);
            expect(followed).toEqual(fresh);
            expect(followed.map((s) => renderCommand(derived, s))).toEqual(fresh.map((s) => renderCommand(config, s)));
            expect(inventoryArchive(derived, machines)).toBe(inventoryArchive(config, machines));
            expect(renderInventory(derived, machines)).toEqual(renderInventory(config, machines));
            const plan = predictRuns(oldStyle(fresh), followed);
            expect(plan.runs).toEqual([]);
            expect(plan.changes.every((c) => c.op === "same")).toBe(true);
        }
    });

    it("plan: the working tree's names follow the base ref's, as up derives them", () => {
        const before = loadPlanSide(projectYaml, stackYaml(libvirtRaw()), "dev", "base");
        const after = loadPlanSide(projectYaml, stackYaml(replacedFirst()), "dev", "working tree", before);
        const upConfig = up(replacedFirst(), specsOf(before.config)).config;
        expect(parse(after.files["hosts.yaml"])).toEqual(parse(renderInventory(upConfig, renderTimeMachines(upConfig))["hosts.yaml"]));
        expect(after.config.etcdMemberNames).toEqual(upConfig.etcdMemberNames);
        const plan = planStack("dev", before, after, predictPlaybooks(before, after));
        expect(plan.nodes.etcdMemberNames).toEqual({ members: { kubenode9: "etcd4", kubenode2: "etcd2", kubenode3: "etcd3" }, retired: ["etcd1"] });
        expect(plan.settings).toEqual([]);
        // kube_control_plane[0] leaves: docs/operations/nodes.md's steps, with their run-time conditions.
        expect(plan.playbooks.runs.map((r) => `${r.command}${r.when ? ` [${r.when}]` : ""}`)).toEqual([
            "cluster.yml [only if kubenode1 answers]",
            "remove-node.yml -e node=kubenode1 -e skip_confirmation=true [if kubenode1 does not answer: -e reset_nodes=false -e allow_ungraceful_removal=true]",
            "cluster.yml --limit=etcd,kube_control_plane -e ignore_assert_errors=yes",
            "upgrade-cluster.yml --limit=etcd,kube_control_plane -e ignore_assert_errors=yes",
        ]);
        // The plan states the same steps the cluster command's log announces, with the ping first.
        expect(plan.playbooks.membership?.[0]).toBe("control plane/etcd membership: kubenode1, kubenode2, kubenode3 / kubenode1, kubenode2, kubenode3 -> kubenode2, kubenode3, kubenode9 / kubenode2, kubenode3, kubenode9; the steps (Kubespray docs/operations/nodes.md):");
        expect(plan.playbooks.membership?.[1]).toMatch(/^0\. check that kubenode2, kubenode3 answer, and whether kubenode1 answers/);
        expect(formatMarkdown(plan)).toContain("**Control plane/etcd membership: kubenode1, kubenode2, kubenode3");
        expect(formatMarkdown(plan)).toContain("etcd member names: `kubenode2=etcd2, kubenode3=etcd3, kubenode9=etcd4; retired: etcd1`");
        // Unchanged etcd members: no names line, and nothing in "Other settings".
        const same = loadPlanSide(projectYaml, stackYaml(libvirtRaw()), "dev", "working tree", before);
        const quiet = planStack("dev", before, same, predictPlaybooks(before, same));
        expect(quiet.nodes.etcdMembersChanged).toBe(false);
        expect(formatMarkdown(quiet)).not.toMatch(/etcd member names/);
        expect(quiet.settings).toEqual([]);
        expect(quiet.playbooks.runs).toEqual([]);
    });

    it("plan CLI: lists the names when the etcd members change, and not otherwise", () => {
        const repo = tmp("kha-etcd-plan-");
        const git = (...args: string[]) =>
            execFileSync("git", ["-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false", ...args], { cwd: repo, encoding: "utf8" });
        git("init", "-q", "-b", "main");
        fs.writeFileSync(path.join(repo, "Pulumi.yaml"), projectYaml);
        // protectEtcdMembers off: the plan would (rightly) refuse deleting kubenode1's protected disk otherwise.
        const unprotected = (raw: any) => stackYaml({ ...raw, protectEtcdMembers: false });
        fs.writeFileSync(path.join(repo, "Pulumi.dev.yaml"), unprotected(libvirtRaw()));
        git("add", "-A");
        git("commit", "-q", "-m", "base");
        const plan = () => {
            let stdout = "";
            let stderr = "";
            const code = runPlan(["--stack", "dev", "--dir", repo, "--base", "main"], { cwd: root, stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
            return { code, stdout, stderr };
        };
        expect(plan().stdout).not.toMatch(/etcd member names/);
        fs.writeFileSync(path.join(repo, "Pulumi.dev.yaml"), unprotected(replacedFirst()));
        const res = plan();
        expect(res.stderr).toBe("");
        expect(res.stdout).toMatch(/^ {2}etcd member names: kubenode2=etcd2, kubenode3=etcd3, kubenode9=etcd4; retired: etcd1$/m);
        expect(res.stdout).toMatch(/^ {2}1\. cluster\.yml /m);
    });
});

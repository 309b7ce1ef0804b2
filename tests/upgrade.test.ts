// Version changes through `pulumi up` (components/kubespray/upgrade.ts, Kubespray docs/operations/upgrades.md):
// which ones the plan and the component refuse at preview, naming the config key, what runs for the ones
// they allow, and the steps of upgrade-cluster.yml as the plan and the in-up log state them.
import { parseClusterConfig } from "../components/config/config";
import { renderTimeMachines } from "../components/kubespray/inventory";
import { CommandSpec, kubesprayCommandSpecs, predictRuns, renderCommand } from "../components/kubespray/playbook";
import { batchSize, serialOf, upgradeSteps, versionChangeErrors } from "../components/kubespray/upgrade";
import { hcloudRaw } from "./fixtures";

const SHA_A = "a".repeat(64);
const SHA_B = "b".repeat(64);

function specsOf(raw: any): CommandSpec[] {
    const config = parseClusterConfig(raw, { stack: "test" });
    return kubesprayCommandSpecs(config, renderTimeMachines(config));
}
/** cp1..cp3 (control plane + etcd) and `workers` workers, with these top-level keys. */
const stack = (extra: Record<string, unknown> = {}, workers = 2) => ({ ...hcloudRaw(3, workers), ...extra });
const plan = (before: any, after: any) => predictRuns(specsOf(before), specsOf(after));
const runs = (p: ReturnType<typeof predictRuns>) => p.runs.map((r) => r.args.join(" "));

describe("version changes the preview refuses, each naming its config key", () => {
    it.each([
        ["a skipped minor", { kubeVersion: "1.33.0" }, { kubeVersion: "1.35.4" }, /^kubeVersion: 1\.33\.0 -> 1\.35\.4 skips Kubernetes 1\.34: .*Upgrade to a 1\.34\.x release first, then to 1\.35\.4\.$/],
        ["a downgrade", { kubeVersion: "1.35.4" }, { kubeVersion: "1.34.0" }, /^kubeVersion: 1\.35\.4 -> 1\.34\.0 is a downgrade; .*Keep kubeVersion: 1\.35\.4\.$/],
        ["a patch downgrade", { kubeVersion: "1.35.4" }, { kubeVersion: "1.35.2" }, /^kubeVersion: 1\.35\.4 -> 1\.35\.2 is a downgrade; .*same minor is a downgrade too/],
        ["kubeVersion removed", { kubeVersion: "1.33.0" }, {}, /^kubeVersion: removed \(the cluster runs 1\.33\.0\): the cluster would move to Kubespray v2\.31\.0's default 1\.35\.4 .*Keep kubeVersion: 1\.33\.0/],
    ])("%s", (_what, before, after, message) => {
        const p = plan(stack(before), stack(after));
        expect(p.errors.length).toBeGreaterThan(0);
        expect(p.errors.some((e) => message.test(e))).toBe(true);
        expect(p.upgrade).toBeUndefined();
    });

    it("kubeVersion removed is refused even when the default is the running version (pin it: the upgrade trigger would change)", () => {
        expect(plan(stack({ kubeVersion: "1.35.4" }), stack()).errors).toEqual([expect.stringMatching(/^kubeVersion: removed \(the cluster runs 1\.35\.4\)/)]);
    });

    it("kubesprayVersion v2.25.1 -> v2.31.0 with kubeVersion unset: the implicit Kubernetes move and the skipped Kubespray tags", () => {
        const errors = plan(stack({ kubesprayVersion: "v2.25.1" }), stack({ kubesprayVersion: "v2.31.0" })).errors;
        expect(errors).toEqual([
            expect.stringMatching(/^kubesprayVersion: v2\.25\.1 -> v2\.31\.0 while kubeVersion is unset would move Kubernetes from 1\.29\.10 \(v2\.25\.1's default\) to 1\.35\.4 \(v2\.31\.0's default\)\. Pin kubeVersion: 1\.29\.10 first/),
            expect.stringMatching(/^kubesprayVersion: v2\.25\.1 -> v2\.31\.0 skips Kubespray releases: Kubespray upgrades one tag at a time .*The next step is a v2\.26\.x tag, which this program does not support \(it supports v2\.25\.1, v2\.31\.0\)/),
            // The defaults are 6 minors apart: the implicit move would skip Kubernetes minors too.
            expect.stringMatching(/^kubeVersion: 1\.29\.10 -> 1\.35\.4 skips Kubernetes 1\.30: /),
        ]);
    });

    it("kubesprayVersion downgrade", () => {
        const errors = plan(stack({ kubesprayVersion: "v2.31.0", kubeVersion: "1.33.0" }), stack({ kubesprayVersion: "v2.25.1", kubeVersion: "v1.29.10" })).errors;
        expect(errors).toContainEqual(expect.stringMatching(/^kubesprayVersion: v2\.31\.0 -> v2\.25\.1 is a downgrade/));
        expect(errors).toContainEqual(expect.stringMatching(/^kubeVersion: 1\.33\.0 -> 1\.29\.10 is a downgrade/));
    });

    it("a version change with other Kubespray changes in the same up: refused, saying to split it", () => {
        const groupVar = plan(stack({ kubeVersion: "1.34.7" }), stack({ kubeVersion: "1.35.4", groupVars: { dns_mode: "coredns" } }));
        expect(groupVar.errors).toEqual([expect.stringMatching(
            /^kubeVersion: 1\.34\.7 -> 1\.35\.4 comes with other changes that run Kubespray: cluster settings \(cluster\.yml\)\. upgrade-cluster\.yml must run alone .*Split the change: first `up` the other changes with kubeVersion 1\.34\.7, then change kubeVersion \(and offline\.checksums\) alone\.$/,
        )]);
        const worker = plan(stack({ kubeVersion: "1.34.7" }, 2), stack({ kubeVersion: "1.35.4" }, 3));
        expect(worker.errors).toEqual([expect.stringMatching(/comes with other changes that run Kubespray: worker worker3 \(create\)\./)]);
        const removed = plan(stack({ kubeVersion: "1.34.7" }, 2), stack({ kubeVersion: "1.35.4" }, 1));
        expect(removed.errors).toEqual([expect.stringMatching(/comes with other changes that run Kubespray: worker worker2 \(delete\)\./)]);
    });

    it("at preview the component compares the last deployment's specs (real addresses) with its skeleton (addresses pending): a version change alone still passes", () => {
        // What KubesprayRun's gate compares (run.ts): the deployed specs against specs of pending addresses.
        const deployed = (extra: Record<string, unknown>) => {
            const config = parseClusterConfig(stack(extra), { stack: "test" });
            return kubesprayCommandSpecs(config, renderTimeMachines(config).map((m) => ({ ...m, sshAddress: `203.0.113.${m.ip.split(".")[3]}` })));
        };
        const skeleton = (extra: Record<string, unknown>) => {
            const config = parseClusterConfig(stack(extra), { stack: "test" });
            return kubesprayCommandSpecs(config, renderTimeMachines(config).map((m) => ({ ...m, sshAddress: "<pending>" })));
        };
        const offline = (kubeadm: string) => ({ offline: { filesRepo: "http://10.0.1.2:8080", registry: "10.0.1.2:5000", checksums: { kubeadm } } });
        const before = deployed({ kubeVersion: "1.34.2", ...offline(SHA_A) });
        // The triggers differ (addresses), the settings do not.
        expect(predictRuns(before, skeleton({ kubeVersion: "1.35.4", ...offline(SHA_B) })).errors).toEqual([]);
        expect(predictRuns(before, skeleton({ kubeVersion: "1.35.4", ...offline(SHA_B), groupVars: { dns_mode: "coredns" } })).errors).toEqual([
            expect.stringMatching(/^kubeVersion: 1\.34\.2 -> 1\.35\.4 comes with other changes that run Kubespray: cluster settings \(cluster\.yml\)\./),
        ]);
        // A deployment from before settingsKey: its triggers are compared as they are (what npm run plan does).
        const old = before.map((sp) => ({ ...sp, settingsKey: undefined }));
        expect(predictRuns(old, deployed({ kubeVersion: "1.35.4", ...offline(SHA_B) })).errors).toEqual([]);
    });

    it("the helper names keys and reasons for every rule, from versions alone", () => {
        expect(versionChangeErrors({ kubespray: "v2.31.0", kube: "1.34.7", pinned: true }, { kubespray: "v2.31.0", kube: "1.35.4", pinned: true })).toEqual([]);
        expect(versionChangeErrors({ kubespray: "v2.31.0", kube: "1.35.4", pinned: false }, { kubespray: "v2.31.0", kube: "1.35.4", pinned: true })).toEqual([]);
        // An older deployment recorded no versions: only its trigger's pinned kube_version is known.
        expect(versionChangeErrors({ kube: "1.33.0", pinned: true }, { kubespray: "v2.31.0", kube: "1.35.4", pinned: true })).toEqual([expect.stringMatching(/^kubeVersion: .* skips Kubernetes 1\.34/)]);
        expect(versionChangeErrors({}, { kubespray: "v2.31.0", kube: "1.35.4", pinned: false })).toEqual([]);
    });

    it("the same error reaches an older deployment's specs, which carry no versions (only the upgrade trigger)", () => {
        const old = specsOf(stack({ kubeVersion: "1.33.0" })).map((s) => {
            const copy: CommandSpec = { ...s };
            delete copy.versions;
            return copy;
        });
        expect(predictRuns(old, specsOf(stack({ kubeVersion: "1.35.4" }))).errors).toEqual([expect.stringMatching(/^kubeVersion: 1\.33\.0 -> 1\.35\.4 skips Kubernetes 1\.34/)]);
    });
});

describe("version changes that run upgrade-cluster.yml", () => {
    it("one minor up, alone: upgrade-cluster.yml only, and the plan states its steps, drains included", () => {
        const p = plan(stack({ kubeVersion: "1.34.7" }), stack({ kubeVersion: "1.35.4" }));
        expect(p.errors).toEqual([]);
        expect(runs(p)).toEqual(["upgrade-cluster.yml"]);
        expect(Object.fromEntries(p.changes.map((c) => [c.id, c.op]))).toMatchObject({ inventory: "update", cluster: "same", upgrade: "replace", kubeconfig: "replace", "node-worker1": "same" });
        expect(p.upgrade).toEqual({
            from: "1.34.7",
            to: "1.35.4",
            steps: [
                'upgrade-cluster.yml to Kubernetes 1.35.4 (Kubespray docs/operations/upgrades.md, "Graceful upgrade"):',
                "1. every node: preinstall checks, then the files and images of the new version downloaded (nothing restarted yet)",
                "2. etcd on cp1, cp2, cp3 (install_etcd.yml): backed up; restarted only if its binary or settings change (the etcd version Kubespray pins for Kubernetes 1.35), at most 1 member at a time (roles/etcd/handlers: throttle members // 2)",
                "3. control planes one at a time (serial: 1), in inventory order: cp1 -> cp2 -> cp3; each cordoned, drained (kubectl drain --grace-period 300 --timeout 360s), upgraded, uncordoned, with kubeadm upgrade (upgrade_cluster_setup: true)",
                "4. the network plugin on every node (serial 20%)",
                "5. worker-only nodes in batches of 1 (serial 20%): [worker1] -> [worker2]; each cordoned, drained (kubectl drain --grace-period 300 --timeout 360s), upgraded, uncordoned",
            ],
        });
    });

    it("a patch release: the same upgrade", () => {
        const p = plan(stack({ kubeVersion: "1.35.2" }), stack({ kubeVersion: "1.35.4" }));
        expect([p.errors, runs(p), p.upgrade?.from]).toEqual([[], ["upgrade-cluster.yml"], "1.35.2"]);
    });

    it("pinning the running default runs nothing", () => {
        const p = plan(stack(), stack({ kubeVersion: "1.35.4" }));
        expect(p.errors).toEqual([]);
        // The trigger moves from kubespray-default to the pinned version: Kubespray's upgrade is a no-op there, but it runs.
        expect(runs(p)).toEqual(["upgrade-cluster.yml"]);
        expect(p.upgrade).toMatchObject({ from: "1.35.4", to: "1.35.4" });
    });

    it("with offline.checksums changed in the same up: allowed (they move with the version), and still only upgrade-cluster.yml", () => {
        const offline = (kubeadm: string) => ({ offline: { filesRepo: "http://10.0.1.2:8080", registry: "10.0.1.2:5000", checksums: { kubeadm } } });
        const p = plan(stack({ kubeVersion: "1.34.7", ...offline(SHA_A) }), stack({ kubeVersion: "1.35.4", ...offline(SHA_B) }));
        expect(p.errors).toEqual([]);
        expect(runs(p)).toEqual(["upgrade-cluster.yml"]);
        expect(p.changes.find((c) => c.id === "cluster")!.op).toBe("same");
    });

    it("offline.checksums alone: the inventory is rewritten, nothing runs, and the plan says when they take effect", () => {
        const offline = (kubeadm: string) => ({ kubeVersion: "1.35.4", offline: { filesRepo: "http://10.0.1.2:8080", registry: "10.0.1.2:5000", checksums: { kubeadm } } });
        const p = plan(stack(offline(SHA_A)), stack(offline(SHA_B)));
        expect(runs(p)).toEqual([]);
        expect(p.changes.find((c) => c.id === "inventory")!.op).toBe("update");
        expect(p.warnings).toEqual([expect.stringMatching(/^only the inventory's offline\.checksums changed: .* no playbook runs\.$/)]);
    });

    it("the in-up log states the same steps before upgrade-cluster.yml runs", () => {
        const config = parseClusterConfig(stack({ kubeVersion: "1.35.4" }), { stack: "test" });
        const spec = kubesprayCommandSpecs(config, renderTimeMachines(config)).find((s) => s.id === "upgrade")!;
        const script = renderCommand(config, spec).create;
        const p = plan(stack({ kubeVersion: "1.34.7" }), stack({ kubeVersion: "1.35.4" }));
        for (const step of p.upgrade!.steps.slice(0, 5)) {
            expect(script).toContain(`kubespray-ha: ${step}`);
        }
        // Workers by count only: a worker added or removed must not change the upgrade command.
        expect(script).toContain("kubespray-ha: 5. worker-only nodes, if any, in batches of 20% of them (serial), in inventory order; each cordoned, drained");
        expect(script.indexOf(p.upgrade!.steps[0])).toBeLessThan(script.indexOf("kha_playbook upgrade-cluster.yml"));
    });
});

describe("upgradeSteps", () => {
    const nodes = { etcd: ["a", "b", "c"], controlPlane: ["a", "b", "c"], workers: ["w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8", "w9", "w10", "w11"] };

    it("batches workers as Ansible's serial does (a share rounded down, at least 1), from -e serial= in extraArgs", () => {
        expect(batchSize("20%", 11)).toBe(2);
        expect(batchSize("20%", 4)).toBe(1);
        expect(batchSize("3", 11)).toBe(3);
        expect(serialOf(["-e", "serial=3"])).toBe("3");
        expect(serialOf(["--extra-vars=serial=50%"])).toBe("50%");
        expect(serialOf(["-e", "download_run_once=true"])).toBe("20%");
        expect(upgradeSteps("1.35.4", nodes, { groupVars: {}, extraArgs: ["-e", "serial=5"] })[5]).toMatch(/^5\. worker-only nodes in batches of 5 \(serial 5\): \[w1, w2, w3, w4, w5\] -> \[w6, w7, w8, w9, w10\] -> \[w11\];/);
    });

    it("takes the drain settings from groupVars", () => {
        expect(upgradeSteps("1.35.4", nodes, { groupVars: { drain_grace_period: 30, drain_timeout: "90s" }, extraArgs: [] })[3]).toContain("kubectl drain --grace-period 30 --timeout 90s");
        expect(upgradeSteps("1.35.4", nodes, { groupVars: { drain_nodes: false }, extraArgs: [] })[3]).toContain("upgraded without a drain (drain_nodes: false)");
    });

    it("a single etcd member restarts in one step", () => {
        expect(upgradeSteps("1.35.4", { etcd: ["a"], controlPlane: ["a"], workers: [] }, { groupVars: { etcd_version: "3.6.10" }, extraArgs: [] }).slice(2)).toEqual([
            expect.stringMatching(/^2\. etcd on a \(install_etcd\.yml\): .*\(etcd_version 3\.6\.10\), in one step \(a single member: the API pauses\)$/),
            expect.stringMatching(/^3\. control planes one at a time \(serial: 1\), in inventory order: a;/),
            "4. the network plugin on every node (serial 20%)",
            "5. no worker-only nodes",
        ]);
    });
});

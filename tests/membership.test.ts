// Control-plane/etcd membership changes as Kubespray's docs/operations/nodes.md orders them
// (components/kubespray/membership.ts).
import { deployedMembersOf, evenCountErrors, formatSteps, membershipChanged, membershipSteps } from "../components/kubespray/membership";

const three = { controlPlane: ["cp1", "cp2", "cp3"], etcd: ["cp1", "cp2", "cp3"] };
const argsOf = (plan: ReturnType<typeof membershipSteps>) =>
    plan.steps.map((s) => [s.playbook, s.limit?.join(",") ?? "", (s.extraVars ?? []).map(([k, v]) => `${k}=${v}`).join(" ")]);

describe("membership steps (docs/operations/nodes.md)", () => {
    it("replaces kube_control_plane[0]: reorder (only if it answers), remove it (ungracefully if it does not), then the new member joins etcd and the control plane", () => {
        const plan = membershipSteps(three, { controlPlane: ["cp2", "cp3", "cp4"], etcd: ["cp2", "cp3", "cp4"] });
        expect(plan.errors).toEqual([]);
        expect(plan.mustAnswer).toEqual(["cp2", "cp3"]);
        expect(plan.leaving).toEqual(["cp1"]);
        expect(argsOf(plan)).toEqual([
            ["cluster.yml", "", ""],
            ["remove-node.yml", "", "node=cp1 skip_confirmation=true"],
            ["cluster.yml", "etcd,kube_control_plane", "ignore_assert_errors=yes"],
            ["upgrade-cluster.yml", "etcd,kube_control_plane", "ignore_assert_errors=yes"],
        ]);
        // cp1 stays listed (after every other host) until remove-node.yml removed it.
        expect(plan.steps.map((s) => s.keepHosts)).toEqual([["cp1"], ["cp1"], [], []]);
        expect(plan.steps[0].onlyIfAnswers?.node).toBe("cp1");
        expect(plan.steps[1].ifUnreachable).toEqual({ node: "cp1", extraVars: [["reset_nodes", "false"], ["allow_ungraceful_removal", "true"]] });
        const lines = formatSteps(plan);
        expect(lines[0]).toMatch(/^0\. check that cp2, cp3 answer, and whether cp1 answers/);
        expect(lines[2]).toBe("2. remove cp1 from the cluster (kubectl delete node, etcd member remove; reset when its machine answers): remove-node.yml -e node=cp1 -e skip_confirmation=true [if cp1 does not answer: -e reset_nodes=false -e allow_ungraceful_removal=true] (nodes.md: Removing an etcd node, 1))");
    });

    it("removes a member that is not first: remove-node.yml, then cluster.yml regenerates the others (no reorder)", () => {
        const plan = membershipSteps(three, { controlPlane: ["cp1", "cp2"], etcd: ["cp1", "cp2"] });
        // 3 -> 2: the regenerating cluster.yml lists an even count, which Kubespray's validate_inventory stops on without
        // ignore_assert_errors; then upgrade-cluster.yml re-renders every API server's --etcd-servers (nodes.md's hand edit).
        const upgradeRun = ["upgrade-cluster.yml", "etcd,kube_control_plane", "ignore_assert_errors=yes"];
        expect(argsOf(plan)).toEqual([["remove-node.yml", "", "node=cp3 skip_confirmation=true"], ["cluster.yml", "", "ignore_assert_errors=yes"], upgradeRun]);
        expect(plan.steps[2].doc).toBe("Removing an etcd node, 4)");
        // 4 -> 3 (the step back from an even count): the removal's inventory lists four.
        const four = { controlPlane: ["cp1", "cp2", "cp3", "cp4"], etcd: ["cp1", "cp2", "cp3", "cp4"] };
        expect(argsOf(membershipSteps(four, three))).toEqual([["remove-node.yml", "", "node=cp4 skip_confirmation=true ignore_assert_errors=yes"], ["cluster.yml", "", ""], upgradeRun]);
        // A control plane that is not an etcd member leaves: no etcd configuration to re-render.
        const cpOnly = { controlPlane: ["cp1", "cp2", "cp3", "cp4"], etcd: three.etcd };
        expect(argsOf(membershipSteps(cpOnly, { controlPlane: three.controlPlane, etcd: three.etcd }))).toEqual([["remove-node.yml", "", "node=cp4 skip_confirmation=true"], ["cluster.yml", "", ""]]);
        expect(plan.steps[1].title).toMatch(/regenerate the remaining members' configuration \(cp1, cp2\)/);
    });

    it("adds one etcd member by the documented limit, then the upgrade that updates every member", () => {
        const plan = membershipSteps(three, { controlPlane: [...three.controlPlane, "cp4"], etcd: [...three.etcd, "cp4"] });
        expect(argsOf(plan)).toEqual([["cluster.yml", "etcd,kube_control_plane", "ignore_assert_errors=yes"], ["upgrade-cluster.yml", "etcd,kube_control_plane", "ignore_assert_errors=yes"]]);
        expect(plan.mustAnswer).toEqual(["cp1", "cp2", "cp3"]);
    });

    it("refuses 3 -> 1 and 3 -> 5 in one up, naming the nodes", () => {
        expect(membershipSteps(three, { controlPlane: ["cp1"], etcd: ["cp1"] }).errors.join("\n")).toMatch(/etcd members cp2, cp3 would leave in one `up` \(3 -> 1 members\)/);
        expect(membershipSteps(three, { controlPlane: [...three.controlPlane, "cp4", "cp5"], etcd: [...three.etcd, "cp4", "cp5"] }).errors.join("\n"))
            .toMatch(/etcd members cp4, cp5 would join in one `up`/);
        expect(membershipSteps({ controlPlane: ["cp1"], etcd: ["cp1"] }, { controlPlane: ["cp1"], etcd: [] }).errors.join("\n")).toMatch(/no control plane or no etcd member left/);
    });

    it("refuses a staying node that gains or loses the control-plane or etcd role, and removing etcd's only member", () => {
        expect(membershipSteps(three, { controlPlane: ["cp2", "cp3"], etcd: three.etcd }).errors).toEqual([
            expect.stringMatching(/^cp1 changes between control-plane and etcd roles in one `up`: .*Remove it from nodes \(one `up`\), then add it back/),
        ]);
        expect(membershipSteps({ controlPlane: ["c1"], etcd: ["e1"] }, { controlPlane: ["c1"], etcd: ["e2"] }).errors).toEqual([
            expect.stringMatching(/^e1 is etcd's only member and would leave: .*Add the new member first/),
        ]);
    });

    it("a control plane that is not an etcd member joins with cluster.yml, passing Kubespray's even-count assert when etcd is even", () => {
        const plan = membershipSteps({ controlPlane: ["a", "b", "c"], etcd: ["a", "b", "c"] }, { controlPlane: ["b", "c", "d"], etcd: ["b", "c"] });
        expect(plan.errors).toEqual([]);
        // a leaves (reorder first, three etcd members listed), d joins: etcd ends at two, so the join passes the assert.
        expect(argsOf(plan)).toEqual([
            ["cluster.yml", "", ""],
            ["remove-node.yml", "", "node=a skip_confirmation=true"],
            ["cluster.yml", "", "ignore_assert_errors=yes"],
        ]);
    });

    it("an even count only one member away from the odd count deployed", () => {
        expect(evenCountErrors(three, { controlPlane: [...three.controlPlane, "cp4"], etcd: [...three.etcd, "cp4"] })).toEqual([]);
        expect(evenCountErrors(three, { controlPlane: ["cp1", "cp2"], etcd: ["cp1", "cp2"] })).toEqual([]);
        expect(evenCountErrors(undefined, { controlPlane: ["cp1", "cp2"], etcd: ["cp1", "cp2"] }).join("\n")).toMatch(/2 nodes have the role etcd \(etcd\) in a first deployment/);
        expect(evenCountErrors({ controlPlane: ["a"], etcd: ["a"] }, { controlPlane: ["a", "b", "c", "d"], etcd: ["a", "b", "c", "d"] }).join("\n")).toMatch(/1 -> 4 nodes with the role etcd/);
    });

    it("a change of order alone, or of workers, is no membership change", () => {
        expect(membershipChanged(three, three)).toBe(false);
        expect(membershipChanged(three, { controlPlane: ["cp3", "cp1", "cp2"], etcd: three.etcd })).toBe(false);
        expect(membershipChanged(three, { controlPlane: ["cp1", "cp2", "cp4"], etcd: three.etcd })).toBe(true);
    });

    it("reads the last deployment's members and hosts from its cluster spec", () => {
        const hosts = [{ name: "cp1", sshAddress: "10.250.50.11", ip: "10.250.50.11", roles: ["control-plane", "etcd"], etcdMemberName: "etcd1" }];
        expect(deployedMembersOf([{ id: "inventory", kind: "inventory" }, { id: "cluster", kind: "cluster", members: { ...three, workers: [] }, hosts }]))
            .toEqual({ controlPlane: three.controlPlane, etcd: three.etcd, hosts });
        expect(deployedMembersOf([{ id: "cluster", kind: "cluster", members: { ...three, workers: [] } }])).toEqual({ controlPlane: three.controlPlane, etcd: three.etcd });
        expect(deployedMembersOf(undefined)).toBeUndefined();
    });
});

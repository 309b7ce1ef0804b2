// The failover bench's decisions (tests/helpers/failover-bench.ts): summaries, which factors the combination
// takes, the README table. The measuring itself runs on the real cluster (`npm run bench -- --failover`).
import { benchTable, chooseSetting, helpingFactors, KUBESPRAY_SETTING, median, SettingResult, singleFactorSettings, summarize, withFactors } from "./helpers/failover-bench";

const kill = (s: number, leader = false, complete = true) => ({ secondsWithoutAnswer: s, failedProbes: Math.round(s * 5), totalProbes: Math.round(s * 5) + 5, complete, etcdLeaderKilled: leader });
const idle = (over: Partial<SettingResult["idle"]> = {}) => ({ seconds: 300, holderChanges: 0, leaseTransitions: 0, etcdElections: 0, kubeVipRestarts: 0, ...over });

describe("failover bench", () => {
    const baseline: SettingResult = { setting: KUBESPRAY_SETTING, factors: [], kills: [kill(12, true), kill(6.9), kill(12.1, true), kill(7)], idle: idle() };
    const single = (f: "kubeVip" | "lease" | "etcd", secs: number[], over: Partial<SettingResult["idle"]> = {}, complete = true): SettingResult =>
        ({ setting: withFactors([f]), factors: [f], kills: secs.map((s, i) => kill(s, i % 2 === 0, complete)), idle: idle(over) });

    it("measures each factor alone from Kubespray's setting", () => {
        const singles = singleFactorSettings();
        expect(singles.map((s) => s.factors)).toEqual([["kubeVip"], ["lease"], ["etcd"]]);
        expect(singles[0].setting).toMatchObject({ kubeVip: "1.0.4", lease: KUBESPRAY_SETTING.lease, etcd: KUBESPRAY_SETTING.etcd });
        expect(singles[1].setting).toMatchObject({ kubeVip: "1.0.3", lease: { duration: 3, renew: 2, retry: 1 }, etcd: KUBESPRAY_SETTING.etcd });
        expect(singles[2].setting).toMatchObject({ kubeVip: "1.0.3", lease: KUBESPRAY_SETTING.lease, etcd: { electionTimeoutMs: 1000, heartbeatIntervalMs: 100 } });
        expect(singles[2].setting.name).toBe("kube-vip 1.0.3, lease 5/3/1 s, etcd 1000/100 ms");
    });

    it("summarizes N, kills of the etcd leader, median and worst, and the idle window", () => {
        expect(median([3, 1, 2])).toBe(2);
        expect(median([4, 1, 2, 3])).toBe(2.5);
        expect(summarize(baseline)).toMatchObject({ n: 4, etcdLeaderKills: 2, medianSeconds: 9.5, worstSeconds: 12.1, incomplete: 0, falseFailovers: 0 });
        // The larger of the sampled holder changes and the lease's own transition count.
        expect(summarize({ ...baseline, idle: idle({ holderChanges: 1, leaseTransitions: 2 }) }).falseFailovers).toBe(2);
    });

    it("combines the clean factors that lowered the worst case or the median of one kind of kill (holder leading etcd or not)", () => {
        // Baseline medians: 12.05 s when the holder led etcd, 6.95 s when not.
        const kubeVip = single("kubeVip", [13, 7.5, 14, 7.2]);
        const lease = single("lease", [13, 4.5, 12.5, 5]);
        // Medians no lower (12.07 / 7.0), but the worst case is (12.08 < 12.1).
        const etcd = single("etcd", [12.06, 7, 12.08, 7]);
        expect(helpingFactors(baseline, [kubeVip, lease, etcd])).toEqual(["lease", "etcd"]);
        // Not clean: a false failover, an etcd election or a kube-vip restart while idle, or a failover that never completed.
        expect(helpingFactors(baseline, [single("lease", [4, 4.5], { holderChanges: 1 })])).toEqual([]);
        expect(helpingFactors(baseline, [single("etcd", [3, 3.5], { etcdElections: 2 })])).toEqual([]);
        expect(helpingFactors(baseline, [single("kubeVip", [4, 4], { kubeVipRestarts: 1 })])).toEqual([]);
        expect(helpingFactors(baseline, [single("lease", [4, 4], {}, false)])).toEqual([]);
    });

    it("chooses the clean setting with the lowest worst case as the defaults", () => {
        const etcd = single("etcd", [4, 5, 3.5, 4.5]);
        const combo: SettingResult = { setting: withFactors(["lease", "etcd"]), factors: ["lease", "etcd"], kills: [kill(3.2, true), kill(3.9), kill(4.1, true), kill(3.5)], idle: idle() };
        expect(chooseSetting([baseline, etcd, combo])).toBe(combo);
        expect(chooseSetting([baseline, etcd, { ...combo, idle: idle({ leaseTransitions: 1 }) }])).toBe(etcd);
        expect(chooseSetting([{ ...baseline, idle: idle({ etcdElections: 1 }) }])).toBeUndefined();
    });

    it("renders the README table with N per cell", () => {
        const table = benchTable([baseline, single("lease", [4, 5])]).split("\n");
        expect(table).toHaveLength(4);
        expect(table[2]).toBe(`| ${KUBESPRAY_SETTING.name} | 4 (2) | 9.5 | 12.1 / 7.0 | 12.1 | 0 | 0 | 0 |`);
        expect(table[3]).toBe("| kube-vip 1.0.3, lease 3/2/1 s, etcd 5000/250 ms | 2 (1) | 4.5 | 4.0 / 5.0 | 5.0 | 0 | 0 | 0 |");
    });
});

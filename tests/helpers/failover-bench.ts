// The failover bench (issue 23, `npm run bench -- --failover`): which kube-vip version, lease timings and
// etcd election timing bring the API back through the VIP fastest when the VIP holder dies, without
// failovers nobody caused. The measuring runs in tests/e2e-cluster.test.ts (KUBESPRAY_HA_E2E_BENCH=failover)
// on the real test cluster; this module holds what is decided from the numbers: the settings, one factor
// at a time from Kubespray's defaults, the summaries, the combination of the factors that helped, and the
// README table. Raw runs: test-results/failover-bench.json.

import { EtcdTimings, KUBESPRAY_ETCD_TIMINGS } from "../../components/config/config";
import { KUBESPRAY_VERSION_FACTS } from "../../components/config/kubespray-versions";

/** One setting of the three factors. */
export interface BenchSetting {
    name: string;
    /** kube-vip image version (the mirror holds 1.0.3 and 1.0.4). */
    kubeVip: string;
    /** kube-vip's vip_leaseduration / vip_renewdeadline / vip_retryperiod, seconds. */
    lease: { duration: number; renew: number; retry: number };
    /** etcd's ETCD_ELECTION_TIMEOUT / ETCD_HEARTBEAT_INTERVAL, milliseconds. */
    etcd: EtcdTimings;
}

const KUBESPRAY_KUBE_VIP = KUBESPRAY_VERSION_FACTS["v2.31.0"].kubeVip.default;
/** Kubespray v2.31.0's values: its kube_vip_version, kube_vip_leaseduration 5 / renewdeadline 3 / retryperiod 1, its etcd timings. */
export const KUBESPRAY_SETTING: BenchSetting = {
    name: `Kubespray v2.31.0 (kube-vip ${KUBESPRAY_KUBE_VIP}, lease 5/3/1 s, etcd ${KUBESPRAY_ETCD_TIMINGS.electionTimeoutMs}/${KUBESPRAY_ETCD_TIMINGS.heartbeatIntervalMs} ms)`,
    kubeVip: KUBESPRAY_KUBE_VIP,
    lease: { duration: 5, renew: 3, retry: 1 },
    etcd: { ...KUBESPRAY_ETCD_TIMINGS },
};

/** The other value of each factor; each is measured alone, from KUBESPRAY_SETTING. */
export const FACTORS = {
    // kube-vip #1377 (stalled leader election), fixed in 1.0.4 by #1383/#1386.
    kubeVip: "1.0.4",
    lease: { duration: 3, renew: 2, retry: 1 },
    // etcd's own defaults (100 ms heartbeat, 1000 ms election): a LAN's round trips are well under a
    // millisecond; Kubespray's 250/5000 allows for slow WAN links and disks.
    etcd: { electionTimeoutMs: 1000, heartbeatIntervalMs: 100 },
} as const;
export type Factor = keyof typeof FACTORS;

const describeSetting = (s: Omit<BenchSetting, "name">): string =>
    `kube-vip ${s.kubeVip}, lease ${s.lease.duration}/${s.lease.renew}/${s.lease.retry} s, etcd ${s.etcd.electionTimeoutMs}/${s.etcd.heartbeatIntervalMs} ms`;

export function withFactors(factors: readonly Factor[], name?: string): BenchSetting {
    const s: Omit<BenchSetting, "name"> = {
        kubeVip: factors.includes("kubeVip") ? FACTORS.kubeVip : KUBESPRAY_SETTING.kubeVip,
        lease: factors.includes("lease") ? { ...FACTORS.lease } : { ...KUBESPRAY_SETTING.lease },
        etcd: factors.includes("etcd") ? { ...FACTORS.etcd } : { ...KUBESPRAY_SETTING.etcd },
    };
    return { name: name ?? describeSetting(s), ...s };
}

/** The single-factor settings in the order the bench measures them, after KUBESPRAY_SETTING. */
export function singleFactorSettings(): { setting: BenchSetting; factors: Factor[] }[] {
    return (["kubeVip", "lease", "etcd"] as const).map((f) => ({ setting: withFactors([f]), factors: [f] }));
}

/** One hard kill of the VIP holder, as measured through the VIP. */
export interface KillRun {
    secondsWithoutAnswer: number;
    failedProbes: number;
    totalProbes: number;
    complete: boolean;
    etcdLeaderKilled: boolean;
}

/** What a setting's 5-minute window with no kill saw. */
export interface IdleWindow {
    seconds: number;
    /** kube-vip lease (plndr-cp-lock) holder changes seen by sampling, and the lease's own transition count. */
    holderChanges: number;
    leaseTransitions: number;
    /** etcd elections: the raft term's increase. */
    etcdElections: number;
    kubeVipRestarts: number;
}

export interface SettingResult {
    setting: BenchSetting;
    factors: Factor[];
    kills: KillRun[];
    idle?: IdleWindow;
}

export interface SettingSummary {
    name: string;
    n: number;
    etcdLeaderKills: number;
    medianSeconds: number;
    worstSeconds: number;
    /** Medians of the kills of a holder that also led etcd, and of one that did not. */
    medianLeaderSeconds: number;
    medianOtherSeconds: number;
    incomplete: number;
    falseFailovers: number | undefined;
    kubeVipRestarts: number | undefined;
    etcdElectionsIdle: number | undefined;
}

export function median(values: readonly number[]): number {
    if (values.length === 0) return NaN;
    const v = [...values].sort((a, b) => a - b);
    const mid = Math.floor(v.length / 2);
    return v.length % 2 === 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** False failovers: VIP holder changes no kill caused (the larger of what sampling saw and the lease counted). */
export const falseFailovers = (idle: IdleWindow): number => Math.max(idle.holderChanges, idle.leaseTransitions);

export function summarize(r: SettingResult): SettingSummary {
    const seconds = (kills: readonly KillRun[]) => kills.map((k) => k.secondsWithoutAnswer);
    const all = seconds(r.kills);
    return {
        name: r.setting.name,
        n: r.kills.length,
        etcdLeaderKills: r.kills.filter((k) => k.etcdLeaderKilled).length,
        medianSeconds: median(all),
        worstSeconds: all.length ? Math.max(...all) : NaN,
        medianLeaderSeconds: median(seconds(r.kills.filter((k) => k.etcdLeaderKilled))),
        medianOtherSeconds: median(seconds(r.kills.filter((k) => !k.etcdLeaderKilled))),
        incomplete: r.kills.filter((k) => !k.complete).length,
        falseFailovers: r.idle ? falseFailovers(r.idle) : undefined,
        kubeVipRestarts: r.idle?.kubeVipRestarts,
        etcdElectionsIdle: r.idle?.etcdElections,
    };
}

/** Every kill completed and the idle window saw no false failover, no kube-vip restart and no etcd election. */
const clean = (s: SettingSummary): boolean =>
    s.n > 0 && s.incomplete === 0 && s.falseFailovers === 0 && s.kubeVipRestarts === 0 && s.etcdElectionsIdle === 0;

/**
 * The factors the combination takes: each alternative measured alone that was clean and lowered the worst
 * case, or the median of one kind of kill (holder leading etcd, or not), below the baseline's. A factor may
 * help one kind and hurt the other (a shorter lease while etcd's election stays long): the combination is
 * measured, and the defaults come from what was measured (chooseSetting), not from this guess.
 */
export function helpingFactors(baseline: SettingResult, singles: readonly SettingResult[]): Factor[] {
    const base = summarize(baseline);
    return singles.filter((r) => r.factors.length === 1).filter((r) => {
        const s = summarize(r);
        return clean(s) && (s.worstSeconds < base.worstSeconds || s.medianLeaderSeconds < base.medianLeaderSeconds || s.medianOtherSeconds < base.medianOtherSeconds);
    }).map((r) => r.factors[0]);
}

/** The defaults: of the clean settings, the lowest worst case (then the lowest median). */
export function chooseSetting(results: readonly SettingResult[]): SettingResult | undefined {
    return results.filter((r) => clean(summarize(r))).sort((a, b) => {
        const [x, y] = [summarize(a), summarize(b)];
        return x.worstSeconds - y.worstSeconds || x.medianSeconds - y.medianSeconds;
    })[0];
}

const fmt = (v: number | undefined, digits = 1): string => (v === undefined || Number.isNaN(v) ? "-" : v.toFixed(digits));

/** The README table: setting, N (of which the holder also led etcd), medians and worst seconds, idle-window figures. */
export function benchTable(results: readonly SettingResult[]): string {
    const rows = results.map(summarize).map((s) =>
        `| ${s.name} | ${s.n} (${s.etcdLeaderKills}) | ${fmt(s.medianSeconds)} | ${fmt(s.medianLeaderSeconds)} / ${fmt(s.medianOtherSeconds)} | ${fmt(s.worstSeconds)}${s.incomplete ? ` (${s.incomplete} incomplete)` : ""} | ${s.falseFailovers ?? "-"} | ${s.kubeVipRestarts ?? "-"} | ${s.etcdElectionsIdle ?? "-"} |`);
    return [
        "| setting | N (holder led etcd) | median s without an answer | median s: holder led etcd / did not | worst s | false failovers (idle) | kube-vip restarts (idle) | etcd elections (idle) |",
        "|---|---|---|---|---|---|---|---|",
        ...rows,
    ].join("\n");
}

// The failover timeline: from probes of /readyz through the VIP (one every ~200 ms, each with a short
// timeout) and samples of the lease holder, how long the VIP gave no answer, how many probes failed
// and who holds the VIP now. Pure: times are numbers (milliseconds), nothing is measured here.

/** One probe: when it started and ended (ms), and whether the API answered (any HTTP answer over verified TLS). */
export interface Probe {
    start: number;
    end: number;
    ok: boolean;
}

/** The lease holder as read at time `t` (ms); undefined when it could not be read. */
export interface HolderSample {
    t: number;
    holder?: string;
}

export interface FailoverTimeline {
    /** Total seconds without an answer: each run of failed probes, from the last answer before it to the first answer after it. */
    secondsWithoutAnswer: number;
    failedProbes: number;
    totalProbes: number;
    /** The first holder other than the old one, or undefined. */
    newHolder?: string;
    /** Seconds from the take-out until the new holder was first seen. */
    newHolderSeenAfter?: number;
    /** Seconds from the take-out until the first failed probe started (undefined: none failed). */
    firstFailureAfter?: number;
    /** Seconds from the take-out until the first answer after the last failure. */
    answeringAgainAfter?: number;
    /** The VIP answers (last probe ok) and a new holder was seen: the failover is over. */
    complete: boolean;
}

const seconds = (ms: number) => Math.round(ms) / 1000;

/**
 * The timeline of a failover started at `takenOutAt` from the old holder `oldHolder`. Probes before
 * `takenOutAt` only serve as the last answer before an outage; they are not counted.
 */
export function failoverTimeline(takenOutAt: number, oldHolder: string, probes: readonly Probe[], samples: readonly HolderSample[]): FailoverTimeline {
    const sorted = [...probes].sort((a, b) => a.start - b.start);
    const counted = sorted.filter((p) => p.start >= takenOutAt);
    let without = 0;
    let lastAnswer: number | undefined = sorted.filter((p) => p.start < takenOutAt && p.ok).map((p) => p.end).pop();
    let outageStart: number | undefined;
    let firstFailure: number | undefined;
    let lastFailure: number | undefined;
    let answeringAgain: number | undefined;
    for (const p of counted) {
        if (!p.ok) {
            if (outageStart === undefined) outageStart = lastAnswer ?? p.start;
            if (firstFailure === undefined) firstFailure = p.start;
            lastFailure = p.start;
            answeringAgain = undefined;
        } else {
            if (outageStart !== undefined) {
                without += p.end - outageStart;
                outageStart = undefined;
            }
            if (lastFailure !== undefined && answeringAgain === undefined) answeringAgain = p.end;
            lastAnswer = p.end;
        }
    }
    const last = counted[counted.length - 1];
    if (outageStart !== undefined && last) without += last.end - outageStart;
    const changed = [...samples].sort((a, b) => a.t - b.t).find((s) => s.t >= takenOutAt && s.holder !== undefined && s.holder !== oldHolder);
    const failed = counted.filter((p) => !p.ok).length;
    return {
        secondsWithoutAnswer: seconds(without),
        failedProbes: failed,
        totalProbes: counted.length,
        newHolder: changed?.holder,
        newHolderSeenAfter: changed ? seconds(changed.t - takenOutAt) : undefined,
        firstFailureAfter: firstFailure !== undefined ? seconds(firstFailure - takenOutAt) : undefined,
        answeringAgainAfter: answeringAgain !== undefined ? seconds(answeringAgain - takenOutAt) : undefined,
        complete: changed !== undefined && last !== undefined && last.ok,
    };
}

/** The timeline in one line for people. */
export function formatTimeline(t: FailoverTimeline, oldHolder: string): string {
    const parts = [
        `${t.secondsWithoutAnswer.toFixed(1)} s without an answer through the VIP`,
        `${t.failedProbes}/${t.totalProbes} probes failed`,
        t.newHolder ? `new holder ${t.newHolder} (was ${oldHolder}), seen after ${t.newHolderSeenAfter?.toFixed(1)} s` : `no new holder (still ${oldHolder})`,
    ];
    if (t.firstFailureAfter !== undefined) parts.push(`first failure after ${t.firstFailureAfter.toFixed(1)} s`);
    if (t.answeringAgainAfter !== undefined) parts.push(`answering again after ${t.answeringAgainAfter.toFixed(1)} s`);
    return parts.join("; ");
}

/** How the API answered over a stretch of probes (an upgrade, a replacement): its outages, the longest first. */
export interface Availability {
    /** The longest run of failed probes, from the last answer before it to the first answer after it (or the last probe). */
    longestSecondsWithoutAnswer: number;
    /** All such runs added up. */
    secondsWithoutAnswer: number;
    failedProbes: number;
    totalProbes: number;
    /** Each outage: seconds from the first probe to its start, and its length. */
    outages: { after: number; seconds: number }[];
}

/** The outages in `probes` (each run of failed probes, measured as failoverTimeline measures one). */
export function availability(probes: readonly Probe[]): Availability {
    const sorted = [...probes].sort((a, b) => a.start - b.start);
    const first = sorted[0]?.start ?? 0;
    const outages: { after: number; seconds: number }[] = [];
    let lastAnswer: number | undefined;
    let outageStart: number | undefined;
    for (const p of sorted) {
        if (!p.ok) {
            if (outageStart === undefined) outageStart = lastAnswer ?? p.start;
        } else {
            if (outageStart !== undefined) {
                outages.push({ after: seconds(outageStart - first), seconds: seconds(p.end - outageStart) });
                outageStart = undefined;
            }
            lastAnswer = p.end;
        }
    }
    const last = sorted[sorted.length - 1];
    if (outageStart !== undefined && last) outages.push({ after: seconds(outageStart - first), seconds: seconds(last.end - outageStart) });
    return {
        longestSecondsWithoutAnswer: outages.reduce((m, o) => Math.max(m, o.seconds), 0),
        secondsWithoutAnswer: seconds(outages.reduce((s, o) => s + o.seconds * 1000, 0)),
        failedProbes: sorted.filter((p) => !p.ok).length,
        totalProbes: sorted.length,
        outages,
    };
}

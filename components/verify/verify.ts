// `npm run verify`: load a stack (outputs, SSH settings, key), run the checks against the live cluster,
// and with --failover take kube-vip off the VIP holder and measure how the VIP moves. The decisions are
// in checks.ts and timeline.ts; this file only gathers what they evaluate.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { parseClusterConfig } from "../config/config";
import { API_PORT } from "../config/vip";
import { shQuote } from "../shared/shell";
import { apiGet } from "./api";
import {
    ApiAnswer, CheckResult, controlPlanes, evaluateApi, evaluateKubeVipPods, evaluateLease, evaluateNodes, evaluateVip,
    KUBE_VIP_LEASE, KUBE_VIP_MANIFEST, RemoteOutput,
} from "./checks";
import { parseStackOutputs, parseSshSettings, rawClusterConfig, VerifyTarget } from "./outputs";
import { KeyFile, pulumiCli, SshTarget, sshRun, writeKeyFile } from "./remote";
import { availability, Availability, failoverTimeline, FailoverTimeline, HolderSample, Probe } from "./timeline";

export interface VerifyContext {
    target: VerifyTarget;
    ssh: SshTarget;
    keyFile: string;
    log: (line: string) => void;
}

export interface LoadOptions {
    stack: string;
    /** The Pulumi project directory (default: the current directory). */
    cwd?: string;
    knownHosts?: string;
    log?: (line: string) => void;
}

const LEASE_PATH = `/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/${KUBE_VIP_LEASE}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Reads the stack's outputs and SSH settings through the Pulumi CLI; the key goes to a temp file (cleanup() removes it). */
export async function loadContext(options: LoadOptions): Promise<{ ctx: VerifyContext; key: KeyFile }> {
    const cwd = options.cwd ?? process.cwd();
    const stackArgs = ["--stack", options.stack];
    const outputs = await pulumiCli(["stack", "output", "--json", "--show-secrets", ...stackArgs], cwd);
    const target = parseStackOutputs(outputs, options.stack);
    const configJson = await pulumiCli(["config", "--json", "--show-secrets", ...stackArgs], cwd);
    let defaults = { user: "root", port: 22 };
    try {
        const parsed = parseClusterConfig(rawClusterConfig(configJson), { stack: options.stack });
        defaults = { user: parsed.ssh.user, port: parsed.ssh.port };
    } catch {
        // The config may have moved on since the last up; the raw ssh.user / ssh.port still apply.
    }
    const settings = parseSshSettings(configJson, defaults);
    const privateKey = settings.privateKey ?? fs.readFileSync(path.resolve(cwd, settings.privateKeyPath!), "utf8");
    const key = writeKeyFile(privateKey);
    return {
        ctx: { target, ssh: { user: settings.user, port: settings.port, knownHosts: options.knownHosts }, keyFile: key.file, log: options.log ?? (() => undefined) },
        key,
    };
}

const api = (ctx: VerifyContext, p: string, timeoutMs = 5000, server?: string) => apiGet(ctx.target.kubeconfig, { path: p, timeoutMs, server });

/** Every check once: API through the VIP, VIP on one control plane, the lease, kube-vip pods, nodes Ready. */
export async function runChecks(ctx: VerifyContext): Promise<{ results: CheckResult[]; holder?: string }> {
    const { target } = ctx;
    const readyz = await api(ctx, "/readyz");
    const addrs: Record<string, RemoteOutput> = {};
    if (target.vipMode === "arp" || target.vipMode === "bgp") {
        await Promise.all(controlPlanes(target).map(async (cp) => {
            addrs[cp.name] = await sshRun(cp.sshAddress, ctx.ssh, ctx.keyFile, "ip -o -4 addr show");
        }));
    }
    const apiResult = evaluateApi(target, readyz);
    const vip = evaluateVip(target, addrs);
    const reachable = readyz.status !== undefined;
    const none: ApiAnswer = { errorCode: "SKIPPED", errorMessage: "the API did not answer through the VIP" };
    const lease = evaluateLease(target, reachable ? await api(ctx, LEASE_PATH) : none, vip.holder);
    const pods = evaluateKubeVipPods(target, reachable ? await api(ctx, "/api/v1/namespaces/kube-system/pods?labelSelector=k8s-app%3Dkube-vip") : none);
    const nodes = evaluateNodes(target, reachable ? await api(ctx, "/api/v1/nodes") : none);
    return { results: [apiResult, vip.result, lease.result, pods, nodes], holder: lease.holder ?? vip.holder };
}

/** runChecks until every check passes or `boundMs` ran out (the last results either way). */
export async function runChecksUntilPassing(ctx: VerifyContext, boundMs: number): Promise<{ results: CheckResult[]; holder?: string; seconds: number }> {
    const t0 = Date.now();
    for (;;) {
        const r = await runChecks(ctx);
        if (r.results.every((x) => x.status !== "fail") || Date.now() - t0 >= boundMs) return { ...r, seconds: (Date.now() - t0) / 1000 };
        await sleep(2000);
    }
}

/** The lease holder read through one API server (undefined when it does not answer). */
async function leaseHolder(ctx: VerifyContext, server: string | undefined, timeoutMs: number): Promise<string | undefined> {
    const a = await api(ctx, LEASE_PATH, timeoutMs, server);
    if (a.status !== 200) return undefined;
    try {
        return JSON.parse(a.body ?? "").spec?.holderIdentity || undefined;
    } catch {
        return undefined;
    }
}

export interface MeasureOptions {
    oldHolder: string;
    /** Takes the holder out (moves its kube-vip manifest, kills the node, ...). */
    takeOut: () => Promise<void>;
    intervalMs?: number;
    probeTimeoutMs?: number;
    /** Give up after this long (the timeline then says complete: false). */
    boundMs?: number;
}

export interface FailoverMeasurement extends FailoverTimeline {
    oldHolder: string;
    /** How long the take-out itself took (the SSH command, the node kill). */
    takeOutSeconds?: number;
    probes: Probe[];
    samples: HolderSample[];
}

/**
 * Probes GET /readyz through the VIP every `intervalMs` (each bounded by `probeTimeoutMs`, overlapping) while the
 * lease holder is read through the other control planes' own addresses (their certificates carry their
 * IPs), from just before `takeOut` until a new holder holds the lease and the VIP answers again, or `boundMs`.
 */
export async function measureFailover(ctx: VerifyContext, options: MeasureOptions): Promise<FailoverMeasurement> {
    const interval = options.intervalMs ?? 200;
    const probeTimeout = options.probeTimeoutMs ?? 1000;
    const bound = options.boundMs ?? 120_000;
    const probes: Probe[] = [];
    const samples: HolderSample[] = [];
    const others = controlPlanes(ctx.target).filter((n) => n.name !== options.oldHolder);
    let stop = false;
    const probe = async () => {
        const start = Date.now();
        const a = await api(ctx, "/readyz", probeTimeout);
        probes.push({ start, end: Date.now(), ok: a.status === 200 });
    };
    await probe();
    // Probing runs while the take-out happens (it may take seconds: an SSH round trip, a node kill), one probe
    // every `interval` whether or not the one before has answered, so an outage is seen at `interval` resolution.
    const takenOutAt = Date.now();
    let takeOutError: unknown;
    let takeOutDoneAt: number | undefined;
    const takingOut = options.takeOut().then(() => {
        takeOutDoneAt = Date.now();
        ctx.log(`failover: ${options.oldHolder} taken out after ${((takeOutDoneAt - takenOutAt) / 1000).toFixed(1)} s; probing https://${ctx.target.vip}:${API_PORT}/readyz every ${interval} ms`);
    }, (err) => {
        takeOutError = err;
    });
    const sampler = (async () => {
        while (!stop) {
            const t = Date.now();
            const holders = await Promise.all(others.map((n) => leaseHolder(ctx, `https://${n.ip}:${API_PORT}`, probeTimeout)));
            samples.push({ t, holder: holders.find((h) => h !== undefined) });
            await sleep(Math.max(0, 500 - (Date.now() - t)));
        }
    })();
    const inflight: Promise<void>[] = [];
    // Set when the loop saw the failover complete; probes still in flight then may end in failures.
    let completed = false;
    try {
        while (Date.now() - takenOutAt < bound && takeOutError === undefined) {
            inflight.push(probe());
            await sleep(interval);
            if (takeOutDoneAt !== undefined && failoverTimeline(takenOutAt, options.oldHolder, probes, samples).complete) {
                completed = true;
                break;
            }
        }
    } finally {
        stop = true;
        await Promise.all([sampler, takingOut, ...inflight]);
    }
    if (takeOutError !== undefined) throw takeOutError;
    probes.sort((a, b) => a.start - b.start);
    return {
        ...failoverTimeline(takenOutAt, options.oldHolder, probes, samples),
        ...(completed ? { complete: true } : {}),
        oldHolder: options.oldHolder,
        takeOutSeconds: takeOutDoneAt !== undefined ? (takeOutDoneAt - takenOutAt) / 1000 : undefined,
        probes,
        samples,
    };
}

/**
 * Runs `op` (an upgrade, a replacement) while GET /readyz is probed through the VIP every `intervalMs`
 * (each bounded by `probeTimeoutMs`, overlapping), from just before it starts until it ends; the probes
 * and their outages (availability) come back with its result, also when it fails (then on the error's
 * `availability` property, and rethrown).
 */
export async function probeThroughout<T>(ctx: VerifyContext, op: () => Promise<T>, options: { intervalMs?: number; probeTimeoutMs?: number } = {}): Promise<{ result: T; availability: Availability; probes: Probe[] }> {
    const interval = options.intervalMs ?? 200;
    const probeTimeout = options.probeTimeoutMs ?? 1000;
    const probes: Probe[] = [];
    const inflight: Promise<void>[] = [];
    let done = false;
    const probe = async () => {
        const start = Date.now();
        const a = await api(ctx, "/readyz", probeTimeout);
        probes.push({ start, end: Date.now(), ok: a.status === 200 });
    };
    const loop = (async () => {
        while (!done) {
            inflight.push(probe());
            await sleep(interval);
        }
    })();
    let outcome: { ok: true; value: T } | { ok: false; error: unknown };
    try {
        outcome = { ok: true, value: await op() };
    } catch (error) {
        outcome = { ok: false, error };
    }
    done = true;
    await loop;
    await Promise.all(inflight);
    probes.sort((a, b) => a.start - b.start);
    const measured = availability(probes);
    if (!outcome.ok) {
        if (outcome.error && typeof outcome.error === "object") (outcome.error as { availability?: Availability }).availability = measured;
        throw outcome.error;
    }
    return { result: outcome.value, availability: measured, probes };
}

const PARKED = "/etc/kubernetes/kube-vip.yml.kubespray-ha-verify";

/** Moves kube-vip's static pod manifest on `node` out of (or back into) the manifests dir. */
async function moveManifest(ctx: VerifyContext, node: string, direction: "out" | "back"): Promise<void> {
    const n = ctx.target.nodes.find((x) => x.name === node)!;
    const [from, to] = direction === "out" ? [KUBE_VIP_MANIFEST, PARKED] : [PARKED, KUBE_VIP_MANIFEST];
    const r = await sshRun(n.sshAddress, ctx.ssh, ctx.keyFile, `test -f ${shQuote(from)} && mv -f ${shQuote(from)} ${shQuote(to)}`);
    if (r.code !== 0) throw new Error(`moving ${from} to ${to} on ${node} failed: ${r.error ?? `exit ${r.code} ${r.stderr.trim()}`}`);
}

export interface KubeVipFailoverReport {
    measurement: FailoverMeasurement;
    /** The checks after the manifest is back and kube-vip runs again. */
    after: CheckResult[];
    restoredSeconds: number;
}

/**
 * --failover: on the VIP holder, move kube-vip's manifest out of /etc/kubernetes/manifests (kubelet stops
 * the pod; stopping kubelet or the container would not move the VIP), measure, put it back (always, also
 * on a failure), wait for kube-vip there again and re-run the checks (bounded).
 */
export async function kubeVipFailover(ctx: VerifyContext, holder: string, options: { boundMs?: number } = {}): Promise<KubeVipFailoverReport> {
    let moved = false;
    const restore = () => {
        // Synchronous last resort when the process is interrupted mid-measurement.
        if (!moved) return;
        const n = ctx.target.nodes.find((x) => x.name === holder)!;
        spawnSync("ssh", ["-i", ctx.keyFile, "-p", String(ctx.ssh.port), "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
            ...(ctx.ssh.knownHosts ? ["-o", `UserKnownHostsFile=${ctx.ssh.knownHosts}`] : []), `${ctx.ssh.user}@${n.sshAddress}`,
            `${ctx.ssh.user === "root" ? "" : "sudo -n "}mv -f ${PARKED} ${KUBE_VIP_MANIFEST}`], { stdio: "ignore", timeout: 10_000 });
    };
    const onSignal = () => {
        restore();
        process.exit(130);
    };
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    let measurement: FailoverMeasurement;
    try {
        measurement = await measureFailover(ctx, {
            oldHolder: holder,
            boundMs: options.boundMs,
            takeOut: async () => {
                await moveManifest(ctx, holder, "out");
                moved = true;
            },
        });
    } finally {
        if (moved) {
            await moveManifest(ctx, holder, "back");
            moved = false;
        }
        process.removeListener("SIGINT", onSignal);
        process.removeListener("SIGTERM", onSignal);
    }
    ctx.log(`failover: ${KUBE_VIP_MANIFEST} is back on ${holder}; waiting for kube-vip there and the checks`);
    const t0 = Date.now();
    const after = await runChecksUntilPassing(ctx, options.boundMs ?? 120_000);
    return { measurement, after: after.results, restoredSeconds: (Date.now() - t0) / 1000 };
}

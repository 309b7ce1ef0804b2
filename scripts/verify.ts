// `npm run verify -- --stack <name> [--failover] [--json] [--cwd <project dir>] [--known-hosts <file>]`:
// the seed's verification checklist against a deployed stack (components/verify/). Reads the stack's
// outputs and SSH settings through the Pulumi CLI (PULUMI_BACKEND_URL, PULUMI_CONFIG_PASSPHRASE, ... as
// for `pulumi` itself), SSHes to the control planes with the stack's key. Exit 0: every check passed.
import { allPassed, CheckResult, formatResults } from "../components/verify/checks";
import { formatTimeline } from "../components/verify/timeline";
import { kubeVipFailover, KubeVipFailoverReport, loadContext, runChecks } from "../components/verify/verify";

interface Args {
    stack: string;
    failover: boolean;
    json: boolean;
    cwd?: string;
    knownHosts?: string;
}

function parseArgs(argv: string[]): Args {
    const args: Partial<Args> = { failover: false, json: false };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const value = () => {
            const v = argv[++i];
            if (v === undefined) throw new Error(`${a} needs a value`);
            return v;
        };
        if (a === "--stack" || a === "-s") args.stack = value();
        else if (a === "--failover") args.failover = true;
        else if (a === "--json") args.json = true;
        else if (a === "--cwd" || a === "-C") args.cwd = value();
        else if (a === "--known-hosts") args.knownHosts = value();
        else throw new Error(`unknown argument ${a}`);
    }
    if (!args.stack) throw new Error("--stack <name> is required");
    return args as Args;
}

const stamp = () => new Date().toISOString().slice(11, 19);

async function main(): Promise<number> {
    let args: Args;
    try {
        args = parseArgs(process.argv.slice(2));
    } catch (err) {
        console.error(`verify: ${(err as Error).message}\nusage: npm run verify -- --stack <name> [--failover] [--json] [--cwd <project dir>] [--known-hosts <file>]`);
        return 2;
    }
    const log = (line: string) => (args.json ? console.error : console.log)(`[${stamp()}] ${line}`);
    const t0 = Date.now();
    const { ctx, key } = await loadContext({ stack: args.stack, cwd: args.cwd, knownHosts: args.knownHosts, log });
    try {
        log(`stack ${args.stack}: VIP ${ctx.target.vip} (${ctx.target.vipMode}), ${ctx.target.nodes.length} nodes`);
        const first = await runChecks(ctx);
        const seconds = (Date.now() - t0) / 1000;
        let results: CheckResult[] = first.results;
        let failover: KubeVipFailoverReport | undefined;
        if (!args.json) console.log(formatResults(first.results));
        if (args.failover) {
            if (ctx.target.vipMode !== "arp") {
                log(`--failover: vipMode ${ctx.target.vipMode} has no single VIP holder to take out`);
            } else if (!allPassed(first.results) || !first.holder) {
                log("--failover: not started, the checks above must pass first");
            } else {
                log(`--failover: moving kube-vip's manifest off ${first.holder}`);
                failover = await kubeVipFailover(ctx, first.holder);
                const m = failover.measurement;
                log(`failover: ${formatTimeline(m, first.holder)}${m.complete ? "" : " (NOT complete within the bound)"}`);
                log(`failover: kube-vip back on ${first.holder}, checks re-run after ${failover.restoredSeconds.toFixed(1)} s`);
                if (!args.json) console.log(formatResults(failover.after));
                results = [...first.results, ...failover.after];
                if (!m.complete) {
                    results.push({ name: "vip", title: "the VIP moved to another control plane", status: "fail", detail: `no new holder answering within the bound (${m.failedProbes}/${m.totalProbes} probes failed)`, lookAt: ["kube-vip's logs on the other control planes (`crictl logs $(crictl ps -q --name kube-vip)`): leader election, \"stalled election\" (kube-vip issue #1377)"] });
                }
            }
        }
        if (args.json) {
            const m = failover?.measurement;
            console.log(JSON.stringify({
                stack: args.stack,
                passed: allPassed(results),
                seconds,
                checks: first.results,
                holder: first.holder,
                ...(failover && m ? {
                    failover: {
                        oldHolder: m.oldHolder, newHolder: m.newHolder, complete: m.complete,
                        secondsWithoutAnswer: m.secondsWithoutAnswer, failedProbes: m.failedProbes, totalProbes: m.totalProbes, takeOutSeconds: m.takeOutSeconds,
                        newHolderSeenAfter: m.newHolderSeenAfter, firstFailureAfter: m.firstFailureAfter, answeringAgainAfter: m.answeringAgainAfter,
                        restoredSeconds: failover.restoredSeconds, after: failover.after,
                    },
                } : {}),
            }, null, 2));
        }
        return allPassed(results) ? 0 : 1;
    } finally {
        key.cleanup();
    }
}

main().then((code) => process.exit(code), (err) => {
    console.error(`verify: ${(err as Error).message}`);
    process.exit(1);
});

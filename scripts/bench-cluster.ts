// `npm run bench -- --cluster`: the figures tests/e2e-cluster.test.ts measured on a real cluster
// (test-results/real-cluster.json), as a table. Measures nothing itself; run the test first
// (`npx jest tests/e2e-cluster.test.ts`, about an hour on 2 cores).
import * as fs from "fs";
import * as path from "path";

const FILE = path.join(__dirname, "..", "test-results", "real-cluster.json");

const ROWS: [string, string][] = [
    ["firstFailedUpSeconds", "first up, failing midway (s)"],
    ["clusterUpSeconds", "first up that completes (s)"],
    ["clusterYmlSeconds", "  of which cluster.yml (s)"],
    ["verifySeconds", "npm run verify (s)"],
    ["failoverSeconds", "failover: seconds without an answer, per run"],
    ["failedProbes", "failover: failed probes, per run"],
    ["totalProbes", "failover: total probes, per run"],
    ["rejoinReadySeconds", "killed node: boot to all checks passing (s)"],
    ["noopUpSeconds", "no-op up (s)"],
    ["noopCommandsRun", "no-op up: commands run"],
    ["scaleSeconds", "add a worker: up (s)"],
    ["removeSeconds", "remove the worker: up (s)"],
    ["destroySeconds", "destroy (s)"],
    ["kubeVersion", "Kubernetes"],
    ["kubeVipVersion", "kube-vip"],
    ["leaseTimings", "kube-vip lease duration/renew/retry (s)"],
    ["etcdTimings", "etcd election timeout/heartbeat (ms)"],
];

const show = (v: unknown): string => {
    if (v === undefined || v === null) return "-";
    if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toFixed(1);
    if (Array.isArray(v)) return v.length === 0 ? "-" : v.map(show).join(", ");
    if (typeof v === "object") return Object.values(v as Record<string, unknown>).map(show).join("/");
    return String(v);
};

export function main(): void {
    if (!fs.existsSync(FILE)) {
        console.error(`no ${path.relative(process.cwd(), FILE)}: run \`npx jest tests/e2e-cluster.test.ts\` first (it needs root, systemd-nspawn, the engine and the offline mirror)`);
        process.exitCode = 1;
        return;
    }
    const f = JSON.parse(fs.readFileSync(FILE, "utf8"));
    const rows = ROWS.map(([key, label]) => [label, show(f[key])]);
    const width = Math.max(...rows.map((r) => r[0].length));
    console.log(`real cluster, measured ${f.measuredAt}${f.completed ? "" : " (the run did NOT complete: some figures are missing)"}`);
    for (const [label, value] of rows) console.log(`${label.padEnd(width)}  ${value}`);
    for (const run of f.failoverRuns ?? []) {
        console.log(`failover run: ${run.kind}: ${show(run.secondsWithoutAnswer)} s without an answer, ${run.failedProbes}/${run.totalProbes} probes failed, ${run.oldHolder} -> ${run.newHolder ?? "?"} (seen after ${show(run.newHolderSeenAfter)} s)`);
    }
    if (f.environment) console.log(`environment: ${Object.entries(f.environment).map(([k, v]) => `${k} ${v}`).join("; ")}`);
}

if (require.main === module) main();

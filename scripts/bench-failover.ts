// `npm run bench -- --failover` (issue 23): the failover bench on the real test cluster. Runs
// tests/e2e-cluster.test.ts in its bench mode (KUBESPRAY_HA_E2E_BENCH=failover: deploy three nspawn control
// planes with real Kubespray offline, then per setting BENCH_KILLS hard kills of the VIP holder and an idle
// window, the combination of the factors that helped, and the graceful stops; about 55 min on 2 cores),
// then prints the table from test-results/failover-bench.json. `--failover --table` only prints the table
// of the last run. Knobs: KUBESPRAY_HA_BENCH_KILLS (6), KUBESPRAY_HA_BENCH_IDLE_SECONDS (300).
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { benchTable } from "../tests/helpers/failover-bench";

const ROOT = path.join(__dirname, "..");
const FILE = path.join(ROOT, "test-results", "failover-bench.json");

export function main(): void {
    if (!process.argv.includes("--table")) {
        const jest = spawnSync(path.join(ROOT, "node_modules", ".bin", "jest"), ["--runInBand", "--ci", "tests/e2e-cluster.test.ts"],
            { cwd: ROOT, stdio: "inherit", env: { ...process.env, KUBESPRAY_HA_E2E_BENCH: "failover", CI: "true" } });
        if (jest.status !== 0) process.exitCode = jest.status ?? 1;
    }
    if (!fs.existsSync(FILE)) {
        console.error(`no ${path.relative(process.cwd(), FILE)}: the bench did not run`);
        process.exitCode = 1;
        return;
    }
    const f = JSON.parse(fs.readFileSync(FILE, "utf8"));
    if (process.exitCode) console.error(`the bench FAILED; the table below is what ${path.relative(process.cwd(), FILE)} holds (measured ${f.measuredAt})`);
    console.log(`failover bench, measured ${f.measuredAt}: ${f.killsPerSetting} hard kills per setting, idle windows of ${f.idleSeconds} s`);
    console.log(benchTable(f.settings));
    if (f.combination) console.log(`factors that helped: ${f.combination.factors.join(", ") || "none"} -> ${f.combination.setting.name}`);
    for (const g of f.graceful ?? []) {
        console.log(`graceful: ${g.kind} on ${g.oldHolder} (${g.setting}): VIP ${g.vipMoved ? `moved to ${g.newHolder}` : "stayed"}, ${g.secondsWithoutAnswer} s without an answer, ${g.failedProbes}/${g.totalProbes} probes failed`);
    }
}

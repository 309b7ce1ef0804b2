// Shared by the tests that run the REAL Kubespray: its cached tree and venv (tests/infra/kubespray.sh),
// and running a command of it with its output captured.
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

export const KUBESPRAY_SCRIPT = path.join(__dirname, "..", "infra", "kubespray.sh");

/**
 * The cached tree and venv bin dir of a Kubespray version (built by tests/infra/kubespray.sh when
 * missing: a few minutes), or why not, with the last `stderrLines` lines of its stderr.
 */
export function kubesprayTree(version: string, stderrLines = 5): { tree: string; bin: string } | { reason: string } {
    if (!fs.existsSync(KUBESPRAY_SCRIPT)) return { reason: `no ${KUBESPRAY_SCRIPT}` };
    const r = spawnSync(KUBESPRAY_SCRIPT, [version], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    if (r.status !== 0) {
        return { reason: `tests/infra/kubespray.sh ${version} failed (${r.status ?? r.signal}): ${(r.stderr ?? "").trim().split("\n").slice(-stderrLines).join(" | ")}` };
    }
    const [tree, bin] = r.stdout.trim().split("\n");
    return { tree, bin };
}

/** Runs a command to its end; resolves with its exit code and stdout and stderr interleaved. */
export function run(cmd: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<{ code: number | null; output: string }> {
    return new Promise((resolve, reject) => {
        const child = spawn(cmd, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
        let output = "";
        child.stdout.on("data", (d) => (output += d.toString()));
        child.stderr.on("data", (d) => (output += d.toString()));
        child.once("error", reject);
        child.once("close", (code) => resolve({ code, output }));
    });
}

// What verify runs outside this process: the Pulumi CLI (stack outputs and config, in the project dir,
// with the caller's PULUMI_* environment) and commands on the nodes over SSH with the stack's key,
// which lives only in a 0600 file of a private temp dir removed by cleanup() (never printed, never in argv).
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { shQuote } from "../shared/shell";
import { RemoteOutput } from "./checks";

/** Runs `pulumi <args>` in `cwd` and returns its stdout; fails with its stderr. */
export function pulumiCli(args: string[], cwd: string, pulumiBin = process.env.KUBESPRAY_HA_PULUMI ?? "pulumi"): Promise<string> {
    return new Promise((resolve, reject) => {
        execFile(pulumiBin, [...args, "--non-interactive"], { cwd, env: process.env, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
            if (err) reject(new Error(`pulumi ${args.filter((a) => a !== "--show-secrets").join(" ")} failed: ${String(stderr).trim() || err.message}`));
            else resolve(String(stdout));
        });
    });
}

export interface SshTarget {
    user: string;
    port: number;
    /** known_hosts file; absent: the user's, with new host keys accepted (StrictHostKeyChecking=accept-new). */
    knownHosts?: string;
}

/** A private key written for ssh -i: `file` (0600 in a 0700 temp dir) until cleanup(). */
export interface KeyFile {
    file: string;
    cleanup(): void;
}

/** Writes the key to a 0600 temp file; cleanup() removes it (also at process exit). */
export function writeKeyFile(privateKey: string): KeyFile {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kubespray-ha-verify-"));
    fs.chmodSync(dir, 0o700);
    const file = path.join(dir, "id");
    fs.writeFileSync(file, privateKey.endsWith("\n") ? privateKey : `${privateKey}\n`, { mode: 0o600 });
    const cleanup = () => {
        fs.rmSync(dir, { recursive: true, force: true });
        process.removeListener("exit", cleanup);
    };
    process.on("exit", cleanup);
    return { file, cleanup };
}

/** Runs `command` on `address` (as root: `sudo -n` is prefixed for another user). Never throws. */
export function sshRun(address: string, target: SshTarget, keyFile: string, command: string, timeoutMs = 20_000): Promise<RemoteOutput> {
    const opts = [
        "-i", keyFile, "-p", String(target.port),
        "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR",
        ...(target.knownHosts
            ? ["-o", `UserKnownHostsFile=${target.knownHosts}`, "-o", "StrictHostKeyChecking=yes"]
            : ["-o", "StrictHostKeyChecking=accept-new"]),
    ];
    const remote = target.user === "root" ? command : `sudo -n sh -c ${shQuote(command)}`;
    return new Promise((resolve) => {
        execFile("ssh", [...opts, `${target.user}@${address}`, remote], { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
            const e = err as (Error & { code?: unknown; killed?: boolean }) | null;
            const raw: unknown = e?.code;
            const code: number | null = e ? (typeof raw === "number" ? raw : null) : 0;
            const out: RemoteOutput = { code, stdout: String(stdout), stderr: String(stderr) };
            if (e?.killed) out.error = `ssh timed out after ${timeoutMs} ms`;
            else if (code === 255) out.error = `ssh ${target.user}@${address}:${target.port} failed: ${String(stderr).trim()}`;
            else if (e && code === null) out.error = `ssh could not run: ${e.message}`;
            resolve(out);
        });
    });
}

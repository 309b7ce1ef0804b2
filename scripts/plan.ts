// `npm run plan -- --stack <name> [--base <git ref>] [--format text|md|json] [--dir <project dir>]`:
// renders the stack at the working tree and at the base ref (default: `git merge-base HEAD main`)
// and prints what the change does to what Kubespray is fed, and which playbooks would run.
// Offline: reads Pulumi.yaml / Pulumi.<stack>.yaml from disk and with `git show <ref>:<path>`.
// Exit 0: nothing would run; 2: a playbook would run; 1: error (bad config at either side, bad ref,
// or a change the Kubespray component refuses).
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { ConfigError } from "../components/config/config";
import { formatPlan, loadPlanSide, PLAN_FORMATS, PlanFormat, PlanSide, planStack, predictPlaybooks } from "../components/review/plan";
import { CommandIo, parseStackArgs, UsageError } from "./args";

const USAGE = "usage: plan --stack <name> [--base <git ref>] [--format text|md|json] [--dir <project dir>]";

export type PlanIo = CommandIo;

interface Args {
    stack: string;
    base?: string;
    format: PlanFormat;
    dir: string;
}

function parseArgs(argv: string[]): Args {
    const args = parseStackArgs(argv, ["base", "format", "dir"], USAGE);
    const format = (args.format ?? "text") as PlanFormat;
    if (!PLAN_FORMATS.includes(format)) throw new UsageError(`--format must be one of ${PLAN_FORMATS.join(", ")}`);
    return { stack: args.stack, base: args.base, format, dir: args.dir ?? "." };
}

function git(dir: string, args: string[]): { ok: boolean; stdout: string; stderr: string } {
    const res = spawnSync("git", ["-C", dir, ...args], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    if (res.error) throw new Error(`cannot run git: ${res.error.message}`);
    return { ok: res.status === 0, stdout: res.stdout, stderr: res.stderr.trim() };
}

function commitOf(dir: string, ref: string): string | undefined {
    const res = git(dir, ["rev-parse", "--verify", "--quiet", `${ref}^{commit}`]);
    return res.ok ? res.stdout.trim() : undefined;
}

/** The base commit and how to name it: --base, else the merge-base with main (or origin/main), else HEAD. */
export function resolveBase(dir: string, base: string | undefined): { commit: string; label: string } {
    const short = (sha: string) => sha.slice(0, 7);
    if (base !== undefined) {
        if (base.startsWith("-")) throw new UsageError(`--base "${base}" is not a git ref`);
        const commit = commitOf(dir, base);
        if (!commit) throw new Error(`--base ${base}: no such commit in ${dir}`);
        return { commit, label: commit.startsWith(base) ? short(commit) : `${base} (${short(commit)})` };
    }
    const head = commitOf(dir, "HEAD");
    if (!head) throw new Error(`${dir}: the repository has no commit yet; commit first or pass --base`);
    for (const candidate of ["main", "origin/main"]) {
        if (!commitOf(dir, candidate)) continue;
        const mb = git(dir, ["merge-base", "HEAD", candidate]);
        if (mb.ok) {
            const commit = mb.stdout.trim();
            return { commit, label: `merge-base of HEAD and ${candidate} (${short(commit)})` };
        }
    }
    return { commit: head, label: `HEAD (${short(head)}; no main branch)` };
}

/** A file of the project dir as it is at `commit`, or undefined when absent there. */
export function readAtCommit(dir: string, commit: string, file: string): string | undefined {
    // `<commit>:./<file>` is relative to `dir`, wherever the repository root is.
    const spec = `${commit}:./${file}`;
    if (!git(dir, ["cat-file", "-e", spec]).ok) return undefined;
    const res = git(dir, ["show", spec]);
    if (!res.ok) throw new Error(`git show ${spec}: ${res.stderr}`);
    return res.stdout;
}

function readWorkingTree(dir: string, file: string): string | undefined {
    const full = path.join(dir, file);
    return fs.existsSync(full) ? fs.readFileSync(full, "utf8") : undefined;
}

/**
 * Renders one side, naming the side in the error so the reviewer knows which config is bad. The after side
 * follows `previous` (the before side): its etcd member names come from that side's, as `pulumi up`'s do.
 */
function side(projectYaml: string | undefined, stackYaml: string, stack: string, label: string, previous?: PlanSide): PlanSide {
    if (projectYaml === undefined) throw new Error(`${label}: Pulumi.yaml is missing`);
    try {
        return loadPlanSide(projectYaml, stackYaml, stack, label, previous);
    } catch (err) {
        const message = err instanceof ConfigError ? err.message : (err as Error).message;
        throw new Error(`stack ${stack} at ${label}: ${message}`);
    }
}

function removedStack(stack: string, base: string, format: PlanFormat): string {
    const text = `Stack ${stack} is removed in this change (it exists at ${base}). No playbook runs; destroying the cluster is \`pulumi destroy\`, by hand.`;
    if (format === "json") return JSON.stringify({ stack, before: base, removed: true, exitCode: 0 }, null, 2) + "\n";
    return format === "md" ? `### kubespray-ha plan: stack \`${stack}\`\n\n${text}\n` : `${text}\n`;
}

/** The whole command; returns the exit code instead of exiting, so tests can run it in-process too. */
export function runPlan(argv: string[], io: PlanIo): number {
    try {
        const args = parseArgs(argv);
        const dir = path.resolve(io.cwd, args.dir);
        if (!fs.existsSync(dir)) throw new Error(`--dir ${dir} does not exist`);
        if (git(dir, ["rev-parse", "--is-inside-work-tree"]).stdout.trim() !== "true") {
            throw new Error(`${dir} is not inside a git work tree`);
        }
        const stackFile = `Pulumi.${args.stack}.yaml`;
        const base = resolveBase(dir, args.base);
        const afterYaml = readWorkingTree(dir, stackFile);
        const beforeYaml = readAtCommit(dir, base.commit, stackFile);
        if (afterYaml === undefined) {
            if (beforeYaml === undefined) throw new Error(`no stack file ${path.join(dir, stackFile)} (neither in the working tree nor at ${base.label})`);
            io.stdout(removedStack(args.stack, base.label, args.format));
            return 0;
        }
        const before = beforeYaml === undefined ? undefined : side(readAtCommit(dir, base.commit, "Pulumi.yaml"), beforeYaml, args.stack, base.label);
        const after = side(readWorkingTree(dir, "Pulumi.yaml"), afterYaml, args.stack, "working tree", before);
        const plan = planStack(args.stack, before, after, predictPlaybooks(before, after));
        io.stdout(formatPlan(plan, args.format));
        for (const e of plan.playbooks.errors) io.stderr(`plan: stack ${args.stack}: the Kubespray component refuses this change: ${e}\n`);
        return plan.exitCode;
    } catch (err) {
        io.stderr(`plan: ${(err as Error).message}\n`);
        return 1;
    }
}

if (require.main === module) {
    const code = runPlan(process.argv.slice(2), {
        cwd: process.cwd(),
        stdout: (t) => process.stdout.write(t),
        stderr: (t) => process.stderr.write(t),
    });
    // exitCode, not exit(): let stdout drain when it is a pipe (the workflow redirects it to a file).
    process.exitCode = code;
}

// .github/workflows/preview.yml, checked by a real checker (actionlint, with shellcheck for the
// run: scripts), then parsed back; its plan script and its comment script are run for real, and its
// plan job is walked step by step the way GitHub would (each `if:` evaluated for a pull_request event)
// against a fixture repository, the real `npm run plan` included, down to the comment it posts.
// Last, KUBESPRAY_HA_REAL_TESTS=skip (set on the job's `npm test`) is checked on a real test file.
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { parse, stringify } from "yaml";
import { baremetalRaw, libvirtRaw } from "./fixtures";
import { REAL_TESTS_ENV, realTestsSkipped } from "./helpers/real-tests";
import { tempDirs } from "./helpers/tmp";

const root = path.join(__dirname, "..");
const workflowFile = path.join(root, ".github", "workflows", "preview.yml");

function onPath(cmd: string): string | undefined {
    const res = spawnSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" });
    return res.status === 0 ? res.stdout.trim() : undefined;
}

/** actionlint: $ACTIONLINT, on PATH, or where `go install` puts it. */
function findActionlint(): string | undefined {
    if (process.env.ACTIONLINT) return process.env.ACTIONLINT;
    const found = onPath("actionlint");
    if (found) return found;
    const gopath = spawnSync("go", ["env", "GOPATH"], { encoding: "utf8" });
    const candidate = gopath.status === 0 ? path.join(gopath.stdout.trim(), "bin", "actionlint") : "";
    return candidate && fs.existsSync(candidate) ? candidate : undefined;
}

interface LintError {
    message: string;
    line: number;
    kind: string;
}

function actionlint(bin: string, file: string): LintError[] {
    // Run from a directory holding .github/workflows so actionlint treats it as a repository.
    const res = spawnSync(bin, ["-no-color", "-format", "{{json .}}", file], { cwd: path.dirname(path.dirname(path.dirname(file))), encoding: "utf8" });
    if (res.status !== 0 && res.status !== 1) throw new Error(`actionlint failed (${res.status}): ${res.stderr}`);
    return JSON.parse(res.stdout.trim() || "[]") as LintError[];
}

const tmp = tempDirs();

const actionlintBin = findActionlint();
const shellcheck = onPath("shellcheck");
const missing = [!actionlintBin && "actionlint (go install github.com/rhysd/actionlint/cmd/actionlint@v1.7.12)", !shellcheck && "shellcheck (apt-get install shellcheck)"].filter(Boolean);

describe("preview.yml under actionlint", () => {
    if (missing.length > 0 && process.env.CI) {
        it("has the workflow checkers in CI", () => {
            throw new Error(`missing: ${missing.join(", ")}; .ci/run must install them`);
        });
    } else if (missing.length > 0) {
        console.warn(`skipping checks that need: ${missing.join(", ")}`);
    }

    (actionlintBin ? it : it.skip)("passes", () => {
        expect(actionlint(actionlintBin!, workflowFile)).toEqual([]);
    });

    (actionlintBin ? it : it.skip)("is a real check: a wrong action input and a bad expression fail", () => {
        const dir = tmp("kha-wf-");
        const bad = path.join(dir, ".github", "workflows", "bad.yml");
        fs.mkdirSync(path.dirname(bad), { recursive: true });
        fs.writeFileSync(
            bad,
            fs
                .readFileSync(workflowFile, "utf8")
                .replace("comment-on-pr: true", "comment-on-pr: true\n          comment-on-prs: true")
                .replace("fetch-depth: 0", "fetch-depht: 0")
                .replace("needs.plan.outputs.stacks != ''", "needs.plans.outputs.stacks != ''"),
        );
        const messages = actionlint(actionlintBin!, bad).map((e) => e.message).join("\n");
        expect(messages).toMatch(/input "comment-on-prs" is not defined in action "pulumi\/actions@v6"/);
        expect(messages).toMatch(/input "fetch-depht" is not defined in action "actions\/checkout@v4"/);
        expect(messages).toMatch(/property "plans" is not defined/);
    });

    (actionlintBin && shellcheck ? it : it.skip)("checks the run: scripts with shellcheck", () => {
        const dir = tmp("kha-wf-");
        const bad = path.join(dir, ".github", "workflows", "bad.yml");
        fs.mkdirSync(path.dirname(bad), { recursive: true });
        fs.writeFileSync(bad, fs.readFileSync(workflowFile, "utf8").replace('cat plan-stack.md >> plan.md', "cat $plan_file >> plan.md"));
        expect(actionlint(actionlintBin!, bad).filter((e) => e.kind === "shellcheck").map((e) => e.message).join("\n")).toMatch(/SC2086/);
    });
});

// The workflow parsed back: what the issue asks of it.
describe("preview.yml", () => {
    const wf = parse(fs.readFileSync(workflowFile, "utf8"));
    const plan = wf.jobs.plan;
    const preview = wf.jobs.preview;
    const step = (job: any, pred: (s: any) => boolean) => job.steps.find(pred);

    it("runs on pull requests: checkout with full history, Node 20, npm ci, npm test, then the plan", () => {
        expect(Object.keys(wf.on)).toEqual(["pull_request"]);
        expect(step(plan, (s) => s.uses === "actions/checkout@v4").with["fetch-depth"]).toBe(0);
        expect(step(plan, (s) => s.uses === "actions/setup-node@v4").with["node-version"]).toBe(20);
        const runs = plan.steps.map((s: any) => s.run ?? s.uses);
        const at = (re: RegExp) => runs.findIndex((r: string) => re.test(r));
        expect(at(/^npm ci/)).toBeGreaterThan(-1);
        expect(at(/^npm test$/)).toBeGreaterThan(at(/^npm ci/));
        expect(at(/npm run --silent plan -- --stack "\$stack" --base "\$BASE_SHA" --format md/)).toBeGreaterThan(at(/^npm test$/));
        expect(at(/actions\/github-script/)).toBeGreaterThan(at(/npm run --silent plan/));
    });

    it("compares against the PR's base commit, passed through env (no expression in the script)", () => {
        const s = step(plan, (x) => x.id === "plan");
        expect(s.env.BASE_SHA).toBe("${{ github.event.pull_request.base.sha }}");
        expect(s.run).not.toMatch(/\$\{\{/);
    });

    it("runs pulumi/actions@v6 preview per stack (the CLI pinned), commenting on the PR, only with the stack's credentials", () => {
        expect(preview.needs).toBe("plan");
        expect(preview.strategy.matrix.include).toBe("${{ fromJSON(needs.plan.outputs.stacks) }}");
        const pulumi = step(preview, (s) => s.uses === "pulumi/actions@v6");
        expect(pulumi.with).toMatchObject({ command: "preview", "comment-on-pr": true, "cloud-url": "${{ env.BACKEND_URL }}" });
        expect(pulumi.with["stack-name"]).toMatch(/matrix\.stack/);
        // The CLI pinned to the SDK the program runs with (what tests/helpers/engine.ts builds too).
        expect(pulumi.with["pulumi-version"]).toBe(JSON.parse(fs.readFileSync(path.join(root, "node_modules", "@pulumi", "pulumi", "package.json"), "utf8")).version);
        expect(preview.env.HAS_CREDENTIALS).toMatch(/secrets\[format\('PULUMI_ACCESS_TOKEN_\{0\}', matrix\.key\)\] != ''/);
        expect(preview.env.BACKEND_URL).toMatch(/secrets\[format\('PULUMI_BACKEND_URL_\{0\}', matrix\.key\)\]/);
        // Every step that needs the backend is skipped without credentials.
        for (const s of preview.steps.slice(1)) expect(s.if).toBe("env.HAS_CREDENTIALS == 'true'");
        expect(preview.steps[0].if).toBe("env.HAS_CREDENTIALS != 'true'");
        expect(preview.permissions["pull-requests"]).toBe("write");
    });
});

// The plan step's script, run the way GitHub runs it (bash -eo pipefail) with a stand-in `npm`.
describe("the plan step's script", () => {
    const script: string = parse(fs.readFileSync(workflowFile, "utf8")).jobs.plan.steps.find((s: any) => s.id === "plan").run;

    function runScript(codes: Record<string, number>) {
        const dir = tmp("kha-wf-plan-");
        const bin = path.join(dir, "bin");
        fs.mkdirSync(bin);
        for (const stack of Object.keys(codes)) fs.writeFileSync(path.join(dir, `Pulumi.${stack}.yaml`), "config: {}\n");
        fs.writeFileSync(
            path.join(bin, "npm"),
            [
                "#!/bin/bash",
                'echo "$*" >> "$CALLS"',
                'while [ $# -gt 0 ]; do [ "$1" = --stack ] && stack=$2; shift; done',
                'rc_var="RC_${stack//-/_}"',
                'echo "### kubespray-ha plan: stack \\`$stack\\`"',
                '[ "${!rc_var}" = 1 ] && echo "invalid stack config kubespray-ha:cluster: vip.address" >&2',
                'exit "${!rc_var}"',
            ].join("\n"),
            { mode: 0o755 },
        );
        const env: Record<string, string> = {
            PATH: `${bin}:${process.env.PATH}`,
            BASE_SHA: "0123456789abcdef",
            CALLS: path.join(dir, "calls"),
            GITHUB_OUTPUT: path.join(dir, "output"),
            GITHUB_STEP_SUMMARY: path.join(dir, "summary"),
        };
        for (const [stack, rc] of Object.entries(codes)) env[`RC_${stack.replace(/-/g, "_")}`] = String(rc);
        const res = spawnSync("bash", ["--noprofile", "--norc", "-eo", "pipefail", "-c", script], { cwd: dir, env, encoding: "utf8" });
        const read = (f: string) => (fs.existsSync(path.join(dir, f)) ? fs.readFileSync(path.join(dir, f), "utf8") : "");
        return { status: res.status, stdout: res.stdout, calls: read("calls"), comment: read("plan.md"), summary: read("summary"), output: read("output") };
    }

    it("plans every stack against the base commit; exit 2 (a playbook would run) does not fail the step", () => {
        const r = runScript({ dev: 0, "prod-eu": 2 });
        expect(r.status).toBe(0);
        expect(r.calls).toBe("run --silent plan -- --stack dev --base 0123456789abcdef --format md\nrun --silent plan -- --stack prod-eu --base 0123456789abcdef --format md\n");
        expect(r.comment.startsWith("<!-- kubespray-ha-plan -->\n")).toBe(true);
        expect(r.comment).toMatch(/stack `dev`[\s\S]*stack `prod-eu`/);
        expect(r.summary).toBe(r.comment);
        const stacks = /^stacks=(.*)$/m.exec(r.output)![1];
        expect(JSON.parse(stacks)).toEqual([{ stack: "dev", key: "DEV" }, { stack: "prod-eu", key: "PROD_EU" }]);
    });

    it("fails on exit 1 (bad config) after writing every stack's plan and the error into the comment", () => {
        const r = runScript({ a: 1, b: 2 });
        expect(r.status).toBe(1);
        expect(r.comment).toMatch(/stack `a`[\s\S]*The plan failed\*\* \(exit 1\)[\s\S]*vip\.address[\s\S]*stack `b`/);
        expect(r.stdout).toMatch(/::error::npm run plan failed for stack a/);
        expect(/^stacks=(.*)$/m.exec(r.output)![1]).toBe('[{"stack":"a","key":"A"},{"stack":"b","key":"B"}]');
    });

    it("gives an empty matrix when there is no stack", () => {
        const r = runScript({});
        expect(r.status).toBe(0);
        expect(/^stacks=(.*)$/m.exec(r.output)![1]).toBe("[]");
    });
});

// github-script wraps the script in an async function with these parameters.
const AsyncFunction = Object.getPrototypeOf(async () => undefined).constructor;
type IssueComment = { id: number; body: string; user: { type: string } };

/** An actions/github-script body run in `dir` with a stand-in GitHub client (PR 7 of o/r); the API calls it made. */
async function runGithubScript(script: string, dir: string, existing: IssueComment[]): Promise<[string, any][]> {
    const calls: [string, any][] = [];
    const github = {
        paginate: async (_fn: unknown, args: any) => {
            calls.push(["list", args]);
            return existing;
        },
        rest: {
            issues: {
                listComments: () => undefined,
                createComment: async (args: any) => calls.push(["create", args]),
                updateComment: async (args: any) => calls.push(["update", args]),
            },
        },
    };
    const context = { repo: { owner: "o", repo: "r" }, issue: { number: 7 } };
    const cwd = process.cwd();
    process.chdir(dir);
    try {
        await new AsyncFunction("require", "github", "context", script)(require, github, context);
    } finally {
        process.chdir(cwd);
    }
    return calls;
}

// The github-script body, run with a stand-in for the GitHub client: one sticky comment.
describe("the comment step's script", () => {
    const script: string = parse(fs.readFileSync(workflowFile, "utf8")).jobs.plan.steps.find((s: any) => s.uses === "actions/github-script@v7").with.script;

    async function post(existing: IssueComment[], body: string) {
        const dir = tmp("kha-wf-comment-");
        fs.writeFileSync(path.join(dir, "plan.md"), body);
        return runGithubScript(script, dir, existing);
    }

    it("creates the comment once, then updates it in place", async () => {
        const created = await post([{ id: 1, body: "LGTM", user: { type: "User" } }], "<!-- kubespray-ha-plan -->\nplan");
        expect(created.map(([k]) => k)).toEqual(["list", "create"]);
        expect(created[1][1]).toEqual({ owner: "o", repo: "r", issue_number: 7, body: "<!-- kubespray-ha-plan -->\nplan" });
        const updated = await post([{ id: 5, body: "<!-- kubespray-ha-plan -->\nold", user: { type: "Bot" } }], "<!-- kubespray-ha-plan -->\nnew");
        expect(updated[1]).toEqual(["update", { owner: "o", repo: "r", comment_id: 5, body: "<!-- kubespray-ha-plan -->\nnew" }]);
    });

    it("cuts a plan longer than GitHub accepts", async () => {
        const calls = await post([], "<!-- kubespray-ha-plan -->\n" + "x".repeat(70000));
        const body = calls[1][1].body as string;
        expect(body.length).toBeLessThan(65536);
        expect(body).toMatch(/cut: the whole plan is in the job summary/);
    });
});

// ---------------------------------------------------------------------------------------------
// GitHub's expression language, as far as the plan job's `if:` and `env:` use it (anything else throws,
// so a new construct in the workflow needs this updated): literals, contexts with `.name` and `[expr]`,
// ! == != && || and parentheses, and the status functions. `==` on strings ignores case, as GitHub's does.
type Value = string | number | boolean | null | Record<string, unknown>;
interface JobState {
    context: Record<string, unknown>;
    /** A step before this one failed. */
    failed: boolean;
}

const STATUS_FUNCTIONS = ["success", "failure", "cancelled", "always"];

function tokenize(src: string): string[] {
    const tokens: string[] = [];
    const re = /\s*(?:('(?:[^']|'')*')|(\d+(?:\.\d+)?)|([A-Za-z_][A-Za-z0-9_-]*)|(==|!=|&&|\|\||[!().,[\]]))/y;
    let at = 0;
    while (at < src.length) {
        if (/^\s*$/.test(src.slice(at))) break;
        re.lastIndex = at;
        const m = re.exec(src);
        if (!m) throw new Error(`expression not understood at "${src.slice(at)}" in: ${src}`);
        tokens.push(m[1] ?? m[2] ?? m[3] ?? m[4]);
        at = re.lastIndex;
    }
    return tokens;
}

function truthy(v: unknown): boolean {
    return !(v === false || v === null || v === undefined || v === 0 || v === "" || Number.isNaN(v));
}

function looseEqual(a: unknown, b: unknown): boolean {
    if (typeof a === "string" && typeof b === "string") return a.toLowerCase() === b.toLowerCase();
    if (typeof a === typeof b || a === null || b === null) return a === b || (a == null && b == null);
    const num = (v: unknown) => (v === null || v === undefined ? 0 : v === true ? 1 : v === false ? 0 : Number(v));
    return num(a) === num(b);
}

function evaluate(src: string, state: JobState): Value {
    const tokens = tokenize(src);
    let i = 0;
    const peek = () => tokens[i];
    const take = (expected?: string) => {
        const t = tokens[i++];
        if (t === undefined || (expected !== undefined && t !== expected)) throw new Error(`expected ${expected ?? "a token"} at token ${i} in: ${src}`);
        return t;
    };
    const call = (name: string, args: Value[]): Value => {
        switch (name) {
            case "success":
                return !state.failed;
            case "failure":
                return state.failed;
            case "cancelled":
                return false;
            case "always":
                return true;
            default:
                throw new Error(`function ${name}(${args.join(", ")}) not modelled in: ${src}`);
        }
    };
    const primary = (): Value => {
        const t = take();
        if (t === "(") {
            const v = or();
            take(")");
            return v;
        }
        if (t.startsWith("'")) return t.slice(1, -1).replace(/''/g, "'");
        if (/^\d/.test(t)) return Number(t);
        if (t === "true" || t === "false") return t === "true";
        if (t === "null") return null;
        if (!/^[A-Za-z_]/.test(t)) throw new Error(`unexpected "${t}" in: ${src}`);
        if (peek() === "(") {
            take("(");
            const args: Value[] = [];
            while (peek() !== ")") {
                args.push(or());
                if (peek() === ",") take(",");
            }
            take(")");
            return call(t, args);
        }
        if (!(t in state.context)) throw new Error(`context ${t} not modelled in: ${src}`);
        let v: unknown = state.context[t];
        for (;;) {
            let key: string;
            if (peek() === ".") {
                take(".");
                key = take();
            } else if (peek() === "[") {
                take("[");
                key = String(or());
                take("]");
            } else break;
            v = v !== null && typeof v === "object" ? (v as Record<string, unknown>)[key] : undefined;
        }
        return (v ?? null) as Value;
    };
    const unary = (): Value => (peek() === "!" ? (take("!"), !truthy(unary())) : primary());
    const equality = (): Value => {
        let v = unary();
        while (peek() === "==" || peek() === "!=") {
            const op = take();
            const r = unary();
            v = op === "==" ? looseEqual(v, r) : !looseEqual(v, r);
        }
        return v;
    };
    const and = (): Value => {
        let v = equality();
        while (peek() === "&&") {
            take("&&");
            const r = equality();
            v = truthy(v) ? r : v;
        }
        return v;
    };
    const or = (): Value => {
        let v = and();
        while (peek() === "||") {
            take("||");
            const r = and();
            v = truthy(v) ? v : r;
        }
        return v;
    };
    const v = or();
    if (i !== tokens.length) throw new Error(`unexpected "${tokens[i]}" in: ${src}`);
    return v;
}

/** A step's `if:` (absent: success()); without a status function GitHub adds `success() &&`. */
function stepRuns(condition: string | undefined, state: JobState): boolean {
    const src = (condition ?? "success()").trim().replace(/^\$\{\{([\s\S]*)\}\}$/, "$1");
    const hasStatus = tokenize(src).some((t, n, all) => STATUS_FUNCTIONS.includes(t) && all[n + 1] === "(");
    return (hasStatus || !state.failed) && truthy(evaluate(src, state));
}

/** A value with ${{ }} in it, as GitHub substitutes it. */
function substitute(text: string, state: JobState): string {
    return text.replace(/\$\{\{([\s\S]*?)\}\}/g, (_m, expr: string) => {
        const v = evaluate(expr, state);
        return v === null ? "" : typeof v === "object" ? JSON.stringify(v) : String(v);
    });
}

describe("the expression model used below", () => {
    const state: JobState = { context: { github: { repository: "O/r", event: { pull_request: { head: { repo: { full_name: "o/r" } } } } }, steps: { plan: { outcome: "failure" } } }, failed: true };

    it("evaluates what the plan job's conditions use, as GitHub does", () => {
        expect(evaluate("github.event.pull_request.head.repo.full_name == github.repository", state)).toBe(true);
        expect(evaluate("!cancelled() && steps.plan.outcome != 'skipped'", state)).toBe(true);
        expect(evaluate("steps['plan'].outcome == 'Failure' && (false || 'x')", state)).toBe("x");
        expect(evaluate("steps.nope.outcome", state)).toBeNull();
        expect(stepRuns(undefined, state)).toBe(false);
        expect(stepRuns("${{ always() }}", state)).toBe(true);
        expect(stepRuns("steps.plan.outcome == 'failure'", state)).toBe(false); // implicit success()
        expect(substitute("sha=${{ steps.plan.outcome }}", state)).toBe("sha=failure");
    });

    it("refuses what it does not model", () => {
        expect(() => evaluate("hashFiles('x')", state)).toThrow(/not modelled/);
        expect(() => evaluate("vars.X", state)).toThrow(/context vars not modelled/);
        expect(() => evaluate("a ~ b", state)).toThrow(/not understood/);
    });
});

// ---------------------------------------------------------------------------------------------
// The plan job walked step by step for a pull_request event, as the runner would: each `if:` evaluated
// with the outcomes so far. `uses:` steps before the comment (checkout, setup-node, setup-go) are taken
// as done (the fixture repository is the checkout); the tool install and `npm ci` as done; `npm test` is a
// stand-in with the env the step gives it; the plan step runs its real script with the real
// `npm run plan` in the fixture repository; the comment step runs its real script with a stand-in client.
describe("the plan job on a pull request", () => {
    const wf = parse(fs.readFileSync(workflowFile, "utf8"));
    const projectYaml = fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8");
    const stackYaml = (cluster: unknown) => stringify({ config: { "kubespray-ha:cluster": cluster } });

    /** A repository like ours at a PR's head: the project (package.json, scripts, components, node_modules linked), stacks changed on a branch. */
    function fixtureRepo(before: Record<string, unknown>, after: Record<string, unknown>): { dir: string; base: string } {
        const dir = tmp("kha-wf-repo-");
        const git = (...args: string[]) =>
            execFileSync("git", ["-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false", ...args], { cwd: dir, encoding: "utf8" });
        git("init", "-q", "-b", "main");
        fs.writeFileSync(path.join(dir, "Pulumi.yaml"), projectYaml);
        fs.copyFileSync(path.join(root, "package.json"), path.join(dir, "package.json"));
        for (const entry of ["scripts", "components", "node_modules", "tsconfig.json"]) fs.symlinkSync(path.join(root, entry), path.join(dir, entry));
        fs.writeFileSync(path.join(dir, ".gitignore"), "node_modules\nscripts\ncomponents\ntsconfig.json\n");
        const write = (stacks: Record<string, unknown>) => {
            for (const [stack, cluster] of Object.entries(stacks)) fs.writeFileSync(path.join(dir, `Pulumi.${stack}.yaml`), stackYaml(cluster));
        };
        write(before);
        git("add", "-A");
        git("commit", "-q", "-m", "base");
        const base = git("rev-parse", "HEAD").trim();
        git("checkout", "-q", "-b", "change");
        write(after);
        git("add", "-A");
        git("commit", "-q", "-m", "change");
        return { dir, base };
    }

    interface StepResult {
        step: string;
        outcome: "success" | "failure" | "skipped";
        env?: Record<string, string>;
        calls?: [string, any][];
        stdout?: string;
    }

    async function runPlanJob(repo: { dir: string; base: string }, opts: { fork?: boolean; testsFail?: boolean } = {}) {
        const github = {
            repository: "o/r",
            event_name: "pull_request",
            event: { pull_request: { number: 7, base: { sha: repo.base }, head: { repo: { full_name: opts.fork ? "someone/r" : "o/r" } } } },
        };
        const steps: Record<string, { outcome: string }> = {};
        const state: JobState = { context: { github, steps, env: {} }, failed: false };
        const results: StepResult[] = [];
        for (const s of wf.jobs.plan.steps) {
            const label: string = s.name ?? s.run ?? s.uses;
            const result: StepResult = { step: label, outcome: "skipped" };
            if (stepRuns(s.if, state)) {
                result.env = Object.fromEntries(Object.entries((s.env ?? {}) as Record<string, string>).map(([k, v]) => [k, substitute(String(v), state)]));
                if (s.uses === "actions/github-script@v7") {
                    result.calls = await runGithubScript(s.with.script, repo.dir, []);
                    result.outcome = "success";
                } else if (s.id === "plan") {
                    const env = { ...process.env, ...result.env, GITHUB_OUTPUT: path.join(repo.dir, "github-output"), GITHUB_STEP_SUMMARY: path.join(repo.dir, "step-summary") };
                    const r = spawnSync("bash", ["--noprofile", "--norc", "-eo", "pipefail", "-c", s.run], { cwd: repo.dir, env, encoding: "utf8", timeout: 120_000 });
                    result.stdout = r.stdout + r.stderr;
                    result.outcome = r.status === 0 ? "success" : "failure";
                } else if (s.run === "npm test") {
                    result.outcome = opts.testsFail ? "failure" : "success";
                } else {
                    result.outcome = "success";
                }
            }
            if (result.outcome === "failure") state.failed = true;
            if (s.id) steps[s.id] = { outcome: result.outcome };
            results.push(result);
        }
        const read = (f: string) => (fs.existsSync(path.join(repo.dir, f)) ? fs.readFileSync(path.join(repo.dir, f), "utf8") : "");
        const byName = (re: RegExp) => results.find((r) => re.test(r.step))!;
        return { results, failed: state.failed, planMd: read("plan.md"), summary: read("step-summary"), test: byName(/^npm test$/), plan: byName(/^Kubespray plan/), comment: byName(/^Post the plan/) };
    }

    const withWorker = () => {
        const raw = libvirtRaw();
        raw.nodes.push({ name: "kubenode4", ip: "192.168.122.24", roles: ["worker"] });
        return raw;
    };

    it("same-repo PR: the tests pass with the real tests skipped, the real plan runs, the comment step is reached and posts plan.md", async () => {
        const repo = fixtureRepo({ dev: libvirtRaw(), lab: baremetalRaw() }, { dev: withWorker(), lab: baremetalRaw() });
        const job = await runPlanJob(repo);
        expect(job.test).toMatchObject({ outcome: "success", env: { [REAL_TESTS_ENV]: "skip" } });
        expect({ outcome: job.plan.outcome, env: job.plan.env }).toEqual({ outcome: "success", env: { BASE_SHA: repo.base } });
        // The real plans: dev gains a worker (a playbook would run, exit 2), lab is unchanged.
        expect(job.planMd.startsWith("<!-- kubespray-ha-plan -->\n## What Kubespray will be fed\n")).toBe(true);
        expect(job.planMd).toMatch(/^### kubespray-ha plan: stack `dev`$/m);
        expect(job.planMd).toMatch(/^\| added \| `kubenode4` \| `192\.168\.122\.24` \| worker \|/m);
        expect(job.planMd).toMatch(/^### kubespray-ha plan: stack `lab`$/m);
        expect(job.planMd).not.toMatch(/The plan failed/);
        expect(job.summary).toBe(job.planMd);
        // Reached, and what it posts is the plan.md the plan step wrote.
        expect(job.comment.outcome).toBe("success");
        expect(job.comment.calls).toEqual([
            ["list", { owner: "o", repo: "r", issue_number: 7, per_page: 100 }],
            ["create", { owner: "o", repo: "r", issue_number: 7, body: job.planMd }],
        ]);
        expect(job.failed).toBe(false);
    });

    it("a stack whose new config is refused: the comment still says so, then the job fails", async () => {
        const bad = libvirtRaw();
        bad.vip.address = "10.9.9.9";
        const job = await runPlanJob(fixtureRepo({ dev: libvirtRaw() }, { dev: bad }));
        expect(job.plan.outcome).toBe("failure");
        expect(job.plan.stdout).toMatch(/::error::npm run plan failed for stack dev \(exit 1\)/);
        expect(job.comment.outcome).toBe("success");
        expect(job.comment.calls![1][1].body).toMatch(/stack `dev`[\s\S]*\*\*The plan failed\*\* \(exit 1\)[\s\S]*vip\.address/);
        expect(job.failed).toBe(true);
    });

    it("a fork's PR (read-only token): the comment step is skipped, the plan is in the job summary", async () => {
        const job = await runPlanJob(fixtureRepo({ dev: libvirtRaw() }, { dev: withWorker() }), { fork: true });
        expect(job.plan.outcome).toBe("success");
        expect(job.comment).toEqual({ step: "Post the plan as a PR comment", outcome: "skipped" });
        expect(job.summary).toMatch(/stack `dev`/);
    });

    it("failing tests: no plan, no comment (what happened on GitHub before the real tests were skipped there)", async () => {
        const job = await runPlanJob(fixtureRepo({ dev: libvirtRaw() }, { dev: withWorker() }), { testsFail: true });
        expect([job.test.outcome, job.plan.outcome, job.comment.outcome]).toEqual(["failure", "skipped", "skipped"]);
    });
});

// ---------------------------------------------------------------------------------------------
// KUBESPRAY_HA_REAL_TESTS=skip, the switch the workflow's `npm test` gets: explicit, never a default.
describe(`${REAL_TESTS_ENV}=skip`, () => {
    it("is set on the workflow's npm test step only, and never by .ci/run or package.json", () => {
        const wf = parse(fs.readFileSync(workflowFile, "utf8"));
        const holders = Object.entries(wf.jobs as Record<string, any>).flatMap(([job, j]) => [
            ...(j.env?.[REAL_TESTS_ENV] !== undefined ? [`jobs.${job}.env`] : []),
            ...j.steps.filter((s: any) => s.env?.[REAL_TESTS_ENV] !== undefined).map((s: any) => `${job}: ${s.run ?? s.uses}`),
        ]);
        expect(wf.env?.[REAL_TESTS_ENV]).toBeUndefined();
        expect(holders).toEqual(["plan: npm test"]);
        expect(fs.readFileSync(path.join(root, ".ci", "run"), "utf8")).not.toContain(REAL_TESTS_ENV);
        expect(fs.readFileSync(path.join(root, "package.json"), "utf8")).not.toContain(REAL_TESTS_ENV);
    });

    it("takes no other value", () => {
        const saved = process.env[REAL_TESTS_ENV];
        try {
            process.env[REAL_TESTS_ENV] = "1";
            expect(() => realTestsSkipped()).toThrow(/KUBESPRAY_HA_REAL_TESTS=1: the only value is "skip"/);
            process.env[REAL_TESTS_ENV] = "skip";
            expect(realTestsSkipped()).toBe(true);
            delete process.env[REAL_TESTS_ENV];
            expect(realTestsSkipped()).toBe(false);
        } finally {
            if (saved === undefined) delete process.env[REAL_TESTS_ENV];
            else process.env[REAL_TESTS_ENV] = saved;
        }
    });

    // A real test file in a child jest, its prerequisite hidden (an empty cache: no offline mirror), under CI=true.
    function mirrorTestUnderCi(realTests: string | undefined) {
        const env: NodeJS.ProcessEnv = { ...process.env, CI: "true", KUBESPRAY_HA_CACHE: tmp("kha-wf-nocache-") };
        delete env[REAL_TESTS_ENV];
        if (realTests !== undefined) env[REAL_TESTS_ENV] = realTests;
        const r = spawnSync(path.join(root, "node_modules", ".bin", "jest"), ["--ci", "--runInBand", "tests/mirror.test.ts"], { cwd: root, env, encoding: "utf8", timeout: 110_000 });
        return { status: r.status, output: `${r.stdout}\n${r.stderr}`, cache: env.KUBESPRAY_HA_CACHE! };
    }

    it("under CI=true, a real test whose prerequisite is missing is skipped with its reason, and the run passes", () => {
        const r = mirrorTestUnderCi("skip");
        expect(r.output).toContain(`skipping the offline mirror tests of tests/mirror.test.ts: no mirror in ${r.cache}/mirror-v2.31.0 (build it with tests/infra/build-mirror.sh`);
        expect(r.output).toMatch(/○ skipped the offline mirror is built/);
        expect(r.output).toMatch(/^tests: \d+ passed, 0 failed, [1-9]\d* skipped$/m);
        expect(r.status).toBe(0);
    }, 120_000);

    it("without it, under CI=true the same missing prerequisite fails the run", () => {
        const r = mirrorTestUnderCi(undefined);
        expect(r.output).toContain(`the offline mirror tests of tests/mirror.test.ts cannot run under CI: no mirror in ${r.cache}/mirror-v2.31.0`);
        expect(r.output).toMatch(/^tests: \d+ passed, 1 failed, \d+ skipped$/m);
        expect(r.status).toBe(1);
    }, 120_000);
});

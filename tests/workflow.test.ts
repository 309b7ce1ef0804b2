// .github/workflows/preview.yml, checked by a real checker (actionlint, with shellcheck for the
// run: scripts), then parsed back; its plan script and its comment script are run for real.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
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

    it("runs pulumi/actions@v6 preview per stack, commenting on the PR, only with the stack's credentials", () => {
        expect(preview.needs).toBe("plan");
        expect(preview.strategy.matrix.include).toBe("${{ fromJSON(needs.plan.outputs.stacks) }}");
        const pulumi = step(preview, (s) => s.uses === "pulumi/actions@v6");
        expect(pulumi.with).toMatchObject({ command: "preview", "comment-on-pr": true, "cloud-url": "${{ env.BACKEND_URL }}" });
        expect(pulumi.with["stack-name"]).toMatch(/matrix\.stack/);
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

// The github-script body, run with a stand-in for the GitHub client: one sticky comment.
describe("the comment step's script", () => {
    const script: string = parse(fs.readFileSync(workflowFile, "utf8")).jobs.plan.steps.find((s: any) => s.uses === "actions/github-script@v7").with.script;
    // github-script wraps the script in an async function with these parameters.
    const AsyncFunction = Object.getPrototypeOf(async () => undefined).constructor;

    async function post(existing: { id: number; body: string; user: { type: string } }[], body: string) {
        const dir = tmp("kha-wf-comment-");
        fs.writeFileSync(path.join(dir, "plan.md"), body);
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

// A stand-in for `pulumi up` over the KubesprayRun commands: given the specs of the last deployment
// and of this one, run what Pulumi would run (creates, updates, replacements, deletes, in
// predictRuns' order) with the exact scripts and environment of renderCommand, as /bin/sh -c
// children of ONE process per deployment, like the command provider (the deployment stamp).
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ClusterConfig } from "../../components/config/config";
import { InventoryMachine } from "../../components/kubespray/inventory";
import { CommandSpec, inventoryArchive, predictRuns, renderCommand, RunPlan } from "../../components/kubespray/playbook";

/** One shell run by the deployment. */
export interface Step {
    label: string;
    script: string;
    environment: Record<string, string>;
    stdin: string;
}

export interface StepResult {
    label: string;
    status: number | null;
    stdout: string;
    stderr: string;
}

/** One side of a deployment: the config, machines and specs (what Pulumi keeps in its state). */
export interface Render {
    config: ClusterConfig;
    machines: InventoryMachine[];
    specs: CommandSpec[];
}

// The "provider": runs each step in order as its own child and stops at the first failure.
const RUNNER = `
const { spawnSync } = require("child_process");
const fs = require("fs");
const steps = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
const results = [];
for (const s of steps) {
    const r = spawnSync("/bin/sh", ["-c", s.script], {
        input: s.stdin, env: { ...process.env, ...s.environment }, encoding: "utf8", maxBuffer: 256 * 1024 * 1024,
    });
    results.push({ label: s.label, status: r.status, stdout: r.stdout, stderr: r.stderr });
    if (r.status !== 0) break;
}
fs.writeFileSync(process.argv[2], JSON.stringify(results));
`;

/** Runs the steps as one deployment; `env` is the environment of the `pulumi` process. */
export function runDeployment(steps: Step[], env: Record<string, string>): StepResult[] {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kha-deploy-"));
    try {
        const jobs = path.join(dir, "steps.json");
        const out = path.join(dir, "results.json");
        fs.writeFileSync(jobs, JSON.stringify(steps));
        execFileSync(process.execPath, ["-e", RUNNER, jobs, out], { env: { ...process.env, ...env }, stdio: "inherit", timeout: 600_000 });
        return JSON.parse(fs.readFileSync(out, "utf8"));
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

function step(render: Render, spec: CommandSpec, phase: "create" | "update" | "delete", sshKey: string): Step {
    const shell = renderCommand(render.config, spec);
    const script = shell[phase];
    if (script === undefined) throw new Error(`${spec.id} has no ${phase}`);
    const stdin =
        shell.stdin === "ssh-private-key" ? sshKey
        : shell.stdin === "inventory-archive" ? inventoryArchive(render.config, render.machines)
        : "";
    return { label: `${spec.id} ${phase}`, script, environment: shell.environment, stdin };
}

/**
 * The steps Pulumi performs between two renders, per predictRuns' changes: delete scripts come from
 * `before` (what the state stored), everything else from `after`.
 */
export function deploymentSteps(before: Render | undefined, after: Render, sshKey: string): { plan: RunPlan; steps: Step[] } {
    const plan = predictRuns(before?.specs, after.specs);
    const old = new Map((before?.specs ?? []).map((s) => [s.id, s]));
    const now = new Map(after.specs.map((s) => [s.id, s]));
    const steps: Step[] = [];
    const late: Step[] = [];
    for (const change of plan.changes) {
        const prev = old.get(change.id);
        const next = now.get(change.id);
        switch (change.op) {
            case "create":
                steps.push(step(after, next!, "create", sshKey));
                break;
            case "update":
                steps.push(step(after, next!, "update", sshKey));
                break;
            case "replace":
                if (prev!.delete && next!.deleteBeforeReplace) steps.push(step(before!, prev!, "delete", sshKey));
                if (prev!.delete && !next!.deleteBeforeReplace) late.push(step(before!, prev!, "delete", sshKey));
                steps.push(step(after, next!, "create", sshKey));
                break;
            case "delete":
                if (prev!.delete) late.push(step(before!, prev!, "delete", sshKey));
                break;
            case "same":
                break;
        }
    }
    return { plan, steps: [...steps, ...late] };
}

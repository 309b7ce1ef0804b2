// For tests/engine.test.ts: what the real engine reported during one operation (its onEvent stream,
// in sequence order), an SSH key pair, and the tiny consumer program that reads a stack through a
// StackReference.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { EngineEvent, LocalWorkspace, OpType, Stack } from "@pulumi/pulumi/automation";

/** One step event, flattened: the op, the resource's type and name (last URN segment). */
export interface StepRecord {
    seq: number;
    kind: "pre" | "outputs" | "failed";
    op: OpType;
    type: string;
    name: string;
    urn: string;
}

/** Collects the engine events of one operation; pass `log.onEvent` to preview/up/destroy. */
export class EventLog {
    public readonly events: EngineEvent[] = [];
    public readonly onEvent = (e: EngineEvent): void => {
        this.events.push(e);
    };

    /** Step events in the order the engine sent them. */
    steps(kind?: StepRecord["kind"]): StepRecord[] {
        const out: StepRecord[] = [];
        for (const e of [...this.events].sort((a, b) => a.sequence - b.sequence)) {
            const [k, m] =
                e.resourcePreEvent ? ["pre" as const, e.resourcePreEvent.metadata]
                : e.resOutputsEvent ? ["outputs" as const, e.resOutputsEvent.metadata]
                : e.resOpFailedEvent ? ["failed" as const, e.resOpFailedEvent.metadata]
                : [undefined, undefined];
            if (k === undefined || m === undefined || (kind !== undefined && k !== kind)) continue;
            out.push({ seq: e.sequence, kind: k, op: m.op, type: m.type, name: m.urn.split("::").pop()!, urn: m.urn });
        }
        return out;
    }

    /** Planned steps (resourcePreEvent) other than `same`, as "op type name", sorted. */
    changes(): string[] {
        return this.steps("pre").filter((s) => s.op !== "same").map((s) => `${s.op} ${s.type} ${s.name}`).sort();
    }

    /** How many planned steps (resourcePreEvent) per resource type, for one op. */
    countByType(op: OpType): Record<string, number> {
        const counts: Record<string, number> = {};
        for (const s of this.steps("pre").filter((x) => x.op === op)) {
            counts[s.type] = (counts[s.type] ?? 0) + 1;
        }
        return counts;
    }

    /** The inputs the engine planned (resourcePreEvent, new state) for each resource of a type, by name. */
    plannedInputs(type: string): Record<string, Record<string, any>> {
        const out: Record<string, Record<string, any>> = {};
        for (const e of [...this.events].sort((a, b) => a.sequence - b.sequence)) {
            const m = e.resourcePreEvent?.metadata;
            if (m && m.type === type) out[m.urn.split("::").pop()!] = (m.new?.inputs ?? {}) as Record<string, any>;
        }
        return out;
    }

    /** Error diagnostics (the engine's and the program's), joined. */
    errors(): string {
        return this.events
            .filter((e) => e.diagnosticEvent && e.diagnosticEvent.severity === "error")
            .map((e) => e.diagnosticEvent!.message)
            .join("\n");
    }
}


/**
 * A second Pulumi project in `dir` (name `consumer`) that reads the stack named by its config key
 * `consumer:ref` through a StackReference and re-exports its outputs, plus whether `kubeconfig`
 * arrived as a secret (getOutputDetails).
 */
export function writeConsumerProgram(dir: string, nodeModules: string): void {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: consumer\nruntime:\n  name: nodejs\n  options:\n    typescript: true\nmain: index.ts\n");
    fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "consumer", version: "0.0.0", private: true, main: "index.ts" }, null, 2));
    fs.writeFileSync(
        path.join(dir, "tsconfig.json"),
        JSON.stringify({ compilerOptions: { strict: true, target: "es2022", module: "commonjs", moduleResolution: "node", esModuleInterop: true, skipLibCheck: true }, files: ["index.ts"] }, null, 2),
    );
    fs.writeFileSync(
        path.join(dir, "index.ts"),
        `import * as pulumi from "@pulumi/pulumi";

const ref = new pulumi.StackReference(new pulumi.Config("consumer").require("ref"));
export const apiServerUrl = ref.getOutput("apiServerUrl");
export const vip = ref.getOutput("vip");
export const nodes = ref.getOutput("nodes");
export const kubeconfig = ref.getOutput("kubeconfig");
export const kubeconfigIsSecret = ref.getOutputDetails("kubeconfig").then((d) => d.secretValue !== undefined && d.value === undefined);
`,
    );
    fs.symlinkSync(nodeModules, path.join(dir, "node_modules"));
}

/**
 * `pulumi stack export` WITHOUT --show-secrets (the Automation API's exportStack always passes it, so
 * its secrets come back as `{ <sig>, plaintext }`): the state as a user who runs `stack export` sees it.
 */
export function exportWithoutSecrets(binDir: string, stack: Stack): string {
    const ws = stack.workspace as LocalWorkspace;
    return execFileSync(path.join(binDir, "pulumi"), ["stack", "export", "--stack", stack.name, "--cwd", ws.workDir], {
        env: { ...process.env, ...ws.envVars, ...(ws.pulumiHome ? { PULUMI_HOME: ws.pulumiHome } : {}) },
        encoding: "utf8",
        maxBuffer: 64 * 1024 * 1024,
    });
}

/** The Pulumi secret signature: a value `{ [SECRET_SIG_KEY]: SECRET_SIG, ... }` is a secret. */
const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

/**
 * Paths (in a JSON value, e.g. exportStack's deployment) of strings containing `needle` that are NOT
 * inside a secret envelope. Empty: every occurrence is marked secret.
 */
export function unmarkedOccurrences(value: unknown, needle: string, where = "", inSecret = false): string[] {
    if (typeof value === "string") return !inSecret && value.includes(needle) ? [where] : [];
    if (Array.isArray(value)) return value.flatMap((v, i) => unmarkedOccurrences(v, needle, `${where}[${i}]`, inSecret));
    if (value && typeof value === "object") {
        const secret = inSecret || (value as Record<string, unknown>)[SECRET_SIG_KEY] === SECRET_SIG;
        return Object.entries(value).flatMap(([k, v]) => unmarkedOccurrences(v, needle, `${where}.${k}`, secret));
    }
    return [];
}

// The real Pulumi engine for tests: the CLI, language host and plugins that
// tests/infra/install-pulumi.sh built (found through KUBESPRAY_HA_PULUMI_BIN, or in its default
// cache dir), a copy of this project in a temp dir, a file:// backend and a passphrase.
//
//   const engine = findEngine();                       // { binDir, ... } or { reason }
//   const project = copyProject({ dev: stackYaml });   // temp dir with the program
//   const stack = await engineStack(engine, project, "dev");
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LocalWorkspace, PulumiCommand, Stack } from "@pulumi/pulumi/automation";
import { stringify } from "yaml";
import { cacheRoot } from "./vm-image";

const ROOT = path.join(__dirname, "..", "..");
export const PULUMI_VERSION = JSON.parse(fs.readFileSync(path.join(ROOT, "node_modules", "@pulumi", "pulumi", "package.json"), "utf8")).version as string;
export const PASSPHRASE = "kubespray-ha-test-passphrase";

export interface Engine {
    binDir: string;
    /** Provider plugins built at another version than package.json pins (NOTE-*.txt), with the first line of each note. */
    notes: Record<string, string>;
    /** Provider plugins that could not be built (UNAVAILABLE-*.txt), with the reason's first line. */
    unavailable: Record<string, string>;
}

function defaultBinDir(): string {
    return path.join(cacheRoot(), `pulumi-${PULUMI_VERSION}`, "bin");
}

function notes(dir: string, prefix: string): Record<string, string> {
    const found: Record<string, string> = {};
    for (const f of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
        if (f.startsWith(prefix) && f.endsWith(".txt")) {
            const plugin = f.slice(prefix.length, -4).replace(/^pulumi-resource-/, "");
            found[plugin] = fs.readFileSync(path.join(dir, f), "utf8").split("\n")[0];
        }
    }
    return found;
}

/** The engine built by tests/infra/install-pulumi.sh, or the reason it cannot be used. */
export function findEngine(): Engine | { reason: string } {
    const binDir = process.env.KUBESPRAY_HA_PULUMI_BIN ?? defaultBinDir();
    for (const bin of ["pulumi", "pulumi-language-nodejs"]) {
        if (!fs.existsSync(path.join(binDir, bin))) {
            return { reason: `no ${bin} in ${binDir}: run tests/infra/install-pulumi.sh (it builds the Pulumi CLI from Go modules)` };
        }
    }
    const cacheDir = path.dirname(binDir);
    return { binDir, notes: notes(cacheDir, "NOTE-"), unavailable: notes(cacheDir, "UNAVAILABLE-") };
}

/** Why a test needing these provider plugins cannot run, or undefined. Version notes are printed, never hidden. */
export function pluginsMissing(engine: Engine, plugins: string[]): string | undefined {
    const missing = plugins.filter((p) => engine.unavailable[p] !== undefined);
    if (missing.length > 0) {
        return missing.map((p) => `pulumi-resource-${p} is unavailable: ${engine.unavailable[p]}`).join("; ");
    }
    for (const p of plugins.filter((p) => engine.notes[p] !== undefined)) {
        console.log(`note: ${engine.notes[p]}`);
    }
    return undefined;
}

/**
 * A copy of the program (index.ts, components/, Pulumi.yaml, tsconfig.json, package.json,
 * node_modules linked) in a fresh temp dir, with the given stack files Pulumi.<name>.yaml.
 */
export function copyProject(stacks: Record<string, unknown>, extraFiles: Record<string, string> = {}): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kha-engine-"));
    for (const entry of ["index.ts", "Pulumi.yaml", "tsconfig.json", "package.json", "components"]) {
        fs.cpSync(path.join(ROOT, entry), path.join(dir, entry), { recursive: true });
    }
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
    for (const [name, config] of Object.entries(stacks)) {
        fs.writeFileSync(path.join(dir, `Pulumi.${name}.yaml`), stringify({ config }));
    }
    for (const [rel, content] of Object.entries(extraFiles)) {
        fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
        fs.writeFileSync(path.join(dir, rel), content);
    }
    return dir;
}

/** A stack of the copied project on a file:// backend in `<project>/.state`, secrets by passphrase. */
export async function engineStack(engine: Engine, projectDir: string, stackName: string, env: Record<string, string> = {}): Promise<Stack> {
    const state = path.join(projectDir, ".state");
    const home = path.join(projectDir, ".pulumi-home");
    fs.mkdirSync(state, { recursive: true });
    fs.mkdirSync(home, { recursive: true });
    const pulumiCommand = await PulumiCommand.get({ root: path.dirname(engine.binDir), skipVersionCheck: true });
    const workspace = await LocalWorkspace.create({
        workDir: projectDir,
        pulumiHome: home,
        pulumiCommand,
        envVars: {
            PATH: `${engine.binDir}:${process.env.PATH}`,
            PULUMI_BACKEND_URL: `file://${state}`,
            PULUMI_CONFIG_PASSPHRASE: PASSPHRASE,
            PULUMI_SKIP_UPDATE_CHECK: "true",
            PULUMI_DIY_BACKEND_NO_LEGACY_WARNING: "true",
            ...env,
        },
    });
    return Stack.createOrSelect(stackName, workspace);
}

/** The raw text of every file of the file:// backend (the state), to grep for plaintext secrets. */
export function stateText(projectDir: string): string {
    const out: string[] = [];
    const walk = (d: string) => {
        for (const e of fs.readdirSync(d, { withFileTypes: true })) {
            const p = path.join(d, e.name);
            if (e.isDirectory()) walk(p);
            else out.push(fs.readFileSync(p, "utf8"));
        }
    };
    walk(path.join(projectDir, ".state"));
    return out.join("\n");
}

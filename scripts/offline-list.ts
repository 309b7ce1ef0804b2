// `npm run offline-list -- --stack <name> [--format text|json] [--dir <project dir>]
//     [--kubespray-dir <dir>] [--ansible-playbook <path>]`:
// every file (with its sha256) and every image this stack's Kubespray run pulls, evaluated by real
// Ansible from the Kubespray tree at kubespray.dir (components/review/offline-list.ts).
// Exit 0: listed (warnings on stderr); 1: error (bad config, no tree at kubespray.dir, Ansible failed).
import * as fs from "fs";
import * as path from "path";
import { ConfigError, parseClusterConfig } from "../components/config/config";
import { readStackConfig } from "../components/config/stackfile";
import { billOfMaterials, evaluateDownloads, formatBomJson, formatBomText } from "../components/review/offline-list";
import { CommandIo, parseStackArgs, UsageError } from "./args";

const USAGE = "usage: offline-list --stack <name> [--format text|json] [--dir <project dir>] [--kubespray-dir <dir>] [--ansible-playbook <path>]";

export type OfflineListIo = CommandIo;

interface Args {
    stack: string;
    format: "text" | "json";
    dir: string;
    kubesprayDir?: string;
    ansiblePlaybook?: string;
}

function parseArgs(argv: string[]): Args {
    const args = parseStackArgs(argv, ["format", "dir", "kubespray-dir", "ansible-playbook"], USAGE);
    const format = args.format ?? "text";
    if (format !== "text" && format !== "json") throw new UsageError("--format must be one of text, json");
    return { stack: args.stack, format, dir: args.dir ?? ".", kubesprayDir: args["kubespray-dir"], ansiblePlaybook: args["ansible-playbook"] };
}

/** A command name stays a PATH lookup; a path is relative to the project dir, like kubespray.dir. */
function executable(value: string, projectDir: string): string {
    return value.includes("/") ? path.resolve(projectDir, value) : value;
}

export function runOfflineList(argv: string[], io: OfflineListIo): number {
    try {
        const args = parseArgs(argv);
        const dir = path.resolve(io.cwd, args.dir);
        const stackFile = path.join(dir, `Pulumi.${args.stack}.yaml`);
        if (!fs.existsSync(stackFile)) throw new Error(`no stack file ${stackFile}`);
        const { cluster } = readStackConfig(fs.readFileSync(path.join(dir, "Pulumi.yaml"), "utf8"), fs.readFileSync(stackFile, "utf8"), args.stack);
        const config = parseClusterConfig(cluster, { stack: args.stack });
        const kubesprayDir = args.kubesprayDir ? path.resolve(io.cwd, args.kubesprayDir) : path.resolve(dir, config.kubespray.dir);
        const ansiblePlaybook = args.ansiblePlaybook ? executable(args.ansiblePlaybook, io.cwd) : executable(config.kubespray.ansiblePlaybook, dir);
        const evaluations = evaluateDownloads(config, { kubesprayDir, ansiblePlaybook });
        const bom = billOfMaterials(config, evaluations, kubesprayDir);
        io.stdout(args.format === "json" ? formatBomJson(bom) : formatBomText(bom));
        if (args.format === "json") for (const w of bom.warnings) io.stderr(`offline-list: warning: ${w}\n`);
        return 0;
    } catch (err) {
        io.stderr(err instanceof ConfigError ? `${err.message}\n` : `offline-list: ${(err as Error).message}\n`);
        return 1;
    }
}

if (require.main === module) {
    process.exitCode = runOfflineList(process.argv.slice(2), {
        cwd: process.cwd(),
        stdout: (t) => process.stdout.write(t),
        stderr: (t) => process.stderr.write(t),
    });
}

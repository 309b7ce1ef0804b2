// `npm run render -- --stack <name> --out <dir>`: validates a stack's config and writes
// the Kubespray inventory exactly as `pulumi up` feeds it, offline (no Pulumi CLI,
// no cloud account). Exits non-zero with the failing config keys on bad input.
import * as fs from "fs";
import * as path from "path";
import { ConfigError, parseClusterConfig } from "../components/config/config";
import { renderInventory, renderTimeMachines } from "../components/kubespray/inventory";
import { summaryLines, writeInventory } from "../components/review/summary";
import { readStackConfig } from "../components/config/stackfile";

function parseArgs(argv: string[]): { stack: string; out: string; dir: string } {
    const args: Record<string, string> = {};
    for (let i = 0; i < argv.length; i++) {
        const m = /^--(stack|out|dir)(?:=(.*))?$/.exec(argv[i]);
        if (!m) throw new Error(`unknown argument ${argv[i]}; usage: render --stack <name> --out <dir> [--dir <project dir>]`);
        args[m[1]] = m[2] ?? argv[++i];
    }
    return { stack: args.stack ?? "dev", out: args.out ?? "out", dir: args.dir ?? "." };
}

function main(): void {
    const { stack, out, dir } = parseArgs(process.argv.slice(2));
    const projectYaml = fs.readFileSync(path.join(dir, "Pulumi.yaml"), "utf8");
    const stackFile = path.join(dir, `Pulumi.${stack}.yaml`);
    if (!fs.existsSync(stackFile)) throw new Error(`no stack file ${stackFile}`);
    const { cluster, securePaths, bgpPeerPasswords } = readStackConfig(projectYaml, fs.readFileSync(stackFile, "utf8"), stack);
    const config = parseClusterConfig(cluster, { stack, securePaths, bgpPeerPasswords });
    for (const w of config.warnings) console.error(`warning: ${w.key}: ${w.message}`);
    const files = renderInventory(config, renderTimeMachines(config));
    const inventoryDir = path.join(out, "inventory");
    writeInventory(inventoryDir, files);
    console.log(summaryLines(config, renderTimeMachines(config)).join("\n"));
    console.log(`wrote ${Object.keys(files).map((f) => path.join(inventoryDir, f)).join(", ")}`);
}

try {
    main();
} catch (err) {
    console.error(err instanceof ConfigError ? err.message : `render: ${(err as Error).message}`);
    process.exit(1);
}

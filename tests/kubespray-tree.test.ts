// Every playbook the program can run exists in the REAL Kubespray trees (v2.25.1 and v2.31.0, extracted
// from ../shared/third-party-src by tests/infra/kubespray.sh, cached) and passes
// `ansible-playbook --syntax-check` with the ansible-core each version's requirements.txt asks for,
// against an inventory the program renders. The stand-in Kubespray cannot catch a wrong path (issue 12:
// facts.yml is playbooks/facts.yml in both versions).
// Without the tarballs, Python or PyPI the venvs cannot be built: skipped with the reason printed, and a
// failure under CI.
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { KUBESPRAY_VERSIONS, parseClusterConfig } from "../components/config/config";
import { renderInventory, renderTimeMachines } from "../components/kubespray/inventory";
import { PLAYBOOKS } from "../components/kubespray/playbook";
import { baremetalRaw } from "./fixtures";
import { tempDirs } from "./helpers/tmp";

jest.setTimeout(300_000);

const SCRIPT = path.join(__dirname, "infra", "kubespray.sh");
const tmp = tempDirs();

/** The cached tree and venv of a version (built here when missing: a few minutes), or why not. */
function kubespray(version: string): { tree: string; bin: string } | { reason: string } {
    const r = spawnSync(SCRIPT, [version], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    if (r.status !== 0) {
        return { reason: `tests/infra/kubespray.sh ${version} failed (${r.status ?? r.signal}): ${(r.stderr ?? "").trim().split("\n").slice(-5).join(" | ")}` };
    }
    const [tree, bin] = r.stdout.trim().split("\n");
    return { tree, bin };
}

/** The program's inventory for a baremetal config of this Kubespray version, written to a temp dir. */
function writeInventory(version: string): string {
    const config = parseClusterConfig({ ...baremetalRaw(), kubesprayVersion: version }, { stack: "test" });
    const dir = path.join(tmp(`kha-kubespray-tree-${version}-`), "inventory");
    for (const [file, content] of Object.entries(renderInventory(config, renderTimeMachines(config)))) {
        fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
        fs.writeFileSync(path.join(dir, file), content);
    }
    return path.join(dir, "hosts.yaml");
}

function run(cmd: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<{ code: number | null; output: string }> {
    return new Promise((resolve, reject) => {
        const child = spawn(cmd, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
        let output = "";
        child.stdout.on("data", (d) => (output += d.toString()));
        child.stderr.on("data", (d) => (output += d.toString()));
        child.once("error", reject);
        child.once("close", (code) => resolve({ code, output }));
    });
}

for (const version of KUBESPRAY_VERSIONS) {
    const found = kubespray(version);
    if ("reason" in found) {
        if (process.env.CI) {
            test(`Kubespray ${version} and its Ansible are available`, () => {
                throw new Error(`tests/kubespray-tree.test.ts cannot run under CI: ${found.reason}`);
            });
        } else {
            console.warn(`skipping the real Kubespray ${version} tree checks: ${found.reason}`);
        }
        continue;
    }
    const { tree, bin } = found;

    describe(`real Kubespray ${version}`, () => {
        let inventory = "";
        beforeAll(() => {
            inventory = writeInventory(version);
        });

        it("has every playbook the program runs, at the path it runs it from", () => {
            const missing = PLAYBOOKS.filter((p) => !fs.existsSync(path.join(tree, p)));
            expect(missing).toEqual([]);
        });

        it.each([...PLAYBOOKS])("%s passes ansible-playbook --syntax-check with the rendered inventory", async (playbook) => {
            const { code, output } = await run(path.join(bin, "ansible-playbook"), ["--syntax-check", "-i", inventory, path.join(tree, playbook)], {
                cwd: tree,
                env: { ...process.env, ANSIBLE_CONFIG: path.join(tree, "ansible.cfg"), ANSIBLE_NOCOLOR: "1", PATH: `${bin}:${process.env.PATH}` },
            });
            if (code !== 0) throw new Error(`ansible-playbook --syntax-check ${playbook} (Kubespray ${version}) exited ${code}:\n${output.slice(-3000)}`);
            expect(output).toContain(`playbook: ${path.join(tree, playbook)}`);
        });
    });
}

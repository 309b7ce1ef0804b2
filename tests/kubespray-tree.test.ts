// Every playbook the program can run exists in the REAL Kubespray trees (v2.25.1 and v2.31.0, extracted
// from ../shared/third-party-src by tests/infra/kubespray.sh, cached) and passes
// `ansible-playbook --syntax-check` with the ansible-core each version's requirements.txt asks for,
// against an inventory the program renders. The stand-in Kubespray cannot catch a wrong path (issue 12:
// facts.yml is playbooks/facts.yml in both versions).
// Without the tarballs, Python or PyPI the venvs cannot be built: skipped with the reason printed, and a
// failure under CI.
import * as fs from "fs";
import * as path from "path";
import { KUBESPRAY_VERSIONS, parseClusterConfig } from "../components/config/config";
import { renderInventory, renderTimeMachines } from "../components/kubespray/inventory";
import { PLAYBOOKS } from "../components/kubespray/playbook";
import { baremetalRaw } from "./fixtures";
import { kubesprayTree, run } from "./helpers/kubespray-tree";
import { requireOrSkip } from "./helpers/real-tests";
import { tempDirs } from "./helpers/tmp";

jest.setTimeout(300_000);

const tmp = tempDirs();

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

for (const version of KUBESPRAY_VERSIONS) {
    const found = kubesprayTree(version);
    if ("reason" in found) {
        requireOrSkip(`the real Kubespray ${version} tree checks of tests/kubespray-tree.test.ts`, found.reason, `Kubespray ${version} and its Ansible are available`);
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

// The code layout keeps its promises: no import cycles, config/ imports no backend, the pure
// modules import nothing from Pulumi, every folder says what it holds, and the README's code map
// names every file of components/ and tests/infra/.
import * as fs from "fs";
import * as path from "path";
import * as ts from "typescript";

const ROOT = path.resolve(__dirname, "..");

function walk(dir: string, pred: (file: string) => boolean): string[] {
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
        const full = path.join(dir, e.name);
        if (e.isDirectory()) return e.name === "node_modules" ? [] : walk(full, pred);
        return pred(full) ? [full] : [];
    });
}

const sources = [path.join(ROOT, "index.ts"), ...walk(path.join(ROOT, "components"), (f) => f.endsWith(".ts")), ...walk(path.join(ROOT, "scripts"), (f) => f.endsWith(".ts"))];
const rel = (f: string) => path.relative(ROOT, f);

/** Every runtime import of a file (type-only imports are erased): relative ones resolved to repo files, others as package names. */
function importsOf(file: string): { local: string[]; packages: string[] } {
    const source = ts.createSourceFile(file, fs.readFileSync(file, "utf8"), ts.ScriptTarget.Latest);
    const local: string[] = [];
    const packages: string[] = [];
    for (const stmt of source.statements) {
        if (!(ts.isImportDeclaration(stmt) || ts.isExportDeclaration(stmt)) || stmt.moduleSpecifier === undefined) continue;
        if (ts.isImportDeclaration(stmt) ? stmt.importClause?.isTypeOnly : stmt.isTypeOnly) continue;
        const fileName = (stmt.moduleSpecifier as ts.StringLiteral).text;
        if (!fileName.startsWith(".")) {
            packages.push(fileName);
            continue;
        }
        const base = path.resolve(path.dirname(file), fileName);
        const hit = [`${base}.ts`, path.join(base, "index.ts"), base].find((c) => fs.existsSync(c) && fs.statSync(c).isFile());
        if (hit === undefined) throw new Error(`${rel(file)}: cannot resolve ${fileName}`);
        local.push(hit);
    }
    return { local, packages };
}

const graph = new Map(sources.map((f) => [f, importsOf(f)]));

describe("code layout", () => {
    it("has no import cycles", () => {
        const cycles: string[] = [];
        const state = new Map<string, "visiting" | "done">();
        const visit = (file: string, stack: string[]) => {
            if (state.get(file) === "done") return;
            if (state.get(file) === "visiting") {
                cycles.push([...stack.slice(stack.indexOf(file)), file].map(rel).join(" -> "));
                return;
            }
            state.set(file, "visiting");
            for (const next of graph.get(file)?.local ?? []) visit(next, [...stack, file]);
            state.set(file, "done");
        };
        sources.forEach((f) => visit(f, []));
        expect(cycles).toEqual([]);
    });

    it("keeps config/ free of backends and of the Kubespray step", () => {
        const offending = sources
            .filter((f) => rel(f).startsWith("components/config/"))
            .flatMap((f) => graph.get(f)!.local.filter((i) => !rel(i).startsWith("components/config/") && !rel(i).startsWith("components/shared/")).map((i) => `${rel(f)} imports ${rel(i)}`));
        expect(offending).toEqual([]);
    });

    it("keeps the pure modules free of Pulumi (only components and the config boundary import it)", () => {
        const pulumiImporters = sources
            .filter((f) => rel(f).startsWith("components/"))
            .filter((f) => graph.get(f)!.packages.some((p) => p.startsWith("@pulumi/")))
            .map(rel)
            .sort();
        // Each of these is a ComponentResource or the boundary reading pulumi.Config; everything else is pure.
        expect(pulumiImporters).toEqual([
            "components/config/stack.ts",
            "components/kubespray/run.ts",
            "components/nodes/baremetal.ts",
            "components/nodes/hcloud/hcloud.ts",
            "components/nodes/libvirt/libvirt.ts",
            "components/nodes/machines.ts",
        ]);
    });

    it("says in each folder's README what the folder holds, naming each of its files", () => {
        const dirs = [...walk(path.join(ROOT, "components"), () => true).map((f) => path.dirname(f)), path.join(ROOT, "tests", "infra")];
        for (const dir of [...new Set(dirs)]) {
            const readme = path.join(dir, "README.md");
            expect(fs.existsSync(readme) ? rel(readme) : `missing ${rel(readme)}`).toBe(rel(readme));
            const text = fs.readFileSync(readme, "utf8");
            const entries = fs.readdirSync(dir).filter((e) => e !== "README.md");
            expect(entries.filter((e) => !text.includes(e)).map((e) => `${rel(dir)}/${e} not named in its README`)).toEqual([]);
        }
    });

    it("has a README code map naming every folder and file of components/", () => {
        const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
        const map = readme.slice(readme.indexOf("## Code map"));
        expect(map.length).toBeGreaterThan(0);
        const files = walk(path.join(ROOT, "components"), (f) => f.endsWith(".ts")).map((f) => path.basename(f));
        const folders = [...new Set(walk(path.join(ROOT, "components"), () => true).map((f) => path.basename(path.dirname(f))))];
        expect([...files, ...folders].filter((n) => !map.includes(n))).toEqual([]);
    });
});

// The Go unit tests of our stand-in provider plugins (diff semantics, running commands,
// secrets, schemas) run with the rest of the suite.
import { spawnSync } from "child_process";
import * as path from "path";

const dir = path.join(__dirname, "..", "tools", "provider-standins");
const hasGo = spawnSync("go", ["version"]).status === 0;

if (!hasGo) {
    console.warn("skipping the stand-in provider Go tests: no go on PATH");
}

(hasGo || process.env.CI ? describe : describe.skip)("stand-in provider plugins (go test)", () => {
    it("pass their Go tests", () => {
        const res = spawnSync("go", ["test", "-count=1", "./..."], {
            cwd: dir,
            encoding: "utf8",
            env: { ...process.env, CGO_ENABLED: "0", GOFLAGS: "-mod=readonly" },
            timeout: 10 * 60_000,
        });
        if (res.status !== 0) {
            throw new Error(`go test failed (${res.status ?? res.error?.message}):\n${res.stdout}\n${res.stderr}`);
        }
        expect(res.stdout).toMatch(/^ok\s+kubespray-ha\/provider-standins\/internal\/command/m);
        expect(res.stdout).toMatch(/^ok\s+kubespray-ha\/provider-standins\/internal\/kubernetes/m);
    });
});

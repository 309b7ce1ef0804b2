// components/config/kubespray-versions.ts is what the program believes about each Kubespray version
// (supported kube versions, the kube_version default and form, kube_proxy_mode values, the kube-vip pin).
// It is generated from the real release tarballs; this test re-derives it from them and fails when the
// checked-in module differs, so it cannot drift from Kubespray. Without the tarballs it skips with the
// reason printed (and fails under CI).
import * as fs from "fs";
import { KUBE_PROXY_MODES, KUBESPRAY_VERSIONS } from "../components/config/config";
import { KUBESPRAY_VERSION_FACTS } from "../components/config/kubespray-versions";
import { deriveAll, MODULE_PATH, renderModule, tarballPath } from "./infra/gen-kubespray-versions";
import { requireOrSkip } from "./helpers/real-tests";

jest.setTimeout(120_000);

const missing = KUBESPRAY_VERSIONS.filter((v) => !fs.existsSync(tarballPath(v)));

describe("the supported Kubespray versions", () => {
    it("are exactly the versions the config accepts, in the same order", () => {
        expect(Object.keys(KUBESPRAY_VERSION_FACTS)).toEqual([...KUBESPRAY_VERSIONS]);
    });
    it("offer every kubeProxyMode the schema knows, and no other", () => {
        const union = new Set(Object.values(KUBESPRAY_VERSION_FACTS).flatMap((f) => [...f.kubeProxyModes]));
        expect([...union].sort()).toEqual([...KUBE_PROXY_MODES].sort());
    });
});

requireOrSkip("the Kubespray source checks of tests/kubespray-versions.test.ts", missing.length > 0 ? `missing ${missing.map(tarballPath).join(", ")}` : undefined, "has the Kubespray tarballs");

(missing.length === 0 ? describe : describe.skip)("components/config/kubespray-versions.ts against the real Kubespray source", () => {
    let derived: ReturnType<typeof deriveAll>;
    beforeAll(() => {
        derived = deriveAll(KUBESPRAY_VERSIONS);
    });

    it("holds what the tarballs say (else: npx ts-node --transpile-only tests/infra/gen-kubespray-versions.ts --write)", () => {
        expect(KUBESPRAY_VERSION_FACTS).toEqual(derived);
        expect(fs.readFileSync(MODULE_PATH, "utf8")).toBe(renderModule(derived));
    });

    it("derives non-empty lists whose default is one of them, in one form per version", () => {
        for (const [version, f] of Object.entries(derived)) {
            expect({ version, count: f.kubeVersions.length > 0 }).toEqual({ version, count: true });
            expect(f.kubeVersions).toContain(f.defaultKubeVersion);
            expect(f.kubeVersions.every((v) => v.startsWith("v") === (f.kubeVersionPrefix === "v"))).toBe(true);
            expect(f.kubeProxyModes).toContain("ipvs");
        }
    });
});

// Secret values inside the cluster config (`pulumi config set --secret --path 'cluster.groupVars.x'`):
// the offline tools never hold them, the program keeps everything they reach secret, and a secret where
// it cannot stay secret is refused naming its path.
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { stringify } from "yaml";
import { ConfigError, parseClusterConfig } from "../components/config/config";
import { clusterSecurePaths, loadProgramInputs } from "../components/config/stack";
import { readStackConfig } from "../components/config/stackfile";
import { renderInventory, renderTimeMachines } from "../components/kubespray/inventory";
import { hcloudRaw } from "./fixtures";
import { adminConf, fakeMachines, isRawSecret, recordingMocks, Registration, valueOf, withoutSecrets } from "./helpers/kubespray";
import { tempDirs } from "./helpers/tmp";

const ROOT = path.join(__dirname, "..");
const PLAINTEXT = "s3cr3t-groupvar-kha";
const CIPHERTEXT = "v1:abcdefghijklmnop==";
const tmp = tempDirs();

/** A stack file whose cluster has one secure groupVars leaf. */
function stackYaml(secureAt: (cluster: any) => void): string {
    const cluster = hcloudRaw(3, 1);
    cluster.groupVars = { plain_var: "x" };
    secureAt(cluster);
    return stringify({ config: { "kubespray-ha:cluster": cluster } });
}

describe("secrets in the stack file, offline (render, plan)", () => {
    const project = fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8");

    it("replaces each secure leaf by a placeholder naming its path, never the ciphertext", () => {
        const yaml = stackYaml((c) => (c.groupVars.api_token = { secure: CIPHERTEXT }));
        const { cluster, securePaths } = readStackConfig(project, yaml, "test");
        expect(securePaths).toEqual(["groupVars.api_token"]);
        const config = parseClusterConfig(cluster, { stack: "test", securePaths });
        const files = renderInventory(config, renderTimeMachines(config));
        const extra = files["group_vars/k8s_cluster/zz-extra.yml"];
        expect(extra).toMatch(/api_token: <secret groupVars\.api_token, ciphertext sha256:[0-9a-f]{12}>/);
        expect(JSON.stringify(files)).not.toContain(CIPHERTEXT);
        expect(config.inventorySecrets).toContain("kubespray-ha:cluster groupVars.api_token");
    });

    it("shows a changed secret as a changed placeholder (the plan sees it) without showing either value", () => {
        const a = readStackConfig(project, stackYaml((c) => (c.groupVars.api_token = { secure: CIPHERTEXT })), "test").cluster as any;
        const b = readStackConfig(project, stackYaml((c) => (c.groupVars.api_token = { secure: "v1:other==" })), "test").cluster as any;
        expect(a.groupVars.api_token).not.toBe(b.groupVars.api_token);
    });

    it("sends a secret BGP peer password to its own secret key", () => {
        const yaml = stackYaml((c) => (c.vip = { address: "10.0.1.5", mode: "bgp", bgp: { localAs: 65000, peers: [{ address: "10.0.1.1", as: 65001, password: { secure: CIPHERTEXT } }] } }));
        const { cluster, securePaths } = readStackConfig(project, yaml, "test");
        expect(() => parseClusterConfig(cluster, { stack: "test", securePaths })).toThrow(/vip\.bgp\.peers\[0\]\.password: must not be set here: BGP peer passwords go in the secret kubespray-ha:bgpPeerPasswords/);
    });

    it("refuses a secret outside groupVars, naming its path", () => {
        const yaml = stackYaml((c) => (c.vip = { address: { secure: CIPHERTEXT } }));
        const { cluster, securePaths } = readStackConfig(project, yaml, "test");
        expect(() => parseClusterConfig(cluster, { stack: "test", securePaths })).toThrow(ConfigError);
        expect(() => parseClusterConfig(cluster, { stack: "test", securePaths })).toThrow(/vip\.address: must not be a secret: only groupVars values may be/);
    });
});

describe("secrets in the cluster config, in the program", () => {
    let registrations: Registration[];
    let KubesprayRun: typeof import("../components/kubespray/run").KubesprayRun;
    beforeAll(async () => {
        registrations = await recordingMocks(() => adminConf("https://10.0.1.5:6443"));
        ({ KubesprayRun } = await import("../components/kubespray/run"));
    });

    it("finds the secret paths in the stack file when Pulumi marks the cluster key secret", () => {
        const dir = tmp("kha-secrets-");
        fs.copyFileSync(path.join(ROOT, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
        fs.writeFileSync(path.join(dir, "Pulumi.test.yaml"), stackYaml((c) => (c.groupVars.api_token = { secure: CIPHERTEXT })));
        pulumi.runtime.setAllConfig({}, ["kubespray-ha:cluster"]);
        expect(clusterSecurePaths("test", dir)).toEqual(["groupVars.api_token"]);
        // Without a readable stack file (config from ESC): every groupVars value counts as secret.
        expect(clusterSecurePaths("test", tmp("kha-empty-"))).toEqual(["groupVars.*"]);
        pulumi.runtime.setAllConfig({}, []);
        expect(clusterSecurePaths("test", dir)).toEqual([]);
    });

    it("marks the inventory secret in loadProgramInputs when the cluster key holds a secret", () => {
        const raw = hcloudRaw(3, 1);
        raw.groupVars = { api_token: PLAINTEXT };
        pulumi.runtime.setAllConfig(
            { "kubespray-ha:cluster": JSON.stringify(raw), "kubespray-ha:sshPrivateKey": "key", "hcloud:token": "t" },
            ["kubespray-ha:cluster", "kubespray-ha:sshPrivateKey", "hcloud:token"],
        );
        expect(loadProgramInputs("no-such-stack").config.inventorySecrets).toEqual(["kubespray-ha:cluster groupVars.*"]);
    });

    it("keeps the inventory output, the inventory stdin, the triggers and the specs secret", async () => {
        const raw = hcloudRaw(3, 1);
        raw.groupVars = { api_token: PLAINTEXT };
        const config = parseClusterConfig(raw, { stack: "test", securePaths: ["groupVars.api_token"] });
        const run = new KubesprayRun("sec", { config, machines: fakeMachines(config), sshPrivateKey: "key" });
        await Promise.all(Object.values(run.commands).map((c) => valueOf(c.urn)));
        expect(await pulumi.isSecret(run.inventory)).toBe(true);
        expect(await pulumi.isSecret(run.commandSpecs)).toBe(true);
        expect((await valueOf(run.inventory))["group_vars/k8s_cluster/zz-extra.yml"]).toContain(PLAINTEXT);
        const mine = registrations.filter((r) => r.name.startsWith("sec-") && r.type === "command:local:Command");
        expect(mine.length).toBeGreaterThan(3);
        const inventory = mine.find((r) => r.name === "sec-inventory")!;
        expect(isRawSecret(inventory.rawInputs.stdin)).toBe(true);
        expect(isRawSecret(mine.find((r) => r.name === "sec-cluster")!.rawInputs.triggers)).toBe(true);
        // Nowhere in plain text: strip every secret-wrapped value, then look for the plaintext.
        for (const r of mine) expect(JSON.stringify(withoutSecrets(r.rawInputs))).not.toContain(PLAINTEXT);
    });

    it("leaves a config without secrets in plain text (reviewable previews)", async () => {
        const config = parseClusterConfig(hcloudRaw(3, 1), { stack: "test" });
        const run = new KubesprayRun("pub", { config, machines: fakeMachines(config), sshPrivateKey: "key" });
        await Promise.all(Object.values(run.commands).map((c) => valueOf(c.urn)));
        expect(await pulumi.isSecret(run.inventory)).toBe(false);
        expect(isRawSecret(registrations.find((r) => r.name === "pub-inventory")!.rawInputs.stdin)).toBe(false);
    });
});

// The program's config boundary under Pulumi's mock runtime: bad input fails before any
// resource is registered, with a RunError naming the key; secrets enter as secrets.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { loadProgramInputs } from "../components/config/stack";
import { hcloudRaw, libvirtRaw } from "./fixtures";
import { recordingMocks, Recorded, valueOf } from "./helpers/mocks";

let registered: Recorded[];

beforeAll(async () => {
    registered = await recordingMocks("test", true);
});

const KEY_TEXT = "-----BEGIN OPENSSH PRIVATE KEY-----\nfake-key-material\n-----END OPENSSH PRIVATE KEY-----\n";

function setConfig(cluster: unknown, extra: Record<string, string> = {}, secretKeys: string[] = []) {
    pulumi.runtime.setAllConfig({ "kubespray-ha:cluster": JSON.stringify(cluster), ...extra }, secretKeys);
}

describe("loadProgramInputs", () => {
    let keyFile: string;
    beforeAll(() => {
        keyFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "kha-")), "id");
        fs.writeFileSync(keyFile, KEY_TEXT, { mode: 0o600 });
    });

    it("reads the key file into a secret", async () => {
        const raw = libvirtRaw();
        raw.ssh.privateKeyPath = keyFile;
        setConfig(raw);
        const inputs = loadProgramInputs("test");
        expect(await pulumi.isSecret(inputs.sshPrivateKey)).toBe(true);
        expect(await valueOf(inputs.sshPrivateKey)).toBe(KEY_TEXT);
        expect(inputs.hcloudToken).toBeUndefined();
    });

    it("takes the key from the secret config key instead", async () => {
        const raw = libvirtRaw();
        delete raw.ssh.privateKeyPath;
        setConfig(raw, { "kubespray-ha:sshPrivateKey": KEY_TEXT }, ["kubespray-ha:sshPrivateKey"]);
        const inputs = loadProgramInputs("test");
        expect(await pulumi.isSecret(inputs.sshPrivateKey)).toBe(true);
    });

    it("fails naming the key when no SSH private key is configured", () => {
        const raw = libvirtRaw();
        delete raw.ssh.privateKeyPath;
        setConfig(raw);
        expect(() => loadProgramInputs("test")).toThrow(pulumi.RunError);
        expect(() => loadProgramInputs("test")).toThrow(/kubespray-ha:sshPrivateKey: missing SSH private key/);
    });

    it("fails naming ssh.privateKeyPath when the file cannot be read", () => {
        setConfig(libvirtRaw());
        expect(() => loadProgramInputs("test")).toThrow(/ssh\.privateKeyPath: cannot read \/nonexistent\/id_ed25519/);
    });

    it("fails naming hcloud:token when the hcloud token is missing", () => {
        const raw = hcloudRaw();
        raw.ssh.privateKeyPath = keyFile;
        setConfig(raw);
        expect(() => loadProgramInputs("test")).toThrow(/hcloud:token: missing Hetzner Cloud API token/);
    });

    it("keeps the hcloud token secret", async () => {
        const raw = hcloudRaw();
        raw.ssh.privateKeyPath = keyFile;
        setConfig(raw, { "hcloud:token": "t".repeat(64) }, ["hcloud:token"]);
        const inputs = loadProgramInputs("test");
        expect(await pulumi.isSecret(inputs.hcloudToken!)).toBe(true);
    });

    it("fails on a bad cluster config with a RunError naming the key", () => {
        const raw = libvirtRaw();
        raw.vip.address = "192.168.122.255";
        setConfig(raw);
        expect(() => loadProgramInputs("test")).toThrow(/vip\.address: 192\.168\.122\.255 is the broadcast address/);
    });

    it("registered no resource while failing", () => {
        expect(registered).toEqual([]);
    });
});

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

    it("logs keys without effect on the backend with pulumi.log.warn, and still loads (issue 12)", () => {
        const raw = hcloudRaw();
        raw.ssh.privateKeyPath = keyFile;
        raw.interface = "eth0";
        raw.vip.leaseDuration = 10;
        setConfig(raw, { "hcloud:token": "t".repeat(64) }, ["hcloud:token"]);
        const warn = jest.spyOn(pulumi.log, "warn").mockImplementation(() => Promise.resolve());
        try {
            const inputs = loadProgramInputs("test");
            expect(inputs.config.warnings.map((w) => w.key)).toEqual(["interface", "vip.leaseDuration"]);
            const logged = warn.mock.calls.map((c) => c[0]);
            expect(logged).toEqual([
                expect.stringMatching(/^kubespray-ha:cluster interface: has no effect/),
                expect.stringMatching(/^kubespray-ha:cluster vip\.leaseDuration: has no effect/),
            ]);
        } finally {
            warn.mockRestore();
        }
    });

    const bgpRaw = () => {
        const raw = libvirtRaw();
        raw.ssh.privateKeyPath = keyFile;
        raw.vip = { address: "192.168.122.100", mode: "bgp", bgp: { localAs: 65001, peers: [{ address: "192.168.122.2", as: 65000 }] } };
        return raw;
    };
    const PASSWORDS = { "kubespray-ha:bgpPeerPasswords": JSON.stringify({ "192.168.122.2": "s3cret-pw" }) };

    it("takes BGP peer passwords from the secret kubespray-ha:bgpPeerPasswords and marks the inventory secret (issue 12)", () => {
        setConfig(bgpRaw(), PASSWORDS, ["kubespray-ha:bgpPeerPasswords"]);
        const { config } = loadProgramInputs("test");
        expect(config.vip.bgp!.peers).toEqual([{ address: "192.168.122.2", as: 65000, password: "s3cret-pw" }]);
        expect(config.inventorySecrets).toContain("kubespray-ha:bgpPeerPasswords");
    });

    it("refuses BGP peer passwords set without --secret (issue 12)", () => {
        setConfig(bgpRaw(), PASSWORDS);
        expect(() => loadProgramInputs("test")).toThrow(/kubespray-ha:bgpPeerPasswords: is not a secret/);
    });

    it("fails naming name when the stack name is not a DNS label (issue 12)", () => {
        const raw = libvirtRaw();
        raw.ssh.privateKeyPath = keyFile;
        setConfig(raw);
        expect(() => loadProgramInputs("Prod_EU")).toThrow(/name: not set, so it defaults to the stack name "Prod_EU".*set name, e\.g\. "prod-eu"/);
    });

    it("fails naming kubeVersion when the Kubespray version has no checksums for it (issue 12)", () => {
        const raw = libvirtRaw();
        raw.ssh.privateKeyPath = keyFile;
        raw.kubeVersion = "1.20.0";
        setConfig(raw);
        expect(() => loadProgramInputs("test")).toThrow(pulumi.RunError);
        expect(() => loadProgramInputs("test")).toThrow(/kubeVersion: 1\.20\.0 is not supported by Kubespray v2\.31\.0/);
    });

    it("registered no resource while failing", () => {
        expect(registered).toEqual([]);
    });
});

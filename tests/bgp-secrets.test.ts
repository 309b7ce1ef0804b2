// BGP peer passwords (the secret kubespray-ha:bgpPeerPasswords) stay secret end to end: from
// loadProgramInputs through KubesprayRun's inventory output, command stdin, triggers and specs
// (issue 12, item 8). Under Pulumi's mock runtime.
import * as pulumi from "@pulumi/pulumi";
import { parseClusterConfig } from "../components/config/config";
import { loadProgramInputs } from "../components/config/stack";
import { libvirtRaw } from "./fixtures";
import { adminConf, fakeMachines, isRawSecret, recordingMocks, Registration, valueOf, withoutSecrets } from "./helpers/kubespray";

const PASSWORD = "bgp-pw-kha-7f3a";

function bgpRaw(): any {
    const raw = libvirtRaw();
    raw.vip = { address: "192.168.122.100", mode: "bgp", bgp: { localAs: 65001, peers: [{ address: "192.168.122.2", as: 65000 }] } };
    return raw;
}

let registrations: Registration[];
let KubesprayRun: typeof import("../components/kubespray/run").KubesprayRun;
beforeAll(async () => {
    registrations = await recordingMocks(() => adminConf("https://192.168.122.100:6443"));
    ({ KubesprayRun } = await import("../components/kubespray/run"));
});

describe("BGP peer passwords", () => {
    it("enter the program from the secret key and mark the inventory as carrying a secret", () => {
        const raw = bgpRaw();
        delete raw.ssh.privateKeyPath;
        pulumi.runtime.setAllConfig(
            {
                "kubespray-ha:cluster": JSON.stringify(raw),
                "kubespray-ha:bgpPeerPasswords": JSON.stringify({ "192.168.122.2": PASSWORD }),
                "kubespray-ha:sshPrivateKey": "key",
            },
            ["kubespray-ha:bgpPeerPasswords", "kubespray-ha:sshPrivateKey"],
        );
        const { config } = loadProgramInputs("test");
        expect(config.inventorySecrets).toEqual(["kubespray-ha:bgpPeerPasswords"]);
        expect(config.vip.bgp!.peers[0].password).toBe(PASSWORD);
    });

    it("reach no command input, output or trigger in plain text", async () => {
        const config = parseClusterConfig(bgpRaw(), { stack: "test", bgpPeerPasswords: { passwords: { "192.168.122.2": PASSWORD }, secret: true } });
        const run = new KubesprayRun("bgp", { config, machines: fakeMachines(config), sshPrivateKey: "key" });
        await Promise.all(Object.values(run.commands).map((c) => valueOf(c.urn)));
        expect(await pulumi.isSecret(run.inventory)).toBe(true);
        expect(await pulumi.isSecret(run.commandSpecs)).toBe(true);
        expect((await valueOf(run.inventory))["group_vars/k8s_cluster/kube-vip.yml"]).toContain(`192.168.122.2:65000:${PASSWORD}:false`);
        const mine = registrations.filter((r) => r.name.startsWith("bgp-") && r.type === "command:local:Command");
        expect(mine.length).toBeGreaterThan(2);
        expect(isRawSecret(mine.find((r) => r.name === "bgp-inventory")!.rawInputs.stdin)).toBe(true);
        for (const r of mine) expect(JSON.stringify(withoutSecrets(r.rawInputs))).not.toContain(PASSWORD);
    });
});

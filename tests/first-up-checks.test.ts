// The first-up checks every backend's readiness wait ends with (issue 22): kube-vip's interface exists on
// each control plane, and with vip.domainName on Kubespray v2.31.0 the name resolves to the VIP on each
// node. Which checks a node gets follows from the config (firstUpChecks); the script runs under /bin/sh
// with a stub ssh that executes the remote command against a fake /sys/class/net and a fake getent.
// The real checks run in tests/e2e-cluster.test.ts (nspawn nodes, interface host0) and the engine test
// (network namespaces, eth0).
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { parseClusterConfig } from "../components/config/config";
import { firstUpChecks, FirstUpChecks, waitReadyScript } from "../components/nodes/wait-ready";
import { baremetalRaw, hcloudRaw, libvirtRaw } from "./fixtures";
import { tempDirs } from "./helpers/tmp";

const tmp = tempDirs();

describe("which first-up checks a node gets", () => {
    const baremetal = (extra: Record<string, unknown> = {}) => parseClusterConfig({ ...baremetalRaw(), ...extra }, { stack: "test" });

    it("kube-vip's interface, the same on every node (a role change must not re-run the check)", () => {
        expect(firstUpChecks(baremetal({ interface: "bond0" }))).toEqual({ interface: "bond0" });
    });

    it("no interface with a Hetzner Load Balancer holding the VIP", () => {
        const config = parseClusterConfig(hcloudRaw(), { stack: "test" });
        expect(firstUpChecks(config)).toEqual({});
    });

    it("vip.domainName on every node with Kubespray v2.31.0, not with v2.25.1 (which writes /etc/hosts itself)", () => {
        const vip = { address: "10.250.0.100", domainName: "api.example.internal" };
        const v231 = baremetal({ vip });
        expect(firstUpChecks(v231)).toEqual({ interface: "enp1s0", domainName: { name: "api.example.internal", address: "10.250.0.100" } });
        const v225 = baremetal({ vip, kubesprayVersion: "v2.25.1", kubeVersion: undefined });
        expect(firstUpChecks(v225)).toEqual({ interface: "enp1s0" });
    });

    it("libvirt defaults the interface to the VMs' enp1s0; baremetal requires it, naming the key", () => {
        const raw = libvirtRaw();
        delete raw.interface;
        expect(parseClusterConfig(raw, { stack: "test" }).interface).toBe("enp1s0");
        const bm = baremetalRaw();
        delete bm.interface;
        expect(() => parseClusterConfig(bm, { stack: "test" })).toThrow(/- interface: is required on baremetal: the NIC that holds the node IPs/);
    });
});

describe("the checks under /bin/sh (stub ssh, fake /sys/class/net and getent)", () => {
    // Runs the remote command with /sys/class/net under $STUB_ROOT and a getent that prints $STUB_ROOT/hosts.
    const STUB = `#!/bin/sh
while [ $# -gt 0 ]; do case "$1" in -i|-o|-p|-l) shift 2 ;; -n) shift ;; *) break ;; esac; done
shift
echo "$*" >> "$STUB_ROOT/calls"
case "$*" in
  "true") exit 0 ;;
esac
cmd=$(printf '%s' "$*" | sed "s#/sys/class/net#$STUB_ROOT/sys/class/net#g")
PATH="$STUB_ROOT/bin:$PATH" exec sh -c "$cmd"
`;
    const GETENT = `#!/bin/sh
[ "$1" = ahostsv4 ] || exit 2
awk -v n="$2" '$2 == n { print $1 "       STREAM " n }' "$STUB_ROOT/hosts" | grep . || exit 2
`;

    function run(checks: FirstUpChecks, nics: string[], hosts: string) {
        const root = tmp("kha-firstup-");
        fs.mkdirSync(path.join(root, "bin"));
        fs.writeFileSync(path.join(root, "bin", "ssh"), STUB, { mode: 0o755 });
        fs.writeFileSync(path.join(root, "bin", "getent"), GETENT, { mode: 0o755 });
        fs.mkdirSync(path.join(root, "sys", "class", "net"), { recursive: true });
        for (const nic of nics) fs.writeFileSync(path.join(root, "sys", "class", "net", nic), "");
        fs.writeFileSync(path.join(root, "hosts"), hosts);
        const script = waitReadyScript({ node: "node1", ip: "10.250.0.11", user: "root", port: 22, timeoutSeconds: 10, pollSeconds: 1, kind: "baremetal", checks });
        const env = { ...process.env, PATH: `${path.join(root, "bin")}:${process.env.PATH}`, STUB_ROOT: root };
        const r = spawnSync("/bin/sh", ["-c", script], { input: "KEY\n", env, encoding: "utf8", timeout: 30_000 });
        const calls = fs.readFileSync(path.join(root, "calls"), "utf8").split("\n").filter(Boolean);
        return { ...r, calls };
    }

    it("passes when the NIC exists and the name resolves to the VIP", () => {
        const r = run({ interface: "enp1s0", domainName: { name: "api.k8s.test", address: "10.250.0.100" } }, ["lo", "enp1s0"], "10.250.0.100 api.k8s.test\n");
        expect(r.stderr).toBe("");
        expect(r.status).toBe(0);
        expect(r.stdout).toBe("node1: ready (SSH answers)\n");
        expect(r.calls).toEqual(["true", "test -e /sys/class/net/enp1s0", "getent ahostsv4 api.k8s.test"]);
    });

    it("a missing NIC fails naming the node, the key and the NICs there", () => {
        const r = run({ interface: "enp1s0" }, ["lo", "eth0"], "");
        expect(r.status).toBe(1);
        expect(r.stdout).toBe("");
        expect(r.stderr).toContain("baremetal node node1 (10.250.0.11): no network interface enp1s0 (interface: kube-vip binds the VIP to it on every control plane); its interfaces: eth0 lo");
    });

    it("a name that resolves elsewhere, or not at all, fails naming vip.domainName and the fix", () => {
        const check = { domainName: { name: "api.k8s.test", address: "10.250.0.100" } };
        const elsewhere = run(check, ["lo"], "10.250.0.7 api.k8s.test\n");
        expect(elsewhere.status).toBe(1);
        expect(elsewhere.stderr).toContain("baremetal node node1 (10.250.0.11): vip.domainName api.k8s.test resolves to 10.250.0.7 there, not to the VIP 10.250.0.100; " +
            "Kubespray v2.31.0 does not add it to /etc/hosts: add it to the nodes' DNS or /etc/hosts");
        const nothing = run(check, ["lo"], "");
        expect(nothing.status).toBe(1);
        expect(nothing.stderr).toContain("vip.domainName api.k8s.test resolves to nothing there, not to the VIP 10.250.0.100");
        // 10.250.0.1 must not pass for 10.250.0.100 (whole addresses are compared).
        expect(run(check, ["lo"], "10.250.0.1 api.k8s.test\n").status).toBe(1);
    });

    it("both failures are reported in one run", () => {
        const r = run({ interface: "bond0", domainName: { name: "api.k8s.test", address: "10.250.0.100" } }, ["lo"], "");
        expect(r.status).toBe(1);
        expect(r.stderr).toMatch(/no network interface bond0[\s\S]*vip\.domainName api\.k8s\.test resolves to nothing/);
    });

    it("no checks: the script is the plain readiness wait", () => {
        expect(waitReadyScript({ node: "n", ip: "10.250.0.11", user: "root", port: 22, timeoutSeconds: 5, kind: "baremetal" })).not.toContain("failed=0");
    });
});

// The systemd-nspawn test nodes (tests/infra/nspawn-nodes.sh, tests/helpers/nspawn.ts) the real-cluster
// tests deploy Kubernetes on: two nodes on bridge kha-ns40 in 10.250.40.0/24 (gateway .1, nodes .11 and
// .12) boot systemd, answer SSH as root with the test key, have their names and addresses, reach each
// other, have what kubelet and runc need (writable cgroups and /proc/sys, a shared /), survive a SIGKILL
// and a reboot, and leave nothing behind (bridge, processes, mounts, cgroups).
// Needs root, systemd-nspawn and the node rootfs (tests/infra/build-node-rootfs.sh, cached): skipped with
// the reason printed when one is missing; under CI the rootfs is built if missing and any other missing
// prerequisite fails the test.
import * as fs from "fs";
import { execFileSync } from "child_process";
import { generateKeyPair } from "./helpers/keys";
import { createNodes, nspawnNodesOrReason, NspawnNodes } from "./helpers/nspawn";
import { missingPrerequisiteFails, requireOrSkip } from "./helpers/real-tests";
import { tempDirs } from "./helpers/tmp";

jest.setTimeout(300_000);

const SUBNET = "10.250.40";
const BRIDGE = "kha-ns40";
const NODES = [
    { name: "node1", ip: `${SUBNET}.11` },
    { name: "node2", ip: `${SUBNET}.12` },
];

// Built when a missing rootfs would fail the run (CI), not where it would be skipped.
const reason = nspawnNodesOrReason({ build: missingPrerequisiteFails() });
requireOrSkip("tests/nspawn-nodes.test.ts", reason, "systemd-nspawn test nodes can run");

const tmp = tempDirs();
const bridgeExists = () => {
    try {
        execFileSync("ip", ["link", "show", "dev", BRIDGE], { stdio: "ignore" });
        return true;
    } catch {
        return false;
    }
};
const alive = (pid: number) => {
    try {
        process.kill(pid, 0);
        return true;
    } catch {
        return false;
    }
};

(reason ? describe.skip : describe)("systemd-nspawn test nodes", () => {
    let nodes: NspawnNodes | undefined;
    let key = "";
    const sh = (name: string, command: string) => {
        const r = nodes!.ssh(key, name, command);
        if (r.status !== 0) throw new Error(`ssh root@${name} '${command}' exited ${r.status ?? r.signal}: ${r.stderr}${r.stdout}`);
        return r.stdout.trim();
    };

    beforeAll(async () => {
        if (bridgeExists()) throw new Error(`bridge ${BRIDGE} exists already: another run of this test, or a leftover (ip link del ${BRIDGE})`);
        key = generateKeyPair(tmp("kha-nspawn-test-"), "id_ed25519", "kubespray-ha-nspawn-test").privateKeyPath;
        const t0 = Date.now();
        nodes = await createNodes({ subnet: SUBNET, bridge: BRIDGE, nodes: NODES, publicKeyFile: `${key}.pub` });
        console.log(`2 nodes up and answering SSH in ${((Date.now() - t0) / 1000).toFixed(1)} s (rootfs copies included)`);
    });
    afterAll(async () => {
        await nodes?.destroy();
    });

    it("lets root log in over SSH with the test key, host keys checked", () => {
        for (const n of NODES) expect(sh(n.name, "id -un")).toBe("root");
    });

    it("runs systemd as PID 1, booted to running (or degraded, with the failed units printed)", () => {
        for (const n of NODES) {
            expect(sh(n.name, "cat /proc/1/comm")).toBe("systemd");
            // --wait: until start-up is over. Exit status is non-zero for "degraded": read the word.
            const state = nodes!.ssh(key, n.name, "timeout 60 systemctl is-system-running --wait").stdout.trim();
            if (state === "degraded") {
                console.warn(`${n.name} is degraded; failed units:\n${sh(n.name, "systemctl --failed --no-legend --plain")}`);
            }
            expect(["running", "degraded"]).toContain(state);
            expect(sh(n.name, "systemctl is-active ssh systemd-networkd kubespray-ha-node-mounts").split("\n")).toEqual(["active", "active", "active"]);
        }
    });

    it("has its own hostname, machine id, static address and a default route via the bridge", () => {
        const machineIds = new Set<string>();
        for (const n of NODES) {
            expect(sh(n.name, "hostname")).toBe(n.name);
            expect(sh(n.name, "ip -4 -o addr show dev host0")).toContain(`inet ${n.ip}/24`);
            expect(sh(n.name, "ip -4 route show default")).toContain(`default via ${nodes!.gateway} dev host0`);
            machineIds.add(sh(n.name, "cat /etc/machine-id"));
        }
        expect(machineIds.size).toBe(NODES.length);
    });

    it("reaches the other node (ICMP and SSH's port)", () => {
        const [a, b] = NODES;
        expect(() => sh(a.name, `ping -c1 -W3 ${b.ip}`)).not.toThrow();
        expect(() => sh(b.name, `ping -c1 -W3 ${a.ip}`)).not.toThrow();
        expect(sh(a.name, `timeout 5 bash -c 'exec 3<>/dev/tcp/${b.ip}/22; head -c 8 <&3'`)).toBe("SSH-2.0-");
    });

    it("has writable cgroup controllers, a writable /proc/sys and a shared / (what kubelet and runc need)", () => {
        for (const n of NODES) {
            const probe = `kha-probe-${process.pid}`;
            const controllers = sh(n.name, "for d in /sys/fs/cgroup/*/; do echo \"$d\"; done").split("\n");
            expect(controllers.length).toBeGreaterThan(1);
            expect(() => sh(n.name, `set -e; for d in /sys/fs/cgroup/*/; do mkdir "$d"${probe}; rmdir "$d"${probe}; done`)).not.toThrow();
            expect(sh(n.name, "findmnt -no OPTIONS /sys/fs/cgroup").split(",")[0]).toBe("rw");
            expect(sh(n.name, "findmnt -no OPTIONS /proc/sys").split(",")[0]).toBe("rw");
            // A per-network-namespace sysctl: writing it touches only the node.
            expect(sh(n.name, "sysctl -w net.ipv4.conf.host0.arp_accept=1 && cat /proc/sys/net/ipv4/conf/host0/arp_accept")).toContain("1");
            expect(sh(n.name, "findmnt -no PROPAGATION /")).toBe("shared");
        }
    });

    it("dies at once on SIGKILL and boots again from its rootfs", async () => {
        const victim = NODES[1];
        const bootId = sh(victim.name, "cat /proc/sys/kernel/random/boot_id");
        const marker = `kha-${process.pid}`;
        sh(victim.name, `echo ${marker} > /root/marker && sync`);
        await nodes!.stop(victim.name);
        expect(nodes!.ssh(key, victim.name, "true", 15_000).status).not.toBe(0);
        expect(sh(NODES[0].name, `ping -c1 -W2 ${victim.ip} >/dev/null && echo up || echo down`)).toBe("down");
        await nodes!.start(victim.name);
        // The same machine: its disk (rootfs copy) kept what was written; a new boot.
        expect(sh(victim.name, "cat /root/marker")).toBe(marker);
        expect(sh(victim.name, "cat /proc/sys/kernel/random/boot_id")).not.toBe(bootId);
        expect(sh(victim.name, "timeout 60 systemctl is-system-running --wait || true")).toMatch(/^(running|degraded)$/);
        expect(() => sh(NODES[0].name, `ping -c1 -W3 ${victim.ip}`)).not.toThrow();
    });

    it("destroy removes the nodes, their processes, mounts and cgroups, and the bridge; twice is fine", async () => {
        const stateDir = nodes!.stateDir;
        const pids = nodes!.processes();
        const cgroups = nodes!.cgroups();
        expect(pids.length).toBeGreaterThan(2);
        expect(cgroups.length).toBeGreaterThan(0);
        expect(bridgeExists()).toBe(true);
        await nodes!.destroy();
        expect(bridgeExists()).toBe(false);
        expect(pids.filter(alive)).toEqual([]);
        expect(cgroups.filter((cg) => fs.existsSync(cg))).toEqual([]);
        const mounts = fs.readFileSync("/proc/self/mounts", "utf8").split("\n").filter((l) => l.split(" ")[1]?.startsWith(stateDir));
        expect(mounts).toEqual([]);
        expect(fs.existsSync(stateDir)).toBe(false);
        const forward = execFileSync("iptables", ["-S", "FORWARD"], { encoding: "utf8" });
        expect(forward).not.toContain(BRIDGE);
        await expect(nodes!.destroy()).resolves.toBeUndefined();
    });
});

// Every ssh.* and per-node SSH setting reaches both places that log in: the readiness check each node
// ends with (nodes/wait-ready.ts) and Ansible (hosts.yaml read by real ansible-inventory, the
// remove-node extra-host inventory, and the playbook command line).
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { parseClusterConfig } from "../components/config/config";
import { renderInventory, renderTimeMachines } from "../components/kubespray/inventory";
import { kubesprayCommandSpecs, renderCommand } from "../components/kubespray/playbook";
import { waitReadyScript } from "../components/nodes/wait-ready";
import { baremetalRaw } from "./fixtures";
import { tempDirs } from "./helpers/tmp";

const tmp = tempDirs();
const hasAnsible = spawnSync("sh", ["-c", "command -v ansible-inventory"], { stdio: "ignore" }).status === 0;

function config() {
    const raw = baremetalRaw();
    raw.ssh = { ...raw.ssh, user: "ops", port: 2222 };
    raw.nodes = [...raw.nodes, { name: "worker9", ip: "10.250.0.19", roles: ["worker"], sshAddress: "10.250.0.119" }];
    return parseClusterConfig(raw, { stack: "test" });
}

describe("ssh settings", () => {
    const cfg = config();
    const machines = renderTimeMachines(cfg);

    it("the readiness check logs in with ssh.user and ssh.port at nodes[].sshAddress", () => {
        const w = machines.find((m) => m.name === "worker9")!;
        const script = waitReadyScript({ node: w.name, ip: w.sshAddress, user: cfg.ssh.user, port: cfg.ssh.port, timeoutSeconds: 5, kind: "baremetal" });
        expect(script).toContain("-p 2222 -l ops");
        expect(script).toContain("10.250.0.119");
    });

    it("the playbook commands log in as ssh.user", () => {
        const cluster = kubesprayCommandSpecs(cfg, machines).find((s) => s.id === "cluster")!;
        const shell = renderCommand(cfg, cluster);
        expect(shell.environment.KHA_SSH_USER).toBe("ops");
        expect(shell.create).toContain(`--user "$KHA_SSH_USER"`);
    });

    if (!hasAnsible && process.env.CI) {
        it("has ansible-inventory in CI", () => {
            throw new Error("ansible-inventory is missing: .ci/run must install Debian's ansible");
        });
    } else if (!hasAnsible) {
        console.warn("skipping the ansible-inventory checks: ansible-inventory is not installed (apt-get install ansible)");
    }

    (hasAnsible ? it : it.skip)("real Ansible sees ansible_port = ssh.port and ansible_host = sshAddress, also for the removed node's own inventory", () => {
        const dir = tmp("kha-ssh-");
        // remove-node of worker9 after it left the config: its extra inventory, as the delete script writes it.
        const remaining = parseClusterConfig({ ...baremetalRaw(), ssh: { ...baremetalRaw().ssh, user: "ops", port: 2222 } }, { stack: "test" });
        fs.writeFileSync(path.join(dir, "hosts.yaml"), renderInventory(remaining, renderTimeMachines(remaining))["hosts.yaml"]);
        const del = renderCommand(cfg, kubesprayCommandSpecs(cfg, machines).find((s) => s.id === "node-worker9")!).delete!;
        const extra = del.match(/<<'KHA_EOF_0'\n([\s\S]*?)KHA_EOF_0\n/)![1];
        expect(parse(extra).all.hosts.worker9.ansible_port).toBe(2222);
        fs.writeFileSync(path.join(dir, "extra.yaml"), extra);
        const host = (name: string) =>
            JSON.parse(execFileSync("ansible-inventory", ["-i", path.join(dir, "hosts.yaml"), "-i", path.join(dir, "extra.yaml"), "--host", name], { encoding: "utf8" }));
        expect(host("node1")).toMatchObject({ ansible_host: "10.250.0.11", ansible_port: 2222, ansible_user: "ops" });
        expect(host("worker9")).toMatchObject({ ansible_host: "10.250.0.119", ansible_port: 2222, ansible_user: "ops" });
    });
});

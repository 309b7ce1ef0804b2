// The libvirt backend against real tools: libvirt's own schemas (virt-xml-validate), libvirt's
// test driver (virsh -c test:///default) running the component's own virsh steps, cloud-localds
// building a real seed ISO, qemu-img a real overlay, and the scripts themselves under /bin/sh
// (with stub virsh/ssh where a real one would need a hypervisor or a VM).
// Sections skip with a printed reason when a tool is missing, and fail instead when CI is set.
import { ensureLibvirtd, libvirtdAnswers as libvirtdRuns } from "./helpers/libvirtd";
import { missingPrerequisiteFails } from "./helpers/real-tests";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { XMLParser } from "fast-xml-parser";
import { ClusterConfig, parseClusterConfig } from "../components/config/config";
import {
    diskCreateScript,
    domainCreateScript,
    domainDefineSteps,
    domainDeleteScript,
    domainRemoveSteps,
    fileDeleteScript,
    networkCreateScript,
    networkDefineSteps,
    networkDeleteScript,
    networkRemoveSteps,
    seedCreateScript,
    seedStdin,
    virshBatch,
    virshFromStdin,
    waitReadyScript,
} from "../components/nodes/libvirt/libvirt-commands";
import { LibvirtPlan, planLibvirt } from "../components/nodes/libvirt/libvirt-xml";
import { libvirtRaw, PUBLIC_KEY } from "./fixtures";

const PACKAGES: Record<string, string> = {
    virsh: "libvirt-clients",
    "virt-xml-validate": "libvirt-clients",
    xmllint: "libxml2-utils",
    "cloud-localds": "cloud-image-utils",
    genisoimage: "genisoimage",
    isoinfo: "genisoimage",
    "qemu-img": "qemu-utils",
    "qemu-system-x86_64": "qemu-system-x86",
};

function onPath(tool: string): boolean {
    return (process.env.PATH ?? "").split(":").some((dir) => {
        try {
            fs.accessSync(path.join(dir, tool), fs.constants.X_OK);
            return true;
        } catch {
            return false;
        }
    });
}

/** describe() when the tools are there; else a printed skip, or a failure under CI. */
function withTools(title: string, tools: string[], body: () => void): void {
    const missing = tools.filter((t) => !onPath(t));
    if (missing.length === 0) {
        describe(title, body);
        return;
    }
    const packages = [...new Set(missing.map((t) => PACKAGES[t] ?? t))].join(" ");
    const reason = `missing ${missing.join(", ")} (apt-get install -y ${packages})`;
    if (missingPrerequisiteFails()) {
        describe(title, () => {
            it(`has its tools: ${missing.join(", ")}`, () => {
                throw new Error(`CI must install the tools of "${title}": ${reason}`);
            });
        });
        return;
    }
    console.warn(`skipping "${title}": ${reason}`);
    describe.skip(title, body);
}

const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "", parseTagValue: false, parseAttributeValue: false, isArray: (name) => ["host", "disk", "range"].includes(name) });

/** A temporary directory whose name needs quoting everywhere (space, quote, $). */
function weirdTmp(prefix: string): string {
    return fs.mkdtempSync(path.join(os.tmpdir(), `${prefix} it's $x `));
}

function planFor(dir: string, change: (raw: any) => void = () => undefined): { config: ClusterConfig; plan: LibvirtPlan } {
    const raw = libvirtRaw();
    // 10.250.0.0/16 only: this machine's test networks live there.
    raw.network = { cidr: "10.250.7.0/24", dhcpRange: { start: "10.250.7.100", end: "10.250.7.199" } };
    raw.vip = { address: "10.250.7.10", mode: "arp" };
    raw.nodes.forEach((n: any, i: number) => (n.ip = `10.250.7.${21 + i}`));
    raw.name = "realtest";
    raw.libvirt = {
        networkName: "kha-realtest",
        bridgeName: "virbr-khart",
        domainType: "qemu",
        storageDir: path.join(dir, "images"),
        baseImage: path.join(dir, "base.qcow2"),
        kernel: path.join(dir, "vmlinuz"),
        initrd: path.join(dir, "initrd.img"),
        cmdline: "root=/dev/vda rw console=ttyS0",
        memoryMiB: 768,
        vcpus: 1,
    };
    raw.nodes[1].memoryMiB = 1024;
    raw.nodes[1].vcpus = 2;
    change(raw);
    const config = parseClusterConfig(raw, { stack: "realtest" });
    return { config, plan: planLibvirt(config, PUBLIC_KEY) };
}

function sh(script: string, options: { input?: string; env?: NodeJS.ProcessEnv } = {}) {
    // A generous limit: on 2 busy cores a virsh start of a software-emulated domain took over a minute.
    const r = spawnSync("/bin/sh", ["-c", script], { input: options.input ?? "", env: options.env ?? process.env, encoding: "utf8", timeout: 300_000 });
    const killed = r.status === null ? `\n(killed by ${r.signal} after the 300 s limit)` : "";
    return { status: r.status, stdout: r.stdout, stderr: r.stderr + killed };
}

withTools("libvirt XML against libvirt's schemas", ["virt-xml-validate", "xmllint"], () => {
    let dir: string;
    beforeAll(() => (dir = weirdTmp("kha-validate")));
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    const variants: [string, (raw: any) => void, { forward?: "nat" }][] = [
        ["defaults (kvm, BIOS boot)", () => undefined, {}],
        ["qemu with direct kernel boot", (raw) => (raw.libvirt = { domainType: "qemu", kernel: "/img/vmlinuz", initrd: "/img/initrd.img", cmdline: "root=/dev/vda rw console=ttyS0" }), {}],
        ["NAT, no DHCP range, names needing escapes", (raw) => {
            delete raw.network.dhcpRange;
            raw.libvirt = { networkName: `lab<&>"'`, storageDir: `/var/lib/a & b/<x>` };
        }, { forward: "nat" }],
        ["per-node sizes and a custom gateway", (raw) => {
            raw.network.gateway = "192.168.122.254";
            raw.network.dhcpRange = { start: "192.168.122.150", end: "192.168.122.250" };
            raw.nodes[0].vcpus = 16;
            raw.nodes[0].memoryMiB = 65536;
        }, {}],
    ];

    it.each(variants)("%s: every domain and network validates", (_title, change, options) => {
        const raw = libvirtRaw();
        change(raw);
        const plan = planLibvirt(parseClusterConfig(raw, { stack: "dev" }), PUBLIC_KEY, options);
        const files: [string, string][] = [
            ["network", plan.networkXml],
            ["network", plan.networkCoreXml],
            ...plan.nodes.map((n): [string, string] => ["domain", n.domainXml]),
        ];
        for (const [i, [schema, text]] of files.entries()) {
            const file = path.join(dir, `${i}.xml`);
            fs.writeFileSync(file, text);
            const r = spawnSync("virt-xml-validate", [file, schema], { encoding: "utf8" });
            expect({ status: r.status, out: r.stdout + r.stderr }).toEqual({ status: 0, out: `${file} validates\n` });
        }
    });

    it("the schema check is real: a broken domain fails", () => {
        const file = path.join(dir, "broken.xml");
        const plan = planLibvirt(parseClusterConfig(libvirtRaw(), { stack: "dev" }), PUBLIC_KEY);
        fs.writeFileSync(file, plan.nodes[0].domainXml.replace(`bus="virtio"`, `bus="nonsense"`));
        expect(spawnSync("virt-xml-validate", [file, "domain"]).status).not.toBe(0);
    });
});

withTools("the component's virsh steps on libvirt's test driver (test:///default)", ["virsh"], () => {
    const SPLIT = "=====kha-split=====";
    let dir: string;
    let plan: LibvirtPlan;
    let parts: string[];
    let stderr: string;

    beforeAll(() => {
        dir = weirdTmp("kha-virsh");
        ({ plan } = planFor(dir));
        const netFile = path.join(dir, "network.xml");
        fs.writeFileSync(netFile, plan.networkXml);
        const net = networkDefineSteps(plan.network, netFile);
        const steps: string[][] = [[...net.define], [...net.define], [...net.start], [...net.autostart]];
        for (const [i, node] of plan.nodes.entries()) {
            const file = path.join(dir, `domain-${i}.xml`);
            fs.writeFileSync(file, node.domainXml);
            const d = domainDefineSteps(node.domain, file);
            // define twice: a re-define of our own domain (same UUID) must be accepted
            steps.push([...d.define], [...d.define], [...d.start], [...d.autostart]);
        }
        steps.push(["echo", SPLIT], ["net-dumpxml", "--network", plan.network.name]);
        for (const node of plan.nodes) {
            steps.push(["echo", SPLIT], ["dumpxml", "--domain", node.domain.name]);
        }
        steps.push(["echo", SPLIT], ["list", "--name", "--state-running"], ["echo", SPLIT], ["net-list", "--name", "--autostart"]);
        for (const node of plan.nodes) {
            const r = domainRemoveSteps(node.domain);
            steps.push([...r.destroy], [...r.undefine]);
        }
        const nr = networkRemoveSteps(plan.network);
        steps.push([...nr.destroy], [...nr.undefine]);
        steps.push(["echo", SPLIT], ["list", "--all", "--name"], ["echo", SPLIT], ["net-list", "--all", "--name"]);

        // ONE virsh process: test:///default starts empty for every connection.
        const r = spawnSync("virsh", ["-c", "test:///default", virshBatch(steps)], { encoding: "utf8", timeout: 60000 });
        stderr = r.stderr;
        parts = r.stdout.split(`${SPLIT}\n`);
    });
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("runs every step without an error", () => {
        expect(stderr).toBe("");
        expect(parts[0]).toContain(`Network ${plan.network.name} defined from ${path.join(dir, "network.xml")}`);
        expect(parts[0]).toContain(`Domain '${plan.nodes[2].domain.name}' started`);
    });

    it("reports the network back with the bridge, gateway, DHCP range and every host entry", () => {
        const net = xml.parse(parts[1]).network;
        expect(net.name).toBe("kha-realtest");
        expect(net.uuid).toBe(plan.network.uuid);
        expect(net.forward).toBeUndefined();
        expect(net.bridge.name).toBe("virbr-khart");
        expect(net.mac.address).toBe(plan.network.mac);
        expect(net.ip.address).toBe("10.250.7.1");
        expect(net.ip.prefix).toBe("24");
        expect(net.ip.dhcp.range.map((r: any) => [r.start, r.end])).toEqual([["10.250.7.100", "10.250.7.199"]]);
        expect(net.ip.dhcp.host.map((h: any) => ({ mac: h.mac, ip: h.ip, name: h.name }))).toEqual(
            plan.nodes.map((n) => ({ mac: n.domain.mac, ip: n.ip, name: n.name })),
        );
    });

    it("reports each domain back with its type, size, kernel, disks and NIC", () => {
        for (const [i, node] of plan.nodes.entries()) {
            const dom = xml.parse(parts[2 + i]).domain;
            expect(dom.type).toBe("qemu");
            expect(dom.name).toBe(node.domain.name);
            expect(dom.uuid).toBe(node.domain.uuid);
            expect(dom.memory).toEqual({ unit: "KiB", "#text": String(node.domain.memoryMiB * 1024) });
            expect(dom.vcpu["#text"]).toBe(String(node.domain.vcpus));
            expect(dom.os.kernel).toBe(path.join(dir, "vmlinuz"));
            expect(dom.os.initrd).toBe(path.join(dir, "initrd.img"));
            expect(dom.os.cmdline).toBe("root=/dev/vda rw console=ttyS0");
            const [disk, cdrom] = dom.devices.disk;
            expect([disk.device, disk.source.file, disk.target.dev, disk.target.bus]).toEqual(["disk", node.domain.diskPath, "vda", "virtio"]);
            expect(disk.driver.type).toBe("qcow2");
            expect([cdrom.device, cdrom.source.file, cdrom.target.dev, cdrom.target.bus]).toEqual(["cdrom", node.domain.seedPath, "sda", "sata"]);
            expect(cdrom).toHaveProperty("readonly");
            expect(dom.devices.interface.mac.address).toBe(node.domain.mac);
            expect(dom.devices.interface.source.network).toBe("kha-realtest");
            expect(dom.devices.interface.model.type).toBe("virtio");
        }
        expect(plan.nodes.map((n) => n.domain.memoryMiB)).toEqual([768, 1024, 768]);
    });

    it("started every domain and autostarts the network", () => {
        const running = parts[2 + plan.nodes.length].split("\n").filter(Boolean);
        expect(running).toEqual(expect.arrayContaining(plan.nodes.map((n) => n.domain.name)));
        expect(parts[3 + plan.nodes.length].split("\n")).toContain("kha-realtest");
    });

    it("the scripts' define-from-stdin line works even when stdin is a socket (as Node gives it)", () => {
        const line = virshFromStdin("test:///default", networkDefineSteps(plan.network, "/dev/stdin").define);
        const r = sh(line, { input: plan.networkXml });
        expect(r.stderr).toBe("");
        expect(r.stdout).toContain(`Network ${plan.network.name} defined from /dev/stdin`);
    });

    it("the delete steps leave only the test driver's own objects", () => {
        expect(parts[4 + plan.nodes.length].split("\n").filter(Boolean)).toEqual(["test"]);
        expect(parts[5 + plan.nodes.length].split("\n").filter(Boolean)).toEqual(["default"]);
    });
});

withTools("the seed script builds a NoCloud ISO with cloud-localds", ["cloud-localds", "genisoimage", "isoinfo"], () => {
    let dir: string;
    let plan: LibvirtPlan;
    beforeAll(() => {
        dir = weirdTmp("kha-seed");
        ({ plan } = planFor(dir));
    });
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    function iso(args: string[]): string {
        return execFileSync("isoinfo", args, { encoding: "utf8" });
    }

    it("writes the seed with volume id cidata and the three files, byte for byte", () => {
        const node = plan.nodes[0];
        const files = { userData: node.userData, networkConfig: node.networkConfig, metaData: node.metaData };
        for (let run = 0; run < 2; run++) {
            // twice: re-running the create (an update) rebuilds the same seed
            const r = sh(seedCreateScript(node.name, node.domain.seedPath, plan.storageDir), { input: seedStdin(files) });
            expect(r.stderr).toBe("");
            expect(r.status).toBe(0);
            expect(r.stdout).toContain(`${node.name}: seed ${node.domain.seedPath} written`);
        }
        const seed = node.domain.seedPath;
        expect(iso(["-d", "-i", seed])).toMatch(/^Volume id: cidata$/m);
        const listing = iso(["-R", "-f", "-i", seed]).split("\n").filter(Boolean).sort();
        expect(listing).toEqual(["/meta-data", "/network-config", "/user-data"]);
        expect(iso(["-R", "-i", seed, "-x", "/user-data"])).toBe(node.userData);
        expect(iso(["-R", "-i", seed, "-x", "/network-config"])).toBe(node.networkConfig);
        expect(iso(["-R", "-i", seed, "-x", "/meta-data"])).toBe(node.metaData);
        // no temporary directory left behind
        expect(fs.readdirSync(plan.storageDir)).toEqual([path.basename(seed)]);
        expect(sh(fileDeleteScript(seed)).status).toBe(0);
        expect(fs.existsSync(seed)).toBe(false);
        expect(sh(fileDeleteScript(seed)).status).toBe(0);
    });
});

withTools("the disk script makes a qcow2 overlay with qemu-img", ["qemu-img"], () => {
    let dir: string;
    let plan: LibvirtPlan;
    beforeAll(() => {
        dir = weirdTmp("kha-disk");
        ({ plan } = planFor(dir, (raw) => (raw.libvirt.diskGiB = 2)));
        execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", plan.baseImage, "64M"]);
    });
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("creates the overlay on the base image, keeps it on a re-run, removes it on delete", () => {
        const node = plan.nodes[0];
        const script = diskCreateScript({ node: node.name, baseImage: plan.baseImage, diskPath: node.domain.diskPath, diskGiB: node.diskGiB, storageDir: plan.storageDir });
        const first = sh(script);
        expect(first.stderr).toBe("");
        expect(first.status).toBe(0);
        const info = JSON.parse(execFileSync("qemu-img", ["info", "--output=json", node.domain.diskPath], { encoding: "utf8" }));
        expect(info.format).toBe("qcow2");
        expect(info["backing-filename"]).toBe(plan.baseImage);
        expect(info["backing-filename-format"]).toBe("qcow2");
        expect(info["virtual-size"]).toBe(2 * 1024 ** 3);

        fs.writeFileSync(node.domain.diskPath, "guest data");
        const second = sh(script);
        expect(second.status).toBe(0);
        expect(second.stdout).toContain("exists, kept");
        expect(fs.readFileSync(node.domain.diskPath, "utf8")).toBe("guest data");

        expect(sh(fileDeleteScript(node.domain.diskPath)).status).toBe(0);
        expect(fs.existsSync(node.domain.diskPath)).toBe(false);
    });

    it("fails naming libvirt.baseImage when the base is missing", () => {
        const node = plan.nodes[1];
        const r = sh(diskCreateScript({ node: node.name, baseImage: path.join(dir, "nope.qcow2"), diskPath: node.domain.diskPath, diskGiB: 1, storageDir: plan.storageDir }));
        expect(r.status).toBe(1);
        expect(r.stderr).toContain(`${node.name}: libvirt.baseImage ${path.join(dir, "nope.qcow2")} is not a readable file`);
        expect(fs.existsSync(node.domain.diskPath)).toBe(false);
    });
});

describe("the virsh scripts under /bin/sh (stub virsh recording its calls)", () => {
    // A fake virsh: logs argv (one line, fields joined by |), copies stdin of define/net-define,
    // and answers the list questions from the environment.
    const STUB = `#!/bin/sh
uri=$2; shift 2
printf '%s' "$uri" >> "$STUB_LOG"; for a in "$@"; do printf '|%s' "$a" >> "$STUB_LOG"; done; echo >> "$STUB_LOG"
case "$1" in
  define|net-define) cat > "$STUB_LOG.stdin" ;;
  list) if [ "$2" = --all ]; then printf '%s\\n' $STUB_DEFINED; else printf '%s\\n' $STUB_ACTIVE; fi ;;
  net-list) if [ "$2" = --all ]; then printf '%s\\n' $STUB_NET_DEFINED; else printf '%s\\n' $STUB_NET_ACTIVE; fi ;;
esac
exit 0
`;
    let dir: string;
    let env: NodeJS.ProcessEnv;
    let plan: LibvirtPlan;
    const URI = "qemu+ssh://root@hv/system?x=$(touch pwned)";

    beforeAll(() => {
        dir = weirdTmp("kha-stub");
        fs.mkdirSync(path.join(dir, "bin"));
        fs.writeFileSync(path.join(dir, "bin", "virsh"), STUB, { mode: 0o755 });
        ({ plan } = planFor(dir, (raw) => (raw.libvirt.uri = URI)));
    });
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    function run(script: string, state: Record<string, string>, input = "") {
        const log = path.join(dir, "log");
        fs.rmSync(log, { force: true });
        fs.rmSync(`${log}.stdin`, { force: true });
        env = { ...process.env, PATH: `${path.join(dir, "bin")}:${process.env.PATH}`, STUB_LOG: log, STUB_DEFINED: "", STUB_ACTIVE: "", STUB_NET_DEFINED: "", STUB_NET_ACTIVE: "", ...state };
        const r = spawnSync("/bin/sh", ["-c", script], { input, env, encoding: "utf8", cwd: dir });
        const calls = fs.existsSync(log) ? fs.readFileSync(log, "utf8").split("\n").filter(Boolean) : [];
        const stdin = fs.existsSync(`${log}.stdin`) ? fs.readFileSync(`${log}.stdin`, "utf8") : undefined;
        return { ...r, calls, stdin };
    }

    const node = () => plan.nodes[0].domain;

    it("network create on a fresh hypervisor: define from stdin, start, autostart; the URI arrives intact", () => {
        const r = run(networkCreateScript(plan.uri, plan.network), {}, plan.networkXml);
        expect(r.status).toBe(0);
        expect(r.calls).toEqual([
            `${URI}|net-define|--file|/dev/stdin`,
            `${URI}|net-list|--name`,
            `${URI}|net-start|--network|kha-realtest`,
            `${URI}|net-autostart|--network|kha-realtest`,
        ]);
        expect(r.stdin).toBe(plan.networkXml);
        expect(fs.existsSync(path.join(dir, "pwned"))).toBe(false);
    });

    it("network create again while active: re-define, no second start", () => {
        const r = run(networkCreateScript(plan.uri, plan.network), { STUB_NET_DEFINED: "kha-realtest", STUB_NET_ACTIVE: "kha-realtest" }, plan.networkXml);
        expect(r.status).toBe(0);
        expect(r.calls.map((c) => c.split("|")[1])).toEqual(["net-define", "net-list", "net-autostart"]);
    });

    it("network delete: destroy and undefine when present, nothing when gone", () => {
        const present = run(networkDeleteScript(plan.uri, plan.network, plan.storageDir), { STUB_NET_DEFINED: "kha-realtest", STUB_NET_ACTIVE: "kha-realtest" });
        expect(present.status).toBe(0);
        expect(present.calls.map((c) => c.split("|").slice(1).join(" "))).toEqual([
            "net-list --all --name",
            "net-list --name",
            "net-destroy --network kha-realtest",
            "net-undefine --network kha-realtest",
        ]);
        const inactive = run(networkDeleteScript(plan.uri, plan.network, plan.storageDir), { STUB_NET_DEFINED: "kha-realtest" });
        expect(inactive.calls.map((c) => c.split("|")[1])).toEqual(["net-list", "net-list", "net-undefine"]);
        const gone = run(networkDeleteScript(plan.uri, plan.network, plan.storageDir), { STUB_NET_DEFINED: "other" });
        expect(gone.status).toBe(0);
        expect(gone.calls.map((c) => c.split("|")[1])).toEqual(["net-list", "net-list"]);
    });

    it("domain create: define from stdin and start; when running, only re-define", () => {
        const fresh = run(domainCreateScript(plan.uri, node()), {}, plan.nodes[0].domainXml);
        expect(fresh.status).toBe(0);
        expect(fresh.calls.map((c) => c.split("|").slice(1).join(" "))).toEqual([
            "list --all --name",
            "define --file /dev/stdin",
            "list --name",
            "start --domain realtest-kubenode1",
            "autostart --domain realtest-kubenode1",
        ]);
        expect(fresh.stdin).toBe(plan.nodes[0].domainXml);
        const running = run(domainCreateScript(plan.uri, node()), { STUB_DEFINED: "realtest-kubenode1", STUB_ACTIVE: "realtest-kubenode1" }, plan.nodes[0].domainXml);
        expect(running.status).toBe(0);
        expect(running.stdout).toContain("defined already, updating its definition");
        expect(running.calls.map((c) => c.split("|").slice(1).join(" "))).toEqual([
            "list --all --name",
            "define --file /dev/stdin",
            "list --name",
            "autostart --domain realtest-kubenode1",
        ]);
    });

    it("domain create does not mistake a longer name for ours", () => {
        const r = run(domainCreateScript(plan.uri, node()), { STUB_ACTIVE: "realtest-kubenode10" }, plan.nodes[0].domainXml);
        expect(r.calls.map((c) => c.split("|")[1])).toContain("start");
    });

    it("domain delete: destroy when running, undefine when defined, nothing when gone", () => {
        const running = run(domainDeleteScript(plan.uri, node()), { STUB_DEFINED: "realtest-kubenode1", STUB_ACTIVE: "realtest-kubenode1" });
        expect(running.status).toBe(0);
        expect(running.calls.map((c) => c.split("|").slice(1).join(" "))).toEqual([
            "list --all --name",
            "list --name",
            "destroy --domain realtest-kubenode1",
            "undefine --domain realtest-kubenode1 --managed-save --snapshots-metadata",
        ]);
        const stopped = run(domainDeleteScript(plan.uri, node()), { STUB_DEFINED: "realtest-kubenode1" });
        expect(stopped.calls.map((c) => c.split("|").slice(1).join(" "))).toEqual([
            "list --all --name",
            "list --name",
            "undefine --domain realtest-kubenode1 --managed-save --snapshots-metadata",
        ]);
        const gone = run(domainDeleteScript(plan.uri, node()), {});
        expect(gone.status).toBe(0);
        expect(gone.calls.map((c) => c.split("|").slice(1).join(" "))).toEqual(["list --all --name"]);
    });

    function withFailing(command: string, body: () => void): void {
        const failing = STUB.replace("case", `[ "$1" = ${command} ] && { echo "error: $1 failed" >&2; exit 1; }\ncase`);
        fs.writeFileSync(path.join(dir, "bin", "virsh"), failing, { mode: 0o755 });
        try {
            body();
        } finally {
            fs.writeFileSync(path.join(dir, "bin", "virsh"), STUB, { mode: 0o755 });
        }
    }

    it("a failing define fails the script (set -e), nothing is started", () => {
        withFailing("define", () => {
            const r = run(domainCreateScript(plan.uri, node()), {}, "<domain/>");
            expect(r.status).not.toBe(0);
            expect(r.stderr).toContain("error: define failed");
            expect(r.calls.map((c) => c.split("|")[1])).not.toContain("start");
        });
    });

    it("an unreachable libvirt fails a delete instead of reading as already gone", () => {
        withFailing("list", () => {
            const r = run(domainDeleteScript(plan.uri, node()), { STUB_DEFINED: "realtest-kubenode1" });
            expect(r.status).not.toBe(0);
            expect(r.stderr).toContain("error: list failed");
        });
        withFailing("net-list", () => {
            const r = run(networkDeleteScript(plan.uri, plan.network, plan.storageDir), { STUB_NET_DEFINED: "kha-realtest" });
            expect(r.status).not.toBe(0);
            expect(r.calls.map((c) => c.split("|")[1])).not.toContain("net-undefine");
        });
    });
});

describe("the readiness wait under /bin/sh (stub ssh)", () => {
    // A fake ssh: records the key it was given, fails STUB_FAILS times like an unreachable host,
    // then answers `cloud-init status --wait` with exit STUB_CI_RC (or hangs when STUB_HANG=1).
    const STUB = `#!/bin/sh
key=; while [ $# -gt 0 ]; do case "$1" in -i) key=$2; shift 2 ;; -o|-p|-l) shift 2 ;; -n) shift ;; *) break ;; esac; done
host=$1; shift
n=$(cat "$STUB_DIR/count" 2>/dev/null || echo 0); n=$((n + 1)); echo $n > "$STUB_DIR/count"
cp "$key" "$STUB_DIR/key-seen"; stat -c %a "$key" > "$STUB_DIR/key-mode"; echo "$key" > "$STUB_DIR/key-path"
echo "$host $*" >> "$STUB_DIR/calls"
if [ "$n" -le "\${STUB_FAILS:-0}" ]; then echo "ssh: connect to host $host port 22: Connection refused" >&2; exit 255; fi
case "$*" in
  "cloud-init status --wait") [ "\${STUB_HANG:-0}" = 1 ] && exec sleep 30; echo "status: done"; exit "\${STUB_CI_RC:-0}" ;;
  "cloud-init status --long") echo "status: error"; echo "detail: module failed"; exit 1 ;;
esac
exit 0
`;
    const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nfake\n-----END OPENSSH PRIVATE KEY-----\n";
    let dir: string;

    beforeAll(() => {
        dir = weirdTmp("kha-wait");
        fs.mkdirSync(path.join(dir, "bin"));
        fs.writeFileSync(path.join(dir, "bin", "ssh"), STUB, { mode: 0o755 });
    });
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    function wait(timeoutSeconds: number, state: Record<string, string>) {
        for (const f of ["count", "calls", "key-seen", "key-mode", "key-path"]) fs.rmSync(path.join(dir, f), { force: true });
        const script = waitReadyScript({ node: "kubenode1", ip: "10.250.7.21", user: "kube", port: 22, timeoutSeconds, pollSeconds: 1 });
        const env = { ...process.env, PATH: `${path.join(dir, "bin")}:${process.env.PATH}`, STUB_DIR: dir, ...state };
        const started = Date.now();
        const r = spawnSync("/bin/sh", ["-c", script], { input: KEY, env, encoding: "utf8", timeout: 60000 });
        const calls = fs.existsSync(path.join(dir, "calls")) ? fs.readFileSync(path.join(dir, "calls"), "utf8").split("\n").filter(Boolean) : [];
        return { ...r, calls, seconds: (Date.now() - started) / 1000 };
    }

    it("retries until SSH answers, then waits for cloud-init; the key is private and removed", () => {
        const r = wait(30, { STUB_FAILS: "2" });
        expect(r.status).toBe(0);
        expect(r.stdout).toContain("kubenode1: ready (SSH answers, cloud-init done)");
        expect(r.calls).toEqual(Array(3).fill("10.250.7.21 cloud-init status --wait"));
        expect(fs.readFileSync(path.join(dir, "key-seen"), "utf8")).toBe(KEY);
        expect(fs.readFileSync(path.join(dir, "key-mode"), "utf8").trim()).toBe("600");
        expect(fs.existsSync(fs.readFileSync(path.join(dir, "key-path"), "utf8").trim())).toBe(false);
    });

    it("gives up after the timeout with an error naming the node", () => {
        const r = wait(2, { STUB_FAILS: "1000" });
        expect(r.status).toBe(1);
        expect(r.stderr).toContain("libvirt node kubenode1 (10.250.7.21): no SSH answer as kube within 2s (libvirt.bootTimeoutSeconds)");
        expect(r.stderr).toContain("Connection refused");
        expect(r.seconds).toBeLessThan(10);
        expect(fs.existsSync(fs.readFileSync(path.join(dir, "key-path"), "utf8").trim())).toBe(false);
    });

    it("bounds a cloud-init that never finishes", () => {
        const r = wait(2, { STUB_HANG: "1" });
        expect(r.status).toBe(1);
        expect(r.stderr).toContain("libvirt node kubenode1 (10.250.7.21): cloud-init did not finish within 2s");
        expect(r.seconds).toBeLessThan(10);
    });

    it("fails on a failed cloud-init and shows its long status", () => {
        const r = wait(30, { STUB_CI_RC: "1" });
        expect(r.status).toBe(1);
        expect(r.stderr).toContain("libvirt node kubenode1 (10.250.7.21): cloud-init failed: status: done");
        expect(r.stderr).toContain("detail: module failed");
    });

    it("accepts recoverable cloud-init errors (exit 2) with a warning", () => {
        const r = wait(30, { STUB_CI_RC: "2" });
        expect(r.status).toBe(0);
        expect(r.stderr).toContain("cloud-init finished with recoverable errors");
    });
});

/** True when a libvirt daemon answers on qemu:///system, after starting one if none runs (as root). */
function libvirtdAnswers(): boolean {
    return onPath("virsh") && (process.getuid?.() !== 0 ? libvirtdRuns() : ensureLibvirtd().ok);
}

// A real libvirtd runs the component's own create and delete scripts end to end: the network
// (bridge, dnsmasq), the overlay, the seed, a domain that really starts (BIOS boot of an empty
// overlay: nothing boots, the guest idles), re-runs, an in-place re-define, and every delete.
// It needs the daemons (tests/infra/start-libvirtd.sh starts them); under CI their absence fails.
(libvirtdAnswers() || !onPath("virsh") ? withTools : withDaemon)(
    "the component's scripts on a real libvirtd (qemu:///system)",
    ["virsh", "qemu-img", "cloud-localds", "genisoimage", "qemu-system-x86_64"],
    () => {
        const URI = "qemu:///system";
        const tag = `k${process.pid % 100000}`;
        let dir: string;
        let plan: LibvirtPlan;
        const virsh = (...args: string[]) => spawnSync("virsh", ["-c", URI, ...args], { encoding: "utf8", timeout: 60000 });

        beforeAll(() => {
            dir = weirdTmp("kha-libvirtd");
            fs.chmodSync(dir, 0o755); // qemu runs as another user and must reach the files
            ({ plan } = planFor(dir, (raw) => {
                raw.network = { cidr: "10.250.213.0/24", dhcpRange: { start: "10.250.213.100", end: "10.250.213.199" } };
                raw.vip = { address: "10.250.213.10", mode: "arp" };
                raw.nodes = [{ name: "node1", ip: "10.250.213.21", roles: ["control-plane", "etcd", "worker"] }];
                raw.name = `kha-${tag}`;
                raw.libvirt = {
                    uri: URI,
                    networkName: `kha-${tag}-net`,
                    bridgeName: `virbr-${tag}`,
                    domainType: "qemu",
                    storageDir: path.join(dir, "images"),
                    baseImage: path.join(dir, "base.qcow2"),
                    memoryMiB: 256,
                    vcpus: 1,
                    diskGiB: 1,
                };
            }));
            execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", plan.baseImage, "64M"]);
        });

        afterAll(() => {
            // Whatever a failed test left: our own names only.
            virsh("destroy", "--domain", plan.nodes[0].domain.name);
            virsh("undefine", "--domain", plan.nodes[0].domain.name);
            virsh("net-destroy", "--network", plan.network.name);
            virsh("net-undefine", "--network", plan.network.name);
            fs.rmSync(dir, { recursive: true, force: true });
        });

        function ok(r: { status: number | null; stdout: string; stderr: string }) {
            expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
            return r;
        }

        it("creates, re-runs, updates and deletes network, disk, seed and domain", () => {
            const node = plan.nodes[0];
            const d = node.domain;
            ok(sh(networkCreateScript(URI, plan.network), { input: plan.networkXml }));
            expect(virsh("net-list", "--name").stdout.split("\n")).toContain(plan.network.name);
            const net = xml.parse(virsh("net-dumpxml", "--network", plan.network.name).stdout).network;
            expect(net.ip.address).toBe("10.250.213.1");
            expect(net.ip.dhcp.host.map((h: any) => [h.mac, h.ip, h.name])).toEqual([[d.mac, "10.250.213.21", "node1"]]);

            ok(sh(diskCreateScript({ node: node.name, baseImage: plan.baseImage, diskPath: d.diskPath, diskGiB: node.diskGiB, storageDir: plan.storageDir })));
            ok(sh(seedCreateScript(node.name, d.seedPath, plan.storageDir), { input: seedStdin(node) }));
            ok(sh(domainCreateScript(URI, d), { input: node.domainXml }));
            expect(virsh("domstate", "--domain", d.name).stdout.trim()).toBe("running");
            const live = xml.parse(virsh("dumpxml", "--domain", d.name).stdout).domain;
            expect(live.uuid).toBe(d.uuid);
            expect(live.devices.interface.mac.address).toBe(d.mac);
            expect(live.devices.interface.source.network).toBe(plan.network.name);
            expect(live.devices.interface.source.bridge).toBe(plan.network.bridge);

            // re-run: nothing fails, nothing restarts
            const again = ok(sh(domainCreateScript(URI, d), { input: node.domainXml }));
            expect(again.stdout).toContain("defined already");
            ok(sh(networkCreateScript(URI, plan.network), { input: plan.networkXml }));
            expect(xml.parse(virsh("dumpxml", "--domain", d.name).stdout).domain.id).toBe(live.id);

            // an update re-defines in place: the next boot gets 512 MiB, the running guest keeps 256
            const bigger = node.domainXml.replace(`<memory unit="MiB">256</memory>`, `<memory unit="MiB">512</memory>`);
            ok(sh(domainCreateScript(URI, d), { input: bigger }));
            expect(xml.parse(virsh("dumpxml", "--inactive", "--domain", d.name).stdout).domain.memory["#text"]).toBe(String(512 * 1024));
            expect(xml.parse(virsh("dumpxml", "--domain", d.name).stdout).domain.memory["#text"]).toBe(String(256 * 1024));

            // deletes, in the order Pulumi runs them; each twice (idempotent)
            for (let i = 0; i < 2; i++) ok(sh(domainDeleteScript(URI, d)));
            expect(virsh("dominfo", "--domain", d.name).status).not.toBe(0);
            for (let i = 0; i < 2; i++) {
                ok(sh(fileDeleteScript(d.diskPath)));
                ok(sh(fileDeleteScript(d.seedPath)));
            }
            for (let i = 0; i < 2; i++) ok(sh(networkDeleteScript(URI, plan.network, plan.storageDir)));
            expect(virsh("net-list", "--all", "--name").stdout.split("\n")).not.toContain(plan.network.name);
            expect(fs.existsSync(plan.storageDir)).toBe(false);
        });
    },
);

/** For the libvirtd section when virsh is there but no daemon answers. */
function withDaemon(title: string, _tools: string[], body: () => void): void {
    const reason = "no libvirt daemon answers on qemu:///system (start one: tests/infra/start-libvirtd.sh)";
    if (missingPrerequisiteFails()) {
        describe(title, () => {
            it("has a libvirt daemon", () => {
                throw new Error(`CI must start libvirtd for "${title}": ${reason}`);
            });
        });
        return;
    }
    console.warn(`skipping "${title}": ${reason}`);
    describe.skip(title, body);
}

// The libvirt backend's pure parts: names, MACs, UUIDs, network/domain XML, cloud-init files,
// shell quoting and the scripts' text. Rendered files are snapshotted and parsed back.
import { execFileSync } from "child_process";
import { XMLParser } from "fast-xml-parser";
import { parse } from "yaml";
import { ClusterConfig, ConfigError, parseClusterConfig } from "../components/config/config";
import {
    contentHash,
    diskCreateScript,
    domainCreateScript,
    domainDeleteScript,
    domainDefineSteps,
    domainRemoveSteps,
    networkCreateScript,
    networkDeleteScript,
    seedCreateScript,
    seedStdin,
    shQuote,
    shellLine,
    virshBatch,
    waitReadyScript,
    wrapForRemote,
} from "../components/nodes/libvirt/libvirt-commands";
import { defaultBridgeName, libvirtTriggerInputs, METADATA_NAMESPACE, nodeMac, planLibvirt, renderDomainXml, renderMetaData, renderNetworkConfig, renderNetworkXml, renderUserData, stableUuid } from "../components/nodes/libvirt/libvirt-xml";
import { libvirtRaw, PUBLIC_KEY } from "./fixtures";

const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "", parseTagValue: false, parseAttributeValue: false, isArray: (name) => ["host", "disk", "range"].includes(name) });

function config(change: (raw: any) => void = () => undefined): ClusterConfig {
    const raw = libvirtRaw();
    change(raw);
    return parseClusterConfig(raw, { stack: "dev" });
}

function yaml11(text: string): any {
    return parse(text, { version: "1.1" });
}

describe("nodeMac / stableUuid", () => {
    it("are deterministic, in QEMU's 52:54:00 range, and differ per stack and node", () => {
        const mac = nodeMac("dev", "kubenode1");
        expect(mac).toMatch(/^52:54:00(:[0-9a-f]{2}){3}$/);
        expect(nodeMac("dev", "kubenode1")).toBe(mac);
        expect(nodeMac("prod", "kubenode1")).not.toBe(mac);
        expect(nodeMac("dev", "kubenode2")).not.toBe(mac);
    });

    it("makes RFC 9562 version-8 UUIDs that depend on kind, stack and name", () => {
        const uuid = stableUuid("domain", "dev", "kubenode1");
        expect(uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
        expect(stableUuid("domain", "dev", "kubenode1")).toBe(uuid);
        expect(stableUuid("network", "dev", "kubenode1")).not.toBe(uuid);
        expect(stableUuid("domain", "prod", "kubenode1")).not.toBe(uuid);
    });
});

describe("planLibvirt", () => {
    it("derives names and paths from the stack name and the libvirt defaults", () => {
        const plan = planLibvirt(config(), PUBLIC_KEY);
        expect(plan.uri).toBe("qemu:///system");
        expect(plan.network.name).toBe("dev-net");
        expect(plan.network.bridge).toBe("virbr-dev");
        expect(plan.network.forward).toBe("none");
        expect(plan.network.gateway).toBe("192.168.122.1");
        expect(plan.nodes.map((n) => n.domain.name)).toEqual(["dev-kubenode1", "dev-kubenode2", "dev-kubenode3"]);
        expect(plan.nodes[0].domain.diskPath).toBe("/var/lib/libvirt/images/kubespray-ha/dev-kubenode1.qcow2");
        expect(plan.nodes[0].domain.seedPath).toBe("/var/lib/libvirt/images/kubespray-ha/dev-kubenode1-seed.iso");
        expect(plan.nodes[0].domain.mac).toBe(nodeMac("dev", "kubenode1"));
        expect(plan.nodes[0].domain.domainType).toBe("kvm");
    });

    it("takes networkName, bridgeName, a gateway and per-node sizes from the config", () => {
        const plan = planLibvirt(
            config((raw) => {
                raw.name = "a-rather-long-stack";
                raw.network.gateway = "192.168.122.254";
                raw.network.dhcpRange = { start: "192.168.122.150", end: "192.168.122.250" };
                raw.libvirt = { vcpus: 3, memoryMiB: 2048, diskGiB: 30 };
                raw.nodes[1].vcpus = 8;
                raw.nodes[1].memoryMiB = 16384;
                raw.nodes[1].diskGiB = 100;
            }),
            PUBLIC_KEY,
        );
        expect(plan.network.bridge).toBe(defaultBridgeName("a-rather-long-stack"));
        expect(plan.network.bridge).toMatch(/^kha[0-9a-f]{12}$/);
        expect(plan.network.gateway).toBe("192.168.122.254");
        expect(plan.nodes.map((n) => [n.domain.vcpus, n.domain.memoryMiB, n.diskGiB])).toEqual([
            [3, 2048, 30],
            [8, 16384, 100],
            [3, 2048, 30],
        ]);
        const named = planLibvirt(config((raw) => (raw.libvirt = { networkName: "lab", bridgeName: "br-lab" })), PUBLIC_KEY);
        expect(named.network.name).toBe("lab");
        expect(named.network.bridge).toBe("br-lab");
        expect(named.nodes[0].domain.networkName).toBe("lab");
    });

    it("refuses relative paths already at config parse, naming the config key", () => {
        const bad = () => config((raw) => (raw.libvirt = { storageDir: "images", baseImage: "base.qcow2", kernel: "vmlinuz" }));
        expect(bad).toThrow(ConfigError);
        expect(bad).toThrow(/libvirt\.storageDir: must be an absolute path/);
        expect(bad).toThrow(/libvirt\.baseImage: must be an absolute path/);
        expect(bad).toThrow(/libvirt\.kernel: must be an absolute path/);
    });

    it("refuses another backend and an empty public key", () => {
        const hc = { ...config(), backend: "hcloud" as const };
        expect(() => planLibvirt(hc, PUBLIC_KEY)).toThrow(/backend/);
        expect(() => planLibvirt(config(), "  \n")).toThrow(/ssh\.publicKey/);
    });

    it("installs every key of a multi-line key file", () => {
        const second = "ssh-rsa AAAAB3NzaC1yc2E second@host";
        const plan = planLibvirt(config(), `${PUBLIC_KEY}\n\n# comment\n${second}\n`);
        expect(yaml11(plan.nodes[0].userData).users[0].ssh_authorized_keys).toEqual([PUBLIC_KEY, second]);
    });
});

describe("network XML", () => {
    it("matches the snapshot", () => {
        expect(planLibvirt(config(), PUBLIC_KEY).networkXml).toMatchSnapshot();
    });

    it("is an isolated bridge on the gateway with the DHCP range and one host entry per node", () => {
        const plan = planLibvirt(config(), PUBLIC_KEY);
        const net = xml.parse(plan.networkXml).network;
        expect(net.name).toBe("dev-net");
        expect(net.uuid).toBe(plan.network.uuid);
        expect(net.forward).toBeUndefined();
        expect(net.bridge).toEqual({ name: "virbr-dev", stp: "on", delay: "0" });
        expect(net.ip.address).toBe("192.168.122.1");
        expect(net.ip.prefix).toBe("24");
        expect(net.ip.dhcp.range).toEqual([{ start: "192.168.122.150", end: "192.168.122.254" }]);
        expect(net.ip.dhcp.host).toEqual(
            ["kubenode1", "kubenode2", "kubenode3"].map((n, i) => ({ mac: nodeMac("dev", n), name: n, ip: `192.168.122.2${i + 1}` })),
        );
    });

    it("serves only the host entries without network.dhcpRange, and NATs when asked", () => {
        const plan = planLibvirt(config((raw) => delete raw.network.dhcpRange), PUBLIC_KEY, { forward: "nat" });
        const net = xml.parse(plan.networkXml).network;
        expect(net.ip.dhcp.range).toBeUndefined();
        expect(net.ip.dhcp.host).toHaveLength(3);
        expect(net.forward).toEqual({ mode: "nat" });
    });

    it("leaves DHCP out of the core XML (what replaces the network)", () => {
        const plan = planLibvirt(config(), PUBLIC_KEY);
        const core = xml.parse(plan.networkCoreXml).network;
        expect(core.ip).toEqual({ address: "192.168.122.1", prefix: "24" });
        expect(core.bridge.name).toBe("virbr-dev");
        expect(plan.networkCoreXml).not.toContain("dhcp");
    });

    it("escapes names instead of concatenating them", () => {
        const plan = planLibvirt(config((raw) => (raw.libvirt = { networkName: `lab"><forward mode='nat'/><x a="&` })), PUBLIC_KEY);
        const net = xml.parse(plan.networkXml).network;
        expect(net.name).toBe(`lab"><forward mode='nat'/><x a="&`);
        expect(net.forward).toBeUndefined();
        expect(plan.networkXml).toContain("lab&quot;&gt;&lt;forward");
    });

    it("refuses characters XML cannot carry", () => {
        const spec = planLibvirt(config(), PUBLIC_KEY).network;
        expect(() => renderNetworkXml({ ...spec, name: "a\u0001b" })).toThrow(/XML 1\.0/);
    });
});

describe("domain XML", () => {
    it("matches the snapshot (direct kernel boot, software emulation)", () => {
        const plan = planLibvirt(
            config((raw) => (raw.libvirt = { domainType: "qemu", kernel: "/img/vmlinuz", initrd: "/img/initrd.img", cmdline: "root=/dev/vda rw console=ttyS0" })),
            PUBLIC_KEY,
        );
        expect(plan.nodes[0].domainXml).toMatchSnapshot();
    });

    it("has the sizes, overlay disk, seed cdrom and NIC of its node", () => {
        const plan = planLibvirt(config((raw) => (raw.nodes[2].memoryMiB = 1024)), PUBLIC_KEY);
        const node = plan.nodes[2];
        const dom = xml.parse(node.domainXml).domain;
        expect(dom.type).toBe("kvm");
        expect(dom.name).toBe("dev-kubenode3");
        expect(dom.uuid).toBe(stableUuid("domain", "dev", "kubenode3"));
        expect(dom.memory).toEqual({ unit: "MiB", "#text": "1024" });
        expect(dom.vcpu["#text"]).toBe("2");
        expect(dom.cpu).toEqual({ mode: "host-passthrough" });
        expect(dom.os.boot).toEqual({ dev: "hd" });
        expect(dom.os.kernel).toBeUndefined();
        const [disk, cdrom] = dom.devices.disk;
        expect(disk.device).toBe("disk");
        expect(disk.driver.type).toBe("qcow2");
        expect(disk.source.file).toBe(node.domain.diskPath);
        expect(disk.target).toEqual({ dev: "vda", bus: "virtio" });
        expect(cdrom.device).toBe("cdrom");
        expect(cdrom.source.file).toBe(node.domain.seedPath);
        expect(cdrom.target).toEqual({ dev: "sda", bus: "sata" });
        expect(cdrom).toHaveProperty("readonly");
        expect(dom.devices.interface.type).toBe("network");
        expect(dom.devices.interface.mac.address).toBe(nodeMac("dev", "kubenode3"));
        expect(dom.devices.interface.source.network).toBe("dev-net");
        expect(dom.devices.interface.model.type).toBe("virtio");
        expect(dom.metadata["kha:node"]).toEqual({ "xmlns:kha": METADATA_NAMESPACE, stack: "dev", name: "kubenode3" });
    });

    it("boots the configured kernel without a CPU model under software emulation", () => {
        const plan = planLibvirt(config((raw) => (raw.libvirt = { domainType: "qemu", kernel: "/k/vmlinuz", cmdline: "console=ttyS0 a=<b&c>" })), PUBLIC_KEY);
        const dom = xml.parse(plan.nodes[0].domainXml).domain;
        expect(dom.type).toBe("qemu");
        expect(dom.cpu).toBeUndefined();
        expect(dom.os.kernel).toBe("/k/vmlinuz");
        expect(dom.os.initrd).toBeUndefined();
        expect(dom.os.cmdline).toBe("console=ttyS0 a=<b&c>");
        expect(dom.os.boot).toBeUndefined();
    });

    it("escapes paths", () => {
        const spec = { ...planLibvirt(config(), PUBLIC_KEY).nodes[0].domain, diskPath: `/x/a'b"<c>&.qcow2` };
        expect(xml.parse(renderDomainXml(spec)).domain.devices.disk[0].source.file).toBe(`/x/a'b"<c>&.qcow2`);
    });
});

describe("cloud-init files", () => {
    it("match the snapshot", () => {
        const node = planLibvirt(config(), PUBLIC_KEY).nodes[0];
        expect({ userData: node.userData, networkConfig: node.networkConfig, metaData: node.metaData }).toMatchSnapshot();
    });

    it("user-data: hostname, the ssh user with passwordless sudo and the key", () => {
        const node = planLibvirt(config(), PUBLIC_KEY).nodes[1];
        expect(node.userData.startsWith("#cloud-config\n")).toBe(true);
        const ud = yaml11(node.userData);
        expect(ud.hostname).toBe("kubenode2");
        expect(ud.ssh_pwauth).toBe(false);
        expect(ud.users).toEqual([
            { name: "kube", shell: "/bin/bash", sudo: "ALL=(ALL) NOPASSWD:ALL", lock_passwd: true, ssh_authorized_keys: [PUBLIC_KEY] },
        ]);
    });

    it("user-data for root: keys on root, root logins allowed", () => {
        const node = planLibvirt(config((raw) => (raw.ssh.user = "root")), PUBLIC_KEY).nodes[0];
        const ud = yaml11(node.userData);
        expect(ud.users).toEqual([]);
        expect(ud.disable_root).toBe(false);
        expect(ud.ssh_authorized_keys).toEqual([PUBLIC_KEY]);
    });

    it("network-config v2: static address on the NIC with the node's MAC, renamed to config.interface", () => {
        const node = planLibvirt(config((raw) => (raw.interface = "eth7")), PUBLIC_KEY).nodes[0];
        const nc = yaml11(node.networkConfig);
        expect(nc.version).toBe(2);
        expect(nc.ethernets.eth7).toEqual({
            match: { macaddress: nodeMac("dev", "kubenode1") },
            "set-name": "eth7",
            dhcp4: false,
            addresses: ["192.168.122.21/24"],
            routes: [{ to: "0.0.0.0/0", via: "192.168.122.1" }],
            nameservers: { addresses: ["192.168.122.1"] },
        });
        expect(yaml11(node.metaData)).toEqual({ "instance-id": "dev-kubenode1", "local-hostname": "kubenode1" });
    });

    it("quotes what YAML 1.1 (PyYAML, cloud-init) would read as numbers or booleans", () => {
        const spec = { hostname: "yes", instanceId: "on", user: "no", sshPublicKeys: [PUBLIC_KEY], mac: "52:54:00:12:34:56", interface: "enp1s0", ip: "10.0.0.2", prefix: 24, gateway: "10.0.0.1" };
        const ud = yaml11(renderUserData(spec));
        expect(ud.hostname).toBe("yes");
        expect(ud.users[0].name).toBe("no");
        // A MAC of digits is a base-60 integer to YAML 1.1 unless quoted.
        const nc = renderNetworkConfig(spec);
        expect(nc).toContain(`macaddress: "52:54:00:12:34:56"`);
        expect(yaml11(nc).ethernets.enp1s0.match.macaddress).toBe("52:54:00:12:34:56");
        expect(yaml11(renderMetaData(spec))["instance-id"]).toBe("on");
    });
});

describe("shQuote", () => {
    const tricky = [
        "",
        "plain",
        "with space",
        "it's",
        `"double"`,
        "$(touch /tmp/kha-pwned)",
        "`id`",
        "a\nb",
        "semi;colon && x || y",
        "glob*?[a]",
        "~home",
        "-dash",
        "back\\slash",
        "'''",
        "ünïcödé ✓",
        "a=b",
        "#hash",
    ];

    it("leaves plain words bare and quotes everything else", () => {
        expect(shQuote("qemu:///system")).toBe("qemu:///system");
        expect(shQuote("/var/lib/libvirt/images/x.qcow2")).toBe("/var/lib/libvirt/images/x.qcow2");
        expect(shQuote("it's")).toBe(`'it'\\''s'`);
        expect(shQuote("")).toBe("''");
        expect(shQuote("a=b")).toBe("a=b");
        expect(shQuote("a=b c")).toBe("'a=b c'");
        expect(() => shQuote("a\0b")).toThrow(/NUL/);
    });

    it("round-trips every string through /bin/sh unchanged", () => {
        const out = execFileSync("/bin/sh", ["-c", `printf '%s\\0' ${tricky.map(shQuote).join(" ")}`], { encoding: "utf8" });
        expect(out.split("\0").slice(0, -1)).toEqual(tricky);
    });

    it("survives a second level: sh -c with a quoted script (the remote wrapper)", () => {
        const script = `printf '%s\\0' ${tricky.map(shQuote).join(" ")}`;
        const out = execFileSync("/bin/sh", ["-c", wrapForRemote(script)], { encoding: "utf8" });
        expect(out.split("\0").slice(0, -1)).toEqual(tricky);
    });

    it("builds lines and virsh batches from argv", () => {
        expect(shellLine(["virsh", "-c", "qemu:///system", "start", "--domain", "a b"])).toBe("virsh -c qemu:///system start --domain 'a b'");
        expect(virshBatch([["net-start", "--network", "n"], ["start", "--domain", "it's"]])).toBe(`net-start --network n ; start --domain 'it'\\''s'`);
    });
});

describe("contentHash", () => {
    it("ignores key order and changes with any value", () => {
        expect(contentHash({ a: 1, b: [1, { c: 2, d: 3 }] })).toBe(contentHash({ b: [1, { d: 3, c: 2 }], a: 1 }));
        expect(contentHash({ a: 1 })).not.toBe(contentHash({ a: 2 }));
        expect(contentHash({ a: 1 })).toMatch(/^[0-9a-f]{64}$/);
    });
});

describe("scripts", () => {
    const plan = planLibvirt(config((raw) => (raw.libvirt = { uri: "qemu+ssh://root@hv/system?keyfile=/k" })), PUBLIC_KEY);
    const node = plan.nodes[0];

    it("network: defines from stdin, starts when inactive, autostarts; delete destroys, undefines, tidies the directory", () => {
        const create = networkCreateScript(plan.uri, plan.network);
        expect(create).toContain("cat | virsh -c 'qemu+ssh://root@hv/system?keyfile=/k' net-define --file /dev/stdin\n");
        expect(create).toMatch(/\nactive=\$\(virsh .* net-list --name\)\nif ! printf .* "\$active" \| grep -qxF -- dev-net; then\n\s+virsh .* net-start --network dev-net\n/);
        expect(create).toContain("net-autostart --network dev-net");
        const del = networkDeleteScript(plan.uri, plan.network, plan.storageDir);
        expect(del).toContain("net-destroy --network dev-net");
        expect(del).toContain("net-undefine --network dev-net");
        expect(del).toContain("rmdir -- /var/lib/libvirt/images/kubespray-ha");
    });

    it("disk: qemu-img overlay on the base image, kept when present", () => {
        const s = diskCreateScript({ node: "kubenode1", baseImage: plan.baseImage, diskPath: node.domain.diskPath, diskGiB: 20, storageDir: plan.storageDir });
        expect(s).toContain(`qemu-img create -q -f qcow2 -F qcow2 -b ${plan.baseImage} ${node.domain.diskPath} 20G`);
        expect(s).toContain(`if [ -e ${node.domain.diskPath} ]; then`);
    });

    it("seed: cloud-localds -N from the three base64 lines on stdin", () => {
        expect(seedCreateScript("kubenode1", node.domain.seedPath, plan.storageDir)).toContain(
            `cloud-localds -N "$tmp/network-config" "$tmp/seed.iso" "$tmp/user-data" "$tmp/meta-data"`,
        );
        const lines = seedStdin({ userData: "u: 1\n", networkConfig: "n\n", metaData: "m" }).split("\n");
        expect(lines.map((l) => Buffer.from(l, "base64").toString())).toEqual(["u: 1\n", "n\n", "m", ""]);
    });

    it("domain: checks what exists, define from stdin, start unless active; delete destroys and undefines", () => {
        const create = domainCreateScript(plan.uri, node.domain);
        expect(create).toContain("defined=$(virsh -c 'qemu+ssh://root@hv/system?keyfile=/k' list --all --name)");
        expect(create).toContain("cat | virsh -c 'qemu+ssh://root@hv/system?keyfile=/k' define --file /dev/stdin\n");
        expect(create).toContain(`active=$(virsh -c 'qemu+ssh://root@hv/system?keyfile=/k' list --name)\nif ! printf '%s\\n' "$active" | grep -qxF -- dev-kubenode1; then`);
        expect(create).toContain("start --domain dev-kubenode1");
        const del = domainDeleteScript(plan.uri, node.domain);
        expect(del).toContain("destroy --domain dev-kubenode1");
        expect(del).toContain("undefine --domain dev-kubenode1 --managed-save --snapshots-metadata");
        expect(del).not.toContain("--remove-all-storage");
        expect(domainDefineSteps(node.domain, "/f").define).toEqual(["define", "--file", "/f"]);
        expect(domainRemoveSteps(node.domain).destroy).toEqual(["destroy", "--domain", "dev-kubenode1"]);
    });

    it("wait: bounded by the timeout, names the node, runs cloud-init status --wait", () => {
        const s = waitReadyScript({ node: "kubenode1", ip: "192.168.122.21", user: "kube", port: 22, timeoutSeconds: 600 });
        expect(s).toContain("deadline=$(( $(date +%s) + 600 ))");
        expect(s).toContain("cloud-init status --wait");
        expect(s).toContain("libvirt node kubenode1 (192.168.122.21)");
        expect(s).toContain("libvirt.bootTimeoutSeconds");
        expect(s).toContain(`-i "$key" 192.168.122.21`);
    });
});

describe("bridge names (issue 12.9)", () => {
    it("two long stack names that the 15-character cut made equal get different, stable bridges", () => {
        const cut = (name: string) => `virbr-${name}`.slice(0, 15);
        const [a, b] = ["cluster-prod-a", "cluster-prod-b"];
        expect(cut(a)).toBe(cut(b)); // what both stacks got before
        const bridge = (name: string) => planLibvirt(config((raw) => (raw.name = name)), PUBLIC_KEY).network.bridge;
        expect(bridge(a)).not.toBe(bridge(b));
        expect(bridge(a)).toBe(bridge(a));
        for (const name of [a, b, "x".repeat(63)]) expect(bridge(name)).toMatch(/^[A-Za-z0-9_.-]{1,15}$/);
    });

    it("keeps virbr-<name> where it fits (stacks deployed before keep their bridge), and libvirt.bridgeName wins", () => {
        expect(defaultBridgeName("dev")).toBe("virbr-dev");
        expect(defaultBridgeName("khavm12ab")).toBe("virbr-khavm12ab");
        expect(defaultBridgeName("khavm12abc")).toMatch(/^kha[0-9a-f]{12}$/);
        const named = planLibvirt(config((raw) => ((raw.name = "cluster-prod-a"), (raw.libvirt = { bridgeName: "br-prod-a" }))), PUBLIC_KEY);
        expect(named.network.bridge).toBe("br-prod-a");
    });
});

describe("trigger inputs (what the component hashes into triggers)", () => {
    it("leave out how the hypervisor is reached: libvirt.host changes no trigger input", () => {
        const local = libvirtTriggerInputs(planLibvirt(config(), PUBLIC_KEY));
        const remote = libvirtTriggerInputs(planLibvirt(config((raw) => (raw.libvirt = { host: { address: "hv.example", user: "virt", port: 2222 } })), PUBLIC_KEY));
        expect(remote).toEqual(local);
        expect(local.network.target).toEqual({ uri: "qemu:///system", host: null });
    });

    it("hash to the values the component had before (local stacks keep their triggers)", () => {
        const plan = planLibvirt(config(), PUBLIC_KEY);
        const t = libvirtTriggerInputs(plan);
        const target = { uri: plan.uri, host: null };
        const node = plan.nodes[0];
        const seed = { userData: node.userData, networkConfig: node.networkConfig, metaData: node.metaData };
        // The objects the component hashed before the trigger inputs moved here.
        const disk = contentHash({ target, base: plan.baseImage, disk: node.domain.diskPath, size: node.diskGiB, seed });
        const network = contentHash({ target, network: plan.networkCoreXml });
        expect(contentHash(t.network)).toBe(network);
        expect(contentHash(t.nodes[0].disk)).toBe(disk);
        expect(contentHash(t.nodes[0].seed)).toBe(contentHash({ target, seed: node.domain.seedPath, files: seed }));
        expect(contentHash(t.nodes[0].domain)).toBe(contentHash({ target, name: node.domain.name, uuid: node.domain.uuid, disk, network }));
    });
});

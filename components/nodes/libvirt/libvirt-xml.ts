// What the libvirt backend creates, computed without Pulumi: names, paths, deterministic MACs
// and UUIDs, the network and domain XML (built with fast-xml-parser's builder, which escapes
// every attribute and text value) and the cloud-init NoCloud files (built with `yaml`, in
// YAML 1.1 mode because cloud-init reads them with PyYAML). Pure: same config, same bytes.
import { createHash } from "crypto";
import * as path from "path";
import { XMLBuilder } from "fast-xml-parser";
import { stringify } from "yaml";
import { ClusterConfig, ConfigError, Role } from "../../config/config";
import { AddressRange, RuleViolation } from "../../config/vip";
import { contentHash } from "../../shared/hash";

/** `<forward>` of the libvirt network: none (isolated, the default) or NAT to the hypervisor's uplink. */
export type NetworkForward = "none" | "nat";

/** One `<host>` of the network's `<dhcp>`. */
export interface DhcpHost {
    mac: string;
    ip: string;
    name: string;
}

export interface NetworkSpec {
    name: string;
    uuid: string;
    bridge: string;
    /** MAC of the bridge itself (deterministic, so a re-define does not change it). */
    mac: string;
    forward: NetworkForward;
    /** The bridge address: the subnet gateway. */
    gateway: string;
    prefix: number;
    dhcpRange?: AddressRange;
    hosts: DhcpHost[];
}

export interface DomainSpec {
    name: string;
    uuid: string;
    domainType: "kvm" | "qemu";
    vcpus: number;
    memoryMiB: number;
    /** qcow2 overlay, attached as virtio `vda`. */
    diskPath: string;
    /** cloud-init NoCloud ISO, attached as a sata cdrom. */
    seedPath: string;
    networkName: string;
    mac: string;
    /** Direct kernel boot (all optional; initrd/cmdline only with kernel). */
    kernel?: string;
    initrd?: string;
    cmdline?: string;
    /** Recorded in `<metadata>` so `virsh dumpxml` tells which stack and node a domain is. */
    stack: string;
    node: string;
}

export interface CloudInitSpec {
    hostname: string;
    instanceId: string;
    user: string;
    /** OpenSSH public keys (one per entry). */
    sshPublicKeys: string[];
    mac: string;
    interface: string;
    ip: string;
    prefix: number;
    gateway: string;
}

/** Everything the component creates for one node. */
export interface NodePlan {
    name: string;
    roles: Role[];
    ip: string;
    domain: DomainSpec;
    diskGiB: number;
    /** Rendered files. */
    domainXml: string;
    userData: string;
    networkConfig: string;
    metaData: string;
}

export interface LibvirtPlan {
    uri: string;
    baseImage: string;
    storageDir: string;
    network: NetworkSpec;
    /** The full network XML (with the DHCP host entries). */
    networkXml: string;
    /**
     * The network XML without `<dhcp>`: what, when changed, requires a new network (bridge,
     * address, forward mode). DHCP range and host entries are re-defined in place instead.
     */
    networkCoreXml: string;
    nodes: NodePlan[];
}

export interface PlanOptions {
    /** Network forward mode (default "none": isolated). */
    forward?: NetworkForward;
}

/** The metadata namespace of the domains this program defines. */
export const METADATA_NAMESPACE = "urn:kubespray-ha:libvirt:1";

function sha256(text: string): Buffer {
    return createHash("sha256").update(text).digest();
}

/**
 * Deterministic locally administered MAC in QEMU's 52:54:00 range: the next three bytes come
 * from sha256("<stack>/<node>"), so the network's `<host>` entry, the domain's NIC and the
 * cloud-init match agree on every run without storing anything.
 */
export function nodeMac(stack: string, node: string): string {
    const b = sha256(`mac/${stack}/${node}`);
    return ["52", "54", "00", ...[b[0], b[1], b[2]].map((x) => x.toString(16).padStart(2, "0"))].join(":");
}

/**
 * Deterministic UUID (RFC 9562 version 8, "custom") from a hash of the kind and names. libvirt
 * refuses to re-define an object whose name exists with another UUID, so a stable UUID is what
 * makes `virsh define` / `net-define` an idempotent update of our own object and an error for a
 * foreign one of the same name.
 */
export function stableUuid(kind: string, stack: string, name: string): string {
    const b = Buffer.from(sha256(`uuid/${kind}/${stack}/${name}`).subarray(0, 16));
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = b.toString("hex");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

// XML 1.0 cannot carry these even escaped; reject them instead of writing XML libvirt refuses.
const XML_INVALID = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const builder = new XMLBuilder({
    ignoreAttributes: false,
    attributeNamePrefix: "@_",
    textNodeName: "#text",
    format: true,
    indentBy: "  ",
    suppressEmptyNode: true,
    suppressBooleanAttributes: false,
    processEntities: true,
});

/** Throws when any string in the tree cannot be represented in XML 1.0. */
function checkXmlStrings(value: unknown, where: string): void {
    if (typeof value === "string") {
        if (XML_INVALID.test(value)) {
            throw new Error(`${where}: contains a character XML 1.0 cannot carry (control character)`);
        }
    } else if (Array.isArray(value)) {
        value.forEach((v, i) => checkXmlStrings(v, `${where}[${i}]`));
    } else if (value && typeof value === "object") {
        for (const [k, v] of Object.entries(value)) {
            checkXmlStrings(k, where);
            checkXmlStrings(v, `${where}.${k}`);
        }
    }
}

function buildXml(root: string, tree: Record<string, unknown>): string {
    checkXmlStrings(tree, root);
    return builder.build({ [root]: tree }).trimEnd() + "\n";
}

/**
 * The libvirt network: a bridge whose address is the subnet gateway, DHCP with the configured
 * range (none: DHCP serves only the host entries) and one `<host>` per node. Isolated (no
 * `<forward>`) unless forward is "nat".
 */
export function renderNetworkXml(spec: NetworkSpec, options: { withDhcp?: boolean } = {}): string {
    const withDhcp = options.withDhcp ?? true;
    const dhcp: Record<string, unknown> = {};
    if (withDhcp && spec.dhcpRange) {
        dhcp.range = { "@_start": spec.dhcpRange.start, "@_end": spec.dhcpRange.end };
    }
    if (withDhcp && spec.hosts.length > 0) {
        dhcp.host = spec.hosts.map((h) => ({ "@_mac": h.mac, "@_name": h.name, "@_ip": h.ip }));
    }
    const ip: Record<string, unknown> = { "@_address": spec.gateway, "@_prefix": String(spec.prefix) };
    if (Object.keys(dhcp).length > 0) {
        ip.dhcp = dhcp;
    }
    return buildXml("network", {
        name: spec.name,
        uuid: spec.uuid,
        ...(spec.forward === "nat" ? { forward: { "@_mode": "nat" } } : {}),
        bridge: { "@_name": spec.bridge, "@_stp": "on", "@_delay": "0" },
        mac: { "@_address": spec.mac },
        ip,
    });
}

/** A domain: overlay disk (virtio), seed ISO (sata cdrom), virtio NIC with the node's MAC, serial console. */
export function renderDomainXml(spec: DomainSpec): string {
    const os: Record<string, unknown> = { type: { "#text": "hvm" } };
    if (spec.kernel) {
        os.kernel = spec.kernel;
        if (spec.initrd) os.initrd = spec.initrd;
        if (spec.cmdline) os.cmdline = spec.cmdline;
    } else {
        os.boot = { "@_dev": "hd" };
    }
    return buildXml("domain", {
        "@_type": spec.domainType,
        name: spec.name,
        uuid: spec.uuid,
        metadata: {
            "kha:node": { "@_xmlns:kha": METADATA_NAMESPACE, "@_stack": spec.stack, "@_name": spec.node },
        },
        memory: { "@_unit": "MiB", "#text": String(spec.memoryMiB) },
        vcpu: { "@_placement": "static", "#text": String(spec.vcpus) },
        os,
        features: { acpi: "", apic: "" },
        // Software emulation (qemu) aborts on host CPU models; KVM gets the host's CPU.
        ...(spec.domainType === "kvm" ? { cpu: { "@_mode": "host-passthrough" } } : {}),
        clock: { "@_offset": "utc" },
        on_poweroff: "destroy",
        on_reboot: "restart",
        on_crash: "destroy",
        devices: {
            disk: [
                {
                    "@_type": "file",
                    "@_device": "disk",
                    driver: { "@_name": "qemu", "@_type": "qcow2", "@_discard": "unmap" },
                    source: { "@_file": spec.diskPath },
                    target: { "@_dev": "vda", "@_bus": "virtio" },
                },
                {
                    "@_type": "file",
                    "@_device": "cdrom",
                    driver: { "@_name": "qemu", "@_type": "raw" },
                    source: { "@_file": spec.seedPath },
                    target: { "@_dev": "sda", "@_bus": "sata" },
                    readonly: "",
                },
            ],
            interface: {
                "@_type": "network",
                mac: { "@_address": spec.mac },
                source: { "@_network": spec.networkName },
                model: { "@_type": "virtio" },
            },
            serial: { "@_type": "pty", target: { "@_port": "0" } },
            console: { "@_type": "pty", target: { "@_type": "serial", "@_port": "0" } },
            // Early boot under emulation starves for entropy (sshd host keys); feed it the host's.
            rng: { "@_model": "virtio", backend: { "@_model": "random", "#text": "/dev/urandom" } },
        },
    });
}

// YAML 1.1 so that values PyYAML would read as something else (a MAC of digits is a base-60
// integer there, `on`/`yes` are booleans) come out quoted.
function toYaml(value: unknown): string {
    return stringify(value, { version: "1.1", lineWidth: 0 });
}

/** cloud-init user-data: hostname, the login user with passwordless sudo and the SSH keys. */
export function renderUserData(spec: CloudInitSpec): string {
    const base: Record<string, unknown> = {
        hostname: spec.hostname,
        preserve_hostname: false,
        // Only the 127.0.1.1 line: Kubespray owns the rest of /etc/hosts.
        manage_etc_hosts: "localhost",
        ssh_pwauth: false,
    };
    if (spec.user === "root") {
        // No extra user: root gets the keys (cloud-init otherwise blocks root logins).
        Object.assign(base, { disable_root: false, users: [], ssh_authorized_keys: spec.sshPublicKeys });
    } else {
        Object.assign(base, {
            disable_root: true,
            users: [
                {
                    name: spec.user,
                    shell: "/bin/bash",
                    sudo: "ALL=(ALL) NOPASSWD:ALL",
                    lock_passwd: true,
                    ssh_authorized_keys: spec.sshPublicKeys,
                },
            ],
        });
    }
    return "#cloud-config\n" + toYaml(base);
}

/** cloud-init network-config v2: the static address on the NIC with the node's MAC, renamed to `interface`. */
export function renderNetworkConfig(spec: CloudInitSpec): string {
    return toYaml({
        version: 2,
        ethernets: {
            [spec.interface]: {
                match: { macaddress: spec.mac },
                "set-name": spec.interface,
                dhcp4: false,
                addresses: [`${spec.ip}/${spec.prefix}`],
                routes: [{ to: "0.0.0.0/0", via: spec.gateway }],
                nameservers: { addresses: [spec.gateway] },
            },
        },
    });
}

/** cloud-init meta-data. The instance-id is stable: cloud-init runs its once-per-instance steps once. */
export function renderMetaData(spec: CloudInitSpec): string {
    return toYaml({ "instance-id": spec.instanceId, "local-hostname": spec.hostname });
}

/** The public keys in `text`, one per non-empty line (a key file may hold several). */
export function splitPublicKeys(text: string): string[] {
    return text
        .split(/\r?\n/)
        .map((l) => l.trim())
        .filter((l) => l.length > 0 && !l.startsWith("#"));
}

/** Linux limits interface names to 15 characters (IFNAMSIZ 16 with the NUL). */
export const BRIDGE_NAME_MAX = 15;

/**
 * The bridge of a stack without `libvirt.bridgeName`: `virbr-<name>` when that fits in 15 characters
 * (what stacks deployed before were given), else `kha` and 12 hex digits of sha256 of the name. Unique per
 * name (cutting `virbr-<name>` to 15 characters made `cluster-prod-a` and `cluster-prod-b` share one) and
 * stable: the same name always gives the same bridge.
 */
export function defaultBridgeName(stack: string): string {
    const plain = `virbr-${stack}`;
    if (plain.length <= BRIDGE_NAME_MAX) return plain;
    return `kha${sha256(`bridge/${stack}`).toString("hex").slice(0, BRIDGE_NAME_MAX - 3)}`;
}

function checkAbsolute(value: string | undefined, key: string, problems: RuleViolation[]): void {
    if (value !== undefined && !path.posix.isAbsolute(value)) {
        problems.push({ key, message: `"${value}" must be an absolute path on the hypervisor` });
    }
}

/**
 * Computes every name, path, MAC, UUID and rendered file of the libvirt backend.
 * Throws ConfigError naming the config key when the config cannot be rendered.
 */
export function planLibvirt(config: ClusterConfig, sshPublicKey: string, options: PlanOptions = {}): LibvirtPlan {
    const lv = config.libvirt;
    const stack = config.name;
    const problems: RuleViolation[] = [];
    if (config.backend !== "libvirt") {
        problems.push({ key: "backend", message: `is ${config.backend}; the libvirt component needs backend libvirt` });
    }
    checkAbsolute(lv.baseImage, "libvirt.baseImage", problems);
    checkAbsolute(lv.storageDir, "libvirt.storageDir", problems);
    checkAbsolute(lv.kernel, "libvirt.kernel", problems);
    checkAbsolute(lv.initrd, "libvirt.initrd", problems);
    const keys = splitPublicKeys(sshPublicKey);
    if (keys.length === 0) {
        problems.push({ key: "ssh.publicKey", message: "no SSH public key to install on the nodes" });
    }
    const macs = new Map<string, string>();
    const bridgeMac = nodeMac(stack, "/bridge");
    macs.set(bridgeMac, "the network bridge");
    config.nodes.forEach((n, i) => {
        const mac = nodeMac(stack, n.name);
        if (macs.has(mac)) {
            problems.push({ key: `nodes[${i}].name`, message: `its derived MAC ${mac} collides with ${macs.get(mac)}; rename the node` });
        }
        macs.set(mac, `node ${n.name}`);
    });
    if (problems.length > 0) {
        throw new ConfigError(problems);
    }

    const network: NetworkSpec = {
        name: lv.networkName ?? `${stack}-net`,
        uuid: stableUuid("network", stack, lv.networkName ?? `${stack}-net`),
        bridge: lv.bridgeName ?? defaultBridgeName(stack),
        mac: bridgeMac,
        forward: options.forward ?? "none",
        gateway: config.subnet.gateway,
        prefix: config.subnet.prefix,
        dhcpRange: config.network.dhcpRange,
        hosts: config.nodes.map((n) => ({ mac: nodeMac(stack, n.name), ip: n.ip, name: n.name })),
    };

    const nodes = config.nodes.map((n): NodePlan => {
        const domainName = `${stack}-${n.name}`;
        const mac = nodeMac(stack, n.name);
        const domain: DomainSpec = {
            name: domainName,
            uuid: stableUuid("domain", stack, n.name),
            domainType: lv.domainType,
            vcpus: n.vcpus ?? lv.vcpus,
            memoryMiB: n.memoryMiB ?? lv.memoryMiB,
            diskPath: path.posix.join(lv.storageDir, `${domainName}.qcow2`),
            seedPath: path.posix.join(lv.storageDir, `${domainName}-seed.iso`),
            networkName: network.name,
            mac,
            kernel: lv.kernel,
            initrd: lv.initrd,
            cmdline: lv.cmdline,
            stack,
            node: n.name,
        };
        const ci: CloudInitSpec = {
            hostname: n.name,
            instanceId: domainName,
            user: config.ssh.user,
            sshPublicKeys: keys,
            mac,
            interface: config.interface,
            ip: n.ip,
            prefix: config.subnet.prefix,
            gateway: config.subnet.gateway,
        };
        return {
            name: n.name,
            roles: [...n.roles],
            ip: n.ip,
            domain,
            diskGiB: n.diskGiB ?? lv.diskGiB,
            domainXml: renderDomainXml(domain),
            userData: renderUserData(ci),
            networkConfig: renderNetworkConfig(ci),
            metaData: renderMetaData(ci),
        };
    });

    return {
        uri: lv.uri,
        baseImage: lv.baseImage,
        storageDir: lv.storageDir,
        network,
        networkXml: renderNetworkXml(network),
        networkCoreXml: renderNetworkXml(network, { withDhcp: false }),
        nodes,
    };
}

// ---------------------------------------------------------------------------------------------
// Triggers: what, when it changes, makes the component replace a command (a new disk, a new domain).

/**
 * Where the objects live: the libvirt URI (another daemon has other objects). Not how the program reaches
 * the hypervisor: `libvirt.host` (address, user, port) only changes where the scripts run, an in-place
 * update that runs nothing. `host` stays in the hashed object, always null, so the triggers of stacks
 * deployed before this change keep their values.
 */
export interface TriggerTarget {
    uri: string;
    host: null;
}

/** The inputs the component hashes into one node's command triggers (contentHash of each). */
export interface NodeTriggerInputs {
    node: string;
    /**
     * The qcow2 overlay: base image, path, size, and the cloud-init seed (cloud-init applies a seed once per
     * instance, so a changed seed needs a fresh disk). A new disk is a blank machine.
     */
    disk: { target: TriggerTarget; base: string; disk: string; size: number; seed: { userData: string; networkConfig: string; metaData: string } };
    /** The seed ISO: its path and files. */
    seed: { target: TriggerTarget; seed: string; files: { userData: string; networkConfig: string; metaData: string } };
    /** The domain: its name and UUID, re-created (a cold restart on the same disk) when its disk or network is. */
    domain: { target: TriggerTarget; name: string; uuid: string; disk: string; network: string };
    /**
     * The readiness wait, whose id the Kubespray commands key on: re-created with the disk only (a blank
     * machine gets Kubespray again), not when only the domain is re-created (the component re-runs the wait
     * in place then). The component adds the disk command's id, so Pulumi replaces the wait, and the
     * Kubespray commands keyed on it (remove-node.yml first), before it deletes the old disk.
     */
    ready: { disk: string };
}

export interface LibvirtTriggerInputs {
    /** The network: bridge, address, forward mode (networkCoreXml). DHCP entries are re-defined in place. */
    network: { target: TriggerTarget; network: string };
    /** In node order. */
    nodes: NodeTriggerInputs[];
}

/** The trigger inputs of every command of the libvirt component. Pure: the same plan, the same values. */
export function libvirtTriggerInputs(plan: LibvirtPlan): LibvirtTriggerInputs {
    const target: TriggerTarget = { uri: plan.uri, host: null };
    const network = { target, network: plan.networkCoreXml };
    const networkHash = contentHash(network);
    return {
        network,
        nodes: plan.nodes.map((node) => {
            const d = node.domain;
            const files = { userData: node.userData, networkConfig: node.networkConfig, metaData: node.metaData };
            const disk = { target, base: plan.baseImage, disk: d.diskPath, size: node.diskGiB, seed: files };
            const diskHash = contentHash(disk);
            return {
                node: node.name,
                disk,
                seed: { target, seed: d.seedPath, files },
                domain: { target, name: d.name, uuid: d.uuid, disk: diskHash, network: networkHash },
                ready: { disk: diskHash },
            };
        }),
    };
}

// The stack config `kubespray-ha:cluster`: its schema (zod), its defaults and the
// cross-field rules, validated once. Pure: nothing here imports Pulumi, so the
// offline `render` script and the Pulumi program share exactly the same checks.
import { z } from "zod";
import { hcloudProblems } from "./hcloud-rules";
import { AddressRange, API_PORT, checkDhcpRange, checkVip, hostAddressProblem, inRange, inSubnet, isIPv4, parseSubnet, pickVip, RuleViolation, Subnet } from "./vip";

export const CONFIG_NAMESPACE = "kubespray-ha";
export const CONFIG_KEY = "cluster";
/** Secret config key holding the SSH private key (alternative: `ssh.privateKeyPath`). */
export const SSH_PRIVATE_KEY_SECRET = "sshPrivateKey";

export const BACKENDS = ["libvirt", "hcloud", "baremetal"] as const;
export const KUBESPRAY_VERSIONS = ["v2.31.0", "v2.25.1"] as const;
export const ROLES = ["control-plane", "etcd", "worker"] as const;
export const VIP_MODES = ["arp", "bgp", "loadbalancer"] as const;
export const KUBE_PROXY_MODES = ["ipvs", "iptables", "nftables"] as const;

export type Backend = (typeof BACKENDS)[number];
export type KubesprayVersion = (typeof KUBESPRAY_VERSIONS)[number];
export type Role = (typeof ROLES)[number];
export type VipMode = (typeof VIP_MODES)[number];

/** The kube-vip image each supported Kubespray version is pinned to by default. */
export const KUBE_VIP_DEFAULT_TAG: Record<KubesprayVersion, string> = {
    "v2.25.1": "v0.8.0",
    "v2.31.0": "v1.0.3",
};

const ipv4 = z.string().refine(isIPv4, (v) => ({ message: `"${v}" is not an IPv4 address` }));
const dnsLabel = z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, "must be a lowercase DNS label (a-z, 0-9, '-', at most 63)");
const seconds = z.number().int().positive();
const asn = z.number().int().min(1).max(4294967295);
const cidrList = z.array(z.string()).default([]);
const absolutePath = z.string().regex(/^\/[^\0]*$/, "must be an absolute path on the hypervisor");

const nodeSchema = z
    .object({
        name: dnsLabel,
        ip: ipv4,
        roles: z.array(z.enum(ROLES)).nonempty("a node needs at least one role"),
        /** hcloud: server type for this node (default hcloud.serverType). */
        serverType: z.string().optional(),
        /** hcloud: image for this node (default hcloud.image). */
        image: z.string().optional(),
        /** hcloud: location for this node (default hcloud.location). */
        location: z.string().optional(),
        /** libvirt: vCPUs (default libvirt.vcpus). */
        vcpus: z.number().int().min(1).optional(),
        /** libvirt: memory in MiB (default libvirt.memoryMiB). */
        memoryMiB: z.number().int().min(256).optional(),
        /** libvirt: root disk size in GiB (default libvirt.diskGiB). */
        diskGiB: z.number().int().min(1).optional(),
        /** baremetal: address Ansible connects to (default: ip). */
        sshAddress: z.string().min(1).optional(),
    })
    .strict();

const hcloudSchema = z
    .object({
        location: z.string().default("nbg1"),
        networkZone: z.string().default("eu-central"),
        /** The hcloud Network's ip_range; must contain network.cidr (default: network.cidr itself). */
        networkIpRange: z.string().optional(),
        serverType: z.string().default("cx22"),
        image: z.string().default("ubuntu-24.04"),
        /** Use an existing hcloud SSH key by name instead of uploading ssh.publicKey. */
        sshKeyName: z.string().optional(),
        loadBalancerType: z.string().default("lb11"),
        /** Give the API Load Balancer a public interface too (default false: private only). */
        enablePublicInterface: z.boolean().default(false),
        firewall: z
            .object({
                /** CIDRs allowed to reach SSH (22) on the servers' public IPs. Ansible connects from here. */
                sshSourceCidrs: cidrList,
                /** CIDRs allowed to reach the API (6443) on the servers' public IPs. */
                apiSourceCidrs: cidrList,
            })
            .strict()
            .default({}),
        labels: z.record(z.string()).default({}),
    })
    .strict();

const libvirtSchema = z
    .object({
        /** libvirt connection URI. */
        uri: z.string().default("qemu:///system"),
        /** Run the libvirt commands on this hypervisor over SSH instead of locally. */
        host: z
            .object({ address: z.string(), user: z.string().default("root"), port: z.number().int().default(22) })
            .strict()
            .optional(),
        /** `none`: an isolated network (default); `nat`: NAT to the host's uplink, for Kubespray downloads without a mirror. */
        forward: z.enum(["none", "nat"]).default("none"),
        /** libvirt network name (default `<name>-net`). */
        networkName: z.string().optional(),
        /** Linux bridge for the network (default `virbr-<name>`, cut to 15 characters). */
        bridgeName: z.string().regex(/^[A-Za-z0-9_.-]{1,15}$/, "must be a Linux interface name (at most 15 of A-Z a-z 0-9 _ . -)").optional(),
        /** Base qcow2 image the node disks overlay (path on the hypervisor). */
        baseImage: absolutePath.default("/var/lib/libvirt/images/debian-12-genericcloud-amd64.qcow2"),
        /** Directory on the hypervisor for overlays and seed ISOs. */
        storageDir: absolutePath.default("/var/lib/libvirt/images/kubespray-ha"),
        domainType: z.enum(["kvm", "qemu"]).default("kvm"),
        vcpus: z.number().int().min(1).default(2),
        memoryMiB: z.number().int().min(256).default(4096),
        diskGiB: z.number().int().min(1).default(20),
        /** Direct kernel boot (optional): kernel, initrd and cmdline on the hypervisor. */
        kernel: absolutePath.optional(),
        initrd: absolutePath.optional(),
        cmdline: z.string().optional(),
        /** Seconds to wait for each node's SSH and cloud-init. */
        bootTimeoutSeconds: z.number().int().positive().default(600),
    })
    .strict();

const kubesprayRunSchema = z
    .object({
        /** Kubespray checkout on the machine that runs Pulumi (air-gapped: your own copy). */
        dir: z.string().default("./kubespray"),
        /** ansible-playbook executable (e.g. from a venv with Kubespray's ansible-core). */
        ansiblePlaybook: z.string().default("ansible-playbook"),
        /** Where the working inventory and playbook logs go. */
        workDir: z.string().default(".kubespray-ha"),
        /** Extra arguments for every ansible-playbook call. */
        extraArgs: z.array(z.string()).default([]),
    })
    .strict();

const clusterSchema = z
    .object({
        backend: z.enum(BACKENDS, {
            errorMap: (issue, ctx) => ({
                message:
                    issue.code === "invalid_enum_value"
                        ? `unknown backend "${String(issue.received)}"; expected one of ${BACKENDS.join(", ")}`
                        : ctx.defaultError,
            }),
        }),
        /** Prefix for the names of created resources (default: the stack name). */
        name: dnsLabel.optional(),
        /** Kubespray's cluster_name (also the cluster DNS domain). */
        clusterName: z.string().default("cluster.local"),
        kubesprayVersion: z.enum(KUBESPRAY_VERSIONS).default("v2.31.0"),
        /** kube_version; changing it runs upgrade-cluster.yml. Default: Kubespray's. */
        kubeVersion: z
            .string()
            .regex(/^v?\d+\.\d+\.\d+$/, "must look like 1.31.4")
            .optional(),
        network: z
            .object({
                cidr: z.string(),
                /** Gateway of the node subnet (default: the first host, .1). */
                gateway: ipv4.optional(),
                dhcpRange: z.object({ start: ipv4, end: ipv4 }).strict().optional(),
            })
            .strict(),
        /** NIC the VIP binds to (kube-vip). */
        interface: z.string().regex(/^[A-Za-z0-9_.:-]{1,15}$/, "must be a network interface name").default("enp1s0"),
        vip: z
            .object({
                address: ipv4.optional(),
                mode: z.enum(VIP_MODES).optional(),
                /** DNS name for the API (apiserver_loadbalancer_domain_name); must resolve to the VIP. Default: the VIP. */
                domainName: z.string().optional(),
                bgp: z
                    .object({
                        routerId: ipv4.optional(),
                        localAs: asn.optional(),
                        peers: z.array(z.object({ address: ipv4, as: asn }).strict()).optional(),
                    })
                    .strict()
                    .optional(),
                servicesEnabled: z.boolean().default(false),
                leaseDuration: seconds.default(5),
                renewDeadline: seconds.default(3),
                retryPeriod: seconds.default(1),
                image: z
                    .object({ repo: z.string().optional(), tag: z.string().regex(/^v?\d+\.\d+\.\d+$/).optional() })
                    .strict()
                    .default({}),
            })
            .strict()
            .default({}),
        kubeProxyMode: z.enum(KUBE_PROXY_MODES).default("ipvs"),
        /** kube_proxy_strict_arp (default: true in ARP mode, else false). Always rendered. */
        kubeProxyStrictArp: z.boolean().optional(),
        ssh: z
            .object({
                /** SSH port of the nodes. */
                port: z.number().int().min(1).max(65535).default(22),
                /** Seconds to wait for a node to answer SSH (baremetal; libvirt uses libvirt.bootTimeoutSeconds). */
                waitSeconds: z.number().int().positive().default(300),
                /** Login user (default: `kube` on libvirt, created by cloud-init; `root` on hcloud). */
                user: z.string().optional(),
                publicKey: z.string().optional(),
                publicKeyPath: z.string().optional(),
                /** Path of the private key; alternative to the secret `kubespray-ha:sshPrivateKey`. */
                privateKeyPath: z.string().optional(),
            })
            .strict()
            .default({}),
        nodes: z.array(nodeSchema),
        /** Extra Kubespray group_vars for k8s_cluster, passed through as given. */
        groupVars: z.record(z.unknown()).default({}),
        hcloud: hcloudSchema.default({}),
        libvirt: libvirtSchema.default({}),
        kubespray: kubesprayRunSchema.default({}),
    })
    .strict();

type Parsed = z.infer<typeof clusterSchema>;
export type NodeConfig = z.infer<typeof nodeSchema>;
export type HcloudConfig = z.infer<typeof hcloudSchema>;
export type LibvirtConfig = z.infer<typeof libvirtSchema>;
export type KubesprayRunConfig = z.infer<typeof kubesprayRunSchema>;

export interface BgpConfig {
    routerId: string;
    localAs: number;
    peers: { address: string; as: number }[];
}

/** The validated config, with every default filled in and the VIP resolved. */
export interface ClusterConfig extends Omit<Parsed, "vip" | "name" | "ssh" | "kubeProxyStrictArp"> {
    name: string;
    subnet: Subnet;
    vip: Omit<Parsed["vip"], "address" | "mode" | "bgp"> & {
        address: string;
        /** True when the address was picked by the program, not configured. */
        picked: boolean;
        mode: VipMode;
        bgp?: BgpConfig;
    };
    kubeProxyStrictArp: boolean;
    ssh: Omit<Parsed["ssh"], "user"> & { user: string };
    /** https://VIP:6443 */
    apiServerUrl: string;
}

export { API_PORT };

/** A stack config that breaks a rule. `problems` name the config keys; the message lists them all. */
export class ConfigError extends Error {
    constructor(public readonly problems: RuleViolation[]) {
        super(
            `invalid stack config ${CONFIG_NAMESPACE}:${CONFIG_KEY}:\n` +
                problems.map((p) => `  - ${p.key}: ${p.message}`).join("\n"),
        );
        this.name = "ConfigError";
    }
}

function zodPath(path: (string | number)[]): string {
    return path.reduce<string>(
        (acc, part) => (typeof part === "number" ? `${acc}[${part}]` : acc ? `${acc}.${part}` : part),
        "",
    );
}

function countRole(nodes: NodeConfig[], role: Role): number {
    return nodes.filter((n) => n.roles.includes(role)).length;
}

function checkNodes(parsed: Parsed, subnet: Subnet | undefined, dhcp: AddressRange | undefined): RuleViolation[] {
    const nodes = parsed.nodes;
    const problems: RuleViolation[] = [];
    if (nodes.length === 0) {
        problems.push({ key: "nodes", message: "at least one node is required" });
    }
    const seenNames = new Map<string, number>();
    const seenIps = new Map<string, number>();
    nodes.forEach((node, i) => {
        const key = `nodes[${i}]`;
        if (seenNames.has(node.name)) {
            problems.push({ key: `${key}.name`, message: `duplicate node name "${node.name}" (also nodes[${seenNames.get(node.name)}])` });
        } else {
            seenNames.set(node.name, i);
        }
        if (seenIps.has(node.ip)) {
            problems.push({ key: `${key}.ip`, message: `duplicate node IP ${node.ip} (also nodes[${seenIps.get(node.ip)}])` });
        } else {
            seenIps.set(node.ip, i);
        }
        if (node.sshAddress !== undefined && parsed.backend !== "baremetal") {
            problems.push({ key: `${key}.sshAddress`, message: `only for backend baremetal; ${parsed.backend} knows its nodes' addresses` });
        }
        if (new Set(node.roles).size !== node.roles.length) {
            problems.push({ key: `${key}.roles`, message: "a role is listed twice" });
        }
        if (subnet) {
            const problem = hostAddressProblem(node.ip, subnet);
            if (problem) {
                problems.push({ key: `${key}.ip`, message: problem });
            } else if (dhcp && inRange(node.ip, dhcp)) {
                problems.push({ key: `${key}.ip`, message: `${node.ip} is inside network.dhcpRange ${dhcp.start}-${dhcp.end}; a lease could take it` });
            }
        }
    });
    for (const [role, group] of [["control-plane", "kube_control_plane"], ["etcd", "etcd"]] as const) {
        const count = countRole(nodes, role);
        if (nodes.length > 0 && (count === 0 || count % 2 === 0)) {
            problems.push({
                key: "nodes",
                message: `${count} nodes have the role ${role} (${group}); an odd number (1, 3, 5...) is required ${count === 0 ? "" : "for etcd quorum"}`.trim(),
            });
        }
    }
    if (nodes.length > 0 && countRole(nodes, "worker") === 0) {
        problems.push({ key: "nodes", message: "no node has the role worker (kube_node would be empty)" });
    }
    return problems;
}

function resolveVipMode(parsed: Parsed, problems: RuleViolation[]): VipMode {
    const mode = parsed.vip.mode ?? (parsed.backend === "hcloud" ? "loadbalancer" : "arp");
    if (parsed.backend === "hcloud" && mode !== "loadbalancer") {
        problems.push({
            key: "vip.mode",
            message:
                `${mode} cannot hold a VIP on Hetzner Cloud: its networks are routed (layer 3), only addresses Hetzner ` +
                "allocated are delivered, so gratuitous ARP (or a BGP route) never moves the VIP. Use mode loadbalancer " +
                "(a private Hetzner Load Balancer holds the VIP), or the libvirt backend for a layer-2 network such as a Robot vSwitch",
        });
    }
    if (parsed.backend !== "hcloud" && mode === "loadbalancer") {
        problems.push({ key: "vip.mode", message: `loadbalancer is the Hetzner Cloud mode; on ${parsed.backend} use arp or bgp (kube-vip)` });
    }
    return mode;
}

function resolveBgp(parsed: Parsed, mode: VipMode, problems: RuleViolation[]): BgpConfig | undefined {
    const bgp = parsed.vip.bgp;
    if (mode !== "bgp") {
        if (bgp) {
            problems.push({ key: "vip.bgp", message: `set, but vip.mode is ${mode}; set vip.mode: bgp or remove vip.bgp` });
        }
        return undefined;
    }
    const missing: RuleViolation[] = [];
    if (!bgp?.routerId) missing.push({ key: "vip.bgp.routerId", message: "required when vip.mode is bgp (kube_vip_bgp_routerid)" });
    if (!bgp?.localAs) missing.push({ key: "vip.bgp.localAs", message: "required when vip.mode is bgp (kube_vip_local_as)" });
    if (!bgp?.peers || bgp.peers.length === 0) {
        missing.push({ key: "vip.bgp.peers", message: "at least one BGP peer {address, as} is required when vip.mode is bgp" });
    }
    problems.push(...missing);
    return missing.length === 0 ? { routerId: bgp!.routerId!, localAs: bgp!.localAs!, peers: bgp!.peers! } : undefined;
}

function checkLease(vip: Parsed["vip"]): RuleViolation[] {
    const problems: RuleViolation[] = [];
    if (vip.renewDeadline >= vip.leaseDuration) {
        problems.push({ key: "vip.renewDeadline", message: `${vip.renewDeadline}s must be shorter than vip.leaseDuration (${vip.leaseDuration}s)` });
    }
    if (vip.retryPeriod >= vip.renewDeadline) {
        problems.push({ key: "vip.retryPeriod", message: `${vip.retryPeriod}s must be shorter than vip.renewDeadline (${vip.renewDeadline}s)` });
    }
    return problems;
}

function checkCidrs(list: string[], key: string): RuleViolation[] {
    const problems: RuleViolation[] = [];
    list.forEach((cidr, i) => {
        try {
            parseSubnetOrHost(cidr);
        } catch (err) {
            problems.push({ key: `${key}[${i}]`, message: (err as Error).message });
        }
    });
    return problems;
}

/** Firewall sources may be /31 or /32 too; they are not node subnets. */
function parseSubnetOrHost(cidr: string): void {
    const m = /^(.*)\/(\d{1,2})$/.exec(cidr);
    if (m && isIPv4(m[1]) && Number(m[2]) <= 32) {
        if (Number(m[2]) > 30) return;
        parseSubnet(cidr);
        return;
    }
    throw new Error(`"${cidr}" is not a valid IPv4 CIDR`);
}

function checkHcloud(parsed: Parsed, subnet: Subnet | undefined): RuleViolation[] {
    if (parsed.backend !== "hcloud") return [];
    const problems = [
        ...checkCidrs(parsed.hcloud.firewall.sshSourceCidrs, "hcloud.firewall.sshSourceCidrs"),
        ...checkCidrs(parsed.hcloud.firewall.apiSourceCidrs, "hcloud.firewall.apiSourceCidrs"),
    ];
    if (parsed.hcloud.firewall.sshSourceCidrs.length === 0) {
        problems.push({
            key: "hcloud.firewall.sshSourceCidrs",
            message: "required: the CIDRs Ansible connects from (SSH is closed to everything else)",
        });
    }
    if (parsed.hcloud.networkIpRange !== undefined && subnet) {
        try {
            const range = parseSubnet(parsed.hcloud.networkIpRange);
            if (!(subnet.prefix >= range.prefix && inSubnet(subnet.network, range))) {
                problems.push({ key: "hcloud.networkIpRange", message: `${range.cidr} does not contain network.cidr ${subnet.cidr}` });
            }
        } catch (err) {
            problems.push({ key: "hcloud.networkIpRange", message: (err as Error).message });
        }
    }
    if (subnet && parsed.network.gateway !== undefined) {
        problems.push({ key: "network.gateway", message: "Hetzner Cloud always uses the first address of the subnet as gateway; remove network.gateway" });
    }
    return problems;
}

function checkSsh(parsed: Parsed): RuleViolation[] {
    const problems: RuleViolation[] = [];
    if (parsed.ssh.publicKey !== undefined && parsed.ssh.publicKeyPath !== undefined) {
        problems.push({ key: "ssh.publicKey", message: "set ssh.publicKey or ssh.publicKeyPath, not both" });
    }
    if (parsed.ssh.publicKey !== undefined && !/^(ssh-(ed25519|rsa)|ecdsa-sha2-nistp\d+) [A-Za-z0-9+/=]+( .*)?$/.test(parsed.ssh.publicKey.trim())) {
        problems.push({ key: "ssh.publicKey", message: "is not an OpenSSH public key (ssh-ed25519 AAAA... comment)" });
    }
    // Bare-metal machines already trust the key; the other backends install it.
    const needsPublicKey = parsed.backend === "libvirt" || (parsed.backend === "hcloud" && !parsed.hcloud.sshKeyName);
    if (needsPublicKey && parsed.ssh.publicKey === undefined && parsed.ssh.publicKeyPath === undefined) {
        problems.push({ key: "ssh.publicKey", message: "missing SSH public key: set ssh.publicKey or ssh.publicKeyPath" });
    }
    return problems;
}

function reservedGroupVar(key: string): string | undefined {
    if (key.startsWith("kube_vip_")) return "vip.*";
    const owned: Record<string, string> = {
        kube_proxy_strict_arp: "kubeProxyStrictArp",
        kube_proxy_mode: "kubeProxyMode",
        loadbalancer_apiserver: "vip.address",
        loadbalancer_apiserver_localhost: "vip.mode",
        apiserver_loadbalancer_domain_name: "vip.domainName",
        supplementary_addresses_in_ssl_keys: "vip.domainName",
        kubeconfig_localhost: "(always true: the program reads artifacts/admin.conf)",
        cluster_name: "clusterName",
        kube_version: "kubeVersion",
    };
    return owned[key];
}

export interface ParseOptions {
    /** The Pulumi stack name, the default for `name`. */
    stack: string;
}

/**
 * Validates the raw `kubespray-ha:cluster` object and returns the normalised config.
 * Throws ConfigError listing every problem with its config key.
 */
export function parseClusterConfig(raw: unknown, options: ParseOptions): ClusterConfig {
    if (raw === undefined || raw === null) {
        throw new ConfigError([{ key: "(root)", message: `missing: set ${CONFIG_NAMESPACE}:${CONFIG_KEY} in Pulumi.${options.stack}.yaml` }]);
    }
    const result = clusterSchema.safeParse(raw);
    if (!result.success) {
        throw new ConfigError(result.error.issues.map((i) => ({ key: zodPath(i.path) || "(root)", message: i.message })));
    }
    const parsed = result.data;
    const problems: RuleViolation[] = [];

    let subnet: Subnet | undefined;
    try {
        subnet = parseSubnet(parsed.network.cidr, parsed.network.gateway);
        if (parsed.network.gateway !== undefined) {
            const gw = hostAddressProblem(parsed.network.gateway, { ...subnet, gateway: "" });
            if (gw) problems.push({ key: "network.gateway", message: gw });
        }
    } catch (err) {
        problems.push({ key: "network.cidr", message: (err as Error).message });
    }
    const dhcp = parsed.network.dhcpRange;
    if (dhcp && subnet) {
        problems.push(...checkDhcpRange(dhcp, subnet, "network.dhcpRange"));
    }
    const dhcpOk = dhcp && subnet && problems.every((p) => !p.key.startsWith("network."));
    problems.push(...checkNodes(parsed, subnet, dhcpOk ? dhcp : undefined));

    const mode = resolveVipMode(parsed, problems);
    const bgp = resolveBgp(parsed, mode, problems);
    problems.push(...checkLease(parsed.vip));

    const strictArp = parsed.kubeProxyStrictArp ?? mode === "arp";
    if (mode === "arp" && parsed.kubeProxyMode === "ipvs" && !strictArp) {
        problems.push({
            key: "kubeProxyStrictArp",
            message: "must be true with kubeProxyMode ipvs and vip.mode arp (Kubespray fails: \"kube-vip require kube_proxy_strict_arp = true\")",
        });
    }
    problems.push(...checkHcloud(parsed, subnet));
    problems.push(...checkSsh(parsed));
    if (parsed.backend === "libvirt" && (parsed.libvirt.initrd || parsed.libvirt.cmdline) && !parsed.libvirt.kernel) {
        problems.push({ key: "libvirt.kernel", message: "required when libvirt.initrd or libvirt.cmdline is set (direct kernel boot)" });
    }
    for (const key of Object.keys(parsed.groupVars)) {
        const owner = reservedGroupVar(key);
        if (owner) {
            problems.push({ key: `groupVars.${key}`, message: `is managed by this program; set ${owner} instead` });
        }
    }

    let vipAddress = parsed.vip.address;
    const nodeIps = parsed.nodes.map((n) => n.ip);
    if (subnet && problems.every((p) => !p.key.startsWith("network.") && !/^nodes\[\d+\]\.ip$/.test(p.key))) {
        if (vipAddress !== undefined) {
            for (const message of checkVip({ vip: vipAddress, subnet, nodeIps, dhcpRange: dhcp })) {
                problems.push({ key: "vip.address", message });
            }
        } else {
            vipAddress = pickVip(subnet, nodeIps, dhcp);
            if (vipAddress === undefined) {
                problems.push({ key: "vip.address", message: `no free address in ${subnet.cidr} outside network.dhcpRange and away from the nodes; set vip.address or narrow the range` });
            }
        }
    }
    if (problems.length > 0 || !subnet || !vipAddress) {
        throw new ConfigError(problems);
    }
    const config: ClusterConfig = {
        ...parsed,
        name: parsed.name ?? options.stack,
        subnet,
        vip: { ...parsed.vip, address: vipAddress, picked: parsed.vip.address === undefined, mode, bgp },
        kubeProxyStrictArp: strictArp,
        ssh: { ...parsed.ssh, user: parsed.ssh.user ?? (parsed.backend === "libvirt" ? "kube" : "root") },
        apiServerUrl: `https://${vipAddress}:${API_PORT}`,
    };
    // Hetzner's own limits (labels, zones, name lengths, placement groups) need the normalised config.
    const backendProblems = config.backend === "hcloud" ? hcloudProblems(config) : [];
    if (backendProblems.length > 0) {
        throw new ConfigError(backendProblems);
    }
    return config;
}

/** Nodes that hold a role, in config order. */
export function nodesWithRole<T extends { roles: readonly Role[] }>(nodes: readonly T[], role: Role): T[] {
    return nodes.filter((n) => n.roles.includes(role));
}

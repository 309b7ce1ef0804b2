// The stack config `kubespray-ha:cluster`: its schema (zod), its defaults and the
// cross-field rules, validated once. Pure: nothing here imports Pulumi, so the
// offline `render` script and the Pulumi program share exactly the same checks.
import { z } from "zod";
import { BGP_PEER_PASSWORDS_SECRET, BgpConfig, BgpPeerPasswordsInput, resolveBgp } from "./bgp";
import { hcloudProblems } from "./hcloud-rules";
import { secretPathProblems } from "./secrets";
import { KUBESPRAY_VERSION_FACTS } from "./kubespray-versions";
import { kubeProxyModeProblem, kubeVersionProblem } from "./kubespray-rules";
import { extraArgsProblems, groupVarsProblems } from "./managed-vars";
import { dnsNameProblem, domainNameProblem, isDnsLabel, suggestDnsLabel } from "./names";
import { noEffectWarnings } from "./no-effect";
import { offlineProblems, offlineSchema } from "./offline";
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
/** hcloud: which API endpoint clients (the `kubeconfig` output, the program's k8s.Provider) use. */
export const API_ENDPOINTS = ["private", "public"] as const;

export type Backend = (typeof BACKENDS)[number];
export type KubesprayVersion = (typeof KUBESPRAY_VERSIONS)[number];
export type Role = (typeof ROLES)[number];
export type VipMode = (typeof VIP_MODES)[number];
export type ApiEndpoint = (typeof API_ENDPOINTS)[number];

/** The kube-vip image each supported Kubespray version is pinned to by default (from its source, with a leading v). */
export const KUBE_VIP_DEFAULT_TAG = Object.fromEntries(
    KUBESPRAY_VERSIONS.map((v) => [v, `v${KUBESPRAY_VERSION_FACTS[v].kubeVip.default.replace(/^v/, "")}`]),
) as Record<KubesprayVersion, string>;

export interface EtcdTimings {
    electionTimeoutMs: number;
    heartbeatIntervalMs: number;
}
/** Kubespray's own etcd_election_timeout / etcd_heartbeat_interval (v2.31.0: roles/etcd_defaults, v2.25.1: roles/etcd/defaults). */
export const KUBESPRAY_ETCD_TIMINGS: Readonly<EtcdTimings> = { electionTimeoutMs: 5000, heartbeatIntervalMs: 250 };
/**
 * etcd's election timeout and heartbeat by default, by VIP mode (config key `etcd`). kube-vip stacks: etcd's own
 * LAN values, chosen by the failover bench (README, "Failover bench"): while etcd elects a leader no lease can be
 * written, and with Kubespray's 5000/250 ms kills of a holder that led etcd cost up to 10.6 s (lease 3/2/1);
 * 1000/100 ms with lease 3/2/1 gave a median 4.2 s, at most 5.7 s, and no election in idle windows. Load Balancer stacks
 * (hcloud): Kubespray's values, not measured there (the Load Balancer's health checks set that failover).
 */
export const ETCD_DEFAULTS: Readonly<Record<VipMode, EtcdTimings>> = {
    arp: { electionTimeoutMs: 1000, heartbeatIntervalMs: 100 },
    bgp: { electionTimeoutMs: 1000, heartbeatIntervalMs: 100 },
    loadbalancer: KUBESPRAY_ETCD_TIMINGS,
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
        /** BGP mode, control-plane nodes: kube_vip_bgp_routerid of this node (default: its ip). */
        bgpRouterId: ipv4.optional(),
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
        serverType: z.string().default("cx23"),
        image: z.string().default("ubuntu-24.04"),
        /** Use an existing hcloud SSH key by name instead of uploading ssh.publicKey. */
        sshKeyName: z.string().optional(),
        loadBalancerType: z.string().default("lb11"),
        /** Give the API Load Balancer a public interface too (default false: private only). */
        enablePublicInterface: z.boolean().default(false),
        /**
         * The endpoint of the `kubeconfig` output and the k8s.Provider: `private` (the VIP) or `public` (the
         * Load Balancer's public IPv4; needs enablePublicInterface). Default: public when enablePublicInterface.
         */
        apiEndpoint: z.enum(API_ENDPOINTS).optional(),
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
        /** kube_version; changing it runs upgrade-cluster.yml. Default: Kubespray's. Checked against the version's checksums. */
        kubeVersion: z.string().optional(),
        network: z
            .object({
                cidr: z.string(),
                /** Gateway of the node subnet (default: the first host, .1). */
                gateway: ipv4.optional(),
                dhcpRange: z.object({ start: ipv4, end: ipv4 }).strict().optional(),
            })
            .strict(),
        /**
         * NIC the VIP binds to (kube-vip) on every control plane. Default on libvirt: enp1s0 (the name the
         * VMs' cloud-init network-config sets); required on baremetal with kube-vip, where only the machines
         * know it. The readiness check confirms it exists on each control plane.
         */
        interface: z.string().regex(/^[A-Za-z0-9_.:-]{1,15}$/, "must be a network interface name").optional(),
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
                        // password: refused with a pointer to the secret kubespray-ha:bgpPeerPasswords (config/bgp.ts).
                        peers: z.array(z.object({ address: ipv4, as: asn, password: z.unknown().optional() }).strict()).optional(),
                    })
                    .strict()
                    .optional(),
                servicesEnabled: z.boolean().default(false),
                // kube-vip's leader election is client-go's: a leader that dies without releasing the lease
                // is replaced only after leaseDuration, so that is how long the API VIP can be down. Above
                // 60 s a lost control plane takes the API away for more than a minute (kubelets and
                // controllers start failing long before); the other bounds are checked in checkLease.
                // Defaults 3/2/1 s (Kubespray: 5/3/1), chosen by the failover bench together with etcd's
                // 1000/100 ms (ETCD_DEFAULTS; README, "Failover bench"): a dead holder cost a median 4.2 s and at
                // most 5.7 s instead of 6.7 s and 9.2 s, with no false failover while idle.
                leaseDuration: seconds.max(60, "at most 60 s: it is how long the VIP can stay down after its holder dies").default(3),
                renewDeadline: seconds.default(2),
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
                /** Seconds to wait for a node to answer SSH (baremetal; hcloud: SSH and cloud-init; libvirt uses libvirt.bootTimeoutSeconds). */
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
        /**
         * `protect` on the machines of etcd members (hcloud servers, libvirt disks and domains): Pulumi then
         * refuses to replace or delete them (`pulumi destroy` too) until this is false and an `up` ran.
         */
        protectEtcdMembers: z.boolean().default(true),
        /**
         * etcd's raft timings (Kubespray's etcd_election_timeout / etcd_heartbeat_interval, milliseconds), rendered
         * into group_vars/all/etcd.yml for every etcd host. They bound the API's outage when the etcd leader dies
         * (no write, so no kube-vip lease renewal, until a new leader is elected). Defaults: ETCD_DEFAULTS, by
         * VIP mode. etcd itself refuses an election timeout under 5 heartbeats or over 50 s.
         */
        etcd: z
            .object({
                electionTimeoutMs: z.number().int().positive().max(50000, "at most 50000 ms (etcd refuses more)").optional(),
                heartbeatIntervalMs: z.number().int().positive().optional(),
                /**
                 * Allow an even number of control-plane/etcd nodes for one `up`: the step between two odd counts when
                 * members join or leave one per `up` (kubespray/membership.ts checks it against the last deployment).
                 */
                allowEvenMembers: z.boolean().default(false),
            })
            .strict()
            .default({}),
        kubespray: kubesprayRunSchema.default({}),
        /** Air-gapped installs: the files repo, the registry and checksum overrides (config/offline.ts). */
        offline: offlineSchema.optional(),
    })
    .strict();

type Parsed = z.infer<typeof clusterSchema>;
export type NodeConfig = z.infer<typeof nodeSchema>;
export type HcloudConfig = z.infer<typeof hcloudSchema>;
export type LibvirtConfig = z.infer<typeof libvirtSchema>;
export type KubesprayRunConfig = z.infer<typeof kubesprayRunSchema>;

export type { BgpConfig } from "./bgp";

/** The validated config, with every default filled in and the VIP resolved. */
export interface ClusterConfig extends Omit<Parsed, "vip" | "name" | "ssh" | "kubeProxyStrictArp" | "hcloud" | "interface" | "etcd"> {
    /** `etcd` with the defaults of the VIP mode filled in. */
    etcd: EtcdTimings & { allowEvenMembers: boolean };
    name: string;
    /** `interface` resolved: the configured NIC, else the libvirt VMs' enp1s0 (unused with a Load Balancer). */
    interface: string;
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
    /** `apiEndpoint` resolved: always `private` on other backends. */
    hcloud: Omit<HcloudConfig, "apiEndpoint"> & { apiEndpoint: ApiEndpoint };
    /** https://VIP:6443, the cluster's internal endpoint (kubelets, kube-proxy). */
    apiServerUrl: string;
    /**
     * The API's public addresses once they exist (hcloud with enablePublicInterface: the Load Balancer's
     * public IPv4, then IPv6), added to the certificate SANs. Never in the stack config: KubesprayRun sets
     * them when the Load Balancer is created; before that `render` shows placeholders.
     */
    publicApiAddresses?: string[];
    /**
     * The etcd member names (`etcd_member_name`) carried over from the last deployment (kubespray/etcd-names.ts):
     * KubesprayRun sets them from the stack's last deployment, `npm run plan` from the base ref's render. Never in
     * the stack config; absent (a first deployment, `render`): etcd1..etcdN over the etcd nodes in config order.
     */
    etcdMemberNames?: EtcdMemberNames;
    /**
     * The control planes and etcd members of the last deployment, in its inventory order, and how Kubespray reached
     * each (kubespray/membership.ts: a member that leaves is removed while the inventory still lists it). Set by
     * KubesprayRun from the stack's last deployment; never in the stack config; absent on a first deployment.
     */
    deployedMembers?: DeployedMembers;
    /**
     * Keys that are valid but have no effect on this backend or mode (config/no-effect.ts); `render` prints
     * them as `warning: <key>: <message>` and the program logs them with pulumi.log.warn.
     */
    warnings: RuleViolation[];
    /**
     * Secret config keys whose values are in the rendered inventory (e.g. `kubespray-ha:bgpPeerPasswords`).
     * When not empty, everything rendered from this config (inventory files, command stdin, outputs) must
     * be wrapped with pulumi.secret.
     */
    inventorySecrets: string[];
}

/** The etcd member names of a deployment: kept by each member for its life, never given to another. */
/** A control plane or etcd member as the last deployment's inventory listed it. */
export interface DeployedHost {
    name: string;
    sshAddress: string;
    ip: string;
    roles: Role[];
    etcdMemberName?: string;
}

/** The last deployment's control-plane/etcd membership (ClusterConfig.deployedMembers). */
export interface DeployedMembers {
    controlPlane: string[];
    etcd: string[];
    /** Absent in deployments from before it was recorded. */
    hosts?: DeployedHost[];
}

export interface EtcdMemberNames {
    /** Etcd node -> its `etcd_member_name` (the member's --name and its entry in ETCD_INITIAL_CLUSTER). */
    members: Record<string, string>;
    /** Names of members that left the etcd group, sorted: never given again (etcd may still list them). */
    retired: string[];
}

export { API_PORT };

/** The NIC name the libvirt VMs' cloud-init network-config sets (match by MAC, set-name). */
export const DEFAULT_VM_INTERFACE = "enp1s0";

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
        if (nodes.length > 0 && (count === 0 || (count % 2 === 0 && !parsed.etcd.allowEvenMembers))) {
            problems.push({
                key: "nodes",
                message: `${count} nodes have the role ${role} (${group}); an odd number (1, 3, 5...) is required ${count === 0 ? "" : "for etcd quorum (etcd.allowEvenMembers: true allows an even count for one `up`, as the step of a one-member-per-`up` change)"}`.trim(),
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

function checkLease(vip: Parsed["vip"]): RuleViolation[] {
    const problems: RuleViolation[] = [];
    if (vip.renewDeadline >= vip.leaseDuration) {
        problems.push({ key: "vip.renewDeadline", message: `${vip.renewDeadline}s must be shorter than vip.leaseDuration (${vip.leaseDuration}s)` });
    }
    // client-go's NewLeaderElector (kube-vip v0.8/v1.0 use it) refuses renewDeadline <= JitterFactor (1.2) x
    // retryPeriod, and kube-vip's RunOrDie then panics: the static pod would crash-loop on every control plane.
    if (vip.renewDeadline <= 1.2 * vip.retryPeriod) {
        problems.push({ key: "vip.retryPeriod", message: `${vip.retryPeriod}s: vip.renewDeadline (${vip.renewDeadline}s) must be more than 1.2 x vip.retryPeriod (client-go's leader election refuses it and kube-vip crashes)` });
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

export interface ParseOptions {
    /** The Pulumi stack name, the default for `name`. */
    stack: string;
    /** The secret `kubespray-ha:bgpPeerPasswords` as read (config/bgp.ts); absent when not set. */
    bgpPeerPasswords?: BgpPeerPasswordsInput;
    /**
     * Paths inside `kubespray-ha:cluster` whose values are secrets (config/secrets.ts): allowed below
     * groupVars (the inventory then stays secret), refused anywhere else.
     */
    securePaths?: readonly string[];
}

/**
 * Validates the raw `kubespray-ha:cluster` object and returns the normalised config.
 * Throws ConfigError listing every problem with its config key.
 */
export function parseClusterConfig(raw: unknown, options: ParseOptions): ClusterConfig {
    if (raw === undefined || raw === null) {
        throw new ConfigError([{ key: "(root)", message: `missing: set ${CONFIG_NAMESPACE}:${CONFIG_KEY} in Pulumi.${options.stack}.yaml` }]);
    }
    const secretProblems = secretPathProblems(options.securePaths ?? []);
    if (secretProblems.length > 0) {
        throw new ConfigError(secretProblems);
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
    const warnings = noEffectWarnings(raw as Record<string, unknown>, parsed.backend, mode);
    const bgp = resolveBgp({ mode, bgp: parsed.vip.bgp, nodes: parsed.nodes, passwords: options.bgpPeerPasswords }, problems, warnings);
    problems.push(...checkLease(parsed.vip));
    const etcd: EtcdTimings & { allowEvenMembers: boolean } = {
        allowEvenMembers: parsed.etcd.allowEvenMembers,
        electionTimeoutMs: parsed.etcd.electionTimeoutMs ?? ETCD_DEFAULTS[mode].electionTimeoutMs,
        heartbeatIntervalMs: parsed.etcd.heartbeatIntervalMs ?? ETCD_DEFAULTS[mode].heartbeatIntervalMs,
    };
    if (etcd.electionTimeoutMs < 5 * etcd.heartbeatIntervalMs) {
        const given = parsed.etcd.electionTimeoutMs === undefined ? ` (the default for vip.mode ${mode}; set etcd.electionTimeoutMs too)` : "";
        problems.push({ key: "etcd.electionTimeoutMs", message: `${etcd.electionTimeoutMs} ms${given} must be at least 5 x etcd.heartbeatIntervalMs (${etcd.heartbeatIntervalMs} ms): etcd refuses to start otherwise` });
    }
    for (const p of [kubeVersionProblem(parsed.kubesprayVersion, parsed.kubeVersion), kubeProxyModeProblem(parsed.kubesprayVersion, parsed.kubeProxyMode)]) {
        if (p) problems.push(p);
    }
    const clusterNameProblem = dnsNameProblem(parsed.clusterName);
    if (clusterNameProblem) problems.push({ key: "clusterName", message: `${clusterNameProblem}; it is also the cluster's DNS domain` });
    if (parsed.name === undefined && !isDnsLabel(options.stack)) {
        problems.push({
            key: "name",
            message: `not set, so it defaults to the stack name "${options.stack}", which is not a lowercase DNS label (a-z, 0-9, '-', at most 63) ` +
                `and cannot prefix resource names; set name, e.g. "${suggestDnsLabel(options.stack)}"`,
        });
    }

    const strictArp = parsed.kubeProxyStrictArp ?? mode === "arp";
    if (mode === "arp" && parsed.kubeProxyMode === "ipvs" && !strictArp) {
        problems.push({
            key: "kubeProxyStrictArp",
            message: "must be true with kubeProxyMode ipvs and vip.mode arp (Kubespray fails: \"kube-vip require kube_proxy_strict_arp = true\")",
        });
    }
    if (parsed.backend === "baremetal" && mode !== "loadbalancer" && parsed.interface === undefined) {
        problems.push({
            key: "interface",
            message: "is required on baremetal: the NIC that holds the node IPs on the control planes, which kube-vip binds the VIP to " +
                "(see `ip -o -4 addr show` on a control plane); there is no default that fits existing machines",
        });
    }
    problems.push(...checkHcloud(parsed, subnet));
    problems.push(...checkSsh(parsed));
    if (parsed.backend === "libvirt" && (parsed.libvirt.initrd || parsed.libvirt.cmdline) && !parsed.libvirt.kernel) {
        problems.push({ key: "libvirt.kernel", message: "required when libvirt.initrd or libvirt.cmdline is set (direct kernel boot)" });
    }
    problems.push(...offlineProblems(parsed.offline, parsed.kubesprayVersion, Object.keys(parsed.groupVars)));
    problems.push(...groupVarsProblems(parsed.groupVars));
    problems.push(...extraArgsProblems(parsed.kubespray.extraArgs));

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
    if (parsed.vip.domainName !== undefined) {
        const why = domainNameProblem(parsed.vip.domainName, vipAddress);
        if (why) problems.push({ key: "vip.domainName", message: why });
    }
    if (problems.length > 0 || !subnet || !vipAddress) {
        throw new ConfigError(problems);
    }
    const config: ClusterConfig = {
        ...parsed,
        name: parsed.name ?? options.stack,
        interface: parsed.interface ?? DEFAULT_VM_INTERFACE,
        subnet,
        vip: { ...parsed.vip, address: vipAddress, picked: parsed.vip.address === undefined, mode, bgp },
        kubeProxyStrictArp: strictArp,
        etcd,
        ssh: { ...parsed.ssh, user: parsed.ssh.user ?? (parsed.backend === "libvirt" ? "kube" : "root") },
        hcloud: {
            ...parsed.hcloud,
            apiEndpoint: parsed.backend !== "hcloud" ? "private" : parsed.hcloud.apiEndpoint ?? (parsed.hcloud.enablePublicInterface ? "public" : "private"),
        },
        apiServerUrl: `https://${vipAddress}:${API_PORT}`,
        warnings,
        inventorySecrets: [
            ...(bgp?.peers.some((p) => p.password !== undefined) ? [`${CONFIG_NAMESPACE}:${BGP_PEER_PASSWORDS_SECRET}`] : []),
            ...(options.securePaths ?? []).map((p) => `${CONFIG_NAMESPACE}:${CONFIG_KEY} ${p}`),
        ],
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

// Kubespray inputs: inventory/hosts.yaml and inventory/group_vars/k8s_cluster/*.yml,
// rendered with the `yaml` package. Pure and byte-for-byte deterministic: the same
// config and machines always give the same files (stable order, no timestamps).
import { stringify } from "yaml";
import { API_PORT, ClusterConfig, KUBE_VIP_DEFAULT_TAG, nodesWithRole, Role } from "../config/config";
import { kubesprayFacts, kubeVersionForKubespray } from "../config/kubespray-rules";
import { etcdMemberNamesOf } from "./etcd-names";
import { OFFLINE_VARS_FILE, offlineVars } from "./offline";

/** What the inventory needs of a machine, whichever backend made it. */
export interface InventoryMachine {
    name: string;
    roles: readonly Role[];
    /** Private address Kubernetes binds to (`ip`). */
    ip: string;
    /** Address Ansible connects to (`ansible_host`). */
    sshAddress: string;
}

/** Relative path (inside the inventory dir) -> file content. Sorted by path. */
export type RenderedFiles = Record<string, string>;

const HEADER = "# Rendered by kubespray-ha from the Pulumi stack config. Do not edit: change the stack config.\n";

function toYaml(value: unknown, sortKeys: boolean): string {
    return HEADER + stringify(value, { sortMapEntries: sortKeys, lineWidth: 0 });
}

/**
 * inventory/hosts.yaml: hosts with ansible_host/ip/etcd_member_name and Kubespray's groups. The etcd member
 * names are `config.etcdMemberNames` (kept from the last deployment), else etcd1..etcdN (./etcd-names.ts).
 */
export function renderHostsYaml(config: ClusterConfig, machines: readonly InventoryMachine[]): string {
    const etcdNames = new Map(Object.entries(etcdMemberNamesOf(config, machines).members));
    const hosts: Record<string, Record<string, string>> = {};
    for (const m of machines) {
        hosts[m.name] = {
            ansible_host: m.sshAddress,
            ip: m.ip,
            access_ip: m.ip,
            ...(etcdNames.has(m.name) ? { etcd_member_name: etcdNames.get(m.name)! } : {}),
            // BGP: every control plane is its own speaker with its own router id (config/bgp.ts).
            ...(config.vip.bgp?.routerIds[m.name] ? { kube_vip_bgp_routerid: config.vip.bgp.routerIds[m.name] } : {}),
        };
    }
    const group = (role: Role) =>
        Object.fromEntries(nodesWithRole(machines, role).map((m) => [m.name, null]));
    const inventory = {
        all: {
            // ssh.user and ssh.port: the same login the readiness check (nodes/wait-ready.ts) used.
            vars: { ansible_user: config.ssh.user, ansible_port: config.ssh.port },
            hosts,
            children: {
                kube_control_plane: { hosts: group("control-plane") },
                etcd: { hosts: group("etcd") },
                kube_node: { hosts: group("worker") },
                k8s_cluster: { children: { kube_control_plane: null, kube_node: null } },
            },
        },
    };
    return toYaml(inventory, false);
}

/** kube-vip variables (or kube_vip_enabled: false when a Hetzner Load Balancer holds the VIP). */
export function kubeVipVars(config: ClusterConfig): Record<string, unknown> {
    const vip = config.vip;
    if (vip.mode === "loadbalancer") {
        return { kube_vip_enabled: false };
    }
    const vars: Record<string, unknown> = {
        kube_vip_enabled: true,
        kube_vip_controlplane_enabled: true,
        kube_vip_address: vip.address,
        kube_vip_interface: config.interface,
        kube_vip_services_enabled: vip.servicesEnabled,
        kube_vip_arp_enabled: vip.mode === "arp",
        kube_vip_bgp_enabled: vip.mode === "bgp",
        // Kubespray renders the lease timings only with leader election on, and defaults it to
        // kube_vip_arp_enabled: explicit, so BGP mode gets them too (only the lease holder advertises the VIP).
        kube_vip_leader_election_enabled: true,
        kube_vip_leaseduration: vip.leaseDuration,
        kube_vip_renewdeadline: vip.renewDeadline,
        kube_vip_retryperiod: vip.retryPeriod,
    };
    if (vip.bgp) {
        // kube_vip_bgp_routerid is a host var in hosts.yaml (one per control plane).
        vars.kube_vip_local_as = vip.bgp.localAs;
        // kube-vip's bgp_peers format: address:AS:password:multihop. A password makes this file secret
        // (config.inventorySecrets).
        vars.kube_vip_bgppeers = vip.bgp.peers.map((p) => `${p.address}:${p.as}:${p.password ?? ""}:false`);
    }
    if (vip.image.repo) {
        vars.kube_vip_image_repo = vip.image.repo;
    }
    const tag = vip.image.tag ?? KUBE_VIP_DEFAULT_TAG[config.kubesprayVersion];
    if (kubesprayFacts(config.kubesprayVersion).kubeVip.variable === "kube_vip_image_tag") {
        vars.kube_vip_image_tag = tag.startsWith("v") ? tag : `v${tag}`;
    } else {
        // v2.31.0 compares kube_vip_version as a version and adds the "v" itself.
        vars.kube_vip_version = tag.replace(/^v/, "");
    }
    return vars;
}

/**
 * The API's public addresses for the certificate SANs: on hcloud with `hcloud.enablePublicInterface`, the Load
 * Balancer's public IPv4 and IPv6 (`config.publicApiAddresses`, set once it exists; placeholders before that,
 * as `render` shows them). Empty otherwise. The VIP stays the cluster's own endpoint; these are for clients.
 */
export function publicApiSans(config: ClusterConfig): string[] {
    if (config.backend !== "hcloud" || !config.hcloud.enablePublicInterface) return [];
    return config.publicApiAddresses ?? [
        knownAfterCreate("public IPv4 of the API Load Balancer"),
        knownAfterCreate("public IPv6 of the API Load Balancer"),
    ];
}

/** The API endpoint, certificate and kube-proxy variables every mode needs. */
export function apiEndpointVars(config: ClusterConfig): Record<string, unknown> {
    const domain = config.vip.domainName ?? config.vip.address;
    const vars: Record<string, unknown> = {
        cluster_name: config.clusterName,
        apiserver_loadbalancer_domain_name: domain,
        loadbalancer_apiserver: { address: config.vip.address, port: API_PORT },
        loadbalancer_apiserver_localhost: false,
        supplementary_addresses_in_ssl_keys: [...new Set([config.vip.address, domain, ...publicApiSans(config)])],
        kubeconfig_localhost: true,
        kube_proxy_mode: config.kubeProxyMode,
        kube_proxy_strict_arp: config.kubeProxyStrictArp,
    };
    if (config.kubeVersion) {
        // Kubespray up to v2.27 writes kube_version with a leading v; newer ones without (kubespray-versions.ts).
        vars.kube_version = kubeVersionForKubespray(config.kubesprayVersion, config.kubeVersion);
    }
    return vars;
}

/** Every file of the inventory dir, keyed by relative path, in sorted order. */
export function renderInventory(config: ClusterConfig, machines: readonly InventoryMachine[]): RenderedFiles {
    const files: RenderedFiles = {
        "hosts.yaml": renderHostsYaml(config, machines),
        "group_vars/k8s_cluster/k8s-cluster.yml": toYaml(apiEndpointVars(config), true),
        "group_vars/k8s_cluster/kube-vip.yml": toYaml(kubeVipVars(config), true),
        // group_vars/all: etcd hosts outside k8s_cluster (an etcd-only node) read them too.
        "group_vars/all/etcd.yml": toYaml({ etcd_election_timeout: config.etcd.electionTimeoutMs, etcd_heartbeat_interval: config.etcd.heartbeatIntervalMs }, true),
    };
    if (Object.keys(config.groupVars).length > 0) {
        files["group_vars/k8s_cluster/zz-extra.yml"] = toYaml(config.groupVars, true);
    }
    const offline = offlineVars(config);
    if (offline) {
        files[OFFLINE_VARS_FILE] = toYaml(offline, true);
    }
    return Object.fromEntries(Object.entries(files).sort(([a], [b]) => a.localeCompare(b)));
}

/** Machines as the config knows them before anything exists: private IPs, and `sshAddress` from the backend. */
export function plannedMachines(config: ClusterConfig, sshAddress: (name: string, ip: string) => string): InventoryMachine[] {
    return config.nodes.map((n) => ({ name: n.name, roles: n.roles, ip: n.ip, sshAddress: sshAddress(n.name, n.ip) }));
}

/** What `render` and `preview` write where a value only exists after creation (an hcloud public IP). */
export function knownAfterCreate(what: string): string {
    return `<known after create: ${what}>`;
}

/** Machines as `render` shows them: on hcloud the public IPs are placeholders. */
export function renderTimeMachines(config: ClusterConfig): InventoryMachine[] {
    const given = new Map(config.nodes.map((n) => [n.name, n.sshAddress]));
    return plannedMachines(config, (name, ip) =>
        config.backend === "hcloud" ? knownAfterCreate(`public IPv4 of ${name}`) : given.get(name) ?? ip,
    );
}

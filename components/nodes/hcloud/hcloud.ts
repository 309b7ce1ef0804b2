// The Hetzner Cloud node backend: servers with fixed private IPs in a cloud network,
// behind a firewall, and a private Load Balancer that holds the reserved VIP (Hetzner
// networks are layer 3, so kube-vip's ARP cannot). What to create is computed by the pure
// ./hcloud-spec; this component only wires the resources.
import * as command from "@pulumi/command";
import * as hcloud from "@pulumi/hcloud";
import * as pulumi from "@pulumi/pulumi";
import { API_PORT, ClusterConfig, ConfigError } from "../../config/config";
import { ServerTypeKnowledge, serverTypeFindings, ServerTypeUse, staticListDrift } from "../../config/hcloud-server-types";
import { contentHash } from "../../shared/hash";
import {
    API_HEALTH_CHECK,
    clusterLabels,
    firewallRules,
    hcloudProblems,
    hcloudReadyScript,
    hcloudReadyTriggerInputs,
    networkIpRange,
    SERVER_IGNORE_CHANGES,
    serverReplaceInputs,
    serverSpecs,
    serverTypeUses,
} from "./hcloud-spec";
import { hcloudReadyResourceName, hcloudServerResourceName, isProtected } from "../identity";
import { Machine, NodeBackend } from "../machines";

export interface HcloudClusterArgs {
    /**
     * The validated stack config (`backend: hcloud`, `vip.mode: loadbalancer`). Hetzner rules
     * the schema does not know (labels, locations vs. `hcloud.networkZone`, `ssh.port`, at most
     * 10 control-plane/etcd nodes) are checked here and fail naming the config key.
     */
    config: ClusterConfig;
    /**
     * OpenSSH public key uploaded as an hcloud SSH key and installed for root on every server.
     * Ignored when `config.hcloud.sshKeyName` is set: then that existing key is looked up
     * instead (Hetzner refuses to upload a public key twice in one project). One of the two is
     * required.
     */
    sshPublicKey?: string;
    /**
     * Hetzner Cloud API token (`hcloud:token`). Wrapped with pulumi.secret and given only to
     * this component's explicit hcloud provider, never to a resource input or a log line.
     */
    hcloudToken: pulumi.Input<string>;
    /**
     * The private key of the servers' SSH key (a secret, as KubesprayRun gets it). Each server's readiness
     * check logs in with it, on stdin only. Without it no readiness check is created and a warning says so:
     * Kubespray then starts as soon as Hetzner reports the server running.
     */
    sshPrivateKey?: pulumi.Input<string>;
}

/** The provider's "not found" of getServerType (terraform-provider-hcloud's data source, hcloud-go). */
const SERVER_TYPE_NOT_FOUND = /no server type found|server type not found/i;

/** Hetzner's data of one server type through the provider: facts, unknown, or unread (the error). */
function lookUpServerType(serverType: string, opts: pulumi.InvokeOptions): Promise<[string, ServerTypeKnowledge]> {
    return hcloud.getServerType({ name: serverType }, opts).then(
        (facts): [string, ServerTypeKnowledge] =>
            facts.id === undefined ? [serverType, { kind: "unknown" }] : [serverType, { kind: "facts", facts, complete: true }],
        (err: unknown): [string, ServerTypeKnowledge] => {
            const reason = err instanceof Error ? err.message : String(err);
            return [serverType, SERVER_TYPE_NOT_FOUND.test(reason) ? { kind: "unknown" } : { kind: "unread", reason }];
        },
    );
}

/**
 * Hetzner's own data on each server type the config uses (deprecation and availability per location),
 * read with the provider's getServerType (one invoke per type, with `opts`: the component's provider) and
 * judged by the rule of config/hcloud-server-types.ts, the one `npm run render` applies to the static list.
 * Rejects with the ConfigError text when a type can no longer be ordered where a node is (or is unknown);
 * logs warnings for an announced deprecation, a type temporarily unavailable, data that cannot be read (no
 * network, a bad token: the static list was checked already) and a static list behind Hetzner's data.
 */
export function checkServerTypes(uses: readonly ServerTypeUse[], opts: pulumi.InvokeOptions, parent?: pulumi.Resource): pulumi.Output<void> {
    const lookups = [...new Set(uses.map((u) => u.serverType))].map((t) => lookUpServerType(t, opts));
    return pulumi.output(Promise.all(lookups)).apply((found) => {
        const know = new Map(found);
        const lookup = (t: string): ServerTypeKnowledge => know.get(t) ?? { kind: "none" };
        const { errors, warnings } = serverTypeFindings(uses, lookup);
        for (const w of [...warnings, ...staticListDrift(uses, lookup)]) void pulumi.log.warn(`${w.key}: ${w.message}`, parent);
        if (errors.length > 0) {
            const message = new ConfigError(errors).message;
            throw parent ? new pulumi.ResourceError(message, parent) : new Error(message);
        }
    });
}

/** Hetzner resource IDs are numbers; Pulumi's `id` is a string. */
function numericId(resource: pulumi.CustomResource): pulumi.Output<number> {
    return resource.id.apply((id) => Number(id));
}

/**
 * Servers, network, firewall and the API Load Balancer of a cluster on Hetzner Cloud.
 *
 * Resource options, and why:
 * - Every child has `deleteBeforeReplace: true`. Each has a fixed identity at Hetzner that a
 *   replacement would reuse while the old one still exists: names are unique per project,
 *   servers and the Load Balancer keep their fixed private IPs, the subnet its range, an SSH
 *   key its fingerprint, a service its listen port, a target its server. Create-before-delete
 *   would fail on each of these with a uniqueness error.
 * - Servers have `ignoreChanges: ["image", "sshKeys"]`. Both force a new server at Hetzner, yet
 *   neither is a change the user means for a running node: a new default image (or a new image
 *   name resolving differently) should apply to servers created from now on, and a rotated or
 *   renamed SSH key is rolled out by Ansible, not by wiping etcd members. Replace a node on
 *   purpose with `pulumi up --replace <urn>`. Labels, server type and placement group update in
 *   place; a new location does replace the server, which is what moving it means.
 * - Servers of etcd members have `protect: true` unless `protectEtcdMembers` is false: Pulumi then
 *   refuses to replace (a new location) or delete them, `pulumi destroy` included.
 * - Servers attach to the subnet at creation (`networks: [{ subnetId, ip }]`, plus `dependsOn`
 *   the subnet): the private IP is a plain config value, known at preview, and cloud-init sees
 *   the private interface on first boot. `aliasIps: []` keeps the provider from detaching and
 *   re-attaching the network on every update (terraform-provider-hcloud #650).
 * - Load Balancer targets `dependsOn` the Load Balancer's network attachment: a target that
 *   uses the private IP is refused until the Load Balancer is in the network.
 * - Each server's `serverType` waits for Hetzner's data on it (`hcloud.getServerType` through this
 *   component's provider): a type no longer orderable at the server's location (or unknown) fails the
 *   preview naming `hcloud.serverType` / `nodes[<i>].serverType` and the nodes; an announced deprecation
 *   is a warning. Data that cannot be read (no network, a bad token) is a warning too: the static list
 *   already ran with the config rules.
 * - Each server ends with a readiness check (`<name>-<node>-ready`, a local command, `dependsOn` the
 *   server, re-created with it): SSH with the private key and `cloud-init status --wait`, at most
 *   `ssh.waitSeconds`, failing with the node, its address and the likely causes (firewall sources, key).
 *   It is the node's `Machine.resource`, so Kubespray runs after it and remove-node before the server goes.
 */
export class HcloudCluster extends pulumi.ComponentResource implements NodeBackend {
    /**
     * One per config node, in config order; `sshAddress` is the server's public IPv4, `resource` its
     * readiness check (the server itself without sshPrivateKey).
     */
    public readonly machines: Machine[];
    /** The private IP of the API Load Balancer: the VIP, `config.vip.address`. */
    public readonly loadBalancerIp: pulumi.Output<string>;
    /**
     * With `hcloud.enablePublicInterface`: the Load Balancer's public IPv4, then its IPv6 (when it has one),
     * for the certificate SANs and the public kubeconfig. Resolves after the Load Balancer's network
     * attachment (which switches the public interface) and its 6443 service exist. Undefined otherwise.
     */
    public readonly publicApiAddresses?: pulumi.Output<string[]>;
    /** ID of the hcloud Network the nodes and the Load Balancer are in. */
    public readonly networkId: pulumi.Output<number>;
    /** ID of the firewall on the servers' public interfaces. */
    public readonly firewallId: pulumi.Output<number>;

    public readonly provider: hcloud.Provider;
    public readonly network: hcloud.Network;
    public readonly subnet: hcloud.NetworkSubnet;
    /** Undefined when `hcloud.sshKeyName` names an existing key. */
    public readonly sshKey?: hcloud.SshKey;
    public readonly placementGroup: hcloud.PlacementGroup;
    public readonly firewall: hcloud.Firewall;
    /** Keyed by node name. */
    public readonly servers: Record<string, hcloud.Server>;
    public readonly loadBalancer: hcloud.LoadBalancer;
    public readonly loadBalancerNetwork: hcloud.LoadBalancerNetwork;
    public readonly loadBalancerService: hcloud.LoadBalancerService;
    /** One per control-plane node. */
    public readonly loadBalancerTargets: hcloud.LoadBalancerTarget[];
    /** Each server's readiness check, keyed by node name (`machines[i].resource`); empty without sshPrivateKey. */
    public readonly ready: Record<string, command.local.Command>;
    /** The Load Balancer, its network attachment, service and targets: what the API at the VIP needs (NodeBackend). */
    public readonly apiDependencies: pulumi.Resource[];

    constructor(name: string, args: HcloudClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        const { config } = args;
        const problems = hcloudProblems(config);
        if (!config.hcloud.sshKeyName && !args.sshPublicKey) {
            problems.push({ key: "ssh.publicKey", message: "missing SSH public key for the servers: set ssh.publicKey, ssh.publicKeyPath or hcloud.sshKeyName" });
        }
        if (problems.length > 0) {
            // Before super(): a bad config registers nothing, like loadProgramInputs.
            throw new pulumi.RunError(new ConfigError(problems).message);
        }
        super("kubespray-ha:index:HcloudCluster", name, {}, opts);

        const provider = new hcloud.Provider(`${name}-provider`, { token: pulumi.secret(args.hcloudToken) }, { parent: this });
        const child = { parent: this, provider, deleteBeforeReplace: true };
        const labels = clusterLabels(config);
        const prefix = config.name;

        const network = new hcloud.Network(`${name}-network`, {
            name: `${prefix}-network`,
            ipRange: networkIpRange(config),
            labels,
        }, child);
        const subnet = new hcloud.NetworkSubnet(`${name}-subnet`, {
            networkId: numericId(network),
            type: "cloud",
            networkZone: config.hcloud.networkZone,
            ipRange: config.subnet.cidr,
        }, child);

        let sshKeyId: pulumi.Output<string>;
        let sshKey: hcloud.SshKey | undefined;
        if (config.hcloud.sshKeyName) {
            // Looked up at preview, so a misspelt name fails before anything is created.
            const existing = hcloud.getSshKeyOutput({ name: config.hcloud.sshKeyName }, { parent: this, provider });
            sshKeyId = existing.apply((key) => {
                if (key.id === undefined) {
                    throw new pulumi.ResourceError(`hcloud.sshKeyName: no SSH key named "${config.hcloud.sshKeyName}" in the Hetzner project`, this);
                }
                return String(key.id);
            });
        } else {
            sshKey = new hcloud.SshKey(`${name}-ssh-key`, { name: prefix, publicKey: args.sshPublicKey!, labels }, child);
            sshKeyId = sshKey.id;
        }

        const placementGroup = new hcloud.PlacementGroup(`${name}-spread`, { name: `${prefix}-spread`, type: "spread", labels }, child);
        const firewall = new hcloud.Firewall(`${name}-firewall`, {
            name: `${prefix}-nodes`,
            rules: firewallRules(config),
            labels,
        }, child);

        // Every server's type waits for Hetzner's verdict on it (checkServerTypes), so a refused type fails
        // the preview naming its key and nodes. The static list already ran with the same rule (hcloudProblems).
        const serverTypesChecked = checkServerTypes(serverTypeUses(config), { parent: this, provider }, this);

        const specs = serverSpecs(config);
        const servers: Record<string, hcloud.Server> = {};
        for (const spec of specs) {
            servers[spec.node] = new hcloud.Server(hcloudServerResourceName(name, spec.node), {
                name: spec.serverName,
                serverType: serverTypesChecked.apply(() => spec.serverType),
                image: spec.image,
                // What replaces the server (location), as ../identity reports it to `npm run plan`.
                ...serverReplaceInputs(spec),
                sshKeys: [sshKeyId],
                labels: spec.labels,
                networks: [{ subnetId: subnet.id, ip: spec.ip, aliasIps: [] }],
                firewallIds: [numericId(firewall)],
                placementGroupId: spec.spread ? numericId(placementGroup) : undefined,
                // Let etcd and the kubelet stop cleanly when a node is removed.
                shutdownBeforeDeletion: true,
            }, {
                ...child,
                dependsOn: [subnet],
                ignoreChanges: [...SERVER_IGNORE_CHANGES],
                // etcd members: Pulumi neither replaces nor deletes them (protectEtcdMembers).
                ...(isProtected(config, spec.roles) ? { protect: true } : {}),
            });
        }

        const loadBalancer = new hcloud.LoadBalancer(`${name}-api-lb`, {
            name: `${prefix}-api`,
            loadBalancerType: config.hcloud.loadBalancerType,
            location: config.hcloud.location,
            labels,
        }, child);
        // The VIP itself. With enablePublicInterface the Load Balancer also answers on a public
        // IPv4, for everyone: Hetzner Load Balancers take no firewall.
        const loadBalancerNetwork = new hcloud.LoadBalancerNetwork(`${name}-api-lb-network`, {
            loadBalancerId: numericId(loadBalancer),
            subnetId: subnet.id,
            ip: config.vip.address,
            enablePublicInterface: config.hcloud.enablePublicInterface,
        }, { ...child, dependsOn: [subnet] });
        const loadBalancerService = new hcloud.LoadBalancerService(`${name}-api-lb-service`, {
            loadBalancerId: loadBalancer.id,
            protocol: "tcp",
            listenPort: API_PORT,
            destinationPort: API_PORT,
            healthCheck: { ...API_HEALTH_CHECK },
        }, child);
        const loadBalancerTargets = specs
            .filter((spec) => spec.loadBalancerTarget)
            .map((spec) => new hcloud.LoadBalancerTarget(`${name}-api-lb-target-${spec.node}`, {
                loadBalancerId: numericId(loadBalancer),
                type: "server",
                serverId: numericId(servers[spec.node]),
                usePrivateIp: true,
            }, { ...child, dependsOn: [loadBalancerNetwork] }));

        this.provider = provider;
        this.network = network;
        this.subnet = subnet;
        this.sshKey = sshKey;
        this.placementGroup = placementGroup;
        this.firewall = firewall;
        this.servers = servers;
        this.loadBalancer = loadBalancer;
        this.loadBalancerNetwork = loadBalancerNetwork;
        this.loadBalancerService = loadBalancerService;
        this.loadBalancerTargets = loadBalancerTargets;
        // Each server ends with the readiness check the other backends end with: Kubespray starts once SSH
        // answers with the key and cloud-init is done, not when Hetzner says "running". A new server (new id)
        // is checked again, and so are the Kubespray commands keyed on the check's id.
        if (args.sshPrivateKey === undefined) {
            void pulumi.log.warn("sshPrivateKey not given: no readiness check on the servers; Kubespray starts as soon as Hetzner reports them running", this);
        }
        const ready: Record<string, command.local.Command> = {};
        for (const spec of args.sshPrivateKey === undefined ? [] : specs) {
            const server = servers[spec.node];
            ready[spec.node] = new command.local.Command(hcloudReadyResourceName(name, spec.node), {
                interpreter: ["/bin/sh", "-c"],
                create: server.ipv4Address.apply((address) => hcloudReadyScript(config, spec, address)),
                stdin: pulumi.secret(args.sshPrivateKey!),
                triggers: [server.id, contentHash(hcloudReadyTriggerInputs(config))],
                addPreviousOutputInEnv: false,
            }, { parent: this, dependsOn: [server], deleteBeforeReplace: true });
        }
        this.ready = ready;
        this.machines = config.nodes.map((node) => ({
            name: node.name,
            roles: [...node.roles],
            ip: node.ip,
            sshAddress: servers[node.name].ipv4Address,
            resource: ready[node.name] ?? servers[node.name],
        }));
        this.loadBalancerIp = loadBalancerNetwork.ip;
        if (config.hcloud.enablePublicInterface) {
            this.publicApiAddresses = pulumi
                .all([loadBalancer.ipv4, loadBalancer.ipv6, loadBalancerNetwork.id, loadBalancerService.id])
                .apply(([v4, v6]) => [v4, v6].filter((a): a is string => typeof a === "string" && a !== ""));
        }
        this.networkId = numericId(network);
        this.firewallId = numericId(firewall);
        this.apiDependencies = [loadBalancer, loadBalancerNetwork, loadBalancerService, ...loadBalancerTargets];

        this.registerOutputs({
            machines: this.machines.map((m) => ({ name: m.name, roles: m.roles, ip: m.ip, sshAddress: m.sshAddress })),
            loadBalancerIp: this.loadBalancerIp,
            publicApiAddresses: this.publicApiAddresses,
            networkId: this.networkId,
            firewallId: this.firewallId,
        });
    }
}

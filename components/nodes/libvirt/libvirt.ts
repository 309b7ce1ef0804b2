// The libvirt node backend: one network and, per node, a qcow2 overlay, a cloud-init seed ISO,
// a domain and a readiness wait, all as @pulumi/command commands on the hypervisor (local, or
// over SSH when libvirt.host is set). @pulumi/libvirt is deprecated; virsh is not.
// What the commands contain is computed by pure code: ./libvirt-xml (names, XML, cloud-init)
// and ./libvirt-commands (the shell scripts).
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { ClusterConfig, ConfigError } from "../../config/config";
import {
    contentHash,
    diskCreateScript,
    domainCreateScript,
    domainDeleteScript,
    fileDeleteScript,
    networkCreateScript,
    networkDeleteScript,
    seedCreateScript,
    seedStdin,
    waitReadyScript,
    wrapForRemote,
} from "./libvirt-commands";
import { firstUpChecks } from "../wait-ready";
import { LibvirtPlan, libvirtTriggerInputs, NetworkForward, planLibvirt } from "./libvirt-xml";
import { libvirtIdentities, libvirtNetworkResourceName, libvirtNodeResourceNames } from "../identity";
import { Machine, NodeBackend } from "../machines";

export interface LibvirtClusterArgs {
    /**
     * The validated stack config; `backend` must be `libvirt`. Its `libvirt` section says where
     * (uri, host) and what (images, sizes, domain type, kernel) to create, `network` the subnet,
     * gateway (the bridge address) and DHCP range, `nodes` the machines, `ssh.user` the login user
     * cloud-init creates, `interface` the NIC name inside the guests.
     */
    config: ClusterConfig;
    /** OpenSSH public key(s), one per line, that cloud-init installs for `ssh.user`. Required. */
    sshPublicKey: string;
    /**
     * The private key of `sshPublicKey` (a secret). The readiness wait logs in with it to run
     * `cloud-init status --wait`; it reaches the hypervisor on stdin only. Required.
     */
    sshPrivateKey: pulumi.Input<string>;
    /**
     * Private key for the SSH connection to `libvirt.host` (a secret). Default: the SSH agent at
     * SSH_AUTH_SOCK, as @pulumi/command does. Ignored without `libvirt.host`.
     */
    hypervisorPrivateKey?: pulumi.Input<string>;
    /**
     * `<forward>` of the network. Default: `config.libvirt.forward` ("none": isolated, the hypervisor
     * reaches the nodes through the bridge (the gateway address) but nothing is routed or NATed beyond
     * it; "nat" gives the nodes outbound access through the hypervisor, which Kubespray downloads from
     * the internet need unless you mirror them).
     */
    networkForward?: NetworkForward;
}

interface CommandSpec {
    create: string;
    delete?: string;
    stdin?: pulumi.Input<string>;
    triggers: pulumi.Input<string>[];
}

/**
 * Nodes as libvirt domains on a libvirt network. `machines[i].resource` is the node's readiness
 * wait (SSH answers and cloud-init is done), so whatever depends on it finds a booted node and is
 * removed before the node is.
 *
 * Deletes run in reverse: readiness, domain (virsh destroy + undefine), overlay and seed files,
 * and the network last. Every create script tolerates existing objects (define with a stable
 * UUID updates our own definition; an existing overlay is kept), every delete script missing ones.
 */
export class LibvirtCluster extends pulumi.ComponentResource implements NodeBackend {
    public readonly machines: Machine[];
    /** The libvirt network name. */
    public readonly networkName: pulumi.Output<string>;
    /** The libvirt domain names, in node order. */
    public readonly domainNames: pulumi.Output<string[]>;

    private readonly args: LibvirtClusterArgs;

    constructor(name: string, args: LibvirtClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("kubespray-ha:index:LibvirtCluster", name, {}, opts);
        this.args = args;

        let plan: LibvirtPlan;
        try {
            plan = planLibvirt(args.config, args.sshPublicKey, { forward: args.networkForward ?? args.config.libvirt.forward });
        } catch (err) {
            if (err instanceof ConfigError) {
                throw new pulumi.ResourceError(err.message, this);
            }
            throw err;
        }
        const lv = args.config.libvirt;
        // What the triggers hash (./libvirt-xml libvirtTriggerInputs) and which resources are protected
        // (../identity): the same pure functions `npm run plan` compares two configs with.
        const triggers = libvirtTriggerInputs(plan);
        const identities = libvirtIdentities(args.config, plan, name);

        const networkTrigger = contentHash(triggers.network);
        const network = this.command(libvirtNetworkResourceName(name), {
            create: networkCreateScript(plan.uri, plan.network),
            delete: networkDeleteScript(plan.uri, plan.network, plan.storageDir),
            stdin: plan.networkXml,
            triggers: [networkTrigger],
        }, []);

        this.machines = plan.nodes.map((node, i) => {
            const d = node.domain;
            const t = triggers.nodes[i];
            const names = libvirtNodeResourceNames(name, node.name);
            const protect = identities[i].protected;
            const seedFiles = t.seed.files;
            // cloud-init applies the seed once per instance: a changed seed needs a fresh disk.
            const disk = this.command(names.disk, {
                create: diskCreateScript({ node: node.name, baseImage: plan.baseImage, diskPath: d.diskPath, diskGiB: node.diskGiB, storageDir: plan.storageDir }),
                delete: fileDeleteScript(d.diskPath),
                triggers: [contentHash(t.disk)],
            }, [network], protect.includes(names.disk));
            const seed = this.command(names.seed, {
                create: seedCreateScript(node.name, d.seedPath, plan.storageDir),
                delete: fileDeleteScript(d.seedPath),
                stdin: seedStdin(seedFiles),
                triggers: [contentHash(t.seed)],
            }, [network], protect.includes(names.seed));
            // A new disk or a new network means a cold restart of the domain (taps re-attach).
            const domainTrigger = contentHash(t.domain);
            const domain = this.command(names.domain, {
                create: domainCreateScript(plan.uri, d),
                delete: domainDeleteScript(plan.uri, d),
                stdin: node.domainXml,
                triggers: [domainTrigger],
            }, [network, disk, seed], protect.includes(names.domain));
            // Re-created with the disk only: the Kubespray commands key on this command's id, and a cold
            // restart (a new domain on the same disk) needs no Kubespray run. The disk's id makes Pulumi
            // replace this wait and the commands keyed on it (remove-node.yml of a worker, while the old VM
            // still runs) before it deletes the old disk. After a cold restart the wait re-runs in place:
            // the domain's trigger in its script is an in-place change.
            const ready = this.command(names.ready, {
                create: `# domain ${domainTrigger}\n` + waitReadyScript({
                    node: node.name,
                    ip: node.ip,
                    user: args.config.ssh.user,
                    port: args.config.ssh.port,
                    timeoutSeconds: lv.bootTimeoutSeconds,
                    checks: firstUpChecks(args.config),
                }),
                stdin: pulumi.secret(args.sshPrivateKey),
                triggers: [contentHash(t.ready), disk.id],
            }, [domain], protect.includes(names.ready));
            return {
                name: node.name,
                roles: node.roles,
                ip: node.ip,
                sshAddress: pulumi.output(node.ip),
                resource: ready,
            };
        });

        this.networkName = pulumi.output(plan.network.name);
        this.domainNames = pulumi.output(plan.nodes.map((n) => n.domain.name));
        this.registerOutputs({ networkName: this.networkName, domainNames: this.domainNames });
    }

    /** A command on the hypervisor: local, or over SSH to libvirt.host. */
    private command(resourceName: string, spec: CommandSpec, dependsOn: pulumi.Resource[], protect = false): pulumi.CustomResource {
        // Replacing means delete first: the old and new object share names and paths. `protect`: an etcd
        // member's disk and domain (protectEtcdMembers), which Pulumi then neither replaces nor deletes.
        const opts: pulumi.CustomResourceOptions = { parent: this, dependsOn, deleteBeforeReplace: true, ...(protect ? { protect } : {}) };
        const host = this.args.config.libvirt.host;
        if (host) {
            return new command.remote.Command(resourceName, {
                connection: {
                    host: host.address,
                    user: host.user,
                    port: host.port,
                    ...(this.args.hypervisorPrivateKey !== undefined ? { privateKey: pulumi.secret(this.args.hypervisorPrivateKey) } : {}),
                },
                create: wrapForRemote(spec.create),
                delete: spec.delete !== undefined ? wrapForRemote(spec.delete) : undefined,
                stdin: spec.stdin,
                triggers: spec.triggers,
                addPreviousOutputInEnv: false,
            }, opts);
        }
        return new command.local.Command(resourceName, {
            interpreter: ["/bin/sh", "-c"],
            create: spec.create,
            delete: spec.delete,
            stdin: spec.stdin,
            triggers: spec.triggers,
            addPreviousOutputInEnv: false,
        }, opts);
    }
}

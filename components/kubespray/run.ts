// Step 4 of the pipeline: run Kubespray against the machines and export the VIP kubeconfig.
// Which command resources exist, what triggers them and what each phase runs is decided by the
// pure ./playbook.ts (kubesprayCommandSpecs + renderCommand); this component only turns
// those specs into command.local.Command resources, so `npm run plan` (predictRuns over two renders)
// and `pulumi up` cannot disagree. See the header of playbook.ts for the pipeline.
import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as path from "path";
import { ClusterConfig } from "../config/config";
import { withEtcdMemberNames } from "./etcd-names";
import { deployedMembersOf } from "./membership";
import { InventoryMachine, publicApiSans, RenderedFiles, renderInventory } from "./inventory";
import { apiServerUrlFor, checkKubeconfig, KubeconfigError, publicKubeconfig } from "./kubeconfig";
import { Machine } from "../nodes/machines";
import type { InternalOutputs } from "./outputs";
import { CommandSpec, inventoryArchive, kubesprayCommandSpecs, predictRuns, renderCommand, runPaths } from "./playbook";

export interface KubesprayRunArgs {
    /** The validated stack config (parseClusterConfig). Its kubespray section says where Kubespray and the work dir are. */
    config: ClusterConfig;
    /**
     * The nodes, as a node backend made them; each must be a node of `config.nodes` with the same roles.
     * Node commands depend on `machine.resource`, so remove-node.yml runs before the server is deleted.
     */
    machines: Machine[];
    /**
     * SSH private key Ansible logs in with. Wrapped with pulumi.secret; reaches the commands only on
     * stdin, written to a 0600 temp file that a trap removes. Never on a command line or in the environment.
     */
    sshPrivateKey: pulumi.Input<string>;
    /**
     * The `commandSpecs` this component exported in the last deployment (read through a StackReference
     * to the stack itself). Optional; when given, the component logs the playbooks it expects to run,
     * refuses a node switching between worker-only and control-plane/etcd and a membership change that could
     * cost etcd its quorum, runs a membership change by Kubespray's steps (./membership.ts), and keeps each etcd
     * member's name (./etcd-names.ts). Default: no plan, no refusal, etcd1..etcdN, plain cluster.yml.
     */
    previousCommandSpecs?: pulumi.Input<CommandSpec[] | undefined>;
    /** Directory that relative kubespray.dir / kubespray.workDir are resolved against. Default: process.cwd(), the Pulumi project. */
    baseDir?: string;
    /**
     * The API's public addresses, IPv4 first (hcloud with `hcloud.enablePublicInterface`: HcloudCluster's
     * publicApiAddresses, known once the Load Balancer exists). Added to the certificate SANs; the IPv4 is the
     * server of `publicKubeconfig`, and of `kubeconfig` and the provider when `hcloud.apiEndpoint` is public.
     * Required exactly when the config has the public interface; refused otherwise.
     */
    publicApiAddresses?: pulumi.Input<string[]>;
    /**
     * Resources the API at the VIP needs besides the machines (NodeBackend.apiDependencies; hcloud: the
     * Load Balancer, its network attachment, targets and 6443 service). Every playbook command (cluster,
     * upgrade, node-<name>) depends on them: cluster.yml runs after they exist, and Pulumi deletes them only
     * after remove-node.yml ran. Only ordering: no command input or trigger changes. Default: none.
     */
    apiDependencies?: pulumi.Resource[];
}

const PENDING = "<pending>";

function looksLikeSpecs(value: unknown): value is CommandSpec[] {
    return Array.isArray(value) && value.every((s) => s && typeof s.id === "string" && Array.isArray(s.triggers) && s.create);
}

/**
 * Runs Kubespray (cluster.yml, then only what changes need: scale.yml, remove-node.yml,
 * upgrade-cluster.yml) through command resources and exposes the admin kubeconfig, whose server is
 * the API VIP, as a secret and as a k8s.Provider.
 */
export class KubesprayRun extends pulumi.ComponentResource {
    /**
     * Admin kubeconfig (secret) for clients: admin.conf checked against config.apiServerUrl (https://VIP:6443),
     * or `publicKubeconfig` when `hcloud.apiEndpoint` is public.
     */
    public readonly kubeconfig: pulumi.Output<string>;
    /** With publicApiAddresses: the same admin kubeconfig (secret), server https://<public IPv4>:6443. */
    public readonly publicKubeconfig?: pulumi.Output<string>;
    /** With publicApiAddresses: https://<public IPv4>:6443. */
    public readonly publicApiServerUrl?: pulumi.Output<string>;
    /** A Kubernetes provider on `kubeconfig`. */
    public readonly provider: k8s.Provider;
    /** The specs the commands were built from; export them to get plans and warnings next time (previousCommandSpecs). */
    public readonly commandSpecs: pulumi.Output<CommandSpec[]>;
    /** The inventory files as written for Kubespray, with the real ssh addresses (relative path -> content). */
    public readonly inventory: pulumi.Output<RenderedFiles>;
    /**
     * The working inventory (hosts.yaml, group_vars/, artifacts/admin.conf), relative to `baseDir` (the
     * Pulumi project): an output must not carry a path of the deployer's machine.
     */
    public readonly inventoryDir: string;
    /** The command resources, by spec id (inventory, cluster, upgrade, kubeconfig, node-<name>). */
    public readonly commands: Record<string, command.local.Command>;

    constructor(name: string, args: KubesprayRunArgs, opts?: pulumi.ComponentResourceOptions) {
        super("kubespray-ha:index:KubesprayRun", name, {}, opts);
        const { config } = args;
        checkMachines(config, args.machines, this);
        if ((publicApiSans(config).length > 0) !== (args.publicApiAddresses !== undefined)) {
            throw new pulumi.ResourceError(
                `KubesprayRun: publicApiAddresses ${args.publicApiAddresses === undefined ? "missing: hcloud.enablePublicInterface is on, the certificate must cover the Load Balancer's public IPs" : "given, but only hcloud with hcloud.enablePublicInterface has public API addresses"}`,
                this,
            );
        }
        const previous = args.previousCommandSpecs === undefined ? undefined : pulumi.output(args.previousCommandSpecs);
        // The etcd member names the last deployment gave (./etcd-names.ts): members keep theirs. Names are not
        // secret; unwrapped so a secret previous output does not make every command input secret.
        const etcdNames = previous
            ? pulumi.unsecret(previous.apply((prev) => withEtcdMemberNames(config, prev).etcdMemberNames))
            : pulumi.output(undefined);
        // The config as Kubespray gets it: with the public addresses (certificate SANs) once they exist, and
        // the etcd member names kept from the last deployment.
        // The last deployment's control planes and etcd members: a membership change runs Kubespray's steps for
        // it (./membership.ts), listing a leaving member as that deployment reached it.
        const deployed = previous ? pulumi.unsecret(previous.apply((prev) => deployedMembersOf(prev))) : pulumi.output(undefined);
        const fed = pulumi.all([args.publicApiAddresses, etcdNames, deployed]).apply(([addrs, names, members]): ClusterConfig => ({
            ...config,
            ...(addrs ? { publicApiAddresses: addrs } : {}),
            ...(names ? { etcdMemberNames: names } : {}),
            ...(members ? { deployedMembers: members } : {}),
        }));

        const byName = new Map(args.machines.map((m) => [m.name, m]));
        const pending: InventoryMachine[] = args.machines.map((m) => ({ name: m.name, roles: m.roles, ip: m.ip, sshAddress: PENDING }));
        // Which commands exist, their order and dependencies never depend on addresses: known at preview.
        const skeleton = kubesprayCommandSpecs(config, pending);
        const key = pulumi.secret(args.sshPrivateKey);

        const allMachines = pulumi.all(args.machines.map((m) => m.sshAddress)).apply((addrs) =>
            pending.map((p, i) => ({ ...p, sshAddress: addrs[i] })),
        );
        // Secret config values that reach the inventory (groupVars secrets, BGP peer passwords) keep it,
        // and the content hashes made from it, secret.
        const keepSecret = <T>(o: pulumi.Output<T>): pulumi.Output<T> => (config.inventorySecrets.length > 0 ? (pulumi.secret(o) as pulumi.Output<T>) : o);
        this.commandSpecs = keepSecret(pulumi.all([fed, allMachines]).apply(([c, ms]) => kubesprayCommandSpecs(c, ms)));
        this.inventory = keepSecret(pulumi.all([fed, allMachines]).apply(([c, ms]) => renderInventory(c, ms)));
        const baseDir = args.baseDir ?? process.cwd();
        const absoluteInventoryDir = runPaths(config, baseDir).inventoryDir;
        this.inventoryDir = path.relative(baseDir, absoluteInventoryDir) || ".";

        // Refuse transitions this program cannot do safely, before any command is registered. Computed
        // from the skeleton (roles only), so it is known at preview and adds no unknowns to the commands.
        const gate = previous ? refuseUnsafeChanges(previous, skeleton, this) : pulumi.output(undefined as void);
        if (previous) {
            pulumi.all([previous, this.commandSpecs]).apply(([prev, now]) => {
                if (!looksLikeSpecs(prev)) return;
                const plan = predictRuns(prev, now);
                for (const w of plan.warnings) {
                    void pulumi.log.warn(w, this);
                }
                const runs = plan.runs.map((r) => `${r.args.join(" ")}${r.when ? ` [${r.when}]` : ""}`);
                void pulumi.log.info(`Kubespray: ${runs.length === 0 ? "no playbook to run" : `expected runs: ${runs.join("; ")}`}`, this);
            });
        }

        const commands: Record<string, command.local.Command> = {};
        for (const s of skeleton) {
            const feeding = s.machines.map((n) => byName.get(n)!);
            // Each spec is built from the addresses of its own machines only, so an unknown address of a
            // new server does not make every other command look changed at preview.
            const spec = pulumi.all([fed, pulumi.all(feeding.map((m) => m.sshAddress))]).apply(([c, addrs]) => {
                const ms = pending.map((p) => {
                    const i = s.machines.indexOf(p.name);
                    return i < 0 ? p : { ...p, sshAddress: addrs[i] };
                });
                return kubesprayCommandSpecs(c, ms, { only: [s.id] })[0];
            });
            const shell = pulumi.all([spec, gate]).apply(([sp]) => renderCommand(config, sp));

            let triggers: pulumi.Input<unknown[]> | undefined;
            if (s.recreateAfter) {
                triggers = s.recreateAfter.map((id) => commands[id].id);
            } else if (s.kind === "cluster" || s.kind === "node") {
                // A replaced server (new resource id) must be set up again even if its address is the same.
                const ids = feeding.map((m) => (pulumi.CustomResource.isInstance(m.resource) ? m.resource.id : pulumi.output("")));
                triggers = keepSecret(pulumi.all([spec, pulumi.all(ids)]).apply(([sp, resolved]) => [
                    ...sp.triggers,
                    ...feeding.flatMap((m, i) => (resolved[i] ? [`machine ${m.name}: ${resolved[i]}`] : [])),
                ]));
            } else if (s.triggers.length > 0) {
                triggers = spec.apply((sp) => sp.triggers);
            }

            const probe = renderCommand(config, s);
            // Playbooks reach the API through the VIP (kubeadm init/join, remove-node's drain); the
            // inventory and kubeconfig commands only touch local files.
            const api = s.kind === "cluster" || s.kind === "upgrade" || s.kind === "node" ? (args.apiDependencies ?? []) : [];
            commands[s.id] = new command.local.Command(
                `${name}-${s.id}`,
                {
                    create: shell.apply((sh) => sh.create),
                    update: shell.apply((sh) => sh.update),
                    ...(s.delete ? { delete: shell.apply((sh) => sh.delete!) } : {}),
                    environment: shell.apply((sh) => sh.environment),
                    stdin:
                        probe.stdin === "ssh-private-key" ? key
                        : probe.stdin === "inventory-archive" ? keepSecret(pulumi.all([fed, allMachines]).apply(([c, ms]) => inventoryArchive(c, ms)))
                        : undefined,
                    ...(triggers ? { triggers } : {}),
                    logging: probe.logging,
                    addPreviousOutputInEnv: false,
                    // Only when a caller chose a base directory; by default commands run in the Pulumi project.
                    ...(args.baseDir !== undefined ? { dir: args.baseDir } : {}),
                },
                {
                    parent: this,
                    dependsOn: [...s.dependsOn.map((id) => commands[id]), ...feeding.map((m) => m.resource), ...api],
                    deleteBeforeReplace: s.deleteBeforeReplace,
                    ...(s.kind === "kubeconfig" ? { additionalSecretOutputs: ["stdout", "stderr"] } : {}),
                },
            );
        }
        this.commands = commands;

        const adminConf = checkedKubeconfig(commands.kubeconfig.stdout, config.apiServerUrl, `${absoluteInventoryDir}/artifacts/admin.conf`, this);
        if (args.publicApiAddresses !== undefined) {
            const ipv4 = pulumi.output(args.publicApiAddresses).apply((addrs) => {
                const found = addrs.find((a) => !a.includes(":"));
                if (!found) throw new pulumi.ResourceError(`KubesprayRun: publicApiAddresses has no IPv4 (got ${JSON.stringify(addrs)})`, this);
                return found;
            });
            this.publicApiServerUrl = ipv4.apply((a) => apiServerUrlFor(a));
            this.publicKubeconfig = pulumi.all([adminConf, ipv4]).apply(([text, a]) => publicKubeconfig(text, a));
        }
        // Only clients move to the public endpoint; kubelets and kube-proxy keep the VIP (loadbalancer_apiserver).
        this.kubeconfig = config.hcloud.apiEndpoint === "public" && this.publicKubeconfig ? this.publicKubeconfig : adminConf;
        this.provider = new k8s.Provider(`${name}-k8s`, { kubeconfig: this.kubeconfig }, { parent: this });

        this.registerOutputs({
            kubeconfig: this.kubeconfig,
            publicKubeconfig: this.publicKubeconfig,
            publicApiServerUrl: this.publicApiServerUrl,
            commandSpecs: this.commandSpecs,
            inventory: this.inventory,
            inventoryDir: this.inventoryDir,
        });
    }
}

/** The stack output holding KubesprayRun's commandSpecs (index.ts exports it under this name; internal, see ./outputs). */
export const COMMAND_SPECS_OUTPUT = "kubesprayCommandSpecs" satisfies keyof InternalOutputs;

/**
 * The commandSpecs this stack exported in its last deployment, read through a StackReference to the
 * stack itself: undefined on the first `up` (no outputs yet), so the first `up` needs nothing special.
 * Pass it as previousCommandSpecs.
 */
export function lastDeploymentSpecs(opts?: pulumi.CustomResourceOptions): pulumi.Output<CommandSpec[] | undefined> {
    const self = `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`;
    return new pulumi.StackReference(`${pulumi.getStack()}-last-deployment`, { name: self }, opts).getOutput(COMMAND_SPECS_OUTPUT) as pulumi.Output<CommandSpec[] | undefined>;
}

/**
 * Fails (rejects) when going from the `previous` deployment's specs to `next` is a transition this
 * program refuses (predictRuns errors: a node switching between worker-only and control-plane/etcd).
 * Anything that is not a spec list (first deployment, output not exported yet) is checked as a first deployment (an even count).
 */
export function refuseUnsafeChanges(previous: pulumi.Input<CommandSpec[] | undefined>, next: CommandSpec[], parent?: pulumi.Resource): pulumi.Output<void> {
    return pulumi.output(previous).apply((prev: unknown) => {
        // A first deployment (no spec list yet) has refusals too: an even count etcd.allowEvenMembers let through.
        const { errors } = predictRuns(looksLikeSpecs(prev) ? prev : undefined, next);
        if (errors.length > 0) {
            const message = `refusing this change (nodes or versions):\n  - ${errors.join("\n  - ")}`;
            throw parent ? new pulumi.ResourceError(message, parent) : new Error(message);
        }
    });
}

/**
 * The kubeconfig command's stdout, checked by checkKubeconfig against `apiServerUrl` and wrapped as a
 * secret. Rejects with the server Kubespray wrote when it is not the VIP, so nothing is built on it.
 */
export function checkedKubeconfig(stdout: pulumi.Output<string>, apiServerUrl: string, where: string, parent?: pulumi.Resource): pulumi.Output<string> {
    // Secret first, then check: the apply keeps it secret and leaves no rejected intermediate Output.
    return pulumi.secret(stdout).apply((text) => {
        try {
            checkKubeconfig(text, apiServerUrl, where);
        } catch (err) {
            throw err instanceof KubeconfigError && parent ? new pulumi.ResourceError(err.message, parent) : err;
        }
        return text;
    });
}

/** Every machine must be a config node with the same roles, each at most once. */
function checkMachines(config: ClusterConfig, machines: readonly Machine[], parent: pulumi.Resource): void {
    const nodes = new Map(config.nodes.map((n) => [n.name, n]));
    const seen = new Set<string>();
    const problems: string[] = [];
    if (machines.length === 0) {
        problems.push("no machines: the node backend made none (config key nodes)");
    }
    for (const m of machines) {
        const node = nodes.get(m.name);
        if (seen.has(m.name)) {
            problems.push(`machine ${m.name} is given twice`);
        } else if (!node) {
            problems.push(`machine ${m.name} is not in the config key nodes`);
        } else if ([...node.roles].sort().join(",") !== [...m.roles].sort().join(",")) {
            problems.push(`machine ${m.name} has roles ${m.roles.join(",")} but nodes says ${node.roles.join(",")}`);
        }
        seen.add(m.name);
    }
    if (problems.length > 0) {
        throw new pulumi.ResourceError(`KubesprayRun: ${problems.join("; ")}`, parent);
    }
}

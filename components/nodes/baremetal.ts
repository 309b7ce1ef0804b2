// Bare metal (or any machines that already exist): nothing is created; each node is a
// readiness check that waits until it answers SSH with the configured key. The check is the
// node's `resource`, so the Kubespray steps for a node depend on it and remove-node runs
// before the check is deleted.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { ClusterConfig, ConfigError } from "../config/config";
import { contentHash } from "../shared/hash";
import { firstUpChecks, waitReadyScript } from "./wait-ready";
import { baremetalReadyResourceName, baremetalReadyTriggerInputs } from "./identity";
import { Machine, NodeBackend } from "./machines";

export interface BaremetalClusterArgs {
    /** The validated stack config; `backend` must be `baremetal`. */
    config: ClusterConfig;
    /** SSH private key the readiness check logs in with (a secret; it travels on stdin only). */
    sshPrivateKey: pulumi.Input<string>;
}

export class BaremetalCluster extends pulumi.ComponentResource implements NodeBackend {
    public readonly machines: Machine[];

    constructor(name: string, args: BaremetalClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        if (args.config.backend !== "baremetal") {
            throw new pulumi.RunError(new ConfigError([{ key: "backend", message: `is ${args.config.backend}; BaremetalCluster needs baremetal` }]).message);
        }
        super("kubespray-ha:index:BaremetalCluster", name, {}, opts);
        const { ssh } = args.config;
        this.machines = args.config.nodes.map((node) => {
            const address = node.sshAddress ?? node.ip;
            const ready = new command.local.Command(baremetalReadyResourceName(name, node.name), {
                interpreter: ["/bin/sh", "-c"],
                create: waitReadyScript({
                    node: node.name, ip: address, user: ssh.user, port: ssh.port, timeoutSeconds: ssh.waitSeconds, kind: "baremetal",
                    checks: firstUpChecks(args.config),
                }),
                stdin: pulumi.secret(args.sshPrivateKey),
                // Re-check only when where or how we connect changes.
                triggers: [contentHash(baremetalReadyTriggerInputs(args.config, node))],
                addPreviousOutputInEnv: false,
            }, { parent: this });
            return { name: node.name, roles: [...node.roles], ip: node.ip, sshAddress: pulumi.output(address), resource: ready };
        });
        this.registerOutputs({});
    }
}

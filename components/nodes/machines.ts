// The shape every node backend exposes, so the Kubespray step does not care which one ran.
import * as pulumi from "@pulumi/pulumi";
import { Role } from "../config/config";

export interface Machine {
    name: string;
    roles: Role[];
    /** Private address Kubernetes binds to (Kubespray `ip`), known at preview. */
    ip: string;
    /** Address Ansible connects to (`ansible_host`): the private IP on libvirt, the public IPv4 on hcloud. */
    sshAddress: pulumi.Output<string>;
    /**
     * The resource that is the node (server, domain, or the last step that makes it ready). Kubespray
     * steps for this node depend on it, so Pulumi runs remove-node before deleting it.
     */
    resource: pulumi.Resource;
}

/** What a node backend component provides. */
export interface NodeBackend {
    readonly machines: Machine[];
}

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
    /**
     * Resources the Kubernetes API at the VIP needs besides the machines: hcloud's Load Balancer, its
     * network attachment, its targets and its 6443 service. Every playbook command depends on them, so
     * cluster.yml runs only once they exist, and Pulumi deletes them only after the workers'
     * remove-node.yml (which reaches the API through the VIP) ran. Default: none (kube-vip on the control
     * planes holds the VIP, so the machines are all the API needs).
     */
    readonly apiDependencies?: pulumi.Resource[];
}

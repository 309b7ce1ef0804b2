// The program: read and validate the stack config, create the nodes, hold the VIP, run
// Kubespray, export the kubeconfig. Each step lives in its own file in components/.
import * as pulumi from "@pulumi/pulumi";
import { BaremetalCluster } from "./components/nodes/baremetal";
import { HcloudCluster } from "./components/nodes/hcloud/hcloud";
import { KubesprayRun, lastDeploymentSpecs } from "./components/kubespray/run";
import { LibvirtCluster } from "./components/nodes/libvirt/libvirt";
import { NodeBackend } from "./components/nodes/machines";
import { loadProgramInputs } from "./components/config/stack";

// 1. config (fails the preview, naming the key, before any resource exists)
const { config, sshPrivateKey, sshPublicKey, hcloudToken } = loadProgramInputs();

// 2. nodes, and on hcloud the Load Balancer that holds the VIP (kube-vip holds it elsewhere)
let hetzner: HcloudCluster | undefined;
let backend: NodeBackend;
switch (config.backend) {
    case "hcloud":
        backend = hetzner = new HcloudCluster(config.name, { config, sshPublicKey, hcloudToken: hcloudToken! });
        break;
    case "libvirt":
        backend = new LibvirtCluster(config.name, { config, sshPublicKey: sshPublicKey!, sshPrivateKey });
        break;
    case "baremetal":
        backend = new BaremetalCluster(config.name, { config, sshPrivateKey });
        break;
}

// 3-4. Kubespray inventory and playbooks
const kubespray = new KubesprayRun(`${config.name}-kubespray`, {
    config, machines: backend.machines, sshPrivateKey, publicApiAddresses: hetzner?.publicApiAddresses,
    // The last deployment's commands: role swaps are refused and etcd quorum warnings logged before anything runs.
    previousCommandSpecs: lastDeploymentSpecs(),
});

// 5. outputs for people and for other stacks (StackReference)
/** Server: the VIP, or the Load Balancer's public IPv4 with `hcloud.apiEndpoint: public`. */
export const kubeconfig = pulumi.secret(kubespray.kubeconfig);
/** The internal endpoint https://VIP:6443 (kubelets, kube-proxy, clients inside the network). */
export const apiServerUrl = config.apiServerUrl;
/** hcloud with `hcloud.enablePublicInterface`: https://<Load Balancer public IPv4>:6443, and its kubeconfig. */
export const publicApiServerUrl = kubespray.publicApiServerUrl;
export const publicKubeconfig = kubespray.publicKubeconfig && pulumi.secret(kubespray.publicKubeconfig);
export const vip = config.vip.address;
export const vipMode = config.vip.mode;
export const nodes = config.nodes.map((n) => ({ name: n.name, roles: n.roles, ip: n.ip }));
/** The inventory files fed to Kubespray, with the real ansible_host addresses. */
export const inventory = kubespray.inventory;
export const inventoryDir = kubespray.inventoryDir;
/** Read back by the next deployment (lastDeploymentSpecs; the name is COMMAND_SPECS_OUTPUT). */
export const kubesprayCommandSpecs = kubespray.commandSpecs;
export const loadBalancerIp = hetzner?.loadBalancerIp;
export const nodeSshAddresses = pulumi.output(Object.fromEntries(backend.machines.map((m) => [m.name, m.sshAddress])));
/** A Kubernetes provider for resources in this program; other stacks build their own from `kubeconfig`. */
export const k8sProviderUrn = kubespray.provider.urn;

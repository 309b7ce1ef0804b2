// The program: read and validate the stack config, create the nodes, hold the VIP, run
// Kubespray, export the kubeconfig. Each step lives in its own file in components/.
import * as pulumi from "@pulumi/pulumi";
import { BaremetalCluster } from "./components/nodes/baremetal";
import { HcloudCluster } from "./components/nodes/hcloud/hcloud";
import { KubesprayRun, lastDeploymentSpecs } from "./components/kubespray/run";
import { LibvirtCluster } from "./components/nodes/libvirt/libvirt";
import { NodeBackend } from "./components/nodes/machines";
import { loadProgramInputs } from "./components/config/stack";
import { StackOutputs } from "./components/kubespray/outputs";

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
    // hcloud: the Load Balancer and its parts, so cluster.yml waits for them and destroy keeps them until remove-node.
    apiDependencies: backend.apiDependencies,
    // The last deployment's commands: role swaps and quorum-losing membership changes are refused before anything runs,
    // a membership change runs Kubespray's steps for it, etcd members keep their names.
    previousCommandSpecs: lastDeploymentSpecs(),
});

// 5. outputs for people and for other stacks (StackReference): the contract, with each output's
// type, secrecy and audience, is components/kubespray/outputs.ts.
const outputs: { [K in keyof StackOutputs]: pulumi.Input<StackOutputs[K]> } = {
    kubeconfig: pulumi.secret(kubespray.kubeconfig),
    apiServerUrl: config.apiServerUrl,
    publicApiServerUrl: kubespray.publicApiServerUrl,
    publicKubeconfig: kubespray.publicKubeconfig && pulumi.secret(kubespray.publicKubeconfig),
    vip: config.vip.address,
    vipMode: config.vip.mode,
    nodes: config.nodes.map((n) => ({ name: n.name, roles: [...n.roles], ip: n.ip })),
    nodeSshAddresses: pulumi.output(Object.fromEntries(backend.machines.map((m) => [m.name, m.sshAddress]))),
    loadBalancerIp: hetzner?.loadBalancerIp,
    inventory: kubespray.inventory,
    inventoryDir: kubespray.inventoryDir,
    // Internal: read back by the next deployment (lastDeploymentSpecs, under COMMAND_SPECS_OUTPUT).
    kubesprayCommandSpecs: kubespray.commandSpecs,
    k8sProviderUrn: kubespray.provider.urn,
};
export const {
    kubeconfig, apiServerUrl, publicApiServerUrl, publicKubeconfig, vip, vipMode, nodes, nodeSshAddresses,
    loadBalancerIp, inventory, inventoryDir, kubesprayCommandSpecs, k8sProviderUrn,
} = outputs;

// The stack's output contract: every output index.ts exports, its type as another stack reads it
// through a StackReference, whether it is secret, and whether it is internal (read back by this
// program, not meant for other stacks). index.ts is typed against it and tests/outputs.test.ts checks
// the program's real exports against OUTPUTS. Pure: types only, nothing from @pulumi.
//
//   import type { ClusterOutputs } from "<this project>/components/kubespray/outputs";
//   const ref = new pulumi.StackReference("acme/kubespray-ha/prod");
//   const nodes = ref.requireOutput("nodes") as pulumi.Output<ClusterOutputs["nodes"]>;
import type { Role, VipMode } from "../config/config";
import type { RenderedFiles } from "./inventory";
import type { CommandSpec } from "./playbook";

/** A node as the `nodes` output lists it. */
export interface ClusterNode {
    /** The config node's name (Kubernetes node name, inventory host). */
    name: string;
    roles: Role[];
    /** Its private address (Kubespray `ip`): what Kubernetes binds to. */
    ip: string;
}

/** The outputs meant for people and for other stacks (StackReference), as they read them. */
export interface ClusterOutputs {
    /**
     * Admin kubeconfig. Secret. Server `https://VIP:6443` (reachable inside the node network only), or the
     * Load Balancer's public IPv4 with `hcloud.apiEndpoint: public`.
     */
    kubeconfig: string;
    /** `https://VIP:6443`: the cluster's internal API endpoint (kubelets, kube-proxy, in-network clients). Always the VIP's. */
    apiServerUrl: string;
    /** hcloud with `hcloud.enablePublicInterface` only: `https://<Load Balancer public IPv4>:6443`. */
    publicApiServerUrl?: string;
    /** hcloud with `hcloud.enablePublicInterface` only. Secret. The admin kubeconfig with server `publicApiServerUrl` (same CA and credentials). */
    publicKubeconfig?: string;
    /** The API VIP (`vip.address`, or the address the program picked). */
    vip: string;
    /** Who holds the VIP: kube-vip (`arp`, `bgp`) or Hetzner's Load Balancer (`loadbalancer`). */
    vipMode: VipMode;
    /** Every config node, in config order. */
    nodes: ClusterNode[];
    /**
     * Node name -> the address SSH (Ansible, `npm run verify`) reaches it at: the private IP on libvirt,
     * `sshAddress` or the IP on baremetal, the server's public IPv4 on hcloud.
     */
    nodeSshAddresses: Record<string, string>;
    /** hcloud only: the Load Balancer's private IP (equal to the VIP). */
    loadBalancerIp?: string;
    /**
     * The inventory files fed to Kubespray (path relative to the inventory -> content), with the real
     * `ansible_host` addresses. Secret when the config puts secrets in it (secret groupVars, BGP peer passwords).
     */
    inventory: RenderedFiles;
    /**
     * Where the inventory (hosts.yaml, group_vars/, artifacts/admin.conf) is, relative to the Pulumi project
     * directory of the machine that ran the deployment (`<kubespray.workDir>/<name>/inventory`). Only meaningful
     * there; never an absolute path.
     */
    inventoryDir: string;
}

/**
 * Outputs this program exports for itself. INTERNAL: other stacks must not depend on them; their shape
 * follows the program, not a contract.
 */
export interface InternalOutputs {
    /**
     * INTERNAL. The Kubespray command specs of this deployment, read back by the next one through a
     * StackReference to the stack itself (lastDeploymentSpecs in ./run.ts): expected runs, etcd quorum
     * warnings, refused role swaps. Keep the name: renaming it loses the previous deployment once.
     * Secret like `inventory`.
     */
    kubesprayCommandSpecs: CommandSpec[];
    /**
     * INTERNAL. URN of the program's Kubernetes provider, for commands on this stack
     * (`pulumi import --provider kubernetes=<urn>`). Other stacks build their own provider from `kubeconfig`.
     */
    k8sProviderUrn: string;
}

/** Every output index.ts exports. */
export type StackOutputs = ClusterOutputs & InternalOutputs;
export type OutputName = keyof StackOutputs;

/** What the contract says about one output besides its type. */
export interface OutputInfo {
    /** always: `pulumi.secret`; never: plain; with-inventory-secrets: secret when the config puts secrets into the inventory. */
    secret: "always" | "never" | "with-inventory-secrets";
    /** true: read back by this program (or only for commands on this stack); not for other stacks. */
    internal: boolean;
    /** The backends that export it; absent: every backend. */
    backends?: ("hcloud" | "libvirt" | "baremetal")[];
}

/** Every output with its secrecy and audience. Keyed by every OutputName, so the compiler keeps it complete. */
export const OUTPUTS: { readonly [K in OutputName]-?: OutputInfo } = {
    kubeconfig: { secret: "always", internal: false },
    apiServerUrl: { secret: "never", internal: false },
    publicApiServerUrl: { secret: "never", internal: false, backends: ["hcloud"] },
    publicKubeconfig: { secret: "always", internal: false, backends: ["hcloud"] },
    vip: { secret: "never", internal: false },
    vipMode: { secret: "never", internal: false },
    nodes: { secret: "never", internal: false },
    nodeSshAddresses: { secret: "never", internal: false },
    loadBalancerIp: { secret: "never", internal: false, backends: ["hcloud"] },
    inventory: { secret: "with-inventory-secrets", internal: false },
    inventoryDir: { secret: "never", internal: false },
    kubesprayCommandSpecs: { secret: "with-inventory-secrets", internal: true },
    k8sProviderUrn: { secret: "never", internal: true },
};

/** The output names, in contract order. */
export const OUTPUT_NAMES = Object.keys(OUTPUTS) as OutputName[];
/** The outputs that are always secret. */
export const SECRET_OUTPUTS = OUTPUT_NAMES.filter((n) => OUTPUTS[n].secret === "always");

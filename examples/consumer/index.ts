// Another stack using a kubespray-ha cluster: it reads the cluster stack's outputs through a StackReference,
// builds a Kubernetes provider from the exported kubeconfig (it stays secret) and creates what it needs
// through the VIP. The README's "using the cluster from another stack" example; tests/e2e-cluster.test.ts
// runs it against the real test cluster.
//   pulumi config set clusterStack <org>/kubespray-ha/<stack>
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { ClusterOutputs } from "../../components/kubespray/outputs"; // types only

const config = new pulumi.Config();
const cluster = new pulumi.StackReference(config.require("clusterStack"));
const out = <K extends keyof ClusterOutputs>(name: K) => cluster.requireOutput(name) as pulumi.Output<ClusterOutputs[K]>;

const provider = new k8s.Provider("ha", { kubeconfig: out("kubeconfig") });
const ns = new k8s.core.v1.Namespace("apps", { metadata: { name: config.get("namespace") ?? "apps" } }, { provider });
const info = new k8s.core.v1.ConfigMap("cluster-endpoint", {
    metadata: { namespace: ns.metadata.name, name: "cluster-endpoint" },
    data: { apiServerUrl: out("apiServerUrl"), vip: out("vip"), vipMode: out("vipMode") },
}, { provider });

export const api = out("apiServerUrl");
export const namespace = ns.metadata.name;
export const configMap = info.metadata.name;

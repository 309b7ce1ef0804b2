// What the selected Kubespray version accepts, from the facts generated out of its source
// (./kubespray-versions.ts): kube_version with checksums, kube_proxy_mode values, the kube-vip pin. Pure.
import { KUBESPRAY_VERSION_FACTS, KubesprayVersionFacts } from "./kubespray-versions";
import { RuleViolation } from "./vip";

export function kubesprayFacts(version: string): KubesprayVersionFacts {
    const facts = (KUBESPRAY_VERSION_FACTS as Record<string, KubesprayVersionFacts>)[version];
    if (!facts) throw new Error(`no facts for Kubespray ${version} in components/config/kubespray-versions.ts`);
    return facts;
}

const bare = (v: string) => v.replace(/^v/, "");

/** kubeVersion in the form the Kubespray version writes kube_version (v2.25.1: v1.29.10, v2.31.0: 1.35.4). */
export function kubeVersionForKubespray(version: string, kubeVersion: string): string {
    return `${kubesprayFacts(version).kubeVersionPrefix}${bare(kubeVersion)}`;
}

/** Why Kubespray `version` cannot deploy `kubeVersion` (no kubeadm/kubelet/kubectl checksums), or undefined. */
export function kubeVersionProblem(version: string, kubeVersion: string | undefined): RuleViolation | undefined {
    if (kubeVersion === undefined) return undefined;
    const facts = kubesprayFacts(version);
    const known = facts.kubeVersions.map(bare);
    const range = `${known[known.length - 1]}–${known[0]}`;
    const example = bare(facts.defaultKubeVersion);
    if (!/^v?\d+\.\d+\.\d+$/.test(kubeVersion)) {
        return { key: "kubeVersion", message: `"${kubeVersion}" is not a Kubernetes release (major.minor.patch, with or without a leading v); Kubespray ${version} supports ${range}; e.g. ${example}` };
    }
    if (known.includes(bare(kubeVersion))) return undefined;
    return {
        key: "kubeVersion",
        message: `${kubeVersion} is not supported by Kubespray ${version}: it has kubeadm, kubelet and kubectl checksums only for ${range} ` +
            `(${known.length} releases); pick one of them or another kubesprayVersion; e.g. ${example}`,
    };
}

/** Why Kubespray `version` refuses kube_proxy_mode `mode` (its own "kube_proxy_mode in [...]" assert), or undefined. */
export function kubeProxyModeProblem(version: string, mode: string): RuleViolation | undefined {
    const modes = kubesprayFacts(version).kubeProxyModes;
    if (modes.includes(mode)) return undefined;
    return { key: "kubeProxyMode", message: `${mode} is not supported by Kubespray ${version} (its check allows ${modes.join(", ")}); use one of those or another kubesprayVersion` };
}

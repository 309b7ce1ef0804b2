// DNS names in the config: RFC 1123 as Kubernetes checks them (lowercase, like
// k8s.io/apimachinery IsDNS1123Label / IsDNS1123Subdomain, which kubelet's clusterDomain and kubeadm's
// certificate SANs are validated with). Pure.
import { isIPv4 } from "./vip";

const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function isDnsLabel(value: string): boolean {
    return value.length <= 63 && LABEL.test(value);
}

/** Why `value` is not a lowercase RFC 1123 DNS name (labels of a-z 0-9 '-', dot-separated, at most 253), or undefined. */
export function dnsNameProblem(value: string): string | undefined {
    const why = "is not a lowercase RFC 1123 DNS name (labels of a-z, 0-9 and '-', at most 63 each, separated by dots, at most 253 in all, no trailing dot)";
    if (value.length === 0 || value.length > 253) return `"${value}" ${why}`;
    const bad = value.split(".").find((label) => !isDnsLabel(label));
    return bad === undefined ? undefined : `"${value}" ${why}: "${bad}"${bad === "" ? " (empty label)" : ""}`;
}

/** A DNS-label version of a stack name, for the message that asks to set `name` (e.g. "Prod_EU" -> "prod-eu"). */
export function suggestDnsLabel(value: string): string {
    const s = value.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 63).replace(/-+$/, "");
    return s || "cluster";
}

/** Why `vip.domainName` cannot be the API's name, or undefined. An IPv4 is allowed only when it is the VIP. */
export function domainNameProblem(domainName: string, vip: string | undefined): string | undefined {
    if (isIPv4(domainName)) {
        return vip === undefined || domainName === vip ? undefined : `${domainName} is an IP address but not the VIP ${vip}; the API endpoint would point elsewhere (leave vip.domainName out to use the VIP)`;
    }
    return dnsNameProblem(domainName);
}

// The admin kubeconfig Kubespray writes (kubeconfig_localhost -> <inventory>/artifacts/admin.conf):
// check that it points at the VIP, and rewrite its server when a consumer needs another address.
// Pure (parses with `yaml`); the component throws what checkKubeconfig throws, so `pulumi up` stops
// before a k8s.Provider is built on the wrong endpoint (changing a provider's server later would
// replace every Kubernetes resource built on it).
import { isIPv6 } from "net";
import { parseDocument, YAMLMap, isMap, isSeq } from "yaml";
import { API_PORT } from "../config/vip";

/** The kubeconfig is not usable as the stack's kubeconfig; the message says why and what was found. */
export class KubeconfigError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "KubeconfigError";
    }
}

/** What checkKubeconfig found. */
export interface KubeconfigSummary {
    /** Every cluster entry: its name and server. */
    clusters: { name: string; server: string }[];
    currentContext?: string;
}

interface ClusterEntry {
    name: string;
    server: unknown;
    caData: unknown;
}

function clusterEntries(text: string, where: string): { doc: ReturnType<typeof parseDocument>; entries: ClusterEntry[] } {
    const doc = parseDocument(text);
    if (doc.errors.length > 0) {
        throw new KubeconfigError(`${where} is not valid YAML: ${doc.errors[0].message}`);
    }
    const clusters = doc.get("clusters");
    if (!isSeq(clusters) || clusters.items.length === 0) {
        throw new KubeconfigError(`${where} has no clusters`);
    }
    const entries = clusters.items.map((item, i) => {
        const cluster = isMap(item) ? item.get("cluster") : undefined;
        if (!isMap(cluster)) {
            throw new KubeconfigError(`${where}: clusters[${i}] has no cluster section`);
        }
        const name = isMap(item) ? item.get("name") : undefined;
        return {
            name: typeof name === "string" ? name : `clusters[${i}]`,
            server: cluster.get("server"),
            caData: cluster.get("certificate-authority-data"),
        };
    });
    return { doc, entries };
}

function normalizeUrl(url: string): string {
    return url.replace(/\/+$/, "");
}

/**
 * Checks that every cluster of the kubeconfig has server `apiServerUrl` (https://VIP:6443; a trailing
 * slash is tolerated) and carries certificate-authority-data. Throws a KubeconfigError naming the
 * server found otherwise, e.g. when Kubespray wrote its default lb-apiserver.kubernetes.local.
 */
export function checkKubeconfig(text: string, apiServerUrl: string, where = "the kubeconfig from Kubespray (artifacts/admin.conf)"): KubeconfigSummary {
    const { doc, entries } = clusterEntries(text, where);
    for (const e of entries) {
        if (typeof e.server !== "string" || e.server === "") {
            throw new KubeconfigError(`${where}: cluster "${e.name}" has no server`);
        }
        if (normalizeUrl(e.server) !== normalizeUrl(apiServerUrl)) {
            throw new KubeconfigError(
                `${where}: cluster "${e.name}" has server ${e.server}, expected the API VIP ${apiServerUrl}. ` +
                    "Kubespray builds it from loadbalancer_apiserver and apiserver_loadbalancer_domain_name " +
                    "(group_vars/k8s_cluster/k8s-cluster.yml); check they reached Kubespray, then run cluster.yml again.",
            );
        }
        if (typeof e.caData !== "string" || e.caData === "") {
            throw new KubeconfigError(`${where}: cluster "${e.name}" has no certificate-authority-data (the client could not verify ${e.server})`);
        }
    }
    const current = doc.get("current-context");
    return {
        clusters: entries.map((e) => ({ name: e.name, server: e.server as string })),
        ...(typeof current === "string" ? { currentContext: current } : {}),
    };
}

/**
 * Returns the kubeconfig with every cluster's server set to `server`, everything else (certificate-
 * authority-data, users, contexts, comments) unchanged. For consumers that reach the VIP through
 * another name or a tunnel; the certificate must be valid for that name (vip.domainName adds a SAN).
 */
export function setKubeconfigServer(text: string, server: string): string {
    const { doc } = clusterEntries(text, "the kubeconfig");
    const clusters = doc.get("clusters");
    if (isSeq(clusters)) {
        for (const item of clusters.items) {
            const cluster = (item as YAMLMap).get("cluster");
            if (isMap(cluster)) {
                cluster.set("server", server);
            }
        }
    }
    return doc.toString({ lineWidth: 0 });
}

/** `https://<address>:6443`; an IPv6 address goes in brackets. */
export function apiServerUrlFor(address: string, port: number = API_PORT): string {
    return `https://${isIPv6(address) ? `[${address}]` : address}:${port}`;
}

/**
 * The admin kubeconfig (already checked: server https://VIP:6443) for clients outside the private network:
 * the same CA, users and contexts, server `https://<publicAddress>:6443` (hcloud: the Load Balancer's public
 * IPv4, which the certificate covers through supplementary_addresses_in_ssl_keys).
 */
export function publicKubeconfig(adminConf: string, publicAddress: string): string {
    const url = apiServerUrlFor(publicAddress);
    const text = setKubeconfigServer(adminConf, url);
    checkKubeconfig(text, url, "the public kubeconfig");
    return text;
}

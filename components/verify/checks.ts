// The seed's verification checklist as pure evaluations: each check turns what was observed (an HTTPS
// answer, `ip -o -4 addr show` of each control plane, the lease, the pods, the nodes) into a result
// that passes, or fails naming the cause and what to look at (the seed's troubleshooting). Pure.
import { API_PORT } from "../config/vip";
import { VerifyTarget } from "./outputs";

/** kube-vip's leader-election lease (Kubespray's kube_vip_leasename default). */
export const KUBE_VIP_LEASE = "plndr-cp-lock";
/** kube-vip's static pod manifest on each control plane (Kubespray: {{ kube_manifest_dir }}/kube-vip.yml). */
export const KUBE_VIP_MANIFEST = "/etc/kubernetes/manifests/kube-vip.yml";

export type CheckName = "api" | "vip" | "lease" | "kube-vip" | "nodes";

export interface CheckResult {
    name: CheckName;
    /** Short title: what the check promises. */
    title: string;
    status: "pass" | "fail" | "skip";
    /** What was seen (pass), or the cause (fail), or why it did not apply (skip). */
    detail: string;
    /** Where to look next (fail only). */
    lookAt?: string[];
}

/** One HTTPS request to the API server, as components/verify/api.ts reports it. */
export interface ApiAnswer {
    /** HTTP status, when an answer came. */
    status?: number;
    body?: string;
    /** Node's error code (ECONNREFUSED, ETIMEDOUT, ERR_TLS_CERT_ALTNAME_INVALID, UNABLE_TO_VERIFY_LEAF_SIGNATURE, ...). */
    errorCode?: string;
    errorMessage?: string;
    /** The serving certificate's subjectAltName as Node prints it ("IP Address:10.0.0.1, DNS:kubernetes"). */
    sans?: string;
}

/** The output of a command run over SSH on one node. */
export interface RemoteOutput {
    code: number | null;
    stdout: string;
    stderr: string;
    /** The ssh client could not run or log in (code 255), or timed out. */
    error?: string;
}

const pass = (name: CheckName, title: string, detail: string): CheckResult => ({ name, title, status: "pass", detail });
const fail = (name: CheckName, title: string, detail: string, lookAt: string[]): CheckResult => ({ name, title, status: "fail", detail, lookAt });
const skip = (name: CheckName, title: string, detail: string): CheckResult => ({ name, title, status: "skip", detail });

export const controlPlanes = (target: VerifyTarget) => target.nodes.filter((n) => n.roles.includes("control-plane"));
const usesKubeVip = (target: VerifyTarget) => target.vipMode === "arp" || target.vipMode === "bgp";

const TLS_CA_ERRORS = new Set([
    "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
    "SELF_SIGNED_CERT_IN_CHAIN",
    "DEPTH_ZERO_SELF_SIGNED_CERT",
    "UNABLE_TO_GET_ISSUER_CERT",
    "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
    "CERT_SIGNATURE_FAILURE",
    "CERT_UNTRUSTED",
]);

/** The IP addresses of a certificate's subjectAltName text. */
export function sanAddresses(sans: string | undefined): string[] {
    return (sans ?? "").split(",").map((s) => s.trim()).filter((s) => s.startsWith("IP Address:")).map((s) => s.slice("IP Address:".length));
}

/** API check: GET /readyz through the VIP with the exported kubeconfig (server, CA, SANs, credentials). */
export function evaluateApi(target: VerifyTarget, answer: ApiAnswer | undefined): CheckResult {
    const title = `the API answers /readyz through the VIP (https://${target.vip}:${API_PORT}) with the stack's kubeconfig`;
    const expected = `https://${target.vip}:${API_PORT}`;
    const server = target.kubeconfig.server.replace(/\/+$/, "");
    if (server !== expected) {
        return fail("api", title, `the kubeconfig's server is ${server}, not ${expected}`, [
            "the kubeconfig output and <kubespray.workDir>/<name>/inventory/artifacts/admin.conf (written by cluster.yml)",
            "group_vars: loadbalancer_apiserver and apiserver_loadbalancer_domain_name must be the VIP",
        ]);
    }
    if (!target.kubeconfig.ca) {
        return fail("api", title, "the kubeconfig has no certificate-authority-data: the CA cannot be verified", ["the kubeconfig output"]);
    }
    if (answer === undefined) return fail("api", title, "no request was made", []);
    const code = answer.errorCode;
    if (code === "ERR_TLS_CERT_ALTNAME_INVALID") {
        return fail("api", title, `the VIP ${target.vip} is not in the API server certificate's SANs (${answer.sans ?? "none seen"})`, [
            "supplementary_addresses_in_ssl_keys and loadbalancer_apiserver.address in group_vars (the program writes the VIP there)",
            "/etc/kubernetes/ssl/apiserver.crt on the control planes: `openssl x509 -noout -text -in /etc/kubernetes/ssl/apiserver.crt | grep -A1 'Subject Alternative Name'`; regenerate it after fixing the SANs",
        ]);
    }
    if (code !== undefined && TLS_CA_ERRORS.has(code)) {
        return fail("api", title, `the certificate served at the VIP is not signed by the kubeconfig's CA (${code}): another machine holds ${target.vip}, or the kubeconfig belongs to another cluster`, [
            `which MAC answers for the VIP: \`ip neigh show ${target.vip}\`; the VIP check below`,
            "the kubeconfig output against /etc/kubernetes/admin.conf on a control plane",
        ]);
    }
    if (code === "ECONNREFUSED") {
        return fail("api", title, `${target.vip}:${API_PORT} refused the connection: the VIP holder has no API server listening`, [
            "on the VIP holder: `crictl ps --name kube-apiserver`, `crictl logs <id>`, `journalctl -u kubelet`",
        ]);
    }
    if (code === "ETIMEDOUT" || code === "EHOSTUNREACH" || code === "ENETUNREACH" || code === "ECONNRESET") {
        return fail("api", title, `no answer from ${target.vip}:${API_PORT} (${code}): no node holds the VIP, or it is not reachable from here`, [
            "the VIP and kube-vip checks below; kube-vip's logs on the control planes (`crictl logs $(crictl ps -q --name kube-vip)`)",
            `\`ip neigh show ${target.vip}\` on this machine (needs the nodes' layer-2 network for ARP mode)`,
        ]);
    }
    if (code !== undefined) {
        return fail("api", title, `the request failed: ${code}${answer.errorMessage ? ` ${answer.errorMessage}` : ""}`, ["the VIP and kube-vip checks below"]);
    }
    if (answer.status === 401 || answer.status === 403) {
        return fail("api", title, `the API server refused the kubeconfig's credentials (HTTP ${answer.status})`, [
            "the kubeconfig output against /etc/kubernetes/admin.conf on a control plane (client certificate expired or from another cluster)",
        ]);
    }
    if (answer.status !== 200) {
        return fail("api", title, `/readyz answered HTTP ${answer.status}: ${(answer.body ?? "").trim().split("\n").filter((l) => l.includes("failed")).join("; ") || (answer.body ?? "").trim().slice(0, 200)}`, [
            "`kubectl get --raw='/readyz?verbose'`; etcd health on the control planes (`etcdctl endpoint health`)",
        ]);
    }
    const sans = sanAddresses(answer.sans);
    return pass("api", title, `HTTP 200 "${(answer.body ?? "").trim().slice(0, 20)}"; CA verified; the VIP is in the certificate's SANs (${sans.join(", ")})`);
}

/** The interfaces of `ip -o -4 addr show` output that carry `address` (as `address/len`). */
export function interfacesWith(ipAddrOutput: string, address: string): string[] {
    const found: string[] = [];
    for (const line of ipAddrOutput.split("\n")) {
        const m = /^\d+:\s+(\S+)\s+inet\s+([\d.]+)\/\d+/.exec(line.trim());
        if (m && m[2] === address) found.push(m[1].replace(/@.*$/, ""));
    }
    return found;
}

/** VIP check: the VIP is on exactly one control plane. Returns the holder (undefined unless exactly one). */
export function evaluateVip(target: VerifyTarget, outputs: Record<string, RemoteOutput>): { result: CheckResult; holder?: string } {
    const title = "the VIP is on exactly one control plane";
    if (!usesKubeVip(target)) return { result: skip("vip", title, `vipMode ${target.vipMode}: the Load Balancer holds the VIP, not a node`) };
    const unreachable: string[] = [];
    const holders: string[] = [];
    const where: string[] = [];
    for (const cp of controlPlanes(target)) {
        const out = outputs[cp.name];
        if (!out || out.error || out.code !== 0) {
            unreachable.push(`${cp.name} (${cp.sshAddress}): ${out?.error ?? (out ? `exit ${out.code}: ${out.stderr.trim()}` : "not asked")}`);
            continue;
        }
        const ifaces = interfacesWith(out.stdout, target.vip);
        if (ifaces.length > 0) {
            holders.push(cp.name);
            where.push(`${cp.name} (${ifaces.join(", ")})`);
        }
    }
    if (unreachable.length > 0) {
        return { result: fail("vip", title, `cannot read the addresses of ${unreachable.join("; ")}`, ["SSH to the node with the stack's key (ssh.user, ssh.port, nodeSshAddresses)"]) };
    }
    if (target.vipMode === "bgp") {
        // BGP mode: kube-vip adds the VIP on every advertising node (no ARP conflict); not one holder.
        return { result: holders.length > 0 ? pass("vip", title, `BGP mode: on ${where.join(", ")}`) : fail("vip", title, "BGP mode: no control plane carries the VIP", ["kube-vip's logs (`crictl logs $(crictl ps -q --name kube-vip)`): BGP session state and peers"]) };
    }
    if (holders.length === 1) return { result: pass("vip", title, `on ${where[0]}`), holder: holders[0] };
    if (holders.length === 0) {
        return {
            result: fail("vip", title, `no control plane has ${target.vip}`, [
                "the kube-vip check below: are its pods running? `crictl logs $(crictl ps -q --name kube-vip)` on each control plane",
                "kube_vip_interface (config `interface`): it must be the nodes' NIC (`ip -br link`)",
                `the lease: \`kubectl -n kube-system get lease ${KUBE_VIP_LEASE} -o yaml\` ("not found": kube-vip never got leadership; look for "forbidden" in its logs)`,
            ]),
        };
    }
    return {
        result: fail("vip", title, `split brain: ${target.vip} is on ${where.join(" and ")}`, [
            `the lease holder (\`kubectl -n kube-system get lease ${KUBE_VIP_LEASE} -o yaml\`), time sync between the nodes (\`date +%s\`), network partitions`,
            `restart kube-vip on the nodes that are not the holder: move ${KUBE_VIP_MANIFEST} out and back`,
        ]),
    };
}

/** Lease check: `plndr-cp-lock` (coordination.k8s.io/v1, kube-system) is held by the VIP holder. */
export function evaluateLease(target: VerifyTarget, answer: ApiAnswer | undefined, vipHolder: string | undefined): { result: CheckResult; holder?: string } {
    const title = `the ${KUBE_VIP_LEASE} lease holder is the VIP holder`;
    if (target.vipMode !== "arp") return { result: skip("lease", title, `vipMode ${target.vipMode}: no ARP leader election`) };
    if (!answer || answer.errorCode !== undefined) {
        return { result: fail("lease", title, `cannot read the lease: ${answer?.errorCode ?? "not asked"} ${answer?.errorMessage ?? ""}`.trim(), ["the API check above"]) };
    }
    if (answer.status === 404) {
        return {
            result: fail("lease", title, `lease kube-system/${KUBE_VIP_LEASE} not found: kube-vip never took the leadership`, [
                'kube-vip\'s logs on the control planes: "forbidden" / "unauthorized" (it uses /etc/kubernetes/admin.conf, on the first control plane super-admin.conf)',
            ]),
        };
    }
    if (answer.status !== 200) return { result: fail("lease", title, `reading the lease answered HTTP ${answer.status}`, ["the API check above"]) };
    let lease: any;
    try {
        lease = JSON.parse(answer.body ?? "");
    } catch {
        return { result: fail("lease", title, "the lease is not JSON", []) };
    }
    const holder: string | undefined = lease?.spec?.holderIdentity || undefined;
    const renew = lease?.spec?.renewTime ? ` (renewed ${lease.spec.renewTime}, duration ${lease.spec.leaseDurationSeconds ?? "?"} s)` : "";
    if (!holder) return { result: fail("lease", title, `the lease has no holder${renew}`, ["kube-vip's logs on the control planes"]) };
    if (vipHolder === undefined) return { result: fail("lease", title, `held by ${holder}${renew}, but the VIP check found no single holder`, ["the VIP check above"]), holder };
    if (holder !== vipHolder) {
        return {
            result: fail("lease", title, `held by ${holder}${renew}, but the VIP is on ${vipHolder}`, [
                `kube-vip on ${vipHolder} did not drop the VIP after losing the lease (kube-vip issue #1377, stalled election): its logs; move ${KUBE_VIP_MANIFEST} out and back on ${vipHolder}`,
            ]),
            holder,
        };
    }
    return { result: pass("lease", title, `held by ${holder}${renew}`), holder };
}

/** kube-vip check: a kube-vip pod runs (and is ready) on every control plane. `pods`: a PodList of kube-system. */
export function evaluateKubeVipPods(target: VerifyTarget, answer: ApiAnswer | undefined): CheckResult {
    const title = "a kube-vip pod runs on every control plane";
    if (!usesKubeVip(target)) return skip("kube-vip", title, `vipMode ${target.vipMode}: no kube-vip`);
    if (!answer || answer.errorCode !== undefined || answer.status !== 200) {
        return fail("kube-vip", title, `cannot list the pods: ${answer?.errorCode ?? `HTTP ${answer?.status}`}`, ["the API check above"]);
    }
    const pods: any[] = JSON.parse(answer.body ?? "{}").items ?? [];
    const problems: string[] = [];
    const seen: string[] = [];
    for (const cp of controlPlanes(target)) {
        const pod = pods.find((p) => p?.spec?.nodeName === cp.name && (p?.metadata?.labels?.["k8s-app"] === "kube-vip" || String(p?.metadata?.name).startsWith("kube-vip")));
        if (!pod) {
            problems.push(`no kube-vip pod on ${cp.name}`);
            continue;
        }
        const phase = pod.status?.phase;
        const cs = (pod.status?.containerStatuses ?? []).find((c: any) => c.name === "kube-vip") ?? pod.status?.containerStatuses?.[0];
        const waiting = cs?.state?.waiting?.reason;
        if (phase !== "Running" || !cs?.ready) {
            problems.push(`${pod.metadata.name} on ${cp.name} is ${phase ?? "?"}${waiting ? ` (${waiting})` : ""}${cs ? `, restarts ${cs.restartCount}` : ""}`);
            continue;
        }
        seen.push(`${pod.metadata.name} (restarts ${cs.restartCount})`);
    }
    if (problems.length > 0) {
        return fail("kube-vip", title, problems.join("; "), [
            `${KUBE_VIP_MANIFEST} on that node (Kubespray writes it when kube_vip_enabled), \`journalctl -u kubelet\``,
            "`crictl ps -a --name kube-vip` and `crictl logs <id>` on that node; image pulls from the registry (`crictl images`)",
        ]);
    }
    return pass("kube-vip", title, seen.join(", "));
}

/** Nodes check: every node of the stack is registered and Ready. `answer`: a NodeList. */
export function evaluateNodes(target: VerifyTarget, answer: ApiAnswer | undefined): CheckResult {
    const title = "all nodes are Ready";
    if (!answer || answer.errorCode !== undefined || answer.status !== 200) {
        return fail("nodes", title, `cannot list the nodes: ${answer?.errorCode ?? `HTTP ${answer?.status}`}`, ["the API check above"]);
    }
    const items: any[] = JSON.parse(answer.body ?? "{}").items ?? [];
    const problems: string[] = [];
    const versions = new Set<string>();
    for (const n of target.nodes) {
        const node = items.find((i) => i?.metadata?.name === n.name);
        if (!node) {
            problems.push(`${n.name} is not registered`);
            continue;
        }
        const ready = (node.status?.conditions ?? []).find((c: any) => c.type === "Ready");
        if (ready?.status !== "True") problems.push(`${n.name} is not Ready (${ready?.reason ?? "no Ready condition"}${ready?.message ? `: ${ready.message}` : ""})`);
        if (node.status?.nodeInfo?.kubeletVersion) versions.add(node.status.nodeInfo.kubeletVersion);
    }
    const extra = items.map((i) => i?.metadata?.name).filter((name) => !target.nodes.some((n) => n.name === name));
    if (problems.length > 0) {
        return fail("nodes", title, problems.join("; "), [
            "`journalctl -u kubelet` on that node; the CNI pods (`kubectl -n kube-system get pods -o wide`, flannel/calico)",
            "a node that is not registered: did scale.yml (or cluster.yml) run for it? the Kubespray logs in <kubespray.workDir>/<name>/logs/",
        ]);
    }
    return pass("nodes", title, `${target.nodes.length} Ready (${[...versions].join(", ")})${extra.length > 0 ? `; also registered, not in the stack: ${extra.join(", ")}` : ""}`);
}

/** True when no result failed. */
export const allPassed = (results: readonly CheckResult[]) => results.every((r) => r.status !== "fail");

/** The results as lines for people: `PASS api: ...`, and under a failure its cause and where to look. */
export function formatResults(results: readonly CheckResult[]): string {
    const lines: string[] = [];
    for (const r of results) {
        lines.push(`${r.status.toUpperCase().padEnd(4)}  ${r.title}`);
        lines.push(`      ${r.status === "fail" ? "cause: " : ""}${r.detail}`);
        for (const l of r.lookAt ?? []) lines.push(`      look at: ${l}`);
    }
    return lines.join("\n");
}

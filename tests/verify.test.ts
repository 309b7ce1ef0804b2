// `npm run verify` (components/verify/): the stack outputs and kubeconfig parsed, each check's evaluation
// (pass, and each failure's cause and where to look), the failover timeline, and the API request against a
// local HTTPS server on 127.0.0.1 with a CA made by openssl here (VIP in the SANs or not, the wrong CA,
// client certificates).
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as https from "https";
import { AddressInfo } from "net";
import * as path from "path";
import { stringify } from "yaml";
import { apiGet } from "../components/verify/api";
import {
    allPassed, ApiAnswer, evaluateApi, evaluateKubeVipPods, evaluateLease, evaluateNodes, evaluateVip, formatResults, interfacesWith, RemoteOutput,
} from "../components/verify/checks";
import { parseKubeconfig, parseSshSettings, parseStackOutputs, VerifyInputError, VerifyTarget } from "../components/verify/outputs";
import { availability, failoverTimeline, Probe } from "../components/verify/timeline";
import { probeThroughout } from "../components/verify/verify";
import { tempDirs } from "./helpers/tmp";

const tmp = tempDirs();

const VIP = "10.250.50.100";
const b64 = (s: string) => Buffer.from(s).toString("base64");

function kubeconfigYaml(server: string, ca = "CA PEM", cert = "CERT PEM", key = "KEY PEM"): string {
    return stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "cluster.local", cluster: { server, "certificate-authority-data": b64(ca) } }],
        users: [{ name: "kubernetes-admin-cluster.local", user: { "client-certificate-data": b64(cert), "client-key-data": b64(key) } }],
        contexts: [{ name: "kubernetes-admin-cluster.local@cluster.local", context: { cluster: "cluster.local", user: "kubernetes-admin-cluster.local" } }],
        "current-context": "kubernetes-admin-cluster.local@cluster.local",
    });
}

function outputsJson(overrides: Record<string, unknown> = {}): string {
    return JSON.stringify({
        apiServerUrl: `https://${VIP}:6443`,
        kubeconfig: kubeconfigYaml(`https://${VIP}:6443`),
        vip: VIP,
        vipMode: "arp",
        nodes: [
            { name: "cp1", roles: ["control-plane", "etcd", "worker"], ip: "10.250.50.11" },
            { name: "cp2", roles: ["control-plane", "etcd", "worker"], ip: "10.250.50.12" },
            { name: "cp3", roles: ["control-plane", "etcd", "worker"], ip: "10.250.50.13" },
            { name: "w1", roles: ["worker"], ip: "10.250.50.14" },
        ],
        nodeSshAddresses: { cp1: "10.250.50.11", cp2: "10.250.50.12", cp3: "10.250.50.13", w1: "192.0.2.14" },
        inventory: "(ignored)",
        ...overrides,
    });
}

const target = (overrides: Record<string, unknown> = {}): VerifyTarget => parseStackOutputs(outputsJson(overrides), "t");

describe("parsing the stack outputs and config", () => {
    it("reads the VIP, the nodes with their SSH addresses, and the kubeconfig's current context credentials", () => {
        const t = target();
        expect(t.vip).toBe(VIP);
        expect(t.vipMode).toBe("arp");
        expect(t.nodes.map((n) => [n.name, n.sshAddress])).toEqual([["cp1", "10.250.50.11"], ["cp2", "10.250.50.12"], ["cp3", "10.250.50.13"], ["w1", "192.0.2.14"]]);
        expect(t.kubeconfig).toEqual({ server: `https://${VIP}:6443`, ca: "CA PEM", cert: "CERT PEM", key: "KEY PEM" });
    });

    it("names a missing output, and a kubeconfig without credentials", () => {
        const out = JSON.parse(outputsJson());
        delete out.kubeconfig;
        expect(() => parseStackOutputs(JSON.stringify(out), "s1")).toThrow(/stack s1 has no output "kubeconfig"/);
        expect(() => parseStackOutputs("not json", "s1")).toThrow(VerifyInputError);
        expect(() => parseKubeconfig(stringify({ clusters: [{ name: "c", cluster: { server: "https://x:6443" } }], users: [{ name: "u", user: {} }] }))).toThrow(/neither inline client-certificate-data/);
    });

    it("takes the SSH user, port and key from `pulumi config --json --show-secrets`", () => {
        const cfg = {
            "kubespray-ha:cluster": { value: JSON.stringify({ ssh: { user: "debian", port: 2222 } }), objectValue: { ssh: { user: "debian", port: 2222 } }, secret: false },
            "kubespray-ha:sshPrivateKey": { value: "-----BEGIN KEY-----\nabc\n-----END KEY-----", secret: true },
        };
        expect(parseSshSettings(JSON.stringify(cfg), { user: "root", port: 22 })).toEqual({ user: "debian", port: 2222, privateKey: "-----BEGIN KEY-----\nabc\n-----END KEY-----" });
        const pathOnly = { "kubespray-ha:cluster": { value: JSON.stringify({ ssh: { privateKeyPath: "keys/id" } }) } };
        expect(parseSshSettings(JSON.stringify(pathOnly), { user: "root", port: 22 })).toEqual({ user: "root", port: 22, privateKeyPath: "keys/id" });
        expect(() => parseSshSettings(JSON.stringify({ "kubespray-ha:cluster": { value: "{}" } }), { user: "root", port: 22 })).toThrow(/neither the secret kubespray-ha:sshPrivateKey nor ssh.privateKeyPath/);
    });
});

const ipAddr = (vipOn?: string) => (node: string, ip: string): RemoteOutput => ({
    code: 0,
    stderr: "",
    stdout: [
        "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever",
        `2: host0    inet ${ip}/24 brd 10.250.50.255 scope global host0\\       valid_lft forever preferred_lft forever`,
        ...(vipOn === node ? [`2: host0    inet ${VIP}/32 scope global host0\\       valid_lft forever preferred_lft forever`] : []),
        "3: flannel.1    inet 10.233.64.0/32 scope global flannel.1\\       valid_lft forever preferred_lft forever",
    ].join("\n"),
});
const cps: [string, string][] = [["cp1", "10.250.50.11"], ["cp2", "10.250.50.12"], ["cp3", "10.250.50.13"]];
const addrs = (f: (node: string, ip: string) => RemoteOutput) => Object.fromEntries(cps.map(([n, ip]) => [n, f(n, ip)]));
const ok = (body: unknown): ApiAnswer => ({ status: 200, body: typeof body === "string" ? body : JSON.stringify(body) });

describe("evaluating the checks", () => {
    it("API: passes on 200 with the SANs; each failure names its cause and where to look", () => {
        const t = target();
        const passed = evaluateApi(t, { status: 200, body: "ok", sans: `DNS:kubernetes, IP Address:10.233.0.1, IP Address:${VIP}` });
        expect(passed.status).toBe("pass");
        expect(passed.detail).toContain(VIP);

        const cases: [ApiAnswer, RegExp, RegExp][] = [
            [{ errorCode: "ERR_TLS_CERT_ALTNAME_INVALID", sans: "IP Address:10.250.50.11" }, /VIP 10\.250\.50\.100 is not in the API server certificate's SANs \(IP Address:10\.250\.50\.11\)/, /supplementary_addresses_in_ssl_keys/],
            [{ errorCode: "UNABLE_TO_VERIFY_LEAF_SIGNATURE" }, /not signed by the kubeconfig's CA/, /ip neigh show/],
            [{ errorCode: "ECONNREFUSED" }, /refused the connection/, /kube-apiserver/],
            [{ errorCode: "ETIMEDOUT" }, /no answer from 10\.250\.50\.100:6443 \(ETIMEDOUT\)/, /kube-vip's logs/],
            [{ status: 401, body: "Unauthorized" }, /refused the kubeconfig's credentials \(HTTP 401\)/, /admin\.conf/],
            [{ status: 500, body: "[+]ping ok\n[-]etcd failed: reason withheld\nreadyz check failed" }, /HTTP 500: \[-\]etcd failed/, /etcdctl endpoint health/],
        ];
        for (const [answer, cause, look] of cases) {
            const r = evaluateApi(t, answer);
            expect({ answer, status: r.status }).toEqual({ answer, status: "fail" });
            expect(r.detail).toMatch(cause);
            expect((r.lookAt ?? []).join("\n")).toMatch(look);
        }
        const wrongServer = target({ kubeconfig: kubeconfigYaml("https://10.250.50.11:6443") });
        expect(evaluateApi(wrongServer, { status: 200, body: "ok" }).detail).toMatch(/server is https:\/\/10\.250\.50\.11:6443, not https:\/\/10\.250\.50\.100:6443/);
    });

    it("VIP: exactly one control plane holds it; none, two, and an unreachable node fail", () => {
        const t = target();
        expect(interfacesWith(ipAddr("cp2")("cp2", "10.250.50.12").stdout, VIP)).toEqual(["host0"]);
        const one = evaluateVip(t, addrs(ipAddr("cp2")));
        expect(one.result.status).toBe("pass");
        expect(one.holder).toBe("cp2");
        expect(one.result.detail).toBe("on cp2 (host0)");

        const none = evaluateVip(t, addrs(ipAddr(undefined)));
        expect(none.result.status).toBe("fail");
        expect(none.holder).toBeUndefined();
        expect(none.result.detail).toBe(`no control plane has ${VIP}`);
        expect(none.result.lookAt!.join("\n")).toMatch(/kube_vip_interface/);

        const two = evaluateVip(t, addrs((n, ip) => ipAddr(n === "cp3" ? "cp3" : "cp1")(n, ip)));
        expect(two.result.detail).toBe(`split brain: ${VIP} is on cp1 (host0) and cp3 (host0)`);

        const down = evaluateVip(t, { ...addrs(ipAddr("cp1")), cp3: { code: 255, stdout: "", stderr: "", error: "ssh root@10.250.50.13:22 failed: No route to host" } });
        expect(down.result.status).toBe("fail");
        expect(down.result.detail).toMatch(/cannot read the addresses of cp3 \(10\.250\.50\.13\): ssh .* No route to host/);

        expect(evaluateVip(target({ vipMode: "loadbalancer" }), {}).result.status).toBe("skip");
    });

    it("lease: its holder must be the VIP holder", () => {
        const t = target();
        const lease = (holder?: string) => ok({ spec: { holderIdentity: holder, renewTime: "2026-12-01T10:00:00.000000Z", leaseDurationSeconds: 5 } });
        expect(evaluateLease(t, lease("cp2"), "cp2").result).toMatchObject({ status: "pass", detail: "held by cp2 (renewed 2026-12-01T10:00:00.000000Z, duration 5 s)" });
        const other = evaluateLease(t, lease("cp1"), "cp2");
        expect(other.result.status).toBe("fail");
        expect(other.result.detail).toMatch(/held by cp1 .* but the VIP is on cp2/);
        expect(other.result.lookAt!.join()).toMatch(/#1377/);
        expect(evaluateLease(t, { status: 404, body: "{}" }, "cp2").result.detail).toMatch(/plndr-cp-lock not found/);
        expect(evaluateLease(t, lease(undefined), "cp2").result.detail).toMatch(/has no holder/);
    });

    it("kube-vip: a ready pod on every control plane", () => {
        const t = target();
        const pod = (node: string, phase = "Running", ready = true, waiting?: string) => ({
            metadata: { name: `kube-vip-${node}`, labels: { "k8s-app": "kube-vip" } },
            spec: { nodeName: node },
            status: { phase, containerStatuses: [{ name: "kube-vip", ready, restartCount: 0, state: waiting ? { waiting: { reason: waiting } } : { running: {} } }] },
        });
        expect(evaluateKubeVipPods(t, ok({ items: [pod("cp1"), pod("cp2"), pod("cp3")] })).status).toBe("pass");
        const r = evaluateKubeVipPods(t, ok({ items: [pod("cp1"), pod("cp3", "Pending", false, "ImagePullBackOff")] }));
        expect(r.status).toBe("fail");
        expect(r.detail).toBe("no kube-vip pod on cp2; kube-vip-cp3 on cp3 is Pending (ImagePullBackOff), restarts 0");
        expect(r.lookAt!.join()).toMatch(/\/etc\/kubernetes\/manifests\/kube-vip\.yml/);
    });

    it("nodes: every node of the stack registered and Ready", () => {
        const t = target();
        const node = (name: string, ready = "True", reason = "KubeletReady") => ({
            metadata: { name },
            status: { conditions: [{ type: "Ready", status: ready, reason, message: ready === "True" ? "" : "container runtime network not ready" }], nodeInfo: { kubeletVersion: "v1.35.4" } },
        });
        const all = evaluateNodes(t, ok({ items: ["cp1", "cp2", "cp3", "w1"].map((n) => node(n)) }));
        expect(all).toMatchObject({ status: "pass", detail: "4 Ready (v1.35.4)" });
        const r = evaluateNodes(t, ok({ items: [node("cp1"), node("cp2"), node("cp3", "False", "KubeletNotReady")] }));
        expect(r.detail).toBe("cp3 is not Ready (KubeletNotReady: container runtime network not ready); w1 is not registered");
        expect(allPassed([all, r])).toBe(false);
        expect(formatResults([all, r])).toMatch(/^PASS  all nodes are Ready\n {6}4 Ready \(v1\.35\.4\)\nFAIL  all nodes are Ready\n {6}cause: cp3 is not Ready[\s\S]*look at: `journalctl -u kubelet`/);
    });
});

describe("the failover timeline", () => {
    const probes = (spec: string, t0 = 0, step = 200): Probe[] => [...spec].map((c, i) => ({ start: t0 + i * step, end: t0 + i * step + (c === "x" ? 150 : 20), ok: c === "." }));

    it("counts the probes after the take-out and the time from the last answer to the next", () => {
        // One probe before the take-out at t=200, then 3 answers, 10 failures, 2 answers.
        const p = probes("....xxxxxxxxxx..");
        const t = failoverTimeline(200, "cp1", p, [{ t: 500, holder: "cp1" }, { t: 1500, holder: undefined }, { t: 2300, holder: "cp2" }]);
        expect(t.totalProbes).toBe(15);
        expect(t.failedProbes).toBe(10);
        // Last answer: probe 3 ended at 620; first answer after: probe 14 ended at 2820.
        expect(t.secondsWithoutAnswer).toBe(2.2);
        expect(t.newHolder).toBe("cp2");
        expect(t.newHolderSeenAfter).toBe(2.1);
        expect(t.firstFailureAfter).toBe(0.6);
        expect(t.answeringAgainAfter).toBe(2.62);
        expect(t.complete).toBe(true);
    });

    it("is not complete while the VIP fails or no new holder was seen; no failure is 0 s", () => {
        expect(failoverTimeline(0, "cp1", probes("..xxx"), [{ t: 100, holder: "cp2" }]).complete).toBe(false);
        expect(failoverTimeline(0, "cp1", probes("..xx.."), [{ t: 100, holder: "cp1" }]).complete).toBe(false);
        const clean = failoverTimeline(0, "cp1", probes("......"), [{ t: 300, holder: "cp3" }]);
        expect(clean).toMatchObject({ secondsWithoutAnswer: 0, failedProbes: 0, totalProbes: 6, newHolder: "cp3", complete: true });
        // Two outages add up; one still open counts until the last probe.
        expect(failoverTimeline(0, "cp1", probes(".x..x."), []).secondsWithoutAnswer).toBe(0.4 + 0.4);
        expect(failoverTimeline(0, "cp1", probes(".xx"), []).secondsWithoutAnswer).toBe(0.53);
    });
});

describe("availability over a long operation", () => {
    const probes = (spec: string, step = 200): Probe[] => [...spec].map((c, i) => ({ start: i * step, end: i * step + (c === "x" ? 150 : 20), ok: c === "." }));

    it("gives the longest outage, their sum and the probe counts", () => {
        // Outage 1: last answer ended at 20, first answer after at 620 (0.6 s); outage 2: 1020 -> 2220 (1.2 s).
        const a = availability(probes("..xx..xxxxx.."));
        expect(a).toMatchObject({ longestSecondsWithoutAnswer: 1.2, secondsWithoutAnswer: 1.8, failedProbes: 7, totalProbes: 13 });
        expect(a.outages).toEqual([{ after: 0.22, seconds: 0.6 }, { after: 1.02, seconds: 1.2 }]);
    });

    it("is 0 s without a failure; an outage still open at the end counts until the last probe", () => {
        expect(availability(probes("....."))).toMatchObject({ longestSecondsWithoutAnswer: 0, secondsWithoutAnswer: 0, failedProbes: 0, totalProbes: 5, outages: [] });
        expect(availability(probes(".xx")).longestSecondsWithoutAnswer).toBe(0.53);
        expect(availability([]).totalProbes).toBe(0);
    });
});

describe("the API request against a local HTTPS server", () => {
    let dir: string;
    const pem = (f: string) => fs.readFileSync(path.join(dir, f), "utf8");
    const servers: https.Server[] = [];

    const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
    function ca(name: string): void {
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.crt`, "-days", "2", "-subj", `/CN=${name}`);
    }
    function leaf(name: string, signer: string, subject: string, ext?: string): void {
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subject);
        if (ext) fs.writeFileSync(path.join(dir, `${name}.ext`), ext);
        openssl("x509", "-req", "-in", `${name}.csr`, "-CA", `${signer}.crt`, "-CAkey", `${signer}.key`, "-CAcreateserial", "-out", `${name}.crt`, "-days", "2", ...(ext ? ["-extfile", `${name}.ext`] : []));
    }

    beforeAll(() => {
        dir = tmp("kha-verify-tls-");
        ca("ca");
        ca("other-ca");
        leaf("with-vip", "ca", "/CN=kube-apiserver", "subjectAltName=DNS:kubernetes,IP:10.233.0.1,IP:127.0.0.1\n");
        leaf("without-vip", "ca", "/CN=kube-apiserver", "subjectAltName=DNS:kubernetes,IP:127.0.0.2\n");
        leaf("admin", "ca", "/O=system:masters/CN=kubernetes-admin", "extendedKeyUsage=clientAuth\n");
    });
    afterAll(async () => {
        await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
        fs.rmSync(dir, { recursive: true, force: true });
    });

    /** An API-like server on 127.0.0.1: /readyz answers "ok" to a client certificate signed by ca.crt, else 401. */
    async function serve(cert: string): Promise<string> {
        const server = https.createServer({ key: pem(`${cert}.key`), cert: pem(`${cert}.crt`), ca: pem("ca.crt"), requestCert: true, rejectUnauthorized: false }, (req, res) => {
            const authorized = (req.socket as import("tls").TLSSocket).authorized;
            res.writeHead(authorized ? (req.url === "/readyz" ? 200 : 404) : 401);
            res.end(authorized ? "ok" : "Unauthorized");
        });
        servers.push(server);
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
        return `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    }

    const creds = (caFile = "ca.crt", client = true) => ({
        server: "https://127.0.0.1:6443",
        ca: pem(caFile),
        ...(client ? { cert: pem("admin.crt"), key: pem("admin.key") } : { token: "not-a-token" }),
    });
    // The check's view: the kubeconfig server is the VIP (127.0.0.1 here), the answer comes from the local server.
    const localTarget = (): VerifyTarget => ({ ...target(), vip: "127.0.0.1", kubeconfig: { ...creds(), server: "https://127.0.0.1:6443" } });

    it("passes when the certificate has the VIP in its SANs and is signed by the kubeconfig's CA", async () => {
        const url = await serve("with-vip");
        const answer = await apiGet(creds(), { path: "/readyz", timeoutMs: 5000, server: url });
        expect(answer).toMatchObject({ status: 200, body: "ok" });
        expect(answer.sans).toContain("IP Address:127.0.0.1");
        const r = evaluateApi(localTarget(), answer);
        expect(r.status).toBe("pass");
    });

    it("fails naming the SANs when the VIP is not in the certificate", async () => {
        const url = await serve("without-vip");
        const answer = await apiGet(creds(), { path: "/readyz", timeoutMs: 5000, server: url });
        expect(answer.errorCode).toBe("ERR_TLS_CERT_ALTNAME_INVALID");
        const r = evaluateApi(localTarget(), answer);
        expect(r.status).toBe("fail");
        expect(r.detail).toMatch(/127\.0\.0\.1 is not in the API server certificate's SANs \(DNS:kubernetes, IP Address:127\.0\.0\.2\)/);
    });

    it("fails when the certificate is not signed by the kubeconfig's CA", async () => {
        const url = await serve("with-vip");
        const answer = await apiGet(creds("other-ca.crt"), { path: "/readyz", timeoutMs: 5000, server: url });
        expect(answer.status).toBeUndefined();
        const r = evaluateApi(localTarget(), answer);
        expect(r.status).toBe("fail");
        expect(r.detail).toMatch(/not signed by the kubeconfig's CA/);
    });

    it("probeThroughout probes every 200 ms while an operation runs and measures its outage", async () => {
        let down = false;
        const server = https.createServer({ key: pem("with-vip.key"), cert: pem("with-vip.crt") }, (_req, res) => {
            res.writeHead(down ? 503 : 200);
            res.end(down ? "down" : "ok");
        });
        servers.push(server);
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
        const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
        const ctx = { target: { ...localTarget(), kubeconfig: { ...creds(), server: url } }, ssh: { user: "root", port: 22 }, keyFile: "/nonexistent", log: () => undefined };
        const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
        const { result, availability: a } = await probeThroughout(ctx, async () => {
            await wait(600);
            down = true;
            await wait(1000);
            down = false;
            await wait(600);
            return "upgraded";
        });
        expect(result).toBe("upgraded");
        expect(a.totalProbes).toBeGreaterThanOrEqual(9);
        expect(a.failedProbes).toBeGreaterThanOrEqual(3);
        expect(a.outages).toHaveLength(1);
        expect(a.longestSecondsWithoutAnswer).toBeGreaterThanOrEqual(0.8);
        expect(a.longestSecondsWithoutAnswer).toBeLessThan(2);
        // A failed operation keeps its measurement on the error.
        const failed = await probeThroughout(ctx, async () => {
            await wait(500);
            throw new Error("playbook failed");
        }).catch((e: Error & { availability?: unknown }) => e);
        expect(failed).toMatchObject({ message: "playbook failed", availability: { failedProbes: 0 } });
    });

    it("fails on refused credentials, and on a port nobody listens on", async () => {
        const url = await serve("with-vip");
        const answer = await apiGet(creds("ca.crt", false), { path: "/readyz", timeoutMs: 5000, server: url });
        expect(answer.status).toBe(401);
        expect(evaluateApi(localTarget(), answer).detail).toMatch(/HTTP 401/);
        const closed = await apiGet(creds(), { path: "/readyz", timeoutMs: 2000, server: "https://127.0.0.1:1" });
        expect(closed.errorCode).toBe("ECONNREFUSED");
    });
});

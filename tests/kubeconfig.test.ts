// Pure tests of components/kubespray/kubeconfig.ts: the admin kubeconfig must point at the VIP; the public one at the Load Balancer.
import { parse } from "yaml";
import { apiServerUrlFor, checkKubeconfig, KubeconfigError, publicKubeconfig, setKubeconfigServer } from "../components/kubespray/kubeconfig";
import { adminConf, CA_DATA as CA } from "./helpers/admin-conf";

describe("checkKubeconfig", () => {
    it("accepts a kubeconfig whose server is the VIP", () => {
        expect(checkKubeconfig(adminConf("https://10.0.1.5:6443"), "https://10.0.1.5:6443")).toEqual({
            clusters: [{ name: "cluster.local", server: "https://10.0.1.5:6443" }],
            currentContext: "kubernetes-admin-cluster.local@cluster.local",
        });
    });

    it("tolerates a trailing slash", () => {
        expect(() => checkKubeconfig(adminConf("https://10.0.1.5:6443/"), "https://10.0.1.5:6443")).not.toThrow();
    });

    it("fails naming the server Kubespray wrote when it is not the VIP", () => {
        const text = adminConf("https://lb-apiserver.kubernetes.local:6443");
        expect(() => checkKubeconfig(text, "https://10.0.1.5:6443")).toThrow(KubeconfigError);
        expect(() => checkKubeconfig(text, "https://10.0.1.5:6443")).toThrow(
            /cluster "cluster\.local" has server https:\/\/lb-apiserver\.kubernetes\.local:6443, expected the API VIP https:\/\/10\.0\.1\.5:6443/,
        );
    });

    it("fails on a node address instead of the VIP", () => {
        expect(() => checkKubeconfig(adminConf("https://10.0.1.11:6443"), "https://10.0.1.5:6443")).toThrow(/has server https:\/\/10\.0\.1\.11:6443/);
    });

    it("checks every cluster, not just the first", () => {
        const two = adminConf("https://10.0.1.5:6443").replace(
            "contexts:",
            "- cluster:\n    certificate-authority-data: " + CA + "\n    server: https://127.0.0.1:6443\n  name: other\ncontexts:",
        );
        expect(() => checkKubeconfig(two, "https://10.0.1.5:6443")).toThrow(/cluster "other" has server https:\/\/127\.0\.0\.1:6443/);
    });

    it("requires certificate-authority-data", () => {
        expect(() => checkKubeconfig(adminConf("https://10.0.1.5:6443", null), "https://10.0.1.5:6443")).toThrow(/no certificate-authority-data/);
    });

    it("fails clearly on something that is not a kubeconfig", () => {
        expect(() => checkKubeconfig("", "https://10.0.1.5:6443")).toThrow(/has no clusters/);
        expect(() => checkKubeconfig("clusters: [", "https://10.0.1.5:6443")).toThrow(/not valid YAML/);
        expect(() => checkKubeconfig("clusters:\n- name: x\n", "https://10.0.1.5:6443")).toThrow(/clusters\[0\] has no cluster section/);
    });
});

describe("setKubeconfigServer", () => {
    it("changes only the server and keeps certificate-authority-data and the rest", () => {
        const before = parse(adminConf("https://lb-apiserver.kubernetes.local:6443"));
        const after = parse(setKubeconfigServer(adminConf("https://lb-apiserver.kubernetes.local:6443"), "https://10.0.1.5:6443"));
        expect(after.clusters[0].cluster).toEqual({ "certificate-authority-data": CA, server: "https://10.0.1.5:6443" });
        expect({ ...after, clusters: undefined }).toEqual({ ...before, clusters: undefined });
        expect(() => checkKubeconfig(setKubeconfigServer(adminConf("https://x:6443"), "https://10.0.1.5:6443"), "https://10.0.1.5:6443")).not.toThrow();
    });
});

describe("apiServerUrlFor", () => {
    it("builds https://<address>:6443, IPv6 in brackets", () => {
        expect(apiServerUrlFor("192.0.2.80")).toBe("https://192.0.2.80:6443");
        expect(apiServerUrlFor("2001:db8::80")).toBe("https://[2001:db8::80]:6443");
        expect(apiServerUrlFor("api.example.org", 443)).toBe("https://api.example.org:443");
    });
});

describe("publicKubeconfig", () => {
    const vipConf = adminConf("https://10.0.1.5:6443");

    it("points at the public address and keeps the CA, the credentials and the contexts", () => {
        const text = publicKubeconfig(vipConf, "192.0.2.80");
        const before = parse(vipConf);
        const after = parse(text);
        expect(checkKubeconfig(text, "https://192.0.2.80:6443").clusters).toEqual([{ name: "cluster.local", server: "https://192.0.2.80:6443" }]);
        expect(after.clusters[0].cluster["certificate-authority-data"]).toBe(CA);
        expect(after.users).toEqual(before.users);
        expect({ ...after, clusters: undefined }).toEqual({ ...before, clusters: undefined });
    });

    it("leaves the admin kubeconfig it was given as it was (the VIP one stays valid)", () => {
        publicKubeconfig(vipConf, "192.0.2.80");
        expect(() => checkKubeconfig(vipConf, "https://10.0.1.5:6443")).not.toThrow();
    });

    it("fails like checkKubeconfig on a kubeconfig without a CA", () => {
        expect(() => publicKubeconfig(adminConf("https://10.0.1.5:6443", null), "192.0.2.80")).toThrow(/the public kubeconfig: cluster "cluster\.local" has no certificate-authority-data/);
    });
});

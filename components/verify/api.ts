// One HTTPS request to the Kubernetes API with a kubeconfig's credentials, using Node's https (no kubectl):
// the CA is the kubeconfig's, the server name is checked against the serving certificate's SANs (for
// an IP: its IP SANs), the SANs seen are reported. A fresh connection per request (no keep-alive), so
// a failover probe never reuses a connection to the old VIP holder.
import * as https from "https";
import * as tls from "tls";
import { ApiAnswer } from "./checks";
import { KubeconfigCredentials } from "./outputs";

export interface ApiRequestOptions {
    /** Path and query, e.g. /readyz or /api/v1/nodes. */
    path: string;
    /** Whole request deadline (connect included), ms. */
    timeoutMs: number;
    /** Another base URL than the kubeconfig's server (same CA and credentials). */
    server?: string;
}

/** GET `path`: the answer, or the error code (never throws). */
export function apiGet(creds: KubeconfigCredentials, options: ApiRequestOptions): Promise<ApiAnswer> {
    return new Promise((resolve) => {
        const url = new URL(options.path, options.server ?? creds.server);
        let sans: string | undefined;
        let settled = false;
        const done = (a: ApiAnswer) => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            resolve(sans !== undefined ? { ...a, sans } : a);
        };
        const req = https.request(
            {
                protocol: url.protocol,
                hostname: url.hostname,
                port: url.port || 443,
                path: `${url.pathname}${url.search}`,
                method: "GET",
                agent: false,
                ca: creds.ca,
                cert: creds.cert,
                key: creds.key,
                headers: { Accept: "application/json", ...(creds.token ? { Authorization: `Bearer ${creds.token}` } : {}) },
                rejectUnauthorized: true,
                checkServerIdentity: (host, cert) => {
                    sans = cert.subjectaltname;
                    return tls.checkServerIdentity(host, cert);
                },
            },
            (res) => {
                const chunks: Buffer[] = [];
                res.on("data", (c: Buffer) => chunks.push(c));
                res.on("end", () => done({ status: res.statusCode, body: Buffer.concat(chunks).toString("utf8") }));
                res.on("error", (err: NodeJS.ErrnoException) => done({ errorCode: err.code ?? "ERESPONSE", errorMessage: err.message }));
            },
        );
        const timer = setTimeout(() => {
            done({ errorCode: "ETIMEDOUT", errorMessage: `no answer within ${options.timeoutMs} ms` });
            req.destroy();
        }, options.timeoutMs);
        req.on("error", (err: NodeJS.ErrnoException) => done({ errorCode: err.code ?? "EREQUEST", errorMessage: err.message }));
        req.end();
    });
}

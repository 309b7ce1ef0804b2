// What the program sets itself and a user must not override: Kubespray variables (in `groupVars` or as
// `-e` in `kubespray.extraArgs`, whose extra vars beat every inventory value) and the ansible-playbook
// options the program passes on every run. Pure.
import { offlineOwner } from "./offline";
import { parse } from "yaml";
import { RuleViolation } from "./vip";

const FIXED_API = "(fixed: the VIP's API is https://VIP:6443 everywhere: kube-vip, the Hetzner Load Balancer, the kubeconfig check)";
const ADMIN_CONF = "(always: the program reads <inventory>/artifacts/admin.conf)";
const HOST_VARS = "nodes[] (the program writes it per host in hosts.yaml)";

/** Variable name -> the config key that sets it. Prefix rules are in managedVarOwner. */
const OWNED: Record<string, string> = {
    kube_proxy_strict_arp: "kubeProxyStrictArp",
    kube_proxy_mode: "kubeProxyMode",
    apiserver_loadbalancer_domain_name: "vip.domainName",
    supplementary_addresses_in_ssl_keys: "vip.domainName",
    kubeconfig_localhost: ADMIN_CONF,
    artifacts_dir: ADMIN_CONF,
    kube_apiserver_port: FIXED_API,
    cluster_name: "clusterName",
    kube_version: "kubeVersion",
    kubeadm_version: "kubeVersion",
    ansible_user: "ssh.user",
    ansible_port: "ssh.port",
    ansible_ssh_port: "ssh.port",
    ansible_ssh_user: "ssh.user",
    ansible_ssh_private_key_file: "ssh.privateKeyPath or the secret kubespray-ha:sshPrivateKey",
    ansible_private_key_file: "ssh.privateKeyPath or the secret kubespray-ha:sshPrivateKey",
    ansible_host: HOST_VARS,
    ip: HOST_VARS,
    access_ip: HOST_VARS,
    etcd_member_name: HOST_VARS,
    etcd_election_timeout: "etcd.electionTimeoutMs",
    etcd_heartbeat_interval: "etcd.heartbeatIntervalMs",
    // remove-node.yml gets `-e node=<worker> -e skip_confirmation=true` from the program; a global value would
    // make it remove the wrong node (v2.25.1 removes every node when `node` is not what it expects).
    node: "(set by the program for remove-node.yml only)",
    skip_confirmation: "(set by the program for remove-node.yml only)",
};

/** The config key that owns a Kubespray/Ansible variable, or undefined when the user may set it. */
export function managedVarOwner(name: string): string | undefined {
    if (name.startsWith("kube_vip_")) return "vip.*";
    // loadbalancer_apiserver is the VIP; the rest of loadbalancer_apiserver_* configure the localhost
    // load balancer this program turns off (loadbalancer_apiserver_localhost: false).
    if (name.startsWith("loadbalancer_apiserver")) return "vip.address / vip.mode";
    return OWNED[name];
}

function managedMessage(name: string, owner: string): string {
    return owner.startsWith("(") ? `${name} is managed by this program ${owner}` : `${name} is managed by this program; set ${owner} instead`;
}

/** Problems for `groupVars` keys the program manages. */
export function groupVarsProblems(groupVars: Record<string, unknown>): RuleViolation[] {
    return Object.keys(groupVars).flatMap((name) => {
        const owner = managedVarOwner(name);
        return owner ? [{ key: `groupVars.${name}`, message: managedMessage(name, owner).replace(`${name} is managed`, "is managed") }] : [];
    });
}

// ansible-playbook's options (ansible-core 2.16 and 2.18 have the same set; tests/kube-vip-manifest.test.ts
// checks these tables against the real `ansible-playbook --help` of both). argparse accepts any unambiguous prefix
// of a long option (`--inv`), a value attached to a short one (`-lnode1`) and clustered short flags (`-bK`).
export const ANSIBLE_PLAYBOOK_LONG_OPTIONS = [
    "ask-become-pass", "ask-pass", "ask-vault-pass", "ask-vault-password", "become", "become-method", "become-pass-file",
    "become-password-file", "become-user", "check", "conn-pass-file", "connection", "connection-password-file", "diff",
    "extra-vars", "flush-cache", "force-handlers", "forks", "help", "inventory", "inventory-file", "key-file", "limit",
    "list-hosts", "list-tags", "list-tasks", "module-path", "private-key", "scp-extra-args", "sftp-extra-args",
    "skip-tags", "ssh-common-args", "ssh-extra-args", "start-at-task", "step", "syntax-check", "tags", "timeout", "user",
    "vault-id", "vault-pass-file", "vault-password-file", "verbose", "version",
] as const;
/** Long options that take a value (the next word, or `--opt=value`). */
export const ANSIBLE_PLAYBOOK_OPTIONS_WITH_VALUE: ReadonlySet<string> = new Set([
    "become-method", "become-pass-file", "become-password-file", "become-user", "conn-pass-file", "connection",
    "connection-password-file", "extra-vars", "forks", "inventory", "inventory-file", "key-file", "limit", "module-path",
    "private-key", "scp-extra-args", "sftp-extra-args", "skip-tags", "ssh-common-args", "ssh-extra-args", "start-at-task",
    "tags", "timeout", "user", "vault-id", "vault-pass-file", "vault-password-file",
]);
/** Short option -> long option. */
export const ANSIBLE_PLAYBOOK_SHORT_OPTIONS: Readonly<Record<string, string>> = {
    C: "check", D: "diff", J: "ask-vault-password", K: "ask-become-pass", M: "module-path", e: "extra-vars", f: "forks",
    h: "help", i: "inventory", k: "ask-pass", l: "limit", t: "tags", v: "verbose", T: "timeout", c: "connection",
    u: "user", b: "become",
};

const PROMPT = "makes ansible-playbook prompt, and nobody can answer it in a Pulumi command (it has no terminal)";
const DRY_RUN = "makes every run a dry run that Pulumi records as done, so Kubespray would never really run";
/** Long option -> why the program refuses it. */
const REFUSED: Record<string, string> = {
    inventory: "the program passes the inventory it renders (-i <workDir>/<name>/inventory/hosts.yaml); put hosts in nodes[]",
    "inventory-file": "the program passes the inventory it renders; put hosts in nodes[]",
    limit: "the program limits scale.yml to new workers itself; a global limit would leave nodes out of cluster.yml",
    "private-key": "the program passes the private key (ssh.privateKeyPath or the secret kubespray-ha:sshPrivateKey)",
    "key-file": "the program passes the private key (ssh.privateKeyPath or the secret kubespray-ha:sshPrivateKey)",
    user: "the program passes --user from ssh.user; set ssh.user instead",
    forks: "the program sets --forks to max(5, number of nodes)",
    "ask-pass": PROMPT,
    "ask-become-pass": PROMPT,
    "ask-vault-pass": PROMPT,
    "ask-vault-password": PROMPT,
    step: PROMPT,
    check: DRY_RUN,
    "syntax-check": DRY_RUN,
    "list-hosts": DRY_RUN,
    "list-tasks": DRY_RUN,
    "list-tags": DRY_RUN,
    help: DRY_RUN,
    version: DRY_RUN,
};

/** A long option as argparse resolves it: exact, or the one option the prefix abbreviates. */
function resolveLong(name: string): string | { ambiguous: string[] } | undefined {
    if ((ANSIBLE_PLAYBOOK_LONG_OPTIONS as readonly string[]).includes(name)) return name;
    const hits = ANSIBLE_PLAYBOOK_LONG_OPTIONS.filter((o) => o.startsWith(name));
    if (hits.length === 1) return hits[0];
    return hits.length > 1 ? { ambiguous: hits } : undefined;
}

/** Variable names an `-e` value sets (`k=v k2="a b"`, a YAML/JSON mapping), or why they cannot be known. */
export function extraVarNames(value: string): { names: string[] } | { problem: string } {
    const text = value.trim();
    if (text.startsWith("@")) {
        return { problem: `${text}: variables from a file cannot be checked at preview; put them in groupVars` };
    }
    if (text.startsWith("{") || text.startsWith("[")) {
        let doc: unknown;
        try {
            doc = parse(text);
        } catch (err) {
            return { problem: `${text} cannot be parsed as YAML/JSON: ${(err as Error).message.split("\n")[0]}` };
        }
        if (!doc || typeof doc !== "object" || Array.isArray(doc)) return { problem: `${text}: extra vars must be a mapping` };
        return { names: Object.keys(doc) };
    }
    // Ansible's parse_kv: words split on unquoted whitespace, each `name=value`.
    const names: string[] = [];
    for (const m of text.matchAll(/(?:[^\s"']+|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')+/g)) {
        const eq = m[0].indexOf("=");
        if (eq > 0) names.push(m[0].slice(0, eq));
    }
    return { names };
}

/** Problems of `kubespray.extraArgs`, each naming the word `kubespray.extraArgs[i]` it is in. */
export function extraArgsProblems(args: readonly string[]): RuleViolation[] {
    const problems: RuleViolation[] = [];
    const key = (i: number) => `kubespray.extraArgs[${i}]`;
    const checkVars = (value: string, i: number) => {
        const found = extraVarNames(value);
        if ("problem" in found) {
            problems.push({ key: key(i), message: `-e ${found.problem}` });
            return;
        }
        for (const name of found.names) {
            // Extra vars beat every inventory value: the offline variables (files_repo, registry_host, checksums) too.
            const owner = managedVarOwner(name) ?? offlineOwner(name, undefined);
            if (owner) problems.push({ key: key(i), message: `-e ${name}: ${managedMessage(name, owner)} (extra vars override every inventory value)` });
        }
    };
    /** Handles option `long` found in word i, with `attached` its value inside the same word; returns words consumed. */
    const option = (long: string, shown: string, i: number, attached: string | undefined): number => {
        if (REFUSED[long]) problems.push({ key: key(i), message: `${shown}: ${REFUSED[long]}` });
        if (!ANSIBLE_PLAYBOOK_OPTIONS_WITH_VALUE.has(long)) return 1;
        let value = attached;
        let at = i;
        if (value === undefined) {
            if (i + 1 >= args.length) {
                problems.push({ key: key(i), message: `${shown} needs a value` });
                return 1;
            }
            value = args[i + 1];
            at = i + 1;
        }
        if (long === "extra-vars") checkVars(value, at);
        return at === i ? 1 : 2;
    };
    for (let i = 0; i < args.length;) {
        const word = args[i];
        if (word.startsWith("--") && word.length > 2) {
            const eq = word.indexOf("=");
            const name = word.slice(2, eq < 0 ? undefined : eq);
            const resolved = resolveLong(name);
            if (resolved === undefined || typeof resolved !== "string") {
                // ansible-playbook itself fails on an ambiguous prefix; say so at preview instead.
                if (resolved) problems.push({ key: key(i), message: `--${name} is ambiguous (${resolved.ambiguous.map((o) => `--${o}`).join(", ")}); ansible-playbook refuses it` });
                i += 1;
                continue;
            }
            i += option(resolved, `--${resolved}`, i, eq < 0 ? undefined : word.slice(eq + 1));
        } else if (/^-[A-Za-z]/.test(word)) {
            // A cluster of short flags; the first one that takes a value takes the rest of the word (or the next word).
            let consumed = 1;
            for (let j = 1; j < word.length; j++) {
                const long = ANSIBLE_PLAYBOOK_SHORT_OPTIONS[word[j]];
                if (!long) break;
                const rest = word.slice(j + 1);
                if (ANSIBLE_PLAYBOOK_OPTIONS_WITH_VALUE.has(long)) {
                    consumed = option(long, `-${word[j]}`, i, rest.length > 0 ? rest : undefined);
                    break;
                }
                option(long, `-${word[j]}`, i, undefined);
            }
            i += consumed;
        } else {
            i += 1;
        }
    }
    return problems;
}

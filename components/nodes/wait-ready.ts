// The readiness check every node backend ends with: SSH answers (and, on a fresh libvirt VM,
// cloud-init has finished), within a time limit, else the node is named in the error. Then the
// first-up checks of what Kubespray will rely on there (firstUpChecks): kube-vip's NIC exists on each
// node, and vip.domainName resolves to the VIP (Kubespray v2.31.0 no longer writes /etc/hosts).
import { ClusterConfig } from "../config/config";
import { shellLine, shQuote } from "../shared/shell";

/** What a node must offer before Kubespray runs, checked once SSH answers; each failure names the key. */
export interface FirstUpChecks {
    /** `interface`: kube-vip binds the VIP to this NIC on every control plane (ARP and BGP modes). */
    interface?: string;
    /** `vip.domainName`: must resolve to `address` on the node itself. */
    domainName?: { name: string; address: string };
}

/**
 * The first-up checks, the same for every node of the config: kube-vip's interface when kube-vip holds the VIP, and
 * with vip.domainName on Kubespray v2.31.0 (which resolves it but, unlike v2.25.1, no longer adds it to
 * /etc/hosts) that the name resolves to the VIP there.
 */
export function firstUpChecks(config: ClusterConfig): FirstUpChecks {
    const checks: FirstUpChecks = {};
    // The same on every node, whatever its roles: kube_vip_interface is one name cluster-wide, a worker may
    // become a control plane, and a role change must not change (and so re-run) a node's readiness check.
    if (config.vip.mode !== "loadbalancer") checks.interface = config.interface;
    if (config.vip.domainName !== undefined && config.kubesprayVersion !== "v2.25.1") {
        checks.domainName = { name: config.vip.domainName, address: config.vip.address };
    }
    return checks;
}

export interface WaitInput {
    node: string;
    ip: string;
    user: string;
    port: number;
    timeoutSeconds: number;
    /** Pause between attempts (default 5 s). */
    pollSeconds?: number;
    /**
     * `libvirt` (default) and `hcloud`: wait for SSH and `cloud-init status --wait` on a node just booted.
     * `baremetal`: an existing machine, only SSH must answer (no cloud-init assumed).
     */
    kind?: ReadyKind;
    /** Checked once the node is ready (firstUpChecks); none by default. */
    checks?: FirstUpChecks;
}

export type ReadyKind = "libvirt" | "hcloud" | "baremetal";

/** Per kind: the config key bounding the wait, whether cloud-init runs there, what lacks when a command is not found. */
const KINDS: Record<ReadyKind, { timeoutKey: string; cloudInit: boolean; notFound: string }> = {
    libvirt: { timeoutKey: "libvirt.bootTimeoutSeconds", cloudInit: true, notFound: "ssh on the hypervisor, cloud-init in libvirt.baseImage" },
    hcloud: { timeoutKey: "ssh.waitSeconds", cloudInit: true, notFound: "ssh here, cloud-init in hcloud.image" },
    baremetal: { timeoutKey: "ssh.waitSeconds", cloudInit: false, notFound: "ssh on the machine running Pulumi" },
};

/** The shell lines that run `checks` over `ssh` once the node answers; set `failed=1` on a failure. */
function checkLines(who: string, ssh: string, checks: FirstUpChecks): string {
    let lines = "failed=0\n";
    if (checks.interface !== undefined) {
        const nic = checks.interface;
        lines +=
            `if ! timeout 30 ${ssh} ${shQuote(`test -e /sys/class/net/${nic}`)} 2>/dev/null; then\n` +
            `  nics=$(timeout 30 ${ssh} 'ls /sys/class/net' 2>&1 | tr '\\n' ' ' | sed 's/ $//')\n` +
            `  echo ${shQuote(`${who}: no network interface ${nic} (interface: kube-vip binds the VIP to it on every control plane); its interfaces:`)} "$nics" >&2\n` +
            `  failed=1\n` +
            `fi\n`;
    }
    if (checks.domainName !== undefined) {
        const { name, address } = checks.domainName;
        lines +=
            `got=$(timeout 30 ${ssh} ${shQuote(`getent ahostsv4 ${name}`)} 2>/dev/null | awk '{ print $1 }' | sort -u | tr '\\n' ' ' | sed 's/ $//')\n` +
            `case " $got " in\n` +
            `  *${shQuote(` ${address} `)}*) ;;\n` +
            `  *) echo ${shQuote(`${who}: vip.domainName ${name} resolves to`)} "\${got:-nothing}" ${shQuote(`there, not to the VIP ${address}; Kubespray v2.31.0 does not add it to /etc/hosts: add it to the nodes' DNS or /etc/hosts`)} >&2\n` +
            `     failed=1 ;;\n` +
            `esac\n`;
    }
    return lines + `[ "$failed" -eq 0 ] || exit 1\n`;
}

/**
 * Waits, at most timeoutSeconds, until the node answers SSH and `cloud-init status --wait`
 * returns. The private key arrives on stdin and lives in a mode-0600 temporary file removed on
 * exit. Exit 2 of cloud-init (recoverable errors) is a warning; exit 1 (failed) is an error.
 * Host keys are not checked: the node was created a moment ago and only its status is read.
 */
export function waitReadyScript(input: WaitInput): string {
    const poll = input.pollSeconds ?? 5;
    const kind = input.kind ?? "libvirt";
    const who = `${kind} node ${input.node} (${input.ip})`;
    const { timeoutKey, cloudInit, notFound } = KINDS[kind];
    // `true` exits 0 like a finished cloud-init, so every kind shares the loop below.
    const check = cloudInit ? "cloud-init status --wait" : "true";
    const ready = cloudInit ? "ready (SSH answers, cloud-init done)" : "ready (SSH answers)";
    const ssh = shellLine([
        "ssh", "-n",
        "-o", "BatchMode=yes",
        "-o", "IdentitiesOnly=yes",
        "-o", "StrictHostKeyChecking=no",
        "-o", "UserKnownHostsFile=/dev/null",
        "-o", "LogLevel=ERROR",
        "-o", "ConnectTimeout=5",
        "-p", String(input.port),
        "-l", input.user,
    ]) + ` -i "$key" ${shQuote(input.ip)}`;
    return (
        "set -u\nexport LC_ALL=C\n" +
        `key=$(mktemp) || exit 1\n` +
        `trap 'rm -f -- "$key"' EXIT\n` +
        `trap 'exit 1' HUP INT TERM\n` +
        `chmod 600 "$key"\n` +
        `cat > "$key"\n` +
        `deadline=$(( $(date +%s) + ${input.timeoutSeconds} ))\n` +
        `rc=255\nout='no attempt'\n` +
        `while :; do\n` +
        `  left=$(( deadline - $(date +%s) ))\n` +
        `  if [ "$left" -le 0 ]; then\n` +
        `    if [ "$rc" -eq 255 ]; then\n` +
        `      echo ${shQuote(`${who}: no SSH answer as ${input.user} within ${input.timeoutSeconds}s (${timeoutKey}); last error:`)} "$out" >&2\n` +
        `    else\n` +
        `      echo ${shQuote(`${who}: ${cloudInit ? "cloud-init did not finish" : "no successful SSH login"} within ${input.timeoutSeconds}s (${timeoutKey}):`)} "$out" >&2\n` +
        `    fi\n` +
        `    exit 1\n` +
        `  fi\n` +
        `  out=$(timeout "$left" ${ssh} ${check} 2>&1)\n` +
        `  rc=$?\n` +
        `  case "$rc" in\n` +
        `    0) break ;;\n` +
        (cloudInit
            ? `    2) echo ${shQuote(`${who}: cloud-init finished with recoverable errors:`)} "$out" >&2; break ;;\n` +
              `    1) echo ${shQuote(`${who}: cloud-init failed:`)} "$out" >&2\n` +
              `       timeout 30 ${ssh} cloud-init status --long >&2\n` +
              `       exit 1 ;;\n` +
              `    127) echo ${shQuote(`${who}: command not found (${notFound}):`)} "$out" >&2; exit 1 ;;\n`
            : `    127) echo ${shQuote(`${who}: ssh not found on the machine running Pulumi:`)} "$out" >&2; exit 1 ;;\n`) +
        `  esac\n` +
        `  sleep ${poll}\n` +
        `done\n` +
        (input.checks && Object.keys(input.checks).length > 0 ? checkLines(who, ssh, input.checks) : "") +
        `echo ${shQuote(`${input.node}: ${ready}`)}\n`
    );
}

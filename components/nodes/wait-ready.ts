// The readiness check every node backend ends with: SSH answers (and, on a fresh libvirt VM,
// cloud-init has finished), within a time limit, else the node is named in the error.
import { shellLine, shQuote } from "../shared/shell";

export interface WaitInput {
    node: string;
    ip: string;
    user: string;
    port: number;
    timeoutSeconds: number;
    /** Pause between attempts (default 5 s). */
    pollSeconds?: number;
    /**
     * `libvirt` (default): wait for SSH and `cloud-init status --wait` on a node just booted.
     * `baremetal`: an existing machine, only SSH must answer (no cloud-init assumed).
     */
    kind?: "libvirt" | "baremetal";
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
    const timeoutKey = kind === "libvirt" ? "libvirt.bootTimeoutSeconds" : "ssh.waitSeconds";
    // `true` exits 0 like a finished cloud-init, so both kinds share the loop below.
    const check = kind === "libvirt" ? "cloud-init status --wait" : "true";
    const ready = kind === "libvirt" ? "ready (SSH answers, cloud-init done)" : "ready (SSH answers)";
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
        `      echo ${shQuote(`${who}: ${kind === "libvirt" ? "cloud-init did not finish" : "no successful SSH login"} within ${input.timeoutSeconds}s (${timeoutKey}):`)} "$out" >&2\n` +
        `    fi\n` +
        `    exit 1\n` +
        `  fi\n` +
        `  out=$(timeout "$left" ${ssh} ${check} 2>&1)\n` +
        `  rc=$?\n` +
        `  case "$rc" in\n` +
        `    0) echo ${shQuote(`${input.node}: ${ready}`)}; exit 0 ;;\n` +
        (kind === "libvirt"
            ? `    2) echo ${shQuote(`${who}: cloud-init finished with recoverable errors:`)} "$out" >&2; exit 0 ;;\n` +
              `    1) echo ${shQuote(`${who}: cloud-init failed:`)} "$out" >&2\n` +
              `       timeout 30 ${ssh} cloud-init status --long >&2\n` +
              `       exit 1 ;;\n` +
              `    127) echo ${shQuote(`${who}: command not found (ssh on the hypervisor, cloud-init in libvirt.baseImage):`)} "$out" >&2; exit 1 ;;\n`
            : `    127) echo ${shQuote(`${who}: ssh not found on the machine running Pulumi:`)} "$out" >&2; exit 1 ;;\n`) +
        `  esac\n` +
        `  sleep ${poll}\n` +
        `done\n`
    );
}

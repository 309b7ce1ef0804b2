// The shell scripts the libvirt backend runs on the hypervisor (virsh, qemu-img, cloud-localds,
// ssh), as pure functions. Every value from the config reaches the shell through shQuote();
// file contents (XML, cloud-init files, the private key) arrive on stdin, never in the command.
// The virsh sub-commands are argv arrays, so a test can run exactly these in one virsh batch.
import { Argv, shellLine, shQuote } from "../../shared/shell";

export { contentHash } from "../../shared/hash";
export { waitReadyScript } from "../wait-ready";
export type { WaitInput } from "../wait-ready";
export { shQuote, shellLine };
export type { Argv };
import { DomainSpec, NetworkSpec } from "./libvirt-xml";

/** virsh sub-commands chained for one `virsh -c URI "<batch>"` invocation. */
export function virshBatch(steps: readonly Argv[]): string {
    return steps.map(shellLine).join(" ; ");
}

/** Runs a script with /bin/sh on an SSH host whatever the login shell is. */
export function wrapForRemote(script: string): string {
    return `sh -c ${shQuote(script)}`;
}

// ---- virsh steps (the argv each create/delete script runs) ----

export interface DefineSteps {
    define: Argv;
    start: Argv;
    autostart: Argv;
}

export interface RemoveSteps {
    destroy: Argv;
    undefine: Argv;
}

export function networkDefineSteps(network: Pick<NetworkSpec, "name">, xmlFile: string): DefineSteps {
    return {
        define: ["net-define", "--file", xmlFile],
        start: ["net-start", "--network", network.name],
        autostart: ["net-autostart", "--network", network.name],
    };
}

export function networkRemoveSteps(network: Pick<NetworkSpec, "name">): RemoveSteps {
    return {
        destroy: ["net-destroy", "--network", network.name],
        undefine: ["net-undefine", "--network", network.name],
    };
}

export function domainDefineSteps(domain: Pick<DomainSpec, "name">, xmlFile: string): DefineSteps {
    return {
        define: ["define", "--file", xmlFile],
        start: ["start", "--domain", domain.name],
        autostart: ["autostart", "--domain", domain.name],
    };
}

export function domainRemoveSteps(domain: Pick<DomainSpec, "name">): RemoveSteps {
    return {
        destroy: ["destroy", "--domain", domain.name],
        // Storage (overlay, seed) belongs to the disk and seed commands; they remove it.
        undefine: ["undefine", "--domain", domain.name, "--managed-save", "--snapshots-metadata"],
    };
}

// ---- scripts ----

const PRELUDE = "set -eu\nexport LC_ALL=C\n";

function virsh(uri: string, argv: Argv): string {
    return shellLine(["virsh", "-c", uri, ...argv]);
}

/**
 * A virsh call reading `--file /dev/stdin` from the script's stdin. Through `cat |`: a pipe
 * always opens as /dev/stdin, while the stdin a script inherits may be a socket (Node's child
 * processes, some SSH servers), which open(2) refuses with ENXIO.
 */
export function virshFromStdin(uri: string, argv: Argv): string {
    return `cat | ${virsh(uri, argv)}`;
}

/**
 * Shell lines that store a virsh listing in `variable`. A plain assignment, so that under
 * `set -e` a failing virsh (daemon down, bad URI) stops the script instead of reading as "absent".
 */
function capture(variable: string, uri: string, argv: Argv): string {
    return `${variable}=$(${virsh(uri, argv)})\n`;
}

/** True (exit 0) when `name` is a whole line of the captured listing. */
function inList(variable: string, name: string): string {
    return `printf '%s\\n' "$${variable}" | grep -qxF -- ${shQuote(name)}`;
}

/**
 * Defines (or re-defines: same UUID, so it updates our own network) the network from the XML on
 * stdin, starts it when inactive, marks it autostart. A re-define while active changes the
 * persistent definition only (new DHCP host entries reach dnsmasq at the next network start;
 * nodes use the static addresses from cloud-init, nothing waits on them).
 */
export function networkCreateScript(uri: string, network: NetworkSpec): string {
    const steps = networkDefineSteps(network, "/dev/stdin");
    return (
        PRELUDE +
        `${virshFromStdin(uri, steps.define)}\n` +
        capture("active", uri, ["net-list", "--name"]) +
        `if ! ${inList("active", network.name)}; then\n` +
        `  ${virsh(uri, steps.start)}\n` +
        `fi\n` +
        `${virsh(uri, steps.autostart)}\n`
    );
}

/** Stops and undefines the network if it exists; removes the storage directory when it is empty. */
export function networkDeleteScript(uri: string, network: Pick<NetworkSpec, "name">, storageDir: string): string {
    const steps = networkRemoveSteps(network);
    return (
        PRELUDE +
        capture("defined", uri, ["net-list", "--all", "--name"]) +
        capture("active", uri, ["net-list", "--name"]) +
        `if ${inList("active", network.name)}; then\n` +
        `  ${virsh(uri, steps.destroy)}\n` +
        `fi\n` +
        `if ${inList("defined", network.name)}; then\n` +
        `  ${virsh(uri, steps.undefine)}\n` +
        `fi\n` +
        `rmdir -- ${shQuote(storageDir)} 2>/dev/null || true\n`
    );
}

export interface DiskScriptInput {
    node: string;
    baseImage: string;
    diskPath: string;
    diskGiB: number;
    storageDir: string;
}

/** Creates the qcow2 overlay on the base image unless it exists (an existing disk is never overwritten). */
export function diskCreateScript(input: DiskScriptInput): string {
    const disk = shQuote(input.diskPath);
    const base = shQuote(input.baseImage);
    return (
        PRELUDE +
        `if [ -e ${disk} ]; then\n` +
        `  echo ${shQuote(`${input.node}: disk ${input.diskPath} exists, kept`)}\n` +
        `  exit 0\n` +
        `fi\n` +
        `if [ ! -r ${base} ]; then\n` +
        `  echo ${shQuote(`${input.node}: libvirt.baseImage ${input.baseImage} is not a readable file on the hypervisor`)} >&2\n` +
        `  exit 1\n` +
        `fi\n` +
        `mkdir -p -- ${shQuote(input.storageDir)}\n` +
        `${shellLine(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", input.baseImage, input.diskPath, `${input.diskGiB}G`])}\n` +
        `echo ${shQuote(`${input.node}: disk ${input.diskPath} created (${input.diskGiB} GiB on ${input.baseImage})`)}\n`
    );
}

export function fileDeleteScript(file: string): string {
    return PRELUDE + `rm -f -- ${shQuote(file)}\n`;
}

export interface SeedFiles {
    userData: string;
    networkConfig: string;
    metaData: string;
}

/** The seed script's stdin: user-data, network-config and meta-data, one base64 line each. */
export function seedStdin(files: SeedFiles): string {
    return [files.userData, files.networkConfig, files.metaData].map((f) => Buffer.from(f, "utf8").toString("base64")).join("\n") + "\n";
}

/**
 * Builds the NoCloud seed ISO (volume id cidata) from the files on stdin (see seedStdin) with
 * `cloud-localds -N`, in a temporary directory beside the target, then renames it into place.
 */
export function seedCreateScript(node: string, seedPath: string, storageDir: string): string {
    return (
        PRELUDE +
        `mkdir -p -- ${shQuote(storageDir)}\n` +
        `tmp=$(mktemp -d ${shQuote(`${storageDir}/.seed.XXXXXX`)})\n` +
        `trap 'rm -rf -- "$tmp"' EXIT\n` +
        `IFS= read -r user_data\n` +
        `IFS= read -r network_config\n` +
        `IFS= read -r meta_data\n` +
        `printf '%s' "$user_data" | base64 -d > "$tmp/user-data"\n` +
        `printf '%s' "$network_config" | base64 -d > "$tmp/network-config"\n` +
        `printf '%s' "$meta_data" | base64 -d > "$tmp/meta-data"\n` +
        `cloud-localds -N "$tmp/network-config" "$tmp/seed.iso" "$tmp/user-data" "$tmp/meta-data"\n` +
        `chmod 0644 "$tmp/seed.iso"\n` +
        `mv -f -- "$tmp/seed.iso" ${shQuote(seedPath)}\n` +
        `echo ${shQuote(`${node}: seed ${seedPath} written`)}\n`
    );
}

/**
 * Defines the domain from the XML on stdin (a re-define updates our own domain: same UUID; new
 * vCPU/memory values apply at its next cold boot), starts it unless active (`virsh list` shows
 * running and paused domains), marks it autostart.
 */
export function domainCreateScript(uri: string, domain: Pick<DomainSpec, "name">): string {
    const steps = domainDefineSteps(domain, "/dev/stdin");
    return (
        PRELUDE +
        capture("defined", uri, ["list", "--all", "--name"]) +
        `if ${inList("defined", domain.name)}; then\n` +
        `  echo ${shQuote(`${domain.name}: defined already, updating its definition (changes apply at the next cold boot)`)}\n` +
        `fi\n` +
        `${virshFromStdin(uri, steps.define)}\n` +
        capture("active", uri, ["list", "--name"]) +
        `if ! ${inList("active", domain.name)}; then\n` +
        `  ${virsh(uri, steps.start)}\n` +
        `fi\n` +
        `${virsh(uri, steps.autostart)}\n`
    );
}

/** Powers the domain off if active and undefines it if defined; nothing to do is not an error. */
export function domainDeleteScript(uri: string, domain: Pick<DomainSpec, "name">): string {
    const steps = domainRemoveSteps(domain);
    return (
        PRELUDE +
        capture("defined", uri, ["list", "--all", "--name"]) +
        `if ! ${inList("defined", domain.name)}; then\n` +
        `  exit 0\n` +
        `fi\n` +
        capture("active", uri, ["list", "--name"]) +
        `if ${inList("active", domain.name)}; then\n` +
        `  ${virsh(uri, steps.destroy)}\n` +
        `fi\n` +
        `${virsh(uri, steps.undefine)}\n`
    );
}

// `plan`: what a change to a stack's config does to what Kubespray is fed, for review.
// Two renders of the same stack (the base ref and the working tree) are compared: nodes,
// API endpoint, group_vars, other settings, secrets (by ciphertext only), and the
// playbooks the Kubespray component would run, decided by ./playbook (the same code).
// Pure: no Pulumi, no git, no files; scripts/plan.ts does the reading.
import { parse } from "yaml";
import { ApiEndpoint, ClusterConfig, CONFIG_KEY, CONFIG_NAMESPACE, EtcdMemberNames, parseClusterConfig, ROLES, VipMode } from "../config/config";
import { etcdMemberNamesOf, withEtcdMemberNames } from "../kubespray/etcd-names";
import { deployedMembersOf } from "../kubespray/membership";
import { InventoryMachine, knownAfterCreate, renderInventory, RenderedFiles, renderTimeMachines } from "../kubespray/inventory";
import { apiServerUrlFor } from "../kubespray/kubeconfig";
import { ChangeOp, CommandSpec, kubesprayCommandSpecs, PlaybookRun, predictRuns, shellQuote } from "../kubespray/playbook";
import { isSecretPlaceholder, isSecureValue } from "../config/secrets";
import { readStackConfig } from "../config/stackfile";
import { componentNames, diffIdentities, MachineChange, NodeIdentity, nodeIdentities } from "../nodes/identity";

/** One rendered stack: the config, the machines as known before creation, the inventory files. */
export interface PlanSide {
    /** Where it came from, for the reader: "working tree" or "main (1a2b3c4)". */
    label: string;
    /**
     * The validated config. The after side carries the etcd member names that follow the before side's
     * (`etcdMemberNames`, as `pulumi up` derives them from the last deployment); the before side, read offline,
     * is taken as deployed with the names its own render gives.
     */
    config: ClusterConfig;
    machines: InventoryMachine[];
    files: RenderedFiles;
    /** Config path -> ciphertext of every `secure:` value in the stack file (never decrypted, never printed). */
    secrets: Record<string, string>;
    /** Stack config keys other than `kubespray-ha:cluster`, as written (secure values included as objects). */
    otherConfig: Record<string, unknown>;
    /** Per node, its resources and what replaces them, as the node backend builds them (nodes/identity.ts). */
    identities: NodeIdentity[];
}

/** Shown instead of any `secure:` value. Ciphertexts are compared, never shown. */
export const SECRET_CHANGED = "[secret changed]";
const SECRET = "[secret]";

const CLUSTER_KEY = `${CONFIG_NAMESPACE}:${CONFIG_KEY}`;

const isSecure = isSecureValue;

function isPlainObject(value: unknown): value is Record<string, unknown> {
    return value !== null && typeof value === "object" && !Array.isArray(value) && !isSecure(value);
}

/** Every `secure:` value below `value`, keyed by its config path (`key`, `key.a.b`, `key[0]`). */
function collectSecure(value: unknown, at: string, out: Record<string, string>): void {
    if (isSecure(value)) {
        out[at] = value.secure;
    } else if (Array.isArray(value)) {
        value.forEach((v, i) => collectSecure(v, `${at}[${i}]`, out));
    } else if (isPlainObject(value)) {
        for (const [k, v] of Object.entries(value)) collectSecure(v, `${at}.${k}`, out);
    }
}

/** The `config:` map of a stack file. */
function stackConfigMap(stackYaml: string): Record<string, unknown> {
    const doc = parse(stackYaml) as { config?: Record<string, unknown> } | null;
    return doc?.config ?? {};
}

/**
 * Reads and renders one side. Throws ConfigError (bad config) or Error (bad files) exactly as
 * `render` and `pulumi preview` would. `previous`: the side this one follows (the after side follows the
 * before side): its etcd member names are derived from that side's specs, as `pulumi up` derives them from
 * the last deployment's (kubespray/etcd-names.ts).
 */
export function loadPlanSide(projectYaml: string, stackYaml: string, stack: string, label: string, previous?: PlanSide): PlanSide {
    const { cluster, securePaths, bgpPeerPasswords } = readStackConfig(projectYaml, stackYaml, stack);
    const parsed = parseClusterConfig(cluster, { stack, securePaths, bgpPeerPasswords });
    // The after side follows the before side as `pulumi up` follows the last deployment: etcd member names, and the
    // control planes and etcd members a membership change starts from (kubespray/membership.ts).
    const previousCluster = previous ? kubesprayCommandSpecs(previous.config, previous.machines, { only: ["cluster"] }) : undefined;
    const deployedMembers = deployedMembersOf(previousCluster);
    const config = previousCluster ? { ...withEtcdMemberNames(parsed, previousCluster), ...(deployedMembers ? { deployedMembers } : {}) } : parsed;
    const machines = renderTimeMachines(config);
    const files = renderInventory(config, machines);
    const secrets: Record<string, string> = {};
    const otherConfig: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(stackConfigMap(stackYaml))) {
        if (key === CLUSTER_KEY) continue;
        collectSecure(value, key, secrets);
        otherConfig[key] = value;
    }
    return { label, config, machines, files, secrets, otherConfig, identities: nodeIdentities(config) };
}

// ---------------------------------------------------------------------------------------------
// Value comparison and display. `secure:` objects compare by ciphertext and show as markers.

/** JSON with sorted keys, so equal values give equal text whatever the key order. */
function canonical(value: unknown): string {
    return JSON.stringify(value, (_k, v: unknown) =>
        isPlainObject(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b))) : v,
    ) ?? "undefined";
}

/** `value` with every `secure:` object replaced by "[secret]". */
function redact(value: unknown): unknown {
    if (isSecure(value) || isSecretPlaceholder(value)) return SECRET;
    if (Array.isArray(value)) return value.map(redact);
    if (isPlainObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redact(v)]));
    return value;
}

/** `value` without its `secure:` objects. */
function stripSecure(value: unknown): unknown {
    if (isSecure(value)) return undefined;
    if (Array.isArray(value)) return value.map(stripSecure);
    if (isPlainObject(value)) {
        return Object.fromEntries(Object.entries(value).flatMap(([k, v]) => (isSecure(v) ? [] : [[k, stripSecure(v)]])));
    }
    return value;
}

/** A value that differs between the two sides. `before`/`after` absent = the key is absent there. */
export interface ValueChange {
    key: string;
    kind: "added" | "removed" | "changed";
    before?: unknown;
    after?: unknown;
    /** Only a ciphertext differs: shown as "[secret changed]", values omitted. */
    secretChanged?: true;
}

/** Compares two values of the same key; undefined when equal. Never returns a ciphertext. */
function compare(key: string, before: unknown, after: unknown): ValueChange | undefined {
    if (canonical(before) === canonical(after)) return undefined;
    const kind = before === undefined ? "added" : after === undefined ? "removed" : "changed";
    const rb = redact(before);
    const ra = redact(after);
    if (kind === "changed" && canonical(rb) === canonical(ra)) {
        return { key, kind, secretChanged: true };
    }
    return {
        key,
        kind,
        ...(before === undefined ? {} : { before: rb }),
        ...(after === undefined ? {} : { after: ra }),
    };
}

/** Diffs two objects leaf by leaf (plain objects are walked, arrays and scalars are leaves). */
function diffTree(prefix: string, before: unknown, after: unknown, out: ValueChange[]): void {
    if (isPlainObject(before) && isPlainObject(after)) {
        const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
        for (const k of keys) diffTree(prefix ? `${prefix}.${k}` : k, before[k], after[k], out);
        return;
    }
    const change = compare(prefix, before, after);
    if (change) out.push(change);
}

/** A value for a one-line display: scalars as themselves, the rest as compact JSON. */
export function showValue(value: unknown): string {
    if (value === undefined) return "(unset)";
    if (typeof value === "string") return value;
    return canonical(value);
}

// ---------------------------------------------------------------------------------------------
// Nodes

/** A node as the reviewer sees it: roles in a fixed order, plus any per-node setting. */
export interface NodeView {
    name: string;
    ip: string;
    roles: string[];
    /** Where Ansible connects (`ansible_host`); a placeholder on hcloud. */
    sshAddress: string;
    /** Per-node settings from the config (serverType, vcpus, sshAddress...), when set. */
    settings: Record<string, unknown>;
}

export interface NodeChange {
    name: string;
    changes: ValueChange[];
}

export interface NodeDiff {
    added: NodeView[];
    removed: NodeView[];
    changed: NodeChange[];
    unchanged: number;
    /** The after side's etcd member names (`etcd_member_name`) and the retired ones (kubespray/etcd-names.ts). */
    etcdMemberNames: EtcdMemberNames;
    /** The etcd members or their names differ from the before side's: the text shows the names. */
    etcdMembersChanged: boolean;
}

function nodeViews(side: PlanSide): NodeView[] {
    const machines = new Map(side.machines.map((m) => [m.name, m]));
    return side.config.nodes.map((n) => {
        const { name, ip, roles, ...settings } = n;
        return {
            name,
            ip,
            roles: ROLES.filter((r) => roles.includes(r)),
            sshAddress: machines.get(name)?.sshAddress ?? ip,
            settings: Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined)),
        };
    });
}

export function diffNodes(before: PlanSide | undefined, after: PlanSide): NodeDiff {
    const old = new Map((before ? nodeViews(before) : []).map((n) => [n.name, n]));
    const now = nodeViews(after);
    const etcdMemberNames = etcdMemberNamesOf(after.config, after.machines);
    const etcdMembersChanged = before !== undefined && canonical(etcdMemberNamesOf(before.config, before.machines).members) !== canonical(etcdMemberNames.members);
    const diff: NodeDiff = { added: [], removed: [], changed: [], unchanged: 0, etcdMemberNames, etcdMembersChanged };
    for (const node of now) {
        const was = old.get(node.name);
        if (!was) {
            diff.added.push(node);
            continue;
        }
        const changes: ValueChange[] = [];
        for (const c of [
            compare("roles", was.roles.join(", "), node.roles.join(", ")),
            compare("ip", was.ip, node.ip),
            // Where Ansible connects, when it is not simply the ip (baremetal sshAddress).
            was.sshAddress === was.ip && node.sshAddress === node.ip ? undefined : compare("sshAddress", was.sshAddress, node.sshAddress),
        ]) {
            if (c) changes.push(c);
        }
        for (const c of diffSettings(was.settings, node.settings)) {
            if (c.key !== "sshAddress") changes.push(c);
        }
        if (changes.length > 0) diff.changed.push({ name: node.name, changes });
        else diff.unchanged++;
    }
    const names = new Set(now.map((n) => n.name));
    diff.removed = [...old.values()].filter((n) => !names.has(n.name));
    return diff;
}

function diffSettings(before: Record<string, unknown>, after: Record<string, unknown>): ValueChange[] {
    const out: ValueChange[] = [];
    diffTree("", before, after, out);
    return out;
}

// ---------------------------------------------------------------------------------------------
// API endpoint

export interface EndpointView {
    vip: string;
    /** True when the program picked the VIP (vip.address unset): it can move when nodes change. */
    picked: boolean;
    mode: VipMode;
    domainName: string;
    apiServerUrl: string;
    /** Where the `kubeconfig` output and the k8s provider point (`hcloud.apiEndpoint`): the VIP, or the Load Balancer's public IPv4. */
    clientEndpoint: ApiEndpoint;
    /** Their server: apiServerUrl, or the public URL (a placeholder: the public IP exists only after create). */
    clientUrl: string;
}

export interface EndpointDiff {
    before?: EndpointView;
    after: EndpointView;
    /** The VIP or the API URL moved: the cluster's endpoint changes (and the kubeconfig's, on the private endpoint). */
    moved: boolean;
    /** `hcloud.apiEndpoint` switched: the kubeconfig's server changes between the VIP and the public IP. */
    clientSwitched: boolean;
    changes: ValueChange[];
}

function endpointView(config: ClusterConfig): EndpointView {
    return {
        vip: config.vip.address,
        picked: config.vip.picked,
        mode: config.vip.mode,
        domainName: config.vip.domainName ?? config.vip.address,
        apiServerUrl: config.apiServerUrl,
        clientEndpoint: config.hcloud.apiEndpoint,
        clientUrl: config.hcloud.apiEndpoint === "public" ? apiServerUrlFor(knownAfterCreate("public IPv4 of the API Load Balancer")) : config.apiServerUrl,
    };
}

export function diffEndpoint(before: PlanSide | undefined, after: PlanSide): EndpointDiff {
    const now = endpointView(after.config);
    if (!before) return { after: now, moved: false, clientSwitched: false, changes: [] };
    const was = endpointView(before.config);
    const changes: ValueChange[] = [];
    diffTree("", { ...was, picked: undefined }, { ...now, picked: undefined }, changes);
    return {
        before: was,
        after: now,
        moved: was.vip !== now.vip || was.apiServerUrl !== now.apiServerUrl,
        clientSwitched: was.clientEndpoint !== now.clientEndpoint,
        changes,
    };
}

// ---------------------------------------------------------------------------------------------
// Variables: group_vars files and the inventory's all.vars, parsed back from the rendered text.

export interface VarChange extends ValueChange {
    /** Ansible group the variable applies to (`k8s_cluster`, or `all` for hosts.yaml all.vars). */
    group: string;
    /** The rendered file it lives in (after the change, or before when removed). */
    file: string;
}

interface VarEntry {
    group: string;
    file: string;
    value: unknown;
}

/** group -> variable -> where and what, from the rendered files (parsed with `yaml`). */
export function renderedVars(files: RenderedFiles): Map<string, VarEntry> {
    const vars = new Map<string, VarEntry>();
    const add = (group: string, file: string, doc: unknown) => {
        if (!isPlainObject(doc)) return;
        for (const [key, value] of Object.entries(doc)) vars.set(`${group}\0${key}`, { group, file, value });
    };
    for (const [file, text] of Object.entries(files)) {
        const m = /^group_vars\/([^/]+)(?:\/|\.ya?ml$)/.exec(file);
        if (m) add(m[1].replace(/\.ya?ml$/, ""), file, parse(text));
    }
    const hosts = files["hosts.yaml"];
    if (hosts !== undefined) {
        add("all", "hosts.yaml", (parse(hosts) as { all?: { vars?: unknown } } | null)?.all?.vars);
    }
    return vars;
}

export function diffVars(before: PlanSide | undefined, after: PlanSide): VarChange[] {
    const old = before ? renderedVars(before.files) : new Map<string, VarEntry>();
    const now = renderedVars(after.files);
    const ids = [...new Set([...old.keys(), ...now.keys()])];
    const out: VarChange[] = [];
    for (const id of ids) {
        const [, key] = id.split("\0");
        const was = old.get(id);
        const is = now.get(id);
        const change = compare(key, was?.value, is?.value);
        if (change) out.push({ ...change, group: (is ?? was)!.group, file: (is ?? was)!.file });
    }
    return out.sort((a, b) => a.group.localeCompare(b.group) || a.key.localeCompare(b.key));
}

// ---------------------------------------------------------------------------------------------
// Other settings: the validated config outside nodes, VIP and groupVars (these have their own
// sections), plus other stack config keys. Shown so a reviewer sees e.g. a changed server type.

/**
 * Config keys left out of "other settings": what has its own section (nodes, VIP, groupVars), what is
 * derived (subnet, URL), and what is rendered into the inventory and so shows among the variables
 * (kubeVersion as kube_version, interface as kube_vip_interface, ssh.user as ansible_user...).
 */
const SHOWN_ELSEWHERE = ["nodes", "vip", "groupVars", "subnet", "apiServerUrl", "kubeVersion", "clusterName", "interface", "kubeProxyMode", "kubeProxyStrictArp", "offline", "etcdMemberNames", "deployedMembers"];

function omit(obj: object, keys: readonly string[]): Record<string, unknown> {
    return Object.fromEntries(Object.entries(obj).filter(([k]) => !keys.includes(k)));
}

function otherSettings(side: PlanSide): Record<string, unknown> {
    const cluster = { ...omit(side.config, SHOWN_ELSEWHERE), ssh: omit(side.config.ssh, ["user"]) };
    // Secret values are reported, by key only, in their own section.
    return { [CLUSTER_KEY]: cluster, ...(stripSecure(side.otherConfig) as Record<string, unknown>) };
}

export function diffSettingsOf(before: PlanSide | undefined, after: PlanSide): ValueChange[] {
    if (!before) return [];
    const out: ValueChange[] = [];
    diffTree("", otherSettings(before), otherSettings(after), out);
    return out.map((c) => ({ ...c, key: c.key.startsWith(`${CLUSTER_KEY}.`) ? c.key.slice(CLUSTER_KEY.length + 1) : c.key }));
}

// ---------------------------------------------------------------------------------------------
// Secrets: key paths whose ciphertext differs. Only the key and "[secret changed]" are shown.

export interface SecretChange {
    key: string;
    kind: "added" | "removed" | "changed";
    /** Always "[secret changed]": what a reader (or a tool) may show of it. */
    value: typeof SECRET_CHANGED;
}

export function diffSecrets(before: PlanSide | undefined, after: PlanSide): SecretChange[] {
    const old = before?.secrets ?? {};
    const keys = [...new Set([...Object.keys(old), ...Object.keys(after.secrets)])].sort();
    return keys
        .filter((k) => old[k] !== after.secrets[k])
        .map((key) => ({
            key,
            kind: old[key] === undefined ? "added" : after.secrets[key] === undefined ? "removed" : "changed",
            value: SECRET_CHANGED,
        }));
}

// ---------------------------------------------------------------------------------------------
// The plan: everything above, plus the playbooks, for one stack.

/** One predicted playbook run: `command` is e.g. `scale.yml --limit=node4`; `op` is what Pulumi does to `specId`. */
export interface PlannedRun extends PlaybookRun {
    command: string;
    op: ChangeOp;
    /** The resource is replaced because these nodes' machines are (rebuilt, re-checked). */
    machinesReplaced?: string[];
}

/** What the Kubespray component would run, as decided by ./playbook. */
export interface PlaybookPrediction {
    /** The runs in order, as ./playbook's predictRuns returned them, with their command line and the resource's operation. */
    runs: PlannedRun[];
    /** Resources created without running their playbooks, and why (covered by this up's cluster.yml). */
    skipped: string[];
    warnings: string[];
    /** Transitions the Kubespray component refuses: `pulumi up` would fail before running anything. */
    errors: string[];
    /** Machines the `up` rebuilds (blank), re-checks or restarts, and why (nodes/identity.ts diffIdentities). */
    machines: MachineChange[];
    /** A Kubernetes version change: from, to, and what upgrade-cluster.yml does, step by step (kubespray/upgrade.ts). */
    upgrade?: { from: string; to: string; steps: string[] };
    /** A control-plane/etcd membership change: what changes, then its steps (kubespray/membership.ts). */
    membership?: string[];
    /** What a run does first that its command line does not show (the recovery check before cluster.yml). */
    notes: string[];
}

export interface StackPlan {
    stack: string;
    /** Where the two sides came from. `before` is absent for a stack new in this change. */
    before?: string;
    after: string;
    newStack: boolean;
    nodes: NodeDiff;
    endpoint: EndpointDiff;
    vars: VarChange[];
    settings: ValueChange[];
    secrets: SecretChange[];
    playbooks: PlaybookPrediction;
    /** Loud notes for the reviewer (a moved API endpoint first). */
    warnings: string[];
    /** The CLI's exit code: 1 when the component would refuse the change, 2 when a playbook would run, else 0. */
    exitCode: 0 | 1 | 2;
}

/** Why a moved endpoint matters: the k8s.Provider's server is the API URL. */
export function endpointMovedWarning(e: EndpointDiff): string {
    const picked = e.after.picked || e.before?.picked ? " The VIP is picked by the program (vip.address unset): set vip.address to pin it." : "";
    const clientsStay = e.before?.clientEndpoint === "public" && e.after.clientEndpoint === "public";
    return (
        `API ENDPOINT MOVES: VIP ${e.before?.vip} -> ${e.after.vip}, API URL ${e.before?.apiServerUrl} -> ${e.after.apiServerUrl}. ` +
        (clientsStay
            ? "The kubeconfig and the k8s provider stay on the Load Balancer's public IP, but every kubelet and kube-proxy follows the VIP, "
            : "The kubeconfig's server changes, so Pulumi REPLACES EVERY KUBERNETES RESOURCE built on the k8s provider, ") +
        "and the API certificates must be re-issued." +
        picked
    );
}

/** Why a switched client endpoint matters: the k8s.Provider's server moves between the VIP and the public IP. */
export function endpointSwitchedWarning(e: EndpointDiff): string {
    return (
        `API CLIENT ENDPOINT SWITCHES: hcloud.apiEndpoint ${e.before?.clientEndpoint} -> ${e.after.clientEndpoint}, ` +
        `kubeconfig server ${e.before?.clientUrl} -> ${e.after.clientUrl}. ` +
        "The kubeconfig output and the k8s provider's server change, so Pulumi REPLACES EVERY KUBERNETES RESOURCE built on the k8s provider. " +
        `The cluster itself stays on the VIP ${e.after.vip}.` +
        (e.after.clientEndpoint === "public"
            ? " A public API is reachable by anyone (Hetzner Load Balancers take no firewall), protected only by Kubernetes authentication."
            : "")
    );
}

/** The loud endpoint warnings of a plan, first in its list (CAUTION blocks in Markdown). */
export function endpointWarnings(e: EndpointDiff): string[] {
    return [...(e.moved ? [endpointMovedWarning(e)] : []), ...(e.clientSwitched ? [endpointSwitchedWarning(e)] : [])];
}

export function planStack(stack: string, before: PlanSide | undefined, after: PlanSide, playbooks: PlaybookPrediction): StackPlan {
    const endpoint = diffEndpoint(before, after);
    const warnings: string[] = endpointWarnings(endpoint);
    warnings.push(...playbooks.warnings);
    return {
        stack,
        ...(before ? { before: before.label } : {}),
        after: after.label,
        newStack: !before,
        nodes: diffNodes(before, after),
        endpoint,
        vars: diffVars(before, after),
        settings: diffSettingsOf(before, after),
        secrets: diffSecrets(before, after),
        playbooks,
        warnings,
        exitCode: playbooks.errors.length > 0 ? 1 : playbooks.runs.length > 0 ? 2 : 0,
    };
}

// ---------------------------------------------------------------------------------------------
// Formatting: plain text (terminal), Markdown (PR comment), JSON (tools).

export const PLAN_FORMATS = ["text", "md", "json"] as const;
export type PlanFormat = (typeof PLAN_FORMATS)[number];

const SIGN = { added: "+", removed: "-", changed: "~" } as const;

function changeText(c: ValueChange): string {
    if (c.secretChanged) return `${c.key}: ${SECRET_CHANGED}`;
    if (c.kind === "added") return `${c.key}: ${showValue(c.after)}`;
    if (c.kind === "removed") return `${c.key}: ${showValue(c.before)}`;
    return `${c.key}: ${showValue(c.before)} -> ${showValue(c.after)}`;
}

/** `kubenode2=etcd2, kubenode9=etcd4; retired: etcd1`: each member keeps its name, new ones get unused ones. */
function etcdNamesText(names: EtcdMemberNames): string {
    const members = Object.entries(names.members).map(([node, name]) => `${node}=${name}`).join(", ");
    return `${members}${names.retired.length > 0 ? `; retired: ${names.retired.join(", ")}` : ""}`;
}

function count(n: number, what: string): string {
    return `${n} ${what}`;
}

function nodeCounts(d: NodeDiff): string {
    return [count(d.added.length, "added"), count(d.removed.length, "removed"), count(d.changed.length, "changed"), count(d.unchanged, "unchanged")].join(", ");
}

function varCounts(vars: ValueChange[]): string {
    const n = (k: ValueChange["kind"]) => vars.filter((v) => v.kind === k).length;
    return `${n("added")} added, ${n("removed")} removed, ${n("changed")} changed`;
}

/** `, clients on the public endpoint https://...` when the kubeconfig does not point at the VIP. */
function clientText(v: EndpointView): string {
    return v.clientEndpoint === "public" ? `, kubeconfig on the public endpoint ${v.clientUrl}` : "";
}

function modeText(mode: VipMode): string {
    return { arp: "kube-vip ARP", bgp: "kube-vip BGP", loadbalancer: "Hetzner Load Balancer" }[mode];
}

/** `cluster replaced`, `node-w4 created`, `node-w4 replaced (delete)`: which resource runs it, and why. */
function runReason(r: PlannedRun): string {
    const done = { create: "created", update: "updated", replace: "replaced", delete: "deleted", same: "unchanged" }[r.op];
    const machines = r.machinesReplaced ? `, machine replaced: ${r.machinesReplaced.join(", ")}` : "";
    return `${r.specId} ${done}${r.op === "replace" && r.phase === "delete" ? ": delete of the old one" : ""}${machines}${r.when ? `; ${r.when}` : ""}`;
}

/** `rebuilt: kubenode1 (libvirt.baseImage: /a -> /b)`, with `REFUSED` when Pulumi would not do it. */
function machineText(m: MachineChange): string {
    return `${m.kind}: ${m.node} (${m.reasons.join("; ")})${m.refused ? " REFUSED: protected" : ""}`;
}

function machineCounts(ms: MachineChange[]): string {
    const kinds = ["rebuilt", "rechecked", "restarted"] as const;
    return kinds.map((k) => [k, ms.filter((m) => m.kind === k).length] as const).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k}`).join(", ");
}

function varName(v: VarChange): string {
    return v.group === "k8s_cluster" ? v.key : `${v.key} (${v.group})`;
}

export function formatText(plan: StackPlan): string {
    const lines: string[] = [];
    lines.push(`kubespray-ha plan for stack "${plan.stack}": ${plan.before ?? "(stack absent)"} -> ${plan.after}`);
    if (plan.newStack) lines.push("NEW CLUSTER: the stack does not exist at the base ref.");
    lines.push("");
    for (const w of plan.warnings) lines.push(`!!! ${w}`);
    if (plan.warnings.length > 0) lines.push("");

    for (const e of plan.playbooks.errors) lines.push(`!!! REFUSED: \`pulumi up\` would fail before running anything: ${e}`);
    if (plan.playbooks.errors.length > 0) lines.push("");
    const runs = plan.playbooks.runs;
    if (runs.length === 0) {
        lines.push("Playbooks: none would run.");
    } else {
        lines.push("Playbooks that would run, in order:");
        const width = Math.max(...runs.map((r) => r.command.length));
        runs.forEach((r, i) => lines.push(`  ${i + 1}. ${r.command.padEnd(width)}  (${runReason(r)})`));
    }
    for (const s of plan.playbooks.skipped) lines.push(`  not run: ${s}`);
    for (const n of plan.playbooks.notes) lines.push(`  first: ${n}`);
    const upgrade = plan.playbooks.upgrade;
    if (upgrade) {
        lines.push("", `Kubernetes ${upgrade.from} -> ${upgrade.to}: ${upgrade.steps[0]}`, ...upgrade.steps.slice(1).map((step) => `  ${step}`));
    }
    const membership = plan.playbooks.membership;
    if (membership) lines.push("", `Control plane/etcd ${membership[0].replace(/^control plane\/etcd /, "")}`, ...membership.slice(1).map((step) => `  ${step}`));
    lines.push("");
    if (plan.playbooks.machines.length > 0) {
        lines.push(`Machines replaced: ${machineCounts(plan.playbooks.machines)}`);
        for (const m of plan.playbooks.machines) lines.push(`  ${machineText(m)}`);
        lines.push("");
    }

    const n = plan.nodes;
    lines.push(`Nodes: ${nodeCounts(n)}`);
    for (const node of n.added) lines.push(`  + ${node.name.padEnd(16)} ${node.ip.padEnd(15)} [${node.roles.join(", ")}]`);
    for (const node of n.removed) lines.push(`  - ${node.name.padEnd(16)} ${node.ip.padEnd(15)} [${node.roles.join(", ")}]`);
    for (const node of n.changed) lines.push(`  ~ ${node.name.padEnd(16)} ${node.changes.map(changeText).join("; ")}`);
    if (n.etcdMembersChanged) lines.push(`  etcd member names: ${etcdNamesText(n.etcdMemberNames)}`);
    lines.push("");

    const e = plan.endpoint;
    if (!e.before || e.changes.length === 0) {
        lines.push(`API endpoint: ${e.after.apiServerUrl} (VIP ${e.after.vip} via ${modeText(e.after.mode)})${clientText(e.after)}${e.before ? ", unchanged" : ""}`);
    } else {
        lines.push(`API endpoint: CHANGED${e.moved ? " (MOVED)" : ""}${e.clientSwitched ? " (CLIENT ENDPOINT SWITCHES)" : ""}`);
        lines.push(`  VIP:      ${e.before.vip} -> ${e.after.vip}`);
        lines.push(`  API URL:  ${e.before.apiServerUrl} -> ${e.after.apiServerUrl}`);
        if (e.clientSwitched) lines.push(`  clients:  ${e.before.clientEndpoint} ${e.before.clientUrl} -> ${e.after.clientEndpoint} ${e.after.clientUrl}`);
        if (e.before.mode !== e.after.mode) lines.push(`  mode:     ${modeText(e.before.mode)} -> ${modeText(e.after.mode)}`);
        if (e.before.domainName !== e.after.domainName) lines.push(`  domain:   ${e.before.domainName} -> ${e.after.domainName}`);
    }
    lines.push("");

    lines.push(plan.vars.length === 0 ? "Variables (group_vars, inventory vars): unchanged" : `Variables (group_vars, inventory vars): ${varCounts(plan.vars)}`);
    for (const v of plan.vars) lines.push(`  ${SIGN[v.kind]} ${changeText({ ...v, key: varName(v) })}`);

    if (plan.settings.length > 0) {
        lines.push("", "Other settings:");
        for (const s of plan.settings) lines.push(`  ${SIGN[s.kind]} ${changeText(s)}`);
    }
    if (plan.secrets.length > 0) {
        lines.push("", "Secrets (compared by ciphertext, never decrypted):");
        for (const s of plan.secrets) lines.push(`  ${SIGN[s.kind]} ${s.key}: ${SECRET_CHANGED}`);
    }
    return lines.join("\n") + "\n";
}

/** Text for a Markdown table cell or inline code: no newlines, pipes escaped, backticks survive. */
function code(value: string): string {
    const text = value.replace(/\r?\n/g, " ").replace(/\|/g, "\\|");
    const fence = text.includes("`") ? "``" : "`";
    return `${fence}${fence === "``" ? " " : ""}${text}${fence === "``" ? " " : ""}${fence}`;
}

function mdValue(c: ValueChange, side: "before" | "after"): string {
    if (c.secretChanged) return side === "after" ? SECRET_CHANGED : "";
    const v = side === "before" ? c.before : c.after;
    return v === undefined ? "" : code(showValue(v));
}

function mdTable(header: string[], rows: string[][]): string[] {
    return [`| ${header.join(" | ")} |`, `|${header.map(() => " --- ").join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)];
}

export function formatMarkdown(plan: StackPlan): string {
    const out: string[] = [];
    out.push(`### kubespray-ha plan: stack \`${plan.stack}\``);
    out.push("");
    out.push(plan.before ? `Base: ${code(plan.before)} → ${plan.after}` : `**New cluster**: the stack does not exist at the base ref.`);
    out.push("");
    const cautions = endpointWarnings(plan.endpoint);
    for (const w of plan.warnings) {
        out.push(cautions.includes(w) ? "> [!CAUTION]" : "> [!WARNING]", `> ${w.replace(/\n/g, "\n> ")}`, "");
    }

    for (const e of plan.playbooks.errors) {
        out.push("> [!CAUTION]", `> **Refused**: \`pulumi up\` would fail before running anything: ${e}`, "");
    }
    if (plan.playbooks.runs.length === 0) {
        out.push("**No playbook would run.**");
    } else {
        out.push(`**Playbooks that would run, in order (${plan.playbooks.runs.length}):**`, "");
        plan.playbooks.runs.forEach((r, i) => out.push(`${i + 1}. ${code(r.command)} (${runReason(r)})`));
    }
    if (plan.playbooks.skipped.length > 0) {
        out.push("", ...plan.playbooks.skipped.map((s) => `- not run: ${s}`));
    }
    if (plan.playbooks.notes.length > 0) {
        out.push("", ...plan.playbooks.notes.map((n) => `- first: ${n}`));
    }
    const upgrade = plan.playbooks.upgrade;
    if (upgrade) {
        out.push("", `**Kubernetes ${code(upgrade.from)} → ${code(upgrade.to)}**: ${upgrade.steps[0]}`, "", ...upgrade.steps.slice(1).map((step) => `- ${step}`));
    }
    const membership = plan.playbooks.membership;
    if (membership) out.push("", `**Control plane/etcd ${membership[0].replace(/^control plane\/etcd /, "")}**`, "", ...membership.slice(1).map((step) => `- ${step}`));
    out.push("");
    if (plan.playbooks.machines.length > 0) {
        out.push(`**Machines replaced: ${machineCounts(plan.playbooks.machines)}**`, "");
        for (const m of plan.playbooks.machines) out.push(`- ${machineText(m).replace(/^(\w+): (\S+)/, (_all, kind: string, node: string) => `${kind}: ${code(node)}`)}`);
        out.push("");
    }

    const n = plan.nodes;
    out.push(`#### Nodes: ${nodeCounts(n)}`, "");
    const nodeRows: string[][] = [
        ...n.added.map((x) => ["added", code(x.name), code(x.ip), x.roles.join(", "), ""]),
        ...n.removed.map((x) => ["removed", code(x.name), code(x.ip), x.roles.join(", "), ""]),
        ...n.changed.map((x) => ["changed", code(x.name), "", "", x.changes.map((c) => code(changeText(c))).join("<br>")]),
    ];
    if (nodeRows.length > 0) out.push(...mdTable(["", "node", "ip", "roles", "change"], nodeRows), "");
    if (n.etcdMembersChanged) out.push(`etcd member names: ${code(etcdNamesText(n.etcdMemberNames))}`, "");

    const e = plan.endpoint;
    out.push("#### API endpoint", "");
    if (!e.before || e.changes.length === 0) {
        out.push(`${code(e.after.apiServerUrl)} (VIP ${code(e.after.vip)} via ${modeText(e.after.mode)})${clientText(e.after)}${e.before ? ", unchanged" : ""}`, "");
    } else {
        out.push(
            ...mdTable(
                ["", "before", "after"],
                [
                    ["VIP", code(e.before.vip), `${code(e.after.vip)}${e.before.vip !== e.after.vip ? " **MOVED**" : ""}`],
                    ["API URL", code(e.before.apiServerUrl), `${code(e.after.apiServerUrl)}${e.before.apiServerUrl !== e.after.apiServerUrl ? " **MOVED**" : ""}`],
                    ["mode", modeText(e.before.mode), modeText(e.after.mode)],
                    ["domain name", code(e.before.domainName), code(e.after.domainName)],
                    ["kubeconfig server", `${e.before.clientEndpoint} ${code(e.before.clientUrl)}`, `${e.after.clientEndpoint} ${code(e.after.clientUrl)}${e.clientSwitched ? " **SWITCHED**" : ""}`],
                ],
            ),
            "",
        );
    }

    out.push(`#### Variables: ${plan.vars.length === 0 ? "unchanged" : varCounts(plan.vars)}`, "");
    if (plan.vars.length > 0) {
        out.push(
            ...mdTable(
                ["", "variable", "group", "before", "after"],
                plan.vars.map((v) => [v.kind, code(v.key), code(v.group), mdValue(v, "before"), mdValue(v, "after")]),
            ),
            "",
        );
    }
    if (plan.settings.length > 0) {
        out.push("#### Other settings", "");
        out.push(...mdTable(["", "key", "before", "after"], plan.settings.map((s) => [s.kind, code(s.key), mdValue(s, "before"), mdValue(s, "after")])), "");
    }
    if (plan.secrets.length > 0) {
        out.push("#### Secrets", "", "Compared by ciphertext, never decrypted (re-encrypting the same value also counts).", "");
        for (const s of plan.secrets) out.push(`- ${code(s.key)}: ${SECRET_CHANGED}`);
        out.push("");
    }
    return out.join("\n");
}

export function formatJson(plan: StackPlan): string {
    return JSON.stringify(plan, null, 2) + "\n";
}

export function formatPlan(plan: StackPlan, format: PlanFormat): string {
    return format === "md" ? formatMarkdown(plan) : format === "json" ? formatJson(plan) : formatText(plan);
}

// ---------------------------------------------------------------------------------------------
// Playbooks: decided by ./playbook, the very specs and prediction the Kubespray component uses.

/** The command line of a predicted run, without the common arguments (-i, --forks, --user...). */
export function runCommand(run: PlaybookRun): string {
    return run.args.map(shellQuote).join(" ");
}

/** The specs under the resource names the component gives them (`<name>-kubespray-<id>`): for a renamed cluster. */
function underResourceNames(specs: readonly CommandSpec[], config: ClusterConfig): CommandSpec[] {
    const at = (id: string) => `${componentNames(config).kubespray}-${id}`;
    return specs.map((s) => ({
        ...s,
        id: at(s.id),
        dependsOn: s.dependsOn.map(at),
        ...(s.recreateAfter ? { recreateAfter: s.recreateAfter.map(at) } : {}),
    }));
}

/** Why a rename is loud: Pulumi builds a second cluster, then deletes the first. */
function renameWarning(before: ClusterConfig, after: ClusterConfig): string {
    const side =
        after.backend === "baremetal"
            ? "The machines stay, but the old node commands' deletes run remove-node.yml on every worker after the new cluster.yml: the workers leave the cluster."
            : after.backend === "libvirt"
              ? "Both clusters exist during the `up`: the new network cannot start while the old one holds the same subnet."
              : "Both clusters exist during the `up`: Hetzner refuses a second upload of the same SSH key (unless hcloud.sshKeyName).";
    return (
        `CLUSTER RENAMED: name ${before.name} -> ${after.name}. Every resource name changes, so Pulumi creates every node and ` +
        `Kubespray command anew under the new name and deletes the old ones at the end. ${side}`
    );
}

/** A blank etcd member is not what Kubespray replaces in place. */
function rebuiltEtcdWarning(rebuilt: string[], etcd: string[]): string {
    const all = etcd.every((n) => rebuilt.includes(n));
    return (
        `ETCD MEMBERS REBUILT BLANK: ${rebuilt.join(", ")}. cluster.yml installs etcd on ${rebuilt.length === 1 ? "it" : "them"} again while ` +
        "etcd still lists the old members; Kubespray replaces an etcd member by removing it (remove-node.yml) and adding it back " +
        "(docs/operations/nodes.md). " +
        (all
            ? "Every etcd member is rebuilt: the cluster's state is gone, cluster.yml makes a new, empty cluster."
            : rebuilt.length > 1
              ? "More than one at once: etcd loses its quorum."
              : "Rebuild one etcd member per `up` at most.")
    );
}

/**
 * What `pulumi up` would run going from `before` (the last deployment, here: the base ref) to `after`.
 * Both sides use the machines as known before creation, so hcloud public IPs are equal placeholders:
 * a server replaced by Pulumi (new public IP) re-runs its node's playbooks, which only `pulumi preview` shows.
 */
export function predictPlaybooks(before: PlanSide | undefined, after: PlanSide): PlaybookPrediction {
    // Machines Pulumi replaces (their Kubespray commands are replaced with them), from the node identities.
    const identity = before ? diffIdentities(before.identities, after.identities) : { changes: [], replacedMachines: [], refusals: [] };
    const renamed = before !== undefined && componentNames(before.config).kubespray !== componentNames(after.config).kubespray;
    let beforeSpecs = before ? kubesprayCommandSpecs(before.config, before.machines) : undefined;
    let afterSpecs = kubesprayCommandSpecs(after.config, after.machines);
    if (renamed) {
        beforeSpecs = underResourceNames(beforeSpecs!, before!.config);
        afterSpecs = underResourceNames(afterSpecs, after.config);
    }
    const plan = predictRuns(beforeSpecs, afterSpecs, { replacedMachines: identity.replacedMachines });
    const ops = new Map(plan.changes.map((c) => [c.id, c]));
    const etcdRebuilt = identity.changes.filter((c) => c.kind === "rebuilt" && !c.refused && c.roles.includes("etcd"));
    return {
        runs: plan.runs.map((r) => {
            const change = ops.get(r.specId);
            return { ...r, command: runCommand(r), op: change?.op ?? "same", ...(change?.machinesReplaced ? { machinesReplaced: change.machinesReplaced } : {}) };
        }),
        skipped: plan.changes.filter((c) => c.skipped).map((c) => `${c.id}: ${c.skipped}`),
        warnings: [
            ...(renamed ? [renameWarning(before!.config, after.config)] : []),
            ...(renamed || etcdRebuilt.length === 0
                ? []
                : [rebuiltEtcdWarning(etcdRebuilt.map((c) => c.node), after.config.nodes.filter((n) => n.roles.includes("etcd")).map((n) => n.name))]),
            ...plan.warnings,
        ],
        errors: [...identity.refusals, ...plan.errors],
        machines: identity.changes,
        notes: plan.notes,
        ...(plan.upgrade ? { upgrade: plan.upgrade } : {}),
        ...(plan.membership ? { membership: plan.membership } : {}),
    };
}

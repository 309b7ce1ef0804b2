// Hetzner server types that can no longer be ordered, known offline, and the one rule that turns
// Hetzner's deprecation data into config problems. The same rule reads this static list (`npm run render`,
// config/hcloud-rules.ts) and the provider's own data at preview (nodes/hcloud/hcloud.ts, through
// hcloud.getServerType), so both say the same words. Pure: nothing here imports Pulumi.
import { RuleViolation } from "./vip";

/** One server type Hetzner no longer sells (or soon will not), as announced. */
export interface DeprecatedServerType {
    name: string;
    /** Date Hetzner announced the deprecation (YYYY-MM-DD). */
    announced: string;
    /** Last day the type can be ordered (YYYY-MM-DD, UTC); after it server creation fails. */
    unavailableAfter: string;
    /** Locations the deprecation is known for; elsewhere only Hetzner's data at preview decides. */
    locations: readonly string[];
    /** What to use instead, in the message. */
    successor: string;
    /** Where this entry comes from. */
    source: string;
}

const EU = ["fsn1", "nbg1", "hel1"] as const;
const CHANGELOG_2025_10_16 = "https://docs.hetzner.cloud/changelog#2025-10-16-server-types-deprecated";

/**
 * Hetzner's changelog of 2025-10-16: CX Gen 2 (cx22-cx52, cost-optimised, offered in the EU locations only,
 * "deprecated in all locations") and CPX Gen 1 (cpx11-cpx51) are deprecated and cannot be ordered after
 * 2025-12-31 (see also pulumi/pulumi-hcloud#939, hetznercloud/hcloud-cloud-controller-manager#1057). For
 * CPX Gen 1 only the EU locations are listed here: outside them Hetzner's data at preview decides.
 * Successors: cx23/cx33/cx43/cx53 (cost-optimised, EU only) and cpx12/cpx22/cpx32/cpx42/cpx52 (regular
 * performance). Types removed earlier (cx11-cx51 of 2024) are not listed: Hetzner no longer knows them, and
 * the lookup at preview fails on them.
 */
export const DEPRECATED_SERVER_TYPES: readonly DeprecatedServerType[] = [
    ...([["cx22", "cx23"], ["cx32", "cx33"], ["cx42", "cx43"], ["cx52", "cx53"]] as const).map(([name, successor]) => ({
        name, successor, announced: "2025-10-16", unavailableAfter: "2025-12-31", locations: EU, source: CHANGELOG_2025_10_16,
    })),
    ...([["cpx11", "cpx12 or cpx22"], ["cpx21", "cpx22"], ["cpx31", "cpx32"], ["cpx41", "cpx42"], ["cpx51", "cpx52"]] as const).map(([name, successor]) => ({
        name, successor, announced: "2025-10-16", unavailableAfter: "2025-12-31", locations: EU, source: CHANGELOG_2025_10_16,
    })),
];

/** The successor named in messages: the static list's, else a current type of each family. */
export function successorOf(serverType: string): string {
    return DEPRECATED_SERVER_TYPES.find((t) => t.name === serverType)?.successor ?? "a current type (cx23, cx33, ... or cpx22, cpx32, ...)";
}

/** Hetzner's data of a server type at one location: the shape of the provider's `GetServerTypeLocation`. */
export interface ServerTypeLocationFacts {
    name: string;
    /** False while Hetzner cannot place the type there (sold out, or no longer sold). Absent: not known. */
    available?: boolean;
    isDeprecated: boolean;
    /** RFC 3339 or YYYY-MM-DD; empty when not deprecated. */
    deprecationAnnounced: string;
    unavailableAfter: string;
}

/** Hetzner's data of a server type: the fields of the provider's `GetServerTypeResult` this rule reads. */
export interface ServerTypeFacts {
    name?: string;
    /** Per location (Hetzner's current model, since 2025-09). */
    locations: ServerTypeLocationFacts[];
    /** The type-wide deprecation Hetzner reported before per-location data (read when `locations` is empty). */
    isDeprecated?: boolean;
    deprecationAnnounced?: string;
    unavailableAfter?: string;
}

/** One server of the config: which type it asks for, where, and the key that sets it. */
export interface ServerTypeUse {
    /** `hcloud.serverType`, or `nodes[<i>].serverType` for a node's own. */
    key: string;
    node: string;
    serverType: string;
    location: string;
}

/** What is known about a type: Hetzner's data (`complete`: every location it is offered in is listed), or nothing. */
export type ServerTypeKnowledge =
    | { kind: "facts"; facts: ServerTypeFacts; complete: boolean }
    /** The lookup found no such type (a typo, or a type Hetzner removed). */
    | { kind: "unknown" }
    /** Hetzner's data could not be read (network, token); only the static list was checked. */
    | { kind: "unread"; reason: string }
    | { kind: "none" };

/** The static list as provider-shaped data: the deprecated locations only, hence never `complete`. */
export function staticServerTypeFacts(serverType: string): ServerTypeFacts | undefined {
    const entry = DEPRECATED_SERVER_TYPES.find((t) => t.name === serverType);
    if (!entry) return undefined;
    return {
        name: entry.name,
        locations: entry.locations.map((name) => ({ name, isDeprecated: true, deprecationAnnounced: entry.announced, unavailableAfter: entry.unavailableAfter })),
    };
}

export function staticKnowledge(serverType: string): ServerTypeKnowledge {
    const facts = staticServerTypeFacts(serverType);
    return facts ? { kind: "facts", facts, complete: false } : { kind: "none" };
}

const day = (date: string) => date.slice(0, 10);

/** The moment after which a type cannot be ordered: a date alone means the end of that day, UTC. */
function endOf(date: string): number {
    return /^\d{4}-\d{2}-\d{2}$/.test(date) ? Date.parse(`${date}T23:59:59Z`) : Date.parse(date);
}

type Verdict = { level: "error" | "warning"; message: string };

function verdict(serverType: string, location: string, knowledge: ServerTypeKnowledge, now: Date): Verdict | undefined {
    if (knowledge.kind === "none") return undefined;
    if (knowledge.kind === "unknown") {
        return { level: "error", message: `Hetzner has no server type named ${serverType} (a typo, or a type it removed); use ${successorOf(serverType)}` };
    }
    if (knowledge.kind === "unread") {
        return { level: "warning", message: `could not read Hetzner's data for ${serverType} (${knowledge.reason}); only the static list (components/config/hcloud-server-types.ts) was checked` };
    }
    const { facts, complete } = knowledge;
    let here: ServerTypeLocationFacts | undefined = facts.locations.find((l) => l.name === location);
    if (facts.locations.length === 0 && facts.isDeprecated !== undefined) {
        here = { name: location, isDeprecated: facts.isDeprecated, deprecationAnnounced: facts.deprecationAnnounced ?? "", unavailableAfter: facts.unavailableAfter ?? "" };
    } else if (!here) {
        if (!complete) return undefined;
        const offered = facts.locations.map((l) => l.name).join(", ");
        return { level: "error", message: `${serverType} is not offered in ${location} (Hetzner offers it in ${offered || "no location"}); pick another location or type` };
    }
    if (here.isDeprecated) {
        const gone = here.unavailableAfter !== "" && now.getTime() > endOf(here.unavailableAfter);
        const dates = `deprecated by Hetzner on ${day(here.deprecationAnnounced)}, not orderable after ${day(here.unavailableAfter)}`;
        return gone
            ? { level: "error", message: `${serverType} can no longer be ordered in ${location} (${dates}); use ${successorOf(serverType)}` }
            : { level: "warning", message: `${serverType} is deprecated in ${location} (${dates}); move to ${successorOf(serverType)} before then` };
    }
    if (here.available === false) {
        return { level: "warning", message: `${serverType} is temporarily unavailable in ${location} at Hetzner; creating a server fails until it is back` };
    }
    return undefined;
}

/** Errors and warnings of the config's server types, one per key, type, location and message, naming the nodes. */
export function serverTypeFindings(
    uses: readonly ServerTypeUse[],
    know: (serverType: string) => ServerTypeKnowledge,
    now: Date = new Date(),
): { errors: RuleViolation[]; warnings: RuleViolation[] } {
    const grouped = new Map<string, { key: string; level: Verdict["level"]; message: string; nodes: string[] }>();
    for (const use of uses) {
        const v = verdict(use.serverType, use.location, know(use.serverType), now);
        if (!v) continue;
        const id = `${use.key}\0${v.level}\0${v.message}`;
        const group = grouped.get(id) ?? { key: use.key, level: v.level, message: v.message, nodes: [] };
        group.nodes.push(use.node);
        grouped.set(id, group);
    }
    const errors: RuleViolation[] = [];
    const warnings: RuleViolation[] = [];
    for (const g of grouped.values()) {
        const who = `${g.nodes.length === 1 ? "node" : "nodes"} ${g.nodes.join(", ")}`;
        (g.level === "error" ? errors : warnings).push({ key: g.key, message: `${who}: ${g.message}` });
    }
    return { errors, warnings };
}

/**
 * Where Hetzner's data and the static list disagree: a type Hetzner refuses that the list does not know
 * passes `npm run render`, so the list needs the entry (and one it lists that Hetzner sells is stale).
 */
export function staticListDrift(uses: readonly ServerTypeUse[], know: (serverType: string) => ServerTypeKnowledge, now: Date = new Date()): RuleViolation[] {
    const drift: RuleViolation[] = [];
    const seen = new Set<string>();
    for (const use of uses) {
        const id = `${use.serverType}\0${use.location}`;
        if (seen.has(id)) continue;
        seen.add(id);
        const hetzner = verdict(use.serverType, use.location, know(use.serverType), now);
        const listed = verdict(use.serverType, use.location, staticKnowledge(use.serverType), now);
        const hetznerDeprecates = hetzner !== undefined && /deprecat/.test(hetzner.message);
        if (hetznerDeprecates && listed === undefined) {
            drift.push({ key: use.key, message: `Hetzner deprecates ${use.serverType} in ${use.location}, the static list does not: add it to DEPRECATED_SERVER_TYPES in components/config/hcloud-server-types.ts so \`npm run render\` says so too` });
        } else if (listed !== undefined && know(use.serverType).kind === "facts" && !hetznerDeprecates) {
            drift.push({ key: use.key, message: `the static list deprecates ${use.serverType} in ${use.location}, Hetzner's data does not: correct DEPRECATED_SERVER_TYPES in components/config/hcloud-server-types.ts` });
        }
    }
    return drift;
}

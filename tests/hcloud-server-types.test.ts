// The static list of Hetzner server types no longer sold (config/hcloud-server-types.ts) and the one rule
// both paths use: offline through the config rules (`npm run render`), and at preview with the provider's
// data (tests/hcloud-server-types-preview.test.ts). Pure, no mocks.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { stringify } from "yaml";
import { ConfigError, parseClusterConfig } from "../components/config/config";
import { hcloudProblems, LOCATION_ZONES, serverTypeUses } from "../components/config/hcloud-rules";
import {
    DEPRECATED_SERVER_TYPES,
    ServerTypeFacts,
    serverTypeFindings,
    ServerTypeKnowledge,
    staticKnowledge,
    staticListDrift,
    successorOf,
} from "../components/config/hcloud-server-types";
import { readStackConfig } from "../components/config/stackfile";
import { hcloudRaw } from "./fixtures";

const root = path.join(__dirname, "..");
const parse = (raw: any) => parseClusterConfig(raw, { stack: "hetzner" });
const configError = (raw: any): ConfigError => {
    try {
        parse(raw);
    } catch (err) {
        if (err instanceof ConfigError) return err;
        throw err;
    }
    throw new Error("no ConfigError");
};
const AFTER = new Date("2026-01-01T00:00:00Z");
const BEFORE = new Date("2025-11-01T00:00:00Z");

/**
 * A deprecated type as the provider's getServerType reports it (GetServerTypeResult: RFC 3339 times, one
 * entry per location it is offered in). Built from the same changelog as the static list: there is no
 * Hetzner API here; at preview the program compares the list with the real data (staticListDrift).
 */
function providerShaped(name: string, deprecatedIn: readonly string[], announced: string, unavailableAfter: string, alsoIn: string[] = []): ServerTypeFacts {
    return {
        name,
        isDeprecated: true,
        deprecationAnnounced: `${announced}T06:00:00Z`,
        unavailableAfter: `${unavailableAfter}T23:59:59Z`,
        locations: [
            ...deprecatedIn.map((l) => ({ name: l, available: false, isDeprecated: true, deprecationAnnounced: `${announced}T06:00:00Z`, unavailableAfter: `${unavailableAfter}T23:59:59Z` })),
            ...alsoIn.map((l) => ({ name: l, available: true, isDeprecated: false, deprecationAnnounced: "", unavailableAfter: "" })),
        ],
    };
}

describe("DEPRECATED_SERVER_TYPES", () => {
    it("lists Hetzner's 2025-10-16 deprecation: cx22-cx52 and cpx11-cpx51, not orderable after 2025-12-31", () => {
        expect(DEPRECATED_SERVER_TYPES.map((t) => t.name)).toEqual(["cx22", "cx32", "cx42", "cx52", "cpx11", "cpx21", "cpx31", "cpx41", "cpx51"]);
        for (const t of DEPRECATED_SERVER_TYPES) {
            expect([t.name, t.announced, t.unavailableAfter]).toEqual([t.name, "2025-10-16", "2025-12-31"]);
            expect(t.source).toBe("https://docs.hetzner.cloud/changelog#2025-10-16-server-types-deprecated");
        }
    });

    it("has well-formed entries: dates in order, known locations, successors that are not deprecated themselves", () => {
        const names = new Set(DEPRECATED_SERVER_TYPES.map((t) => t.name));
        expect(names.size).toBe(DEPRECATED_SERVER_TYPES.length);
        for (const t of DEPRECATED_SERVER_TYPES) {
            expect(t.announced).toMatch(/^\d{4}-\d{2}-\d{2}$/);
            expect(t.unavailableAfter).toMatch(/^\d{4}-\d{2}-\d{2}$/);
            expect(t.announced < t.unavailableAfter).toBe(true);
            expect(t.locations.length).toBeGreaterThan(0);
            for (const l of t.locations) expect([t.name, l, LOCATION_ZONES[l]]).toEqual([t.name, l, "eu-central"]);
            for (const s of t.successor.split(" or ")) expect([t.name, s, names.has(s)]).toEqual([t.name, s, false]);
        }
        expect(successorOf("cx22")).toBe("cx23");
        expect(successorOf("cpx21")).toBe("cpx22");
        expect(successorOf("ccx13")).toMatch(/a current type/);
    });

    it("does not list the default hcloud.serverType nor the example's types", () => {
        const example = readStackConfig(fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8"), fs.readFileSync(path.join(root, "Pulumi.hetzner.yaml"), "utf8"), "hetzner");
        const types = [parse(hcloudRaw()).hcloud.serverType, ...serverTypeUses(parse(example.cluster)).map((u) => u.serverType)];
        expect(new Set(types)).toEqual(new Set(["cx23", "cx33"]));
        for (const t of types) expect(DEPRECATED_SERVER_TYPES.find((d) => d.name === t)).toBeUndefined();
    });
});

describe("server types in the config rules (offline, as `npm run render` and the preview's config step check them)", () => {
    it("refuses cx22 as hcloud.serverType, naming the key and every node using it", () => {
        const raw = hcloudRaw(3, 2);
        raw.hcloud.serverType = "cx22";
        expect(configError(raw).problems).toEqual([
            {
                key: "hcloud.serverType",
                message: "nodes cp1, cp2, cp3, worker1, worker2: cx22 can no longer be ordered in nbg1 (deprecated by Hetzner on 2025-10-16, not orderable after 2025-12-31); use cx23",
            },
        ]);
    });

    it("refuses a node's own deprecated type under nodes[<i>].serverType, the others under hcloud.serverType", () => {
        const raw = hcloudRaw(3, 2);
        raw.hcloud.serverType = "cpx21";
        raw.nodes[4].serverType = "cx32";
        raw.nodes[3].serverType = "cx33";
        expect(() => parse(raw)).toThrow(/hcloud\.serverType: nodes cp1, cp2, cp3: cpx21 can no longer be ordered in nbg1 .*; use cpx22/);
        expect(() => parse(raw)).toThrow(/nodes\[4\]\.serverType: node worker2: cx32 can no longer be ordered in nbg1 .*; use cx33/);
        expect(configError(raw).problems.map((p) => p.key)).toEqual(["hcloud.serverType", "nodes[4].serverType"]);
    });

    it("checks each node at its own location: one problem per location", () => {
        const raw = hcloudRaw(3, 1);
        raw.hcloud.serverType = "cx42";
        raw.nodes[1].location = "fsn1";
        expect(configError(raw).problems.map((p) => p.message.replace(/ \(deprecated.*/, ""))).toEqual([
            "nodes cp1, cp3, worker1: cx42 can no longer be ordered in nbg1",
            "node cp2: cx42 can no longer be ordered in fsn1",
        ]);
    });

    it("leaves what it does not know to Hetzner's data at preview: other locations, other types", () => {
        const us = hcloudRaw(1, 1);
        Object.assign(us.hcloud, { serverType: "cpx21", location: "ash", networkZone: "us-east" });
        expect(parse(us).hcloud.serverType).toBe("cpx21");
        const dedicated = hcloudRaw(1, 1);
        dedicated.hcloud.serverType = "ccx13";
        expect(hcloudProblems(parse(dedicated))).toEqual([]);
    });

    it("is a warning, not an error, before the last day it can be ordered", () => {
        const raw = hcloudRaw(1, 1);
        raw.hcloud.serverType = "cx23";
        const config = parse(raw);
        const cx22 = { ...config, hcloud: { ...config.hcloud, serverType: "cx22" } };
        expect(hcloudProblems(cx22, BEFORE)).toEqual([]);
        expect(serverTypeFindings(serverTypeUses(cx22), staticKnowledge, BEFORE)).toEqual({
            errors: [],
            warnings: [{ key: "hcloud.serverType", message: "nodes cp1, worker1: cx22 is deprecated in nbg1 (deprecated by Hetzner on 2025-10-16, not orderable after 2025-12-31); move to cx23 before then" }],
        });
        // The last day itself (UTC) still orders; the next one does not.
        expect(hcloudProblems(cx22, new Date("2025-12-31T23:00:00Z"))).toEqual([]);
        expect(hcloudProblems(cx22, AFTER).map((p) => p.key)).toEqual(["hcloud.serverType"]);
    });

    it("npm run render fails naming hcloud.serverType, and passes the example", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kha-servertype-"));
        fs.copyFileSync(path.join(root, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
        const raw = hcloudRaw();
        raw.hcloud.serverType = "cx22";
        fs.writeFileSync(path.join(dir, "Pulumi.old.yaml"), stringify({ config: { "kubespray-ha:cluster": raw } }));
        const render = (args: string[]) =>
            spawnSync(path.join(root, "node_modules", ".bin", "ts-node"), ["--transpile-only", path.join(root, "scripts", "render.ts"), ...args], { cwd: root, encoding: "utf8" });
        const bad = render(["--stack", "old", "--dir", dir, "--out", path.join(dir, "out")]);
        expect(bad.status).toBe(1);
        expect(bad.stderr).toContain(`  - hcloud.serverType: ${configError(raw).problems[0].message}\n`);
        const good = render(["--stack", "hetzner", "--out", path.join(dir, "out-hetzner")]);
        expect([good.status, good.stderr]).toEqual([0, ""]);
    });
});

describe("one rule, two sources: the static list and the provider's data say the same words", () => {
    it("for every listed type at every listed location, the provider-shaped data gives the message the config rules give", () => {
        for (const t of DEPRECATED_SERVER_TYPES) {
            for (const location of t.locations) {
                const raw = hcloudRaw(1, 1);
                Object.assign(raw.hcloud, { serverType: t.name, location });
                const offline = configError(raw).problems;
                const uses = serverTypeUses({ nodes: raw.nodes, hcloud: { serverType: t.name, location } as any });
                const facts = providerShaped(t.name, t.locations, t.announced, t.unavailableAfter, ["ash", "hil"]);
                const hetzner = serverTypeFindings(uses, () => ({ kind: "facts", facts, complete: true }));
                expect(hetzner.errors).toEqual(offline);
                expect(new ConfigError(hetzner.errors).message).toBe(new ConfigError(offline).message);
                // And the two agree, so the preview reports no drift.
                expect(staticListDrift(uses, () => ({ kind: "facts", facts, complete: true }))).toEqual([]);
            }
        }
    });

    it("staticListDrift names a type Hetzner deprecates that the list does not know", () => {
        const uses = [{ key: "hcloud.serverType", node: "cp1", serverType: "ccx13", location: "nbg1" }];
        const facts = providerShaped("ccx13", ["nbg1"], "2026-11-01", "2027-01-31");
        expect(staticListDrift(uses, () => ({ kind: "facts", facts, complete: true }), new Date("2026-12-01T00:00:00Z"))).toEqual([
            { key: "hcloud.serverType", message: expect.stringMatching(/^Hetzner deprecates ccx13 in nbg1, the static list does not: add it to DEPRECATED_SERVER_TYPES/) },
        ]);
    });

    it("provider data: not offered at the location, unknown, temporarily unavailable, unreadable", () => {
        const uses = [{ key: "nodes[0].serverType", node: "cp1", serverType: "cx23", location: "ash" }];
        const cx23: ServerTypeFacts = { name: "cx23", locations: ["fsn1", "nbg1", "hel1"].map((name) => ({ name, available: true, isDeprecated: false, deprecationAnnounced: "", unavailableAfter: "" })) };
        const with_ = (k: ServerTypeKnowledge) => serverTypeFindings(uses, () => k, AFTER);
        expect(with_({ kind: "facts", facts: cx23, complete: true }).errors).toEqual([
            { key: "nodes[0].serverType", message: "node cp1: cx23 is not offered in ash (Hetzner offers it in fsn1, nbg1, hel1); pick another location or type" },
        ]);
        expect(with_({ kind: "unknown" }).errors[0].message).toMatch(/^node cp1: Hetzner has no server type named cx23/);
        const soldOut = { ...cx23, locations: [{ name: "ash", available: false, isDeprecated: false, deprecationAnnounced: "", unavailableAfter: "" }] };
        expect(with_({ kind: "facts", facts: soldOut, complete: true })).toEqual({
            errors: [],
            warnings: [{ key: "nodes[0].serverType", message: "node cp1: cx23 is temporarily unavailable in ash at Hetzner; creating a server fails until it is back" }],
        });
        expect(with_({ kind: "unread", reason: "dial tcp: lookup api.hetzner.cloud: no such host" }).warnings[0].message).toMatch(
            /could not read Hetzner's data for cx23 \(dial tcp: .*\); only the static list .* was checked/,
        );
        // Hetzner's type-wide deprecation, from before per-location data, still counts.
        const legacy: ServerTypeFacts = { name: "cx23", locations: [], isDeprecated: true, deprecationAnnounced: "2025-10-16T06:00:00Z", unavailableAfter: "2025-12-31T23:59:59Z" };
        expect(with_({ kind: "facts", facts: legacy, complete: true }).errors[0].message).toMatch(/cx23 can no longer be ordered in ash/);
    });
});

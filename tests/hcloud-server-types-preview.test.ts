// HcloudCluster's server-type check at preview, under Pulumi's mock runtime (preview mode): the provider's
// getServerType, answered by the mock with data shaped like its GetServerTypeResult, goes through the rule
// of config/hcloud-server-types.ts. A type Hetzner no longer sells fails the preview naming the key and the
// nodes, in the words `npm run render` uses; an announced deprecation, data that cannot be read, and a
// static list behind Hetzner's data are warnings. A failing check is read from checkServerTypes itself, with
// the component's provider: through the component it fails the servers' registration, which under the mock
// runtime is an unhandled rejection (in a real preview, the error the engine prints).
import * as hcloud from "@pulumi/hcloud";
import * as pulumi from "@pulumi/pulumi";
import { ClusterConfig, ConfigError, parseClusterConfig } from "../components/config/config";
import { serverTypeUses } from "../components/config/hcloud-rules";
import { serverTypeFindings } from "../components/config/hcloud-server-types";
import { checkServerTypes, HcloudCluster } from "../components/nodes/hcloud/hcloud";
import { settle } from "./helpers/kubespray";
import { hcloudRaw, PUBLIC_KEY } from "./fixtures";

const TOKEN = "hcloud-preview-token-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP";
const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\npreview-key\n-----END OPENSSH PRIVATE KEY-----\n";

/** What the mock answers for a server type name: a provider result, or the engine's error text. */
let catalogue: Record<string, object | { error: string }> = {};
const invokes: { token: string; inputs: any; provider: string }[] = [];
/** Invokes and registrations in the order the mock saw them. */
const events: string[] = [];

beforeAll(async () => {
    await pulumi.runtime.setMocks(
        {
            newResource: (args) => {
                events.push(`register ${args.name}`);
                return { id: `${args.name}-id`, state: args.inputs };
            },
            call: (args) => {
                events.push(`invoke ${args.inputs.name}`);
                invokes.push({ token: args.token, inputs: args.inputs, provider: args.provider ?? "" });
                if (args.token !== "hcloud:index/getServerType:getServerType") throw new Error(`unmocked invoke ${args.token}`);
                const answer = catalogue[args.inputs.name];
                // The engine hands a failed invoke to the program as a gRPC error; its `details` become the message.
                if (answer === undefined) throw Object.assign(new Error("invoke failed"), { details: `no server type found with name ${args.inputs.name}` });
                if ("error" in answer) throw Object.assign(new Error("invoke failed"), { details: answer.error });
                return answer;
            },
        },
        "kubespray-ha",
        "hetzner",
        true,
    );
});

interface Loc { name: string; deprecated?: [announced: string, unavailableAfter: string]; available?: boolean }

/** A GetServerTypeResult as @pulumi/hcloud 1.41.0 returns it, with per-location deprecation. */
function result(name: string, locations: Loc[], architecture = "x86") {
    return {
        id: 100 + name.length, name, description: name.toUpperCase(), architecture, category: "cost_optimized", cores: 2, cpuType: "shared",
        memory: 4, disk: 40, storageType: "local", includedTraffic: 0,
        // The type-wide fields Hetzner phases out; the per-location ones decide.
        isDeprecated: false, deprecationAnnounced: "", unavailableAfter: "",
        locations: locations.map((l, i) => ({
            id: i + 1, name: l.name, recommended: !l.deprecated,
            available: l.available ?? !l.deprecated,
            isDeprecated: l.deprecated !== undefined,
            deprecationAnnounced: l.deprecated?.[0] ?? "",
            unavailableAfter: l.deprecated?.[1] ?? "",
        })),
    };
}
const EU = (extra: Partial<Loc> = {}): Loc[] => ["fsn1", "nbg1", "hel1"].map((name) => ({ name, ...extra }));
const GONE: [string, string] = ["2025-10-16T06:00:00Z", "2025-12-31T23:59:59Z"];

/** Builds the cluster (a config Hetzner accepts): every server registered once its type passed the check. */
async function preview(name: string, raw: any): Promise<HcloudCluster> {
    const config = parseClusterConfig(raw, { stack: "hetzner" });
    const cluster = new HcloudCluster(name, { config, sshPublicKey: PUBLIC_KEY, hcloudToken: pulumi.secret(TOKEN), sshPrivateKey: pulumi.secret(KEY) });
    for (const s of Object.values(cluster.servers)) await settle(s.urn);
    return cluster;
}

let provider: hcloud.Provider;
/** The check as HcloudCluster runs it for `raw`, through an hcloud provider: "ok", or the error text. */
function check(raw: any): Promise<string> {
    provider ??= new hcloud.Provider("check-provider", { token: pulumi.secret(TOKEN) });
    const config: ClusterConfig = parseClusterConfig(raw, { stack: "hetzner" });
    return settle(checkServerTypes(serverTypeUses(config), { provider })).then(() => "ok", (err: Error) => err.message);
}

function us(raw: any, serverType: string): any {
    Object.assign(raw.hcloud, { serverType, location: "ash", networkZone: "us-east" });
    return raw;
}

let warn: jest.SpyInstance;
beforeEach(() => {
    catalogue = { cx23: result("cx23", EU()), cx33: result("cx33", EU()) };
    warn = jest.spyOn(pulumi.log, "warn").mockImplementation(() => Promise.resolve());
});
afterEach(() => warn.mockRestore());
const warnings = () => warn.mock.calls.map((c) => String(c[0]));

describe("HcloudCluster asks Hetzner about every server type at preview", () => {
    it("once per type, through the component's own provider, and lets current types pass", async () => {
        const raw = hcloudRaw(3, 2);
        raw.nodes[4].serverType = "cx33";
        const before = invokes.length;
        const cluster = await preview("ok", raw);
        const asked = invokes.slice(before);
        expect(asked.map((i) => [i.token, i.inputs])).toEqual([
            ["hcloud:index/getServerType:getServerType", { name: "cx23" }],
            ["hcloud:index/getServerType:getServerType", { name: "cx33" }],
        ]);
        const providerRef = `${await (cluster.provider.urn as any).promise()}::${await (cluster.provider.id as any).promise()}`;
        for (const i of asked) expect(i.provider).toBe(providerRef);
        // Each server is registered only after Hetzner's answer on its type: a refusal stops it.
        const at = (e: string) => events.indexOf(e);
        for (const node of ["cp1", "cp2", "cp3", "worker1"]) expect(at(`register ok-${node}`)).toBeGreaterThan(at("invoke cx23"));
        expect(at("register ok-worker2")).toBeGreaterThan(at("invoke cx33"));
        expect(warnings().filter((w) => /serverType/.test(w))).toEqual([]);
    });

    it("fails a type Hetzner no longer sells at the location, naming the key and nodes, as the config rules word it", async () => {
        // cpx21 in ash: outside what the static list knows (EU only), so only Hetzner's data can refuse it.
        catalogue.cpx21 = result("cpx21", [...EU({ deprecated: GONE }), { name: "ash", deprecated: GONE }]);
        const raw = us(hcloudRaw(1, 1), "cpx21");
        const outcome = await check(raw);
        expect(outcome).toMatch(/hcloud\.serverType: nodes cp1, worker1: cpx21 can no longer be ordered in ash \(deprecated by Hetzner on 2025-10-16, not orderable after 2025-12-31\); use cpx22/);
        // The same text as ConfigError, the message `npm run render` prints, for the same data.
        const config = parseClusterConfig(raw, { stack: "hetzner" });
        const same = serverTypeFindings(serverTypeUses(config), () => ({ kind: "facts", facts: catalogue.cpx21 as any, complete: true }));
        expect(outcome).toBe(new ConfigError(same.errors).message);
        // And the static list is told to catch up.
        expect(warnings()).toContainEqual(expect.stringMatching(/^hcloud\.serverType: Hetzner deprecates cpx21 in ash, the static list does not/));
    });

    it("fails a node's own type under nodes[<i>].serverType", async () => {
        catalogue.cpx31 = result("cpx31", [{ name: "ash", deprecated: GONE }]);
        catalogue.cpx22 = result("cpx22", [{ name: "ash" }]);
        const raw = us(hcloudRaw(1, 2), "cpx22");
        raw.nodes[2].serverType = "cpx31";
        const outcome = await check(raw);
        expect(outcome).toMatch(/^invalid stack config kubespray-ha:cluster:\n {2}- nodes\[2\]\.serverType: node worker2: cpx31 can no longer be ordered in ash/);
        expect(outcome).not.toMatch(/hcloud\.serverType/);
    });

    it("fails a type not offered at the location (cx23 is EU only) and an unknown type", async () => {
        expect(await check(us(hcloudRaw(1, 1), "cx23"))).toMatch(
            /hcloud\.serverType: nodes cp1, worker1: cx23 is not offered in ash \(Hetzner offers it in fsn1, nbg1, hel1\); pick another location or type/,
        );
        const typo = hcloudRaw(1, 1);
        typo.hcloud.serverType = "cx233";
        expect(await check(typo)).toMatch(/hcloud\.serverType: nodes cp1, worker1: Hetzner has no server type named cx233/);
    });

    it("warns for an announced deprecation that can still be ordered, and goes on", async () => {
        catalogue.cx23 = result("cx23", EU({ deprecated: ["2026-11-20T06:00:00Z", "2099-12-31T23:59:59Z"] }));
        await preview("soon", hcloudRaw(1, 1));
        expect(warnings()).toContainEqual(
            "hcloud.serverType: nodes cp1, worker1: cx23 is deprecated in nbg1 (deprecated by Hetzner on 2026-11-20, not orderable after 2099-12-31); move to a current type (cx23, cx33, ... or cpx22, cpx32, ...) before then",
        );
    });

    it("warns, and relies on the static list, when Hetzner's data cannot be read (no network, a bad token)", async () => {
        catalogue.cx23 = { error: "GET https://api.hetzner.cloud/v1/server_types?name=cx23: unable to authenticate (unauthorized)" };
        await preview("unread", hcloudRaw(1, 1));
        expect(warnings()).toContainEqual(expect.stringMatching(/^hcloud\.serverType: nodes cp1, worker1: could not read Hetzner's data for cx23 \(GET .*unauthorized\)\); only the static list/));
    });

    it("a type of the static list never reaches the lookup: the config step refuses it first, like render", () => {
        const raw = hcloudRaw(1, 1);
        raw.hcloud.serverType = "cx22";
        const before = invokes.length;
        expect(() => parseClusterConfig(raw, { stack: "hetzner" })).toThrow(/hcloud\.serverType: nodes cp1, worker1: cx22 can no longer be ordered in nbg1/);
        const config = parseClusterConfig(hcloudRaw(1, 1), { stack: "hetzner" });
        const stale = { ...config, hcloud: { ...config.hcloud, serverType: "cx22" } };
        expect(() => new HcloudCluster("stale", { config: stale, sshPublicKey: PUBLIC_KEY, hcloudToken: TOKEN, sshPrivateKey: KEY })).toThrow(
            /hcloud\.serverType: nodes cp1, worker1: cx22 can no longer be ordered in nbg1/,
        );
        expect(invokes.length).toBe(before);
    });
});

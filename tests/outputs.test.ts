// The output contract (components/kubespray/outputs.ts) against the program itself: index.ts runs under
// Pulumi's mock runtime as an hcloud stack with the public interface (the backend exporting the most
// outputs), and every export is checked against OUTPUTS: the same names, secrets secret, no path of
// the deployer's machine. The same run shows index.ts handing the Load Balancer to every playbook command.
import * as os from "os";
import * as pulumi from "@pulumi/pulumi";
import { OUTPUT_NAMES, OUTPUTS, SECRET_OUTPUTS } from "../components/kubespray/outputs";
import { COMMAND_SPECS_OUTPUT } from "../components/kubespray/run";
import { adminConf } from "./helpers/admin-conf";
import { hcloudRaw } from "./fixtures";

const VIP_URL = "https://10.0.1.5:6443";
const KEY_TEXT = "-----BEGIN OPENSSH PRIVATE KEY-----\noutputs-test-key\n-----END OPENSSH PRIVATE KEY-----\n";
const LB_TYPES = [
    "hcloud:index/loadBalancer:LoadBalancer",
    "hcloud:index/loadBalancerNetwork:LoadBalancerNetwork",
    "hcloud:index/loadBalancerService:LoadBalancerService",
    "hcloud:index/loadBalancerTarget:LoadBalancerTarget",
];

interface Registered {
    type: string;
    name: string;
    /** Names (last URN segment) of the resources it depends on. */
    dependencies: string[];
}

const registered: Registered[] = [];
let program: Record<string, unknown>;

beforeAll(async () => {
    const pendingDeps: string[][] = [];
    await pulumi.runtime.setMocks(
        {
            newResource: (args) => {
                registered.push({ type: args.type, name: args.name, dependencies: pendingDeps.shift() ?? [] });
                const state: Record<string, unknown> = { ...args.inputs };
                if (args.type === "hcloud:index/server:Server") state.ipv4Address = `198.51.100.${String(args.inputs.networks[0].ip).split(".")[3]}`;
                if (args.type === "hcloud:index/loadBalancer:LoadBalancer") Object.assign(state, { ipv4: "192.0.2.80", ipv6: "2001:db8::80" });
                if (args.type === "command:local:Command") Object.assign(state, { stdout: args.name.endsWith("-kubeconfig") ? adminConf(VIP_URL) : "", stderr: "" });
                // The self-reference of lastDeploymentSpecs: a first deployment, no outputs yet.
                if (args.type === "pulumi:pulumi:StackReference") state.outputs = {};
                return { id: `${args.name}-id`, state };
            },
            call: (args) => {
                throw new Error(`unmocked invoke ${args.token}`);
            },
        },
        "kubespray-ha",
        "outputs",
        false,
        // lastDeploymentSpecs names the stack organization/project/stack.
        "organization",
    );
    // The mock hides dependencies from newResource; read them off the request first (reads carry none).
    const monitor = pulumi.runtime.getMonitor() as any;
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req: any, callback: any) => {
        pendingDeps.push(req.getDependenciesList().map((urn: string) => urn.split("::").pop()));
        return register(req, callback);
    };
    const raw = hcloudRaw(3, 2);
    raw.hcloud.enablePublicInterface = true;
    pulumi.runtime.setAllConfig(
        { "kubespray-ha:cluster": JSON.stringify(raw), "kubespray-ha:sshPrivateKey": KEY_TEXT, "hcloud:token": "t".repeat(64) },
        ["kubespray-ha:sshPrivateKey", "hcloud:token"],
    );
    program = { ...(await import("../index")) };
});

/** An export's value, resolved. */
const resolved = async (value: unknown): Promise<unknown> => (pulumi.Output.isInstance(value) ? new Promise((r) => value.apply(r)) : value);

describe("the output contract", () => {
    it("lists exactly what index.ts exports", () => {
        expect(Object.keys(program).sort()).toEqual([...OUTPUT_NAMES].sort());
        // The output the next deployment reads back is in the contract, marked internal.
        expect(OUTPUTS[COMMAND_SPECS_OUTPUT].internal).toBe(true);
    });

    it("exports every output (hcloud with the public interface has them all)", async () => {
        for (const name of OUTPUT_NAMES) {
            expect({ name, defined: (await resolved(program[name])) !== undefined }).toEqual({ name, defined: true });
        }
    });

    it("keeps kubeconfig and publicKubeconfig secret, and nothing else without inventory secrets", async () => {
        expect([...SECRET_OUTPUTS].sort()).toEqual(["kubeconfig", "publicKubeconfig"]);
        for (const name of OUTPUT_NAMES) {
            const value = program[name];
            const secret = pulumi.Output.isInstance(value) ? await pulumi.isSecret(value) : false;
            expect({ name, secret }).toEqual({ name, secret: OUTPUTS[name].secret === "always" });
        }
    });

    it("carries no absolute path of the deployer's machine", async () => {
        const text = JSON.stringify(await Promise.all(OUTPUT_NAMES.map((n) => resolved(program[n]))));
        expect(text).not.toContain(process.cwd());
        expect(text).not.toContain(os.homedir());
        expect(program.inventoryDir).toBe(".kubespray-ha/outputs/inventory");
    });

    it("types the values a consumer reads as the contract says", async () => {
        expect(await resolved(program.apiServerUrl)).toBe(VIP_URL);
        expect(await resolved(program.publicApiServerUrl)).toBe("https://192.0.2.80:6443");
        expect(await resolved(program.vipMode)).toBe("loadbalancer");
        expect(await resolved(program.nodes)).toEqual(expect.arrayContaining([{ name: "cp1", roles: ["control-plane", "etcd"], ip: "10.0.1.11" }]));
        expect(await resolved(program.nodeSshAddresses)).toEqual(expect.objectContaining({ cp1: "198.51.100.11", worker2: "198.51.100.102" }));
        expect(await resolved(program.k8sProviderUrn)).toMatch(/\$pulumi:providers:kubernetes::outputs-kubespray-k8s$/);
    });
});

describe("index.ts: the playbook commands wait for the Load Balancer", () => {
    it("cluster, upgrade and each worker's node command depend on the Load Balancer, its network attachment, service and every target", () => {
        const lbParts = registered.filter((r) => LB_TYPES.includes(r.type)).map((r) => r.name);
        // The Load Balancer, its network attachment, its service, a target per control plane.
        expect(lbParts).toHaveLength(3 + 3);
        for (const id of ["cluster", "upgrade", "node-worker1", "node-worker2"]) {
            const command = registered.find((r) => r.name === `outputs-kubespray-${id}`)!;
            expect({ id, deps: command.dependencies }).toEqual({ id, deps: expect.arrayContaining(lbParts) });
        }
    });
});

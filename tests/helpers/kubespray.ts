// Shared by the KubesprayRun tests: a recording Pulumi mock that also keeps each registration's
// dependencies and options, fake machines, and a Kubespray-like admin.conf.
import * as pulumi from "@pulumi/pulumi";
import { ClusterConfig } from "../../components/config/config";
import { Machine } from "../../components/nodes/machines";

export { adminConf, CA_DATA } from "./admin-conf";

/** One newResource call, with what the engine would have been told about it. */
export interface Registration {
    type: string;
    name: string;
    inputs: Record<string, any>;
    /** The raw inputs as sent (secrets still wrapped in Pulumi's secret signature). */
    rawInputs: Record<string, any>;
    /** Names (last URN segment) of the resources it depends on. */
    dependencies: string[];
    deleteBeforeReplace: boolean;
    additionalSecretOutputs: string[];
}

const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

/** True when a raw (serialized) input value is marked secret. */
export function isRawSecret(value: unknown): boolean {
    return typeof value === "object" && value !== null && (value as any)[SECRET_SIG_KEY] === SECRET_SIG;
}

/** A raw input value with every secret-wrapped value (at any depth) replaced by "[secret]": what is left is plain text. */
export function withoutSecrets(value: unknown): unknown {
    if (isRawSecret(value)) return "[secret]";
    if (Array.isArray(value)) return value.map(withoutSecrets);
    return value && typeof value === "object" ? Object.fromEntries(Object.entries(value).map(([k, x]) => [k, withoutSecrets(x)])) : value;
}

/**
 * Installs a recording mock: every registration lands in `registrations`; command resources named
 * `*-kubeconfig` return `kubeconfigFor(name)` as stdout. Unmocked invokes throw.
 */
export async function recordingMocks(kubeconfigFor: (resourceName: string) => string): Promise<Registration[]> {
    const registrations: Registration[] = [];
    const pendingMeta: Omit<Registration, "inputs" | "type" | "name">[] = [];
    await pulumi.runtime.setMocks(
        {
            newResource: (args) => {
                const meta = pendingMeta.shift()!;
                registrations.push({ type: args.type, name: args.name, inputs: args.inputs, ...meta });
                const state: Record<string, unknown> = { ...args.inputs };
                if (args.type === "command:local:Command") {
                    state.stdout = args.name.endsWith("-kubeconfig") ? kubeconfigFor(args.name) : "";
                    state.stderr = "";
                }
                return { id: `${args.name}-id`, state };
            },
            call: (args) => {
                throw new Error(`unmocked invoke ${args.token}`);
            },
        },
        "kubespray-ha",
        "test",
        false,
    );
    // The mock hides dependencies and options from newResource; read them off the request first.
    const monitor = pulumi.runtime.getMonitor() as any;
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req: any, callback: any) => {
        pendingMeta.push({
            rawInputs: req.getObject()?.toJavaScript() ?? {},
            dependencies: req.getDependenciesList().map((urn: string) => urn.split("::").pop()),
            deleteBeforeReplace: req.getDeletebeforereplace(),
            additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
        });
        return register(req, callback);
    };
    return registrations;
}

/** Resolves an Output's value (mocks run as `up`, so values are known). */
export function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => output.apply((v) => resolve(v)));
}

/**
 * Resolves, or rejects with the error an Output carries. An Output keeps its value, known-ness,
 * secret-ness and resources in separate promises; all reject together, so all are observed here.
 */
export function settle<T>(output: pulumi.Output<T>): Promise<T> {
    const o = output as any;
    for (const p of [o.isKnown, o.isSecret, o.allResources?.()]) {
        if (p && typeof p.catch === "function") p.catch(() => undefined);
    }
    return o.promise() as Promise<T>;
}

/** A stand-in for a backend's server resource. */
export class FakeServer extends pulumi.CustomResource {
    constructor(name: string) {
        super("test:index:Server", name, {}, {});
    }
}

const servers = new Map<string, FakeServer>();

/** Machines for every node of the config; each node's server is registered once per test file and reused. */
export function fakeMachines(config: ClusterConfig, sshAddress: (name: string, ip: string) => string = (_n, ip) => ip): Machine[] {
    return config.nodes.map((n) => {
        if (!servers.has(n.name)) {
            servers.set(n.name, new FakeServer(`server-${n.name}`));
        }
        return { name: n.name, roles: [...n.roles], ip: n.ip, sshAddress: pulumi.output(sshAddress(n.name, n.ip)), resource: servers.get(n.name)! };
    });
}

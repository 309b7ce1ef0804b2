// Pulumi's mock runtime with a recording mock (STYLE.md 6): every newResource call is stored,
// and an invoke that no test expects throws.
import * as pulumi from "@pulumi/pulumi";

export interface Recorded {
    type: string;
    name: string;
    inputs: any;
}

/** Sets the mocks for project kubespray-ha and returns the live list of registered resources. */
export async function recordingMocks(stack = "test", preview = false): Promise<Recorded[]> {
    const registered: Recorded[] = [];
    await pulumi.runtime.setMocks(
        {
            newResource: (args) => {
                registered.push({ type: args.type, name: args.name, inputs: args.inputs });
                return { id: `${args.name}-id`, state: args.inputs };
            },
            call: (args) => {
                throw new Error(`unmocked invoke ${args.token}`);
            },
        },
        "kubespray-ha",
        stack,
        preview,
    );
    return registered;
}

/** A temp-dir free way to wait for an Output's value in a test. */
export function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => output.apply((v) => resolve(v)));
}

// `npm run bench -- --vms` (or `ts-node --transpile-only scripts/bench-vms.ts`): the real Pulumi engine
// brings up the 3-node libvirt cluster of tests/e2e-vms.test.ts (software emulation, 768 MiB, 1 vCPU,
// Kubespray stand-in) and prints seconds to each VM's first SSH banner, the whole `up`, and a no-op `up`;
// then destroys it. Everything it creates is removed, even on failure. Needs root, libvirtd, the test
// image (tests/infra/build-test-image.sh) and the engine (tests/infra/install-pulumi.sh). No thresholds.
import { Engine } from "../tests/helpers/engine";
import { createVmLab, destroyVmLab, killLabProcesses, THREE_NODES, timedUp, VmLab, vmEngineOrReason, vmStack } from "../tests/helpers/vm-cluster";

export async function main(): Promise<void> {
    const found: Engine | { reason: string } = vmEngineOrReason("bench --vms");
    if ("reason" in found) {
        process.exitCode = 1;
        return;
    }
    let lab: VmLab | undefined;
    const stop = () => {
        if (lab) {
            killLabProcesses(lab);
            destroyVmLab(lab);
        }
        process.exit(130);
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    try {
        lab = createVmLab();
        const stack = await vmStack(found, lab, THREE_NODES);
        const first = await timedUp(stack, lab, THREE_NODES);
        const noop = await timedUp(stack, lab, THREE_NODES);
        const t = Date.now();
        await stack.destroy({ color: "never" });
        const destroySeconds = (Date.now() - t) / 1000;

        const rows = [["VM", "first SSH s", "ready (SSH + cloud-init) s"]];
        for (const n of THREE_NODES) {
            rows.push([n.name, first.firstSsh[n.name]?.toFixed(1) ?? "-", first.ready[n.name]?.toFixed(1) ?? "-"]);
        }
        const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
        for (const r of rows) console.log(r.map((c, i) => c.padStart(widths[i])).join("  "));
        console.log(`up (3 VMs, stand-in Kubespray): ${first.seconds.toFixed(1)} s`);
        console.log(`no-op up:                       ${noop.seconds.toFixed(1)} s (${JSON.stringify(noop.result.summary.resourceChanges)})`);
        console.log(`destroy:                        ${destroySeconds.toFixed(1)} s`);
        console.log("(seconds to first SSH / ready count from the domain's create step finishing)");
    } finally {
        if (lab) destroyVmLab(lab);
        process.removeListener("SIGINT", stop);
        process.removeListener("SIGTERM", stop);
    }
}

if (require.main === module) {
    main().catch((err) => {
        console.error(err);
        process.exit(1);
    });
}

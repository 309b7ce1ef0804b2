// A real libvirt daemon for the real-VM tests, and the "why is this test skipped" helpers.
//
//   const skip = realVmSkipReason("the libvirt backend boots three nodes");
//   (skip ? describe.skip : describe)("libvirt backend, real VMs", () => { ... });
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { testImageMissingReason } from "./vm-image";

export const LIBVIRT_URI = "qemu:///system";
export const START_SCRIPT = path.join(__dirname, "..", "infra", "start-libvirtd.sh");
const VIRTLOGD_SOCKET = "/run/libvirt/virtlogd-sock";

export interface LibvirtdStatus {
    ok: boolean;
    reason?: string;
}

/** `virsh -c qemu:///system version` answers (and virtlogd's socket exists, without which domains do not start). */
export function libvirtdAnswers(): boolean {
    const r = spawnSync("virsh", ["-c", LIBVIRT_URI, "version"], { encoding: "utf8", timeout: 15_000 });
    return r.status === 0 && fs.existsSync(VIRTLOGD_SOCKET);
}

let cached: LibvirtdStatus | undefined;

/**
 * Make sure a libvirt daemon answers on qemu:///system: nothing to do when one does,
 * else runs tests/infra/start-libvirtd.sh (installs the Debian packages if missing, then
 * starts virtlogd and libvirtd; no systemd needed). The answer is remembered per process.
 */
export function ensureLibvirtd(): LibvirtdStatus {
    if (cached?.ok) {
        return cached;
    }
    if (libvirtdAnswers()) {
        return (cached = { ok: true });
    }
    const r = spawnSync("bash", [START_SCRIPT], { encoding: "utf8", timeout: 15 * 60_000 });
    if (r.error) {
        return (cached = { ok: false, reason: `${START_SCRIPT} could not run: ${r.error.message}` });
    }
    if (r.status !== 0) {
        const lines = (r.stderr || "").trim().split("\n");
        const last = lines.filter((l) => l.includes("ERROR")).pop() ?? lines.pop() ?? "";
        return (cached = { ok: false, reason: `${START_SCRIPT} exited ${r.status ?? r.signal}: ${last.trim()}` });
    }
    if (!libvirtdAnswers()) {
        return (cached = { ok: false, reason: `${START_SCRIPT} succeeded but virsh -c ${LIBVIRT_URI} version still fails` });
    }
    return (cached = { ok: true });
}

/**
 * Combine reasons to skip: returns the first one that is set and prints it with
 * console.warn ("skipping <what>: <reason>"), or undefined when the test can run.
 * Each check returns a reason or undefined; checks after the first failing one do not run.
 */
export function skipReason(what: string, ...checks: Array<() => string | undefined>): string | undefined {
    for (const check of checks) {
        const reason = check();
        if (reason) {
            console.warn(`skipping ${what}: ${reason}`);
            return reason;
        }
    }
    return undefined;
}

/** A reason check for skipReason(): not root (installing and starting libvirtd, building the image need it). */
export function notRootReason(): string | undefined {
    return typeof process.getuid === "function" && process.getuid() !== 0 ? "needs root (libvirtd, networks, bridges)" : undefined;
}

/** A reason check for skipReason(): no libvirtd (after trying to start one). */
export function libvirtdMissingReason(): string | undefined {
    const s = ensureLibvirtd();
    return s.ok ? undefined : `no libvirtd: ${s.reason}`;
}

/** Why tests that boot real VMs from the test image cannot run here (printed), or undefined. */
export function realVmSkipReason(what: string): string | undefined {
    if (process.env.KUBESPRAY_HA_SKIP_REAL_VMS) {
        return skipReason(what, () => "KUBESPRAY_HA_SKIP_REAL_VMS is set");
    }
    return skipReason(what, notRootReason, testImageMissingReason, libvirtdMissingReason);
}

// The Debian bookworm node image the real libvirt tests boot, as built by
// tests/infra/build-test-image.sh. These helpers only look in the cache; they never build
// (a cold build takes minutes and needs root): run `tests/infra/build-test-image.sh` first.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export const IMAGE_NAME = "image-bookworm-v1";
export const BUILD_SCRIPT = path.join(__dirname, "..", "infra", "build-test-image.sh");

/**
 * How the image must be booted; a libvirt backend rendering domain XML and cloud-init
 * for it has to follow these (measured with libvirt 9.0 / QEMU 7.2, domain type qemu).
 */
export const IMAGE_BOOT = {
    /** Direct kernel boot: the image has no bootloader and no partition table. */
    cmdline: "root=/dev/vda rw console=ttyS0",
    /** The root filesystem is the whole disk: a virtio disk, target vda. */
    diskBus: "virtio",
    diskTarget: "vda",
    /** The cloud-init NoCloud seed (cloud-localds, volume label "cidata") as a cdrom. */
    seedBus: "sata",
    seedTarget: "sda",
    nicModel: "virtio",
    /** The NIC name the network-config sets (match by MAC + set-name). */
    interfaceName: "enp1s0",
    /** KVM does not work on the test machines; software emulation does. */
    domainType: "qemu",
    minMemoryMiB: 768,
} as const;

export interface TestImage {
    dir: string;
    /** qcow2, 3 GiB virtual, ext4 on the whole disk; use it as the backing file of an overlay. */
    baseImage: string;
    kernel: string;
    initrd: string;
    /** manifest.json, when present (sizes, kernel version, build seconds). */
    manifest?: TestImageManifest;
}

export interface TestImageManifest {
    name: string;
    suite: string;
    kernelVersion: string;
    cmdline: string;
    files: Record<string, { bytes: number }>;
    buildSeconds: number;
    [key: string]: unknown;
}

/** ${KUBESPRAY_HA_CACHE:-$HOME/.cache/kubespray-ha}, like the scripts. */
export function cacheRoot(): string {
    return process.env.KUBESPRAY_HA_CACHE || path.join(os.homedir(), ".cache", "kubespray-ha");
}

export function testImageDir(): string {
    return path.join(cacheRoot(), IMAGE_NAME);
}

function nonEmpty(file: string): boolean {
    try {
        return fs.statSync(file).size > 0;
    } catch {
        return false;
    }
}

/** The cached image, or undefined when it has not been built (this never builds it). */
export function testImage(): TestImage | undefined {
    const dir = testImageDir();
    const image: TestImage = {
        dir,
        baseImage: path.join(dir, "base.qcow2"),
        kernel: path.join(dir, "vmlinuz"),
        initrd: path.join(dir, "initrd.img"),
    };
    if (![image.baseImage, image.kernel, image.initrd].every(nonEmpty)) {
        return undefined;
    }
    try {
        image.manifest = JSON.parse(fs.readFileSync(path.join(dir, "manifest.json"), "utf8"));
    } catch {
        // The manifest is informative only.
    }
    return image;
}

/** Why there is no test image (undefined when there is one). */
export function testImageMissingReason(): string | undefined {
    if (testImage()) {
        return undefined;
    }
    return `no test image in ${testImageDir()} (build it once, as root: ${BUILD_SCRIPT})`;
}

/** Where stageTestImage() copies the image by default: a directory libvirt's qemu user can read. */
export const STAGE_DIR = "/var/lib/libvirt/images/kubespray-ha-test-image";

/**
 * A copy of the image that QEMU can open. Debian's libvirt runs QEMU as the user libvirt-qemu, which
 * cannot enter /root (mode 0700), where the cache lives by default: starting a domain whose overlay is
 * backed by ~/.cache/.../base.qcow2 fails with "Cannot access backing file ... (as uid:64055, gid:64055):
 * Permission denied" (the same holds for the kernel and the initrd). Copies base.qcow2, vmlinuz and
 * initrd.img to `dir` (mode 0644) unless a copy of the same size and modification time is there.
 * Never let libvirt use the staged base.qcow2 as a writable disk: it is the backing file of overlays.
 */
export function stageTestImage(dir: string = STAGE_DIR): TestImage | undefined {
    const image = testImage();
    if (!image) {
        return undefined;
    }
    fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
    const staged: TestImage = { ...image, dir, baseImage: path.join(dir, "base.qcow2"), kernel: path.join(dir, "vmlinuz"), initrd: path.join(dir, "initrd.img") };
    const pairs: Array<[string, string]> = [
        [image.baseImage, staged.baseImage],
        [image.kernel, staged.kernel],
        [image.initrd, staged.initrd],
    ];
    for (const [from, to] of pairs) {
        const src = fs.statSync(from);
        let same = false;
        try {
            const dst = fs.statSync(to);
            same = dst.size === src.size && Math.floor(dst.mtimeMs / 1000) === Math.floor(src.mtimeMs / 1000);
        } catch {
            same = false;
        }
        if (!same) {
            const tmp = `${to}.tmp-${process.pid}`;
            fs.copyFileSync(from, tmp);
            fs.chmodSync(tmp, 0o644);
            fs.utimesSync(tmp, src.atime, src.mtime);
            fs.renameSync(tmp, to);
        }
    }
    return staged;
}

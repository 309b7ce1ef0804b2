// The test mirror of tests/infra/build-mirror.sh: where it is and the Kubernetes versions it holds.
// Each version has its own manifest (exactly that version's files and images of the test stack) and
// checksums (what a stack at that version feeds into offline.checksums); the files repo and the
// registry hold the union. Keep the versions in step with K8S / UPGRADE_FROM_K8S of build-mirror.sh.
import * as path from "path";
import { cacheRoot } from "./vm-image";

/** Kubespray v2.31.0's default, the version a cluster.yml run of the test stack deploys. */
export const MIRROR_K8S = "1.35.4";
/**
 * The version an upgrade test deploys first (then upgrade-cluster.yml to MIRROR_K8S): the newest 1.34
 * whose whole source the Go module proxy serves (1.34.3-1.34.7: staging modules refused). Its
 * derivation pins etcd_version 3.6.10 (Kubespray's 3.5.29 for 1.34 is refused by the proxy).
 */
export const MIRROR_UPGRADE_FROM_K8S = "1.34.2";
/** The etcd_version the test stack pins at MIRROR_UPGRADE_FROM_K8S (and Kubespray derives at MIRROR_K8S). */
export const MIRROR_ETCD = "3.6.10";

export interface MirrorManifest {
    kubesprayVersion: string;
    files: { path: string; sha256: string; name: string; checksumVar: string }[];
    images: { repo: string; tag: string }[];
}

export interface MirrorSet {
    kubeVersion: string;
    /** File names in the mirror dir. */
    manifest: string;
    checksums: string;
}

/** One per Kubernetes version, MIRROR_K8S first (its files keep the names they always had). */
export const MIRROR_SETS: readonly MirrorSet[] = [
    { kubeVersion: MIRROR_K8S, manifest: "manifest.json", checksums: "checksums.json" },
    { kubeVersion: MIRROR_UPGRADE_FROM_K8S, manifest: `manifest-${MIRROR_UPGRADE_FROM_K8S}.json`, checksums: `checksums-${MIRROR_UPGRADE_FROM_K8S}.json` },
];

/**
 * The kube-vip the mirror also holds beyond MIRROR_SETS (in the same repository as Kubespray's pinned 1.0.3,
 * which stays the sets' default): issue 23's failover bench compares the two (1.0.4 fixes kube-vip #1377's
 * stalled leader election). A stack takes it with `vip.image.tag: "1.0.4"` (rendered as kube_vip_version; kube_vip_* in groupVars is refused).
 */
export const MIRROR_KUBE_VIP_EXTRA = "1.0.4";
/** File name in the mirror dir of the images beyond MIRROR_SETS. */
export const MIRROR_EXTRA_MANIFEST = "manifest-extra.json";

/** manifest-extra.json: each image is what Kubespray derives for MIRROR_K8S with groupVars added. */
export interface MirrorExtraManifest {
    kubesprayVersion: string;
    groupVars: Record<string, string>;
    images: { repo: string; tag: string; digest: string }[];
}

export function mirrorDir(): string {
    return path.join(cacheRoot(), "mirror-v2.31.0");
}

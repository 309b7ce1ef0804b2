#!/usr/bin/env bash
# Build (once) the Debian bookworm root filesystem the systemd-nspawn test nodes boot
# (tests/infra/nspawn-nodes.sh copies it per node).
#
#   ROOTFS="$(tests/infra/build-node-rootfs.sh)"          # build if needed, print the rootfs dir
#   tests/infra/build-node-rootfs.sh --cached             # print it if cached, else exit 1 (no build)
#   tests/infra/build-node-rootfs.sh --print-path         # print where it is/would be, never build
#
# The rootfs directory is the LAST line of stdout; progress goes to stderr. Needs root (debootstrap).
#
# Output: ${KUBESPRAY_HA_CACHE:-$HOME/.cache/kubespray-ha}/nspawn-rootfs-<hash>/
#   rootfs/          the tree (~500 MB)
#   manifest.json    mirror, packages, size, build seconds
#   debootstrap.log
#   stamp            written last: the cache is complete only when it exists
# <hash> covers everything this script puts into the image (package list, units, config files), so an
# edit to any of them builds a new image next to the old one.
#
# What the image holds and why (see ../shared/REAL-CLUSTER.md, "Fast nodes"):
# - systemd as init, sshd (enabled, no host keys: nspawn-nodes.sh makes them per node),
#   systemd-networkd (enabled; nspawn-nodes.sh writes the per-node static address).
# - Kubespray's own Debian package list (roles/system_packages in v2.31.0, roles/kubernetes/preinstall
#   in v2.25.1): the nodes have no network, so Kubespray's package task must find everything installed.
#   NOT containerd/runc: Kubespray installs its own.
# - An early oneshot unit that makes the cgroup controllers and /proc/sys writable and / rshared
#   (kubelet and runc need that; nspawn mounts them read-only).
# - A short DefaultTimeoutStopSec, so a node never takes 90 s to stop.
# The Debian mirror is the one apt on this machine uses (/etc/apt/sources.list.d/*.sources, else
# /etc/apt/sources.list); KUBESPRAY_HA_DEBIAN_MIRROR overrides it.
set -euo pipefail

exec 3>&1 1>&2

LOG_TAG=build-node-rootfs
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$HERE/lib.sh"

SUITE=bookworm

# REAL-CLUSTER.md's node list: an init (systemd, systemd-sysv), dbus (hostnamectl, which Ansible's
# hostname module uses), sshd, python3 for Ansible, and what kubeadm/kubelet/kube-proxy call.
# python3-cffi-backend: python3-cryptography (via software-properties-common) needs the virtual
# python3-cffi-backend-api-*, and polkitd (via packagekit) the virtual default-logind | logind, which
# debootstrap's resolver does not map to packages: python3-cffi-backend and libpam-systemd provide them.
BASE_PACKAGES="systemd systemd-sysv dbus openssh-server iproute2 iputils-ping python3 sudo iptables
nftables curl ca-certificates conntrack socat ipset e2fsprogs rsync tar openssl python3-apt gnupg
apparmor libseccomp2 kmod procps util-linux python3-cffi-backend libpam-systemd"
# Kubespray's Debian package list (every entry whose conditions can hold on Debian 12, in v2.25.1 and
# v2.31.0; ipvsadm too, for kube_proxy_mode ipvs, although this kernel has no IP_VS).
KUBESPRAY_PACKAGES="apparmor apt-transport-https bash-completion conntrack curl e2fsprogs ebtables gnupg
iproute2 ipset iptables iputils-ping ipvsadm libseccomp2 mergerfs nftables openssl python3-apt rsync socat
software-properties-common tar unzip xfsprogs"
# shellcheck disable=SC2086 # word splitting of the lists is the point
PACKAGES="$(printf '%s\n' $BASE_PACKAGES $KUBESPRAY_PACKAGES | sort -u | paste -sd, -)"

# The early unit and its script (see "Inside each node" in REAL-CLUSTER.md).
# shellcheck disable=SC2016 # the script's variables expand in the node, not here
MOUNTS_SCRIPT='#!/bin/sh
# kubespray-ha test node (systemd-nspawn): kubelet and runc need writable cgroups, a writable /proc/sys
# and a shared root mount; nspawn mounts the first two read-only and / private.
set -e
mount -o remount,rw /sys/fs/cgroup
for d in /sys/fs/cgroup/*/; do
    d="${d%/}"
    # A plain remount of a controller fails "mount point is busy": remount the bind.
    if mountpoint -q "$d"; then mount -o remount,bind,rw "$d"; fi
done
mount -o remount,bind,rw /proc/sys
mount --make-rshared /
'
MOUNTS_UNIT='[Unit]
Description=kubespray-ha test node: writable cgroups and /proc/sys, shared /
DefaultDependencies=no
ConditionVirtualization=systemd-nspawn
Before=sysinit.target systemd-sysctl.service
After=systemd-remount-fs.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/kubespray-ha-node-mounts

[Install]
WantedBy=sysinit.target
'
SYSTEM_CONF='# kubespray-ha test node: never wait 90 s for a unit to stop.
[Manager]
DefaultTimeoutStopSec=5s
'
# sshd: root logs in with a key only (nspawn-nodes.sh installs it).
SSHD_CONF='PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
'
# The nodes have no network: with no apt sources, `apt-get update` (Kubespray's package task runs it)
# is a fast no-op instead of a timeout, and every package Kubespray asks for is already installed.
APT_SOURCES='# kubespray-ha test node: no network, no apt sources (every package Kubespray needs is installed).
'
# Units that only cost boot time or fail in a container.
MASKED="systemd-firstboot.service e2scrub_reap.service apt-daily.timer apt-daily-upgrade.timer
e2scrub_all.timer fstrim.timer systemd-timesyncd.service getty@tty1.service"
# Documentation, manuals and translations: ~6,500 of ~17,000 files and ~110 MB. Every node gets a copy
# of the tree and `down` deletes it, which is slow on a busy disk: fewer files, faster nodes.
TRIM="usr/share/doc usr/share/man usr/share/info usr/share/locale usr/share/lintian"
LAYOUT=1

HASH="$(printf '%s\0' "$LAYOUT" "$SUITE" "$PACKAGES" "$MOUNTS_SCRIPT" "$MOUNTS_UNIT" "$SYSTEM_CONF" \
  "$SSHD_CONF" "$APT_SOURCES" "$MASKED" "$TRIM" | sha256sum | cut -c1-12)"
NAME="nspawn-rootfs-$HASH"
OUT="$CACHE_ROOT/$NAME"

complete() { [[ -f $OUT/stamp ]] && [[ -x $OUT/rootfs/sbin/init || -L $OUT/rootfs/sbin/init ]]; }

case "${1:-}" in
--print-path)
  printf '%s\n' "$OUT/rootfs" >&3
  exit 0
  ;;
--cached)
  complete || exit 1
  printf '%s\n' "$OUT/rootfs" >&3
  exit 0
  ;;
"") ;;
*) die "usage: $0 [--cached|--print-path]" ;;
esac

if complete; then
  log "cached: $OUT"
  printf '%s\n' "$OUT/rootfs" >&3
  exit 0
fi

[[ $(id -u) -eq 0 ]] || die "building the node rootfs needs root (debootstrap); run as root"
mkdir -p "$CACHE_ROOT"

# One build at a time; a second caller waits and then finds the cache.
build_lock "$CACHE_ROOT/.$NAME.lock"
if complete; then
  log "cached (built by another process): $OUT"
  printf '%s\n' "$OUT/rootfs" >&3
  exit 0
fi

command -v debootstrap >/dev/null 2>&1 || die "debootstrap is not installed (apt-get install -y debootstrap)"

# The work dir goes away however this exits, mounts below it first (lib.sh).
trap_work_cleanup

START=$SECONDS
WORK="$(mktemp -d "$CACHE_ROOT/.$NAME.build.XXXXXX")"
STAGE="$WORK/out"
ROOTFS="$STAGE/rootfs"
mkdir -p "$ROOTFS"

use_mirror "$SUITE" || die "no Debian archive in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list; set KUBESPRAY_HA_DEBIAN_MIRROR"

log "debootstrap $SUITE from $MIRROR into $ROOTFS (about 5 minutes; log: $WORK/debootstrap.log)"
debootstrap --variant=minbase --include="$PACKAGES" "${DEBOOTSTRAP_KEYRING[@]}" \
  "$SUITE" "$ROOTFS" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 &
DEBOOTSTRAP=$!
while kill -0 "$DEBOOTSTRAP" 2>/dev/null; do
  sleep 30
  kill -0 "$DEBOOTSTRAP" 2>/dev/null || break
  log "  ... $((SECONDS - START))s: $(grep -E '^I: ' "$WORK/debootstrap.log" | tail -n1 || true)"
done
if ! wait "$DEBOOTSTRAP"; then
  tail -n 40 "$WORK/debootstrap.log" >&2
  cat "$WORK/debootstrap.log" "$ROOTFS/debootstrap/debootstrap.log" >"$CACHE_ROOT/.$NAME.failed.log" 2>/dev/null || true
  die "debootstrap failed (full log: $CACHE_ROOT/.$NAME.failed.log)"
fi
log "debootstrap done after $((SECONDS - START))s"

log "configuring the image"
[[ -x $ROOTFS/sbin/init || -L $ROOTFS/sbin/init ]] || die "no /sbin/init in the rootfs (is systemd-sysv in the package list?)"
missing=()
for p in ${PACKAGES//,/ }; do
  # shellcheck disable=SC2016 # a dpkg-query format, not a shell expression
  chroot "$ROOTFS" dpkg-query -W -f '${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed || missing+=("$p")
done
((${#missing[@]} == 0)) || die "packages missing after debootstrap: ${missing[*]}"

printf '%s' "$MOUNTS_SCRIPT" >"$ROOTFS/usr/local/sbin/kubespray-ha-node-mounts"
chmod 0755 "$ROOTFS/usr/local/sbin/kubespray-ha-node-mounts"
printf '%s' "$MOUNTS_UNIT" >"$ROOTFS/etc/systemd/system/kubespray-ha-node-mounts.service"
mkdir -p "$ROOTFS/etc/systemd/system/sysinit.target.wants"
ln -sfn ../kubespray-ha-node-mounts.service "$ROOTFS/etc/systemd/system/sysinit.target.wants/kubespray-ha-node-mounts.service"

mkdir -p "$ROOTFS/etc/systemd/system.conf.d"
printf '%s' "$SYSTEM_CONF" >"$ROOTFS/etc/systemd/system.conf.d/10-kubespray-ha.conf"

# sshd and networkd enabled (what `systemctl enable` would link).
mkdir -p "$ROOTFS/etc/systemd/system/multi-user.target.wants" "$ROOTFS/etc/systemd/system/sockets.target.wants" \
  "$ROOTFS/etc/systemd/system/network-online.target.wants"
ln -sfn /lib/systemd/system/ssh.service "$ROOTFS/etc/systemd/system/multi-user.target.wants/ssh.service"
ln -sfn /lib/systemd/system/ssh.service "$ROOTFS/etc/systemd/system/sshd.service"
ln -sfn /lib/systemd/system/systemd-networkd.service "$ROOTFS/etc/systemd/system/multi-user.target.wants/systemd-networkd.service"
ln -sfn /lib/systemd/system/systemd-networkd.socket "$ROOTFS/etc/systemd/system/sockets.target.wants/systemd-networkd.socket"
ln -sfn /lib/systemd/system/systemd-networkd-wait-online.service \
  "$ROOTFS/etc/systemd/system/network-online.target.wants/systemd-networkd-wait-online.service"
mkdir -p "$ROOTFS/etc/ssh/sshd_config.d"
printf '%s' "$SSHD_CONF" >"$ROOTFS/etc/ssh/sshd_config.d/10-kubespray-ha.conf"
# Host keys are per node (nspawn-nodes.sh generates them), never shared through the image.
rm -f "$ROOTFS"/etc/ssh/ssh_host_*

for u in $MASKED; do ln -sfn /dev/null "$ROOTFS/etc/systemd/system/$u"; done

# Per-node identity is written by nspawn-nodes.sh; nothing of the build host leaks in.
: >"$ROOTFS/etc/machine-id"
rm -f "$ROOTFS/var/lib/dbus/machine-id"
ln -sfn /etc/machine-id "$ROOTFS/var/lib/dbus/machine-id"
printf 'localhost\n' >"$ROOTFS/etc/hostname"
printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$ROOTFS/etc/hosts"
rm -f "$ROOTFS/etc/resolv.conf"
: >"$ROOTFS/etc/resolv.conf"

printf '%s' "$APT_SOURCES" >"$ROOTFS/etc/apt/sources.list"
rm -f "$ROOTFS"/etc/apt/sources.list.d/*.list "$ROOTFS"/etc/apt/sources.list.d/*.sources
rm -f "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/cache/apt/*.bin
find "$ROOTFS/var/lib/apt/lists" -maxdepth 1 -type f ! -name lock -delete 2>/dev/null || true
rm -rf "$ROOTFS/debootstrap"
for d in $TRIM; do
  [[ -d $ROOTFS/$d ]] || continue
  # glibc reads locale.alias; everything else there is translations.
  find "$ROOTFS/$d" -mindepth 1 ! -name locale.alias -delete 2>/dev/null || true
done

TREE_MB="$(du -sm --one-file-system "$ROOTFS" | cut -f1)"
BUILD_SECONDS=$((SECONDS - START))
cat >"$STAGE/manifest.json" <<EOF
{
  "name": "$NAME",
  "suite": "$SUITE",
  "mirror": "$MIRROR",
  "packages": "$PACKAGES",
  "rootfsMiB": $TREE_MB,
  "buildSeconds": $BUILD_SECONDS,
  "builtAt": "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
}
EOF

# Into place (a rename on the same filesystem), then the stamp, last.
move_into_place "$STAGE" "$OUT"
date -u +%Y-%m-%dT%H:%M:%SZ >"$OUT/stamp"
log "built $OUT in ${BUILD_SECONDS}s (${TREE_MB} MiB)"
printf '%s\n' "$OUT/rootfs" >&3

#!/usr/bin/env bash
# Build (once) the Debian bookworm node image the real libvirt tests boot.
#
#   IMAGE_DIR="$(tests/infra/build-test-image.sh)"
#
# The image directory is printed as the LAST line of stdout; all logging goes
# to stderr.  Cached: when base.qcow2, vmlinuz and initrd.img already exist it
# prints the directory and does nothing else.  Needs root (debootstrap).
#
# Output: ${KUBESPRAY_HA_CACHE:-$HOME/.cache/kubespray-ha}/image-bookworm-v1/
#   base.qcow2     ext4 filesystem on the WHOLE disk (no partition table), 3 GiB
#   vmlinuz        kernel   } for direct kernel boot, cmdline
#   initrd.img     initramfs} "root=/dev/vda rw console=ttyS0"
#   manifest.json  files, sizes, kernel version, mirror, build seconds
#
# How to boot it (libvirt): <domain type='qemu'> (or kvm where it works),
# <os><kernel>…/vmlinuz</kernel><initrd>…/initrd.img</initrd>
# <cmdline>root=/dev/vda rw console=ttyS0</cmdline></os>, a qcow2 overlay on
# base.qcow2 as a virtio disk (target dev='vda' bus='virtio'), the cloud-init
# NoCloud seed (cloud-localds) as a cdrom on bus='sata', a virtio NIC.  The
# image has ifupdown, so cloud-init renders network-config to
# /etc/network/interfaces.d; match the NIC by MAC with set-name (e.g. enp1s0).
# No SSH host keys are shipped: cloud-init generates them on first boot (and
# ssh.service runs `ssh-keygen -A` before starting, as a fallback).
#
# Build deps installed with apt-get if missing: debootstrap qemu-utils e2fsprogs.
# The Debian mirror is the one apt on this machine is configured with (read
# at run time from /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list);
# KUBESPRAY_HA_DEBIAN_MIRROR overrides it.
set -euo pipefail

# Everything goes to stderr; fd 3 is the real stdout for the final line.
exec 3>&1 1>&2

LOG_TAG=build-test-image
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$HERE/lib.sh"

SUITE=bookworm
IMAGE_NAME=image-bookworm-v1
# Beyond the obvious: minbase has no init at all, so systemd-sysv (systemd +
# /sbin/init) and dbus (hostnamectl, which Ansible's hostname module uses);
# resolvconf makes the network-config "nameservers" reach /etc/resolv.conf
# under ifupdown; net-tools because cloud-init's ifupdown renderer turns
# network-config "routes" into `post-up route add ...`.
INCLUDE=linux-image-amd64,openssh-server,cloud-init,python3-cffi-backend,python3,sudo,iproute2,ifupdown,locales,systemd-sysv,dbus,resolvconf,net-tools
DISK_SIZE=3G
OUT="$CACHE_ROOT/$IMAGE_NAME"

complete() { [[ -s $1/base.qcow2 && -s $1/vmlinuz && -s $1/initrd.img ]]; }

if complete "$OUT"; then
  log "cached: $OUT"
  printf '%s\n' "$OUT" >&3
  exit 0
fi

[[ $(id -u) -eq 0 ]] || die "building the image needs root (debootstrap, device nodes); run as root"
mkdir -p "$CACHE_ROOT"

# One build at a time; a second caller waits and then finds the cache.
build_lock "$CACHE_ROOT/.$IMAGE_NAME.lock"
if complete "$OUT"; then
  log "cached (built by another process): $OUT"
  printf '%s\n' "$OUT" >&3
  exit 0
fi

# ------------------------------------------------------------- build deps --
ensure_deps() {
  local missing=()
  command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
  command -v qemu-img >/dev/null 2>&1 || missing+=(qemu-utils)
  # mkfs.ext4 -d (populate from a directory) needs e2fsprogs >= 1.43.
  local usage=""
  command -v mkfs.ext4 >/dev/null 2>&1 && usage="$(mkfs.ext4 2>&1 || true)"
  if [[ $usage != *"[-d "* ]]; then
    missing+=(e2fsprogs)
  fi
  ((${#missing[@]} == 0)) && return 0
  command -v apt-get >/dev/null 2>&1 || die "missing ${missing[*]} and no apt-get here"
  log "installing build deps: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update >&2 || die "apt-get update failed"
  apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing[@]}" >&2 ||
    die "apt-get install ${missing[*]} failed"
}

# The work dir goes away however this exits, mounts below it first (lib.sh).
trap_work_cleanup

# ------------------------------------------------------------------ build --
ensure_deps
use_mirror "$SUITE" || die "no Debian archive found in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list; set KUBESPRAY_HA_DEBIAN_MIRROR"

START=$SECONDS
WORK="$(mktemp -d "$CACHE_ROOT/.$IMAGE_NAME.build.XXXXXX")"
ROOTFS="$WORK/rootfs"
STAGE="$WORK/out"
mkdir -p "$ROOTFS" "$STAGE"

log "debootstrap $SUITE from $MIRROR into $ROOTFS (a few minutes)"
if ! debootstrap --variant=minbase --include="$INCLUDE" "${DEBOOTSTRAP_KEYRING[@]}" \
  "$SUITE" "$ROOTFS" "$MIRROR" >"$WORK/debootstrap.log" 2>&1; then
  tail -n 40 "$WORK/debootstrap.log" >&2
  [[ -f $ROOTFS/debootstrap/debootstrap.log ]] && tail -n 40 "$ROOTFS/debootstrap/debootstrap.log" >&2
  die "debootstrap failed"
fi
log "debootstrap done after $((SECONDS - START))s"

log "configuring the image"
# Root filesystem: the whole virtio disk.
printf '/dev/vda / ext4 defaults 0 1\n' >"$ROOTFS/etc/fstab"

# cloud-init: only the NoCloud seed (cdrom labelled "cidata"), no probing.
mkdir -p "$ROOTFS/etc/cloud/cloud.cfg.d"
printf 'datasource_list: [ NoCloud, None ]\n' >"$ROOTFS/etc/cloud/cloud.cfg.d/90-ds.cfg"
# The node's own name resolves (sudo complains otherwise) without cloud-init
# rewriting the whole /etc/hosts at every boot (Kubespray adds entries there).
printf 'manage_etc_hosts: localhost\n' >"$ROOTFS/etc/cloud/cloud.cfg.d/91-etc-hosts.cfg"

# A generated locale, so cloud-init's locale module does not fail.
if [[ -f $ROOTFS/etc/locale.gen ]] && grep -q '^# *en_US.UTF-8 UTF-8' "$ROOTFS/etc/locale.gen"; then
  sed -i 's/^# *en_US.UTF-8 UTF-8/en_US.UTF-8 UTF-8/' "$ROOTFS/etc/locale.gen"
elif ! grep -q '^en_US.UTF-8 UTF-8' "$ROOTFS/etc/locale.gen" 2>/dev/null; then
  printf 'en_US.UTF-8 UTF-8\n' >>"$ROOTFS/etc/locale.gen"
fi
LC_ALL=C chroot "$ROOTFS" /usr/sbin/locale-gen >&2
printf 'LANG=en_US.UTF-8\n' >"$ROOTFS/etc/default/locale"

# Per-machine identity is made at first boot: SSH host keys (cloud-init's
# ssh module; ssh-keygen -A below as a fallback), machine-id (systemd).
rm -f "$ROOTFS"/etc/ssh/ssh_host_*
mkdir -p "$ROOTFS/etc/systemd/system/ssh.service.d"
cat >"$ROOTFS/etc/systemd/system/ssh.service.d/10-kubespray-ha-hostkeys.conf" <<'EOF'
# kubespray-ha test image: the image ships without host keys; cloud-init
# creates them, and this creates any still missing before sshd -t checks.
[Unit]
After=cloud-init.service
[Service]
ExecStartPre=
ExecStartPre=/usr/bin/ssh-keygen -A
ExecStartPre=/usr/sbin/sshd -t
EOF
: >"$ROOTFS/etc/machine-id"
# An empty machine-id makes the first boot a systemd "first boot", which
# would run systemd-firstboot's interactive wizard on the serial console and
# wait for input forever.  cloud-init does that job.
ln -sfn /dev/null "$ROOTFS/etc/systemd/system/systemd-firstboot.service"
# e2scrub_reap takes ~20 s of emulated CPU at every boot for nothing here.
ln -sfn /dev/null "$ROOTFS/etc/systemd/system/e2scrub_reap.service"
rm -f "$ROOTFS/var/lib/dbus/machine-id"
# The build host's names/resolver must not leak into the nodes.
printf 'localhost\n' >"$ROOTFS/etc/hostname"
printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$ROOTFS/etc/hosts"
# resolvconf makes /etc/resolv.conf a symlink into /run; keep that, but drop
# what its postinst saved from the build host.
if [[ ! -L $ROOTFS/etc/resolv.conf ]]; then
  rm -f "$ROOTFS/etc/resolv.conf"
  : >"$ROOTFS/etc/resolv.conf"
fi
for f in original tail; do
  [[ -f $ROOTFS/etc/resolvconf/resolv.conf.d/$f ]] && : >"$ROOTFS/etc/resolvconf/resolv.conf.d/$f"
done
rm -rf "$ROOTFS"/run/resolvconf/*
[[ -x $ROOTFS/sbin/init || -L $ROOTFS/sbin/init ]] || die "no /sbin/init in the image (is systemd-sysv in INCLUDE?)"
# Fresh cloud-init state; no downloaded .debs or package lists in the image.
rm -rf "$ROOTFS/var/lib/cloud" "$ROOTFS/var/log/cloud-init"*.log
rm -f "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/cache/apt/*.bin
find "$ROOTFS/var/lib/apt/lists" -maxdepth 1 -type f ! -name lock -delete 2>/dev/null || true

# Kernel and initramfs for direct kernel boot.
# shellcheck disable=SC2012 # kernel file names are plain
KVER="$(basename "$(ls -1 "$ROOTFS"/boot/vmlinuz-* | sort -V | tail -n1)")"
KVER="${KVER#vmlinuz-}"
[[ -n $KVER && -f $ROOTFS/boot/initrd.img-$KVER ]] || die "no kernel/initrd in $ROOTFS/boot"
install -m 0644 "$ROOTFS/boot/vmlinuz-$KVER" "$STAGE/vmlinuz"
install -m 0644 "$ROOTFS/boot/initrd.img-$KVER" "$STAGE/initrd.img"

TREE_MB="$(du -sm --one-file-system "$ROOTFS" | cut -f1)"
log "root filesystem tree: ${TREE_MB} MiB; making a ${DISK_SIZE} ext4 image"
truncate -s "$DISK_SIZE" "$WORK/img.raw"
mkfs.ext4 -q -F -L rootfs -d "$ROOTFS" "$WORK/img.raw" >&2
qemu-img convert -O qcow2 "$WORK/img.raw" "$STAGE/base.qcow2" >&2
rm -f "$WORK/img.raw"
rm -rf --one-file-system "$ROOTFS"

BUILD_SECONDS=$((SECONDS - START))
size() { stat -c %s "$1"; }
cat >"$STAGE/manifest.json" <<EOF
{
  "name": "$IMAGE_NAME",
  "suite": "$SUITE",
  "mirror": "$MIRROR",
  "include": "$INCLUDE",
  "kernelVersion": "$KVER",
  "cmdline": "root=/dev/vda rw console=ttyS0",
  "rootfsTreeMiB": $TREE_MB,
  "diskVirtualSize": "$DISK_SIZE",
  "files": {
    "base.qcow2": { "bytes": $(size "$STAGE/base.qcow2") },
    "vmlinuz": { "bytes": $(size "$STAGE/vmlinuz") },
    "initrd.img": { "bytes": $(size "$STAGE/initrd.img") }
  },
  "buildSeconds": $BUILD_SECONDS,
  "builtAt": "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
}
EOF

# Move into place: a rename on the same filesystem.  An incomplete directory
# left by someone else is moved aside first.
move_into_place "$STAGE" "$OUT"
log "built $OUT in ${BUILD_SECONDS}s (base.qcow2 $(size "$OUT/base.qcow2") bytes)"
printf '%s\n' "$OUT" >&3

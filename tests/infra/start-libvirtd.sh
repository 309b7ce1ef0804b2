#!/usr/bin/env bash
# Make sure a libvirt daemon answers on qemu:///system, for the real-VM tests.
#
#   tests/infra/start-libvirtd.sh && virsh -c qemu:///system list
#
# Idempotent.  If `virsh -c qemu:///system version` already answers, it only
# makes sure virtlogd runs (starting a domain without it fails with "Failed to
# connect socket to '/run/libvirt/virtlogd-sock'") and exits 0.  Otherwise it
#   1. installs what is missing of
#        libvirt-daemon-system qemu-system-x86 qemu-utils dnsmasq-base libvirt-clients
#      (apt-get, needs root),
#   2. starts `virtlogd -d` and then `libvirtd -d` itself (written for machines
#      without systemd; with systemd running it asks systemctl instead),
#   3. waits (bounded, KUBESPRAY_HA_LIBVIRTD_WAIT seconds, default 30) until
#      `virsh -c qemu:///system version` answers, else exits non-zero.
#
# The package libvirt-daemon-config-network defines libvirt's NAT network
# "default" (192.168.122.0/24) with autostart.  When this script starts
# libvirtd itself it removes that autostart link first, so starting the daemon
# does not bring up a NAT bridge nobody asked for; set
# KUBESPRAY_HA_LIBVIRT_KEEP_DEFAULT_NET=1 to keep it.
#
# Logs go to stderr; the daemons log to /var/log/libvirt/.
set -euo pipefail

URI="qemu:///system"
WAIT="${KUBESPRAY_HA_LIBVIRTD_WAIT:-30}"
PACKAGES=(libvirt-daemon-system qemu-system-x86 qemu-utils dnsmasq-base libvirt-clients)

log() { printf '[start-libvirtd] %s\n' "$*" >&2; }
die() {
  printf '[start-libvirtd] ERROR: %s\n' "$*" >&2
  exit 1
}

answers() {
  command -v virsh >/dev/null 2>&1 && timeout 10 virsh -c "$URI" version >/dev/null 2>&1
}

have_systemd() { [[ -d /run/systemd/system ]]; }

# A process of exactly this name runs (pgrep only looks, it never signals).
running() { pgrep -x "$1" >/dev/null 2>&1; }

ensure_virtlogd() {
  if [[ -S /run/libvirt/virtlogd-sock ]] && running virtlogd; then
    return 0
  fi
  command -v virtlogd >/dev/null 2>&1 || die "virtlogd not found (package libvirt-daemon-system)"
  if have_systemd; then
    log "starting virtlogd (systemctl)"
    systemctl start virtlogd.socket virtlogd.service >&2 || true
  else
    log "starting virtlogd -d"
    mkdir -p /run/libvirt
    virtlogd -d
  fi
  local i
  for ((i = 0; i < 50; i++)); do
    [[ -S /run/libvirt/virtlogd-sock ]] && return 0
    sleep 0.2
  done
  die "virtlogd did not create /run/libvirt/virtlogd-sock (see /var/log/libvirt/)"
}

missing_packages() {
  local p
  for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
      printf '%s\n' "$p"
    fi
  done
}

install_packages() {
  local missing
  mapfile -t missing < <(missing_packages)
  ((${#missing[@]} == 0)) && return 0
  [[ $(id -u) -eq 0 ]] || die "packages missing (${missing[*]}) and not root: install them or run as root"
  command -v apt-get >/dev/null 2>&1 || die "packages missing (${missing[*]}) and no apt-get here"
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update >&2 || die "apt-get update failed"
  apt-get -o DPkg::Lock::Timeout=600 install -y "${missing[@]}" >&2 || die "apt-get install ${missing[*]} failed"
}

if answers; then
  ensure_virtlogd
  log "libvirtd answers on $URI"
  exit 0
fi

install_packages
command -v libvirtd >/dev/null 2>&1 || die "libvirtd not found after installing ${PACKAGES[*]}"

# The package scripts may have started a daemon already.
if ! answers; then
  if [[ -z ${KUBESPRAY_HA_LIBVIRT_KEEP_DEFAULT_NET:-} && -L /etc/libvirt/qemu/networks/autostart/default.xml ]] && ! running libvirtd; then
    log "disabling autostart of libvirt's NAT network 'default' (KUBESPRAY_HA_LIBVIRT_KEEP_DEFAULT_NET=1 keeps it)"
    rm -f /etc/libvirt/qemu/networks/autostart/default.xml
  fi
  ensure_virtlogd
  if running libvirtd; then
    log "a libvirtd process exists but does not answer yet; waiting for it"
  elif have_systemd; then
    log "starting libvirtd (systemctl)"
    systemctl start libvirtd.service >&2 || true
  else
    log "starting libvirtd -d"
    libvirtd -d
  fi
fi

deadline=$((SECONDS + WAIT))
until answers; do
  if ((SECONDS >= deadline)); then
    die "libvirtd does not answer on $URI after ${WAIT}s (running: $(running libvirtd && echo yes || echo no); logs: /var/log/libvirt/libvirtd.log)"
  fi
  sleep 1
done
ensure_virtlogd
log "libvirtd answers on $URI ($(virsh -c "$URI" version 2>/dev/null | grep -i 'running hypervisor' | sed 's/^ *//'))"

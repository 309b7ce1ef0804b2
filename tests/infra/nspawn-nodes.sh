#!/usr/bin/env bash
# Test nodes: systemd-nspawn containers that boot systemd, with sshd and a static address on a host
# bridge (see ../shared/REAL-CLUSTER.md, "Fast nodes"). Needs root and systemd-nspawn.
#
#   nspawn-nodes.sh up <state-dir> <bridge> <gateway-cidr> <name>=<ip> ... --pubkey FILE [--rootfs DIR]
#       e.g. up /tmp/x kha-ns40 10.250.40.1/24 node1=10.250.40.11 node2=10.250.40.12 --pubkey k.pub
#       Creates the bridge with the gateway address (only if absent), copies the node rootfs
#       (tests/infra/build-node-rootfs.sh, built if not cached, unless --rootfs) per node, writes each
#       node's identity (hostname, machine-id, SSH host keys, root's authorized key, static address on
#       host0 with the gateway as default route and DNS server), boots them all and waits until each
#       answers SSH. Writes <state-dir>/known_hosts (the nodes' host keys by IP). A failed `up` removes
#       what it made (NSPAWN_NODES_KEEP_ON_FAILURE=1 keeps it for a look).
#   nspawn-nodes.sh stop-node <state-dir> <name>    SIGKILL every process of the node (a hard failure)
#   nspawn-nodes.sh start-node <state-dir> <name>   boot it again from its rootfs copy, wait for SSH
#   nspawn-nodes.sh down <state-dir>                remove exactly what `up` made: the nodes' processes,
#       rootfs copies and cgroups, any mount left under the state dir, the FORWARD rule and the bridge
#       (each only if `up` added it). Safe to run twice.
#
# Environment: NSPAWN_NODES_SSH_TIMEOUT (seconds a node may take to answer SSH, default 120).
# Progress goes to stderr.
#
# State (all under <state-dir>): bridge, gateway, made-bridge / added-address / forward-rule (what to
# undo), rootfs (the source), known_hosts, nodes/<name>/{ip,machine,rootfs/,cgroups,nspawn.pid,console.log}.
#
# Cgroups: PID 1 on this machine is not systemd, so nothing gives a node its own cgroup. Before exec'ing
# systemd-nspawn, the launching shell moves ITSELF into a new child cgroup (named after the node) of
# its current cgroup in every mounted hierarchy (for cpuset, cpuset.cpus and cpuset.mems are copied
# from the parent first, or joining fails with ENOSPC). Without that the node's systemd would manage
# the host's root cgroups. The cgroups made are listed in nodes/<name>/cgroups and removed by `down`.
set -euo pipefail

log() { printf '[nspawn-nodes] %s\n' "$*" >&2; }
die() {
  printf '[nspawn-nodes] ERROR: %s\n' "$*" >&2
  exit 1
}

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SSH_TIMEOUT="${NSPAWN_NODES_SSH_TIMEOUT:-120}"

usage() {
  sed -n '5,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

need_root() { [[ $(id -u) -eq 0 ]] || die "needs root (bridges, cgroups, systemd-nspawn)"; }

valid_ipv4() {
  local ip="$1" o
  [[ $ip =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$ ]] || return 1
  for o in "${BASH_REMATCH[@]:1}"; do ((o <= 255)) || return 1; done
}

# ------------------------------------------------------------- cgroups --
# Lines "<mountpoint> <path of this process below it>" for every mounted cgroup hierarchy (v1 and
# the v2 "unified" one), from /proc/self/mountinfo and /proc/self/cgroup.
my_cgroups() {
  local pid="$1"
  awk -v cgfile="/proc/$pid/cgroup" '
    BEGIN {
      while ((getline line < cgfile) > 0) {
        split(line, f, ":")
        path = substr(line, length(f[1]) + length(f[2]) + 3)
        if (f[2] == "") v2 = path
        else { n = split(f[2], c, ","); for (i = 1; i <= n; i++) v1[c[i]] = path }
      }
    }
    {
      # mountinfo: id parent maj:min root mountpoint options [optional...] - fstype source superoptions
      for (i = 7; $i != "-"; i++) {}
      fstype = $(i + 1); super = $(i + 3); root = $4; mnt = $5
      if (fstype == "cgroup2") { if (v2 != "") p = v2; else next }
      else if (fstype == "cgroup") {
        p = ""
        n = split(super, o, ",")
        for (k = 1; k <= n; k++) if (o[k] in v1) { p = v1[o[k]]; break }
        if (p == "") next
      } else next
      if (root != "/" && index(p, root) == 1) p = substr(p, length(root) + 1)
      if (p == "/") p = ""
      print mnt " " p
    }' "/proc/$pid/mountinfo"
}

# Removes a cgroup dir and every cgroup below it (deepest first); they must hold no processes.
remove_cgroup_tree() {
  local dir="$1"
  [[ -d $dir ]] || return 0
  find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null || true
  [[ ! -d $dir ]]
}

# PIDs of every process in a node's cgroups (recursively), one a line.
node_pids() {
  local node_dir="$1" cg
  [[ -f $node_dir/cgroups ]] || return 0
  while read -r cg; do
    [[ -d $cg ]] || continue
    find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null || true
  done <"$node_dir/cgroups" | sort -un
}

# Kills a node hard: SIGKILL to its PID 1 (the kernel then kills every process of the node's PID
# namespace at once, like pulling the power), then to anything left in its cgroups (systemd-nspawn).
kill_node() {
  local node_dir="$1" name pid deadline
  name="$(basename "$node_dir")"
  local pids
  pids="$(node_pids "$node_dir")"
  for pid in $pids; do
    # The node's init is the process that is PID 1 in its own namespace.
    if awk '$1 == "NSpid:" && NF == 3 && $3 == 1 { found = 1 } END { exit !found }' "/proc/$pid/status" 2>/dev/null; then
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  if [[ -f $node_dir/nspawn.pid ]]; then
    pid="$(cat "$node_dir/nspawn.pid")"
    # Give systemd-nspawn a moment to notice and tidy its own state, then kill it too.
    deadline=$((SECONDS + 5))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  deadline=$((SECONDS + 20))
  while :; do
    pids="$(node_pids "$node_dir")"
    [[ -z $pids ]] && break
    if ((SECONDS >= deadline)); then
      log "node $name: processes still alive after SIGKILL: $(tr '\n' ' ' <<<"$pids")"
      return 1
    fi
    # shellcheck disable=SC2086 # a list of PIDs
    kill -KILL $pids 2>/dev/null || true
    sleep 0.1
  done
  rm -f "$node_dir/nspawn.pid"
}

# -------------------------------------------------------------- a node --
# Boots one node from nodes/<name>/rootfs, in fresh child cgroups; records the PID of systemd-nspawn.
boot_node() {
  local state="$1" name="$2" node_dir bridge token cgname mnt rel parent child
  node_dir="$state/nodes/$name"
  bridge="$(cat "$state/bridge")"
  token="$(cat "$state/token")"
  cgname="kha-nspawn-$token-$name"
  [[ -f $node_dir/nspawn.pid ]] && kill -0 "$(cat "$node_dir/nspawn.pid")" 2>/dev/null &&
    die "node $name is running already (pid $(cat "$node_dir/nspawn.pid"))"
  # Left from a previous boot (start-node after stop-node): empty now, make them afresh.
  if [[ -f $node_dir/cgroups ]]; then
    while read -r child; do remove_cgroup_tree "$child" || die "node $name: cannot remove old cgroup $child"; done <"$node_dir/cgroups"
  fi
  : >"$node_dir/cgroups"
  local procs=()
  while read -r mnt rel; do
    parent="$mnt$rel"
    child="$parent/$cgname"
    mkdir "$child" || die "node $name: cannot create cgroup $child"
    printf '%s\n' "$child" >>"$node_dir/cgroups"
    if [[ -f $parent/cpuset.cpus ]]; then
      cat "$parent/cpuset.cpus" >"$child/cpuset.cpus"
      cat "$parent/cpuset.mems" >"$child/cpuset.mems"
    fi
    procs+=("$child/cgroup.procs")
  done < <(my_cgroups "$$")
  ((${#procs[@]} > 0)) || die "no cgroup hierarchy is mounted"

  # The machine name is random (made by `up`, kept in nodes/<name>/machine): systemd-nspawn names the
  # host end of the veth "vb-<machine>" (truncated to 15 characters), so "node1" of another test, or
  # two long names with the same start, must not be used. The node's hostname is its /etc/hostname.
  local machine
  machine="$(cat "$node_dir/machine")"
  (
    for p in "${procs[@]}"; do printf '%s\n' "$BASHPID" >"$p"; done
    exec setsid systemd-nspawn -b -D "$node_dir/rootfs" -M "$machine" --register=no --keep-unit \
      --network-bridge="$bridge" --capability=all --system-call-filter=@keyring --bind=/dev/kmsg \
      --resolv-conf=off
  ) </dev/null >"$node_dir/console.log" 2>&1 &
  printf '%s\n' "$!" >"$node_dir/nspawn.pid"
  date +%s.%N >"$node_dir/booted-at"
}

# Waits until every named node answers SSH (its host key, through ssh-keyscan).
wait_ssh() {
  local state="$1"
  shift
  local pending=("$@") still name ip start deadline
  start=$(date +%s.%N)
  deadline=$((SECONDS + SSH_TIMEOUT))
  while ((${#pending[@]} > 0)); do
    still=()
    for name in "${pending[@]}"; do
      ip="$(cat "$state/nodes/$name/ip")"
      if ssh-keyscan -T 2 -t ed25519 "$ip" 2>/dev/null | grep -q ssh-ed25519; then
        log "node $name ($ip) answers SSH after $(awk -v a="$(cat "$state/nodes/$name/booted-at")" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')s"
        continue
      fi
      if ! kill -0 "$(cat "$state/nodes/$name/nspawn.pid" 2>/dev/null || echo 0)" 2>/dev/null; then
        tail -n 30 "$state/nodes/$name/console.log" >&2 || true
        die "node $name: systemd-nspawn exited before SSH answered (console above: $state/nodes/$name/console.log)"
      fi
      still+=("$name")
    done
    pending=("${still[@]+"${still[@]}"}")
    ((${#pending[@]} == 0)) && break
    if ((SECONDS >= deadline)); then
      for name in "${pending[@]}"; do tail -n 30 "$state/nodes/$name/console.log" >&2 || true; done
      die "node(s) ${pending[*]} did not answer SSH within ${SSH_TIMEOUT}s (consoles: $state/nodes/<name>/console.log)"
    fi
    sleep 0.3
  done
  log "all answer SSH, $(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')s after the wait began"
}

# ------------------------------------------------------------------ up --
cmd_up() {
  need_root
  local state="" bridge="" gw_cidr="" pubkey="" rootfs="" specs=()
  while (($#)); do
    case "$1" in
    --pubkey) pubkey="${2:?--pubkey FILE}"; shift 2 ;;
    --rootfs) rootfs="${2:?--rootfs DIR}"; shift 2 ;;
    -*) die "unknown option $1" ;;
    *)
      if [[ -z $state ]]; then state="$1"
      elif [[ -z $bridge ]]; then bridge="$1"
      elif [[ -z $gw_cidr ]]; then gw_cidr="$1"
      else specs+=("$1"); fi
      shift
      ;;
    esac
  done
  [[ -n $state && -n $bridge && -n $gw_cidr && ${#specs[@]} -gt 0 && -n $pubkey ]] || usage
  command -v systemd-nspawn >/dev/null 2>&1 || die "systemd-nspawn is not installed (apt-get install -y systemd-container)"
  ((${#bridge} <= 15)) || die "bridge name '$bridge' is longer than 15 characters"
  [[ $bridge =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*$ ]] || die "bad bridge name '$bridge'"
  local gw="${gw_cidr%/*}" prefix="${gw_cidr#*/}"
  if ! [[ $gw_cidr == */* && $prefix =~ ^[0-9]+$ ]] || ! valid_ipv4 "$gw" || ((prefix < 8 || prefix > 30)); then
    die "gateway must be an IPv4 address with a prefix length, e.g. 10.250.40.1/24 (got '$gw_cidr')"
  fi
  [[ -f $pubkey ]] || die "no public key file $pubkey"
  local names=() spec name ip
  for spec in "${specs[@]}"; do
    name="${spec%%=*}"
    ip="${spec#*=}"
    [[ $spec == *=* && $name =~ ^[a-z0-9]([a-z0-9-]*[a-z0-9])?$ ]] || die "node spec must be <name>=<ip> with a DNS-label name (got '$spec')"
    if ! valid_ipv4 "$ip" || [[ $ip == "$gw" ]]; then die "node $name: bad address '$ip'"; fi
    names+=("$name")
  done
  [[ $(printf '%s\n' "${names[@]}" | sort | uniq -d) == "" ]] || die "node names repeat"
  if [[ -z $rootfs ]]; then
    rootfs="$("$HERE/build-node-rootfs.sh" | tail -n1)"
  fi
  [[ -d $rootfs && ( -x $rootfs/sbin/init || -L $rootfs/sbin/init ) ]] || die "no node rootfs at '$rootfs'"

  if [[ -d $state ]]; then
    [[ -z $(ls -A "$state") ]] || die "state dir $state is not empty (a previous up? run down first)"
  else
    mkdir -p "$state"
    : >"$state/.made-state-dir"
  fi
  state="$(cd "$state" && pwd)"
  printf '%s\n' "$bridge" >"$state/bridge"
  printf '%s\n' "$gw_cidr" >"$state/gateway"
  printf '%s\n' "$rootfs" >"$state/rootfs"
  od -An -N4 -tx1 /dev/urandom | tr -d ' \n' >"$state/token"
  mkdir -p "$state/nodes"

  if [[ ${NSPAWN_NODES_KEEP_ON_FAILURE:-} != 1 ]]; then
    # shellcheck disable=SC2064 # the state dir is fixed now
    trap "rc=\$?; if ((rc != 0)); then log 'up failed: removing what it made'; ( cmd_down '$state' ) || true; fi" EXIT
  fi

  # The bridge, with the gateway address (the nodes' default route; nothing is routed beyond it).
  if ip link show dev "$bridge" >/dev/null 2>&1; then
    log "bridge $bridge exists: using it"
  else
    ip link add "$bridge" type bridge
    : >"$state/made-bridge"
    log "created bridge $bridge"
  fi
  if ! ip -4 -o addr show dev "$bridge" | awk '{ print $4 }' | grep -qx "$gw_cidr"; then
    ip addr add "$gw_cidr" dev "$bridge"
    [[ -f $state/made-bridge ]] || printf '%s\n' "$gw_cidr" >"$state/added-address"
  fi
  ip link set "$bridge" up
  # With br_netfilter, bridged frames traverse the FORWARD chain: a DROP policy would cut node-to-node
  # traffic. Accept it for this bridge only.
  if command -v iptables >/dev/null 2>&1 && iptables -S FORWARD 2>/dev/null | grep -qx -- '-P FORWARD DROP'; then
    local rule=(-i "$bridge" -o "$bridge" -m comment --comment "kubespray-ha nspawn-nodes $(cat "$state/token")" -j ACCEPT)
    iptables -I FORWARD 1 "${rule[@]}"
    printf '%s\n' "${rule[@]}" >"$state/forward-rule"
    log "FORWARD policy is DROP: accepting $bridge-to-$bridge traffic"
  fi

  # Root filesystems, copied in parallel (ext4 here: no reflinks; --reflink=auto uses them elsewhere).
  local t0=$SECONDS i=0 copies=()
  for spec in "${specs[@]}"; do
    name="${spec%%=*}"
    mkdir -p "$state/nodes/$name"
    printf '%s\n' "${spec#*=}" >"$state/nodes/$name/ip"
    printf 'kha%s\n' "$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')" >"$state/nodes/$name/machine"
    cp -a --reflink=auto "$rootfs" "$state/nodes/$name/rootfs" &
    copies+=($!)
  done
  for i in "${copies[@]}"; do wait "$i" || die "copying the rootfs failed"; done
  log "copied the rootfs for ${#specs[@]} node(s) in $((SECONDS - t0))s"

  : >"$state/known_hosts"
  for spec in "${specs[@]}"; do
    name="${spec%%=*}"
    ip="${spec#*=}"
    configure_node "$state/nodes/$name/rootfs" "$name" "$ip" "$prefix" "$gw" "$pubkey"
    printf '%s %s\n' "$ip" "$(cut -d' ' -f1,2 "$state/nodes/$name/rootfs/etc/ssh/ssh_host_ed25519_key.pub")" >>"$state/known_hosts"
  done

  for name in "${names[@]}"; do boot_node "$state" "$name"; done
  wait_ssh "$state" "${names[@]}"
  trap - EXIT
}

# Per-node identity inside its rootfs copy.
configure_node() {
  local root="$1" name="$2" ip="$3" prefix="$4" gw="$5" pubkey="$6"
  printf '%s\n' "$name" >"$root/etc/hostname"
  printf '127.0.0.1\tlocalhost\n%s\t%s\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' "$ip" "$name" >"$root/etc/hosts"
  od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$root/etc/machine-id"
  printf '\n' >>"$root/etc/machine-id"
  install -d -m 0700 "$root/root/.ssh"
  install -m 0600 "$pubkey" "$root/root/.ssh/authorized_keys"
  rm -f "$root"/etc/ssh/ssh_host_*
  ssh-keygen -q -A -f "$root" >&2
  # Static address on host0 (the veth systemd-nspawn puts on the bridge); the gateway is the default
  # route (kubeadm and Ansible need one) and the DNS server (nothing answers there: lookups of outside
  # names fail fast instead of hanging).
  mkdir -p "$root/etc/systemd/network"
  cat >"$root/etc/systemd/network/10-kubespray-ha-host0.network" <<EOF
[Match]
Name=host0

[Network]
Address=$ip/$prefix
Gateway=$gw
DNS=$gw
LinkLocalAddressing=no
IPv6AcceptRA=no
EOF
  printf 'nameserver %s\n' "$gw" >"$root/etc/resolv.conf"
}

# ---------------------------------------------------- stop/start a node --
node_dir_of() {
  local state="$1" name="$2"
  [[ -d $state/nodes/$name/rootfs ]] || die "no node '$name' in $state"
  printf '%s\n' "$state/nodes/$name"
}

cmd_stop_node() {
  need_root
  [[ $# -eq 2 ]] || usage
  local dir
  dir="$(node_dir_of "$1" "$2")"
  kill_node "$dir"
  log "node $2 killed"
}

cmd_start_node() {
  need_root
  [[ $# -eq 2 ]] || usage
  local state dir
  state="$(cd "$1" && pwd)"
  dir="$(node_dir_of "$state" "$2")"
  if [[ -f $dir/nspawn.pid ]] && kill -0 "$(cat "$dir/nspawn.pid")" 2>/dev/null; then
    die "node $2 is running (stop-node first)"
  fi
  # Whatever the killed node left (there should be nothing once its PID namespace is gone).
  kill_node "$dir"
  boot_node "$state" "$2"
  wait_ssh "$state" "$2"
}

# ---------------------------------------------------------------- down --
cmd_down() {
  need_root
  [[ $# -eq 1 ]] || usage
  local state="$1" dir cg m failed=0
  [[ -d $state ]] || { log "no state dir $state: nothing to do"; return 0; }
  state="$(cd "$state" && pwd)"
  if [[ -d $state/nodes ]]; then
    for dir in "$state"/nodes/*/; do
      [[ -d $dir ]] || continue
      dir="${dir%/}"
      kill_node "$dir" || failed=1
    done
  fi
  # Mounts under the state dir (systemd-nspawn mounts in its own namespace; this is for anything left).
  while read -r m; do
    umount -l "$m" 2>/dev/null || { log "cannot unmount $m"; failed=1; }
  done < <(awk -v s="$state/" 'index($2, s) == 1 { print $2 }' /proc/self/mounts | sort -r)
  if [[ -d $state/nodes ]]; then
    local removals=() r
    for dir in "$state"/nodes/*/; do
      [[ -d $dir ]] || continue
      dir="${dir%/}"
      if [[ -f $dir/cgroups ]]; then
        while read -r cg; do
          remove_cgroup_tree "$cg" || { log "cannot remove cgroup $cg"; failed=1; }
        done <"$dir/cgroups"
      fi
      # Deleting a rootfs copy takes tens of seconds on a busy disk once it has been written back:
      # all nodes at once.
      rm -rf --one-file-system "$dir" &
      removals+=($!)
    done
    for r in "${removals[@]+"${removals[@]}"}"; do wait "$r" || failed=1; done
    rmdir "$state/nodes" 2>/dev/null || true
  fi
  local bridge=""
  [[ -f $state/bridge ]] && bridge="$(cat "$state/bridge")"
  if [[ -f $state/forward-rule ]]; then
    local rule=()
    mapfile -t rule <"$state/forward-rule"
    while iptables -C FORWARD "${rule[@]}" 2>/dev/null; do iptables -D FORWARD "${rule[@]}" || { failed=1; break; }; done
    rm -f "$state/forward-rule"
  fi
  if [[ -n $bridge && -f $state/made-bridge ]]; then
    if ip link show dev "$bridge" >/dev/null 2>&1; then ip link del "$bridge" || failed=1; fi
    rm -f "$state/made-bridge"
  elif [[ -n $bridge && -f $state/added-address ]]; then
    ip addr del "$(cat "$state/added-address")" dev "$bridge" 2>/dev/null || true
    rm -f "$state/added-address"
  fi
  ((failed == 0)) || die "down did not remove everything (see above); state kept in $state"
  rm -f "$state/bridge" "$state/gateway" "$state/rootfs" "$state/token" "$state/known_hosts"
  if [[ -f $state/.made-state-dir ]]; then
    rm -f "$state/.made-state-dir"
    rmdir "$state" 2>/dev/null || log "state dir $state not empty: left in place"
  fi
  log "down: removed everything up made${bridge:+ (bridge $bridge)}"
}

case "${1:-}" in
up) shift; cmd_up "$@" ;;
down) shift; cmd_down "$@" ;;
stop-node) shift; cmd_stop_node "$@" ;;
start-node) shift; cmd_start_node "$@" ;;
*) usage ;;
esac

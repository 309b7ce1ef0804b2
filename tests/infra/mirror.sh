#!/usr/bin/env bash
# Serve the offline mirror that tests/infra/build-mirror.sh built, on ONE address.
#
#   tests/infra/mirror.sh start <address> <files-port> <registry-port> <state-dir>
#   tests/infra/mirror.sh stop <state-dir>
#
# start: serves <mirror>/files over HTTP (python3 -m http.server) at
#   http://<address>:<files-port>/  (Kubespray: files_repo, with github_url =
#   "{{ files_repo }}/github.com" and dl_k8s_io_url = "{{ files_repo }}/dl.k8s.io")
#   and the registry (Debian's docker-registry, read-only, storage = the cached
#   <mirror>/registry) at <address>:<registry-port> (plain HTTP: Kubespray's
#   registry_host, kube/gcr/docker/quay/github_image_repo, and a containerd
#   mirror with skip_verify). Both bind only <address>, which must be in
#   127.0.0.0/8 or 10.250.0.0/16 (never 0.0.0.0). Writes files.pid,
#   registry.pid, registry.yml and *.log into <state-dir>, waits until both
#   answer, then prints on stdout:
#     files_repo=http://<address>:<files-port>
#     registry=<address>:<registry-port>
# stop: kills exactly the PIDs in <state-dir> (after checking each is still the
#   server it started) and waits until they are gone.
#
# The mirror: ${KUBESPRAY_HA_MIRROR_DIR:-${KUBESPRAY_HA_CACHE:-$HOME/.cache/kubespray-ha}/mirror-v2.31.0}
# (it must hold build-mirror.sh's COMPLETE stamp).
set -euo pipefail

log() { printf '[mirror.sh] %s\n' "$*" >&2; }
die() {
  printf '[mirror.sh] ERROR: %s\n' "$*" >&2
  exit 1
}
usage() {
  die "usage: $0 start <address> <files-port> <registry-port> <state-dir> | stop <state-dir>"
}

CACHE_ROOT="${KUBESPRAY_HA_CACHE:-$HOME/.cache/kubespray-ha}"
MIRROR="${KUBESPRAY_HA_MIRROR_DIR:-$CACHE_ROOT/mirror-v2.31.0}"
NAMES=(files registry)

# check_address A: dotted IPv4 in 127.0.0.0/8 or 10.250.0.0/16.
check_address() {
  local a="$1" o
  [[ $a =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$ ]] ||
    die "refusing address '$a': not a dotted IPv4 address"
  for o in "${BASH_REMATCH[@]:1}"; do
    [[ $o == 0 || $o != 0* ]] || die "refusing address '$a': leading zero"
    ((10#$o <= 255)) || die "refusing address '$a': octet $o"
  done
  local o1="${BASH_REMATCH[1]}" o2="${BASH_REMATCH[2]}"
  if ! ((o1 == 127 || (o1 == 10 && o2 == 250))); then
    die "refusing address '$a': only 127.0.0.0/8 (loopback) or 10.250.0.0/16 (test bridges)"
  fi
}

check_port() {
  if ! [[ $1 =~ ^[0-9]{1,5}$ ]] || ((10#$1 < 1 || 10#$1 > 65535)); then die "refusing port '$1'"; fi
}

# pid_alive PID: the process exists and is not a zombie.
pid_alive() {
  local state
  [[ -r /proc/$1/stat ]] || return 1
  state="$(sed -E 's/^[0-9]+ \(.*\) ([A-Za-z]).*/\1/' "/proc/$1/stat" 2>/dev/null)" || return 1
  [[ $state != Z && $state != X ]]
}

# ours NAME PID STATE: PID is still the NAME server started with STATE.
ours() {
  local cmd
  cmd="$(tr '\0' ' ' <"/proc/$2/cmdline" 2>/dev/null)" || return 1
  case $1 in
    files) [[ $cmd == *http.server* && $cmd == *"--directory $MIRROR/files"* ]] ;;
    registry) [[ $cmd == *docker-registry*" serve $3/registry.yml"* ]] ;;
  esac
}

# wait_gone PID TRIES: wait up to TRIES x 0.1 s for PID to exit.
wait_gone() {
  local i
  for ((i = 0; i < $2; i++)); do
    pid_alive "$1" || return 0
    sleep 0.1
  done
}

stop() {
  local state="$1" n pid rc=0
  [[ -d $state ]] || die "no state dir $state"
  state="$(cd "$state" && pwd)"
  for n in "${NAMES[@]}"; do
    [[ -f $state/$n.pid ]] || continue
    pid="$(cat "$state/$n.pid")"
    [[ $pid =~ ^[0-9]+$ ]] || die "bad pid in $state/$n.pid"
    if pid_alive "$pid" && ours "$n" "$pid" "$state"; then
      kill -TERM "$pid" 2>/dev/null || true
      wait_gone "$pid" 100
      if pid_alive "$pid"; then
        log "$n ($pid) did not stop on SIGTERM; SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        wait_gone "$pid" 50
      fi
      if pid_alive "$pid"; then
        log "$n ($pid) is still running"
        rc=1
        continue
      fi
      log "stopped $n ($pid)"
    elif pid_alive "$pid"; then
      log "pid $pid in $state/$n.pid is not our $n server any more; not killing it"
    fi
    rm -f "$state/$n.pid"
  done
  return "$rc"
}

start() {
  local addr="$1" fport="$2" rport="$3" state="$4"
  check_address "$addr"
  check_port "$fport"
  check_port "$rport"
  [[ $fport != "$rport" ]] || die "the files port and the registry port must differ"
  [[ -f $MIRROR/COMPLETE ]] || die "no complete mirror in $MIRROR (run tests/infra/build-mirror.sh)"
  [[ -d $MIRROR/files && -d $MIRROR/registry ]] || die "$MIRROR lacks files/ or registry/"
  command -v docker-registry >/dev/null || die "docker-registry is required (apt-get install docker-registry)"
  local py=/usr/bin/python3
  [[ -x $py ]] || py="$(command -v python3)" || die "python3 is required"
  mkdir -p "$state"
  state="$(cd "$state" && pwd)"
  local n
  for n in "${NAMES[@]}"; do
    if [[ -f $state/$n.pid ]] && pid_alive "$(cat "$state/$n.pid")"; then
      die "$n is already running from $state (pid $(cat "$state/$n.pid")); stop it first"
    fi
    rm -f "$state/$n.pid"
  done

  cat >"$state/registry.yml" <<EOF
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $MIRROR/registry
  maintenance:
    uploadpurging:
      enabled: false
    readonly:
      enabled: true
  delete:
    enabled: false
http:
  addr: $addr:$rport
EOF
  # setsid: the servers outlive this script and leave its process group; their
  # output goes to the state dir so a caller waiting on our stdout is not held.
  setsid docker-registry serve "$state/registry.yml" </dev/null >>"$state/registry.log" 2>&1 &
  echo $! >"$state/registry.pid"
  setsid "$py" -m http.server "$fport" --bind "$addr" --directory "$MIRROR/files" \
    </dev/null >>"$state/files.log" 2>&1 &
  echo $! >"$state/files.pid"

  local i up_f="" up_r=""
  for ((i = 0; i < 300; i++)); do
    [[ -n $up_f ]] || { curl -fsS -o /dev/null "http://$addr:$fport/" 2>/dev/null && up_f=1; } || true
    [[ -n $up_r ]] || { curl -fsS -o /dev/null "http://$addr:$rport/v2/" 2>/dev/null && up_r=1; } || true
    [[ -n $up_f && -n $up_r ]] && break
    for n in "${NAMES[@]}"; do
      if ! pid_alive "$(cat "$state/$n.pid")"; then
        tail -5 "$state/$n.log" >&2 || true
        stop "$state" || true
        die "$n exited while starting (log: $state/$n.log)"
      fi
    done
    sleep 0.1
  done
  if [[ -z $up_f || -z $up_r ]]; then
    stop "$state" || true
    die "the mirror did not answer on $addr within 30 s (logs in $state)"
  fi
  log "serving $MIRROR: files on http://$addr:$fport (pid $(cat "$state/files.pid")), registry on $addr:$rport (pid $(cat "$state/registry.pid"))"
  printf 'files_repo=http://%s:%s\nregistry=%s:%s\n' "$addr" "$fport" "$addr" "$rport"
}

case ${1:-} in
  start)
    (($# == 5)) || usage
    start "$2" "$3" "$4" "$5"
    ;;
  stop)
    (($# == 2)) || usage
    stop "$2"
    ;;
  *) usage ;;
esac

# shellcheck shell=bash
# Shared by the tests/infra build scripts (sourced, never run): logging, the cache root, the build lock,
# the Debian mirror apt on this machine uses, moving a finished build into place, and the EXIT trap that
# unmounts and removes a build's work dir.
#
#   LOG_TAG=build-node-rootfs
#   HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
#   # shellcheck source-path=SCRIPTDIR source=lib.sh
#   . "$HERE/lib.sh"
#
# Nothing here writes to stdout: the scripts keep stdout (fd 3) for their result lines.

# log MESSAGE... / die MESSAGE...: progress and errors on stderr, prefixed with [$LOG_TAG]; die exits 1.
log() { printf '[%s] %s\n' "$LOG_TAG" "$*" >&2; }
die() {
  printf '[%s] ERROR: %s\n' "$LOG_TAG" "$*" >&2
  exit 1
}

# Where every cache lives.
# shellcheck disable=SC2034 # used by the sourcing scripts
CACHE_ROOT="${KUBESPRAY_HA_CACHE:-$HOME/.cache/kubespray-ha}"

# build_lock LOCKFILE: one build at a time. Holds the lock on fd 9 until the script exits; a second
# caller says so and waits (and then usually finds the cache).
build_lock() {
  exec 9>"$1"
  if ! flock -n 9; then
    log "another build holds $1; waiting"
    flock 9
  fi
}

# find_mirror SUITE: prints "URI<TAB>KEYRING" (keyring may be empty) of the Debian archive apt uses: the
# first non-security http(s)/file URI of a deb822 stanza (/etc/apt/sources.list.d/*.sources) or one-line
# entry (/etc/apt/sources.list, *.list) of type deb, preferring one that lists SUITE. Returns 1 when
# there is none. KUBESPRAY_HA_DEBIAN_MIRROR overrides it (no keyring).
find_mirror() {
  local suite="$1"
  if [[ -n ${KUBESPRAY_HA_DEBIAN_MIRROR:-} ]]; then
    printf '%s\t\n' "$KUBESPRAY_HA_DEBIAN_MIRROR"
    return 0
  fi
  local f candidates
  candidates="$(
    {
      # deb822: one line per enabled stanza of type deb: uris suites signed-by
      for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f $f ]] || continue
        awk -v OFS='\t' '
          function flush() {
            if (uris != "" && types ~ /(^| )deb( |$)/ && enabled !~ /^[Nn]o/) print uris, suites, signed
            types = uris = suites = signed = ""; enabled = "yes"
          }
          BEGIN { enabled = "yes" }
          /^[ \t]*#/ { next }
          /^[ \t]*$/ { flush(); next }
          { key = tolower($1); sub(/:$/, "", key); sub(/^[ \t]*[^ \t:]+:[ \t]*/, ""); gsub(/[ \t]+/, " ") }
          key == "types" { types = $0 }
          key == "uris" { uris = $0 }
          key == "suites" { suites = $0 }
          key == "signed-by" { signed = $0 }
          key == "enabled" { enabled = $0 }
          END { flush() }
        ' "$f"
      done
      # one-line format: deb [options] uri suite components
      for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f $f ]] || continue
        awk -v OFS='\t' '
          $1 == "deb" {
            i = 2; signed = ""
            if ($2 ~ /^\[/) {
              while (i <= NF) {
                if ($i ~ /signed-by=/) { signed = $i; sub(/.*signed-by=/, "", signed); sub(/\]$/, "", signed) }
                if ($i ~ /\]$/) { i++; break }
                i++
              }
            }
            print $i, $(i + 1), signed
          }' "$f"
      done
    } | awk -F '\t' -v suite="$suite" '
        # plain http(s)/file archive URIs, not security; 0 first: the ones that list the suite
        {
          n = split($1, u, / +/)
          for (k = 1; k <= n; k++) {
            if (u[k] !~ /^(https?|file):/ || u[k] ~ /security/) continue
            print (($2 ~ ("(^| )" suite "( |$)")) ? 0 : 1) "\t" u[k] "\t" $3
          }
        }' | sort -s -t "$(printf '\t')" -k1,1n
  )"
  [[ -n $candidates ]] || return 1
  printf '%s\n' "$candidates" | head -n1 | cut -f2,3
}

# use_mirror SUITE: sets MIRROR and DEBOOTSTRAP_KEYRING (debootstrap's --keyring=..., or nothing when
# apt's keyring for it is not a file here) from find_mirror. Returns 1 when there is no mirror.
# shellcheck disable=SC2034 # MIRROR and DEBOOTSTRAP_KEYRING are for the sourcing scripts
use_mirror() {
  local line keyring
  line="$(find_mirror "$1")" || return 1
  MIRROR="${line%%$'\t'*}"
  keyring="${line#*$'\t'}"
  DEBOOTSTRAP_KEYRING=()
  if [[ -n $keyring && $keyring == /* && -f $keyring ]]; then
    DEBOOTSTRAP_KEYRING=(--keyring="$keyring")
  fi
}

# move_into_place STAGE OUT: the finished build dir STAGE (with $WORK/debootstrap.log copied in) becomes
# OUT, by a rename on the same filesystem. Whatever is at OUT already (an incomplete build left by
# someone else) is moved aside into $WORK first, so it goes with the work dir.
move_into_place() {
  cp "$WORK/debootstrap.log" "$1/debootstrap.log"
  if [[ -e $2 ]]; then
    mv "$2" "$WORK/previous"
  fi
  mv "$1" "$2"
}

# trap_work_cleanup: from now on, exiting (also on INT/TERM) unmounts whatever is still mounted below
# $WORK (debootstrap mounts proc/sys inside its target while it runs; never recurse into a mount) and
# removes $WORK, keeping the exit status. The script sets WORK once it has made the directory.
cleanup_work() {
  local rc=$?
  if [[ -n $WORK && -d $WORK ]]; then
    local m
    while read -r m; do
      umount -l "$m" 2>/dev/null || true
    done < <(awk -v w="$WORK/" 'index($2, w) == 1 { print $2 }' /proc/self/mounts | sort -r)
    rm -rf --one-file-system "$WORK" || log "could not remove $WORK"
  fi
  exit "$rc"
}
trap_work_cleanup() {
  WORK=""
  trap cleanup_work EXIT
  trap 'exit 130' INT TERM
}

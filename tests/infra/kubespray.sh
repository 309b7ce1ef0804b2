#!/usr/bin/env bash
# A real Kubespray tree and a Python venv with the Ansible its requirements.txt asks for, both cached.
#
#   { read -r TREE; read -r VENV_BIN; } < <(tests/infra/kubespray.sh v2.31.0)
#   "$VENV_BIN/ansible-playbook" -i inventory.yaml "$TREE/cluster.yml"
#
# Prints two lines on stdout: the tree dir and the venv's bin dir. Progress goes to stderr.
#   tree: ${KUBESPRAY_HA_CACHE:-$HOME/.cache/kubespray-ha}/kubespray-<version>/
#         extracted from ../shared/third-party-src/kubespray-<version>.tar.gz (unmodified upstream source;
#         KUBESPRAY_HA_THIRD_PARTY_SRC overrides the directory), stamp .kubespray-ha-stamp written last.
#   venv: ${cache}/kubespray-<version>-venv/ built with `pip install -r <tree>/requirements.txt` from PyPI
#         (v2.25.1: ansible 9.5.1 = ansible-core 2.16.x; v2.31.0: ansible 11.13.0 = ansible-core 2.18.x),
#         stamp .kubespray-ha-stamp written last. KUBESPRAY_HA_PYTHON picks the interpreter (python3).
# Supported versions: v2.25.1 and v2.31.0 (any version whose tarball is there is accepted).
# Cached: both stamps present and matching -> prints the two lines in well under a second.
set -euo pipefail

exec 3>&1 1>&2

LOG_TAG=kubespray
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$HERE/lib.sh"

[[ $# -eq 1 && $1 == v* ]] || die "usage: $0 <version>   (v2.25.1 or v2.31.0)"
VERSION="$1"
SRC_DIR="${KUBESPRAY_HA_THIRD_PARTY_SRC:-$HERE/../../../shared/third-party-src}"
TARBALL="$SRC_DIR/kubespray-$VERSION.tar.gz"
[[ -f $TARBALL ]] || die "no $TARBALL (set KUBESPRAY_HA_THIRD_PARTY_SRC to the directory holding kubespray-<version>.tar.gz)"
TREE="$CACHE_ROOT/kubespray-$VERSION"
VENV="$CACHE_ROOT/kubespray-$VERSION-venv"
STAMP=.kubespray-ha-stamp
PYTHON="${KUBESPRAY_HA_PYTHON:-python3}"

tree_key() { sha256sum "$TARBALL" | cut -d' ' -f1; }
venv_key() {
  # The requirements and the interpreter the venv was made from.
  printf '%s\n%s\n' "$(sha256sum "$TREE/requirements.txt" | cut -d' ' -f1)" \
    "$("$PYTHON" -c 'import sys; print(sys.executable, sys.version.split()[0])')"
}
tree_ok() { [[ -f $TREE/$STAMP && $(cat "$TREE/$STAMP") == "$(tree_key)" ]]; }
venv_ok() { [[ -f $VENV/$STAMP && -x $VENV/bin/ansible-playbook && $(cat "$VENV/$STAMP") == "$(venv_key)" ]]; }

mkdir -p "$CACHE_ROOT"
build_lock "$CACHE_ROOT/.kubespray-$VERSION.lock"

WORK=""
trap '[[ -n $WORK ]] && rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

if tree_ok; then
  log "cached tree: $TREE"
else
  log "extracting $TARBALL into $TREE"
  WORK="$(mktemp -d "$CACHE_ROOT/.kubespray-$VERSION.extract.XXXXXX")"
  tar -xzf "$TARBALL" -C "$WORK"
  top="$(find "$WORK" -mindepth 1 -maxdepth 1 -type d)"
  [[ -n $top && $(wc -l <<<"$top") -eq 1 && -f $top/cluster.yml ]] || die "$TARBALL does not hold one Kubespray tree"
  rm -rf "$TREE"
  mv "$top" "$TREE"
  # A new tree means new requirements: the venv is rebuilt below if they changed.
  tree_key >"$TREE/$STAMP"
  rm -rf "$WORK"
  WORK=""
fi

if venv_ok; then
  log "cached venv: $VENV"
else
  command -v "$PYTHON" >/dev/null 2>&1 || die "no $PYTHON (set KUBESPRAY_HA_PYTHON)"
  log "building $VENV: pip install -r $TREE/requirements.txt (a few minutes)"
  start=$SECONDS
  rm -rf "$VENV"
  # A venv is not relocatable (absolute paths in its scripts): it is built in place, stamp last.
  "$PYTHON" -m venv "$VENV" || die "$PYTHON -m venv failed (apt-get install -y python3-venv?)"
  "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input --progress-bar off \
    -r "$TREE/requirements.txt" >&2 || die "pip install -r $TREE/requirements.txt failed"
  "$VENV/bin/ansible-playbook" --version >/dev/null || die "$VENV/bin/ansible-playbook does not run"
  venv_key >"$VENV/$STAMP"
  log "venv built in $((SECONDS - start))s"
fi
version="$("$VENV/bin/ansible-playbook" --version)" || die "$VENV/bin/ansible-playbook --version failed"
log "${version%%$'\n'*}"

printf '%s\n%s\n' "$TREE" "$VENV/bin" >&3

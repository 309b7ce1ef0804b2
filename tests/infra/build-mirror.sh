#!/usr/bin/env bash
# Build a REAL offline mirror for Kubespray v2.31.0 from source: the files
# repo (files_repo) and an OCI registry (registry_host) holding every artifact
# a cluster.yml run needs with containerd + flannel + kube-vip (ARP) + etcd on
# the hosts (enable_dns_autoscaler: false, enable_nodelocaldns: false, helm,
# metrics-server and ingress off, crictl_version: 1.34.0), at TWO Kubernetes
# versions: 1.35.4 (Kubespray's default) and 1.34.2 (UPGRADE_FROM_K8S: a test
# deploys 1.34.2 and runs upgrade-cluster.yml to 1.35.4), each exactly as
# Kubespray v2.31.0 derives it for the test stack.
#
# Why 1.34.2: it is the newest 1.34 release whose whole source the module proxy
# serves. Kubespray v2.31.0 knows 1.34.0-1.34.7, but the proxy refuses staging
# modules of the newer ones (403 "not available"): at v0.34.7 14 of the 31
# (cli-runtime, cluster-bootstrap, cri-api, cri-client, csi-translation-lib,
# endpointslice, externaljwt, kube-aggregator, kube-controller-manager,
# kube-proxy, kubectl, sample-*), at v0.34.6 20, v0.34.5 5, v0.34.4 2 and
# v0.34.3 1 (sample-cli-plugin, which kubernetes' go.mod requires); at v0.34.2
# all 31 and every module the seven binaries import are served.
#
# etcd at 1.34: Kubespray derives etcd 3.5.29 for 1.34, but the module proxy
# refuses go.etcd.io/etcd/server/v3 at v3.5.29 (also v3.5.28, v3.5.26: 403 "not
# available"), so it cannot be built from source here. The test stack pins
# `etcd_version: "3.6.10"` in groupVars at both versions (kubeadm 1.34 itself
# ships etcd 3.6.x), and the 1.34.2 derivation here is evaluated with that
# override: both versions share the one etcd 3.6.10 build. crictl stays 1.34.0
# (the test stack pins crictl_version at both), and so do CNI, runc,
# containerd, nerdctl, pause 3.10.1, kube-vip and flannel; what 1.34.2 adds is
# kubeadm/kubelet/kubectl and the four kubeadm images at v1.34.2, and coredns
# 1.12.1 (coredns_supported_versions['1.34']).
#
# One image beyond both sets: kube-vip 1.0.4 (KUBE_VIP_EXTRA), in the same
# repository kube-vip/kube-vip as Kubespray's pinned 1.0.3, which stays the
# default of both sets. Issue 23's failover bench compares the two: 1.0.4 fixes
# the stalled leader election of kube-vip 1.0.1-1.0.3 (kube-vip #1377, PRs
# #1383/#1386). It is what Kubespray derives with group_vars
# `kube_vip_version: "1.0.4"`, built exactly like 1.0.3 from its snapshot, and
# recorded in manifest-extra.json, not in the per-version manifests.
#
#   MIRROR="$(tests/infra/build-mirror.sh)"      # cold ~30-50 min, cached: seconds
#   tests/infra/build-mirror.sh --check-sources  # every metadata/source step, no compile: minutes
#   tests/infra/mirror.sh start 10.250.X.1 8080 5000 /tmp/mirror-state
#
# The mirror directory is printed as the LAST line of stdout; progress goes to
# stderr ("[mirror] ...").
#
# Output: ${KUBESPRAY_HA_CACHE:-$HOME/.cache/kubespray-ha}/mirror-v2.31.0/
#   files/<host>/<upstream path>  the files repo, laid out exactly as Kubespray
#                  derives each download URL with files_repo set, i.e. with
#                    files_repo: http://A:P
#                    github_url: "{{ files_repo }}/github.com"
#                    dl_k8s_io_url: "{{ files_repo }}/dl.k8s.io"
#                  e.g. files/dl.k8s.io/release/v1.35.4/bin/linux/amd64/kubeadm.
#                  It holds the union of both versions' files (the 1.34.2 set
#                  adds only files/dl.k8s.io/release/v1.34.2/...).
#                  Tarballs are deterministic (sorted, owner 0, mtime 0, gzip -n)
#                  with the layout Kubespray's unpack tasks expect (etcd:
#                  etcd-v3.6.10-linux-amd64/etcd; containerd: bin/*, unpacked
#                  with --strip-components=1; crictl, nerdctl, CNI: flat).
#   registry/      storage of Debian's docker-registry (push once here; mirror.sh
#                  serves it read-only). Repositories are the image paths
#                  Kubespray derives with registry_host = kube_image_repo =
#                  gcr/docker/quay/github_image_repo = <registry>: kube-apiserver,
#                  kube-controller-manager, kube-scheduler, kube-proxy, pause,
#                  coredns/coredns, kube-vip/kube-vip, flannel/flannel,
#                  flannel/flannel-cni-plugin; the union of both versions' tags,
#                  and kube-vip/kube-vip:v1.0.4 (manifest-extra.json).
#                  Plain HTTP: containerd needs
#                  containerd_registries_mirrors with host http://... and
#                  skip_verify: true.
#   For 1.35.4 (the names they always had):
#   checksums.json {"kubeadm": "<sha256 hex>", ...}: keys are Kubespray's
#                  artifact names whose checksum vars are <name>_binary_checksum
#                  or <name>_archive_checksum (manifest.json names the var);
#                  Kubespray wants them as "sha256:<hex>".
#   manifest.json  {"kubesprayVersion", "files": [{path, sha256, name,
#                  checksumVar}], "images": [{repo, tag}]}, sorted.
#   derived.json   what the real Kubespray tree derives (URLs, image refs,
#                  versions, every download enabled with these settings).
#   For 1.34.2, the same formats, exactly that version's set (what the tests
#   feed into offline.checksums for a 1.34.2 stack):
#   checksums-1.34.2.json, manifest-1.34.2.json, derived-1.34.2.json
#                  (derived with kube_version 1.34.2 and etcd_version 3.6.10).
#   manifest-extra.json {"kubesprayVersion", "groupVars": {"kube_vip_version":
#                  "1.0.4"}, "images": [{repo, tag, digest}]}: the images the
#                  registry holds beyond both sets, each what Kubespray derives
#                  for 1.35.4 with groupVars added (derived-extra.json: that
#                  derivation's images that derived.json lacks).
#   build-report.txt  per-step cold wall/CPU/peak memory and sizes.
#   bin/crane      crane v0.22.1 (the tests use it to pull).
#   COMPLETE       stamp, written last: when present the script only prints
#                  the path.
# Intermediate state (Go module cache, build cache, module copies, extracted
# sources, Debian packages, logs, per-step stamps and timings):
#   ${KUBESPRAY_HA_CACHE:-$HOME/.cache/kubespray-ha}/mirror-build/
#   (the module cache is read-only: remove it with
#   `GOMODCACHE=<that>/gomodcache go clean -modcache`, then rm -rf.)
#
# How each artifact is built (all checked with --version after the build, and
# each image's entrypoint is run from the image as pulled back from the
# registry):
#   kubeadm kubelet kubectl kube-apiserver kube-controller-manager
#   kube-scheduler kube-proxy: one `go build` of a writable copy of the module
#     k8s.io/kubernetes@v1.35.4 (staging replaces -> k8s.io/*@v0.35.4), and
#     another of k8s.io/kubernetes@v1.34.2 (-> k8s.io/*@v0.34.2), version
#     stamped with the commit pinned in PINNED_COMMITS (none pinned: none
#     stamped, and the checks say so); pause: gcc -static pause.c (of 1.35.4).
#   coredns 1.12.4 and 1.12.1: one wrapper module each.
#   etcd etcdctl etcdutl, coredns, CNI plugins, containerd, runc (cgo, static,
#     libseccomp), crictl, crane: wrapper modules from the Go module proxy.
#   flanneld: a copy of the module without its tencentvpc backend (the proxy
#     refuses that dependency). kube-vip (1.0.3 and 1.0.4), nerdctl, flannel
#     cni-plugin: from ../shared/third-party-src (not on the proxy).
#   kube-proxy and flannel images get iptables (nft), ip6tables, nft, ipset and
#     conntrack from Debian packages (apt-get download, dpkg-deb -x); images
#     that need `cp` get busybox-static.
#   Images: tar of a root filesystem (sorted, owner 0, mtime 0), `crane append
#     --oci-empty-base`, `crane mutate --set-platform linux/amd64 --entrypoint`.
#
# Prerequisites: go (>= 1.25; /usr/local/go/bin is added to PATH), gcc,
# libseccomp-dev, docker-registry, busybox-static, python3 with jinja2 and
# yaml, jq, curl, apt-get (with package lists), dpkg-deb, root (chroot checks).
#
# Environment knobs:
#   KUBESPRAY_HA_CACHE            cache root (default ~/.cache/kubespray-ha)
#   KUBESPRAY_HA_THIRD_PARTY_SRC  upstream snapshots (default ../shared/third-party-src)
#   KUBESPRAY_HA_MIRROR_REBUILD=1 reassemble the mirror (built binaries are reused;
#                                 remove mirror-build/stamps/<step> to rebuild one)
# Steps of the second version are named <step>-<version> (kubernetes-1.34.2,
# coredns-1.12.1, sources-1.34.2, and kube-vip-1.0.4 for the extra image): their
# own stamps, outputs in out/<step>-<version> (out/kube_vip-1.0.4).
set -euo pipefail

SELF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
REPO_ROOT="$(cd "$(dirname "$SELF")/../.." && pwd)"

KUBESPRAY_VERSION=v2.31.0
# Bump when the layout or the contents of the mirror change.
RECIPE=3
# What this recipe builds; checked against what the Kubespray tree derives.
K8S=1.35.4
# The version the upgrade test deploys first, and what Kubespray derives for it that differs
# (etcd: ETCD pinned at both versions, see above; everything else below is shared).
UPGRADE_FROM_K8S=1.34.2
COREDNS_FROM=1.12.1
ETCD=3.6.10
CNI=1.9.1
CRICTL=1.34.0
RUNC=1.4.2
CONTAINERD=2.2.3
NERDCTL=2.2.2
PAUSE=3.10.1
COREDNS=1.12.4
KUBE_VIP=1.0.3
# Beyond Kubespray's sets (manifest-extra.json, see the header): kube-vip 1.0.4 for issue 23's bench.
KUBE_VIP_EXTRA=1.0.4
FLANNEL=0.28.4
FLANNEL_CNI=1.7.1-flannel1
CRANE=v0.22.1
# Commits of the ../shared/third-party-src snapshots (see its README.md).
KUBE_VIP_COMMIT=28bec598f5f35dbf0368e59834b9544a5825c90f
KUBE_VIP_EXTRA_COMMIT=ff40ff06a3d6ee2d4452968e46cfa7e5ac4cc456
NERDCTL_COMMIT=20bbfaa940ddc532b8587ac6aeef88e76c8abf77
FLANNEL_CNI_COMMIT=c11ca80f81318f05375a47046f26c87a3c61dc6f

CACHE_ROOT="${KUBESPRAY_HA_CACHE:-$HOME/.cache/kubespray-ha}"
MIRROR="$CACHE_ROOT/mirror-$KUBESPRAY_VERSION"
BUILD="$CACHE_ROOT/mirror-build"
SRC_DIR="${KUBESPRAY_HA_THIRD_PARTY_SRC:-$REPO_ROOT/../shared/third-party-src}"
OUT="$BUILD/out"
WORK="$BUILD/work"
SRC="$BUILD/src"
KS="$SRC/kubespray-$KUBESPRAY_VERSION"
STAMP="$MIRROR/COMPLETE"
STAMP_TEXT="kubespray $KUBESPRAY_VERSION mirror, recipe $RECIPE"

# Images (name = Kubespray download name, entrypoint, check arguments, expected output).
IMAGE_PATH_ENV="PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin"

log() { printf '[mirror] %s\n' "$*" >&2; }
die() {
  printf '[mirror] ERROR: %s\n' "$*" >&2
  exit 1
}

# ------------------------------------------------------------ cached path --
if [[ ${1:-} != --step && ${1:-} != --check-sources && -f $STAMP && $(cat "$STAMP") == "$STAMP_TEXT" && -z ${KUBESPRAY_HA_MIRROR_REBUILD:-} ]]; then
  log "cached: $MIRROR ($STAMP_TEXT)"
  printf '%s\n' "$MIRROR"
  exit 0
fi

export PATH="/usr/local/go/bin:$PATH"
export GOMODCACHE="$BUILD/gomodcache" GOCACHE="$BUILD/gocache" GOPATH="$BUILD/gopath"
export GOFLAGS="-mod=mod -buildvcs=false" GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0
# Module proxy only: never fall back to the VCS hosts ("direct").
GOPROXY="${GOPROXY:-https://proxy.golang.org}"
GOPROXY="${GOPROXY%,direct}"
export GOPROXY="${GOPROXY%|direct}"

# run_in DIR CMD...: runs CMD in DIR, in a subshell.
run_in() (
  cd "$1"
  shift
  "$@"
)

# wrapper DIR MODULE@VERSION...: a fresh throw-away module that requires MODULEs.
wrapper() {
  local dir="$1"
  shift
  rm -rf "$dir"
  mkdir -p "$dir"
  run_in "$dir" go mod init w
  run_in "$dir" go get "$@"
}

# origin MODULE@VERSION FIELD: a field of `go mod download -json` that every download has (Dir, Info).
origin() {
  run_in "$WORK" go mod download -json "$1" | jq -er ".$2"
}

# Upstream tag -> commit of the modules whose binaries carry a commit. The module proxy records an
# Origin (the tag's commit) for some modules only: at these versions none for k8s.io/kubernetes,
# containerd or runc (their .info is just Version and Time), so no step may depend on it. A pin is
# checked against the proxy's Origin where the proxy has one; a module without a pin is stamped
# without a commit, which the build log and the --version checks say.
declare -A PINNED_COMMITS=(
  ["go.etcd.io/etcd/server/v3@v3.6.10"]=db8d13a5421fcbd1c5825a148735b80c7d36cd2d  # refs/tags/server/v3.6.10
  ["github.com/coredns/coredns@v1.12.4"]=f32329577fd5e3fe19908f8a9ba5c76aafb45bf6 # refs/tags/v1.12.4
  ["github.com/coredns/coredns@v1.12.1"]=707c7c10acd52cb94e959e76ae233d9b76af0854 # refs/tags/v1.12.1
)

# modinfo MODULE@VERSION: `go list -m -json` of it (the proxy's .info and .mod only, no source).
modinfo() {
  run_in "$WORK" go list -m -json "$1"
}

# commit_of MODULE@VERSION: the pinned commit ("" when there is none), checked against the proxy's Origin.
commit_of() {
  local pin="${PINNED_COMMITS[$1]:-}" hash
  hash="$(modinfo "$1" | jq -r '.Origin.Hash // empty')" || die "$1: the module proxy does not know it"
  if [[ -n $pin && -n $hash && $pin != "$hash" ]]; then
    die "$1: pinned commit $pin, but the module proxy's Origin says $hash"
  fi
  if [[ -z $pin ]]; then
    local seen=""
    [[ -z $hash ]] || seen=" (the module proxy records $hash: pin it)"
    log "$1: no pinned commit$seen; stamped without a commit"
  fi
  printf '%s' "$pin"
}

# release_time MODULE@VERSION: the tag's time from the proxy's .info (always there).
release_time() {
  modinfo "$1" | jq -er .Time
}

# copy_module MODULE@VERSION DEST: a writable copy of a module's source.
copy_module() {
  local dir
  dir="$(origin "$1" Dir)"
  rm -rf "$2"
  mkdir -p "$(dirname "$2")"
  cp -r "$dir" "$2"
  chmod -R u+w "$2"
}

# tarball NAME: the path of an upstream snapshot, checked against SHA256SUMS.
tarball() {
  local f="$SRC_DIR/$1.tar.gz" want got
  [[ -f $f ]] || die "upstream source $f not found (set KUBESPRAY_HA_THIRD_PARTY_SRC)"
  want="$(awk -v n="$1.tar.gz" '$2 == n { print $1 }' "$SRC_DIR/SHA256SUMS" 2>/dev/null || true)"
  got="$(sha256sum "$f" | cut -d' ' -f1)"
  [[ -z $want || $want == "$got" ]] || die "$f: sha256 $got does not match SHA256SUMS ($want)"
  printf '%s' "$f"
}

# extract NAME: a fresh writable copy of snapshot NAME in $WORK/NAME.
extract() {
  local f
  f="$(tarball "$1")"
  rm -rf "${WORK:?}/$1"
  mkdir -p "$WORK/$1"
  tar -xzf "$f" -C "$WORK/$1" --strip-components=1
  chmod -R u+w "$WORK/$1"
}

# dtar OUT.tar.gz DIR MEMBER...: a deterministic gzipped tarball.
dtar() {
  local out="$1" dir="$2"
  shift 2
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 --format=gnu \
    -C "$dir" -cf - "$@" | gzip -n -9 >"$out"
}

# layer_tar OUT.tar ROOT: a deterministic uncompressed layer of ROOT's contents.
layer_tar() {
  local names
  mapfile -t names < <(cd "$2" && LC_ALL=C ls -A)
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 --format=gnu \
    -C "$2" -cf "$1" "${names[@]}"
}

# expect WHAT PATTERN CMD...: runs CMD, fails unless its output matches PATTERN.
expect() {
  local what="$1" pattern="$2" out
  shift 2
  out="$("$@" 2>&1)" || true
  if ! grep -Eq -- "$pattern" <<<"$out"; then
    die "$what: '$*' printed '$(head -c 400 <<<"$out")', expected /$pattern/"
  fi
  log "  ok $what: $(grep -Em1 -- "$pattern" <<<"$out" | head -c 160)"
}

in_root() {
  local root="$1"
  shift
  if [[ $EUID -eq 0 ]]; then chroot "$root" "$@"; else unshare -r chroot "$root" "$@"; fi
}

# ----------------------------------------------------- derive from Kubespray --
# Evaluates Kubespray's own defaults (download.yml, main.yml, role vars) with
# Jinja2 the way Ansible would, for the settings of the test stack and a
# mirror at http://files.mirror.invalid:8080 / registry.mirror.invalid:5000.
write_derive_py() {
  cat >"$BUILD/derive.py" <<'PY'
import functools, json, re, sys
import yaml
import ast
from jinja2 import Environment, StrictUndefined, meta

# derive.py KUBESPRAY_TREE MODE [KUBESPRAY_VERSION] [VAR=VALUE ...]: VAR=VALUE are more group_vars
# of the test stack (kube_version=1.34.2 etcd_version=3.6.10 for the upgrade's first version).
ks, mode = sys.argv[1], sys.argv[2]
version_arg = [a for a in sys.argv[3:] if "=" not in a]
overrides = dict(a.split("=", 1) for a in sys.argv[3:] if "=" in a)
FILES_REPO = "http://files.mirror.invalid:8080"
REG = "registry.mirror.invalid:5000"
raw = {}
role_vars = set()
for p in ["roles/kubespray_defaults/defaults/main/main.yml",
          "roles/kubespray_defaults/defaults/main/download.yml",
          "roles/kubespray_defaults/vars/main/checksums.yml",
          "roles/kubespray_defaults/vars/main/main.yml"]:
    with open(f"{ks}/{p}") as f:
        data = yaml.safe_load(f) or {}
    raw.update(data)
    if "/vars/" in p:
        role_vars.update(data)
for k in overrides:
    if k in role_vars:
        raise SystemExit(f"{k} is a role var of kubespray_defaults: group_vars cannot override it")
    if k not in raw:
        raise SystemExit(f"{k} is not a Kubespray default: overriding it would change nothing")
default_crictl = raw["crictl_version"]
# Inventory (group_vars) of the test stack; role vars (vars/main) are not overridden.
raw.update({
    "files_repo": FILES_REPO,
    "github_url": "{{ files_repo }}/github.com",
    "dl_k8s_io_url": "{{ files_repo }}/dl.k8s.io",
    "registry_host": REG,
    **{k: "{{ registry_host }}" for k in ["kube_image_repo", "gcr_image_repo", "docker_image_repo",
                                         "quay_image_repo", "github_image_repo"]},
    "crictl_version": "1.34.0",
    "container_manager": "containerd",
    "kube_network_plugin": "flannel",
    "etcd_deployment_type": "host",
    "kube_vip_enabled": True,
    "kube_vip_arp_enabled": True,
    "enable_dns_autoscaler": False,
    "enable_nodelocaldns": False,
    "helm_enabled": False,
    "metrics_server_enabled": False,
    "ingress_nginx_enabled": False,
    "loadbalancer_apiserver_localhost": False,
    "host_architecture": "amd64",
    "ansible_system": "Linux",
    "ansible_architecture": "x86_64",
    "etcd_access_addresses": "https://10.250.0.11:2379",
    **overrides,
})

def vparse(s):
    return [int(x) if x.isdigit() else x for x in re.split(r"[.\-+]", str(s).lstrip("v"))]

def t_version(a, b, op="eq"):
    x, y = vparse(a), vparse(b)
    try:
        c = (x > y) - (x < y)
    except TypeError:
        c = (str(a) > str(b)) - (str(a) < str(b))
    return {"<": c < 0, "lt": c < 0, "<=": c <= 0, "le": c <= 0, ">": c > 0, "gt": c > 0,
            ">=": c >= 0, "ge": c >= 0, "==": c == 0, "eq": c == 0, "!=": c != 0, "ne": c != 0}[op]

def listify(f):
    @functools.wraps(f)
    def g(*a, **k):
        return list(f(*a, **k))
    return g

def setup(env):
    env.tests["version"] = t_version
    env.filters["select"] = listify(env.filters["select"])
    env.filters["reject"] = listify(env.filters["reject"])
    env.filters["dict2items"] = lambda d: [{"key": k, "value": v} for k, v in d.items()]
    env.filters["regex_replace"] = lambda s, p, r="": re.sub(p, r, s)
    env.filters["split"] = lambda s, sep=None: s.split(sep)
    return env

env = setup(Environment(undefined=StrictUndefined))

def ansible_like(s):
    """Ansible's (non-native) templating: bool/container-looking results become values."""
    if s in ("True", "False"):
        return s == "True"
    if s[:1] in ("{", "["):
        try:
            return ast.literal_eval(s)
        except (ValueError, SyntaxError):
            pass
    return s
cache = {}

def resolve(name, stack=()):
    if name in cache:
        return cache[name]
    if name in stack:
        raise RuntimeError(f"loop at {name}")
    cache[name] = render(raw[name], stack + (name,))
    return cache[name]

def context(text, stack=()):
    ctx = {}
    for n in meta.find_undeclared_variables(env.parse(text)):
        if n in raw:
            try:
                ctx[n] = resolve(n, stack)
            except Exception:
                pass  # undefined if used
    return ctx

def render(v, stack=()):
    if isinstance(v, str):
        if "{{" not in v and "{%" not in v:
            return v
        return ansible_like(env.from_string(v).render(context(v, stack)))
    if isinstance(v, dict):
        return {k: render(x, stack) for k, x in v.items()}
    if isinstance(v, list):
        return [render(x, stack) for x in v]
    return v

if mode == "kubeadm-images-config":
    text = open(f"{ks}/roles/download/templates/kubeadm-images.yaml.j2").read()
    senv = setup(Environment(undefined=StrictUndefined, keep_trailing_newline=True, trim_blocks=True))
    sys.stdout.write(senv.from_string(text).render(context(text)))
    sys.stdout.write("\n")
    sys.exit(0)

def strip(s, prefix):
    if not s.startswith(prefix):
        raise SystemExit(f"{s!r} does not start with {prefix!r}: not redirected to the mirror")
    return s[len(prefix):]

out = {"kubesprayVersion": version_arg[0] if version_arg else None, "filesRepo": FILES_REPO, "registry": REG,
       "versions": {}, "files": [], "images": [], "errors": {},
       "defaultCrictlVersion": None}
if overrides:
    out["groupVars"] = overrides
for k in ["kube_version", "kube_major_version", "etcd_version", "cni_version", "crictl_version",
          "runc_version", "containerd_version", "nerdctl_version", "pod_infra_version",
          "coredns_version", "flannel_version", "flannel_cni_version", "kube_vip_version"]:
    out["versions"][k] = str(resolve(k))
saved = raw["crictl_version"]
raw["crictl_version"] = default_crictl
cache.clear()
out["defaultCrictlVersion"] = str(resolve("crictl_version"))
raw["crictl_version"] = saved
cache.clear()
for name, entry in raw["downloads"].items():
    try:
        d = {k: render(entry.get(k, dv)) for k, dv in
             [("enabled", False), ("file", False), ("container", False)]}
        if not d["enabled"]:
            continue
        groups = entry.get("groups", [])
        if d["file"]:
            url = render(entry["url"])
            var = f"{name}_binary_checksum" if f"{name}_binary_checksum" in raw else f"{name}_archive_checksum"
            out["files"].append({"name": name, "url": url, "path": strip(url, FILES_REPO + "/"),
                                 "checksumVar": var, "groups": groups})
        if d["container"]:
            repo, tag = render(entry["repo"]), render(entry["tag"])
            out["images"].append({"name": name, "ref": f"{repo}:{tag}", "repo": strip(repo, REG + "/"),
                                  "tag": str(tag), "groups": groups})
    except Exception as e:
        out["errors"][name] = f"{type(e).__name__}: {e}"
json.dump(out, sys.stdout, indent=2, sort_keys=True)
PY
}

# ------------------------------------------------------------------ steps --
# Each build_<step> runs in its own process (`$SELF --step <step>`) under
# /usr/bin/time, output in mirror-build/logs/<step>.log; its results go to
# $OUT/<step>/ and a stamp in mirror-build/stamps/<step>.

# sfx K8S_VERSION: "" for K8S (the names the mirror always had), "-<version>" for the other.
sfx() {
  [[ $1 == "$K8S" ]] || printf -- '-%s' "$1"
}

# coredns_for K8S_VERSION: the coredns version this recipe builds for it.
coredns_for() {
  case "$1" in
  "$K8S") printf '%s' "$COREDNS" ;;
  "$UPGRADE_FROM_K8S") printf '%s' "$COREDNS_FROM" ;;
  *) die "this recipe builds no Kubernetes $1" ;;
  esac
}

# derive_overrides K8S_VERSION: the group_vars the derivation for it adds (VAR=VALUE words): none for
# K8S; for UPGRADE_FROM_K8S its kube_version and the etcd_version the test stack pins (see the header).
derive_overrides() {
  case "$1" in
  "$K8S") ;;
  "$UPGRADE_FROM_K8S") printf '%s\n' "kube_version=$1" "etcd_version=$ETCD" ;;
  *) die "this recipe builds no Kubernetes $1" ;;
  esac
}

# derive MODE K8S_VERSION: derive.py for that version's test stack.
derive() {
  local -a ov
  mapfile -t ov < <(derive_overrides "$2")
  python3 "$BUILD/derive.py" "$KS" "$1" "$KUBESPRAY_VERSION" "${ov[@]}"
}

# derive_extra DERIVED: derived-extra.json: the images Kubespray derives for K8S with group_vars
# kube_vip_version=KUBE_VIP_EXTRA that DERIVED (K8S's derivation) lacks; exactly kube-vip at that tag,
# with the same files as DERIVED.
derive_extra() {
  python3 "$BUILD/derive.py" "$KS" files "$KUBESPRAY_VERSION" "kube_vip_version=$KUBE_VIP_EXTRA" |
    jq --slurpfile b "$1" --arg t "v$KUBE_VIP_EXTRA" '
      [$b[0].images[] | "\(.repo):\(.tag)"] as $have
      | [.images[] | select("\(.repo):\(.tag)" | IN($have[]) | not)] as $new
      | if .errors != {} then error("could not evaluate some downloads: \(.errors)")
        elif .files != $b[0].files then error("its files differ from the default derivation")
        elif ($new | map("\(.name) \(.tag)")) != ["kube-vip \($t)"] then error("its new images are \($new | map(.ref))")
        else {kubesprayVersion, filesRepo, registry, groupVars, versions: {kube_vip_version: .versions.kube_vip_version},
              files: [], images: $new} end' ||
    die "Kubespray $KUBESPRAY_VERSION with kube_vip_version=$KUBE_VIP_EXTRA does not derive just kube-vip:v$KUBE_VIP_EXTRA more"
}

# build_sources [K8S_VERSION]: extracts Kubespray (for K8S only) and derives that version's artifacts
# into $OUT/sources[-<version>]/derived.json, checked against the versions this recipe builds.
build_sources() {
  local v="${1:-$K8S}" f o
  coredns_for "$v" >/dev/null
  o="$OUT/sources$(sfx "$v")"
  mkdir -p "$o"
  if [[ $v == "$K8S" ]]; then
    f="$(tarball "kubespray-$KUBESPRAY_VERSION")"
    rm -rf "$KS"
    mkdir -p "$KS"
    tar -xzf "$f" -C "$KS" --strip-components=1
  fi
  [[ -f $KS/galaxy.yml ]] || die "no Kubespray tree in $KS (remove mirror-build/stamps/sources)"
  write_derive_py
  derive files "$v" >"$o/derived.json.tmp"
  mv "$o/derived.json.tmp" "$o/derived.json"
  jq . "$o/derived.json"
  # The versions this recipe builds must be the ones Kubespray derives.
  local want
  want="$(jq -cn --arg k "$v" --arg e "$ETCD" --arg c "$CNI" --arg cr "$CRICTL" --arg r "$RUNC" \
    --arg ct "$CONTAINERD" --arg n "$NERDCTL" --arg p "$PAUSE" --arg cd "$(coredns_for "$v")" --arg f "$FLANNEL" \
    --arg fc "$FLANNEL_CNI" --arg kv "$KUBE_VIP" \
    '{kube_version: $k, etcd_version: $e, cni_version: $c, crictl_version: $cr, runc_version: $r,
      containerd_version: $ct, nerdctl_version: $n, pod_infra_version: $p, coredns_version: $cd,
      flannel_version: $f, flannel_cni_version: $fc, kube_vip_version: $kv}')"
  jq -e --argjson w "$want" '.versions | with_entries(select(.key | in($w))) == $w' \
    "$o/derived.json" >/dev/null ||
    die "Kubespray $KUBESPRAY_VERSION derives other versions for Kubernetes $v than this recipe builds: $(jq -c .versions "$o/derived.json")"
  jq -e '.errors == {}' "$o/derived.json" >/dev/null ||
    die "could not evaluate some downloads for Kubernetes $v: $(jq -c .errors "$o/derived.json")"
}

build_crane() {
  rm -rf "$OUT/crane"
  mkdir -p "$OUT/crane" "$WORK"
  GOBIN="$OUT/crane" go install -trimpath -ldflags "-s -w" "github.com/google/go-containerregistry/cmd/crane@$CRANE"
  "$OUT/crane/crane" version
}

# build_kubernetes [VERSION]: the seven binaries of k8s.io/kubernetes@vVERSION (default K8S) in
# $OUT/kubernetes (K8S, with pause) or $OUT/kubernetes-VERSION (step kubernetes-VERSION, no pause:
# pause 3.10.1 is the same for both versions).
build_kubernetes() {
  local v="${1:-$K8S}" m w o commit date minor ld p
  m="k8s.io/kubernetes@v$v" w="$WORK/kubernetes$(sfx "$v")" o="$OUT/kubernetes$(sfx "$v")"
  mkdir -p "$WORK"
  commit="$(commit_of "$m")"
  date="$(release_time "$m")"
  copy_module "$m" "$w"
  rm -rf "$w/go.work" "$w/go.work.sum" "$w/vendor"
  local -a rep=()
  while read -r p; do rep+=("-replace=$p=$p@v0.${v#1.}"); done < <(
    run_in "$w" go mod edit -json | jq -r '.Replace[] | select(.New.Path | startswith("./staging")) | .Old.Path')
  log "kubernetes $v: ${#rep[@]} staging replaces -> v0.${v#1.}"
  run_in "$w" go mod edit "${rep[@]}"
  minor="${v#1.}"
  minor="${minor%%.*}"
  ld="-s -w"
  for p in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
    ld+=" -X $p.gitVersion=v$v -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
    ld+=" -X $p.buildDate=$date -X $p.gitCommit=$commit"
  done
  rm -rf "$o"
  mkdir -p "$o"
  run_in "$w" go build -trimpath -tags=selinux,notest,grpcnotrace -ldflags "$ld" -o "$o/" \
    ./cmd/kubeadm ./cmd/kubelet ./cmd/kubectl ./cmd/kube-apiserver ./cmd/kube-controller-manager \
    ./cmd/kube-scheduler ./cmd/kube-proxy
  [[ $v != "$K8S" ]] || gcc -Os -static "-DVERSION=v$PAUSE" -o "$o/pause" "$w/build/pause/linux/pause.c"
  ls -l "$o"
}

build_etcd() {
  local w="$WORK/etcd" commit
  wrapper "$w" "go.etcd.io/etcd/server/v3@v$ETCD" "go.etcd.io/etcd/etcdctl/v3@v$ETCD" "go.etcd.io/etcd/etcdutl/v3@v$ETCD"
  commit="$(commit_of "go.etcd.io/etcd/server/v3@v$ETCD")"
  rm -rf "$OUT/etcd"
  mkdir -p "$OUT/etcd"
  run_in "$w" go build -trimpath -ldflags "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=${commit:0:9}" \
    -o "$OUT/etcd/" go.etcd.io/etcd/server/v3 go.etcd.io/etcd/etcdctl/v3 go.etcd.io/etcd/etcdutl/v3
  mv "$OUT/etcd/server" "$OUT/etcd/etcd"
  ls -l "$OUT/etcd"
}

# build_coredns [VERSION]: coredns VERSION (default COREDNS) in $OUT/coredns, or in
# $OUT/coredns-VERSION for another version (step coredns-VERSION).
build_coredns() {
  local v="${1:-$COREDNS}" w o commit
  w="$WORK/coredns" o="$OUT/coredns"
  [[ $v == "$COREDNS" ]] || w+="-$v" o+="-$v"
  wrapper "$w" "github.com/coredns/coredns@v$v"
  commit="$(commit_of "github.com/coredns/coredns@v$v")"
  rm -rf "$o"
  mkdir -p "$o"
  run_in "$w" go build -trimpath -ldflags "-s -w -X github.com/coredns/coredns/coremain.GitCommit=${commit:0:7}" \
    -o "$o/coredns" github.com/coredns/coredns
}

build_cni() {
  local w="$WORK/cni" m=github.com/containernetworking/plugins
  wrapper "$w" "$m@v$CNI"
  local -a pkgs
  mapfile -t pkgs < <(run_in "$w" go list -e -f '{{if eq .Name "main"}}{{.ImportPath}}{{end}}' "$m/plugins/..." | grep -v /sample)
  log "cni: ${#pkgs[@]} plugins: ${pkgs[*]##*/}"
  rm -rf "$OUT/cni"
  mkdir -p "$OUT/cni"
  run_in "$w" go build -trimpath -ldflags "-s -w -X $m/pkg/utils/buildversion.BuildVersion=v$CNI" -o "$OUT/cni/" "${pkgs[@]}"
  local dir
  dir="$(origin "$m@v$CNI" Dir)"
  install -m 0644 "$dir/LICENSE" "$dir/README.md" "$OUT/cni/"
  ls -l "$OUT/cni"
}

build_containerd() {
  local w="$WORK/containerd" m=github.com/containerd/containerd/v2 commit
  wrapper "$w" "$m@v$CONTAINERD"
  commit="$(commit_of "$m@v$CONTAINERD")"
  rm -rf "$OUT/containerd"
  mkdir -p "$OUT/containerd/bin"
  run_in "$w" go build -trimpath -tags "no_btrfs urfave_cli_no_docs" \
    -ldflags "-s -w -X $m/version.Version=v$CONTAINERD -X $m/version.Revision=$commit -X $m/version.Package=github.com/containerd/containerd/v2" \
    -o "$OUT/containerd/bin/" "$m/cmd/containerd" "$m/cmd/containerd-shim-runc-v2" "$m/cmd/ctr"
  ls -l "$OUT/containerd/bin"
}

build_runc() {
  local w="$WORK/runc" m=github.com/opencontainers/runc commit
  wrapper "$w" "$m@v$RUNC"
  commit="$(commit_of "$m@v$RUNC")"
  rm -rf "$OUT/runc"
  mkdir -p "$OUT/runc"
  CGO_ENABLED=1 run_in "$w" go build -trimpath -tags "seccomp netgo osusergo urfave_cli_no_docs" \
    -ldflags "-s -w -X main.version=$RUNC -X main.gitCommit=$commit -extldflags -static" -o "$OUT/runc/runc" "$m"
}

build_flannel() {
  local m="github.com/flannel-io/flannel@v$FLANNEL" w="$WORK/flannel"
  copy_module "$m" "$w"
  # Its tencentvpc backend needs a module the proxy refuses; this mirror uses vxlan.
  grep -n tencentvpc "$w/main.go"
  sed -i '/tencentvpc/d' "$w/main.go"
  rm -rf "$OUT/flannel"
  mkdir -p "$OUT/flannel"
  CGO_ENABLED=1 run_in "$w" go build -trimpath \
    -ldflags "-s -w -X github.com/flannel-io/flannel/pkg/version.Version=v$FLANNEL -extldflags -static" \
    -o "$OUT/flannel/flanneld" .
}

build_crictl() {
  local w="$WORK/crictl" m=sigs.k8s.io/cri-tools
  wrapper "$w" "$m@v$CRICTL"
  rm -rf "$OUT/crictl"
  mkdir -p "$OUT/crictl"
  run_in "$w" go build -trimpath -ldflags "-s -w -X $m/pkg/version.Version=v$CRICTL" -o "$OUT/crictl/crictl" "$m/cmd/crictl"
}

# build_kube_vip [VERSION]: kube-vip VERSION (default KUBE_VIP) in $OUT/kube_vip, or KUBE_VIP_EXTRA in
# $OUT/kube_vip-VERSION (step kube-vip-VERSION); the same build for both.
build_kube_vip() {
  local v="${1:-$KUBE_VIP}" o="$OUT/kube_vip" commit
  case "$v" in
  "$KUBE_VIP") commit="$KUBE_VIP_COMMIT" ;;
  "$KUBE_VIP_EXTRA") commit="$KUBE_VIP_EXTRA_COMMIT" o+="-$v" ;;
  *) die "this recipe builds no kube-vip $v" ;;
  esac
  extract "kube-vip-v$v"
  rm -rf "$o"
  mkdir -p "$o"
  run_in "$WORK/kube-vip-v$v" go build -trimpath \
    -ldflags "-s -w -X=main.Version=v$v -X=main.Build=${commit:0:8}" -o "$o/kube-vip" .
}

build_nerdctl() {
  local w="$WORK/nerdctl-v$NERDCTL" p=github.com/containerd/nerdctl/v2/pkg/version
  extract "nerdctl-v$NERDCTL"
  rm -rf "$OUT/nerdctl"
  mkdir -p "$OUT/nerdctl"
  run_in "$w" go build -trimpath -ldflags "-s -w -X $p.Version=v$NERDCTL -X $p.Revision=$NERDCTL_COMMIT" \
    -o "$OUT/nerdctl/nerdctl" ./cmd/nerdctl
  install -m 0755 "$w/extras/rootless/containerd-rootless.sh" "$w/extras/rootless/containerd-rootless-setuptool.sh" "$OUT/nerdctl/"
}

build_flannel_cni() {
  local w="$WORK/flannel-cni-plugin-v$FLANNEL_CNI"
  extract "flannel-cni-plugin-v$FLANNEL_CNI"
  rm -rf "$OUT/flannel_cni"
  mkdir -p "$OUT/flannel_cni"
  CGO_ENABLED=1 run_in "$w" go build -trimpath -tags "netgo osusergo no_stage static_build" \
    -ldflags "-s -w -extldflags -static -X main.Version=v$FLANNEL_CNI -X main.Commit=${FLANNEL_CNI_COMMIT:0:8} -X main.Program=flannel" \
    -o "$OUT/flannel_cni/flannel" .
}

# debs_wanted: the packages (with their dependencies) the kube-proxy and flannel images take.
debs_wanted() {
  apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
    --no-replaces --no-enhances --no-pre-depends iptables ipset conntrack nftables |
    grep -v '^[ <]' | sort -u
}

# Debian userland for the kube-proxy and flannel images: iptables (nft
# backend), ip6tables, nft, ipset, conntrack with their libraries.
build_debs() {
  local d="$BUILD/debs" root="$OUT/debs/root" pkgs
  rm -rf "$d" "$OUT/debs"
  mkdir -p "$d" "$root"
  pkgs="$(debs_wanted)"
  [[ -n $pkgs ]] || die "apt-cache resolves no packages for the images (run apt-get update)"
  # shellcheck disable=SC2086 # one word per package
  run_in "$d" apt-get download $pkgs ca-certificates
  ls -l "$d"
  local deb
  for deb in "$d"/*.deb; do
    [[ $deb == */ca-certificates_* ]] && continue
    dpkg-deb -x "$deb" "$root"
  done
  rm -rf "$root"/usr/share/{doc,man,info,lintian,locale,bash-completion,zsh} "$root/usr/share/gcc"
  # update-alternatives is not run: point iptables & co at the nft backend.
  local t
  for t in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
    ln -sfn xtables-nft-multi "$root/usr/sbin/$t"
  done
  ldconfig -r "$root"
  # The CA bundle update-ca-certificates would build from Mozilla's set.
  local ca="$WORK/ca-certificates"
  rm -rf "$ca"
  dpkg-deb -x "$d"/ca-certificates_*.deb "$ca"
  find "$ca/usr/share/ca-certificates/mozilla" -name '*.crt' -print0 | LC_ALL=C sort -z |
    xargs -0 cat >"$OUT/debs/ca-certificates.crt"
  find "$d" -name '*.deb' -printf '%f\n' | sort >"$OUT/debs/packages.txt"
}

# ------------------------------------------------------------ the files repo --
# derived_of K8S_VERSION: that version's derivation in the mirror (derived.json for K8S); "extra":
# derived-extra.json (see derive_extra).
derived_of() {
  printf '%s' "$MIRROR/derived$(sfx "$1").json"
}

# fpath NAME [DERIVED]: where Kubespray's download NAME lives in the files repo (dir created), by
# DERIVED (default: K8S's derived.json).
fpath() {
  local path derived="${2:-$MIRROR/derived.json}"
  path="$(jq -er --arg n "$1" '.files[] | select(.name == $n) | .path' "$derived")" ||
    die "Kubespray derives no file for $1 ($(basename "$derived"))"
  mkdir -p "$(dirname "$MIRROR/files/$path")"
  printf '%s' "$MIRROR/files/$path"
}

assemble_files() {
  local F="$MIRROR/files" derived="$MIRROR/derived.json" st="$WORK/stage" k d
  rm -rf "$F" "$st"
  mkdir -p "$F" "$st"
  for k in kubeadm kubelet kubectl; do
    d="$(fpath "$k")"
    install -m 0755 "$OUT/kubernetes/$k" "$d"
  done
  d="$(fpath runc)"
  install -m 0755 "$OUT/runc/runc" "$d"
  local e="$st/etcd/etcd-v$ETCD-linux-amd64"
  mkdir -p "$e"
  install -m 0755 "$OUT/etcd/etcd" "$OUT/etcd/etcdctl" "$OUT/etcd/etcdutl" "$e/"
  d="$(fpath etcd)"
  dtar "$d" "$st/etcd" "etcd-v$ETCD-linux-amd64"
  mkdir -p "$st/cni"
  cp -a "$OUT/cni/." "$st/cni/"
  d="$(fpath cni)"
  dtar "$d" "$st/cni" .
  d="$(fpath crictl)"
  dtar "$d" "$OUT/crictl" crictl
  d="$(fpath containerd)"
  dtar "$d" "$OUT/containerd" bin
  d="$(fpath nerdctl)"
  dtar "$d" "$OUT/nerdctl" nerdctl containerd-rootless.sh containerd-rootless-setuptool.sh
  # The upgrade's first version: its own kubeadm, kubelet, kubectl; every other file it derives must
  # be one of K8S's (the same path: this recipe builds it once).
  local up n p
  up="$(derived_of "$UPGRADE_FROM_K8S")"
  for k in kubeadm kubelet kubectl; do
    d="$(fpath "$k" "$up")"
    [[ ! -e $d ]] || die "$k of Kubernetes $UPGRADE_FROM_K8S has the same path as $K8S's: ${d#"$F"/}"
    install -m 0755 "$OUT/kubernetes-$UPGRADE_FROM_K8S/$k" "$d"
  done
  while read -r n p; do
    [[ -f $F/$p ]] || die "Kubespray derives $n at $p for Kubernetes $UPGRADE_FROM_K8S, but this recipe builds $(jq -r --arg n "$n" '.files[] | select(.name == $n) | .path' "$derived")"
  done < <(jq -r '.files[] | "\(.name) \(.path)"' "$up")
  jq -e -s --argjson n "$(find "$F" -type f | wc -l)" '[.[].files[].path] | unique | length == $n' "$derived" "$up" >/dev/null ||
    die "the files repo does not hold exactly the files Kubespray derives for $K8S and $UPGRADE_FROM_K8S"
}

# expect_commit WHAT MODULE@VERSION PREFIX CMD...: with a pinned commit, CMD's output must show it after
# PREFIX (a regex; the first 7 hex digits are enough for the short stamps); without one, says so.
expect_commit() {
  local what="$1" module="$2" pin="${PINNED_COMMITS[$2]:-}" prefix="$3"
  shift 3
  if [[ -z $pin ]]; then
    log "  -- $what: built without a commit (no pinned commit for $module in PINNED_COMMITS)"
    return 0
  fi
  expect "$what commit" "$prefix${pin:0:7}" "$@"
}

# check_files K8S_VERSION: unpack every file Kubespray derives for that version as it does and run
# each binary.
check_files() {
  local k8s="$1" c="$WORK/check-files" v="v$1" derived kubeadm kubelet kubectl runc etcd cni crictl containerd nerdctl
  derived="$(derived_of "$k8s")"
  log "checking the files of Kubernetes $k8s ($(basename "$derived"))"
  rm -rf "$c"
  mkdir -p "$c"
  kubeadm="$(fpath kubeadm "$derived")" kubelet="$(fpath kubelet "$derived")" kubectl="$(fpath kubectl "$derived")"
  runc="$(fpath runc "$derived")" etcd="$(fpath etcd "$derived")" cni="$(fpath cni "$derived")"
  crictl="$(fpath crictl "$derived")" containerd="$(fpath containerd "$derived")" nerdctl="$(fpath nerdctl "$derived")"
  expect kubeadm "^$v\$" "$kubeadm" version -o short
  expect kubelet "^Kubernetes $v\$" "$kubelet" --version
  expect kubectl "\"gitVersion\": \"$v\"" "$kubectl" version --client -o json
  expect runc "^runc version $RUNC\$" "$runc" --version
  expect "runc seccomp" "^libseccomp: " "$runc" --version
  expect_commit kubeadm "k8s.io/kubernetes@$v" '"gitCommit": "' "$kubeadm" version -o json
  expect_commit runc "github.com/opencontainers/runc@v$RUNC" '^commit: ' "$runc" --version
  mkdir -p "$c/etcd" && tar -xzf "$etcd" -C "$c/etcd"
  local e="$c/etcd/etcd-v$ETCD-linux-amd64"
  expect etcd "^etcd Version: $ETCD\$" "$e/etcd" --version
  expect_commit etcd "go.etcd.io/etcd/server/v3@v$ETCD" '^Git SHA: ' "$e/etcd" --version
  expect etcdctl "^etcdctl version: $ETCD\$" "$e/etcdctl" version
  expect etcdutl "^etcdutl version: $ETCD\$" "$e/etcdutl" version
  mkdir -p "$c/cni" && tar -xzf "$cni" -C "$c/cni"
  local pl
  for pl in bridge host-local loopback portmap bandwidth firewall tuning; do
    expect "cni $pl" "v$CNI" "$c/cni/$pl"
  done
  mkdir -p "$c/crictl" && tar -xzf "$crictl" -C "$c/crictl"
  expect crictl "^crictl version v$CRICTL\$" "$c/crictl/crictl" --version
  mkdir -p "$c/containerd" && tar -xzf "$containerd" -C "$c/containerd" --strip-components=1
  expect containerd "^containerd github.com/containerd/containerd/v2 v$CONTAINERD " "$c/containerd/containerd" --version
  expect_commit containerd "github.com/containerd/containerd/v2@v$CONTAINERD" "^containerd .* v$CONTAINERD " \
    "$c/containerd/containerd" --version
  expect ctr "^ctr github.com/containerd/containerd/v2 v$CONTAINERD\$" "$c/containerd/ctr" --version
  expect containerd-shim-runc-v2 "Version: +v$CONTAINERD\$" "$c/containerd/containerd-shim-runc-v2" -v
  mkdir -p "$c/nerdctl" && tar -xzf "$nerdctl" -C "$c/nerdctl"
  expect nerdctl "^nerdctl version v?$NERDCTL\$" "$c/nerdctl/nerdctl" --version
}

# ------------------------------------------------------------------ images --
REG_PID=""
stop_registry() {
  if [[ -n $REG_PID ]]; then
    kill "$REG_PID" 2>/dev/null || true
    wait "$REG_PID" 2>/dev/null || true
    REG_PID=""
  fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# skeleton ROOT: what every image but pause has (passwd, group, nsswitch, /tmp).
skeleton() {
  mkdir -p "$1/etc" "$1/tmp" "$1/root"
  chmod 1777 "$1/tmp"
  chmod 0700 "$1/root"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' >"$1/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$1/etc/group"
  printf 'hosts: files dns\n' >"$1/etc/nsswitch.conf"
}

# with_busybox ROOT: busybox-static with its applets (cp, sh, ...) where ROOT has no such file.
with_busybox() {
  local bb a
  bb="$(command -v busybox)"
  install -D -m 0755 "$bb" "$1/bin/busybox"
  while read -r a; do
    [[ -e $1/$a || -L $1/$a ]] && continue
    mkdir -p "$(dirname "$1/$a")"
    ln -s /bin/busybox "$1/$a"
  done < <("$bb" --list-full)
}

with_certs() {
  install -D -m 0644 "$OUT/debs/ca-certificates.crt" "$1/etc/ssl/certs/ca-certificates.crt"
}

with_debs() {
  cp -a "$OUT/debs/root/." "$1/"
}

# image_ref K8S_VERSION NAME: the repo:tag Kubespray derives for image NAME at that version.
image_ref() {
  jq -er --arg n "$2" '.images[] | select(.name == $n) | "\(.repo):\(.tag)"' "$(derived_of "$1")" ||
    die "Kubespray derives no image $2 for Kubernetes $1"
}

# The repo:tag of every image pushed -> its digest (each is built once, whichever versions derive it).
declare -A PUSHED=()

# push_image K8S_VERSION NAME ENTRYPOINT [ENV]: builds $WORK/images/K8S_VERSION/NAME/root (already
# filled) into the layer, pushes it as the repo:tag Kubespray derives for NAME at that version
# (K8S_VERSION "extra": in derived-extra.json) and records its digest in PUSHED.
push_image() {
  local k8s="$1" name="$2" entry="$3" env="${4:-}" rt ref
  rt="$(image_ref "$k8s" "$name")"
  [[ -z ${PUSHED[$rt]:-} ]] || die "$rt would be pushed twice (image $name of Kubernetes $k8s)"
  ref="$REG_ADDR/$rt"
  local d="$WORK/images/$k8s/$name"
  layer_tar "$d/layer.tar" "$d/root"
  "$CRANE" append --insecure --oci-empty-base -f "$d/layer.tar" -t "$ref" >/dev/null 2>>"$BUILD/logs/images.log"
  local -a mut=(--set-platform linux/amd64 --entrypoint "$entry")
  [[ -n $env ]] && mut+=(--env "$env")
  "$CRANE" mutate --insecure "$ref" "${mut[@]}" -t "$ref" >/dev/null 2>>"$BUILD/logs/images.log"
  PUSHED[$rt]="$("$CRANE" digest --insecure "$ref" 2>>"$BUILD/logs/images.log")" || die "$ref: no digest after the push"
  log "  pushed $rt ($(du -m "$d/layer.tar" | cut -f1) MB uncompressed, ${PUSHED[$rt]})"
}

# push_kube_vip K8S_VERSION BINARY_DIR: the kube-vip image of BINARY_DIR/kube-vip (with CA
# certificates, like upstream's image FROM scratch).
push_kube_vip() {
  local r
  r="$(image_root "$1" kube-vip)"
  skeleton "$r"
  with_certs "$r"
  install -m 0755 "$2/kube-vip" "$r/kube-vip"
  push_image "$1" kube-vip /kube-vip
}

# image_root K8S_VERSION NAME: a fresh root dir for the image NAME of that version (printed).
image_root() {
  local r="$WORK/images/$1/$2/root"
  rm -rf "$r"
  mkdir -p "$r"
  printf '%s' "$r"
}

# verify_image K8S_VERSION NAME: pulls NAME back, checks platform, runs checks in its root.
verify_image() {
  local rt ref cfg x
  rt="$(image_ref "$1" "$2")"
  ref="$REG_ADDR/$rt"
  cfg="$("$CRANE" config --insecure "$ref")"
  jq -e '.architecture == "amd64" and .os == "linux" and (.config.Entrypoint | length) > 0' <<<"$cfg" >/dev/null ||
    die "$ref: config is not linux/amd64 with an entrypoint: $cfg"
  x="$WORK/verify/$1/$2"
  rm -rf "$x"
  mkdir -p "$x"
  "$CRANE" export --insecure "$ref" - | tar -x -C "$x"
  VERIFY_ROOT="$x"
  VERIFY_EP="$(jq -r '.config.Entrypoint[0]' <<<"$cfg")"
}

# add_kubeadm_images K8S_VERSION: adds kubeadm's images to that version's derived*.json: exactly what
# Kubespray's prep_kubeadm_images asks that version's kubeadm for (coredns and pause are its own).
add_kubeadm_images() {
  local k8s="$1" derived y t reg ref
  derived="$(derived_of "$k8s")"
  y="$WORK/kubeadm-images$(sfx "$k8s").yaml" t="$WORK/kubeadm-images$(sfx "$k8s").txt"
  derive kubeadm-images-config "$k8s" >"$y"
  "$OUT/kubernetes$(sfx "$k8s")/kubeadm" config images list --config "$y" | grep -Ev 'coredns|pause' >"$t"
  log "kubeadm $k8s config images list (Kubespray's kubeadm-images.yaml): $(tr '\n' ' ' <"$t")"
  reg="$(jq -r .registry "$derived")"
  local tmp="$derived.tmp"
  while read -r ref; do
    local rt="${ref#"$reg"/}" bn
    [[ $rt != "$ref" ]] || die "kubeadm image $ref is not under the mirror registry $reg"
    [[ ${rt##*:} == "v$k8s" ]] || die "kubeadm $k8s lists $ref, not tagged v$k8s"
    bn="${rt%%:*}"
    bn="${bn##*/}"
    jq --arg n "kubeadm_$bn" --arg ref "$ref" --arg repo "${rt%%:*}" --arg tag "${rt##*:}" \
      '.images += [{name: $n, ref: $ref, repo: $repo, tag: $tag, groups: ["k8s_cluster"], kubeadm: true}]' \
      "$derived" >"$tmp"
    mv "$tmp" "$derived"
  done <"$t"
}

# push_version_images K8S_VERSION: the images built per Kubernetes version: kubeadm's four and coredns.
push_version_images() {
  local k8s="$1" c r cv
  for c in kube-apiserver kube-controller-manager kube-scheduler kube-proxy; do
    r="$(image_root "$k8s" "kubeadm_$c")"
    mkdir -p "$r/usr/local/bin"
    skeleton "$r"
    [[ $c == kube-proxy ]] && with_debs "$r"
    install -m 0755 "$OUT/kubernetes$(sfx "$k8s")/$c" "$r/usr/local/bin/$c"
    push_image "$k8s" "kubeadm_$c" "/usr/local/bin/$c" "$IMAGE_PATH_ENV"
  done
  cv="$(coredns_for "$k8s")"
  r="$(image_root "$k8s" coredns)"
  skeleton "$r"
  with_certs "$r"
  install -m 0755 "$OUT/coredns$([[ $cv == "$COREDNS" ]] || printf -- '-%s' "$cv")/coredns" "$r/coredns"
  push_image "$k8s" coredns /coredns
}

# verify_version_images K8S_VERSION: runs the entrypoints of push_version_images' images.
verify_version_images() {
  local k8s="$1" c t cv
  for c in kube-apiserver kube-controller-manager kube-scheduler kube-proxy; do
    verify_image "$k8s" "kubeadm_$c"
    expect "image $c" "^Kubernetes v$k8s\$" in_root "$VERIFY_ROOT" "$VERIFY_EP" --version
  done
  for t in iptables ip6tables iptables-restore iptables-save; do
    expect "image kube-proxy $t" "\(nf_tables\)" in_root "$VERIFY_ROOT" "$t" --version
  done
  expect "image kube-proxy nft" "^nftables v" in_root "$VERIFY_ROOT" nft --version
  expect "image kube-proxy ipset" "^ipset v" in_root "$VERIFY_ROOT" ipset --version
  expect "image kube-proxy conntrack" "^conntrack v" in_root "$VERIFY_ROOT" conntrack --version
  cv="$(coredns_for "$k8s")"
  verify_image "$k8s" coredns
  expect "image coredns" "^CoreDNS-$cv\$" in_root "$VERIFY_ROOT" "$VERIFY_EP" -version
  expect_commit "image coredns" "github.com/coredns/coredns@v$cv" ', ' in_root "$VERIFY_ROOT" "$VERIFY_EP" -version
}

assemble_images() {
  local images="$WORK/images" k8s
  rm -rf "$images" "$MIRROR/registry" "$WORK/verify"
  mkdir -p "$images" "$MIRROR/registry" "$WORK/verify"
  CRANE="$MIRROR/bin/crane"
  # Push into a writable registry on loopback; mirror.sh serves it read-only later.
  local port conf="$WORK/registry-push.yml"
  port="$(free_port)"
  REG_ADDR="127.0.0.1:$port"
  cat >"$conf" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $MIRROR/registry
  delete:
    enabled: false
http:
  addr: $REG_ADDR
EOF
  docker-registry serve "$conf" >"$BUILD/logs/registry-push.log" 2>&1 &
  REG_PID=$!
  trap stop_registry EXIT
  for _ in $(seq 1 100); do
    curl -fsS "http://$REG_ADDR/v2/" >/dev/null 2>&1 && break
    kill -0 "$REG_PID" 2>/dev/null || die "docker-registry exited: $(tail -5 "$BUILD/logs/registry-push.log")"
    sleep 0.1
  done
  curl -fsS "http://$REG_ADDR/v2/" >/dev/null || die "docker-registry does not answer on $REG_ADDR"
  : >"$BUILD/logs/images.log"
  log "registry for the push on $REG_ADDR (storage $MIRROR/registry)"

  for k8s in "$K8S" "$UPGRADE_FROM_K8S"; do
    add_kubeadm_images "$k8s"
    push_version_images "$k8s"
  done
  # The rest is built once, as K8S's images; the other version must derive the same repo:tag.
  local r
  r="$(image_root "$K8S" pod_infra)"
  install -m 0755 "$OUT/kubernetes/pause" "$r/pause"
  push_image "$K8S" pod_infra /pause
  push_kube_vip "$K8S" "$OUT/kube_vip"
  push_kube_vip extra "$OUT/kube_vip-$KUBE_VIP_EXTRA"
  r="$(image_root "$K8S" flannel)"
  mkdir -p "$r/opt/bin"
  skeleton "$r"
  with_debs "$r"
  with_busybox "$r"
  install -m 0755 "$OUT/flannel/flanneld" "$r/opt/bin/flanneld"
  push_image "$K8S" flannel /opt/bin/flanneld "$IMAGE_PATH_ENV"
  r="$(image_root "$K8S" flannel_init)"
  skeleton "$r"
  with_busybox "$r"
  install -m 0755 "$OUT/flannel_cni/flannel" "$r/flannel"
  push_image "$K8S" flannel_init /flannel "$IMAGE_PATH_ENV"

  # Every image Kubespray derives, at either version and with the extra group_vars, must be in the registry.
  local n rt
  for k8s in "$K8S" "$UPGRADE_FROM_K8S" extra; do
    while read -r n rt; do
      [[ -n ${PUSHED[$rt]:-} ]] || die "Kubespray derives image $n ($rt) for Kubernetes $k8s but this recipe does not build it"
    done < <(jq -r '.images[] | "\(.name) \(.repo):\(.tag)"' "$(derived_of "$k8s")")
  done

  log "checking each image as pulled back from the registry"
  for k8s in "$K8S" "$UPGRADE_FROM_K8S"; do
    verify_version_images "$k8s"
  done
  verify_image "$K8S" pod_infra
  expect "image pause" "v$PAUSE" in_root "$VERIFY_ROOT" "$VERIFY_EP" -v
  verify_image "$K8S" kube-vip
  expect "image kube-vip" "v$KUBE_VIP" in_root "$VERIFY_ROOT" "$VERIFY_EP" version
  verify_image extra kube-vip
  expect "image kube-vip $KUBE_VIP_EXTRA" "v$KUBE_VIP_EXTRA" in_root "$VERIFY_ROOT" "$VERIFY_EP" version
  verify_image "$K8S" flannel
  expect "image flannel" "^v$FLANNEL\$" in_root "$VERIFY_ROOT" "$VERIFY_EP" --version
  expect "image flannel iptables" "\(nf_tables\)" in_root "$VERIFY_ROOT" iptables --version
  # Kubespray's install-cni init container: cp -f /etc/kube-flannel/cni-conf.json ...
  in_root "$VERIFY_ROOT" cp -f /etc/passwd /tmp/cp-check || die "image flannel: cp does not run"
  verify_image "$K8S" flannel_init
  expect "image flannel-cni-plugin" "version v$FLANNEL_CNI" in_root "$VERIFY_ROOT" "$VERIFY_EP"
  # Kubespray's install-cni-plugin init container: cp -f /flannel /opt/cni/bin/flannel
  in_root "$VERIFY_ROOT" cp -f /flannel /tmp/flannel || die "image flannel-cni-plugin: cp does not run"
  log "  ok every image's entrypoint runs"
  stop_registry
  trap - EXIT
}

# write_manifest K8S_VERSION: manifest[-<version>].json and checksums[-<version>].json of that
# version's derivation, with the sha256 of the files repo.
write_manifest() {
  local F="$MIRROR/files" derived manifest sums="$WORK/sums.json"
  derived="$(derived_of "$1")" manifest="$MIRROR/manifest$(sfx "$1").json"
  (cd "$F" && find . -type f -printf '%P\n' | LC_ALL=C sort | xargs sha256sum) |
    jq -Rn '[inputs | capture("^(?<sha256>[0-9a-f]{64})  (?<path>.*)$")]' >"$sums"
  jq -n --slurpfile d "$derived" --slurpfile s "$sums" --arg v "$KUBESPRAY_VERSION" '
    ($s[0] | map({key: .path, value: .sha256}) | from_entries) as $sha
    | {kubesprayVersion: $v,
       files: ($d[0].files | map({path, sha256: $sha[.path], name, checksumVar}) | sort_by(.path)),
       images: ($d[0].images | map({repo, tag}) | sort_by(.repo, .tag))}' >"$manifest"
  jq '[.files[] | {key: .name, value: .sha256}] | from_entries' "$manifest" |
    jq -S . >"$MIRROR/checksums$(sfx "$1").json"
  jq -e '[.files[] | .sha256 | select(. == null)] | length == 0' "$manifest" >/dev/null ||
    die "a file derived for Kubernetes $1 is missing from the files repo"
}

# write_manifest_extra: manifest-extra.json of derived-extra.json, with each image's digest as pushed.
write_manifest_extra() {
  local digests rt
  digests="$(for rt in "${!PUSHED[@]}"; do printf '%s\t%s\n' "$rt" "${PUSHED[$rt]}"; done |
    jq -Rn '[inputs | split("\t") | {key: .[0], value: .[1]}] | from_entries')"
  jq --argjson dg "$digests" --arg v "$KUBESPRAY_VERSION" '
    {kubesprayVersion: $v, groupVars,
     images: (.images | map({repo, tag, digest: $dg["\(.repo):\(.tag)"]}) | sort_by(.repo, .tag))}' \
    "$(derived_of extra)" >"$MIRROR/manifest-extra.json"
  jq -e '.images | length > 0 and all(.digest | test("^sha256:[0-9a-f]{64}$"))' "$MIRROR/manifest-extra.json" >/dev/null ||
    die "manifest-extra.json: an extra image without a digest"
}

# ---------------------------------------------------------- --check-sources --
# Every metadata and source step of the build, without a compile: the upstream snapshots against
# SHA256SUMS, each module's .info (release time, Origin against the pins) and go.mod on the module
# proxy, the staging modules Kubernetes' go.mod replaces, the Debian packages the images take, and
# Kubespray's own derivation of the artifacts. With an empty cache it needs a minute or two, so a
# field or a module the proxy lacks fails in minutes instead of after an hour of builds.
check_sources() {
  local n m p
  for n in "kubespray-$KUBESPRAY_VERSION" "kube-vip-v$KUBE_VIP" "kube-vip-v$KUBE_VIP_EXTRA" "nerdctl-v$NERDCTL" "flannel-cni-plugin-v$FLANNEL_CNI"; do
    tarball "$n" >/dev/null
    log "ok snapshot $n.tar.gz"
  done
  for m in "k8s.io/kubernetes@v$K8S" "k8s.io/kubernetes@v$UPGRADE_FROM_K8S" "go.etcd.io/etcd/server/v3@v$ETCD" \
    "github.com/coredns/coredns@v$COREDNS" "github.com/coredns/coredns@v$COREDNS_FROM" \
    "github.com/containerd/containerd/v2@v$CONTAINERD" "github.com/opencontainers/runc@v$RUNC"; do
    commit_of "$m" >/dev/null
    log "ok $m: released $(release_time "$m"), commit ${PINNED_COMMITS[$m]:-none pinned}"
  done
  for m in "go.etcd.io/etcd/etcdctl/v3@v$ETCD" "go.etcd.io/etcd/etcdutl/v3@v$ETCD" \
    "github.com/containernetworking/plugins@v$CNI" "sigs.k8s.io/cri-tools@v$CRICTL" \
    "github.com/flannel-io/flannel@v$FLANNEL" "github.com/google/go-containerregistry@$CRANE"; do
    release_time "$m" >/dev/null
    log "ok $m"
  done
  local gomod staging k8s d
  for k8s in "$K8S" "$UPGRADE_FROM_K8S"; do
    staging=0
    local -a refused=()
    gomod="$(modinfo "k8s.io/kubernetes@v$k8s" | jq -er .GoMod)"
    while read -r p; do
      if ! release_time "$p@v0.${k8s#1.}" >/dev/null 2>>"$WORK/staging-refused.log"; then refused+=("${p#k8s.io/}"); fi
      staging=$((staging + 1))
    done < <(go mod edit -json "$gomod" | jq -r '.Replace[] | select(.New.Path | startswith("./staging")) | .Old.Path')
    ((staging > 0)) || die "k8s.io/kubernetes@v$k8s: its go.mod replaces no ./staging module"
    ((${#refused[@]} == 0)) ||
      die "the module proxy refuses ${#refused[@]} of the $staging staging modules of k8s.io/kubernetes@v$k8s at v0.${k8s#1.}: ${refused[*]} ($(tail -1 "$WORK/staging-refused.log"))"
    log "ok $staging staging modules of k8s.io/kubernetes at v0.${k8s#1.}"
  done
  debs_wanted >"$WORK/debs-wanted.txt"
  # shellcheck disable=SC2046 # one word per package
  run_in "$WORK" apt-get download --print-uris $(cat "$WORK/debs-wanted.txt") ca-certificates >"$WORK/debs-uris.txt" ||
    die "apt-get cannot download the image packages (run apt-get update)"
  log "ok $(wc -l <"$WORK/debs-uris.txt") Debian packages for the images: $(tr '\n' ' ' <"$WORK/debs-wanted.txt")"
  for k8s in "$K8S" "$UPGRADE_FROM_K8S"; do
    build_sources "$k8s" >/dev/null
    d="$OUT/sources$(sfx "$k8s")/derived.json"
    log "ok Kubespray $KUBESPRAY_VERSION derives $(jq '.files | length' "$d") files and $(jq '.images | length' "$d") images at the recipe's versions for Kubernetes $k8s$(jq -r 'if .groupVars then " (group_vars \(.groupVars | to_entries | map("\(.key)=\(.value)") | join(" ")))" else "" end' "$d")"
  done
  d="$(derive_extra "$OUT/sources/derived.json")"
  log "ok the extra images (group_vars kube_vip_version=$KUBE_VIP_EXTRA): $(jq -r '[.images[].ref] | join(" ")' <<<"$d")"
}

# ------------------------------------------------------------- step runner --
# A step NAME runs build_NAME (dashes as underscores); NAME-<version> runs build_NAME <version>.
if [[ ${1:-} == --step ]]; then
  set -x
  if [[ $2 =~ ^(.+)-([0-9]+(\.[0-9]+)+)$ ]]; then
    "build_${BASH_REMATCH[1]//-/_}" "${BASH_REMATCH[2]}"
  else
    "build_${2//-/_}"
  fi
  exit 0
fi

STEPS=(sources "sources-$UPGRADE_FROM_K8S" crane debs kube-vip "kube-vip-$KUBE_VIP_EXTRA" flannel-cni crictl runc cni coredns "coredns-$COREDNS_FROM"
  etcd flannel containerd nerdctl kubernetes "kubernetes-$UPGRADE_FROM_K8S")

for cmd in go gcc jq curl python3 apt-get apt-cache dpkg-deb docker-registry busybox tar gzip sha256sum ldconfig; do
  command -v "$cmd" >/dev/null || die "$cmd is required (Debian: apt-get install docker-registry busybox-static gcc libseccomp-dev jq curl)"
done
[[ -x /usr/bin/time ]] || die "/usr/bin/time is required (apt-get install time)"
python3 -c 'import jinja2, yaml' 2>/dev/null || die "python3 needs jinja2 and yaml (apt-get install python3-jinja2 python3-yaml)"
[[ -f /usr/lib/x86_64-linux-gnu/libseccomp.a ]] || die "libseccomp.a is required for a static runc (apt-get install libseccomp-dev)"
busybox --list-full >/dev/null 2>&1 || die "busybox-static is required"
file_static() { ! ldd "$1" >/dev/null 2>&1; }
file_static "$(command -v busybox)" || die "$(command -v busybox) is not static (apt-get install busybox-static)"

mkdir -p "$BUILD/logs" "$BUILD/stamps" "$BUILD/times" "$OUT" "$WORK" "$SRC"
exec 9>"$BUILD/.lock"
if ! flock -n 9; then
  log "another build is running in $BUILD; waiting for it"
  flock 9
  if [[ ${1:-} != --check-sources && -f $STAMP && $(cat "$STAMP") == "$STAMP_TEXT" && -z ${KUBESPRAY_HA_MIRROR_REBUILD:-} ]]; then
    printf '%s\n' "$MIRROR"
    exit 0
  fi
fi
if [[ ${1:-} == --check-sources ]]; then
  check_sources
  log "sources ok: every module, snapshot, package and derivation the build needs is there (nothing compiled)"
  exit 0
fi

fmt_secs() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }
T0=$SECONDS
# run_step NAME: build_NAME in its own timed process unless its stamp exists.
run_step() {
  local name="$1" logf="$BUILD/logs/$1.log" tf="$BUILD/times/$1" rc=0 t0=$SECONDS next=60
  if [[ -f $BUILD/stamps/$name ]]; then
    log "$name: cached (cold: $(awk '{ printf "%.0f s wall, %.0f CPU-s", $1, $2 + $3 }' "$tf" 2>/dev/null || echo '?'))"
    return 0
  fi
  log "building $name ... (log: $logf)"
  /usr/bin/time -f '%e %U %S %M' -o "$tf.tmp" "$SELF" --step "$name" >"$logf" 2>&1 &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    if ((SECONDS - t0 >= next)); then
      log "  $name: still building ($((SECONDS - t0)) s): $(tail -1 "$logf" | cut -c1-120)"
      next=$((next + 60))
    fi
  done
  wait "$pid" || rc=$?
  if ((rc != 0)); then
    tail -25 "$logf" >&2
    die "$name failed (exit $rc); full log: $logf"
  fi
  tail -1 "$tf.tmp" >"$tf"
  rm -f "$tf.tmp"
  touch "$BUILD/stamps/$name"
  log "building $name ... done in $((SECONDS - t0)) s ($(awk '{ printf "%.0f CPU-s, peak %.0f MB", $2 + $3, $4 / 1024 }' "$tf"))"
}

for s in "${STEPS[@]}"; do run_step "$s"; done

# Assemble next to the mirror and swap it in at the end: a mirror that
# mirror.sh is serving stays whole during a rebuild (the servers hold paths).
FINAL="$MIRROR"
MIRROR="$FINAL.new"
rm -rf "$MIRROR" "$FINAL.old"
mkdir -p "$MIRROR"
log "assembling the mirror in $MIRROR"
t_asm=$SECONDS
mkdir -p "$MIRROR/bin"
install -m 0755 "$OUT/crane/crane" "$MIRROR/bin/crane"
# derive.py as this script writes it (a cached sources step may have written an older one).
write_derive_py
for k8s in "$K8S" "$UPGRADE_FROM_K8S"; do
  cp "$OUT/sources$(sfx "$k8s")/derived.json" "$(derived_of "$k8s")"
done
derive_extra "$(derived_of "$K8S")" >"$(derived_of extra)"
assemble_files
log "checking the files repo"
for k8s in "$K8S" "$UPGRADE_FROM_K8S"; do check_files "$k8s"; done
assemble_images
for k8s in "$K8S" "$UPGRADE_FROM_K8S"; do write_manifest "$k8s"; done
write_manifest_extra
t_asm=$((SECONDS - t_asm))

{
  printf '%s\n\nstep\twall_s\tcpu_s\tpeak_mb\n' "$STAMP_TEXT (built $(date -u +%FT%TZ))"

  for s in "${STEPS[@]}"; do
    read -r w u y m <"$BUILD/times/$s"
    awk -v s="$s" -v w="$w" -v c="$u $y" -v m="$m" \
      'BEGIN { split(c, a, " "); printf "%s\t%.0f\t%.0f\t%.0f\n", s, w, a[1] + a[2], m / 1024 }' 
  done
  printf 'assemble+check\t%d\t-\t-\n\n' "$t_asm"
  printf 'files repo: %s MB, registry: %s MB, build dir: %s MB\n' \
    "$(du -sm "$MIRROR/files" | cut -f1)" "$(du -sm "$MIRROR/registry" | cut -f1)" "$(du -sm "$BUILD" | cut -f1)"
  printf '\nDebian packages in the kube-proxy and flannel images:\n'
  sed 's/^/  /' "$OUT/debs/packages.txt"
  for k8s in "$K8S" "$UPGRADE_FROM_K8S"; do
    printf '\nKubernetes %s (manifest%s.json): files:\n' "$k8s" "$(sfx "$k8s")"
    jq -r '.files[] | "  \(.path)  \(.sha256)"' "$MIRROR/manifest$(sfx "$k8s").json"
    printf 'images:\n'
    jq -r '.images[] | "  \(.repo):\(.tag)"' "$MIRROR/manifest$(sfx "$k8s").json"
  done
  printf '\nExtra images (manifest-extra.json, group_vars %s):\n' "$(jq -c .groupVars "$MIRROR/manifest-extra.json")"
  jq -r '.images[] | "  \(.repo):\(.tag)  \(.digest)"' "$MIRROR/manifest-extra.json"
} >"$MIRROR/build-report.txt"
sed 's/^/[mirror] /' "$MIRROR/build-report.txt" >&2

printf '%s\n' "$STAMP_TEXT" >"$MIRROR/COMPLETE"
[[ -d $FINAL ]] && mv "$FINAL" "$FINAL.old"
mv "$MIRROR" "$FINAL"
rm -rf "$FINAL.old"
MIRROR="$FINAL"
log "done in $(fmt_secs $((SECONDS - T0))): $MIRROR"
printf '%s\n' "$MIRROR"

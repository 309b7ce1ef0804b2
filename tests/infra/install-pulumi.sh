#!/usr/bin/env bash
# shellcheck disable=SC2016  # the node -e programs are single-quoted on purpose
# Build the real Pulumi engine this project's tests run on: the CLI, the
# Node.js language host at the CLI's version, and Pulumi's own provider plugins
# for command, kubernetes and hcloud.  Nothing prebuilt is downloaded.
#
#   PATH="$(tests/infra/install-pulumi.sh):$PATH"
#   tests/infra/install-pulumi.sh --check-sources   # snapshots and modules only, no compile: seconds
#
# The bin directory is printed as the LAST line of stdout; everything else
# (progress, timings) goes to stderr.
#
# Where each binary comes from:
#   pulumi                     github.com/pulumi/pulumi/pkg/v3@v<CLI> (Go module
#                              proxy), <CLI> = the installed @pulumi/pulumi version
#   pulumi-language-nodejs     pulumi-language-nodejs-v<CLI>.tar.gz (upstream
#                              source; the proxy refuses the module), its ../
#                              pkg and sdk replaces pointed at the served
#                              pkg/v3 and sdk/v3 v<CLI>
#   pulumi-resource-command    pulumi-command-v1.2.1.tar.gz (provider/)
#   pulumi-resource-kubernetes github.com/pulumi/pulumi-kubernetes/provider/v4 at
#                              the only served pseudo-version, the code of
#                              v4.25.0, labelled 4.25.0
#   pulumi-resource-hcloud     pulumi-hcloud-v1.39.1.tar.gz (provider/) over
#                              terraform-provider-hcloud-v1.66.1.tar.gz (a replace)
# The *.tar.gz are unmodified upstream snapshots in $KUBESPRAY_HA_THIRD_PARTY_SRC
# (default: ../shared/third-party-src next to the repository), checked against
# its SHA256SUMS; they are extracted into the cache, never into the repository.
# Every other dependency comes from the Go module proxy.
#
# Output: ${KUBESPRAY_HA_CACHE:-$HOME/.cache/kubespray-ha}/pulumi-<CLI>/
#   bin/                     pulumi, pulumi-language-nodejs, pulumi-resource-*
#   src/<binary>/            extracted / copied sources that are built
#   build/<binary>/          build.log, time.txt (/usr/bin/time -v), wrapper module
#   build/<binary>.stamp     the inputs of the binary in bin/ (rebuilt when they change)
#   NOTE-<binary>.txt        what the binary is when its version differs from the pin
#   UNAVAILABLE-<binary>.txt why a provider could not be built (no plugin at all)
#
# The engine finds the provider plugins because they are on PATH ("ambient"
# plugins, used whatever version the program asks for), so
# PULUMI_IGNORE_AMBIENT_PLUGINS must NOT be set, and the language host because
# it sits next to the pulumi binary.
#
# Environment knobs:
#   KUBESPRAY_HA_CACHE            cache root (default ~/.cache/kubespray-ha)
#   KUBESPRAY_HA_THIRD_PARTY_SRC  directory of the upstream *.tar.gz
#   KUBESPRAY_HA_PULUMI_RETRY=1   retry providers whose build failed before
set -euo pipefail

# Everything goes to stderr; fd 3 is the real stdout for the final line.
exec 3>&1 1>&2

log() { printf '[install-pulumi] %s\n' "$*" >&2; }
warn() { printf '[install-pulumi] WARNING: %s\n' "$*" >&2; }
die() {
  printf '[install-pulumi] ERROR: %s\n' "$*" >&2
  exit 1
}

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SRC_DIR="${KUBESPRAY_HA_THIRD_PARTY_SRC:-$REPO_ROOT/../shared/third-party-src}"

# The real sources.  Bump these together with the tarballs.
COMMAND_SRC_VERSION=1.2.1
KUBERNETES_MODULE=github.com/pulumi/pulumi-kubernetes/provider/v4
KUBERNETES_MODULE_VERSION=v4.0.0-20260115033456-f47bc2d6f199
KUBERNETES_LABEL=4.25.0 # the upstream tag whose commit (f47bc2d6f199) that pseudo-version is
HCLOUD_SRC_VERSION=1.39.1
TF_HCLOUD_SRC_VERSION=1.66.1

command -v node >/dev/null || die "node is required (to read package.json)"
command -v go >/dev/null || die "go is required to build pulumi"

# ---------------------------------------------------------------- versions --
# Prints the @pulumi/pulumi version (installed, else package.json's range with
# ~^ stripped) and package.json's pins of @pulumi/command, kubernetes, hcloud.
read_versions() {
  node -e '
    const fs = require("fs"), path = require("path");
    const root = process.argv[1];
    const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
    const deps = pkg.dependencies || {};
    const strip = (r) => String(r || "").trim().replace(/^[~^=v]+/, "");
    let cli = "";
    try {
      cli = JSON.parse(fs.readFileSync(path.join(root, "node_modules/@pulumi/pulumi/package.json"), "utf8")).version;
    } catch (e) { cli = strip(deps["@pulumi/pulumi"]); }
    if (!/^\d+\.\d+\.\d+/.test(cli)) {
      process.stderr.write("cannot determine the @pulumi/pulumi version\n");
      process.exit(1);
    }
    const pins = ["@pulumi/command", "@pulumi/kubernetes", "@pulumi/hcloud"].map((p) => strip(deps[p]) || "-");
    console.log([cli, ...pins].join(" "));
  ' "$REPO_ROOT"
}

read -r CLI_VERSION COMMAND_PIN KUBERNETES_PIN HCLOUD_PIN < <(read_versions) ||
  die "could not read versions from $REPO_ROOT/package.json"
[[ -n ${CLI_VERSION:-} ]] || die "could not read versions from $REPO_ROOT/package.json"
log "pulumi $CLI_VERSION; package.json pins command $COMMAND_PIN, kubernetes $KUBERNETES_PIN, hcloud $HCLOUD_PIN"

# ------------------------------------------------------------------ set-up --
CACHE_ROOT="${KUBESPRAY_HA_CACHE:-$HOME/.cache/kubespray-ha}"
PREFIX="$CACHE_ROOT/pulumi-$CLI_VERSION"
mkdir -p "$PREFIX/bin" "$PREFIX/build" "$PREFIX/src"
PREFIX="$(cd "$PREFIX" && pwd)"
BIN="$PREFIX/bin"
WORK="$PREFIX/build"
SRC="$PREFIX/src"

# One run at a time per cache dir.
if command -v flock >/dev/null; then
  exec 9>"$PREFIX/.lock"
  if ! flock -n 9; then
    log "another install is running in $PREFIX; waiting for it"
    flock 9
  fi
fi

export CGO_ENABLED=0
export GOFLAGS="-mod=mod -buildvcs=false"
export GOWORK=off
# Module proxy only: never fall back to fetching sources from their VCS hosts ("direct").
GOPROXY="${GOPROXY:-$(go env GOPROXY)}"
GOPROXY="${GOPROXY%,direct}"
GOPROXY="${GOPROXY%|direct}"
export GOPROXY
GOVERSION="$(go env GOVERSION)"

fmt_secs() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

# Runs `go mod download -json MOD@VER`; prints "Dir<TAB>GoMod" on success,
# returns 1 and prints the error text otherwise.
mod_download() {
  local json
  json="$(cd "$WORK" && go mod download -json "$1@$2" 2>&1)" || true
  printf '%s' "$json" | node -e '
    let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
      let j; try { j = JSON.parse(s); } catch (e) { console.log(s.trim().split("\n").pop()); process.exit(1); }
      if (j.Error || !j.Dir) { console.log(j.Error || "no Dir in go mod download output"); process.exit(1); }
      console.log(j.Dir + "\t" + j.GoMod);
    });'
}

# Prints `go mod edit` flags that repeat the replace/exclude directives of a
# dependency's go.mod.  A replacement that points to a directory of the same
# repository (../sdk) becomes the replaced module itself at VERSION.
replace_flags() {
  local gomod="$1" version="$2"
  go mod edit -json "$gomod" | node -e '
    let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
      const m = JSON.parse(s), version = process.argv[1];
      const at = (p, v) => (v ? `${p}@${v}` : p);
      for (const r of m.Replace || []) {
        let nw = at(r.New.Path, r.New.Version);
        if (!r.New.Version && /^\.{1,2}(\/|$)/.test(r.New.Path)) nw = `${r.Old.Path}@${version}`;
        console.log(`-replace=${at(r.Old.Path, r.Old.Version)}=${nw}`);
      }
      for (const e of m.Exclude || []) console.log(`-exclude=${e.Path}@${e.Version}`);
    });' "$version"
}

# tarball NAME: the path of an upstream snapshot, checked against SHA256SUMS.
tarball() {
  local f="$SRC_DIR/$1.tar.gz" want got
  [[ -f $f ]] || {
    printf 'upstream source %s not found (set KUBESPRAY_HA_THIRD_PARTY_SRC)' "$f"
    return 1
  }
  if [[ -f $SRC_DIR/SHA256SUMS ]]; then
    want="$(awk -v n="$1.tar.gz" '$2 == n { print $1 }' "$SRC_DIR/SHA256SUMS")"
    got="$(sha256sum "$f" | cut -d' ' -f1)"
    [[ -z $want || $want == "$got" ]] || {
      printf '%s: sha256 %s does not match SHA256SUMS (%s)' "$f" "$got" "$want"
      return 1
    }
  fi
  printf '%s' "$f"
}

# extract TARBALL DEST: a fresh, writable copy of the snapshot (top dir stripped).
extract() {
  rm -rf "$2"
  mkdir -p "$2"
  tar -xzf "$1" -C "$2" --strip-components=1
  chmod -R u+w "$2"
}

# timed NAME STEP CMD...: runs CMD (in the current dir) with its output in
# build/NAME/STEP.log, under /usr/bin/time -v when there is one, and logs
# wall, CPU and peak RSS.
timed() {
  local name="$1" step="$2" rc=0
  shift 2
  local logf="$WORK/$name/$step.log" tf="$WORK/$name/$step.time.txt"
  if [[ -x /usr/bin/time ]]; then
    /usr/bin/time -v -o "$tf" "$@" >"$logf" 2>&1 || rc=$?
    awk -v n="$name" -v s="$step" '
      /Elapsed \(wall clock\)/ { k = split($NF, a, ":"); w = 0; for (i = 1; i <= k; i++) w = w * 60 + a[i] }
      /User time/ { u = $NF } /System time/ { y = $NF } /Maximum resident set size/ { m = $NF }
      END { printf "[install-pulumi] %s: %s: wall %.0fs, CPU %.0fs (user %.0f + sys %.0f), peak RSS %.2f GB (largest process)\n", n, s, w, u + y, u, y, m / 1048576 }
    ' "$tf" >&2 || true
  else
    "$@" >"$logf" 2>&1 || rc=$?
  fi
  return "$rc"
}

FAIL_REASON=""

# cached NAME STAMP: 0 when bin/NAME was built from these inputs.
cached() {
  local name="$1" stamp="$2"
  if [[ -x $BIN/$name && -f $WORK/$name.stamp && "$(cat "$WORK/$name.stamp")" == "$stamp" ]]; then
    log "$name: cached"
    return 0
  fi
  return 1
}
# failed_before NAME STAMP: 0 (and FAIL_REASON) when the same inputs failed
# before and KUBESPRAY_HA_PULUMI_RETRY is unset; otherwise prepares an empty
# build/NAME/ and returns 1.
failed_before() {
  local name="$1" stamp="$2"
  if [[ -z ${KUBESPRAY_HA_PULUMI_RETRY:-} && -f $WORK/$name.failed && "$(cat "$WORK/$name.failed")" == "$stamp" ]]; then
    FAIL_REASON="it failed before with the same inputs (logs: $WORK/$name/); set KUBESPRAY_HA_PULUMI_RETRY=1 to retry:
$(cat "$WORK/$name.reason" 2>/dev/null)"
    return 0
  fi
  rm -rf "${WORK:?}/$name"
  mkdir -p "$WORK/$name"
  return 1
}

# go_build NAME DIR PKG LDFLAGS STAMP: `go build PKG` inside DIR to bin/NAME.
go_build() {
  local name="$1" dir="$2" pkg="$3" ldflags="$4" stamp="$5"
  log "$name: go build (log: $WORK/$name/build.log)"
  if ! (cd "$dir" && timed "$name" build go build -trimpath -ldflags "$ldflags" -o "$BIN/.$name.tmp" "$pkg"); then
    rm -f "$BIN/.$name.tmp"
    fail "$name" "$stamp" "go build failed; last lines of $WORK/$name/build.log:
$(tail -n 15 "$WORK/$name/build.log")"
    return 1
  fi
  mv -f "$BIN/.$name.tmp" "$BIN/$name"
  printf '%s\n' "$stamp" >"$WORK/$name.stamp"
  rm -f "$WORK/$name.failed" "$WORK/$name.reason"
  log "$name: built ($(du -h "$BIN/$name" | cut -f1))"
}

# fail NAME STAMP REASON: remembers a failure (FAIL_REASON, build/NAME.failed).
fail() {
  FAIL_REASON="$3"
  printf '%s\n' "$2" >"$WORK/$1.failed"
  printf '%s\n' "$3" >"$WORK/$1.reason"
}

# ------------------------------------------------------------ the builders --
SDK_VERSION_VAR="github.com/pulumi/pulumi/sdk/v3/go/common/version.Version"

# The CLI: a wrapper module requiring pkg/v3 and repeating its replaces.
build_cli() {
  local name=pulumi module=github.com/pulumi/pulumi/pkg/v3 v="v$CLI_VERSION" out
  local ldflags="-s -w -X $SDK_VERSION_VAR=$v"
  local stamp="$module@$v $ldflags go=$GOVERSION"
  cached "$name" "$stamp" && return 0
  failed_before "$name" "$stamp" && return 1
  out="$(mod_download "$module" "$v")" || {
    fail "$name" "$stamp" "the Go module proxy does not serve $module@$v: $out"
    return 1
  }
  local wrap="$WORK/$name/wrapper" flags
  mkdir -p "$wrap"
  (
    cd "$wrap"
    go mod init "pulumibuild/$name" >/dev/null 2>&1
    go mod edit -require="$module@$v"
    mapfile -t flags < <(replace_flags "${out#*$'\t'}" "$v")
    ((${#flags[@]} == 0)) || go mod edit "${flags[@]}"
  ) || {
    fail "$name" "$stamp" "could not set up the wrapper module in $wrap"
    return 1
  }
  go_build "$name" "$wrap" "$module/cmd/pulumi" "$ldflags" "$stamp"
}

# The Node.js language host at the CLI's version, from the upstream snapshot.
build_language_host() {
  local name=pulumi-language-nodejs v="v$CLI_VERSION" tb out
  local ldflags="-s -w -X $SDK_VERSION_VAR=$v"
  tb="$(tarball "pulumi-language-nodejs-$v")" || {
    FAIL_REASON="$tb"
    return 1
  }
  local stamp
  stamp="$(sha256sum "$tb" | cut -d' ' -f1) pkg,sdk@$v $ldflags go=$GOVERSION"
  cached "$name" "$stamp" && return 0
  failed_before "$name" "$stamp" && return 1
  local src="$SRC/$name" dir flags
  extract "$tb" "$src"
  dir="$src/sdk/nodejs/cmd/pulumi-language-nodejs"
  out="$(mod_download github.com/pulumi/pulumi/pkg/v3 "$v")" || {
    fail "$name" "$stamp" "the Go module proxy does not serve github.com/pulumi/pulumi/pkg/v3@$v: $out"
    return 1
  }
  # ../../../../pkg and ../../.. (pkg/v3, sdk/v3 of the same commit) become the
  # served modules of that release; pkg/v3's own replaces are repeated.
  mapfile -t flags < <(replace_flags "${out#*$'\t'}" "$v")
  (cd "$dir" && go mod edit \
    -replace="github.com/pulumi/pulumi/pkg/v3=github.com/pulumi/pulumi/pkg/v3@$v" \
    -replace="github.com/pulumi/pulumi/sdk/v3=github.com/pulumi/pulumi/sdk/v3@$v" \
    "${flags[@]}") || {
    fail "$name" "$stamp" "go mod edit failed in $dir"
    return 1
  }
  go_build "$name" "$dir" . "$ldflags" "$stamp"
}

# pulumi-resource-command from the upstream snapshot (go.mod unchanged).
build_command() {
  local name=pulumi-resource-command v="$COMMAND_SRC_VERSION" tb
  local ldflags="-s -w -X github.com/pulumi/pulumi-command/provider/pkg/version.Version=$v"
  tb="$(tarball "pulumi-command-v$v")" || {
    FAIL_REASON="$tb"
    return 1
  }
  local stamp
  stamp="$(sha256sum "$tb" | cut -d' ' -f1) $ldflags go=$GOVERSION"
  cached "$name" "$stamp" && return 0
  failed_before "$name" "$stamp" && return 1
  extract "$tb" "$SRC/$name"
  go_build "$name" "$SRC/$name/provider" ./cmd/pulumi-resource-command "$ldflags" "$stamp"
}

# pulumi-resource-kubernetes from the served pseudo-version: a writable copy of
# the module (its sdk/v4 => ../../sdk replace dropped: sdk/v4 is served), the
# embedded schema generated by its generate.go, then built.
build_kubernetes() {
  local name=pulumi-resource-kubernetes v="$KUBERNETES_LABEL" out
  local ldflags="-s -w -X $KUBERNETES_MODULE/pkg/version.Version=$v"
  local stamp="$KUBERNETES_MODULE@$KUBERNETES_MODULE_VERSION $ldflags go=$GOVERSION"
  cached "$name" "$stamp" && return 0
  failed_before "$name" "$stamp" && return 1
  log "$name: fetching $KUBERNETES_MODULE@$KUBERNETES_MODULE_VERSION"
  out="$(mod_download "$KUBERNETES_MODULE" "$KUBERNETES_MODULE_VERSION")" || {
    fail "$name" "$stamp" "the Go module proxy does not serve $KUBERNETES_MODULE@$KUBERNETES_MODULE_VERSION: $out"
    return 1
  }
  local src="$SRC/$name"
  rm -rf "$src"
  cp -r "${out%%$'\t'*}" "$src"
  chmod -R u+w "$src"
  (cd "$src" && go mod edit -dropreplace=github.com/pulumi/pulumi-kubernetes/sdk/v4) || {
    fail "$name" "$stamp" "go mod edit failed in $src"
    return 1
  }
  log "$name: go run ./generate.go (the embedded schema; log: $WORK/$name/generate.log)"
  if ! (cd "$src/cmd/pulumi-resource-kubernetes" && VERSION="$v" timed "$name" generate go run ./generate.go); then
    fail "$name" "$stamp" "go run ./generate.go failed; last lines of $WORK/$name/generate.log:
$(tail -n 15 "$WORK/$name/generate.log")"
    return 1
  fi
  go_build "$name" "$src" ./cmd/pulumi-resource-kubernetes "$ldflags" "$stamp"
}

# pulumi-resource-hcloud from the upstream snapshot, with
# github.com/hetznercloud/terraform-provider-hcloud replaced by its snapshot;
# schema-embed.json generated from the committed schema.json by generate.go.
build_hcloud() {
  local name=pulumi-resource-hcloud v="$HCLOUD_SRC_VERSION" tb tf
  local ldflags="-s -w -X github.com/pulumi/pulumi-hcloud/provider/pkg/version.Version=$v"
  tb="$(tarball "pulumi-hcloud-v$v")" || {
    FAIL_REASON="$tb"
    return 1
  }
  tf="$(tarball "terraform-provider-hcloud-v$TF_HCLOUD_SRC_VERSION")" || {
    FAIL_REASON="$tf"
    return 1
  }
  local stamp
  stamp="$(cat "$tb" "$tf" | sha256sum | cut -d' ' -f1) $ldflags go=$GOVERSION"
  cached "$name" "$stamp" && return 0
  failed_before "$name" "$stamp" && return 1
  local src="$SRC/$name"
  extract "$tb" "$src"
  extract "$tf" "$src/terraform-provider-hcloud"
  (cd "$src/provider" && go mod edit -replace=github.com/hetznercloud/terraform-provider-hcloud=../terraform-provider-hcloud) || {
    fail "$name" "$stamp" "go mod edit failed in $src/provider"
    return 1
  }
  log "$name: go run ./generate.go (schema-embed.json; log: $WORK/$name/generate.log)"
  if ! (cd "$src/provider/cmd/pulumi-resource-hcloud" && VERSION="$v" timed "$name" generate go run ./generate.go); then
    fail "$name" "$stamp" "go run ./generate.go failed; last lines of $WORK/$name/generate.log:
$(tail -n 15 "$WORK/$name/generate.log")"
    return 1
  fi
  go_build "$name" "$src/provider" ./cmd/pulumi-resource-hcloud "$ldflags" "$stamp"
}

# note NAME BUILT PIN WHAT: NOTE-NAME.txt when the built version is not the pin.
note() {
  local f="$PREFIX/NOTE-$1.txt"
  if [[ $2 == "$3" || $3 == - || ! -x $BIN/$1 ]]; then
    rm -f "$f"
    return 0
  fi
  printf '%s\n' "$1 in $BIN is Pulumi's provider $2, not $3 (the version package.json pins for the SDK)." \
    "$4" \
    "The engine uses it for every version the program asks for (an ambient plugin on PATH)." >"$f"
  log "$1: version $2 (package.json pins $3; see $f)"
}

# ---------------------------------------------------------- --check-sources --
# The metadata and source steps without a compile: every upstream snapshot against SHA256SUMS, and
# every module the builds fetch from the proxy resolved there (`go list -m -json`: .info and .mod,
# the only fields read being GoMod and, on download, Dir). Seconds with an empty module cache.
if [[ ${1:-} == --check-sources ]]; then
  for tb in "pulumi-language-nodejs-v$CLI_VERSION" "pulumi-command-v$COMMAND_SRC_VERSION" \
    "pulumi-hcloud-v$HCLOUD_SRC_VERSION" "terraform-provider-hcloud-v$TF_HCLOUD_SRC_VERSION"; do
    out="$(tarball "$tb")" || die "$out"
    log "ok snapshot $tb.tar.gz"
  done
  for mv in "github.com/pulumi/pulumi/pkg/v3@v$CLI_VERSION" "github.com/pulumi/pulumi/sdk/v3@v$CLI_VERSION" \
    "$KUBERNETES_MODULE@$KUBERNETES_MODULE_VERSION"; do
    out="$(cd "$WORK" && go list -m -json "$mv" 2>&1)" || die "the Go module proxy does not serve $mv: $out"
    gomod="$(printf '%s' "$out" | node -e 'let s="";process.stdin.on("data",(d)=>(s+=d)).on("end",()=>console.log(JSON.parse(s).GoMod||""))')"
    [[ -f $gomod ]] || die "$mv: no go.mod from the module proxy"
    log "ok $mv (go.mod: $(go mod edit -json "$gomod" | node -e 'let s="";process.stdin.on("data",(d)=>(s+=d)).on("end",()=>{const m=JSON.parse(s);console.log(`${(m.Require||[]).length} requirements, ${(m.Replace||[]).length} replaces`)})'))"
  done
  log "sources ok: every snapshot and module the engine build needs is there (nothing compiled)"
  exit 0
fi

# -------------------------------------------------------------------- main --
log "cache: $PREFIX (go $GOVERSION, GOPROXY=$GOPROXY, upstream sources: $SRC_DIR)"
T_ALL=$SECONDS

build_language_host || die "pulumi-language-nodejs: $FAIL_REASON"
build_cli || die "pulumi: $FAIL_REASON"

UNAVAILABLE=()
for p in command kubernetes hcloud; do
  name="pulumi-resource-$p"
  marker="$PREFIX/UNAVAILABLE-$name.txt"
  t0=$SECONDS
  if "build_$p"; then
    rm -f "$marker"
    ((SECONDS - t0 < 2)) || log "$name: ready after $(fmt_secs $((SECONDS - t0)))"
    continue
  fi
  rm -f "$BIN/$name"
  printf '%s\n' "$name could not be built ($(date -u +%Y-%m-%dT%H:%M:%SZ)):" "$FAIL_REASON" "" \
    "Without it, \`pulumi preview/up\` of a program that uses @pulumi/$p fails when the engine" \
    "loads the provider (it tries to download the plugin)." >"$marker"
  warn "$name unavailable: $(head -n 1 <<<"$FAIL_REASON") (see $marker)"
  UNAVAILABLE+=("$p")
done

note pulumi-resource-command "$COMMAND_SRC_VERSION" "$COMMAND_PIN" \
  "Built from the upstream source pulumi-command-v$COMMAND_SRC_VERSION.tar.gz."
note pulumi-resource-kubernetes "$KUBERNETES_LABEL" "$KUBERNETES_PIN" \
  "Built from $KUBERNETES_MODULE@$KUBERNETES_MODULE_VERSION, the only version the Go module proxy serves: the commit f47bc2d6f199 of tag v$KUBERNETES_LABEL; it reports version $KUBERNETES_LABEL."
note pulumi-resource-hcloud "$HCLOUD_SRC_VERSION" "$HCLOUD_PIN" \
  "Built from the upstream source pulumi-hcloud-v$HCLOUD_SRC_VERSION.tar.gz over terraform-provider-hcloud v$TF_HCLOUD_SRC_VERSION."
# Notes and leftovers of earlier versions of this script.
rm -f "$BIN"/.*.tmp "$PREFIX"/STANDIN-*.txt "$PREFIX/NOTE-pulumi-language-nodejs.txt"

log "done in $(fmt_secs $((SECONDS - T_ALL))); $("$BIN/pulumi" version 2>/dev/null || echo '?') with language host $("$BIN/pulumi-language-nodejs" -version 2>/dev/null || echo '?') in $BIN"
((${#UNAVAILABLE[@]} == 0)) || warn "unavailable provider plugins: ${UNAVAILABLE[*]}"
printf '%s\n' "$BIN" >&3

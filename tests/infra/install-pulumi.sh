#!/usr/bin/env bash
# shellcheck disable=SC2016  # the node -e programs are single-quoted on purpose
# Build the Pulumi CLI, the Node.js language host and the resource-provider
# plugins this project uses from Go modules (no prebuilt binaries needed).
#
#   PATH="$(tests/infra/install-pulumi.sh):$PATH"
#
# The bin directory is printed as the LAST line of stdout; everything else
# goes to stderr.  Versions are read from package.json at run time:
#   * CLI + language host: the installed @pulumi/pulumi version
#     (node_modules/@pulumi/pulumi/package.json, else package.json's range
#     with ~^ stripped)
#   * providers: the @pulumi/command, @pulumi/kubernetes and @pulumi/hcloud
#     versions in package.json's dependencies.
#
# Output: ${KUBESPRAY_HA_CACHE:-$HOME/.cache/kubespray-ha}/pulumi-<cliversion>/
#   bin/                       pulumi, pulumi-language-nodejs, pulumi-resource-*
#   build/<binary>/            throw-away wrapper Go module + build.log
#   UNAVAILABLE-<name>.txt     why a provider could not be built (and no
#                              stand-in was built either: no plugin at all)
#   STANDIN-<name>.txt         bin/<name> is OUR stand-in, not Pulumi's
#                              provider; says why and what it supports
#   NOTE-<name>.txt            caveats about a binary that was built
#
# Stand-ins: when a real provider cannot be built (the Go module proxy refuses
# pulumi-command, pulumi-kubernetes and pulumi-hcloud), the script builds our
# own small stand-in plugin of that name from tools/provider-standins (if there
# is one: command and kubernetes), so the real engine can run programs that
# use @pulumi/command (local commands) and a kubernetes provider resource.
# Tests should say so when STANDIN-pulumi-resource-<name>.txt exists.  A
# stand-in is rebuilt when its sources change (sha256 of the non-test
# sources) and replaced by the real provider as soon as that one builds.
#
# The engine finds the provider plugins because they are on PATH ("ambient"
# plugins), so PULUMI_IGNORE_AMBIENT_PLUGINS must NOT be set, and the language
# host because it sits next to the pulumi binary.
#
# Environment knobs:
#   KUBESPRAY_HA_CACHE               cache root (default ~/.cache/kubespray-ha)
#   KUBESPRAY_HA_PULUMI_FORCE=1      ignore a pulumi already on PATH
#   KUBESPRAY_HA_PULUMI_RETRY=1      retry providers whose build failed before
#   KUBESPRAY_HA_PULUMI_NO_FALLBACK=1  never build the language host from an
#                                    older SDK module (see build_language_host)
#   KUBESPRAY_HA_PULUMI_NO_STANDIN=1 never build (and remove) stand-in providers
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

command -v node >/dev/null || die "node is required (to read package.json)"

# ---------------------------------------------------------------- versions --
read_versions() {
  node -e '
    const fs = require("fs"), path = require("path");
    const root = process.argv[1];
    const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
    const deps = pkg.dependencies || {};
    const strip = (r) => String(r || "").trim().replace(/^[~^=v]+/, "");
    const installed = (name) => {
      try {
        return JSON.parse(fs.readFileSync(
          path.join(root, "node_modules", name, "package.json"), "utf8")).version;
      } catch (e) { return ""; }
    };
    const cli = installed("@pulumi/pulumi") || strip(deps["@pulumi/pulumi"]);
    const out = [cli];
    for (const p of ["@pulumi/command", "@pulumi/kubernetes", "@pulumi/hcloud"]) {
      const v = strip(deps[p]);
      const inst = installed(p);
      if (inst && v && inst !== v) {
        process.stderr.write(`[install-pulumi] WARNING: ${p} installed ${inst} != pinned ${v}; using the pin\n`);
      }
      out.push(v || "-");
    }
    if (!/^\d+\.\d+\.\d+/.test(cli)) {
      process.stderr.write("cannot determine the @pulumi/pulumi version\n");
      process.exit(1);
    }
    console.log(out.join(" "));
  ' "$REPO_ROOT"
}

read -r CLI_VERSION COMMAND_VERSION KUBERNETES_VERSION HCLOUD_VERSION < <(read_versions) ||
  die "could not read versions from $REPO_ROOT/package.json"
[[ -n ${CLI_VERSION:-} ]] || die "could not read versions from $REPO_ROOT/package.json"
log "versions: pulumi $CLI_VERSION, command $COMMAND_VERSION, kubernetes $KUBERNETES_VERSION, hcloud $HCLOUD_VERSION"

# name:version pairs of the resource plugins the program needs
PROVIDERS=()
[[ $COMMAND_VERSION != - ]] && PROVIDERS+=("command:$COMMAND_VERSION")
[[ $KUBERNETES_VERSION != - ]] && PROVIDERS+=("kubernetes:$KUBERNETES_VERSION")
[[ $HCLOUD_VERSION != - ]] && PROVIDERS+=("hcloud:$HCLOUD_VERSION")

# ------------------------------------------- an existing install on PATH? --
# Returns 0 and prints the directory of `pulumi` when PATH already has the
# right CLI, a Node.js language host and every provider plugin.
existing_install() {
  local exe ver dir name pver listed plugin
  exe="$(command -v pulumi 2>/dev/null)" || return 1
  ver="$(PULUMI_SKIP_UPDATE_CHECK=true "$exe" version 2>/dev/null | tail -n 1)" || return 1
  [[ $ver == "v$CLI_VERSION" ]] || return 1
  dir="$(dirname "$exe")"
  if [[ ! -x $dir/pulumi-language-nodejs && ! -x "$(dirname "$(readlink -f "$exe")")/pulumi-language-nodejs" ]] &&
    ! command -v pulumi-language-nodejs >/dev/null 2>&1; then
    return 1
  fi
  listed="$(PULUMI_SKIP_UPDATE_CHECK=true "$exe" plugin ls --json 2>/dev/null || true)"
  for p in "${PROVIDERS[@]}"; do
    name="${p%%:*}" pver="${p#*:}"
    if [[ -z ${PULUMI_IGNORE_AMBIENT_PLUGINS:-} ]] && plugin="$(command -v "pulumi-resource-$name" 2>/dev/null)"; then
      # One of our stand-ins: go through the build below, which rebuilds it
      # when its sources changed (and prefers the real provider).
      [[ -e "$(dirname "$(dirname "$plugin")")/STANDIN-pulumi-resource-$name.txt" ]] && return 1
      continue
    fi
    printf '%s' "$listed" | node -e '
      let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
        let l = []; try { l = JSON.parse(s || "[]") || []; } catch (e) {}
        const [name, ver] = process.argv.slice(1);
        const ok = l.some((p) => p.kind === "resource" && p.name === name &&
          String(p.version).replace(/^v/, "") === ver);
        process.exit(ok ? 0 : 1);
      });' "$name" "$pver" || return 1
  done
  printf '%s\n' "$dir"
}

if [[ -z ${KUBESPRAY_HA_PULUMI_FORCE:-} ]] && found_dir="$(existing_install)"; then
  log "pulumi v$CLI_VERSION with the Node.js language host and all provider plugins is already on PATH ($found_dir)"
  printf '%s\n' "$found_dir" >&3
  exit 0
fi

# ------------------------------------------------------------------ set-up --
command -v go >/dev/null || die "go is required to build pulumi"

CACHE_ROOT="${KUBESPRAY_HA_CACHE:-$HOME/.cache/kubespray-ha}"
PREFIX="$CACHE_ROOT/pulumi-$CLI_VERSION"
BIN="$PREFIX/bin"
WORK="$PREFIX/build"
mkdir -p "$BIN" "$WORK"
PREFIX="$(cd "$PREFIX" && pwd)"
BIN="$PREFIX/bin"
WORK="$PREFIX/build"

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
GOPROXY="${GOPROXY%,direct}"; GOPROXY="${GOPROXY%|direct}"
export GOPROXY

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
# dependency's go.mod in the wrapper module.  A replacement that points to a
# directory of the same repository (../sdk) becomes the replaced module
# itself at the dependency's version (VERSION).
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

# Generated files that a main package embeds but that are not committed (and
# so missing from the module zip), e.g. schema-embed.json made from
# schema.json by the provider's `go generate`.  Prints the missing names.
missing_embeds() {
  local dir="$1" f
  [[ -d $dir ]] || return 0
  grep -ho '^//go:embed .*' "$dir"/*.go 2>/dev/null | sed 's|^//go:embed ||' | tr ' ' '\n' |
    while read -r f; do
      [[ -n $f && $f != *'*'* && ! -e $dir/$f ]] && printf '%s\n' "$f"
    done
  return 0
}

fmt_secs() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

FAIL_REASON=""

# build_one NAME MODULE VERSION PACKAGE VERSION_VAR VERSION_VALUE
# Builds PACKAGE (inside MODULE@VERSION) to $BIN/NAME in a wrapper module.
# Returns 0 when the binary is there (built now or before), 1 otherwise with
# the reason in FAIL_REASON.
build_one() {
  local name="$1" module="$2" version="$3" pkg="$4" vvar="$5" vval="$6"
  local ldflags="-s -w -X $vvar=$vval"
  local gover stamp
  gover="$(go env GOVERSION)"
  stamp="$module@$version $pkg $ldflags go=$gover"
  local stampfile="$WORK/$name.stamp" wrap="$WORK/$name" out dir gomod flags f
  FAIL_REASON=""

  if [[ -x $BIN/$name && -f $stampfile && "$(cat "$stampfile")" == "$stamp" ]]; then
    log "$name: cached ($module@$version)"
    return 0
  fi
  if [[ -z ${KUBESPRAY_HA_PULUMI_RETRY:-} && -f $wrap.failed && "$(cat "$wrap.failed")" == "$stamp" ]]; then
    FAIL_REASON="go build failed before with the same inputs (log: $wrap/build.log); set KUBESPRAY_HA_PULUMI_RETRY=1 to retry"
    return 1
  fi

  local t0=$SECONDS
  log "$name: fetching $module@$version"
  if ! out="$(mod_download "$module" "$version")"; then
    FAIL_REASON="the Go module proxy does not serve $module@$version: $out"
    return 1
  fi
  dir="${out%%$'\t'*}" gomod="${out#*$'\t'}"

  rm -rf "$wrap"
  mkdir -p "$wrap"
  (
    cd "$wrap"
    go mod init "pulumibuild/$name" >/dev/null 2>&1
    go mod edit -require="$module@$version"
    mapfile -t flags < <(replace_flags "$gomod" "$version")
    if ((${#flags[@]})); then
      go mod edit "${flags[@]}"
    fi
  ) || {
    FAIL_REASON="could not set up the wrapper module in $wrap"
    return 1
  }

  # Regenerate embedded files that the module zip lacks (X-embed.json is a
  # minified copy of X.json in Pulumi's provider repos).
  local pkgdir="$dir${pkg#"$module"}" missing
  missing="$(missing_embeds "$pkgdir")"
  if [[ -n $missing ]]; then
    log "$name: module zip lacks embedded files: ${missing//$'\n'/ }; regenerating in a local copy"
    cp -r "$dir" "$wrap/src"
    chmod -R u+w "$wrap/src"
    local srcpkg="$wrap/src${pkg#"$module"}"
    while read -r f; do
      if [[ $f == *-embed.json && -f $srcpkg/${f%-embed.json}.json ]]; then
        # Like the providers' generate.go: minify; a Pulumi schema also gets
        # its "version" set to the provider version.
        node -e '
          const fs = require("fs"), [src, dst, ver] = process.argv.slice(1);
          const j = JSON.parse(fs.readFileSync(src, "utf8"));
          if (/(^|\/)schema\.json$/.test(src) && j && typeof j === "object") j.version = ver;
          fs.writeFileSync(dst, JSON.stringify(j));' \
          "$srcpkg/${f%-embed.json}.json" "$srcpkg/$f" "$vval"
      else
        FAIL_REASON="$module@$version: $pkg embeds $f, which is generated by the provider's own build and missing from the module"
        return 1
      fi
    done <<<"$missing"
    (cd "$wrap" && go mod edit -replace="$module=./src")
  fi

  log "$name: go build $pkg (log: $wrap/build.log)"
  if ! (cd "$wrap" && go build -trimpath -ldflags "$ldflags" -o "$BIN/.$name.tmp" "$pkg") >"$wrap/build.log" 2>&1; then
    rm -f "$BIN/.$name.tmp"
    printf '%s\n' "$stamp" >"$wrap.failed"
    FAIL_REASON="go build failed after $(fmt_secs $((SECONDS - t0))); last lines of $wrap/build.log:
$(tail -n 15 "$wrap/build.log")"
    return 1
  fi
  mv -f "$BIN/.$name.tmp" "$BIN/$name"
  printf '%s\n' "$stamp" >"$stampfile"
  rm -f "$wrap.failed"
  log "$name: built in $(fmt_secs $((SECONDS - t0)))"
  return 0
}

# ----------------------------------------------------------- language host --
SDK_VERSION_VAR="github.com/pulumi/pulumi/sdk/v3/go/common/version.Version"

# The Node.js language host is its own Go module
# (github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3).  If the
# module proxy does not serve it at the CLI's version, fall back to the newest
# served github.com/pulumi/pulumi/sdk/v3 release that still contained the
# host as a package (before it became a module of its own, i.e. < v3.90),
# and say so in NOTE-pulumi-language-nodejs.txt.
build_language_host() {
  local name=pulumi-language-nodejs note="$PREFIX/NOTE-pulumi-language-nodejs.txt"
  local module="github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3"
  if build_one "$name" "$module" "v$CLI_VERSION" "$module" "$SDK_VERSION_VAR" "v$CLI_VERSION"; then
    if [[ "$(cat "$WORK/$name.stamp")" == "$module@"* ]]; then rm -f "$note"; fi
    return 0
  fi
  local primary_reason="$FAIL_REASON"
  warn "$name: $primary_reason"
  [[ -z ${KUBESPRAY_HA_PULUMI_NO_FALLBACK:-} ]] || return 1

  local sdk="github.com/pulumi/pulumi/sdk/v3" v out
  local -a candidates
  mapfile -t candidates < <(cd "$WORK" && go list -m -versions "$sdk" 2>/dev/null | tr ' ' '\n' | tail -n +2 |
    node -e '
      let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
        const n = (v) => v.replace(/^v/, "").split(/[.-]/).slice(0, 3).map(Number);
        const cmp = (a, b) => { for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] - b[i]; return 0; };
        const max = n(process.argv[1]);
        s.split("\n").filter((v) => /^v\d+\.\d+\.\d+$/.test(v))
          .filter((v) => cmp(n(v), max) <= 0 && cmp(n(v), [3, 90, 0]) < 0)
          .sort((a, b) => cmp(n(b), n(a))).forEach((v) => console.log(v));
      });' "v$CLI_VERSION")
  for v in "${candidates[@]}"; do
    out="$(mod_download "$sdk" "$v")" || continue
    [[ -d ${out%%$'\t'*}/nodejs/cmd/pulumi-language-nodejs ]] || continue
    log "$name: falling back to the language host inside $sdk@$v"
    if build_one "$name" "$sdk" "$v" "$sdk/nodejs/cmd/pulumi-language-nodejs" "$SDK_VERSION_VAR" "$v"; then
      cat >"$note" <<EOF
pulumi-language-nodejs was NOT built at v$CLI_VERSION:
$primary_reason

It was built instead from $sdk@$v (the newest served release that still
contains the Node.js language host), reporting version $v.  The engine
(v$CLI_VERSION) talks to it over gRPC; methods newer than $v are answered
as unimplemented.
EOF
      warn "$name: built from $sdk@$v instead of v$CLI_VERSION (see $note)"
      return 0
    fi
    warn "$name: $FAIL_REASON"
    break
  done
  FAIL_REASON="$primary_reason"
  return 1
}

# ---------------------------------------------------------------- providers --
# name|module|main package (relative to module)|version variable (relative to module)|version prefix
provider_spec() {
  case "$1" in
  command) echo "github.com/pulumi/pulumi-command/provider|/cmd/pulumi-resource-command|/pkg/version.Version" ;;
  kubernetes) echo "github.com/pulumi/pulumi-kubernetes/provider/v4|/cmd/pulumi-resource-kubernetes|/pkg/version.Version" ;;
  hcloud) echo "github.com/pulumi/pulumi-hcloud/provider|/cmd/pulumi-resource-hcloud|/pkg/version.Version" ;;
  *) return 1 ;;
  esac
}

build_provider() {
  local name="$1" version="$2" spec module main vvar
  spec="$(provider_spec "$name")" || {
    FAIL_REASON="no build recipe for provider $name"
    return 1
  }
  IFS='|' read -r module main vvar <<<"$spec"
  # Pulumi's provider Makefiles set the version without a leading v.
  build_one "pulumi-resource-$name" "$module" "v$version" "$module$main" "$module$vvar" "$version"
}

# --------------------------------------------------------------- stand-ins --
# Our own minimal provider plugins (tools/provider-standins), used only when
# the real provider cannot be built.
STANDIN_SRC="$REPO_ROOT/tools/provider-standins"

have_standin() { [[ -f $STANDIN_SRC/go.mod && -d $STANDIN_SRC/cmd/pulumi-resource-$1 ]]; }

# sha256 over the stand-in module's non-test sources (names and contents).
standin_hash() {
  (
    cd "$STANDIN_SRC" &&
      find . -type f \( -name '*.go' -o -name '*.json' -o -name go.mod -o -name go.sum \) ! -name '*_test.go' -print0 |
      LC_ALL=C sort -z | xargs -0 sha256sum
  ) | sha256sum | cut -d' ' -f1
}

# build_standin NAME VERSION REASON: builds $BIN/pulumi-resource-NAME from
# tools/provider-standins and writes STANDIN-pulumi-resource-NAME.txt.
build_standin() {
  local name="pulumi-resource-$1" version="$2" reason="$3"
  local marker="$PREFIX/STANDIN-$name.txt" stampfile="$WORK/$name.standin.stamp"
  local hash stamp t0=$SECONDS
  FAIL_REASON=""
  hash="$(standin_hash)" || {
    FAIL_REASON="could not hash $STANDIN_SRC"
    return 1
  }
  stamp="standin $hash go=$(go env GOVERSION)"
  if [[ -x $BIN/$name && -f $stampfile && "$(cat "$stampfile")" == "$stamp" && -f $marker ]]; then
    log "$name: stand-in cached (sources $hash)"
    return 0
  fi
  log "$name: building the STAND-IN from tools/provider-standins (log: $WORK/$name.standin.log)"
  # -mod=readonly: never rewrite the committed go.mod/go.sum.
  if ! (cd "$STANDIN_SRC" && GOFLAGS="-mod=readonly -buildvcs=false" \
    go build -trimpath -ldflags "-s -w" -o "$BIN/.$name.tmp" "./cmd/$name") >"$WORK/$name.standin.log" 2>&1; then
    rm -f "$BIN/.$name.tmp"
    FAIL_REASON="stand-in build failed; last lines of $WORK/$name.standin.log:
$(tail -n 15 "$WORK/$name.standin.log")"
    return 1
  fi
  mv -f "$BIN/.$name.tmp" "$BIN/$name"
  cat >"$marker" <<EOF
$name in $BIN is a STAND-IN written for kubespray-ha, NOT Pulumi's provider $version.
It reports version $version and implements only what tools/provider-standins/README.md lists.
Built $(date -u +%Y-%m-%dT%H:%M:%SZ) from $STANDIN_SRC (sources sha256 $hash).

The real provider could not be built:
$reason
EOF
  printf '%s\n' "$stamp" >"$stampfile"
  log "$name: stand-in built in $(fmt_secs $((SECONDS - t0)))"
  return 0
}

# Drops a stand-in binary and its marker (KUBESPRAY_HA_PULUMI_NO_STANDIN).
remove_standin() {
  local name="pulumi-resource-$1"
  if [[ -f $PREFIX/STANDIN-$name.txt ]]; then
    rm -f "$BIN/$name" "$PREFIX/STANDIN-$name.txt" "$WORK/$name.standin.stamp"
    log "$name: removed the stand-in (KUBESPRAY_HA_PULUMI_NO_STANDIN)"
  fi
}

# -------------------------------------------------------------------- main --
log "cache: $PREFIX (go $(go env GOVERSION), GOPROXY=$GOPROXY)"
T_ALL=$SECONDS

build_language_host || die "pulumi-language-nodejs: $FAIL_REASON"
build_one pulumi github.com/pulumi/pulumi/pkg/v3 "v$CLI_VERSION" \
  github.com/pulumi/pulumi/pkg/v3/cmd/pulumi "$SDK_VERSION_VAR" "v$CLI_VERSION" ||
  die "pulumi: $FAIL_REASON"

UNAVAILABLE=()
STANDINS=()
for p in "${PROVIDERS[@]}"; do
  name="${p%%:*}" pver="${p#*:}"
  marker="$PREFIX/UNAVAILABLE-pulumi-resource-$name.txt"
  standin_marker="$PREFIX/STANDIN-pulumi-resource-$name.txt"
  if [[ -f $standin_marker ]]; then
    # Never take the stand-in binary for a cached real build.
    rm -f "$WORK/pulumi-resource-$name.stamp"
  fi
  if build_provider "$name" "$pver"; then
    rm -f "$marker" "$standin_marker" "$WORK/pulumi-resource-$name.standin.stamp"
    continue
  fi
  real_reason="$FAIL_REASON"
  if [[ -n ${KUBESPRAY_HA_PULUMI_NO_STANDIN:-} ]]; then
    remove_standin "$name"
  elif have_standin "$name"; then
    if build_standin "$name" "$pver" "$real_reason"; then
      rm -f "$marker"
      warn "pulumi-resource-$name $pver: the real provider is unavailable ($(head -n 1 <<<"$real_reason")); using OUR STAND-IN (see $standin_marker)"
      STANDINS+=("$name")
      continue
    fi
    real_reason="$real_reason

The stand-in from tools/provider-standins could not be built either:
$FAIL_REASON"
    rm -f "$BIN/pulumi-resource-$name" "$standin_marker"
  fi
  cat >"$marker" <<EOF
pulumi-resource-$name $pver could not be built ($(date -u +%Y-%m-%dT%H:%M:%SZ)):
$real_reason

Without it, \`pulumi preview/up\` of a program that uses @pulumi/$name fails
when the engine loads the provider (it tries to download the plugin).
EOF
  warn "pulumi-resource-$name $pver unavailable: $(head -n 1 <<<"$real_reason") (see $marker)"
  UNAVAILABLE+=("$name")
done

# Leftovers from older runs with other versions.
rm -f "$BIN"/.*.tmp

log "done in $(fmt_secs $((SECONDS - T_ALL))); $("$BIN/pulumi" version 2>/dev/null || echo '?') in $BIN"
((${#STANDINS[@]} == 0)) || warn "STAND-IN provider plugins (ours, not Pulumi's): ${STANDINS[*]}"
((${#UNAVAILABLE[@]} == 0)) || warn "unavailable provider plugins: ${UNAVAILABLE[*]}"
printf '%s\n' "$BIN" >&3

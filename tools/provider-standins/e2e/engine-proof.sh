#!/usr/bin/env bash
# Runs a small TypeScript Pulumi program through the REAL engine (the CLI that
# tests/infra/install-pulumi.sh builds) with whatever pulumi-resource-command and
# pulumi-resource-kubernetes that script installed -- our stand-ins when the
# real providers could not be built -- and checks the lifecycle by the side
# effects the commands leave in a log file:
#
#   preview             runs nothing
#   up                  creates first -> second -> third (dependency order);
#                       second has a secret in its environment and
#                       additionalSecretOutputs: ["stdout"]; third has
#                       triggers and stdin; a kubernetes provider resource from
#                       a fake kubeconfig
#   up (again)          no changes, runs nothing (--expect-no-changes)
#   trigger changed     third is replaced: new create runs, then old delete
#   environment changed third is updated in place: create re-runs, no delete
#   stack export        the secret appears only as ciphertext
#   refresh             no changes
#   destroy             deletes in reverse dependency order, with the previous
#                       stdout in PULUMI_COMMAND_STDOUT
#
# Usage: tools/provider-standins/e2e/engine-proof.sh   (exit 0 = all passed)
# Needs node_modules in the repo (npm ci).  Touches nothing outside a temp
# dir (and the install-pulumi cache); talks to no network but loopback.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
BIN="$("$REPO_ROOT/tests/infra/install-pulumi.sh" 2>/dev/null | tail -n 1)"
PREFIX="$(dirname "$BIN")"
for n in command kubernetes; do
  if [[ -f $PREFIX/STANDIN-pulumi-resource-$n.txt ]]; then
    echo "NOTE: pulumi-resource-$n is our STAND-IN ($(head -n 1 "$PREFIX/STANDIN-pulumi-resource-$n.txt"))"
  fi
done

TMP="$(mktemp -d "${TMPDIR:-/tmp}/standin-proof.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/prog" "$TMP/state" "$TMP/home" "$TMP/out"

export PATH="$BIN:$PATH"
export PULUMI_SKIP_UPDATE_CHECK=true PULUMI_CONFIG_PASSPHRASE=proof PULUMI_HOME="$TMP/home"
export PULUMI_BACKEND_URL="file://$TMP/state"
unset PULUMI_IGNORE_AMBIENT_PLUGINS

cd "$TMP/prog"
ln -s "$REPO_ROOT/node_modules" node_modules
printf 'name: standin-proof\nruntime:\n  name: nodejs\n  options:\n    typescript: true\nmain: index.ts\n' >Pulumi.yaml
echo '{"name":"standin-proof","private":true}' >package.json
echo '{"compilerOptions":{"strict":true,"target":"es2022","module":"commonjs","esModuleInterop":true,"skipLibCheck":true,"types":["node"]},"files":["index.ts"]}' >tsconfig.json
cat >index.ts <<'EOF'
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";

const cfg = new pulumi.Config();
const out = cfg.require("outDir");
const trig = cfg.get("trigger") ?? "t1";
const label = cfg.get("label") ?? "l1";
const token = cfg.requireSecret("token");

const first = new command.local.Command("first", {
    create: `echo "create first" >> log.txt; echo first-out`,
    delete: `echo "delete first prev=$PULUMI_COMMAND_STDOUT" >> log.txt`,
    dir: out,
});

const second = new command.local.Command("second", {
    create: pulumi.interpolate`echo "create second after=${first.stdout}" >> log.txt; echo "token=$TOKEN"`,
    delete: `echo "delete second" >> log.txt`,
    dir: out,
    environment: { TOKEN: token },
}, { dependsOn: [first], additionalSecretOutputs: ["stdout"] });

const third = new command.local.Command("third", {
    create: `echo "create third label=$LABEL" >> log.txt; echo "third stdin=$(cat)"`,
    delete: `echo "delete third" >> log.txt`,
    dir: out,
    stdin: "piped",
    environment: { LABEL: label },
    triggers: [trig],
}, { dependsOn: [second] });

const kubeconfig = [
    "apiVersion: v1", "kind: Config", "current-context: fake",
    "clusters: [{name: fake, cluster: {server: 'https://127.0.0.1:6443'}}]",
    "contexts: [{name: fake, context: {cluster: fake, user: fake}}]",
    "users: [{name: fake, user: {token: fake-token}}]",
].join("\n");
const prov = new k8s.Provider("k8s", { kubeconfig });

export const firstOut = first.stdout;
export const secondOut = second.stdout;
export const thirdOut = third.stdout;
export const providerUrn = prov.urn;
EOF

LOG="$TMP/out/log.txt"
FAILS=0
not() { ! "$@"; }
RESULTS=()
fail() {
  echo "FAIL: $*"
  FAILS=$((FAILS + 1))
}
# step NAME CMD...: runs CMD, records its wall time, keeps its output.
step() {
  local name="$1" s e
  shift
  s=$(date +%s%N)
  if ! "$@" >"$TMP/$name.out" 2>&1; then
    fail "$name: '$*' failed:"
    tail -n 30 "$TMP/$name.out"
  fi
  e=$(date +%s%N)
  RESULTS+=("$(printf '%-22s %6.1f s' "$name" "$(((e - s) / 1000000))e-3")")
}
# check WHAT CMD...: ok when CMD succeeds.
check() {
  local what="$1"
  shift
  if "$@"; then echo "ok: $what"; else fail "$what"; fi
}
output_is() { [[ "$(pulumi stack output "$@" 2>/dev/null)" == "$OUT_WANT" ]]; }
log_is() {
  local what="$1" want="$2" got
  got="$(cat "$LOG" 2>/dev/null || true)"
  if [[ $got == "$want" ]]; then echo "ok: $what"; else
    fail "$what: log.txt is"
    printf '%s\n' "$got" | sed 's/^/    /'
    echo "  want"
    printf '%s\n' "$want" | sed 's/^/    /'
  fi
}

pulumi stack init proof >/dev/null
pulumi config set outDir "$TMP/out"
pulumi config set --secret token tok-PROOF-4711

step preview pulumi preview
check "preview ran nothing" test ! -e "$LOG"

step up pulumi up --yes
L1=$'create first\ncreate second after=first-out\ncreate third label=l1'
log_is "up ran the creates in dependency order" "$L1"
OUT_WANT=first-out check "stdout is an output" output_is firstOut
OUT_WANT=token=tok-PROOF-4711 check "the secret env reached the command" output_is secondOut --show-secrets
OUT_WANT="third stdin=piped" check "stdin was piped" output_is thirdOut
check "stdout was logged, the secret redacted" grep -q 'token=\[secret\]' "$TMP/up.out"
check "the secret is not in the up output" not grep -q tok-PROOF-4711 "$TMP/up.out"

step up-no-change pulumi up --yes --expect-no-changes
log_is "second up ran nothing" "$L1"

pulumi config set trigger t2
step up-trigger pulumi up --yes
L2="$L1"$'\ncreate third label=l1\ndelete third'
log_is "trigger change replaced third (create new, then delete old)" "$L2"
check "the engine reports 1 replaced" grep -q '1 replaced' "$TMP/up-trigger.out"

pulumi config set label l2
step up-env-change pulumi up --yes
L3="$L2"$'\ncreate third label=l2'
log_is "environment change updated third in place (create re-run, no delete)" "$L3"
check "the engine reports 1 updated" grep -q '1 updated' "$TMP/up-env-change.out"

pulumi stack export >"$TMP/export.json"
check "the secret is nowhere in the export or the state files in plain text" \
  not grep -rq tok-PROOF-4711 "$TMP/export.json" "$TMP/state"
check "second's stdout, stderr and environment.TOKEN are secrets (ciphertext) in the export" node -e '
  const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const sig = "4dabf18193072939515e22adb298388d";
  const o = (d.deployment.resources.find((r) => r.urn.endsWith("::second")) || {}).outputs || {};
  const secret = (v) => Boolean(v && v[sig] && v.ciphertext);
  process.exit(secret(o.stdout) && secret(o.stderr) && secret((o.environment || {}).TOKEN) ? 0 : 1);' \
  "$TMP/export.json"

step refresh pulumi refresh --yes --expect-no-changes
log_is "refresh ran nothing" "$L3"

step destroy pulumi destroy --yes
L4="$L3"$'\ndelete third\ndelete second\ndelete first prev=first-out'
log_is "destroy ran the deletes in reverse dependency order" "$L4"

echo
echo "timings (wall, whole CLI run incl. TypeScript compile):"
printf '  %s\n' "${RESULTS[@]}"
if ((FAILS)); then
  echo "$FAILS check(s) FAILED"
  exit 1
fi
echo "all checks passed"

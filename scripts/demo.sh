#!/usr/bin/env bash
# The whole story for a human, end to end, on this machine's Docker engine (`make demo` runs
# the prerequisites: deps, build, engine, bed):
#   1. a stand-in k3s API on 127.0.0.1 and a host kubeconfig (0600, uid 1000, as on Linux);
#   2. before: the mcp/kubernetes replica, run the gateway's way with the kubeconfig mounted
#      where today's catalog entry mounts it ({{kubernetes.config_path}} ->
#      /home/appuser/.kube/config, the server's own home), cannot list the nodes: uid 1001
#      cannot read a 0600 file of uid 1000 (docker/mcp-gateway#103);
#   3. `mcp-rewrap scan` (the real catalog entry, the user's gateway config) and
#      `mcp-rewrap verify` (both mount sites: /root, #284, and the home, #103) say why;
#   4. `mcp-rewrap build` rewraps the image;
#   5. after: the same run line with the rewrapped image lists k3s-01 … k3s-05.
# Everything goes to stdout, in order; the containers' own stderr is shown prefixed "  | ".
# Exits 0 only when the story holds (before fails, after lists the five nodes).
# Leaves no container, server or temp dir behind; keeps the built images (cache).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
SOURCE=mcp-rewrap-test/kubernetes:latest
EXPECTED="k3s-01 k3s-02 k3s-03 k3s-04 k3s-05"
start=$SECONDS
exec 3>&1 2>&1 # fd 3: the terminal, for children whose stdout is captured

step() { printf '\n=== %s ===\n' "$*"; }
say() { printf '    %s\n' "$*"; }
fail() { printf '\nFAIL: %s\n' "$*"; exit 1; }

tmp=$(mktemp -d /tmp/mcp-rewrap-demo.XXXXXX)
chmod 0755 "$tmp"
api_pid=''
containers=(mcp-rewrap-demo-before-$$ mcp-rewrap-demo-after-$$)
cleanup() {
  local rc=$?
  [ -n "$api_pid" ] && kill "$api_pid" 2>/dev/null && wait "$api_pid" 2>/dev/null
  docker rm -f "${containers[@]}" >/dev/null 2>&1 || true
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ -f dist/src/cli.js ] || fail "dist/src/cli.js missing: run \`make build\` (or \`make demo\`)"
[ -f dist/bench/test/support/kube-api.js ] || fail "dist/bench missing: run \`npx tsc -p bench/tsconfig.json\` (or \`make demo\`)"
docker info >/dev/null 2>&1 || fail "no Docker engine: run \`make engine\` (or \`make demo\`)"
docker image inspect "$SOURCE" >/dev/null 2>&1 || fail "$SOURCE missing: run \`make bed\` (or \`make demo\`)"

# gateway_run IMAGE: the argv after `docker`, exactly as the Docker MCP Gateway starts a stdio
# server (see GATEWAY.md), with the kubeconfig bind of today's catalog entry
# ("{{kubernetes.config_path}}:/home/appuser/.kube/config", :ro as gateways >= 0.43.1 append).
gateway_run() {
  printf '%s\n' run --rm -i --init --security-opt no-new-privileges --cpus 1 --memory 2Gb --pull never \
    -l docker-mcp=true -l docker-mcp-tool-type=mcp -l docker-mcp-name=kubernetes -l docker-mcp-transport=stdio \
    --network host -v "$kcfg:/home/appuser/.kube/config:ro" "$1"
}

# list_nodes NAME IMAGE: talks MCP to the gateway-run container; sets $names and $rc.
list_nodes() {
  local args=()
  mapfile -t args < <(gateway_run "$2")
  say "\$ docker ${args[*]}"
  say "  (the MCP client reads resource k8s://nodes; --name $1 is added for cleanup)"
  rc=0
  names=$(node scripts/mcp-call.mjs --name "$1" --timeout 90 -- "${args[@]}" 2>&3) || rc=$?
}

nodes_requests() { grep -c '^GET /api/v1/nodes 200$' "$tmp/api.out" || true; }

# --- 1 ---------------------------------------------------------------------------------
step "1/5  A k3s cluster (stand-in API) and the user's kubeconfig"
node scripts/demo-kube-api.mjs >"$tmp/api.out" 2>"$tmp/api.err" &
api_pid=$!
for _ in $(seq 1 50); do [ -s "$tmp/api.out" ] && break; sleep 0.1; done
read -r port token <"$tmp/api.out" || fail "the stand-in API did not start: $(cat "$tmp/api.err")"
mkdir -m 0755 "$tmp/kube"
kcfg=$tmp/kube/config
cat >"$kcfg" <<YAML
apiVersion: v1
kind: Config
clusters:
- name: k3s
  cluster:
    server: http://127.0.0.1:$port
    # @kubernetes/client-node refuses a plain http:// server without this
    insecure-skip-tls-verify: true
contexts:
- name: k3s
  context:
    cluster: k3s
    user: k3s-admin
    namespace: default
current-context: k3s
users:
- name: k3s-admin
  user:
    token: $token
YAML
chown 1000:1000 "$kcfg"
chmod 0600 "$kcfg"
say "API server: http://127.0.0.1:$port (nodes $EXPECTED; bearer token required)"
say "kubeconfig: $kcfg  $(stat -c '%A uid=%u gid=%g' "$kcfg")  (as on a Linux host)"
say "Today's catalog entry (docker/mcp-registry servers/kubernetes/server.yaml) mounts it at"
say "/home/appuser/.kube/config: the server's own home. (Older catalogs: /root/.kube/config, #284.)"

# --- 2 ---------------------------------------------------------------------------------
step "2/5  Before: $SOURCE (replica of mcp/kubernetes), run the gateway's way"
seen=$(nodes_requests)
list_nodes "${containers[0]}" "$SOURCE"
before_rc=$rc before_names=$names
before_requests=$(($(nodes_requests) - seen))
if [ "$before_rc" -eq 0 ] && [ "$(printf '%s\n' "$before_names" | sort | xargs)" = "$EXPECTED" ]; then
  fail "the unmodified image listed the nodes: the bug did not reproduce"
fi
say "result: no nodes (exit $before_rc); the API saw $before_requests request(s) for /api/v1/nodes"
say "=> BROKEN: uid 1001 cannot read the 0600 kubeconfig of uid 1000, even in its own home"
say "   (docker/mcp-gateway#103): the server never reaches the user's k3s cluster (with the file"
say "   unreadable it fails; mounted under /root, where it is unreachable, it silently falls back"
say "   to a default cluster, #284)."

# --- 3 ---------------------------------------------------------------------------------
step "3/5  Diagnosis: mcp-rewrap scan (today's catalog entry) and verify (both mount sites)"
# The real registry entry, with the replica as its image, and the user's gateway config.
sed "s|^image: mcp/kubernetes\$|image: $SOURCE|" test/fixtures/real/servers/kubernetes.yaml >"$tmp/kubernetes.server.yaml"
printf 'kubernetes:\n  config_path: %s\n' "$kcfg" >"$tmp/config.yaml"
say "\$ mcp-rewrap scan kubernetes.server.yaml --config config.yaml   (config_path: $kcfg)"
scan_rc=0
node dist/src/cli.js scan "$tmp/kubernetes.server.yaml" --config "$tmp/config.yaml" -q >"$tmp/scan.out" || scan_rc=$?
sed '/./s/^/    /' "$tmp/scan.out"
if [ "$scan_rc" -ne 1 ] || ! grep -q '^AFFECTED kubernetes' "$tmp/scan.out"; then
  fail "scan did not flag the kubernetes entry (exit $scan_rc)"
fi
say "\$ mcp-rewrap verify $SOURCE"
node dist/src/cli.js verify "$SOURCE" --no-pull -q | sed '/./s/^/    /' || true

# --- 4 ---------------------------------------------------------------------------------
step "4/5  Fix: mcp-rewrap build $SOURCE"
say "\$ mcp-rewrap build $SOURCE --out $tmp/context"
tag=$(node dist/src/cli.js build "$SOURCE" --no-pull -q --out "$tmp/context" 2>&3) || fail "mcp-rewrap build failed"
tag=$(printf '%s\n' "$tag" | tail -n 1)
files=("$tmp"/context/*)
say "built: $tag  (context: ${files[*]##*/})"
say "its Dockerfile, without comments: one layer (the shim) on top of the original image"
grep -v '^#' "$tmp/context/Dockerfile" | sed 's/^/      /'

# --- 5 ---------------------------------------------------------------------------------
step "5/5  After: the same gateway run line with $tag"
seen=$(nodes_requests)
list_nodes "${containers[1]}" "$tag"
after_rc=$rc after_names=$names
after_requests=$(($(nodes_requests) - seen))
got=$(printf '%s\n' "$after_names" | sort | xargs)
say "result (exit $after_rc): ${got:-no nodes}; the API saw $after_requests authenticated request(s) for /api/v1/nodes"
[ "$after_rc" -eq 0 ] || fail "the rewrapped image could not list the nodes"
[ "$got" = "$EXPECTED" ] || fail "expected nodes '$EXPECTED', got '$got'"
[ "$after_requests" -ge 1 ] || fail "the stand-in API never served /api/v1/nodes"

printf '\nVERDICT: broken before (no nodes), fixed after (%s) — %ds\n' "$got" $((SECONDS - start))

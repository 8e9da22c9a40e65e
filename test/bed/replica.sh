#!/usr/bin/env bash
# Builds mcp-rewrap-test/kubernetes:latest, a hermetic replica of the real mcp/kubernetes image
# (see /work/shared/GATEWAY.md and test/fixtures/kubernetes/Dockerfile). No Docker Hub needed:
#   - base: mcp-rewrap-test/bookworm:latest (from test/bed/base-images.sh, run that first)
#   - node: the host's node binary (glibc-linked, runs on bookworm)
#   - app:  the real mcp-server-kubernetes npm package ($PKG_VERSION) + production node_modules,
#           installed once into ${MCP_REWRAP_CACHE:-~/.cache/mcp-rewrap}/kubernetes-<version>/
# Idempotent: the image carries a label with a hash of the recipe (Dockerfile, entrypoint,
# package version, node version); when the local image has the same label, nothing is built.
# Progress goes to stderr only. Env: MCP_REWRAP_CACHE, REPLICA_FORCE=1 to rebuild anyway.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fixture="$here/../fixtures/kubernetes"
cache=${MCP_REWRAP_CACHE:-$HOME/.cache/mcp-rewrap}
image=mcp-rewrap-test/kubernetes:latest
base=mcp-rewrap-test/bookworm:latest
PKG=mcp-server-kubernetes
PKG_VERSION=4.1.7
label=org.mcp-rewrap.recipe

log() { printf 'replica: %s\n' "$*" >&2; }

docker image inspect "$base" >/dev/null 2>&1 || { log "$base missing: run test/bed/base-images.sh first"; exit 1; }

node_bin=$(readlink -f "$(command -v node)")
node_version=$("$node_bin" --version)

recipe=$( {
  cat "$fixture/Dockerfile" "$fixture/docker-entrypoint.sh"
  printf '%s@%s\nnode %s\n' "$PKG" "$PKG_VERSION" "$node_version"
} | sha256sum | cut -c1-32)

current=$(docker image inspect -f "{{ index .Config.Labels \"$label\" }}" "$image" 2>/dev/null || true)
if [ "$current" = "$recipe" ] && [ "${REPLICA_FORCE:-0}" != 1 ]; then
  log "$image up to date (recipe $recipe)"
  exit 0
fi

# 1. The npm package, cached. app/ is complete only when the marker exists.
ctx="$cache/kubernetes-$PKG_VERSION"
app="$ctx/app"
if [ ! -e "$ctx/.app-complete" ]; then
  log "installing $PKG@$PKG_VERSION into $app"
  rm -rf "$ctx"
  mkdir -p "$ctx/pack" "$app"
  (cd "$ctx/pack" && npm pack --silent "$PKG@$PKG_VERSION" >/dev/null 2>"$ctx/npm-pack.log") ||
    { cat "$ctx/npm-pack.log" >&2; log "npm pack failed"; exit 1; }
  tar -xzf "$ctx/pack/"*.tgz -C "$app" --strip-components=1
  rm -rf "$ctx/pack"
  (cd "$app" && npm install --omit=dev --ignore-scripts --no-audit --no-fund --no-package-lock \
      --loglevel=error >"$ctx/npm-install.log" 2>&1) ||
    { tail -n 30 "$ctx/npm-install.log" >&2; log "npm install failed (log: $ctx/npm-install.log)"; exit 1; }
  [ -f "$app/dist/index.js" ] || { log "$app/dist/index.js missing"; exit 1; }
  touch "$ctx/.app-complete"
else
  log "$PKG@$PKG_VERSION cached in $app"
fi

# 2. Build context = the cache dir itself (app/ plus fresh copies of the recipe files).
cp "$fixture/Dockerfile" "$fixture/docker-entrypoint.sh" "$ctx/"
cp "$node_bin" "$ctx/node"
printf '%s\n' pack '*.log' .app-complete >"$ctx/.dockerignore"

log "building $image (node $node_version, recipe $recipe)"
docker build -q --label "$label=$recipe" -t "$image" "$ctx" >/dev/null
log "built $image"

#!/usr/bin/env bash
# The package as npm users get it: `npm pack`, install the tarball into an empty prefix (its
# dependencies from the npm cache or registry, nothing from this checkout), then from an empty
# directory: `--version`, every command's `--help`, and a real build of a test bed image (its
# context written to another directory; the tag removed afterwards). Fails when the tarball lacks
# a file the CLI needs, when a command's help fails, or when anything was written to the
# directory it ran from. Needs a running engine with the test bed (make test runs it after the
# suite). Env: PACK_SMOKE_IMAGE (default mcp-rewrap-test/family-debian:latest, else the replica).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf 'pack-smoke: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/mcp-rewrap-pack-smoke.XXXXXX")
tag=mcp-rewrap-pack-smoke/image:$$
cleanup() {
  docker rmi "$tag" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/pack" "$work/prefix" "$work/empty" "$work/out"

npm run --silent build >&2
tarball=$(npm pack --silent --pack-destination "$work/pack" | tail -n 1)
[ -s "$work/pack/$tarball" ] || die "npm pack wrote no tarball"
log "packed $tarball ($(du -k "$work/pack/$tarball" | cut -f1) KiB)"
npm install --global --prefix "$work/prefix" --no-audit --no-fund --prefer-offline --loglevel=error "$work/pack/$tarball" >&2
bin="$work/prefix/bin/mcp-rewrap"
[ -x "$bin" ] || die "the tarball installs no mcp-rewrap command"

cd "$work/empty"
version=$("$bin" --version)
[ "$version" = "$(node -p 'require(process.argv[1]).version' "$OLDPWD/package.json")" ] ||
  die "--version says $version, package.json another"
commands=$("$bin" --help | awk '/^Commands:/ {on = 1; next} on && /^  [a-z]/ {print $1}' | grep -vx help)
[ -n "$commands" ] || die "--help lists no commands"
for c in $commands; do
  "$bin" "$c" --help >/dev/null || die "mcp-rewrap $c --help failed"
done
log "--help of every command: $(echo "$commands" | tr '\n' ' ')"

image=${PACK_SMOKE_IMAGE:-}
if [ -z "$image" ]; then
  for candidate in mcp-rewrap-test/family-debian:latest mcp-rewrap-test/kubernetes:latest; do
    if docker image inspect "$candidate" >/dev/null 2>&1; then image=$candidate; break; fi
  done
fi
[ -n "$image" ] || die "no test bed image to build from (run make bed, or set PACK_SMOKE_IMAGE)"
"$bin" build "$image" --tag "$tag" --out "$work/out/ctx" -q >/dev/null || die "mcp-rewrap build $image failed"
[ -f "$work/out/ctx/Dockerfile" ] || die "the build wrote no context to --out"
docker image inspect "$tag" >/dev/null 2>&1 || die "the build made no image $tag"
left=$(find "$work/empty" -mindepth 1 | head -n 5)
[ -z "$left" ] || die "running from $work/empty wrote there: $left"
log "ok: installed from the tarball, every --help, a build of $image, nothing written to the working directory"

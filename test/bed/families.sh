#!/usr/bin/env bash
# Builds the image families of the robustness matrix (test/fixtures/families/<name>/, described
# in its README.md) as mcp-rewrap-test/family-<name>:latest. No registry: the bases come from
# test/bed/base-images.sh (run it first), gosu from Debian (`apt-get download gosu`), su-exec is
# our stand-in (su-exec-standin.c) compiled with the host's gcc (static). Artifacts are cached in
# ${MCP_REWRAP_CACHE:-~/.cache/mcp-rewrap}/families/.
# Idempotent: every image carries a label with a hash of its recipe (its directory, the shared
# fixture-server, the artifacts it copies and the base image's ID); an image whose label matches
# is kept. Progress goes to stderr. Env: FAMILIES_FORCE=1 rebuilds anyway.
# Usage: families.sh [NAME...]   (default: every family)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fixtures=$(cd "$here/../fixtures/families" && pwd)
cache=${MCP_REWRAP_CACHE:-$HOME/.cache/mcp-rewrap}/families
label=org.mcp-rewrap.recipe
mkdir -p "$cache"

log() { printf 'families: %s\n' "$*" >&2; }

# Temporary directories, removed on any exit, failed or not (set -e).
scratch=()
trap 'rm -rf "${scratch[@]}"' EXIT

need() {
  command -v "$1" >/dev/null 2>&1 && return 0
  log "installing $2 (for $1)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >&2
}

image_id() { docker image inspect -f '{{.Id}}' "$1" 2>/dev/null; }

# gosu: Debian's static binary, extracted from the .deb once.
gosu_bin() {
  local bin="$cache/gosu/gosu"
  if [ ! -x "$bin" ]; then
    log "downloading gosu .deb"
    rm -rf "$cache/gosu" && mkdir -p "$cache/gosu/deb"
    # A fresh machine may have no package lists yet: update once, then try again.
    (cd "$cache/gosu/deb" && apt-get download gosu >&2 2>/dev/null) ||
      { apt-get update -qq >&2 && (cd "$cache/gosu/deb" && apt-get download gosu >&2); } ||
      { log "apt-get download gosu failed"; exit 1; }
    dpkg-deb -x "$cache/gosu/deb"/gosu_*.deb "$cache/gosu/root"
    cp "$cache/gosu/root/usr/sbin/gosu" "$bin.tmp" && mv "$bin.tmp" "$bin"
    rm -rf "$cache/gosu/deb" "$cache/gosu/root"
  fi
  printf '%s\n' "$bin"
}

# su-exec: our own stand-in with su-exec's command-line contract (Debian has no su-exec package),
# compiled statically (glibc; static NSS reads /etc/passwd and /etc/group) once per source hash.
su_exec_bin() {
  local src="$fixtures/busybox-su-exec/su-exec-standin.c" sum bin
  sum=$(sha256sum "$src" | cut -c1-16)
  bin="$cache/su-exec-$sum"
  if [ ! -x "$bin" ]; then
    need gcc gcc
    log "compiling the su-exec stand-in ($sum)"
    gcc -O2 -Wall -static -o "$bin.tmp" "$src" 2>"$cache/su-exec.log" ||
      { cat "$cache/su-exec.log" >&2; log "compiling su-exec failed"; exit 1; }
    mv "$bin.tmp" "$bin"
  fi
  printf '%s\n' "$bin"
}

# artifacts NAME: "file-name<TAB>path" lines for what the family's Dockerfile copies besides
# its own directory and fixture-server.
artifacts() {
  case $1 in
    busybox-gosu | distroless) printf 'gosu\t%s\n' "$(gosu_bin)" ;;
    busybox-su-exec) printf 'su-exec\t%s\n' "$(su_exec_bin)" ;;
  esac
}

base_of() { awk 'toupper($1) == "FROM" { print $2; exit }' "$1/Dockerfile"; }

# Rewrites a loaded image's config to another architecture (docker import --platform needs an
# experimental daemon): save, edit the config, rename it to its new digest, load. Two layouts:
# the legacy store's `docker save` (manifest.json names the config file), and the OCI layout the
# containerd image store writes (index.json -> manifest blob -> config blob, all by digest: the
# manifest and the index entry are rewritten too, or `docker load` brings back the old config).
retarget() {
  local image=$1 arch=$2 dir cfg new sum
  dir=$(mktemp -d "$cache/retarget.XXXXXX")
  scratch+=("$dir")
  docker save "$image" | tar -x -C "$dir"
  if [ -f "$dir/index.json" ]; then
    retarget_oci "$dir" "$arch"
  else
    cfg=$(jq -r '.[0].Config' "$dir/manifest.json")
    new=$(jq -c --arg a "$arch" '.architecture = $a' "$dir/$cfg")
    printf '%s' "$new" >"$dir/new.json"
    sum=$(sha256sum "$dir/new.json" | cut -d' ' -f1)
    mv "$dir/new.json" "$dir/$sum.json"
    rm -f "$dir/$cfg"
    jq --arg c "$sum.json" '.[0].Config = $c' "$dir/manifest.json" >"$dir/manifest.new" && mv "$dir/manifest.new" "$dir/manifest.json"
  fi
  local old
  old=$(image_id "$image")
  tar -C "$dir" -c . | docker load -q >/dev/null
  rm -rf "$dir"
  [ "$(docker image inspect -f '{{.Architecture}}' "$image")" = "$arch" ] ||
    { log "retarget: $image is still not $arch after docker load"; exit 1; }
  # The amd64 build is no longer tagged; remove it (and nothing else).
  if [ -n "$old" ] && [ "$old" != "$(image_id "$image")" ]; then docker rmi "$old" >/dev/null 2>&1 || true; fi
}

# put_blob DIR FILE: moves FILE into DIR/blobs/sha256/<its digest>; prints "sha256:<hex> <size>".
put_blob() {
  local sum size
  sum=$(sha256sum "$2" | cut -d' ' -f1)
  size=$(stat -c %s "$2")
  mv "$2" "$1/blobs/sha256/$sum"
  printf 'sha256:%s %s\n' "$sum" "$size"
}

# retarget_oci DIR ARCH: the OCI layout: new config blob, new manifest blob, new index entry
# (with its platform), and manifest.json (the legacy description, also written by 28.x) kept in step.
retarget_oci() {
  local dir=$1 arch=$2 mdesc mfile cfg cdigest csize mdigest msize
  [ "$(jq '.manifests | length' "$dir/index.json")" = 1 ] || { log "retarget: expected one image in the saved index"; exit 1; }
  mdesc=$(jq -c '.manifests[0]' "$dir/index.json")
  case $(jq -r '.mediaType' <<<"$mdesc") in
    *manifest.v1+json | *manifest.v2+json) ;;
    *) log "retarget: the saved image is not a single-platform manifest ($(jq -r '.mediaType' <<<"$mdesc"))"; exit 1 ;;
  esac
  mfile="$dir/blobs/sha256/$(jq -r '.digest' <<<"$mdesc" | cut -d: -f2)"
  cfg="$dir/blobs/sha256/$(jq -r '.config.digest' "$mfile" | cut -d: -f2)"
  jq -cj --arg a "$arch" '.architecture = $a' "$cfg" >"$dir/config.new"
  read -r cdigest csize < <(put_blob "$dir" "$dir/config.new")
  jq -cj --arg d "$cdigest" --argjson s "$csize" '.config.digest = $d | .config.size = $s' "$mfile" >"$dir/manifest.blob.new"
  read -r mdigest msize < <(put_blob "$dir" "$dir/manifest.blob.new")
  jq -c --arg d "$mdigest" --argjson s "$msize" --arg a "$arch" \
    '.manifests[0].digest = $d | .manifests[0].size = $s | .manifests[0].platform = {os: "linux", architecture: $a}' \
    "$dir/index.json" >"$dir/index.new" && mv "$dir/index.new" "$dir/index.json"
  if [ -f "$dir/manifest.json" ]; then
    jq -c --arg c "blobs/sha256/${cdigest#sha256:}" '.[0].Config = $c' "$dir/manifest.json" >"$dir/manifest.new" &&
      mv "$dir/manifest.new" "$dir/manifest.json"
  fi
}

build_family() {
  local name=$1 dir="$fixtures/$1" image="mcp-rewrap-test/family-$1:latest" base base_id recipe current ctx
  [ -f "$dir/Dockerfile" ] || { log "no family $name (no $dir/Dockerfile)"; exit 2; }
  base=$(base_of "$dir")
  base_id=scratch
  if [ "$base" != scratch ]; then
    base_id=$(image_id "$base") || { log "$base missing: run test/bed/base-images.sh first"; exit 1; }
  fi
  local arts
  arts=$(artifacts "$name")
  recipe=$( {
    (cd "$dir" && find . -type f | LC_ALL=C sort | xargs sha256sum)
    sha256sum <"$fixtures/fixture-server"
    printf '%s\n' "$arts" | while IFS=$'\t' read -r file path; do
      if [ -n "$file" ]; then printf '%s %s\n' "$file" "$(sha256sum <"$path")"; fi
    done
    printf 'base %s\n' "$base_id"
  } | sha256sum | cut -c1-32)
  current=$(docker image inspect -f "{{ index .Config.Labels \"$label\" }}" "$image" 2>/dev/null || true)
  if [ "$current" = "$recipe" ] && [ "${FAMILIES_FORCE:-0}" != 1 ]; then
    log "$image up to date"
    return
  fi
  ctx=$(mktemp -d "$cache/ctx-$name.XXXXXX")
  scratch+=("$ctx" "$ctx.log")
  cp -R "$dir/." "$ctx/"
  cp "$fixtures/fixture-server" "$ctx/"
  printf '%s\n' "$arts" | while IFS=$'\t' read -r file path; do
    if [ -n "$file" ]; then cp "$path" "$ctx/$file"; fi
  done
  chmod 0755 "$ctx/fixture-server"
  log "building $image (recipe $recipe)"
  local old
  old=$(image_id "$image" || true)
  if ! docker build -q --label "$label=$recipe" -t "$image" "$ctx" >/dev/null 2>"$ctx.log"; then
    cat "$ctx.log" >&2
    rm -rf "$ctx" "$ctx.log"
    log "building $image failed"
    exit 1
  fi
  rm -rf "$ctx" "$ctx.log"
  if [ "$name" = arm64 ]; then retarget "$image" arm64; fi
  # The previous build of this family, now untagged: remove it (never anything else).
  if [ -n "$old" ] && [ "$old" != "$(image_id "$image")" ]; then docker rmi "$old" >/dev/null 2>&1 || true; fi
}

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for d in "$fixtures"/*/; do
    d=${d%/}
    if [ -f "$d/Dockerfile" ]; then names+=("${d##*/}"); fi
  done
fi
for name in "${names[@]}"; do build_family "$name"; done

#!/usr/bin/env bash
# Prepares what the publish tests need, without running anything of a foreign architecture:
#   - the registry: Debian's docker-registry package (and apache2-utils for htpasswd);
#   - two busybox rootfs layers, linux/amd64 and linux/arm64, each assembled from Debian's
#     busybox-static .deb of that architecture (dpkg-deb -x, applet symlinks, /etc/passwd with
#     a user "app" 1001), written as deterministic gzip'd tars:
#       $cache/multiarch/busybox-amd64.tar.gz  $cache/multiarch/busybox-arm64.tar.gz
# The arm64 .deb comes through a private apt state (its own package lists under $cache, with
# arm64 added only there): the system's dpkg architectures and lists are left alone.
# Idempotent and cached in ${MCP_REWRAP_CACHE:-~/.cache/mcp-rewrap}. Progress on stderr.
set -euo pipefail

cache=${MCP_REWRAP_CACHE:-$HOME/.cache/mcp-rewrap}
out="$cache/multiarch"
recipe=2 # bump when the rootfs recipe changes: the cached layers are rebuilt
log() { printf 'multiarch: %s\n' "$*" >&2; }

apt_install() {
  log "installing $*"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2 </dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 </dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2 </dev/null
  fi
}

tools() {
  local missing=()
  command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
  command -v htpasswd >/dev/null 2>&1 || missing+=(apache2-utils)
  if [ "${#missing[@]}" -gt 0 ]; then apt_install "${missing[@]}"; fi
}

# debs: busybox-static for amd64 and arm64 into $out/debs, via a private apt state.
debs() {
  local debs="$out/debs" state="$out/apt"
  if [ -n "$(find "$debs" -name 'busybox-static_*_amd64.deb' 2>/dev/null)" ] &&
    [ -n "$(find "$debs" -name 'busybox-static_*_arm64.deb' 2>/dev/null)" ]; then return; fi
  mkdir -p "$debs" "$state/lists/partial" "$state/cache/archives/partial"
  local opts=(-o "Dir::State::Lists=$state/lists" -o "Dir::Cache=$state/cache" -o "APT::Architectures::=amd64"
    -o "APT::Architectures::=arm64" -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root")
  log "apt-get update (private lists with arm64, in $state)"
  apt-get "${opts[@]}" update -qq >&2 </dev/null || { log "apt-get update for arm64 failed: is the arm64 index reachable?"; exit 1; }
  log "downloading busybox-static for amd64 and arm64"
  (cd "$debs" && apt-get "${opts[@]}" download busybox-static:amd64 busybox-static:arm64 >&2 </dev/null) ||
    { log "apt-get download busybox-static:arm64 failed"; exit 1; }
}

# rootfs ARCH: $out/busybox-ARCH.tar.gz
rootfs() {
  local arch=$1 deb root applets applet
  local dest="$out/busybox-$arch.tar.gz"
  [ -s "$dest" ] && return
  deb=$(find "$out/debs" -name "busybox-static_*_$arch.deb" | head -n 1)
  root=$(mktemp -d "$out/root-$arch.XXXXXX")
  trap 'rm -rf "$root"' RETURN
  dpkg-deb -x "$deb" "$root/x"
  mkdir -p "$root/fs/bin" "$root/fs/etc" "$root/fs/tmp" "$root/fs/root" "$root/fs/home/app" "$root/fs/proc" "$root/fs/dev" "$root/fs/sys"
  mv "$(find "$root/x" -type f -path "*bin/busybox" -size +100k | head -n 1)" "$root/fs/bin/busybox"
  # The applet list of the same package version, read from the amd64 build (never run arm64).
  applets=$(cat "$out/applets")
  for applet in $applets; do
    # No setpriv applet: busybox's lacks --reuid/--regid, so the shim must use busybox su.
    case $applet in busybox | setpriv) ;; *) ln -s busybox "$root/fs/bin/$applet" ;; esac
  done
  printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1001:1001:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/fs/etc/passwd"
  printf 'root:x:0:\napp:x:1001:\nnogroup:x:65534:\n' >"$root/fs/etc/group"
  printf '%s\n' "$arch" >"$root/fs/etc/mcp-rewrap-arch"
  chmod 0700 "$root/fs/root"
  chmod 1777 "$root/fs/tmp"
  chmod 0755 "$root/fs/home/app"
  # root-owned, fixed mtimes, sorted: the same bytes on every run (/home/app is fixed up by the shim).
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$root/fs" -c . |
    gzip -n -9 >"$dest.tmp"
  mv "$dest.tmp" "$dest"
  log "wrote $dest"
}

applet_list() {
  [ -s "$out/applets" ] && return
  local tmp
  tmp=$(mktemp -d)
  dpkg-deb -x "$(find "$out/debs" -name 'busybox-static_*_amd64.deb' | head -n 1)" "$tmp"
  "$(find "$tmp" -type f -path "*bin/busybox" -size +100k | head -n 1)" --list >"$out/applets"
  rm -rf "$tmp"
}

mkdir -p "$out"
if [ "$(cat "$out/recipe" 2>/dev/null)" != "$recipe" ]; then
  rm -f "$out"/busybox-*.tar.gz
  printf '%s\n' "$recipe" >"$out/recipe"
fi
tools
debs
applet_list
rootfs amd64
rootfs arm64

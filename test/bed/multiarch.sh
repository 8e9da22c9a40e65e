#!/usr/bin/env bash
# Prepares what the publish tests need, without running anything of a foreign architecture:
#   - the registry: Debian's docker-registry package (and apache2-utils for htpasswd);
#   - two busybox rootfs layers, linux/amd64 and linux/arm64, each assembled from Debian's
#     busybox-static .deb of that architecture (dpkg-deb -x, applet symlinks, /etc/passwd with
#     a user "app" 1001), written as deterministic gzip'd tars:
#       $cache/multiarch/busybox-amd64.tar.gz  $cache/multiarch/busybox-arm64.tar.gz
# Both .debs come straight from the Debian mirror, signature-checked (see debs below): the
# system's apt sources, lists and dpkg architectures are left alone.
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

keyring=/usr/share/keyrings/debian-archive-keyring.gpg

tools() {
  local missing=()
  command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
  command -v htpasswd >/dev/null 2>&1 || missing+=(apache2-utils)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  command -v gpgv >/dev/null 2>&1 || missing+=(gpgv)
  command -v xz >/dev/null 2>&1 || missing+=(xz-utils)
  [ -s "$keyring" ] || missing+=(debian-archive-keyring)
  if [ "${#missing[@]}" -gt 0 ]; then apt_install "${missing[@]}"; fi
}

mirror() {
  local uri
  uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  printf '%s\n' "${uri:-http://deb.debian.org/debian}"
}

fetch() { curl -fsSL --retry 3 -o "$2" "$1" || { log "downloading $1 failed"; exit 1; }; }

# debs: busybox-static for amd64 and arm64 into $out/debs, straight from the Debian mirror (the
# bed's bookworm; the URIs: line of /etc/apt/sources.list.d/debian.sources, else deb.debian.org),
# checked as apt checks them: InRelease signed by the Debian archive keyring (gpgv), Packages.xz
# by its SHA256 in InRelease, the .deb by its SHA256 in Packages. Neither the machine's apt
# sources nor its dpkg architectures are used, so this works the same on a Debian host and on an
# Ubuntu CI runner (whose arm64 packages live on another mirror).
debs() {
  local debs="$out/debs" suite=bookworm m dir arch rel want got file sum
  if [ -n "$(find "$debs" -name 'busybox-static_*_amd64.deb' 2>/dev/null)" ] &&
    [ -n "$(find "$debs" -name 'busybox-static_*_arm64.deb' 2>/dev/null)" ]; then return; fi
  m=$(mirror)
  mkdir -p "$debs"
  dir=$(mktemp -d "$out/dl.XXXXXX")
  trap 'rm -rf "$dir"' RETURN
  log "downloading busybox-static for amd64 and arm64 from $m ($suite)"
  fetch "$m/dists/$suite/InRelease" "$dir/InRelease"
  gpgv --keyring "$keyring" "$dir/InRelease" 2>"$dir/gpgv.log" ||
    { cat "$dir/gpgv.log" >&2; log "$m/dists/$suite/InRelease: bad signature"; exit 1; }
  for arch in amd64 arm64; do
    rel="main/binary-$arch/Packages.xz"
    want=$(awk -v f="$rel" '/^SHA256:/ {on = 1; next} /^[A-Za-z]/ {on = 0} on && $3 == f {print $1; exit}' "$dir/InRelease")
    [ -n "$want" ] || { log "InRelease lists no $rel"; exit 1; }
    fetch "$m/dists/$suite/$rel" "$dir/Packages-$arch.xz"
    got=$(sha256sum "$dir/Packages-$arch.xz" | cut -d' ' -f1)
    [ "$got" = "$want" ] || { log "$rel: sha256 $got, InRelease says $want"; exit 1; }
    read -r file sum < <(xz -dc "$dir/Packages-$arch.xz" |
      awk '/^Package: / {p = ($2 == "busybox-static")} p && /^Filename: / {f = $2} p && /^SHA256: / {s = $2} /^$/ && p && f {print f, s; exit}')
    [ -n "${file:-}" ] || { log "no busybox-static in $rel"; exit 1; }
    fetch "$m/$file" "$dir/busybox-static_$arch.deb"
    got=$(sha256sum "$dir/busybox-static_$arch.deb" | cut -d' ' -f1)
    [ "$got" = "$sum" ] || { log "$file: sha256 $got, Packages says $sum"; exit 1; }
    mv "$dir/busybox-static_$arch.deb" "$debs/${file##*/}"
  done
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

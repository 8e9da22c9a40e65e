#!/usr/bin/env bash
# Builds the hermetic base images every test and the demo use. Nothing comes from a registry:
#   mcp-rewrap-test/bookworm  Debian bookworm minbase (debootstrap) + libstdc++6 (for a node binary)
#   mcp-rewrap-test/busybox   a busybox-static rootfs: no setpriv, busybox su as the drop tool
# The debootstrap tree is cached in $MCP_REWRAP_CACHE (default ~/.cache/mcp-rewrap); an image
# that already exists in the engine is kept. Progress goes to stderr.
set -euo pipefail

cache=${MCP_REWRAP_CACHE:-$HOME/.cache/mcp-rewrap}
mkdir -p "$cache"
log() { printf 'base-images: %s\n' "$*" >&2; }

mirror() {
  local uri
  uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  printf '%s\n' "${uri:-http://deb.debian.org/debian}"
}

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

need() {
  command -v "$1" >/dev/null 2>&1 && return 0
  log "installing $2 (for $1)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >&2
}

bookworm() {
  local name=mcp-rewrap-test/bookworm:latest tree="$cache/rootfs-bookworm"
  if have_image "$name"; then log "$name present"; return; fi
  if [ ! -x "$tree/bin/sh" ] || [ ! -e "$tree/.mcp-rewrap-complete" ]; then
    need debootstrap debootstrap
    rm -rf "$tree"
    log "debootstrap bookworm (minbase) into $tree"
    if ! debootstrap --variant=minbase --include=libstdc++6 bookworm "$tree" "$(mirror)" >"$cache/debootstrap.log" 2>&1; then
      tail -n 20 "$cache/debootstrap.log" >&2
      log "debootstrap failed; full log in $cache/debootstrap.log"
      exit 1
    fi
    rm -rf "$tree/var/cache/apt/archives/"*.deb "$tree/var/lib/apt/lists/"*
    touch "$tree/.mcp-rewrap-complete"
  fi
  log "importing $name"
  tar --exclude=./.mcp-rewrap-complete -C "$tree" -c . |
    docker import -c 'CMD ["/bin/bash"]' - "$name" >/dev/null
}

busybox_image() {
  local name=mcp-rewrap-test/busybox:latest dir="$cache/busybox"
  if have_image "$name"; then log "$name present"; return; fi
  mkdir -p "$dir"
  if ! ls "$dir"/busybox-static_*.deb >/dev/null 2>&1; then
    log "downloading busybox-static .deb"
    # A fresh machine may have no package lists yet: update once, then try again.
    (cd "$dir" && apt-get download busybox-static >&2 2>/dev/null) ||
      { apt-get update -qq >&2 && (cd "$dir" && apt-get download busybox-static >&2); } ||
      { log "apt-get download busybox-static failed"; exit 1; }
  fi
  local root
  root=$(mktemp -d "$cache/busybox-root.XXXXXX")
  trap 'rm -rf "$root"' RETURN
  dpkg-deb -x "$dir"/busybox-static_*.deb "$root"
  mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root" "$root/home" "$root/proc" "$root/dev" "$root/sys"
  local bb
  bb=$(find "$root" -type f -name busybox -size +100k | head -n 1)
  mv "$bb" "$root/busybox.tmp"
  rm -rf "${root:?}/usr" "${root:?}/bin"
  mkdir -p "$root/bin"
  mv "$root/busybox.tmp" "$root/bin/busybox"
  local applet
  local applets
  applets=$("$root/bin/busybox" --list)
  for applet in $applets; do
    [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
  done
  chmod 0700 "$root/root"
  chmod 1777 "$root/tmp"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  log "importing $name"
  tar -C "$root" -c . | docker import -c 'ENV PATH=/bin' -c 'CMD ["/bin/sh"]' - "$name" >/dev/null
}

bookworm
busybox_image

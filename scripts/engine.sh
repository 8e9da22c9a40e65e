#!/usr/bin/env bash
# Makes this machine ready for the tests and the demo, idempotently:
#   - the host tools the test bed needs: shellcheck, debootstrap, busybox-static and
#     debian-archive-keyring (apt), and Go with yaml.v3 (golang-go, golang-gopkg-yaml.v3-dev) for
#     test/go/catalogcheck, which decodes what `catalog` writes with the gateway's field set;
#   - a running Docker engine: if `docker info` fails, install docker.io when dockerd is
#     missing, start dockerd in the background (log: $MCP_REWRAP_DOCKERD_LOG, default
#     /var/log/mcp-rewrap-dockerd.log) and wait up to $MCP_REWRAP_ENGINE_WAIT s (default 60).
# `apt-get update` runs at most once, and only when something is missing. Quiet when all is
# there already; progress goes to stderr. Must run as root (or with sudo available).
#   scripts/engine.sh            tools + engine
#   scripts/engine.sh --tools    tools only (e.g. shellcheck for `make lint`)
set -euo pipefail

log() { printf 'engine: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

SUDO=()
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null 2>&1 || die "not root and no sudo: cannot install packages or start dockerd"
  SUDO=(sudo -n)
fi

updated=0
apt_update() {
  [ "$updated" = 1 ] && return 0
  log "apt-get update"
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || die "apt-get update failed"
  updated=1
}

# apt_install PKG...: install the packages (apt-get update first, once).
apt_install() {
  apt_update
  log "installing $*"
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "$@" >&2 </dev/null || die "apt-get install $* failed"
}

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

tools() {
  local missing=() pkg
  command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
  command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || missing+=(debootstrap)
  installed busybox-static || missing+=(busybox-static)
  # debootstrap checks Debian's Release signatures with it (absent on an Ubuntu CI runner).
  [ -s /usr/share/keyrings/debian-archive-keyring.gpg ] || missing+=(debian-archive-keyring)
  command -v go >/dev/null 2>&1 || missing+=(golang-go)
  [ -d /usr/share/gocode/src/gopkg.in/yaml.v3 ] || missing+=(golang-gopkg-yaml.v3-dev)
  if [ "${#missing[@]}" -gt 0 ]; then apt_install "${missing[@]}"; fi
  # test/bed/base-images.sh runs `apt-get download busybox-static`, which needs package lists.
  if ! apt-cache show busybox-static >/dev/null 2>&1; then apt_update; fi
  for pkg in shellcheck debootstrap go; do
    command -v "$pkg" >/dev/null 2>&1 || [ -x "/usr/sbin/$pkg" ] || die "$pkg still missing after install"
  done
}

engine_up() { docker info >/dev/null 2>&1; }

# system_dockerd: whether the system dockerd (the one with the default pidfile) is alive. Not
# `pgrep -x dockerd`: that also finds engine2's dockerd (scripts/engine2.sh), and then this
# script waited for an engine nobody had started.
system_dockerd() {
  local pid
  pid=$(cat /var/run/docker.pid 2>/dev/null) || return 1
  [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ]
}

engine() {
  engine_up && return 0
  command -v docker >/dev/null 2>&1 || apt_install docker.io
  if ! command -v dockerd >/dev/null 2>&1; then
    apt_install docker.io
    command -v dockerd >/dev/null 2>&1 || die "dockerd still missing after installing docker.io"
  fi

  local logfile=${MCP_REWRAP_DOCKERD_LOG:-/var/log/mcp-rewrap-dockerd.log}
  local wait=${MCP_REWRAP_ENGINE_WAIT:-60} pid=''
  if system_dockerd; then
    log "dockerd is running but not answering yet; waiting"
  else
    if ! { mkdir -p "$(dirname "$logfile")" && : >>"$logfile"; } 2>/dev/null; then
      logfile=${MCP_REWRAP_CACHE:-$HOME/.cache/mcp-rewrap}/dockerd.log
      mkdir -p "$(dirname "$logfile")"
    fi
    # MCP_REWRAP_ENGINE_OFFLINE=1 (.ci/run): the engine's pulls from anything but loopback go to
    # the tests' net guard (scripts/net-guard.mjs, port MCP_REWRAP_NET_GUARD_PORT), never out.
    local proxy=()
    if [ "${MCP_REWRAP_ENGINE_OFFLINE:-}" = 1 ]; then
      local guard=http://127.0.0.1:${MCP_REWRAP_NET_GUARD_PORT:-43129}
      proxy=(env "HTTP_PROXY=$guard" "HTTPS_PROXY=$guard" "NO_PROXY=127.0.0.1,localhost,::1")
      log "starting dockerd offline: its pulls go to $guard, nowhere else"
    fi
    log "starting dockerd (log: $logfile)"
    # setsid + nohup: dockerd outlives this script, make and the CI step's process group.
    "${SUDO[@]}" "${proxy[@]}" setsid nohup dockerd >>"$logfile" 2>&1 </dev/null &
    pid=$!
  fi

  local i
  for ((i = 0; i < wait; i++)); do
    if engine_up; then
      log "engine up after ${i}s: $(docker version --format 'server {{.Server.Version}}, client {{.Client.Version}}' 2>/dev/null || echo '?')"
      return 0
    fi
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      log "dockerd exited after ${i}s; last log lines ($logfile):"
      tail -n 25 "$logfile" >&2 2>/dev/null || true
      die "no Docker engine: dockerd did not stay up (see $logfile)"
    fi
    sleep 1
  done
  log "docker info still fails after ${wait}s; last dockerd log lines ($logfile):"
  tail -n 25 "$logfile" >&2 2>/dev/null || true
  docker info 2>&1 | tail -n 5 >&2 || true
  die "no Docker engine: see $logfile"
}

case "${1:-}" in
  --tools) tools ;;
  "") tools; engine ;;
  *) die "usage: $0 [--tools]" ;;
esac

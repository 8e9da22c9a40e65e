#!/usr/bin/env bash
# A second Docker engine beside the system one: Debian sid's docker.io (28.x) with the containerd
# image store, so the suite also runs against what Docker 27-29 users have (issue 13).
#
#   scripts/engine2.sh start    idempotent; prints the DOCKER_HOST to use on stdout
#   scripts/engine2.sh stop     stops dockerd and containerd (by their recorded PIDs)
#   scripts/engine2.sh status   prints "running <DOCKER_HOST> <version>" or "stopped"; exit 0/1
#   scripts/engine2.sh host     prints the DOCKER_HOST (whether running or not)
#
# How (see docs in ../shared/ENGINES.md of the project brief):
#   - a Debian sid tree (debootstrap minbase + docker.io containerd runc docker-cli docker-buildx
#     tini-static, and procps: `docker top` runs the engine's own ps), cached in
#     ${MCP_REWRAP_CACHE:-~/.cache/mcp-rewrap}/engine2/sid (sid's runc needs a newer glibc than
#     bookworm's, so the engine runs inside that tree); its images and containers persist in
#     .../engine2/data (so a warm start finds the test bed's images);
#   - a private mount namespace: the tree bind-mounted onto itself, /proc /sys /dev rbind-mounted,
#     /tmp /root /work /home bind-mounted at their own paths (a client's bind-mount paths resolve as
#     on the host), the run directory and the data directory bind-mounted, then pivot_root;
#   - its own containerd (config, root, state, socket) and dockerd (socket, data-root, exec-root,
#     pidfile, cgroup-parent), no bridge, no iptables, no ip forwarding: the host's network and the
#     system engine (/var/run/docker.sock, /var/lib/docker, /run/containerd) are left alone.
# The sid mirror is the one bookworm comes from (the URIs: line of
# /etc/apt/sources.list.d/debian.sources); sid is never added to the machine's apt sources.
# Env: MCP_REWRAP_ENGINE2_NAME (default mcp-rewrap-engine2: socket /run/<name>/docker.sock),
#      MCP_REWRAP_ENGINE2_WAIT (seconds to wait for `docker info`, default 90).
# Must run as root. Progress goes to stderr.
set -euo pipefail

name=${MCP_REWRAP_ENGINE2_NAME:-mcp-rewrap-engine2}
cache=${MCP_REWRAP_CACHE:-$HOME/.cache/mcp-rewrap}/engine2
tree=$cache/sid
data=$cache/data
run=/run/$name
sock=$run/docker.sock
host=unix://$sock
log_file=$cache/engine2.log
recipe=2 # bump when the tree's package list or setup changes: the tree is rebuilt
packages=(docker.io containerd runc docker-cli docker-buildx tini-static ca-certificates procps)

log() { printf 'engine2: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

mirror() {
  local uri
  uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  printf '%s\n' "${uri:-http://deb.debian.org/debian}"
}

# The sid tree with the engine's packages, built once (into a temporary directory, then renamed).
ensure_tree() {
  if [ -x "$tree/usr/sbin/dockerd" ] && [ "$(cat "$tree/.mcp-rewrap-recipe" 2>/dev/null)" = "$recipe" ]; then return; fi
  command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || {
    log "installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2 </dev/null ||
      { DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 </dev/null &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2 </dev/null; } ||
      die "cannot install debootstrap"
  }
  if [ ! -s /usr/share/keyrings/debian-archive-keyring.gpg ]; then
    log "installing debian-archive-keyring (debootstrap checks sid's Release with it)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debian-archive-keyring >&2 </dev/null ||
      die "cannot install debian-archive-keyring"
  fi
  local tmp=$cache/sid.tmp m
  m=$(mirror)
  rm -rf "$tmp" "$tree"
  mkdir -p "$cache"
  log "debootstrap sid (minbase) from $m into $tmp"
  if ! debootstrap --variant=minbase sid "$tmp" "$m" >"$cache/debootstrap.log" 2>&1; then
    tail -n 20 "$cache/debootstrap.log" >&2
    die "debootstrap sid failed; full log in $cache/debootstrap.log"
  fi
  # No service starts inside the tree while installing.
  printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
  chmod 0755 "$tmp/usr/sbin/policy-rc.d"
  cp /etc/resolv.conf "$tmp/etc/resolv.conf" 2>/dev/null || true
  log "installing ${packages[*]} in the sid tree"
  # The sid Release file may be past its Valid-Until on a snapshot mirror.
  if ! chroot "$tmp" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive sh -c \
    "apt-get -qq -o Acquire::Check-Valid-Until=false update && apt-get install -y -qq --no-install-recommends ${packages[*]} && apt-get clean" \
    >>"$cache/debootstrap.log" 2>&1 </dev/null; then
    tail -n 20 "$cache/debootstrap.log" >&2
    die "installing the engine packages in the sid tree failed; full log in $cache/debootstrap.log"
  fi
  rm -rf "$tmp/var/lib/apt/lists/"*
  cp /etc/hosts "$tmp/etc/hosts"
  printf '%s\n' "$recipe" >"$tmp/.mcp-rewrap-recipe"
  mv "$tmp" "$tree"
  # shellcheck disable=SC2016 # a dpkg-query format, not shell
  log "sid tree ready: $(chroot "$tree" dpkg-query -W -f='${Package} ${Version}, ' docker.io containerd runc 2>/dev/null)"
}

# The init script that runs inside the namespace after pivot_root: containerd, then dockerd.
write_config() {
  mkdir -p "$tree/etc/$name" "$tree$run" "$tree/var/lib/$name"
  cat >"$tree/etc/$name/containerd.toml" <<EOF
version = 3
root = "/var/lib/$name/containerd"
state = "$run/containerd"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.cri.v1.images", "io.containerd.cri.v1.runtime", "io.containerd.podsandbox.controller.v1.podsandbox", "io.containerd.sandbox.controller.v1.shim"]
[grpc]
  address = "$run/containerd/containerd.sock"
[ttrpc]
  address = "$run/containerd/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
EOF
  cat >"$tree/etc/$name/daemon.json" <<'EOF'
{ "features": { "containerd-snapshotter": true } }
EOF
  cat >"$tree/etc/$name/init.sh" <<EOF
#!/bin/sh
# Runs inside the private mount namespace, after pivot_root (written by scripts/engine2.sh).
set -e
mkdir -p $run/containerd /var/lib/$name/containerd /var/lib/$name/docker $run/exec
# A containerd that was killed leaves its socket behind: without this, the wait below ends at
# once and dockerd starts before containerd answers (its image store then refuses every call).
rm -f $run/containerd/containerd.sock $run/containerd/containerd.sock.ttrpc
containerd --config /etc/$name/containerd.toml &
cpid=\$!
echo \$cpid >$run/containerd.pid
i=0
until ctr --address $run/containerd/containerd.sock version >/dev/null 2>&1; do
  kill -0 \$cpid 2>/dev/null || { echo "containerd exited during start-up" >&2; exit 1; }
  i=\$((i + 1)); [ \$i -lt 300 ] || { echo "containerd did not answer in 30 s" >&2; exit 1; }
  sleep 0.1
done
# Pulls from anything but loopback go to the tests' net guard (scripts/net-guard.mjs), never out.
export HTTP_PROXY=http://127.0.0.1:${MCP_REWRAP_NET_GUARD_PORT:-43129} HTTPS_PROXY=http://127.0.0.1:${MCP_REWRAP_NET_GUARD_PORT:-43129} NO_PROXY=127.0.0.1,localhost,::1
exec dockerd --config-file /etc/$name/daemon.json -H unix://$sock --containerd $run/containerd/containerd.sock \\
  --data-root /var/lib/$name/docker --exec-root $run/exec --pidfile $run/docker.pid \\
  --cgroup-parent $name --iptables=false --ip6tables=false --ip-forward=false --bridge=none \\
  --userland-proxy=false
EOF
  chmod 0755 "$tree/etc/$name/init.sh"
}

# Answering means the image store answers too: on the containerd store, dockerd answers `docker
# info` while its containerd may not (an image call then fails with "connection refused").
up() { DOCKER_HOST=$host docker info >/dev/null 2>&1 && DOCKER_HOST=$host docker image ls -q >/dev/null 2>&1; }

# dockerd with --bridge=none deletes the link named docker0 at start (moby's
# removeDefaultBridgeInterface), and this engine shares the host's network namespace (its
# --network host containers must reach the tests' services on 127.0.0.1). docker0 belongs to the
# system engine: remember its addresses before the start and put it back, the same, after it.
docker0_addrs=
remember_docker0() { docker0_addrs=$(ip -o -4 addr show dev docker0 2>/dev/null | awk '{print $4}') || docker0_addrs=; }
restore_docker0() {
  [ -n "$docker0_addrs" ] || return 0
  ip link show docker0 >/dev/null 2>&1 && return 0
  local a
  ip link add docker0 type bridge || { log "docker0 (the system engine's bridge) was removed and could not be recreated: restart the system dockerd"; return 0; }
  for a in $docker0_addrs; do ip addr add "$a" dev docker0 || true; done
  ip link set docker0 up || true
  log "put back docker0 ($docker0_addrs), the system engine's bridge, which dockerd --bridge=none removes at start"
}

# pid_alive FILE: whether the pid FILE names is a running dockerd or containerd. The name counts:
# a pidfile can outlive its process (a machine restored from a snapshot keeps /run), and its
# number may belong to another process by then, which stop() must never signal.
pid_alive() {
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 1
  [ -n "$pid" ] && case $(cat "/proc/$pid/comm" 2>/dev/null) in dockerd | containerd) true ;; *) false ;; esac
}

start() {
  [ "$(id -u)" = 0 ] || die "must run as root (it mounts, pivots and starts dockerd)"
  command -v docker >/dev/null 2>&1 || die "no docker client on this machine: run scripts/engine.sh first"
  local fresh=0
  if [ -x "$tree/usr/sbin/dockerd" ] && [ "$(cat "$tree/.mcp-rewrap-recipe" 2>/dev/null)" = "$recipe" ]; then fresh=1; fi
  # The engine on this socket may have been started from another cache (MCP_REWRAP_CACHE).
  if up && [ "$(cat "$run/cache" 2>/dev/null)" != "$cache" ]; then fresh=0; fi
  if up && [ "$fresh" = 1 ]; then printf '%s\n' "$host"; return; fi
  if up; then log "the running engine2 is not this cache's ($cache), or its sid tree is out of date: stopping it"; fi
  if pid_alive "$run/docker.pid" || pid_alive "$run/containerd.pid"; then
    log "stopping the engine2 that runs (not answering, or its tree is being rebuilt)"
    stop
  fi
  local t0=$SECONDS
  ensure_tree
  write_config
  mkdir -p "$run" "$data"
  rm -f "$sock" "$run/docker.pid" "$run/containerd.pid"
  printf '%s\n' "$cache" >"$run/cache"
  local binds=() d
  for d in /tmp /root /work /home; do
    if [ -d "$d" ]; then binds+=("$d"); fi
  done
  remember_docker0
  log "starting containerd + dockerd in a private mount namespace (log: $log_file)"
  # setsid + nohup: the engine outlives this script, make and the CI step's process group.
  # shellcheck disable=SC2016 # the script runs in the new namespace, with its own arguments
  setsid nohup unshare --mount --propagation private -- /bin/bash -c '
    set -e
    tree=$1 run=$2 data=$3 name=$4; shift 4
    mount --bind "$tree" "$tree"
    mount --rbind /proc "$tree/proc"
    mount --rbind /sys "$tree/sys"
    mount --rbind /dev "$tree/dev"
    for d in "$@"; do mkdir -p "$tree$d"; mount --rbind "$d" "$tree$d"; done
    mount --bind "$run" "$tree$run"
    mount --bind "$data" "$tree/var/lib/$name"
    mkdir -p "$tree/.oldroot"
    cd "$tree"
    pivot_root . .oldroot
    cd /
    umount -l /.oldroot
    exec /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root "/etc/$name/init.sh"
  ' engine2 "$tree" "$run" "$data" "$name" "${binds[@]}" >>"$log_file" 2>&1 </dev/null &
  local wait=${MCP_REWRAP_ENGINE2_WAIT:-90} i
  for ((i = 0; i < wait * 5; i++)); do
    if up; then break; fi
    sleep 0.2
  done
  restore_docker0
  if ! up; then
    tail -n 25 "$log_file" >&2 || true
    die "engine2 did not answer \`docker info\` after ${wait}s (log: $log_file)"
  fi
  local driver
  driver=$(DOCKER_HOST=$host docker info --format '{{range .DriverStatus}}{{index . 0}}={{index . 1}} {{end}}' 2>/dev/null)
  case $driver in
    *driver-type=io.containerd.snapshotter.v1*) ;;
    *) stop; die "engine2 is up but not on the containerd image store (driver status: $driver)" ;;
  esac
  log "engine2 up in $((SECONDS - t0))s: $(DOCKER_HOST=$host docker version --format 'server {{.Server.Version}}' 2>/dev/null), containerd image store"
  printf '%s\n' "$host"
}

stop() {
  local f pid i
  for f in "$run/docker.pid" "$run/containerd.pid"; do
    [ -s "$f" ] || continue
    pid=$(cat "$f")
    if pid_alive "$f"; then
      kill -TERM "$pid" 2>/dev/null || true
      for ((i = 0; i < 150; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      if kill -0 "$pid" 2>/dev/null; then log "pid $pid ($f) did not stop; killing it"; kill -KILL "$pid" 2>/dev/null || true; fi
    fi
    rm -f "$f"
  done
  rm -f "$sock" "$run/containerd/containerd.sock" "$run/containerd/containerd.sock.ttrpc"
  log "engine2 stopped"
}

status() {
  if up; then
    printf 'running %s %s\n' "$host" "$(DOCKER_HOST=$host docker version --format '{{.Server.Version}}' 2>/dev/null)"
  else
    echo stopped
    return 1
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  host) printf '%s\n' "$host" ;;
  *) die "usage: $0 start|stop|status|host" ;;
esac

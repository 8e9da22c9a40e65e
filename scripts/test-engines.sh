#!/usr/bin/env bash
# The whole suite (`npx vitest run`) on each engine in turn, as `make test` and .ci/run run it:
#   system   the engine DOCKER_HOST names (default: the system one), as set up by scripts/engine.sh
#   engine2  Docker 28.x with the containerd image store beside it (scripts/engine2.sh start);
#            no bridge network there, so TESTCONTAINERS_HOST_OVERRIDE=localhost
# Each engine gets its whole test bed first (test/bed/base-images.sh, replica.sh, families.sh,
# multiarch.sh; cached by recipe labels): the e2e files' own calls to them then find it built,
# so no test file blocks its vitest worker for minutes on a fresh machine (which vitest reports
# as a "Timeout calling" error, a failure here). Prints, after vitest's own output, one line per
# engine and a final plain sum:
#   engine docker 20.10.24+dfsg1 (overlay2): 336 passed, 0 failed (182 s)
#   engine docker 28.5.2+dfsg4 (containerd store): 336 passed, 0 failed (301 s)
#   672 passed, 0 failed
# The verdict per engine is vitest's exit status and its JSON report (scripts/vitest-verdict.sh;
# the report is written by scripts/vitest-json-report.mjs, which adds the unhandled errors
# vitest's own JSON leaves out): failed tests, test files that failed outside a test and
# unhandled errors (a "[vitest-worker]: Timeout calling ..." included) count as failures, and
# the engine's line names them, e.g.
#   engine docker 28.5.2+dfsg4 (containerd store): 335 passed, 1 failed; 1 unhandled error: Error: [vitest-worker]: Timeout calling "onTaskUpdate" (301 s)
# What the run left on the engine counts too: the images (build steps included), containers and
# volumes there after vitest that were not there before it (after the test bed) are named on
# stderr and fail the engine, e.g.
#   engine docker 28.5.2+dfsg4 (containerd store): 656 passed, 0 failed; left 7 images (726 s)
# and count one failure in the sum. They are not removed: that would hide a leak. Another run on
# the same engine at the same time shows up there too (MCP_REWRAP_SYSTEM_LOCK serializes the
# system engine's runs).
# Exit status: non-zero when any engine's run failed (as above, or vitest did not finish).
# Env: MCP_REWRAP_ENGINES="system engine2" (default; either alone works), VITEST_ARGS (extra
# vitest arguments, word-split), MCP_REWRAP_SYSTEM_LOCK=FILE (run the system engine's part under
# `flock FILE`, for machines where several checkouts share that engine).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

read -r -a engines <<<"${MCP_REWRAP_ENGINES:-system engine2}"
read -r -a extra <<<"${VITEST_ARGS:-}"
reports=$(mktemp -d)
guard_pid=''
trap '[ -z "$guard_pid" ] || kill "$guard_pid" 2>/dev/null; rm -rf "$reports"' EXIT

# The net guard (scripts/net-guard.mjs): no test talks to an address other than 127.0.0.1. vitest
# and everything it starts get HTTP(S)_PROXY naming the guard (NO_PROXY keeps loopback direct),
# and the engines scripts/engine2.sh and (in CI) scripts/engine.sh start send their pulls there
# too: an attempt to reach another host never leaves the machine, is refused, and is written
# down; an engine's run that made one fails, naming the hosts (e.g. "reached for other hosts:
# registry-1.docker.io:443 (3x)"). The bed scripts (debootstrap, apt) run without it.
guard_port=${MCP_REWRAP_NET_GUARD_PORT:-43129}
guard_log="$reports/net-guard.log"
: >"$guard_log"
node scripts/net-guard.mjs "$guard_port" "$guard_log" 2>"$reports/net-guard.err" &
guard_pid=$!
for _ in $(seq 50); do
  grep -q listening "$reports/net-guard.err" 2>/dev/null && break
  kill -0 "$guard_pid" 2>/dev/null || break
  sleep 0.1
done
if ! grep -q listening "$reports/net-guard.err" 2>/dev/null; then
  cat "$reports/net-guard.err" >&2
  echo "test-engines: the net guard could not start on 127.0.0.1:$guard_port (another run holds it? set MCP_REWRAP_NET_GUARD_PORT)" >&2
  exit 2
fi
guard_url=http://127.0.0.1:$guard_port
export MCP_REWRAP_GUARD_URL=$guard_url

# engine_label: "docker VERSION (STORE)" for the engine DOCKER_HOST names now.
engine_label() {
  local version driver
  version=$(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?')
  driver=$(docker info --format '{{.Driver}} {{range .DriverStatus}}{{index . 0}}={{index . 1}} {{end}}' 2>/dev/null || echo '?')
  case $driver in
    *driver-type=io.containerd.snapshotter.v1*) printf 'docker %s (containerd store)\n' "$version" ;;
    *) printf 'docker %s (%s)\n' "$version" "${driver%% *}" ;;
  esac
}

# engine_things: one line per image (all, build steps included), container and volume on the
# engine DOCKER_HOST names now, sorted: "image ID", "container ID", "volume NAME".
# shellcheck disable=SC2317 # called by the inner bash (export -f)
engine_things() {
  {
    docker images -a -q --no-trunc | sed 's/^/image /'
    docker ps -a -q --no-trunc | sed 's/^/container /'
    docker volume ls -q | sed 's/^/volume /'
  } | sort -u
}
export -f engine_things

# left_behind BEFORE AFTER: what AFTER lists that BEFORE does not, one line each, described
# (an image's tags and when it was made, a container's name and image); nothing when none.
# shellcheck disable=SC2016 # the formats are Go templates
left_behind() {
  local kind id format about
  comm -13 "$1" "$2" | while read -r kind id; do
    case $kind in
      image) format='{{.Id}} tags={{range $i, $t := .RepoTags}}{{if $i}},{{end}}{{$t}}{{end}} created={{.Created}}' ;;
      container) format='{{.Id}} {{.Name}} image={{.Config.Image}} state={{.State.Status}}' ;;
      *) format='' ;;
    esac
    if [ -n "$format" ] && about=$(docker "$kind" inspect -f "$format" "$id" 2>/dev/null); then
      printf '%s %s\n' "$kind" "$about"
    else
      printf '%s %s\n' "$kind" "$id"
    fi
  done
}

system_host=${DOCKER_HOST-}
summary=()
total_passed=0 total_failed=0 rc=0
for engine in "${engines[@]}"; do
  case $engine in
    system)
      if [ -n "$system_host" ]; then export DOCKER_HOST=$system_host; else unset DOCKER_HOST; fi
      unset TESTCONTAINERS_HOST_OVERRIDE
      ;;
    engine2)
      DOCKER_HOST=$(bash scripts/engine2.sh start)
      export DOCKER_HOST TESTCONTAINERS_HOST_OVERRIDE=localhost
      ;;
    *) echo "test-engines: unknown engine $engine (give system and/or engine2)" >&2; exit 2 ;;
  esac
  label=$(engine_label)
  echo "=== $engine: $label ===" >&2
  t0=$(date +%s)
  guard_seen=$(wc -l <"$guard_log")
  report="$reports/$engine.json"
  engine_rc=0
  lock=()
  if [ "$engine" = system ] && [ -n "${MCP_REWRAP_SYSTEM_LOCK:-}" ]; then lock=(flock "$MCP_REWRAP_SYSTEM_LOCK"); fi
  # The time counts from when the lock is held (waiting for another checkout's run is not ours).
  set +e
  # shellcheck disable=SC2016 # expanded by the inner bash
  # Inside the lock: the bed, the engine's things before vitest, vitest, its things after it.
  "${lock[@]}" bash -c 'date +%s >"$0.start"; bash test/bed/base-images.sh && bash test/bed/replica.sh && bash test/bed/families.sh && bash test/bed/multiarch.sh && engine_things >"$0.before" && { HTTP_PROXY=$MCP_REWRAP_GUARD_URL HTTPS_PROXY=$MCP_REWRAP_GUARD_URL http_proxy=$MCP_REWRAP_GUARD_URL https_proxy=$MCP_REWRAP_GUARD_URL NO_PROXY=127.0.0.1,localhost,::1 no_proxy=127.0.0.1,localhost,::1 npx vitest run "$@"; rc=$?; engine_things >"$0.after"; exit $rc; }' "$report" \
    --reporter=default --reporter=./scripts/vitest-json-report.mjs --outputFile.json="$report" "${extra[@]}" </dev/null 2>&1 | tee "$report.log"
  engine_rc=${PIPESTATUS[0]}
  set -e
  if [ -s "$report.start" ]; then t0=$(cat "$report.start"); fi
  secs=$(($(date +%s) - t0))
  verdict_rc=0
  verdict=$(bash scripts/vitest-verdict.sh "$report" "$engine_rc") || verdict_rc=$?
  read -r passed failed <<<"${verdict%%$'\n'*}"
  left=''
  if [ -s "$report.before" ] && [ -s "$report.after" ]; then
    left=$(left_behind "$report.before" "$report.after")
  fi
  if [ -n "$left" ]; then
    {
      echo "=== $engine: the run left on the engine (not removed, so it can be looked at) ==="
      printf '%s\n' "$left"
    } >&2
    counts=''
    for kind in image container volume; do
      n=$(printf '%s\n' "$left" | grep -c "^$kind " || true)
      [ "$n" = 0 ] || counts="${counts:+$counts, }$n $kind$([ "$n" = 1 ] || echo s)"
    done
    verdict="${verdict}; left $counts"
    failed=$((failed + 1))
    engine_rc=1
  fi
  # Attempts to reach another host during this engine's run (the net guard's lines since).
  attempts=$(tail -n +"$((guard_seen + 1))" "$guard_log")
  reached=$(printf '%s' "$attempts" | awk 'NF {print $2}' | sort | uniq -c | awk '{printf "%s%s (%dx)", (NR > 1 ? ", " : ""), $2, $1}')
  if [ -n "$reached" ]; then
    {
      echo "=== $engine: the run reached for other hosts (the net guard refused; no test may) ==="
      printf '%s\n' "$attempts"
    } >&2
    verdict="${verdict}; reached for other hosts: $reached"
    failed=$((failed + 1))
    engine_rc=1
  fi
  line="engine $label: ${verdict#*$'\n'} ($secs s)"
  [ "$verdict_rc" = 0 ] || engine_rc=1
  [ "$engine_rc" = 0 ] || rc=1
  total_passed=$((total_passed + passed))
  total_failed=$((total_failed + failed))
  summary+=("$line")
done

printf '%s\n' "${summary[@]}"
echo "$total_passed passed, $total_failed failed"
exit "$rc"

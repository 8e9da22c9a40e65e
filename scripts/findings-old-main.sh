#!/usr/bin/env bash
# Issue 11's "done when": each of its 15 findings has a regression test that fails on the main the
# issue was filed on (8920dfe) and passes now. This runs test/e2e/findings.test.ts (from this
# checkout) twice, with vitest's JSON reporter: against the CLI built from a temporary git worktree
# at 8920dfe (removed at exit), then against this checkout's dist/src/cli.js (MCP_REWRAP_CLI). It
# prints the table finding | test | on 8920dfe | now, and writes it to docs/FINDINGS.md.
# Exit status: non-zero when a finding's test passes on 8920dfe, fails now, or is missing.
# Needs the engine and the test bed (make findings: engine, bed, build first).
# Env: FINDINGS_BASE (default 8920dfe), FINDINGS_OUT (default docs/FINDINGS.md),
# MCP_REWRAP_SYSTEM_LOCK=FILE (each vitest run under `flock FILE`, as make test does).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)
base=${FINDINGS_BASE:-8920dfe}
out=${FINDINGS_OUT:-docs/FINDINGS.md}

log() { printf 'findings: %s\n' "$*" >&2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mcp-rewrap-findings.XXXXXX")
old="$tmp/old"
cleanup() {
  if [ -d "$old" ]; then git -C "$root" worktree remove --force "$old" >/dev/null 2>&1 || true; fi
  git -C "$root" worktree prune >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

base_commit=$(git rev-parse --verify "$base^{commit}")
log "worktree of $base (${base_commit:0:12}) in $old"
git worktree add --detach "$old" "$base_commit" >/dev/null 2>"$tmp/worktree.log" || { cat "$tmp/worktree.log" >&2; exit 1; }
log "npm ci + build there"
if ! (cd "$old" && npm ci --no-audit --no-fund && npm run build) >"$tmp/old-build.log" 2>&1; then
  cat "$tmp/old-build.log" >&2
  log "building $base failed"
  exit 1
fi
log "building this checkout"
npm run --silent build

lock=()
if [ -n "${MCP_REWRAP_SYSTEM_LOCK:-}" ]; then lock=(flock "$MCP_REWRAP_SYSTEM_LOCK"); fi

# run NAME CLI: the findings file against CLI; the JSON report in $tmp/NAME.json (vitest's own
# exit status is expected to be non-zero on the old main, so only a missing report is an error).
run() {
  local t0 t1
  log "findings.test.ts against $1 ($2)"
  t0=$(date +%s)
  MCP_REWRAP_CLI=$2 "${lock[@]}" npx vitest run test/e2e/findings.test.ts --reporter=json --outputFile="$tmp/$1.json" >"$tmp/$1.log" 2>&1 || true
  t1=$(date +%s)
  printf '%s\n' $((t1 - t0)) >"$tmp/$1.seconds"
  [ -s "$tmp/$1.json" ] || { cat "$tmp/$1.log" >&2; log "vitest wrote no report for $1"; exit 1; }
}
run old "$old/dist/src/cli.js"
run now "$root/dist/src/cli.js"

now_commit=$(git rev-parse --short=12 HEAD)
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then now_commit="$now_commit + uncommitted changes"; fi
engine=$(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?')
node scripts/findings-table.mjs \
  --old "$tmp/old.json" --now "$tmp/now.json" \
  --old-label "${base_commit:0:7}" --now-label "$now_commit" \
  --old-seconds "$(cat "$tmp/old.seconds")" --now-seconds "$(cat "$tmp/now.seconds")" \
  --engine "$engine" --out "$out"

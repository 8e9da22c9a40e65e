# mcp-rewrap: the two commands a person needs are `make demo` and `make test`; both work on a
# fresh machine with only the repository checked out (as root: they apt-get install docker.io,
# debootstrap, shellcheck and busybox-static when missing and start dockerd; see
# scripts/engine.sh). The test bed's images are cached in the engine and in
# $(MCP_REWRAP_CACHE) (default ~/.cache/mcp-rewrap), so later runs are quick.
#
#   make demo        the bug, the diagnosis, the fix, end to end (scripts/demo.sh)
#   make test        every test (unit + e2e), on both engines (scripts/test-engines.sh): the system
#                    one, then Docker 28 with the containerd image store beside it
#                    (scripts/engine2.sh); one result line per engine and the sum. One engine
#                    only: make test ENGINES=system (or ENGINES=engine2)
#                    Then scripts/pack-smoke.sh: the npm tarball installed into an empty prefix,
#                    every --help, a build from an empty directory (make pack-smoke: just that)
#   make test-unit   unit tests only, no engine needed
#   make engine2     start the second engine (prints its DOCKER_HOST); make engine2-stop stops it
#                    (Go + yaml.v3 for test/go/catalogcheck are installed when missing)
#   make lint        shellcheck the scripts, the test bed, .ci/run and the rendered shim;
#                    type-check the tests (test/tsconfig.json)
#   make bench       what the rewrap costs, as ratios: prints a table, writes docs/BENCHMARKS.md
#   make findings    issue 11's 15 findings: test/e2e/findings.test.ts against the CLI of 8920dfe
#                    (the main the issue was filed on; built in a temporary worktree) and against
#                    this checkout: each must fail there and pass now; writes docs/FINDINGS.md
#   make clean       remove dist/
# Extra vitest arguments: make test VITEST_ARGS='--reporter=verbose'
# Bench arguments: make bench BENCH_ARGS='--runs 9' (or --no-write, --out FILE; --only 4,5: only
# those measures, their rows printed, no report written)

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build
.DELETE_ON_ERROR:

export TESTCONTAINERS_RYUK_DISABLED := true
VITEST_ARGS ?=
BENCH_ARGS ?=
ENGINES ?= system engine2
# Where `make lint` renders the shim, from image facts recorded in scripts/lint/ (no engine
# needed). To refresh them after a change to src/core/facts.ts: `node dist/src/cli.js generate
# mcp-rewrap-test/kubernetes --out DIR` and copy DIR/facts.json (busybox: an image FROM
# mcp-rewrap-test/busybox with a user "app" 1001, /bin/setpriv dropped from "present").
LINT_DIR := .cache/lint

.PHONY: deps build engine engine2 engine2-stop bed test pack-smoke test-unit demo lint bench findings clean images

# npm ci only when node_modules is missing or package-lock.json is newer than the last install.
deps:
	@if [ ! -d node_modules ] || [ ! -e node_modules/.package-lock.json ] || \
	    [ package-lock.json -nt node_modules/.package-lock.json ]; then \
	  echo "make: npm ci" >&2; \
	  npm ci --no-audit --no-fund; \
	  touch node_modules/.package-lock.json; \
	fi

build: deps
	npm run --silent build

engine:
	bash scripts/engine.sh

engine2: engine
	bash scripts/engine2.sh start

engine2-stop:
	bash scripts/engine2.sh stop

bed: engine
	bash test/bed/base-images.sh && bash test/bed/replica.sh

# The suite on each engine, then the npm pack smoke test (on the system engine); fails when either does.
test: deps build engine
	rc=0; MCP_REWRAP_ENGINES='$(ENGINES)' VITEST_ARGS='$(VITEST_ARGS)' bash scripts/test-engines.sh || rc=$$?; \
	  $${MCP_REWRAP_SYSTEM_LOCK:+flock "$$MCP_REWRAP_SYSTEM_LOCK"} bash scripts/pack-smoke.sh || rc=1; exit $$rc

pack-smoke: deps build engine bed
	bash scripts/pack-smoke.sh

test-unit: deps
	@command -v go >/dev/null 2>&1 && [ -d /usr/share/gocode/src/gopkg.in/yaml.v3 ] || bash scripts/engine.sh --tools
	npx vitest run test/unit $(VITEST_ARGS)

demo: deps build engine bed
	npx tsc -p bench/tsconfig.json
	bash scripts/demo.sh

lint: deps build
	@command -v shellcheck >/dev/null 2>&1 || bash scripts/engine.sh --tools
	rm -rf $(LINT_DIR)
	node dist/src/cli.js generate mcp-rewrap-test/kubernetes:latest -q \
	  --facts scripts/lint/kubernetes.facts.json --out $(LINT_DIR)/kubernetes >/dev/null
	node dist/src/cli.js generate mcp-rewrap-lint/busybox:latest -q \
	  --facts scripts/lint/busybox.facts.json --out $(LINT_DIR)/busybox >/dev/null
	shellcheck scripts/*.sh test/bed/*.sh .ci/run test/fixtures/vitest-reports/record.sh \
	  $(LINT_DIR)/kubernetes/entrypoint.sh $(LINT_DIR)/busybox/entrypoint.sh
	npx tsc -p test/tsconfig.json
	@echo "lint: ok" >&2

clean:
	rm -rf dist .cache/lint

# Benchmarks (issue 7): never fails on timing, only when the harness itself breaks.
bench: deps build engine bed
	npx tsc -p bench/tsconfig.json
	node bench/run.mjs $(BENCH_ARGS)

# Not part of `make test` (findings.test.ts is, against this checkout's CLI): this one also builds
# the old main. MCP_REWRAP_SYSTEM_LOCK=FILE runs each vitest run under `flock FILE`.
findings: deps build engine bed
	bash scripts/findings-old-main.sh

# Regenerates the committed build contexts images/<server>/ from their recorded facts.json (no
# engine, no registry). test/unit/images.test.ts fails while they are stale. To move a pin to the
# current upstream digest: node dist/src/cli.js images images --refresh (asks the registry).
images: deps build
	node dist/src/cli.js images images

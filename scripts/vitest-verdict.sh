#!/usr/bin/env bash
# The verdict on one vitest run, from vitest's exit status and its JSON report as written by
# scripts/vitest-json-report.mjs (vitest's JSON plus `unhandledErrors`); nothing is read from
# vitest's console output. Used by scripts/test-engines.sh, once per engine.
#   bash scripts/vitest-verdict.sh REPORT.json EXIT_STATUS
# Prints two lines: "PASSED FAILED" (numbers for the sum), then the result, e.g.
#   336 passed, 0 failed, 2 skipped
#   335 passed, 1 failed; 1 unhandled error: Error: [vitest-worker]: Timeout calling "onTaskUpdate"
#   335 passed, 1 failed; failed: test/e2e/x.test.ts > suite > name: AssertionError: expected 1 to be 2
# FAILED counts failed tests, test files that failed outside any test (a file that does not
# load, a failing beforeAll), and every unhandled error: vitest fails the run for one although
# each test may have passed, and so does this verdict. A run that exited non-zero with nothing
# failed in its report counts one failure, and says so.
# Exit status: 0 when the run passed, 1 when it did not, 2 on wrong arguments.
set -euo pipefail

if [ $# -ne 2 ] || ! [[ $2 =~ ^[0-9]+$ ]]; then
  echo "vitest-verdict: usage: vitest-verdict.sh REPORT.json VITEST_EXIT_STATUS" >&2
  exit 2
fi
report=$1 status=$2

if [ ! -s "$report" ]; then
  printf '0 0\nvitest did not finish (exit %s, no report)\n' "$status"
  exit 1
fi

# shellcheck disable=SC2016 # JavaScript, not shell
exec node -e '
  const fs = require("fs"), path = require("path");
  const [file, status] = [process.argv[1], Number(process.argv[2])];
  const done = (passed, failed, text, ok) => {
    process.stdout.write(`${passed} ${failed}\n${text}\n`);
    process.exit(ok ? 0 : 1);
  };
  let r;
  try {
    r = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    done(0, 0, `vitest did not finish (exit ${status}; its report does not parse: ${e.message})`, false);
  }
  const count = (k) => (Number.isInteger(r[k]) ? r[k] : NaN);
  const passed = count("numPassedTests"), failedTests = count("numFailedTests");
  const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  if (Number.isNaN(passed) || Number.isNaN(failedTests) || !Array.isArray(r.testResults)) {
    done(0, 0, `vitest did not finish (exit ${status}; ${file} is not a vitest JSON report)`, false);
  }
  if (!Array.isArray(r.unhandledErrors)) {
    done(passed, failedTests + 1, `${passed} passed, ${failedTests + 1} failed; the report has no unhandledErrors (not written by scripts/vitest-json-report.mjs), so the run cannot be judged`, false);
  }
  const line = (s, max = 200) => { const l = String(s).split("\n")[0].trim(); return l.length > max ? `${l.slice(0, max - 1)}…` : l; };
  const rel = (p) => path.relative(process.cwd(), p) || p;
  // A file whose tests did not fail but which failed itself: it did not load, or a hook failed.
  const fileErrors = r.testResults.filter((f) => f.status === "failed" && !(f.assertionResults ?? []).some((a) => a.status === "failed"));
  const unhandled = r.unhandledErrors;
  let failed = failedTests + fileErrors.length + unhandled.length;
  const notes = [];
  // The failed tests by name, with the first line of each message (three at most):
  // CI keeps only the end of the output, where this line is.
  const failures = r.testResults.flatMap((f) => (f.assertionResults ?? []).filter((a) => a.status === "failed").map((a) => `${rel(f.name)} > ${a.fullName ?? a.title}: ${line((a.failureMessages ?? [])[0] || "failed", 600)}`));
  if (failures.length) {
    notes.push(`failed: ${failures.slice(0, 3).join(" | ")}${failures.length > 3 ? ` | and ${failures.length - 3} more` : ""}`);
  }
  if (fileErrors.length) {
    notes.push(`${fileErrors.length} test file${fileErrors.length > 1 ? "s" : ""} failed outside a test: ${fileErrors.map((f) => `${rel(f.name)}: ${line(f.message || "failed")}`).join(" | ")}`);
  }
  if (unhandled.length) {
    notes.push(`${unhandled.length} unhandled error${unhandled.length > 1 ? "s" : ""}: ${unhandled.map((e) => line(`${e.name}: ${e.message}`)).join(" | ")}`);
  }
  if (status !== 0 && failed === 0) {
    failed = 1;
    notes.push(`vitest exited ${status} though its report records no failure`);
  }
  if (status === 0 && failed > 0) notes.push("vitest exited 0 though its report records a failure");
  const text = `${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}${notes.map((n) => `; ${n}`).join("")}`;
  done(passed, failed, text, status === 0 && failed === 0);
' "$report" "$status"

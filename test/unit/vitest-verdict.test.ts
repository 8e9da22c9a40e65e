/**
 * scripts/vitest-verdict.sh: the per-engine verdict of scripts/test-engines.sh, fed with real
 * vitest reports recorded from tiny throwaway test files (test/fixtures/vitest-reports/record.sh
 * records them: NAME.json is the report, NAME.exit vitest's exit status). A run whose tests all
 * passed but which had an unhandled error (a worker RPC timeout, an unhandled rejection) fails,
 * and its line says why; so does a file that did not load. Run with bash, as test-engines.sh does.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const repo = fileURLToPath(new URL("../..", import.meta.url));
const fixtures = join(repo, "test/fixtures/vitest-reports");
const script = join(repo, "scripts/vitest-verdict.sh");

function verdict(report: string, status: string) {
  const r = spawnSync("bash", [script, report, status], { cwd: repo, encoding: "utf8" });
  const [counts = "", text = ""] = r.stdout.split("\n");
  const [passed, failed] = counts.split(" ").map(Number);
  return { code: r.status, passed, failed, text, stdout: r.stdout, stderr: r.stderr };
}

/** A recorded case: its report, vitest's exit status, and the verdict on them. */
function recorded(name: string) {
  const report = join(fixtures, `${name}.json`);
  const status = readFileSync(join(fixtures, `${name}.exit`), "utf8").trim();
  return { report: JSON.parse(readFileSync(report, "utf8")), status, ...verdict(report, status) };
}

describe("vitest-verdict.sh on recorded vitest runs", () => {
  it("a passing run passes, its skipped test counted", () => {
    const v = recorded("pass");
    expect(v.status).toBe("0");
    expect(v).toMatchObject({ code: 0, passed: 1, failed: 0, text: "1 passed, 0 failed, 1 skipped" });
    expect(v.stdout.split("\n")).toHaveLength(3); // two lines and the final newline
  });

  it("a failed test fails the run, and the verdict names it with its message's first line", () => {
    const v = recorded("fail");
    expect(v.status).toBe("1");
    expect(v).toMatchObject({ code: 1, passed: 1, failed: 1 });
    expect(v.text).toMatch(/^1 passed, 1 failed; failed: \S*fail\.test\.mjs > subtracts wrongly: AssertionError: expected 1 to be 3 \/\/ Object\.is equality$/);
  });

  it("a worker RPC timeout, the only error of a run whose tests all passed, fails it and is named", () => {
    const v = recorded("rpc-timeout");
    // What the old script counted as a pass: vitest exited 1, no test failed, and vitest's own
    // JSON says success.
    expect(v.status).toBe("1");
    expect(v.report).toMatchObject({ numFailedTests: 0, numPassedTests: 2, success: true });
    expect(v).toMatchObject({ code: 1, passed: 2, failed: 1 });
    expect(v.text).toBe('2 passed, 1 failed; 1 unhandled error: Error: [vitest-worker]: Timeout calling "onTaskUpdate"');
  });

  it("an unhandled rejection fails the run and is named", () => {
    const v = recorded("unhandled-rejection");
    expect(v.report).toMatchObject({ numFailedTests: 0, success: true });
    expect(v).toMatchObject({ code: 1, passed: 1, failed: 1, text: "1 passed, 1 failed; 1 unhandled error: Error: left behind" });
  });

  it("a test file that does not load fails the run, though no test failed", () => {
    const v = recorded("load-error");
    expect(v.report).toMatchObject({ numFailedTests: 0, numTotalTests: 0 });
    expect(v).toMatchObject({ code: 1, passed: 0, failed: 1 });
    expect(v.text).toMatch(/^0 passed, 1 failed; 1 test file failed outside a test: \S*load-error\.test\.mjs: this file does not load$/);
  });

  it("vitest's own JSON report (no unhandledErrors) cannot be judged, so it is no pass", () => {
    const v = recorded("builtin-json");
    expect(v.report).not.toHaveProperty("unhandledErrors");
    expect(v.report.success).toBe(true);
    expect(v.code).toBe(1);
    expect(v.text).toMatch(/the report has no unhandledErrors \(not written by scripts\/vitest-json-report\.mjs\), so the run cannot be judged$/);
  });
});

describe("vitest-verdict.sh: the exit status and the report must agree", () => {
  const dir = mkdtempSync(join(tmpdir(), "mcp-rewrap-verdict-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const pass = join(fixtures, "pass.json");

  it("a non-zero exit with a clean report is a failure, counted once and said", () => {
    expect(verdict(pass, "1")).toMatchObject({ code: 1, passed: 1, failed: 1, text: "1 passed, 1 failed, 1 skipped; vitest exited 1 though its report records no failure" });
  });

  it("exit 0 with a failure in the report is still a failure", () => {
    const v = verdict(join(fixtures, "fail.json"), "0");
    expect(v).toMatchObject({ code: 1, failed: 1 });
    expect(v.text).toMatch(/^1 passed, 1 failed; failed: \S*fail\.test\.mjs > subtracts wrongly: [^;]*; vitest exited 0 though its report records a failure$/);
  });

  it("no report, an empty one or one that does not parse: vitest did not finish", () => {
    expect(verdict(join(dir, "missing.json"), "137")).toMatchObject({ code: 1, passed: 0, failed: 0, text: "vitest did not finish (exit 137, no report)" });
    writeFileSync(join(dir, "empty.json"), "");
    expect(verdict(join(dir, "empty.json"), "1")).toMatchObject({ code: 1, text: "vitest did not finish (exit 1, no report)" });
    writeFileSync(join(dir, "cut.json"), readFileSync(pass, "utf8").slice(0, 100));
    expect(verdict(join(dir, "cut.json"), "1")).toMatchObject({ code: 1, failed: 0 });
    expect(verdict(join(dir, "cut.json"), "1").text).toMatch(/^vitest did not finish \(exit 1; its report does not parse: /);
    writeFileSync(join(dir, "other.json"), "{}");
    expect(verdict(join(dir, "other.json"), "0").text).toMatch(/^vitest did not finish \(exit 0; .*other\.json is not a vitest JSON report\)$/);
  });

  it("wrong arguments: exit 2, one line on stderr", () => {
    for (const args of [[pass], [pass, "x"], [pass, "0", "extra"]]) {
      const r = spawnSync("bash", [script, ...args], { encoding: "utf8" });
      expect(r.status).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).toBe("vitest-verdict: usage: vitest-verdict.sh REPORT.json VITEST_EXIT_STATUS\n");
    }
  });
});

/**
 * vitest's JSON reporter plus what it leaves out: the run's unhandled errors (an unhandled
 * rejection, an error thrown after a test ended, "[vitest-worker]: Timeout calling ..."), which
 * fail the run (vitest exits 1) while every test may have passed. Written as `unhandledErrors`:
 * [{ type, name, message }] in the same report file (--outputFile.json). Used by
 * scripts/test-engines.sh; scripts/vitest-verdict.sh reads the report.
 *   npx vitest run --reporter=default --reporter=./scripts/vitest-json-report.mjs --outputFile.json=FILE
 */
import { JsonReporter } from "vitest/reporters";

export default class JsonReportWithUnhandledErrors extends JsonReporter {
  /** @type {{ type: string; name: string; message: string }[]} */
  unhandled = [];

  async onFinished(files, errors = [], coverageMap) {
    this.unhandled = [...errors].map((e) => ({
      type: String(e?.type ?? "Unhandled Error"),
      name: String(e?.name ?? "Error"),
      message: String(e?.message ?? e),
    }));
    await super.onFinished(files, errors, coverageMap);
  }

  async writeReport(report) {
    await super.writeReport(JSON.stringify({ ...JSON.parse(report), unhandledErrors: this.unhandled }));
  }
}

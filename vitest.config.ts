import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // e2e files share one engine on a 2-core machine: one file at a time keeps timings sane.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 20 * 60_000,
    env: { TESTCONTAINERS_RYUK_DISABLED: "true" },
    // After each test, a turn of the event loop for vitest's own RPC (test/support/yield.ts).
    setupFiles: ["test/support/yield.ts"],
  },
});

// The stand-in Kubernetes API for scripts/demo.sh, as a process: the tests' own stand-in
// (test/support/kube-api.ts, compiled to dist/bench by `npx tsc -p bench/tsconfig.json`, which
// `make demo` runs). Serves the bug report's five k3s nodes to bearer-token clients only.
// stdout: first line "PORT TOKEN", then one line per request: "METHOD path STATUS".
// Runs until killed (SIGTERM/SIGINT: exits 0).
import { existsSync } from "node:fs";

const compiled = new URL("../dist/bench/test/support/kube-api.js", import.meta.url);
if (!existsSync(compiled)) {
  process.stderr.write("demo-kube-api: dist/bench missing: run `npx tsc -p bench/tsconfig.json` (or `make demo`)\n");
  process.exit(2);
}
const { startKubeApi } = await import(compiled.href);
const api = await startKubeApi({
  token: process.env.KUBE_API_TOKEN || undefined,
  onRequest: (method, path, status) => process.stdout.write(`${method} ${path} ${status}\n`),
});
process.stdout.write(`${api.port} ${api.token}\n`);
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => api.close().then(() => process.exit(0)));

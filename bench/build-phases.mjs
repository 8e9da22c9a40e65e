// Where `mcp-rewrap build` spends its time: the steps of buildRoute (src/commands/routes.ts), timed one
// after the other in a fresh node process, from the compiled modules in dist/src. Run by
// bench/run.mjs; prints one JSON object of milliseconds on stdout:
//   node bench/build-phases.mjs SOURCE TAG OUTDIR
// "node" is the process's own start (before this script runs), "modules" the import of the
// command modules and of what they load on first use (dockerode, the renderer with handlebars),
// none of which `--version` loads.
const start = performance.now();
const [source, tag, out] = process.argv.slice(2);
if (!source || !tag || !out) {
  process.stderr.write("usage: node bench/build-phases.mjs SOURCE TAG OUTDIR\n");
  process.exit(2);
}
const ms = { node: start };
let t = performance.now();
const lap = (name) => {
  const now = performance.now();
  ms[name] = now - t;
  t = now;
};

const shared = await import("../dist/src/commands/shared.js");
const engine = await import("../dist/src/edge/engine.js");
const { writeContext } = await import("../dist/src/edge/fs.js");
const { isUpToDate } = await import("../dist/src/core/freshness.js");
await import("dockerode");
await import("../dist/src/core/render.js");
lap("modules");

const docker = await engine.connect();
await engine.ping(docker);
lap("ping");

const facts = await engine.readImageFacts(docker, source, { pull: false });
lap("facts");

const plan = shared.planFor(facts, { tag });
const files = await shared.renderFiles(plan, facts, {});
writeContext(out, files);
const want = shared.keyFor(plan, {});
lap("render");

const existing = await engine.inspectImage(docker, tag);
lap("inspect");

if (!isUpToDate(existing ? [existing.Config?.Labels ?? {}] : null, want)) throw new Error(`${tag} does not hold this rewrap: build it first`);
await engine.buildContext(docker, files, { tag, progress() {} });
lap("build");

ms.total = performance.now();
process.stdout.write(`${JSON.stringify(ms)}\n`);

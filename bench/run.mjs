#!/usr/bin/env node
// Benchmarks for issue 7: what the rewrap costs, measured side by side in one run, as ratios.
// `make bench` builds what this needs (dist/src, dist/bench, the engine, the test bed) and runs
//
//   node bench/run.mjs [--runs N] [--out FILE] [--no-write] [--only LIST]
//
// It prints a table and writes docs/BENCHMARKS.md (the machine noted). --only 4,5 runs only
// those measures (numbers below; 6 and 7 come with 1) and prints their rows; it writes no report,
// since a partial table must not replace the full one. Timings use a monotonic
// clock (performance.now); each comparison alternates its two sides (A B, B A, …) after one
// discarded warm-up of each, and reports medians, their ratio, and the spread (min–max).
//   1. startup: `docker run` -> initialize -> resources/read k8s://nodes answered (official MCP
//      SDK client, stand-in k8s API on 127.0.0.1), the rewrapped replica with a 0600 kubeconfig
//      at /root the gateway's way vs the original replica with a 0644 kubeconfig mounted in
//      /home/appuser by hand; both on the exact gateway run line (src/core/gateway.ts, network host).
//      Then a profile of the shim inside one container (whole shim, its steps, baselines).
//   2. image size: bytes and layers the rewrap adds (image Size, RootFS.Layers, docker history).
//   3. build: `mcp-rewrap build --rebuild` vs `DOCKER_BUILDKIT=0 docker build` of the same
//      generated context, cold (tag and intermediate images removed before each run, from a
//      source image unique to this run so no other build's cache can serve it) and warm.
//   4. no-op rebuild: `mcp-rewrap build` when the tag already holds the same rewrap.
//   5. CLI cold start: `mcp-rewrap --version` vs `node -e 0`.
// Benchmarks are not tests: a missed target never makes this exit non-zero; only a broken
// harness does (e.g. the server did not list the nodes). Everything it creates (containers,
// mcp-rewrap-bench/* tags, intermediate images, temp dirs, the API server) is removed at the end,
// also on Ctrl-C; the test bed images stay (cache).
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from "node:fs";
import { cpus, loadavg, release, tmpdir, totalmem } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

// The compiled CLI modules and test helpers, loaded by main() once it has checked they exist.
let gatewayRunArgs, VERSION, NODE_NAMES, startKubeApi, writeHostKubeconfig, loadTemplates, renderContext, shellQuote, withMcpServer;

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CLI = join(ROOT, "dist/src/cli.js");
const REPLICA = "mcp-rewrap-test/kubernetes:latest";
const SHIM_IN_IMAGE = "/usr/local/bin/mcp-rewrap-entrypoint";

// --- options -------------------------------------------------------------------------------

const argv = process.argv.slice(2);
const opt = { runs: 7, out: join(ROOT, "docs/BENCHMARKS.md"), write: true, only: null };
let outGiven = false;
while (argv.length) {
  const a = argv.shift();
  if (a === "--runs") opt.runs = Number(argv.shift());
  else if (a === "--out") (opt.out = argv.shift()), (outGiven = true);
  else if (a === "--no-write") opt.write = false;
  else if (a === "--only") opt.only = new Set((argv.shift() ?? "").split(",").map((n) => (n.trim() === "6" || n.trim() === "7" ? 1 : Number(n))));
  else usage(`unknown argument ${a}`);
}
if (!Number.isInteger(opt.runs) || opt.runs < 1) usage("--runs takes a whole number >= 1");
if (opt.only) {
  if (![...opt.only].every((n) => [1, 2, 3, 4, 5, 8].includes(n))) usage("--only takes measure numbers 1-8, comma-separated, e.g. --only 4,5");
  if (outGiven) usage("--only writes no report (a partial table must not replace the full one); drop --out");
  opt.write = false;
}
/** Whether measure n runs (all of them without --only). */
const wanted = (n) => !opt.only || opt.only.has(n);
function usage(msg) {
  process.stderr.write(`bench: ${msg}\nusage: node bench/run.mjs [--runs N] [--out FILE] [--no-write] [--only LIST]\n`);
  process.exit(2);
}

const log = (line) => process.stderr.write(`bench: ${line}\n`);

// --- what this run creates, removed in cleanup() ------------------------------------------------

const nonce = randomBytes(4).toString("hex");
const created = { tags: [], dirs: [], containers: new Set(), closers: [] };
/** This run's temp paths -> the names the report shows instead. */
const placeholders = {};
const TAG = {
  rewrap: `mcp-rewrap-bench/kubernetes:${nonce}`,
  source: `mcp-rewrap-bench/source:${nonce}`,
  build: `mcp-rewrap-bench/build:${nonce}`,
};

function tempDir(what) {
  const d = mkdtempSync(join(tmpdir(), `mcp-rewrap-bench-${what}-`));
  created.dirs.push(d);
  return d;
}

let cleaning = null;
function cleanup() {
  cleaning ??= (async () => {
    for (const close of created.closers.splice(0)) await close().catch(() => {});
    for (const name of created.containers) dockerQuiet(["rm", "-f", name]);
    // Tags in reverse order; `docker rmi` also removes the untagged intermediate images below.
    for (const tag of created.tags.splice(0).reverse()) dockerQuiet(["rmi", tag]);
    for (const d of created.dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  })();
  return cleaning;
}
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    log(`${sig}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });
}

// --- small helpers -------------------------------------------------------------------------------

function dockerSync(args, env) {
  return execFileSync("docker", args, { encoding: "utf8", timeout: 120_000, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] }).trim();
}
function dockerQuiet(args) {
  try {
    execFileSync("docker", args, { stdio: "ignore", timeout: 60_000 });
    return true;
  } catch {
    return false;
  }
}
function inspect(ref) {
  return JSON.parse(dockerSync(["image", "inspect", ref]))[0];
}

/** Runs a command to completion; resolves with its output and wall time (monotonic, ms). */
function timed(cmd, args, { env, timeoutMs = 300_000 } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c) => (stdout += c));
    child.stderr.on("data", (c) => (stderr += c));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ ms: performance.now() - t0, code, stdout, stderr });
    });
  });
}
function mustSucceed(r, what) {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}: ${r.stderr.trim().split("\n").slice(-5).join(" | ")}`);
  return r;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const spread = (xs) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs), n: xs.length, samples: xs });
const ms = (x) => (x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x.toFixed(x < 10 ? 1 : 0)} ms`);
const ratio = (a, b) => a / b;
const x2 = (r) => `${r.toFixed(2)}×`;
const range = (s) => `${ms(s.min)}–${ms(s.max)}`;
const pct = (r) => `${(r * 100).toFixed(2)} %`;
const size = (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${(n / 1e3).toFixed(1)} kB`);
const bytes = (n) => `${n.toLocaleString("en-US")} B${n >= 1024 ? ` (${(n / 1024).toFixed(1)} KiB)` : ""}`;

/**
 * Runs `pairs` alternating pairs of two async measurements (A B, then B A, …) after one discarded
 * warm-up of each, so slow drift on a noisy machine hits both sides alike.
 */
async function alternate(pairs, a, b, label) {
  await a(-1);
  await b(-1);
  const A = [];
  const B = [];
  for (let i = 0; i < pairs; i++) {
    const order = i % 2 === 0 ? ["a", "b"] : ["b", "a"];
    for (const side of order) {
      if (side === "a") A.push(await a(i));
      else B.push(await b(i));
    }
    log(`${label}: ${i + 1}/${pairs}  A ${ms(A[A.length - 1])}  B ${ms(B[B.length - 1])}`);
  }
  return { a: spread(A), b: spread(B) };
}

// --- the machine ---------------------------------------------------------------------------------

function machine() {
  const cpu = cpus();
  let dockerVersion = "unknown";
  try {
    dockerVersion = dockerSync(["version", "--format", "{{.Server.Version}} (API {{.Server.APIVersion}}, {{.Server.Os}}/{{.Server.Arch}})"]);
  } catch {
    /* reported as unknown */
  }
  return {
    cpu: `${cpu[0]?.model ?? "unknown"}`,
    cores: cpu.length,
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    kernel: `Linux ${release()}`,
    docker: dockerVersion,
    node: process.version,
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
  };
}

/** Row 6's cases as [shim, drop] pairs (microseconds): steady and first start, under /root and in the home; those measured. */
function shimCases(u) {
  return [
    [u?.shim, u?.drop],
    [u?.shimfresh, u?.dropfresh],
    [u?.shimhome, u?.drophome],
    [u?.shimhomefresh, u?.drophomefresh],
  ].filter(([a, b]) => a > 0 && b > 0);
}

function engineNoise() {
  const running = dockerSync(["ps", "-q"]).split("\n").filter(Boolean).length;
  return { load: loadavg().map((l) => l.toFixed(2)).join(" "), running, cpu: cpuTicks() };
}

/** The machine's CPU time so far from /proc/stat: all of it, and what the hypervisor stole (a VM). */
function cpuTicks() {
  try {
    const f = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1, 9).map(Number);
    return { total: f.reduce((a, b) => a + b, 0), steal: f[7] ?? 0 };
  } catch {
    return null;
  }
}

/** The share of CPU time the hypervisor stole between two cpuTicks() readings, as text. */
function stealText(a, b) {
  if (!a || !b || b.total <= a.total) return "unknown";
  return `${((100 * (b.steal - a.steal)) / (b.total - a.total)).toFixed(1)} %`;
}

// --- 5. CLI cold start -------------------------------------------------------------------------

async function benchCli() {
  log("5/5 CLI cold start: mcp-rewrap --version vs node -e 0");
  const node = process.execPath;
  const cli = async () => mustSucceed(await timed(node, [CLI, "--version"]), "mcp-rewrap --version").ms;
  const bare = async () => mustSucceed(await timed(node, ["-e", "0"]), "node -e 0").ms;
  const r = await alternate(Math.max(15, opt.runs * 2), cli, bare, "cli");
  return { cli: r.a, node: r.b, ratio: ratio(r.a.median, r.b.median) };
}

// --- 2. image size (and the rewrapped tag the other steps use) ---------------------------------

async function buildRewrap() {
  const ctx = join(tempDir("ctx"), "kubernetes");
  log(`building ${TAG.rewrap} from ${REPLICA} with the CLI`);
  created.tags.push(TAG.rewrap);
  const r = mustSucceed(await timed(process.execPath, [CLI, "build", REPLICA, "--tag", TAG.rewrap, "--out", ctx, "--no-pull", "-q", "--json"]), "mcp-rewrap build");
  const out = JSON.parse(r.stdout).results[0];
  const plan = JSON.parse(readFileSync(join(ctx, "rewrap.json"), "utf8"));
  return { ctx, id: out.id, plan };
}

function history(ref) {
  return dockerSync(["history", "--no-trunc", "--human=false", "--format", "{{.Size}}\t{{.CreatedBy}}", ref])
    .split("\n")
    .map((l) => {
      const [size, ...by] = l.split("\t");
      return { size: Number(size), createdBy: by.join("\t") };
    });
}

function benchSize(rewrap) {
  log("2/5 image size");
  const base = inspect(REPLICA);
  const img = inspect(TAG.rewrap);
  const baseHistory = history(REPLICA);
  const added = history(TAG.rewrap).slice(0, -baseHistory.length || undefined);
  const shim = readFileSync(join(rewrap.ctx, "entrypoint.sh"));
  const templates = loadTemplates(join(ROOT, "templates"));
  const template = Buffer.byteLength(templates.shim);
  // The same shim as the template reads (comments, indentation): what stripping saves.
  const unstripped = Buffer.from(renderContext(rewrap.plan, templates, "sha256:bench", { stripShim: false }).find((f) => f.path === "entrypoint.sh").content);
  const instr = (s) =>
    s
      .replace(/^\/bin\/sh -c #\(nop\)\s*/, "")
      .replace(/\b(file|dir):([0-9a-f]{12})[0-9a-f]{52}\b/g, "$1:$2…")
      .replace(/\s+/g, " ")
      .trim()
      .slice(0, 90);
  return {
    bytes: img.Size - base.Size,
    layers: img.RootFS.Layers.length - base.RootFS.Layers.length,
    baseSize: base.Size,
    size: img.Size,
    entries: added.map((h) => ({ size: h.size, what: instr(h.createdBy) })),
    shimBytes: shim.length,
    shimGzip: gzipSync(shim).length,
    unstrippedBytes: unstripped.length,
    unstrippedGzip: gzipSync(unstripped).length,
    templateBytes: template,
  };
}

// --- 4. no-op rebuild ----------------------------------------------------------------------------

async function benchNoop(rewrap) {
  log("4/5 no-op rebuild");
  const before = inspect(TAG.rewrap);
  const samples = [];
  let built = 0;
  let upToDate = 0;
  const run = () => timed(process.execPath, [CLI, "build", REPLICA, "--tag", TAG.rewrap, "--out", rewrap.ctx, "--no-pull", "--json"]);
  mustSucceed(await run(), "mcp-rewrap build (no-op warm-up)");
  for (let i = 0; i < opt.runs; i++) {
    const r = mustSucceed(await run(), "mcp-rewrap build (no-op)");
    samples.push(r.ms);
    if (JSON.parse(r.stdout).results[0].status === "up-to-date") upToDate++;
    if (/^building |^Step \d+\//m.test(r.stderr)) built++;
  }
  const after = inspect(TAG.rewrap);
  const unchanged = before.Id === after.Id && before.Created === after.Created;
  return { ...spread(samples), upToDate, built, unchanged };
}

// --- 1. startup ----------------------------------------------------------------------------------

/** One `docker run` through mcp-rewrap's MCP client (withMcpServer): ms to initialize and to k8s://nodes answered. */
async function mcpStartup(dockerArgs, timeoutMs = 120_000) {
  const name = `mcp-rewrap-bench-${nonce}-${randomBytes(3).toString("hex")}`;
  created.containers.add(name);
  const t0 = performance.now();
  try {
    const r = await withMcpServer(
      dockerArgs,
      async (client) => {
        const init = performance.now() - t0;
        const res = await client.readResource({ uri: "k8s://nodes" }, { timeout: timeoutMs });
        const first = performance.now() - t0;
        const text = res.contents[0]?.text ?? "[]";
        const parsed = JSON.parse(text);
        const items = Array.isArray(parsed) ? parsed : (parsed?.items ?? []);
        const nodes = items.map((n) => n?.metadata?.name).filter((n) => typeof n === "string").sort();
        return { init, first, nodes };
      },
      { timeoutMs, name, clientName: "mcp-rewrap-bench" },
    );
    if (!r.ok) throw new Error(`${r.error}; container stderr: ${r.stderr.trim().split("\n").slice(-5).join(" | ")}`);
    if (r.value.nodes.join(" ") !== [...NODE_NAMES].join(" ")) throw new Error(`expected nodes ${NODE_NAMES.join(" ")}, got: ${r.value.nodes.join(" ") || "none"}`);
    return r.value;
  } catch (e) {
    throw new Error(`${dockerArgs.at(-1)}: ${e.message}`);
  } finally {
    created.containers.delete(name);
  }
}

async function benchStartup(rewrap) {
  log("1/5 startup: docker run -> initialize -> resources/read k8s://nodes");
  const api = await startKubeApi();
  created.closers.push(() => api.close());
  const parent = tempDir("kube");
  // The gateway's way: the Linux user's own kubeconfig (0600, uid 1000) at /root/.kube/config.
  const gw = writeHostKubeconfig({ server: api.url, token: api.token, dir: parent });
  // The hand fix without mcp-rewrap: a world-readable copy mounted where appuser looks.
  const hand = writeHostKubeconfig({ server: api.url, token: api.token, dir: parent, mode: 0o644 });
  const argsA = gatewayRunArgs({ name: "kubernetes", image: TAG.rewrap, network: "host", volumes: [`${gw.file}:/root/.kube/config:ro`] });
  const argsB = gatewayRunArgs({ name: "kubernetes", image: REPLICA, network: "host", volumes: [`${hand.file}:${rewrap.plan.user.home}/.kube/config:ro`] });
  const init = { a: [], b: [] };
  const side = (key, args) => async (i) => {
    const r = await mcpStartup(args);
    if (i >= 0) init[key].push(r.init);
    return r.first;
  };
  placeholders[gw.file] = "$KUBECONFIG_0600";
  placeholders[hand.file] = "$KUBECONFIG_0644";
  const r = await alternate(opt.runs, side("a", argsA), side("b", argsB), "startup");
  const nodeRequests = api.requests.filter((q) => q === "GET /api/v1/nodes").length;
  return {
    rewrapped: r.a,
    original: r.b,
    ratio: ratio(r.a.median, r.b.median),
    initA: spread(init.a),
    initB: spread(init.b),
    initRatio: ratio(median(init.a), median(init.b)),
    nodeRequests,
    runLineA: argsA,
    runLineB: argsB,
    profile: await profileShim(rewrap, gw.file),
  };
}

/**
 * Inside one container started like the gateway does (as root, the kubeconfig mounted at
 * /root/.kube/config): the whole shim, exec'ing /bin/true, vs the drop tool alone, plus the shim's
 * steps (its functions, sourced from the shipped file; a step the template no longer has is
 * skipped). Per-call microseconds, averaged over N calls.
 */
async function profileShim(rewrap, kubeconfig) {
  // Interleaved rounds of n calls each (shim, drop tool, shim on a first start, drop tool on one):
  // the medians of the round means, so that a busy moment of the machine hits both sides.
  const n = 10;
  const rounds = 9;
  const { uid, gid, groups, home } = rewrap.plan.user;
  const drop = rewrap.plan.drop;
  const dropCmd =
    drop.kind === "setpriv"
      ? `${drop.path} --reuid=${uid} --regid=${gid} --groups=${groups.join(",")} -- /bin/true`
      : drop.kind === "busybox-su"
        ? null
        : `${drop.path} ${uid}:${gid} /bin/true`;
  // The process floor: a script that starts exactly the processes the shim starts on this path (its
  // shell, one cat of the same three /proc files, root's cat of the kubeconfig into /dev, the drop
  // tool) and does nothing else, timed in the same rounds.
  const t = rewrap.plan.tools;
  const floorScript =
    drop.kind === "setpriv" && t.cat
      ? [
          "#!/bin/sh",
          `_f=$(${t.cat} /proc/$$/environ /proc/$$/status /proc/$$/mountinfo)`,
          `${t.cat} </root/.kube/config >/dev/rw-floor-copy`,
          "KUBECONFIG=/dev/rw-floor-copy",
          "export KUBECONFIG",
          `exec ${drop.path} --reuid=${uid} --regid=${gid} --groups=${groups.join(",")} -- "$@"`,
        ].join("\n")
      : null;
  // Variables carry a _b prefix (the shim's, sourced below, are RW_* and rw_*). The loops run with
  // the environment docker gives an entrypoint: no PWD, OLDPWD or SHLVL (a shell adds them).
  // "fresh": the copies in /dev removed before each call (a first start, as under the gateway's --rm:
  // a new container has a new /dev).
  // `timing` starts the shell of both profile containers (this one and the home mount's below).
  const timing = `
unset PWD OLDPWD SHLVL
_bn=${n}
now() { date +%s%N; }
per() { echo "$1 $(( ($3 - $2) / _bn / 1000 ))"; }
loop() { _bi=0; while [ $_bi -lt $_bn ]; do "$@"; _bi=$((_bi + 1)); done; }`;
  const script = `${timing}
${floorScript ? `printf '%s\\n' ${shellQuote(floorScript)} >/tmp/rw-floor.sh && chmod 755 /tmp/rw-floor.sh` : ""}
fresh() { rm -f /dev/mcp-rewrap-kube-config /dev/rw-floor-copy; "$@"; }
_br=0
while [ $_br -lt ${rounds} ]; do
  _b0=$(now); loop ${SHIM_IN_IMAGE} /bin/true 2>/dev/null; _b1=$(now); per shim $_b0 $_b1
  ${dropCmd ? `_b0=$(now); loop ${dropCmd}; _b1=$(now); per drop $_b0 $_b1` : ""}
  _b0=$(now); loop fresh ${SHIM_IN_IMAGE} /bin/true 2>/dev/null; _b1=$(now); per shimfresh $_b0 $_b1
  ${dropCmd ? `_b0=$(now); loop fresh ${dropCmd}; _b1=$(now); per dropfresh $_b0 $_b1` : ""}
  ${floorScript ? `_b0=$(now); loop /tmp/rw-floor.sh /bin/true; _b1=$(now); per floor $_b0 $_b1` : ""}
  ${floorScript ? `_b0=$(now); loop fresh /tmp/rw-floor.sh /bin/true; _b1=$(now); per floorfresh $_b0 $_b1` : ""}
  _br=$((_br + 1))
done
_b0=$(now); loop sh -c :; _b1=$(now); per sh $_b0 $_b1
_b0=$(now); loop /bin/true; _b1=$(now); per true $_b0 $_b1
# The shim's functions, sourced (the guard runs nothing when sourced); its steps are timed first,
# in a shell that has done nothing else yet.
_bpath=$PATH
. ${SHIM_IN_IMAGE}
rw_env_save
rw_facts
rw_groups_now 2>/dev/null
RW_HOME_OK=1
exec 3>&1
step() {
  _bs=$1; shift
  command -v "$1" >/dev/null 2>&1 || { echo "$_bs -1"; return; }
  _b0=$(now); loop "$@" >/dev/null 2>&1; _b1=$(now); per "$_bs" $_b0 $_b1
}
rw_noop() { :; }
# rw_read_kernel fixes root's PATH: each call starts from the caller's, as a start does.
rw_rk() { PATH=$_bpath; rw_read_kernel; }
step rw_read_kernel rw_rk
# rw_mounts as rw_prepare calls it (RW_MPICK: only the lines that may matter are read field by field).
rw_mpick() { RW_MPICK=1; rw_mounts rw_noop; RW_MPICK=; }
step rw_mounts rw_mpick
step rw_copy_dev rw_copy_dev /root/.kube/config /.kube/config ROOT
step rw_rewrite_env rw_rewrite_env "$RW_HOME"
# 10,000 files (100 directories of 100) copied for the user by the shim's one tar pipe, timed once.
mkdir -p /tmp/many && cd /tmp/many && for _bi in $(seq 0 99); do mkdir d$_bi; for _bj in $(seq 0 99); do echo x > d$_bi/f$_bj; done; done; cd /
_b0=$(now); rw_put_first /tmp/many /.many-copy; _b1=$(now); echo "copy10k $(( (_b1 - _b0) / 1000 ))"
# The same tree through a bare tar pipe on the same disk (no shim, no drop): what the disk allows.
mkdir -p /tmp/many-bare; _b0=$(now); tar -C /tmp/many -cf - . | tar -x -o -f - -C /tmp/many-bare; _b1=$(now); echo "copy10kbare $(( (_b1 - _b0) / 1000 ))"
# Both again with the tree and the home on a tmpfs: the shim's own cost, the disk out of the way.
mkdir /mnt/rw-bench/many /mnt/rw-bench/home /mnt/rw-bench/bare && tar -C /tmp/many -cf - . | tar -x -f - -C /mnt/rw-bench/many && chown ${uid}:${gid} /mnt/rw-bench/home
_bh=$RW_HOME; RW_HOME=/mnt/rw-bench/home
_b0=$(now); rw_put_first /mnt/rw-bench/many /.many-copy; _b1=$(now); echo "copy10ktmpfs $(( (_b1 - _b0) / 1000 ))"
RW_HOME=$_bh
_b0=$(now); tar -C /mnt/rw-bench/many -cf - . | tar -x -o -f - -C /mnt/rw-bench/bare; _b1=$(now); echo "copy10ktmpfsbare $(( (_b1 - _b0) / 1000 ))"
`;
  // Today's catalog mounts the kubeconfig into the user's home instead (GATEWAY.md): root copies it
  // into /dev as well and points KUBECONFIG there. Its own container, the same rounds, run first:
  // after the 10,000-file copies below the machine is busy writing them back.
  let homeOut = "";
  if (dropCmd) {
    const homeScript = `${timing}
# "freshtmp": the copy in /dev removed before each call (a first start under the gateway).
freshtmp() { rm -f /dev/mcp-rewrap-kube-config; "$@"; }
_br=0
while [ $_br -lt ${rounds} ]; do
  _b0=$(now); loop ${SHIM_IN_IMAGE} /bin/true 2>/dev/null; _b1=$(now); per shimhome $_b0 $_b1
  _b0=$(now); loop ${dropCmd}; _b1=$(now); per drophome $_b0 $_b1
  _b0=$(now); loop freshtmp ${SHIM_IN_IMAGE} /bin/true 2>/dev/null; _b1=$(now); per shimhomefresh $_b0 $_b1
  _b0=$(now); loop freshtmp ${dropCmd}; _b1=$(now); per drophomefresh $_b0 $_b1
  _br=$((_br + 1))
done
# The shim did its job: the server would find the copy where KUBECONFIG points.
${SHIM_IN_IMAGE} /bin/sh -c 'test -s "$KUBECONFIG" && test "$KUBECONFIG" != ${home}/.kube/config' || echo "homecopy -1"
`;
    const name = `mcp-rewrap-bench-${nonce}-profile-home`;
    created.containers.add(name);
    const h = await timed(
      "docker",
      gatewayRunArgs({ name: "kubernetes", image: TAG.rewrap, volumes: [`${kubeconfig}:${home}/.kube/config:ro`], extraFlags: ["--name", name, "--entrypoint", "/bin/sh"], command: ["-c", homeScript] }),
    );
    dockerQuiet(["rm", "-f", name]);
    if (h.code !== 0 || /homecopy -1/.test(h.stdout)) {
      log(`shim profile (kubeconfig in the home) failed (exit ${h.code}): ${`${h.stdout}\n${h.stderr}`.trim().split("\n").slice(-3).join(" | ")}`);
      return null;
    }
    homeOut = h.stdout;
  }
  const args = gatewayRunArgs({
    name: "kubernetes",
    image: TAG.rewrap,
    volumes: [`${kubeconfig}:/root/.kube/config:ro`],
    extraFlags: ["--name", `mcp-rewrap-bench-${nonce}-profile`, "--tmpfs", "/mnt/rw-bench:size=256m", "--entrypoint", "/bin/sh"],
    command: ["-c", script],
  });
  created.containers.add(`mcp-rewrap-bench-${nonce}-profile`);
  const r = await timed("docker", args);
  dockerQuiet(["rm", "-f", `mcp-rewrap-bench-${nonce}-profile`]);
  if (r.code !== 0) {
    log(`shim profile failed (exit ${r.code}): ${r.stderr.trim().split("\n").slice(-3).join(" | ")}`);
    return null;
  }
  const samples = {};
  for (const [k, v] of `${r.stdout}\n${homeOut}`
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => l.split(" "))) {
    (samples[k] ??= []).push(Number(v));
  }
  const us = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
  // Shim minus drop tool round by round (the two ran back to back): how much the figure moves.
  const paired = (a, b) => {
    const d = (samples[a] ?? []).map((x, i) => x - (samples[b]?.[i] ?? NaN)).filter((v) => Number.isFinite(v));
    return d.length ? spread(d) : null;
  };
  return { n, rounds, us, overRange: paired("shim", "drop"), overRangeHome: paired("shimhome", "drophome") };
}

// --- 3. build ------------------------------------------------------------------------------------

async function benchBuild() {
  log("3/5 build: mcp-rewrap build vs docker build (legacy builder), cold and warm");
  // A source image of this run's own (the replica plus a label, no new layer): its ID is new, so
  // no cache from any other build can serve the "cold" builds.
  const srcDir = tempDir("source");
  writeFileSync(join(srcDir, "Dockerfile"), `FROM ${inspect(REPLICA).Id}\nLABEL io.mcp-rewrap.bench.nonce="${nonce}"\n`);
  created.tags.push(TAG.source);
  dockerSync(["build", "-q", "-t", TAG.source, srcDir], { DOCKER_BUILDKIT: "0" });
  const ctx = join(tempDir("build"), "context");
  created.tags.push(TAG.build);

  const viaCli = () => timed(process.execPath, [CLI, "build", TAG.source, "--tag", TAG.build, "--out", ctx, "--no-pull", "--rebuild", "--json"]);
  const viaDocker = () => timed("docker", ["build", "-t", TAG.build, ctx], { env: { DOCKER_BUILDKIT: "0" } });
  const cached = (r) => (`${r.stdout}\n${r.stderr}`.match(/---> Using cache/g) ?? []).length;
  const steps = (r) => (`${r.stdout}\n${r.stderr}`.match(/^Step \d+\/\d+/gm) ?? []).length;

  // The context is what `mcp-rewrap generate` writes; write it once, then check docker builds it.
  mustSucceed(await timed(process.execPath, [CLI, "generate", TAG.source, "--tag", TAG.build, "--out", ctx, "--no-pull", "-q"]), "mcp-rewrap generate");

  const ids = new Set();
  const problems = [];
  const cold = (how, run) => async () => {
    dockerQuiet(["rmi", TAG.build]);
    const r = mustSucceed(await run(), `${how} (cold)`);
    const id = inspect(TAG.build).Id;
    if (cached(r) > 0 || ids.has(id)) problems.push(`${how}: a cold build used the cache`);
    ids.add(id);
    return r.ms;
  };
  const coldRuns = await alternate(opt.runs, cold("mcp-rewrap build", viaCli), cold("docker build", viaDocker), "build cold");

  dockerQuiet(["rmi", TAG.build]);
  mustSucceed(await viaDocker(), "docker build (prime)");
  const primed = inspect(TAG.build).Id;
  const warm = (how, run) => async () => {
    const r = mustSucceed(await run(), `${how} (warm)`);
    if (cached(r) === 0 || cached(r) !== steps(r) - 1 || inspect(TAG.build).Id !== primed) problems.push(`${how}: a warm build did not come from the cache`);
    return r.ms;
  };
  const warmRuns = await alternate(opt.runs, warm("mcp-rewrap build", viaCli), warm("docker build", viaDocker), "build warm");

  // Where a warm `mcp-rewrap build --rebuild` spends its time (bench/build-phases.mjs).
  const runs = [];
  for (let i = 0; i < Math.min(Math.max(opt.runs, 3), 7); i++) {
    const r = mustSucceed(await timed(process.execPath, [join(ROOT, "bench/build-phases.mjs"), TAG.source, TAG.build, ctx]), "bench/build-phases.mjs");
    runs.push(JSON.parse(r.stdout));
  }
  const phases = Object.fromEntries(Object.keys(runs[0]).map((k) => [k, median(runs.map((p) => p[k]))]));
  return {
    phases,
    phaseRuns: runs.length,
    cold: { cli: coldRuns.a, docker: coldRuns.b, ratio: ratio(coldRuns.a.median, coldRuns.b.median) },
    warm: { cli: warmRuns.a, docker: warmRuns.b, ratio: ratio(warmRuns.a.median, warmRuns.b.median) },
    problems: [...new Set(problems)],
  };
}

// --- report --------------------------------------------------------------------------------------

const verdict = (ok) => (ok ? "meets" : "**misses**");

/** A spread of shim-minus-drop differences in microseconds, as row 6 shows it. */
const roundByRound = ({ min, max }) => `round by round +${(min / 1000).toFixed(1)} to +${(max / 1000).toFixed(1)} ms`;

function rows(R, short = false) {
  const L = (long, brief) => (short ? brief : long);
  const s = R.startup;
  const out = [];
  if (s) out.push([
    "1",
    L("Startup to first MCP answer (initialize + resources/read k8s://nodes): rewrapped, config at /root (gateway) ÷ original, 0644 config in /home/appuser (hand fix)", "startup, rewrapped ÷ original"),
    `${x2(s.ratio)} (${ms(s.rewrapped.median)} vs ${ms(s.original.median)}; spread ${range(s.rewrapped)} vs ${range(s.original)})`,
    "≤ 1.02×",
    verdict(s.ratio <= 1.02),
  ]);
  if (R.size) {
    out.push(["2a", L("Image size: bytes added by the rewrap", "bytes added"), bytes(R.size.bytes), "≤ 1 KiB", verdict(R.size.bytes <= 1024)]);
    out.push(["2b", L("Image size: layers added", "layers added"), String(R.size.layers), "1", verdict(R.size.layers === 1)]);
  }
  for (const [k, label] of !R.build ? [] : [
    ["cold", "Build, cold cache"],
    ["warm", "Build, warm cache"],
  ]) {
    const b = R.build[k];
    out.push([
      k === "cold" ? "3a" : "3b",
      L(`${label}: \`mcp-rewrap build\` ÷ \`docker build\` (same context, legacy builder)`, `${label.replace("Build, ", "build ")}, CLI ÷ docker`),
      `${x2(b.ratio)} (${ms(b.cli.median)} vs ${ms(b.docker.median)}; spread ${range(b.cli)} vs ${range(b.docker)})`,
      "≤ 1.10×",
      verdict(b.ratio <= 1.1),
    ]);
  }
  const n = R.noop;
  const noBuild = n && n.built === 0 && n.upToDate === n.n && n.unchanged;
  if (n) out.push([
    "4",
    L("No-op rebuild (same source digest and mcp-rewrap version)", "no-op rebuild"),
    `${ms(n.median)} (spread ${range(n)}); ${noBuild ? "no build started" : `builds started: ${n.built}, upToDate ${n.upToDate}/${n.n}, image ${n.unchanged ? "unchanged" : "CHANGED"}`}`,
    "< 0.5 s, no build",
    verdict(n.median < 500 && noBuild),
  ]);
  const c = R.cli;
  if (c) out.push([
    "5",
    L("CLI cold start: `mcp-rewrap --version` (vs `node -e 0`)", "CLI --version"),
    `${ms(c.cli.median)} (node -e 0: ${ms(c.node.median)}; ${x2(c.ratio)}, +${ms(c.cli.median - c.node.median)})`,
    "≤ 150 ms",
    verdict(c.cli.median <= 150),
  ]);
  const pr = R.startup?.profile;
  const u = pr?.us;
  if (u && u.shim > 0 && u.drop > 0) {
    const over = (u.shim - u.drop) / 1000;
    out.push([
      "6",
      L("Shim per start, one kubeconfig mounted, over a bare drop-tool exec (same container, same run)", "shim over drop"),
      `+${over.toFixed(1)} ms (shim ${(u.shim / 1000).toFixed(1)} ms, ${R.rewrap.plan.drop.kind} ${(u.drop / 1000).toFixed(1)} ms` +
        (pr?.overRange ? `; ${roundByRound(pr.overRange)}` : "") +
        ")" +
        (u.shimfresh > 0 && u.dropfresh > 0 ? `; on a first start (no copy in /dev yet) +${((u.shimfresh - u.dropfresh) / 1000).toFixed(1)} ms` : "") +
        (u.floor > 0 ? `; its processes alone (no logic) +${((u.floor - u.drop) / 1000).toFixed(1)} ms` : "") +
        (u.shimhome > 0 && u.drophome > 0
          ? `; mounted in the home instead (today's catalog, its own container, where ${R.rewrap.plan.drop.kind} takes ${(u.drophome / 1000).toFixed(1)} ms) +${((u.shimhome - u.drophome) / 1000).toFixed(1)} ms` +
            (pr.overRangeHome ? ` (${roundByRound(pr.overRangeHome)})` : "") +
            (u.shimhomefresh > 0 && u.drophomefresh > 0 ? `, on a first start there (as under the gateway) +${((u.shimhomefresh - u.drophomefresh) / 1000).toFixed(1)} ms` : "")
          : ""),
      "≤ 5 ms",
      // Met only when every case is: steady and first start, under /root and in the home.
      verdict(shimCases(u).every(([a, b]) => a - b <= 5000)),
    ]);
  }
  if (u && u.copy10k > 0) {
    // The verdict is on tmpfs, where the figure is the shim's and not the disk's; both are shown.
    const judged = u.copy10ktmpfs > 0 ? u.copy10ktmpfs : u.copy10k;
    out.push([
      "7",
      L("Copy of a 10,000-file tree for the user (one tar pipe), in the container", "10,000-file copy"),
      (u.copy10ktmpfs > 0 ? `${ms(u.copy10ktmpfs / 1000)} on tmpfs (a bare tar pipe there: ${ms(u.copy10ktmpfsbare / 1000)}); on the container's disk ` : "") +
        `${ms(u.copy10k / 1000)}${u.copy10kbare > 0 ? ` (a bare tar pipe on the same disk: ${ms(u.copy10kbare / 1000)})` : ""}`,
      "≤ 1 s",
      verdict(judged <= 1e6),
    ]);
  }
  if (R.scan) {
    out.push([
      "8",
      L("Scan of a kubernetes-shaped image that is not local: bytes fetched from the registry ÷ its compressed size (nothing pulled)", "scan bytes ÷ image size"),
      `${pct(R.scan.ratio)} (${size(R.scan.bytes)} of ${size(R.scan.total)}; ${R.scan.requests} requests, ${ms(R.scan.ms)})`,
      "≤ 5 %",
      verdict(R.scan.ratio <= 0.05 && R.scan.user),
    ]);
  }
  return out;
}

function markdownTable(header, body) {
  const esc = (c) => String(c).replace(/\|/g, "\\|");
  return [`| ${header.join(" | ")} |`, `| ${header.map(() => "---").join(" | ")} |`, ...body.map((r) => `| ${r.map(esc).join(" | ")} |`)].join("\n");
}

function textTable(header, body) {
  const strip = (c) => String(c).replace(/\*\*/g, "").replace(/`/g, "");
  const all = [header, ...body].map((r) => r.map(strip));
  const width = header.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  const lines = [];
  for (const r of all) {
    lines.push(r.map((c, i) => c.padEnd(width[i])).join("  ").trimEnd());
  }
  return lines.join("\n");
}

/** One data-driven sentence per missed target: where the time or the bytes go. */
function misses(R) {
  const out = [];
  const s = R.startup;
  const u = s?.profile?.us;
  if (s && s.ratio > 1.02) {
    const steps = u ? Object.entries(u).filter(([k, v]) => !["shim", "drop", "shimfresh", "dropfresh", "floor", "floorfresh", "shimhome", "drophome", "shimhomefresh", "drophomefresh", "sh", "true", "copy10k", "copy10kbare", "copy10ktmpfs", "copy10ktmpfsbare"].includes(k) && v >= 0).sort((a, b) => b[1] - a[1]) : [];
    out.push(
      `Startup ${x2(s.ratio)}: the medians differ by ${ms(s.rewrapped.median - s.original.median)}` +
        (u?.shim ? `; the shim itself costs ${ms(u.shim / 1000)} per start (${steps.length ? `most in ${steps[0][0]}, ${ms(steps[0][1] / 1000)}` : "see the profile"}), ${((u.shim / 1000 / s.original.median) * 100).toFixed(1)} % of a start` : "") +
        `; the spreads (${range(s.rewrapped)} vs ${range(s.original)}) say how much of the rest is noise.`,
    );
  }
  const z = R.size;
  if (z && z.bytes > 1024) {
    out.push(
      `Size ${bytes(z.bytes)}: all of it is the shim, ${bytes(z.shimBytes)} of commands with no comment, blank line or indentation left (${bytes(z.shimGzip)} gzipped). 1 KiB would mean dropping behaviour (diagnostics, symlink-safe copies, the fallback when HOME is read-only, the capability checks, three drop tools), not formatting.`,
    );
  }
  // A gateway start is always a first start (--rm): the explanation is due when any of the four
  // figures (steady or first, under /root or in the home) is over the target, as row 6's verdict.
  if (u && u.shim > 0 && u.drop > 0 && shimCases(u).some(([a, b]) => a - b > 5000) && u.sh > 0 && u.true > 0) {
    // Where the shim's time goes: the processes it must start (measured by a script that starts
    // exactly those and does nothing else, or priced by bare ones), and the rest, dash itself.
    const over = u.shim - u.drop;
    const measured = u.floor > 0;
    const floor = measured ? u.floor - u.drop : u.sh + 2 * u.true;
    out.push(
      `Shim +${ms(over / 1000)} per start with the kubeconfig under /root (the same path for it mounted in the home): besides the drop tool's exec it starts three processes, the shim's own shell (a bare \`sh -c :\` takes ${ms(u.sh / 1000)} here) and two cats, the one read of /proc and root's copy into /dev (a bare /bin/true: ${ms(u.true / 1000)}). ` +
        (measured
          ? `A script that starts exactly those processes and does nothing else takes +${ms(floor / 1000)} over the drop tool in the same rounds: the floor of this design on this machine, ${floor > 5000 ? "already over the target" : `${ms((5000 - floor) / 1000)} under the target`}. `
          : `About ${ms(floor / 1000)} goes before a line of the shim runs. `) +
        `The other ${ms((over - floor) / 1000)} is dash reading the shim and running it.`,
    );
  }
  const ph = R.build?.phases;
  const fixed = ph ? ph.node + ph.modules + ph.ping + ph.facts + ph.render + ph.inspect : 0;
  for (const [k, label] of !ph ? [] : [
    ["cold", "cold"],
    ["warm", "warm"],
  ]) {
    const b = R.build[k];
    if (b.ratio <= 1.1) continue;
    out.push(
      `Build, ${label} ${x2(b.ratio)}: \`docker build\` takes ${ms(b.docker.median)}, so 1.10× leaves ${ms(b.docker.median * 0.1)} for everything mcp-rewrap adds, while its steps before the build take ${ms(fixed)} (node ${ms(ph.node)}, modules ${ms(ph.modules)}, image facts ${ms(ph.facts)}, the rest ${ms(ph.ping + ph.render + ph.inspect)})` +
        (ph.node > b.docker.median * 0.1 ? "; node's own start alone exceeds that budget." : "."),
    );
  }
  const n = R.noop;
  if (n && !(n.median < 500 && n.built === 0 && n.upToDate === n.n && n.unchanged)) {
    out.push(`No-op rebuild ${ms(n.median)}: it runs the same steps as a build up to the up-to-date check` + (ph ? ` (${ms(fixed)} in the build profile: image facts ${ms(ph.facts)}, modules ${ms(ph.modules)}).` : "."));
  }
  if (R.cli && R.cli.cli.median > 150) out.push(`CLI start ${ms(R.cli.cli.median)}: node alone takes ${ms(R.cli.node.median)} here.`);
  if (R.scan && R.scan.ratio > 0.05) out.push(`Scan ${pct(R.scan.ratio)}: ${size(R.scan.bytes)} of ${size(R.scan.total)}; see the layers it opened (${R.scan.via}).`);
  return out;
}

/** A run line for the report: this run's kubeconfig paths and tag replaced by placeholders. */
function runLine(args) {
  return args
    .map((a) => {
      const [host, ...rest] = a.split(":");
      return placeholders[host] ? [placeholders[host], ...rest].join(":") : a;
    })
    .join(" ")
    .replace(new RegExp(`:${nonce}\\b`, "g"), ":<run>");
}

const samples = (s) => s.samples.map((x) => ms(x)).join(", ");

function markdown(R) {
  const m = R.machine;
  const s = R.startup;
  const p = s.profile;
  const lines = [];
  lines.push("# Benchmarks", "");
  lines.push(
    `Generated by \`make bench\` (bench/run.mjs) on ${m.date}; do not edit by hand, re-run it. Each comparison runs its two sides alternately in one run (A B, B A, …, after one discarded warm-up of each) and reports medians and their ratio: absolute times on a shared machine mean little. Benchmarks never fail CI on timing.`,
    "",
  );
  lines.push("## Machine", "");
  lines.push(
    markdownTable(
      ["", ""],
      [
        ["CPU", `${m.cpu}, ${m.cores} cores`],
        ["memory", m.memory],
        ["kernel", m.kernel],
        ["Docker engine", m.docker],
        ["Node.js", m.node],
        ["mcp-rewrap", VERSION],
        ["load average (1/5/15 min) at start → end", `${R.noiseStart.load} → ${R.noiseEnd.load}`],
        ["other containers running at start → end", `${R.noiseStart.running} → ${R.noiseEnd.running}`],
        ["CPU time stolen by the hypervisor during the run (/proc/stat; every figure here moves with it)", stealText(R.noiseStart.cpu, R.noiseEnd.cpu)],
        ["runs per side", String(opt.runs)],
      ],
    ),
    "",
  );
  lines.push("## Results", "");
  lines.push(markdownTable(["#", "measure", "this run", "target", "verdict"], rows(R)), "");
  const why = misses(R);
  if (why.length) lines.push("## Misses, and why", "", ...why.map((w) => `- ${w}`), "");
  lines.push("## Details", "");

  lines.push("### 1. Startup", "");
  lines.push(
    `Both images run on the Docker MCP Gateway's exact run line (\`gatewayRunArgs\`, src/core/gateway.ts) with \`--network host\`; the official MCP SDK client spawns \`docker run\`, initializes and reads \`k8s://nodes\` from mcp-server-kubernetes, which lists the stand-in API's five nodes (checked every run; the API served ${s.nodeRequests} node lists). Time runs from spawning \`docker run\` to the answer.`,
    "",
    `- A, rewrapped: \`docker ${runLine(s.runLineA)}\` (the host kubeconfig: 0600, uid 1000, as on a Linux host)`,
    `- B, original, fixed by hand: \`docker ${runLine(s.runLineB)}\` (a 0644 copy)`,
    "",
  );
  lines.push(
    markdownTable(
      ["", "median", "min", "max", "samples"],
      [
        ["A: to initialize answered", ms(s.initA.median), ms(s.initA.min), ms(s.initA.max), samples(s.initA)],
        ["B: to initialize answered", ms(s.initB.median), ms(s.initB.min), ms(s.initB.max), samples(s.initB)],
        ["A: to k8s://nodes answered", ms(s.rewrapped.median), ms(s.rewrapped.min), ms(s.rewrapped.max), samples(s.rewrapped)],
        ["B: to k8s://nodes answered", ms(s.original.median), ms(s.original.min), ms(s.original.max), samples(s.original)],
      ],
    ),
    "",
    `Ratio of medians: initialize ${x2(s.initRatio)}, first answer ${x2(s.ratio)}.`,
    "",
  );
  if (p) {
    const u = p.us;
    const row = (k, what) => (u[k] === undefined ? null : [what, u[k] < 0 ? "not in this shim" : `${(u[k] / 1000).toFixed(1)} ms`]);
    lines.push(
      `Shim profile, inside one container started like the gateway does (root, kubeconfig 0600 at /root/.kube/config), the calls run from a shell with the environment docker gives an entrypoint (no PWD, SHLVL); whole shim and drop tool: median of ${p.rounds ?? 1} interleaved rounds of ${p.n} calls; steps: mean of ${p.n} calls:`,
      "",
      markdownTable(
        ["step", "per call"],
        [
          row("shim", "whole shim, then exec /bin/true (what A adds to every start)"),
          row("drop", `${R.rewrap.plan.drop.kind} alone, exec /bin/true (the unavoidable part)`),
          row("shimfresh", "whole shim on a first start (the copy in /dev removed before each call; the removal is in both rows)"),
          row("dropfresh", `${R.rewrap.plan.drop.kind} alone, the same removal before each call`),
          row("floor", "process floor: a script that starts exactly the shim's processes (its shell, one cat of /proc, root's cat of the kubeconfig into /dev, the drop tool) and does nothing else"),
          row("floorfresh", "process floor on a first start (its copy in /dev removed before each call)"),
          row("shimhome", "whole shim with the kubeconfig mounted at ~/.kube/config instead (today's catalog; root's copy in /dev too, KUBECONFIG names it), its own container"),
          row("drophome", `${R.rewrap.plan.drop.kind} alone, in that container`),
          row("shimhomefresh", "the same on a first start (the copy in /dev removed before each call; the removal is in both rows)"),
          row("drophomefresh", `${R.rewrap.plan.drop.kind} alone, the same removal before each call`),
          row("sh", "baseline: sh -c :"),
          row("true", "baseline: /bin/true"),
          row("rw_read_kernel", "step: rw_read_kernel (one cat: the environment, status, mountinfo)"),
          row("rw_mounts", "step: rw_mounts with RW_MPICK, as rw_prepare calls it (the one mountinfo parser, builtins only)"),
          row("rw_copy_dev", "step: rw_copy_dev /root/.kube/config (root's one cat into /dev, KUBECONFIG pointed)"),
          row("rw_rewrite_env", "step: rw_rewrite_env"),
        ].filter(Boolean),
      ),
      "",
    );
    if (u.shim > 0) lines.push(`Against B's median start (${ms(s.original.median)}) the whole shim is ${((u.shim / 1000 / s.original.median) * 100).toFixed(1)} %.`, "");
  }

  const z = R.size;
  lines.push("### 2. Image size", "");
  lines.push(
    `\`docker image inspect\`: ${z.baseSize.toLocaleString("en-US")} B → ${z.size.toLocaleString("en-US")} B; RootFS layers +${z.layers}. History entries the rewrap adds (only COPY has content; the rest is metadata):`,
    "",
    markdownTable(
      ["size", "instruction"],
      z.entries.map((e) => [bytes(e.size), `\`${e.what}\``]),
    ),
    "",
    `The shim as shipped: ${bytes(z.shimBytes)}, ${bytes(z.shimGzip)} gzipped (roughly what a registry stores and a pull transfers). The renderer ships the template without comment-only lines, blank lines and indentation (\`stripShellScript\`, src/core/render.ts); the same shim as the template reads would be ${bytes(z.unstrippedBytes)}, ${bytes(z.unstrippedGzip)} gzipped (stripping saves ${(100 - (z.shimBytes / z.unstrippedBytes) * 100).toFixed(0)} %). The commented template, templates/entrypoint.sh.hbs: ${bytes(z.templateBytes)}.`,
    "",
  );

  const b = R.build;
  lines.push("### 3. Build", "");
  lines.push(
    `Same context directory (written by \`mcp-rewrap generate\`), same legacy builder: \`mcp-rewrap build --rebuild\` (whole command: node, image facts, render, build over the Engine API) vs \`DOCKER_BUILDKIT=0 docker build\`. The source is an image made for this run (the replica plus a label), so no other build's cache serves it. Cold: the tag and its intermediate images are removed before every run (\`docker rmi\`; the legacy builder keeps its cache as intermediate images, \`docker builder prune\` does not apply to it); every cold run is checked to have made a new image without "Using cache". Warm: every step from the cache, checked.`,
    "",
    markdownTable(
      ["", "median", "min", "max", "samples"],
      [
        ["cold: mcp-rewrap build", ms(b.cold.cli.median), ms(b.cold.cli.min), ms(b.cold.cli.max), samples(b.cold.cli)],
        ["cold: docker build", ms(b.cold.docker.median), ms(b.cold.docker.min), ms(b.cold.docker.max), samples(b.cold.docker)],
        ["warm: mcp-rewrap build", ms(b.warm.cli.median), ms(b.warm.cli.min), ms(b.warm.cli.max), samples(b.warm.cli)],
        ["warm: docker build", ms(b.warm.docker.median), ms(b.warm.docker.min), ms(b.warm.docker.max), samples(b.warm.docker)],
      ],
    ),
    "",
  );
  if (b.problems.length) lines.push(`Harness warnings: ${b.problems.join("; ")}.`, "");
  const ph = b.phases;
  const phaseRows = [
    ["node", "node itself starts (before any mcp-rewrap code)"],
    ["modules", "import the command modules (dockerode with its gRPC and SSH code, handlebars, …)"],
    ["ping", "connect to the engine"],
    ["facts", "read the image facts: create a never-started container, copy /etc/passwd and /etc/group, stat the probe paths, remove it"],
    ["render", "plan, render, write the context, hash"],
    ["inspect", "inspect the tag (the up-to-date check)"],
    ["build", "stream the context, build (all steps cached), inspect the result"],
  ];
  lines.push(
    `Where a warm \`mcp-rewrap build --rebuild\` spends its time (bench/build-phases.mjs runs buildCommand's steps one by one in a fresh node process; median of ${b.phaseRuns}):`,
    "",
    markdownTable(
      ["step", "median", "share"],
      [...phaseRows.map(([k, what]) => [what, ms(ph[k]), `${((ph[k] / ph.total) * 100).toFixed(0)} %`]), ["total", ms(ph.total), "100 %"]],
    ),
    "",
  );

  const n = R.noop;
  lines.push("### 4. No-op rebuild", "");
  lines.push(
    `\`mcp-rewrap build ${REPLICA} --tag <bench tag> --json\` with the tag already holding the same rewrap, ${n.n} runs after one warm-up: ${ms(n.median)} median (${samples(n)}); \`upToDate: true\` ${n.upToDate}/${n.n}, builds started ${n.built}, image ID and creation time ${n.unchanged ? "unchanged" : "CHANGED"}.`,
    "",
  );

  const c = R.cli;
  if (R.scan) {
    lines.push("### 6. Scan without pulling", "");
    lines.push(
      `scan judged a kubernetes-shaped image (the layer order of Flux159/mcp-server-kubernetes's Dockerfile, bulk as random bytes at roughly the real compressed sizes; test/support/real-images.ts) served by a registry on 127.0.0.1 with \`--registry-mirror\`: it fetched ${size(R.scan.bytes)} of ${size(R.scan.total)} (${pct(R.scan.ratio)}; the server sent ${bytes(R.scan.sent)}) in ${R.scan.requests} requests: ${R.scan.via}.`,
      "",
    );
  }
  lines.push("### 5. CLI cold start", "");
  lines.push(
    `${c.cli.n} alternating runs each (new process every time, file cache warm): \`node dist/src/cli.js --version\` ${ms(c.cli.median)} median (${range(c.cli)}), \`node -e 0\` ${ms(c.node.median)} (${range(c.node)}): ${x2(c.ratio)}, ${ms(c.cli.median - c.node.median)} of mcp-rewrap's own.`,
    "",
  );
  return `${lines.join("\n")}`;
}

// --- 6. scan without pulling -----------------------------------------------------------------------

/**
 * What scan fetches to judge an image that is not local: a kubernetes-shaped image (the layers
 * of Flux159/mcp-server-kubernetes's Dockerfile, bulk at roughly the real compressed sizes,
 * test/support/real-images.ts) served by a registry on 127.0.0.1; scan reads the config and
 * /etc/passwd + /etc/group top-down by Range requests. Bytes counted by scan and by the server.
 */
async function benchScanBytes() {
  const { realShapes, serveImages } = await import("../dist/bench/test/support/real-images.js");
  const { readImageFromRegistry } = await import("../dist/src/commands/scan.js");
  const { Registries } = await import("../dist/src/edge/registry/client.js");
  log("scan: building a kubernetes-shaped image (about 330 MB compressed) for a registry on 127.0.0.1");
  const reg = await serveImages([realShapes(1)[0]]);
  try {
    reg.reset();
    const t0 = performance.now();
    const r = await readImageFromRegistry("mcp/kubernetes", {
      regs: new Registries(),
      mirrors: { "docker.io": reg.host },
      platform: "linux/amd64",
      wantDirs: ["/", "/home", "/home/appuser", "/home/appuser/.kube"],
      progress: () => {},
    });
    const elapsed = performance.now() - t0;
    const total = reg.images[0].compressedSize;
    return { bytes: r.bytes, sent: reg.sent(), total, ratio: r.bytes / total, ms: elapsed, via: r.view.via, requests: reg.requests.length, user: /^appuser:x:1001:/m.test(r.view.facts.passwd ?? "") };
  } finally {
    await reg.close();
  }
}

// --- main ----------------------------------------------------------------------------------------

async function main() {
  for (const [what, path] of [
    ["dist/src/cli.js", CLI],
    ["dist/bench (npx tsc -p bench/tsconfig.json)", join(ROOT, "dist/bench/test/support/kube-api.js")],
  ]) {
    try {
      statSync(path);
    } catch {
      throw new Error(`${what} missing: run \`make bench\``);
    }
  }
  ({ gatewayRunArgs } = await import("../dist/src/core/gateway.js"));
  ({ VERSION } = await import("../dist/src/edge/version.js"));
  ({ loadTemplates } = await import("../dist/src/edge/fs.js"));
  ({ renderContext, shellQuote } = await import("../dist/src/core/render.js"));
  ({ withMcpServer } = await import("../dist/src/edge/docker-run.js"));
  ({ NODE_NAMES, startKubeApi } = await import("../dist/bench/test/support/kube-api.js"));
  ({ writeHostKubeconfig } = await import("../dist/bench/test/support/kubeconfig.js"));
  if (!dockerQuiet(["info"])) throw new Error("no Docker engine: run `make engine` (or `make bench`)");
  if (!dockerQuiet(["image", "inspect", REPLICA])) throw new Error(`${REPLICA} missing: run \`make bed\` (or \`make bench\`)`);

  const R = { machine: machine(), noiseStart: engineNoise() };
  log(`machine: ${R.machine.cpu}, ${R.machine.cores} cores, ${R.machine.memory}; docker ${R.machine.docker}; node ${R.machine.node}; load ${R.noiseStart.load}`);
  if (wanted(5)) R.cli = await benchCli();
  if (wanted(1) || wanted(2) || wanted(4)) R.rewrap = await buildRewrap();
  if (wanted(2)) R.size = benchSize(R.rewrap);
  if (wanted(4)) R.noop = await benchNoop(R.rewrap);
  if (wanted(1)) R.startup = await benchStartup(R.rewrap);
  if (wanted(3)) R.build = await benchBuild();
  if (wanted(8)) R.scan = await benchScanBytes();
  R.noiseEnd = engineNoise();

  const header = ["#", "measure", "this run", "target", "verdict"];
  process.stdout.write(`\nmcp-rewrap ${VERSION} benchmarks — ${R.machine.cpu}, ${R.machine.cores} cores, ${R.machine.memory}, ${R.machine.kernel}, docker ${R.machine.docker.split(" ")[0]}, node ${R.machine.node}, ${R.machine.date}\n`);
  process.stdout.write(`load ${R.noiseStart.load} → ${R.noiseEnd.load}; other containers ${R.noiseStart.running} → ${R.noiseEnd.running}; CPU stolen by the hypervisor ${stealText(R.noiseStart.cpu, R.noiseEnd.cpu)}\n\n`);
  process.stdout.write(`${textTable(header, rows(R, true))}\n`);
  if (R.build?.problems.length) process.stdout.write(`\nharness warnings: ${R.build.problems.join("; ")}\n`);
  const why = misses(R);
  if (why.length) process.stdout.write(`\nmisses, and why:\n${why.map((w) => `- ${w.replace(/\*\*|`/g, "")}`).join("\n")}\n`);
  if (opt.write) {
    mkdirSync(dirname(opt.out), { recursive: true });
    writeFileSync(opt.out, `${markdown(R)}\n`);
    process.stdout.write(`\nwrote ${relative(process.cwd(), opt.out) || opt.out}\n`);
  }
}

let code = 0;
try {
  await main();
} catch (e) {
  process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n`);
  code = 1;
} finally {
  await cleanup();
}
process.exit(code);

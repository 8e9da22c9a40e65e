/**
 * The read-only Engine API client (src/edge/engine-lite.ts) against the engine under test:
 *  - it reads the same facts as dockerode: version, the inspect of an image and of a missing
 *    one, and readImageFacts whole;
 *  - commands that only read never load dockerode: a no-op rebuild (with and without --out),
 *    inspect with cached facts. A real build does load it (the check can fail). What loaded is
 *    seen from inside the CLI process: a --require'd hook lists, at exit, the package files in
 *    require.cache (dockerode is CommonJS: its files land there however it is imported).
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { engineTransport, resolveEngine } from "../../src/edge/docker-context.js";
import { connect, enginePlatform, inspectImage, readImageFacts } from "../../src/edge/engine.js";
import { LiteEngine } from "../../src/edge/engine-lite.js";
import { cli, ensureBed } from "../support/bed.js";
import { removeImages } from "../support/docker.js";

const RUN = randomBytes(4).toString("hex");
const work = mkdtempSync(join(tmpdir(), "mcp-rewrap-lite-e2e-"));
const SOURCE = "mcp-rewrap-test/family-debian:latest";
const TAG = `mcp-rewrap-lite-e2e/debian:${RUN}`;
const HOOK = join(work, "loaded.cjs");

beforeAll(() => {
  ensureBed();
  writeFileSync(
    HOOK,
    `process.on("exit", () => {
  const pkgs = new Set();
  for (const k of Object.keys(require.cache)) { const m = /\\/node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(k); if (m) pkgs.add(m[1]); }
  require("fs").writeFileSync(process.env.MCP_REWRAP_TEST_LOADED, JSON.stringify([...pkgs].sort()));
});
`,
  );
});

afterAll(async () => {
  await removeImages(TAG);
  rmSync(work, { recursive: true, force: true });
});

/** The CLI, and the packages it loaded. */
function traced(args: string[], env: Record<string, string> = {}) {
  const out = join(work, `loaded-${randomBytes(3).toString("hex")}.json`);
  const r = cli(args, { env: { ...env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --require ${HOOK}`.trim(), MCP_REWRAP_TEST_LOADED: out } });
  const loaded = JSON.parse(readFileSync(out, "utf8")) as string[];
  return { ...r, loaded };
}

describe("the read-only client reads what dockerode reads", () => {
  const t = engineTransport(resolveEngine());

  it("the engine under test is one it serves (unix socket or tcp)", () => {
    expect(t).not.toBeNull();
  });

  it("version, platform, an image's inspect and a missing image's: the same", async () => {
    const lite = new LiteEngine(t!);
    const d = await connect();
    expect(await lite.version()).toEqual(await d.version());
    expect(await enginePlatform(lite)).toBe(await enginePlatform(d));
    const a = await inspectImage(lite, SOURCE);
    expect(a?.Id).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(a).toEqual(await inspectImage(d, SOURCE));
    expect(await inspectImage(lite, `mcp-rewrap-test/absent-${RUN}:latest`)).toBeNull();
    expect(await inspectImage(d, `mcp-rewrap-test/absent-${RUN}:latest`)).toBeNull();
  });

  it("readImageFacts: the same facts through either client", async () => {
    const lite = new LiteEngine(t!);
    const d = await connect();
    const [ours, theirs] = [await readImageFacts(lite, SOURCE, { pull: false }), await readImageFacts(d, SOURCE, { pull: false })];
    expect(ours.config.user).toBeTruthy();
    expect(ours).toEqual(theirs);
  });
});

describe("what only reads never loads dockerode", () => {
  it("a real build loads it; the no-op rebuild after it (and with --out) does not; inspect does not", () => {
    const first = traced(["build", SOURCE, "--tag", TAG, "--json"]);
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout).results[0].status).toBe("built");
    expect(first.loaded).toContain("dockerode");

    const noop = traced(["build", SOURCE, "--tag", TAG, "--json"]);
    expect(noop.code, noop.stderr).toBe(0);
    expect(JSON.parse(noop.stdout).results[0].status).toBe("up-to-date");
    expect(noop.stderr).not.toMatch(/^building /m);
    expect(noop.loaded).not.toContain("dockerode");
    expect(noop.loaded).not.toContain("docker-modem");

    const out = join(work, "ctx");
    const withOut = traced(["build", SOURCE, "--tag", TAG, "--out", out, "--json"]);
    expect(withOut.code, withOut.stderr).toBe(0);
    expect(JSON.parse(withOut.stdout).results[0].status).toBe("up-to-date");
    expect(readFileSync(join(out, "Dockerfile"), "utf8")).toMatch(/^FROM /m);
    expect(withOut.loaded).not.toContain("dockerode");

    const inspect = traced(["inspect", SOURCE, "--json"]);
    expect(inspect.code, inspect.stderr).toBe(0);
    expect(inspect.loaded).not.toContain("dockerode");
  });

  it("facts not cached yet: the files are read through a created container, so dockerode loads (and the answer is the cached one's)", () => {
    const cold = traced(["inspect", SOURCE, "--json"], { MCP_REWRAP_NO_CACHE: "1" });
    expect(cold.code, cold.stderr).toBe(0);
    expect(cold.loaded).toContain("dockerode");
    const warm = traced(["inspect", SOURCE, "--json"]);
    expect(warm.loaded).not.toContain("dockerode");
    expect(JSON.parse(warm.stdout)).toEqual(JSON.parse(cold.stdout));
  });
});

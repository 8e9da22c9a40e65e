/**
 * Bad input to the CLI, and the image families mcp-rewrap will not rewrap, against a real engine:
 * each case gives one clear message naming the input, the documented exit code (src/errors.ts:
 * 1 problem with the image, 2 usage, 3 runtime) and leaves nothing behind: no container made
 * from the image, no image or tag, nothing in the working directory, TMPDIR or --out.
 * docs/MATRIX.md lists these cases by test name.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createNetServer } from "node:net";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { gatewayRunArgs } from "../../src/core/gateway.js";
import { CLI, ROOT, cli, type CliResult } from "../support/bed.js";
import { buildFromStdin, docker, dockerSync, imageExists as exists, imageId, removeImages } from "../support/docker.js";
import { startSlowEngine } from "../support/slow-engine.js";

const family = (f: string) => `mcp-rewrap-test/family-${f}:latest`;
const RUN_ID = randomBytes(4).toString("hex");
const dirs: string[] = [];

function scratch(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), `mcp-rewrap-clierr-${prefix}-`));
  dirs.push(d);
  return d;
}

/** The CLI in the background: its stderr as it comes (`stderr()`), and its exit code (`exited`). */
function spawnCli(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}) {
  const child = spawn(process.execPath, [join(ROOT, "dist/src/cli.js"), ...args], { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
  return { child, stderr: () => stderr, exited };
}

/**
 * The CLI run through a relay that holds its `nth` container create 1.5 s (< CREATE_SETTLE_MS),
 * stopped by SIGTERM while the create is held: after the engine has read it, before it made the
 * container. Resolves once the held create reached the engine and a moment has passed for
 * anything after it, the relay stopped.
 */
async function stopWhileCreateHeld(args: string[], nth: number, opts: { cwd?: string; env?: Record<string, string>; heldWithinMs: number }): Promise<{ code: number | null; stderr: string }> {
  const slow = await startSlowEngine(join(scratch("relay"), "engine.sock"), nth, 1_500);
  try {
    const run = spawnCli(args, { cwd: opts.cwd, env: { ...opts.env, DOCKER_HOST: slow.host } });
    const held = await Promise.race([slow.held.then(() => true), run.exited.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(false), opts.heldWithinMs))]);
    expect(held, `create ${nth} never reached the engine; stderr: ${run.stderr()}`).toBe(true);
    run.child.kill("SIGTERM");
    const code = await run.exited;
    await slow.released;
    await new Promise((r) => setTimeout(r, 1_500));
    return { code, stderr: run.stderr() };
  } finally {
    await slow.stop();
  }
}

/** What an image has around it in the engine: containers made from it, images rewrapped from it. */
function engineTrace(image: string | null, tag: string | null): { containers: string[]; derived: string[]; tag: boolean } {
  const lines = (args: string[]) => [...new Set(dockerSync(args).split("\n").filter(Boolean))].sort();
  return {
    containers: image && exists(image) ? lines(["ps", "-a", "-q", "--filter", `ancestor=${image}`]) : [],
    derived: image ? lines(["images", "-a", "-q", "--filter", `label=org.opencontainers.image.base.name=${image}`]) : [],
    tag: tag ? exists(tag) : false,
  };
}

interface Case {
  result: CliResult;
  /** Entries left in the fresh working directory and TMPDIR the CLI ran with. */
  leftInCwd: string[];
  leftInTmp: string[];
  elapsedMs: number;
}

/** Runs the CLI in a fresh working directory with a fresh TMPDIR, checking the engine around `image` before and after. */
function run(args: string[], opts: { image?: string; tag?: string; env?: Record<string, string> } = {}): Case {
  const cwd = scratch("cwd");
  const tmp = scratch("tmp");
  const before = engineTrace(opts.image ?? null, opts.tag ?? null);
  const start = Date.now();
  const result = cli(args, { cwd, env: { TMPDIR: tmp, ...opts.env } });
  const elapsedMs = Date.now() - start;
  const after = engineTrace(opts.image ?? null, opts.tag ?? null);
  expect(after.containers, "containers made from the image were left behind").toEqual(before.containers);
  expect(after.derived, "an image rewrapped from the input was left behind").toEqual(before.derived);
  expect(after.tag, `the tag ${opts.tag} was left behind`).toBe(before.tag);
  return { result, leftInCwd: readdirSync(cwd), leftInTmp: readdirSync(tmp), elapsedMs };
}

/** One line, prefixed, naming what it is about; exit code as documented; nothing written anywhere. */
function expectFailure(c: Case, code: number, message: RegExp): void {
  expect(c.result.code, c.result.stderr).toBe(code);
  expect(c.result.stdout).toBe("");
  const lines = c.result.stderr.split("\n").filter(Boolean);
  expect(lines, c.result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^mcp-rewrap: /);
  expect(lines[0]).toMatch(message);
  expect(c.leftInCwd).toEqual([]);
  expect(c.leftInTmp).toEqual([]);
}

/**
 * Fake engines in a child process (the CLI runs synchronously, so a server in this process could
 * not answer it): one port accepts and never answers, one answers every request with HTTP 404.
 */
const FAKES = `
const net = require("net"), http = require("http");
const silent = net.createServer(() => {}).listen(0, "127.0.0.1", () => {
  const notDocker = http.createServer((q, r) => r.writeHead(404).end()).listen(0, "127.0.0.1", () => {
    process.stdout.write(JSON.stringify({ silent: silent.address().port, notDocker: notDocker.address().port }) + "\\n");
  });
});`;
let fakes: ChildProcess | undefined;
let ports = { silent: 0, notDocker: 0 };
let closedPort = 0;

describe("CLI errors: a clear message, the documented exit code, nothing left behind", () => {
  beforeAll(async () => {
    execFileSync("npx", ["tsc", "-p", "tsconfig.json"], { cwd: ROOT, stdio: ["ignore", "inherit", "inherit"], timeout: 120_000 });
    for (const script of ["test/bed/base-images.sh", "test/bed/families.sh"]) {
      execFileSync("bash", [join(ROOT, script)], { cwd: ROOT, stdio: ["ignore", "inherit", "inherit"], timeout: 15 * 60_000 });
    }
    fakes = spawn(process.execPath, ["-e", FAKES], { stdio: ["ignore", "pipe", "inherit"] });
    ports = await new Promise((resolve, reject) => {
      fakes!.stdout!.once("data", (b: Buffer) => resolve(JSON.parse(b.toString())));
      fakes!.once("exit", (code) => reject(new Error(`the fake engines exited (${code})`)));
    });
    const probe = createNetServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", () => r()));
    closedPort = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
  });

  afterAll(async () => {
    fakes?.kill();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  describe("no writes where not asked", () => {
    it("build from an empty directory writes nothing there (its context lives in a removed temporary directory)", async () => {
      const tag = `mcp-rewrap-test/nowrite-${RUN_ID}:latest`;
      try {
        const c = run(["build", family("debian"), "--tag", tag, "-q"]);
        expect(c.result.code, c.result.stderr).toBe(0);
        expect(c.result.stdout).toBe(`${tag}\n`);
        expect(c.leftInCwd).toEqual([]);
        expect(c.leftInTmp).toEqual([]);
      } finally {
        await removeImages(tag);
      }
    });

    // generate --out over a Dockerfile it did not write: test/e2e/findings.test.ts, finding 15.
  });

  describe("signals: a stopped run removes what it made", () => {
    const names = () => dockerSync(["ps", "-a", "--filter", "name=mcp-rewrap-verify-", "--format", "{{.Names}}"]).split("\n").filter(Boolean).sort();
    for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
      it(`${signal} during verify --mcp: its 0600 synthetic config and its container are removed, exit ${code}`, async () => {
        const tmp = scratch("sig");
        const before = names();
        // bash reads the MCP request as commands and never answers: verify waits for its deadline.
        const { child, stderr, exited } = spawnCli(["verify", "mcp-rewrap-test/bookworm:latest", "--mcp", "--timeout", "120", "--no-pull", "-q"], { cwd: tmp, env: { TMPDIR: tmp } });
        // Wait until the MCP container runs and the synthetic files exist.
        const deadline = Date.now() + 60_000;
        let running: string[] = [];
        while (Date.now() < deadline) {
          running = names().filter((n) => !before.includes(n));
          if (running.length && readdirSync(tmp).some((f) => f.startsWith("mcp-rewrap-verify-"))) break;
          await new Promise((r) => setTimeout(r, 200));
        }
        expect(running.length, `no verify container appeared; stderr: ${stderr()}`).toBeGreaterThan(0);
        expect(readdirSync(tmp).filter((f) => f.startsWith("mcp-rewrap-verify-"))).toHaveLength(1);
        child.kill(signal);
        expect(await exited).toBe(code);
        expect(stderr()).toBe(`mcp-rewrap: interrupted by ${signal}: removed the temporary files and containers this run made; run the command again to finish\n`);
        expect(readdirSync(tmp)).toEqual([]);
        expect(names().filter((n) => !before.includes(n))).toEqual([]);
      }, 120_000);
    }

    it("SIGTERM while the engine is still making the MCP container: the container it makes after the stop is removed too, and the temporary directory stays gone", async () => {
      // The relay holds verify's second create (the first is the probe run, the second --mcp's)
      // for 1.5 s (< CREATE_SETTLE_MS): the stop lands after docker run sent it, before the
      // engine made the container. Before the fix, the engine made it after the clean-up had run,
      // with a fresh root-owned directory as its missing bind source, and nothing removed either.
      const tmp = scratch("sig-create");
      const before = names();
      try {
        const r = await stopWhileCreateHeld(["verify", "mcp-rewrap-test/bookworm:latest", "--mcp", "--timeout", "120", "--no-pull", "-q"], 2, { cwd: tmp, env: { TMPDIR: tmp }, heldWithinMs: 90_000 });
        expect(r.code).toBe(143);
        expect(r.stderr).toBe("mcp-rewrap: interrupted by SIGTERM: removed the temporary files and containers this run made; run the command again to finish\n");
        expect(names().filter((n) => !before.includes(n))).toEqual([]);
        expect(readdirSync(tmp)).toEqual([]);
      } finally {
        for (const n of names().filter((x) => !before.includes(x))) dockerSync(["rm", "-f", n]);
      }
    }, 150_000);

    it("SIGTERM while the engine is still making inspect's file-reading container: the container it makes after the stop is removed too", async () => {
      const probes = () => dockerSync(["ps", "-a", "-q", "--filter", "label=io.mcp-rewrap.probe"]).split("\n").filter(Boolean).sort();
      const before = probes();
      try {
        // No facts cache: inspect reads /etc/passwd and friends through a created, never started container.
        const r = await stopWhileCreateHeld(["inspect", family("debian"), "--no-pull"], 1, { env: { MCP_REWRAP_NO_CACHE: "1" }, heldWithinMs: 60_000 });
        expect(r.code).toBe(143);
        expect(probes().filter((p) => !before.includes(p))).toEqual([]);
      } finally {
        for (const p of probes().filter((x) => !before.includes(x))) dockerSync(["rm", "-f", p]);
      }
    }, 120_000);

    describe("verify --state", () => {
      // An entrypoint script (kept in the probe's chain) that waits while the state volume is
      // mounted: the state run is caught while its container runs and holds the volume.
      const image = `mcp-rewrap-test/clierr-${RUN_ID}:slow-state`;
      beforeAll(() => {
        const dir = scratch("slow-state");
        writeFileSync(join(dir, "slow-entrypoint.sh"), '#!/bin/sh\nif [ -d /srv/state ]; then sleep 120; fi\nexec "$@"\n', { mode: 0o755 });
        writeFileSync(join(dir, "Dockerfile"), 'FROM mcp-rewrap-test/busybox:latest\nCOPY slow-entrypoint.sh /slow-entrypoint.sh\nENTRYPOINT ["/slow-entrypoint.sh"]\n');
        execFileSync("docker", ["build", "-q", "-t", image, dir], { stdio: ["ignore", "pipe", "pipe"], timeout: 120_000 });
      }, 180_000);
      afterAll(async () => {
        await removeImages(image);
      });
      const volumes = () => dockerSync(["volume", "ls", "-q", "--filter", "name=mcp-rewrap-verify-state-"]).split("\n").filter(Boolean).sort();
      const holders = (volume: string) => dockerSync(["ps", "-a", "-q", "--filter", `volume=${volume}`]).split("\n").filter(Boolean);
      for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
        it(`${signal} while a state run holds its volume: the run's container and the volume are removed, exit ${code}`, async () => {
          const before = volumes();
          const { child, stderr, exited } = spawnCli(["verify", image, "--state", "/srv/state", "--timeout", "150", "--no-pull", "-q"]);
          const deadline = Date.now() + 90_000;
          let volume: string | undefined;
          while (Date.now() < deadline) {
            volume = volumes().find((v) => !before.includes(v));
            if (volume && holders(volume).length) break;
            await new Promise((r) => setTimeout(r, 200));
          }
          expect(volume && holders(volume).length, `no state run appeared; stderr: ${stderr()}`).toBeTruthy();
          child.kill(signal);
          expect(await exited).toBe(code);
          expect(stderr()).toBe(`mcp-rewrap: interrupted by ${signal}: removed the temporary files and containers this run made; run the command again to finish\n`);
          expect(holders(volume!)).toEqual([]);
          expect(volumes().filter((v) => !before.includes(v))).toEqual([]);
        }, 150_000);
      }
    });
  });

  describe("bad input", () => {
    it("missing image: the pull fails (no registry reachable) → 3, names the image", () => {
      // Its registry is a closed port on 127.0.0.1: the engine's pull never leaves this machine.
      const ref = `127.0.0.1:${closedPort}/mcp-rewrap-test/missing-${RUN_ID}:latest`;
      expectFailure(run(["inspect", ref, "-q"], { tag: ref }), 3, new RegExp(`pulling ${ref}: `));
    });

    it("missing image with --no-pull → 3, names the image", () => {
      const ref = `mcp-rewrap-test/missing-${RUN_ID}:latest`;
      expectFailure(run(["build", ref, "--no-pull", "-q"], { tag: ref }), 3, new RegExp(`image ${ref} is not in the local engine \\(pulling is off\\)`));
    });

    it("not an image reference → 2, names it", () => {
      expectFailure(run(["build", "Not An/Image!", "-q"]), 2, /"Not An\/Image!": not an image reference or ID/);
    });

    it("unreachable daemon (connection refused) → 3, names DOCKER_HOST", () => {
      const host = `tcp://127.0.0.1:${closedPort}`;
      const c = run(["build", family("debian"), "-q"], { image: family("debian"), env: { DOCKER_HOST: host } });
      expectFailure(c, 3, new RegExp(`cannot reach the Docker engine at ${host.replace(/\./g, "\\.")} \\(ECONNREFUSED\\); is dockerd running and DOCKER_HOST right\\?`));
    });

    it("wrong DOCKER_HOST (no such socket) → 3, names it", () => {
      const host = `unix:///nonexistent-${RUN_ID}/docker.sock`;
      expectFailure(run(["inspect", family("debian"), "-q"], { env: { DOCKER_HOST: host } }), 3, new RegExp(`cannot reach the Docker engine at ${host} \\(ENOENT\\)`));
    });

    it("DOCKER_HOST that is not a Docker engine (HTTP 404) → 3, names it", () => {
      const host = `tcp://127.0.0.1:${ports.notDocker}`;
      expectFailure(run(["inspect", family("debian"), "-q"], { env: { DOCKER_HOST: host } }), 3, new RegExp(`${host.replace(/\./g, "\\.")} does not answer like a Docker engine \\(HTTP 404\\)`));
    });

    it("DOCKER_HOST that accepts and never answers → 3 within the 10 s ping timeout, never hangs", () => {
      const host = `tcp://127.0.0.1:${ports.silent}`;
      const c = run(["inspect", family("debian"), "-q"], { env: { DOCKER_HOST: host } });
      expectFailure(c, 3, new RegExp(`${host.replace(/\./g, "\\.")} did not answer within 10 s; is DOCKER_HOST right\\?`));
      expect(c.elapsedMs).toBeLessThan(20_000);
    });

    it("invalid --tag → 2, names it, before anything is written or built", () => {
      const c = run(["build", family("debian"), "--tag", "Bad/Tag:x", "-q"], { image: family("debian") });
      expectFailure(c, 2, /--tag "Bad\/Tag:x": not a valid image reference/);
    });

    it("--tag under mcp/ → 2, says why (gateways refuse unsigned local mcp/ images)", () => {
      const c = run(["build", family("debian"), "--tag", "mcp/kubernetes:local", "-q"], { image: family("debian"), tag: "mcp/kubernetes:local" });
      expectFailure(c, 2, /--tag mcp\/kubernetes:local: gateways refuse local images under mcp\//);
    });

    it("generate/build --mount (gone: the shim prepares only what is mounted) → 2, says to drop it, builds nothing", () => {
      for (const verb of ["build", "generate"]) {
        const c = run([verb, family("debian"), "--mount", "/root/.extra", "-q"], { image: family("debian") });
        expectFailure(c, 2, /--mount \/root\/\.extra: no longer an option of generate and build: .*; drop --mount/);
      }
    });

    it("unwritable --out (a file where a directory should be) → 2, names it, builds nothing", () => {
      const parent = scratch("out");
      writeFileSync(join(parent, "file"), "");
      const out = join(parent, "file", "ctx");
      const tag = `mcp-rewrap-test/clierr-${RUN_ID}:out`;
      const c = run(["build", family("debian"), "--out", out, "--tag", tag, "-q"], { image: family("debian"), tag });
      expectFailure(c, 2, new RegExp(`--out ${out.replace(/\./g, "\\.")}: cannot create the directory \\(ENOTDIR\\)`));
      expect(readdirSync(parent)).toEqual(["file"]);
    });

    it("--out naming a file, and images on a file → 2, says to give a directory, writes nothing (it was a raw ENOTDIR, exit 3)", () => {
      const parent = scratch("outfile");
      const file = join(parent, "file");
      writeFileSync(file, "kept");
      const tag = `mcp-rewrap-test/clierr-${RUN_ID}:outfile`;
      for (const verb of ["generate", "build"]) {
        const c = run([verb, family("debian"), "--out", file, "--tag", tag, "-q"], { image: family("debian"), tag });
        expectFailure(c, 2, new RegExp(`--out ${file.replace(/\./g, "\\.")}: not a directory; give a directory`));
      }
      expectFailure(run(["images", file]), 2, new RegExp(`${file.replace(/\./g, "\\.")}: not a directory; give the directory that holds`));
      expect(readdirSync(parent)).toEqual(["file"]);
      expect(readFileSync(file, "utf8")).toBe("kept");
    });

    it("an empty option value (--out '', --tag '', --facts '') → 2, never taken as the default (--out '' wrote into the working directory)", () => {
      for (const [opt, verb] of [["--out", "generate"], ["--tag", "build"], ["--facts", "inspect"]] as const) {
        const c = run([verb, family("debian"), opt, "", "-q"].filter((a) => verb !== "inspect" || a !== "-q"), { image: family("debian") });
        expectFailure(c, 2, new RegExp(`^mcp-rewrap: ${opt}: empty; give a value, or leave the option out for its default$`));
      }
    });

    it("--tag naming the image being rewrapped → 2, before anything is built: the original keeps its name (building onto it deleted the original)", async () => {
      const self = `mcp-rewrap-test/clierr-${RUN_ID}:self`;
      // Its only name (a second name would keep the original alive on the old code).
      buildFromStdin(self, `FROM ${family("debian")}\nLABEL clierr.self=${RUN_ID}\n`);
      try {
        const id = imageId(self);
        const c = run(["build", self, "--tag", self, "-q"], { image: self });
        expectFailure(c, 2, new RegExp(`--tag ${self} names the image being rewrapped \\(${id.slice(7, 19)}\\): the rewrap would take its name`));
        expect(imageId(self)).toBe(id);
      } finally {
        await removeImages(self);
      }
    });

    it("--tag held by an image that is not a rewrap: the build takes the tag and says that the image it named is kept, now without a name, with the command that removes it", async () => {
      const held = `mcp-rewrap-test/clierr-${RUN_ID}:held`;
      buildFromStdin(held, `FROM ${family("debian")}\nLABEL clierr.held=${RUN_ID}\n`);
      const old = imageId(held);
      const short = old.slice(7, 19);
      try {
        const c = run(["build", family("debian"), "--tag", held]);
        expect(c.result.code, c.result.stderr).toBe(0);
        expect(c.result.stderr).toContain(`\n${held} named ${short} before, not a rewrap; kept, now without a name (\`docker image rm ${short}\` removes it)\n`);
        expect(exists(old), "the image the tag named is kept").toBe(true);
        expect(imageId(held)).not.toBe(old);
      } finally {
        await removeImages(held, old);
      }
    });

    it("--tag held by an image built FROM the rewrap (it inherits every label): not taken as up to date, and kept when the build moves the tag (--rebuild removed it as a superseded rewrap)", async () => {
      const held = `mcp-rewrap-test/clierr-${RUN_ID}:derived`;
      const made: string[] = [];
      try {
        const first = run(["build", family("debian"), "--tag", held, "-q"]);
        expect(first.result.code, first.result.stderr).toBe(0);
        made.push(imageId(held));
        // Somebody's own image on top of it, under the same name: a step of its own, no label changed.
        buildFromStdin(held, `FROM ${held}\nRUN echo ${RUN_ID} > /mine\n`);
        const mine = imageId(held);
        const short = mine.slice(7, 19);
        for (const args of [[], ["--rebuild"]]) {
          if (imageId(held) !== mine) dockerSync(["tag", mine, held]);
          const c = run(["build", family("debian"), "--tag", held, ...args]);
          expect(c.result.code, c.result.stderr).toBe(0);
          expect(c.result.stderr, `${args}: not up to date`).not.toMatch(/is up to date/);
          made.push(imageId(held));
          expect(imageId(held), `${args}: the tag names a new rewrap`).not.toBe(mine);
          expect(exists(mine), `${args}: the image built on the rewrap is kept`).toBe(true);
          expect(c.result.stderr).toContain(`\n${held} named ${short} before, an image built on a rewrap, not one; kept, now without a name (\`docker image rm ${short}\` removes it)\n`);
        }
        made.push(mine);
      } finally {
        await removeImages(held, ...made.reverse());
      }
    });

    it("build --push that fails (registry refuses the connection) → 3, the tag back on the image it named before, that image kept, the new build removed (it deleted an earlier rewrap)", async () => {
      const tag = `127.0.0.1:${closedPort}/clierr-${RUN_ID}/held:1`;
      const other = `mcp-rewrap-test/clierr-${RUN_ID}:other`;
      try {
        // An earlier rewrap (other options) holds the tag; then an image that is not a rewrap.
        const first = run(["build", family("debian"), "--tag", tag, "--env", "CLIERR_OLD", "-q"]);
        expect(first.result.code, first.result.stderr).toBe(0);
        buildFromStdin(other, `FROM ${family("debian")}\nLABEL clierr.other=${RUN_ID}\n`);
        const firstId = imageId(tag);
        for (const setup of ["rewrap", "other"] as const) {
          if (setup === "other") {
            dockerSync(["tag", other, tag]);
            await removeImages(firstId);
          }
          const before = imageId(tag);
          const c = run(["build", family("debian"), "--tag", tag, "--push", "-q"]);
          expect(c.result.code, c.result.stderr).toBe(3);
          expect(c.result.stderr).toMatch(/connection refused|ECONNREFUSED/i);
          expect(exists(before), `${setup}: the image the tag named is kept`).toBe(true);
          expect(imageId(tag), `${setup}: the tag names it again`).toBe(before);
          const left = dockerSync(["images", "-q", "--no-trunc", "--filter", "dangling=true", "--filter", `label=org.opencontainers.image.base.name=${family("debian")}`]);
          expect(left, `${setup}: the build made for the push is removed`).toBe("");
        }
      } finally {
        await removeImages(tag, other);
      }
    });

    it("build --push to the source's own registry tag → 2, before the registry is asked (the rewrap would replace the original there)", () => {
      const c = run(["build", `127.0.0.1:${closedPort}/k/x:1`, "--push", "--tag", `127.0.0.1:${closedPort}/k/x:1`, "-q"]);
      expectFailure(c, 2, new RegExp(`--tag 127\\.0\\.0\\.1:${closedPort}/k/x:1 is the image being rewrapped: the rewrap would take its tag`));
    });

    it("a --tag under mcp/ on Docker Hub by another of its names → 2 (index.docker.io/mcp/ was let through)", () => {
      const c = run(["build", family("debian"), "--tag", "index.docker.io/mcp/kubernetes:local", "-q"], { image: family("debian"), tag: "mcp/kubernetes:local" });
      expectFailure(c, 2, /--tag index\.docker\.io\/mcp\/kubernetes:local: gateways refuse local images under mcp\//);
    });

    it("unwritable --out under /proc → 2 at once (Node's recursive mkdir would spin forever there)", () => {
      const c = run(["generate", family("debian"), "--out", `/proc/mcp-rewrap-${RUN_ID}/ctx`, "-q"], { image: family("debian") });
      expectFailure(c, 2, new RegExp(`--out /proc/mcp-rewrap-${RUN_ID}/ctx: cannot create the directory \\(ENOENT\\)`));
      expect(c.elapsedMs).toBeLessThan(20_000);
    });

    it("unknown option → 2, names it (the engine is not contacted)", () => {
      const c = run(["build", "--bogus", family("debian")], { env: { DOCKER_HOST: `tcp://127.0.0.1:${closedPort}` } });
      expect(c.result.code).toBe(2);
      expect(c.result.stderr).toBe("mcp-rewrap: unknown option '--bogus'; see mcp-rewrap build --help\n");
      expect(c.result.stdout).toBe("");
      expect(c.leftInCwd).toEqual([]);
    });

    it("stdout or stderr closed by its reader (| head) → 141, temporary context removed, no stack trace (it was exit 1, the context left in TMPDIR)", async () => {
      // Every step of this build comes from the cache of the first one: a stopped build commits nothing.
      const kept = `mcp-rewrap-test/clierr-${RUN_ID}:pipe-kept`;
      const tag = `mcp-rewrap-test/clierr-${RUN_ID}:pipe`;
      expect(cli(["build", family("debian"), "--tag", kept, "-q"]).code).toBe(0);
      try {
        for (const closed of ["stderr", "stdout"] as const) {
          const tmp = scratch("pipe-tmp");
          const child = spawn(process.execPath, [CLI, "build", family("debian"), "--tag", tag, "--rebuild", ...(closed === "stdout" ? ["-q"] : [])], {
            env: { ...process.env, TMPDIR: tmp },
            stdio: ["ignore", "pipe", "pipe"],
          });
          let other = "";
          const gone = closed === "stderr" ? child.stderr! : child.stdout!;
          // stderr: closed at the first progress line ("building …"), before the build's own lines;
          // stdout: closed at once, so the result line cannot be written.
          if (closed === "stderr") gone.once("data", () => gone.destroy());
          else gone.destroy();
          (closed === "stderr" ? child.stdout! : child.stderr!).on("data", (c: Buffer) => (other += c.toString()));
          const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
          expect(code, `${closed} closed: ${other}`).toBe(141);
          expect(other, `${closed} closed`).not.toMatch(/EPIPE|node:events|at /);
          expect(readdirSync(tmp), `${closed} closed: the temporary context`).toEqual([]);
          await removeImages(tag);
        }
      } finally {
        await removeImages(tag, kept);
      }
    });

    it("a repeated --tag → 2, refused in one line (not silently the last)", () => {
      expectFailure(run(["build", family("debian"), "-t", "a/x:1", "--tag", "b/x:2", "-q"]), 2, /^mcp-rewrap: --tag given 2 times \(a\/x:1, b\/x:2\): one rewrap gets one tag; give --tag once/);
    });

    it("images on a directory without contexts → 2, says what to give (with or without --check)", () => {
      const empty = scratch("empty");
      for (const extra of [["--check"], []]) {
        expectFailure(run(["images", empty, ...extra]), 2, /no build contexts there \(no .*\/<server>\/facts\.json\); give the directory that holds them/);
      }
    });

    it("missing argument → 2, names it", () => {
      const c = run(["inspect"]);
      expect(c.result.code).toBe(2);
      expect(c.result.stderr).toBe("mcp-rewrap: missing required argument 'image'; see mcp-rewrap inspect --help\n");
      const b = run(["build"]);
      expect(b.result.code).toBe(2);
      expect(b.result.stderr).toMatch(/^mcp-rewrap: build: give an image/);
    });

    it("malformed catalog YAML → 2, names the file (scan and catalog --from)", () => {
      const file = join(scratch("yaml"), "catalog.yaml");
      writeFileSync(file, "registry:\n  kubernetes: [unclosed\n");
      const esc = file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      expectFailure(run(["scan", file, "-q"]), 2, new RegExp(`${esc}: not valid YAML`));
      expectFailure(run(["catalog", "mcp-rewrap/kubernetes:latest", "--server", "kubernetes", "--from", file, "-q"]), 2, new RegExp(`${esc}: not valid YAML`));
    });

    it("verify's bad --mount, --state and --timeout → 2 before anything runs (a relative HOST left a named volume, a missing one a root-owned directory; 1e9 s became 1 ms)", () => {
      const missing = join(scratch("mnt"), "nonexistent");
      const volumes = () => dockerSync(["volume", "ls", "-q"]).split("\n").filter(Boolean).sort();
      const before = volumes();
      expectFailure(run(["verify", family("debian"), "--mount", "relative:/root/.kube/config", "-q"]), 2, /HOST must be an absolute path \(docker reads "relative" as a volume name\)/);
      expectFailure(run(["verify", family("debian"), "--mount", `${missing}:/root/.kube/config`, "-q"]), 2, new RegExp(`${missing} does not exist \\(the engine would make it`));
      expect(existsSync(missing)).toBe(false);
      expectFailure(run(["verify", family("debian"), "--state", "/tmp/x:/root/.local/state", "-q"]), 2, /^mcp-rewrap: --state "\/tmp\/x:\/root\/\.local\/state": give an absolute TARGET/);
      for (const t of ["1e9", "0.001", "0"]) expectFailure(run(["verify", family("debian"), "--timeout", t, "-q"]), 2, new RegExp(`--timeout ${t.replace(".", "\\.")}: give a number of seconds from 1 to 2147483`));
      expect(volumes()).toEqual(before);
    });

    it("--tag sha256:… → 2 before anything is built (the engine refused it at the end, exit 3)", () => {
      expectFailure(run(["build", family("debian"), "--tag", "sha256:abc", "-q"], { image: family("debian") }), 2, /--tag sha256:abc: a repository named sha256 reads as an image ID/);
    });

    it("a short image ID (12 hex digits, as docker images prints it) is the image: FROM names its full ID (it planned FROM <hex>:latest)", () => {
      const id = imageId(family("debian"));
      const out = join(scratch("shortid"), "ctx");
      const c = run(["generate", id.slice(7, 19), "--out", out, "-q"]);
      expect(c.result.code, c.result.stderr).toBe(0);
      // Pinned by the ID, or (the containerd store: local builds have a repository digest) by that digest, which is the ID there.
      expect(readFileSync(join(out, "Dockerfile"), "utf8")).toMatch(new RegExp(`\nFROM (\\S+@)?${id}\n`));
    });

    it("catalog --server that is not a plain name → 2, nothing written (../../escape wrote two directories up, --install outside catalogs/)", () => {
      const dir = scratch("escape");
      const file = join(dir, "w.yaml");
      writeFileSync(file, 'registry:\n  "../../escape":\n    type: server\n    image: x/y\n');
      const home = scratch("home");
      const c = run(["catalog", "mcp-rewrap/kubernetes:latest", "--server", "../../escape", "--from", file, "--install", "-q"], { env: { HOME: home } });
      expectFailure(c, 2, /^mcp-rewrap: --server "\.\.\/\.\.\/escape": not a server name mcp-rewrap writes a file for/);
      expect(readdirSync(home)).toEqual([]);
      expect(readdirSync(dir)).toEqual(["w.yaml"]);
    });

    it("catalog --json: the entry it prints is the one the file holds (it listed the keys the file leaves out, dateAdded and friends)", async () => {
      const dir = scratch("json");
      const from = join(dir, "real.yaml");
      // The published catalog's shape (keys the gateway does not read), for an image built here.
      const tag = `mcp-rewrap-test/clierr-${RUN_ID}:json`;
      writeFileSync(
        from,
        `registry:\n  fam:\n    type: server\n    image: ${family("debian")}\n    dateAdded: "2025-01-01"\n    toolsUrl: https://example.invalid/tools.json\n    source: {project: x, commit: y}\n    volumes: ["{{fam.path}}:/root/.kube/config"]\n    config:\n      - name: fam\n        properties:\n          path: {type: string}\n`,
      );
      const b = run(["build", family("debian"), "--tag", tag, "-q"]);
      expect(b.result.code, b.result.stderr).toBe(0);
      const out = join(dir, "k.server.yaml");
      const c = run(["catalog", tag, "--server", "fam", "--from", from, "-o", out, "--json", "-q"]);
      await removeImages(tag);
      expect(c.result.code, c.result.stderr).toBe(0);
      const j = JSON.parse(c.result.stdout);
      expect(j.dropped.length, "the real entry has keys the gateway does not read").toBeGreaterThan(0);
      expect(j.entry).toEqual(YAML.parse(readFileSync(out, "utf8")));
      for (const k of j.dropped.filter((d: string) => !d.includes("."))) expect(j.entry).not.toHaveProperty(k);
    });

    it("catalog --out naming the --from catalog → 2, the catalog untouched (it was replaced by the one entry)", () => {
      const dir = scratch("same");
      const file = join(dir, "mine.yaml");
      const text = readFileSync(join(ROOT, "test/fixtures/real/docker-mcp.yaml"), "utf8");
      writeFileSync(file, text);
      const c = run(["catalog", "mcp-rewrap/kubernetes:latest", "--server", "kubernetes", "--from", file, "--format", "legacy", "-o", file, "-q"]);
      expectFailure(c, 2, /--out .*mine\.yaml is the catalog --from reads: writing the one entry there would replace the whole catalog; give another --out$/);
      expect(readFileSync(file, "utf8")).toBe(text);
    });
  });

  describe("image for another platform (linux/arm64 on this linux/amd64 engine)", () => {
    it("inspect reports the platform → 0", () => {
      const c = run(["inspect", family("arm64"), "--json", "-q"], { image: family("arm64") });
      expect(c.result.code, c.result.stderr).toBe(0);
      expect(JSON.parse(c.result.stdout).platform).toBe("linux/arm64");
    });

    it("generate writes the context (it is platform-independent) → 0", () => {
      const out = join(scratch("gen"), "ctx");
      const c = run(["generate", family("arm64"), "--out", out, "--json", "-q"], { image: family("arm64") });
      expect(c.result.code, c.result.stderr).toBe(0);
      expect(JSON.parse(c.result.stdout).plan.source.platform).toBe("linux/arm64");
      expect(existsSync(join(out, "entrypoint.sh"))).toBe(true);
    });

    it("build refuses: names both platforms and the ways out → 1, writes and builds nothing", () => {
      const out = join(scratch("arm"), "ctx");
      const tag = `mcp-rewrap-test/clierr-${RUN_ID}:arm64`;
      const c = run(["build", family("arm64"), "--out", out, "--tag", tag, "-q"], { image: family("arm64"), tag });
      expectFailure(c, 1, /mcp-rewrap-test\/family-arm64:latest is a linux\/arm64 image and the engine at .* runs linux\/amd64: the rewrapped image could not run here\. Build it on a linux\/arm64 engine .*--push --platform linux\/arm64/);
      expect(existsSync(out)).toBe(false);
    });
  });

  describe("an image that already runs as root", () => {
    it("inspect: no rewrap needed → 0", () => {
      const c = run(["inspect", family("root"), "--json", "-q"], { image: family("root") });
      expect(c.result.code, c.result.stderr).toBe(0);
      const d = JSON.parse(c.result.stdout);
      expect(d.needsRewrap).toBe(false);
      expect(d.summary).toMatch(/^no rewrap needed: the image runs as root/);
    });

    it("build refuses with the reason → 1, nothing left behind", () => {
      const out = join(scratch("root"), "ctx");
      const tag = `mcp-rewrap-test/clierr-${RUN_ID}:root`;
      const c = run(["build", family("root"), "--out", out, "--tag", tag, "-q"], { image: family("root"), tag });
      expectFailure(c, 1, /family-root:latest already runs as root \(USER ""\): it can read the gateway's mounts under \/root, so no rewrap is needed \(--force to rewrap anyway\)/);
      expect(existsSync(out)).toBe(false);
    });

    it("build --force rewraps it; the server still runs as root and reads the mount in place", async () => {
      const out = join(scratch("force"), "ctx");
      const tag = `mcp-rewrap-test/clierr-${RUN_ID}:force`;
      try {
        const r = cli(["build", family("root"), "--force", "--out", out, "--tag", tag, "--json", "-q"]);
        expect(r.code, r.stderr).toBe(0);
        const host = scratch("kube");
        chmodSync(host, 0o755);
        writeFileSync(join(host, "config"), "apiVersion: v1\n");
        chownSync(join(host, "config"), 1000, 1000);
        chmodSync(join(host, "config"), 0o600);
        const args = gatewayRunArgs({ name: "root", image: tag, network: "none", volumes: [`${join(host, "config")}:/root/.kube/config:ro`] });
        const o = await docker(args, { timeoutMs: 60_000 });
        expect(o.code, o.stderr).toBe(0);
        expect(o.stderr).not.toMatch(/mcp-rewrap:/);
        expect(o.stderr).toMatch(/fixture-server: identity \{"uid":"0 0 0 0"/);
        expect(o.stderr).toMatch(/fixture-server: config \{"path":"\/root\/\.kube\/config","md5":/);
      } finally {
        await removeImages(tag);
      }
    });
  });

  describe("an image with ONBUILD triggers (a build FROM it runs them)", () => {
    const image = `mcp-rewrap-test/clierr-${RUN_ID}:onbuild`;
    beforeAll(() => {
      buildFromStdin(image, `FROM ${family("debian")}\nONBUILD RUN touch /triggered\nONBUILD COPY . /ctx\n`);
    }, 180_000);
    afterAll(async () => {
      await removeImages(image);
    });

    it("inspect: lists the triggers and says to rewrap it in its registry → 0", () => {
      const c = run(["inspect", image, "--json", "-q"], { image });
      expect(c.result.code, c.result.stderr).toBe(0);
      const d = JSON.parse(c.result.stdout);
      expect(d.onBuild).toEqual(["RUN touch /triggered", "COPY . /ctx"]);
      expect(d.cannotRewrap).toBeNull();
      expect(d.summary).toMatch(/ONBUILD triggers, which a build FROM it would run, so rewrap it in its registry: `mcp-rewrap build .* --push --tag REGISTRY\/NAME:TAG`/);
      const text = run(["inspect", image, "-q"], { image });
      expect(text.result.stdout).toMatch(/^onbuild {5}"RUN touch \/triggered", "COPY \. \/ctx" \(a build FROM the image runs them\)$/m);
    });

    for (const cmd of ["build", "generate"]) {
      it(`${cmd} refuses: the rewrap would not be the image plus one layer → 1, nothing left behind`, () => {
        const out = join(scratch("onbuild"), "ctx");
        const tag = `mcp-rewrap-test/clierr-${RUN_ID}:onbuild-${cmd}`;
        const c = run([cmd, image, "--out", out, "--tag", tag, "-q"], { image, tag });
        expectFailure(c, 1, /:onbuild has ONBUILD triggers \("RUN touch \/triggered", "COPY \. \/ctx"\): a build FROM it runs them, so the rewrap would not be the image plus one layer\. Rewrap it in a registry instead \(push it there first if it is only local\), which adds the layer without a build: mcp-rewrap build .* --push --tag REGISTRY\/NAME:TAG$/);
        expect(existsSync(out)).toBe(false);
      });
    }
  });

  describe("a shell-less (distroless) image", () => {
    it("inspect: needs a rewrap, and says why one cannot be made (no /bin/sh) → 0", () => {
      const c = run(["inspect", family("distroless"), "--json", "-q"], { image: family("distroless") });
      expect(c.result.code, c.result.stderr).toBe(0);
      const d = JSON.parse(c.result.stdout);
      expect(d.needsRewrap).toBe(true);
      expect(d.shell).toBe(false);
      expect(d.cannotRewrap).toMatch(/has no \/bin\/sh/);
    });

    it("build refuses, naming the missing /bin/sh and what to do instead → 1, nothing left behind", () => {
      const out = join(scratch("distroless"), "ctx");
      const tag = `mcp-rewrap-test/clierr-${RUN_ID}:distroless`;
      const c = run(["build", family("distroless"), "--out", out, "--tag", tag, "-q"], { image: family("distroless"), tag });
      expectFailure(c, 1, /family-distroless:latest has no \/bin\/sh \(a distroless or scratch image\): the shim is a POSIX sh script .* Mount the config where uid 65532 can reach and read it instead \(e\.g\. under \/home\/nonroot/);
      expect(existsSync(out)).toBe(false);
    });
  });
});

/**
 * What differs between the engines people run (issue 13), against the engine under test (the
 * system one, or Docker 28 with the containerd image store: make test runs both):
 *  - a Docker context selected by DOCKER_CONTEXT makes every command use its engine (inspect and
 *    build through the Engine API, verify through the docker CLI); an unreachable context is
 *    exit 3 with one line, a missing one exit 2;
 *  - an image also pushed to a second repository pins its own repository, never the other one;
 *    a local image is FROM its name (both builders resolve it) and labelled local;
 *  - the rebuild cleanup never deletes an image that another tag or a container still uses.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPLICA, cli, cliAsync, ensureBed } from "../support/bed.js";
import { docker, dockerSync, removeImages } from "../support/docker.js";
import { type TestRegistry, startRegistry } from "../support/registry.js";

const RUN = randomBytes(4).toString("hex");
const work = mkdtempSync(join(tmpdir(), "mcp-rewrap-engines-"));
/** The engine under test, as the docker CLI is pointed at it. */
const ENGINE = process.env.DOCKER_HOST || "unix:///var/run/docker.sock";
const tags: string[] = [];
const containers: string[] = [];
/** Untagged images a test kept on purpose: removed after the containers that use them. */
const images: string[] = [];

/** A Docker config dir with contexts as `docker context create` writes them. */
function contextConfig(contexts: Record<string, string>): string {
  const dir = mkdtempSync(join(work, "docker-config-"));
  for (const [name, host] of Object.entries(contexts)) {
    const id = createHash("sha256").update(name).digest("hex");
    mkdirSync(join(dir, "contexts", "meta", id), { recursive: true });
    writeFileSync(join(dir, "contexts", "meta", id, "meta.json"), JSON.stringify({ Name: name, Metadata: {}, Endpoints: { docker: { Host: host, SkipTLSVerify: false } } }));
  }
  return dir;
}

/** The CLI with DOCKER_HOST removed, so only the context can name the engine. */
function viaContext(args: string[], context: string, config: string) {
  const env: Record<string, string> = { DOCKER_CONTEXT: context, DOCKER_CONFIG: config };
  const saved = process.env.DOCKER_HOST;
  delete process.env.DOCKER_HOST;
  try {
    return cli(args, { env });
  } finally {
    if (saved !== undefined) process.env.DOCKER_HOST = saved;
  }
}

const imageId = (ref: string) => dockerSync(["image", "inspect", "-f", "{{.Id}}", ref]);
const fromLine = (dockerfile: string) => dockerfile.split("\n").find((l) => l.startsWith("FROM "))!;

beforeAll(() => {
  ensureBed();
});

afterAll(async () => {
  for (const c of containers) await docker(["rm", "-f", c]);
  await removeImages(...tags, ...images);
  rmSync(work, { recursive: true, force: true });
});

describe("Docker contexts", () => {
  it("DOCKER_CONTEXT selects the engine for every command: inspect, build (Engine API) and verify (docker CLI)", () => {
    const config = contextConfig({ "under-test": ENGINE });
    const tag = `mcp-rewrap-test/context-e2e:${RUN}`;
    tags.push(tag);
    const i = viaContext(["inspect", REPLICA, "--json"], "under-test", config);
    expect(i.code, i.stderr).toBe(0);
    expect(JSON.parse(i.stdout).user).toBeDefined();
    const b = viaContext(["build", REPLICA, "--tag", tag, "--out", join(work, "ctx-context"), "-q"], "under-test", config);
    expect(b.code, b.stderr).toBe(0);
    // The tag exists on the engine the context names (when that is engine 2, the default
    // engine of this machine has no such tag: the context really chose).
    expect(imageId(tag)).toMatch(/^sha256:/);
    const v = viaContext(["verify", tag, "--json"], "under-test", config);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    expect(JSON.parse(v.stdout)).toMatchObject([{ command: "verify", ok: true, rewrapped: true }]);
  });

  it("currentContext in the config file works as DOCKER_CONTEXT does", () => {
    const config = contextConfig({ "under-test": ENGINE });
    writeFileSync(join(config, "config.json"), JSON.stringify({ currentContext: "under-test" }));
    const saved = process.env.DOCKER_HOST;
    delete process.env.DOCKER_HOST;
    try {
      const i = cli(["inspect", REPLICA, "-q"], { env: { DOCKER_CONFIG: config } });
      expect(i.code, i.stderr).toBe(0);
    } finally {
      if (saved !== undefined) process.env.DOCKER_HOST = saved;
    }
  });

  it("an unreachable context is exit 3 with one line naming the context", () => {
    const config = contextConfig({ down: `unix:///nonexistent-${RUN}/docker.sock` });
    for (const args of [["inspect", REPLICA], ["build", REPLICA, "--out", join(work, "never")], ["verify", REPLICA]]) {
      const r = viaContext(args, "down", config);
      expect(r.code, r.stderr).toBe(3);
      const lines = r.stderr.split("\n").filter(Boolean);
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^mcp-rewrap: .*cannot reach the Docker engine at unix:///nonexistent-${RUN}/docker\\.sock \\(context down\\) \\(ENOENT\\); is dockerd running and the context right \\(docker context inspect down\\)\\?$`));
    }
  });

  it("a context that does not exist is exit 2 with one line", () => {
    const r = viaContext(["inspect", REPLICA], "missing", contextConfig({}));
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^mcp-rewrap: Docker context "missing" \(DOCKER_CONTEXT\): no such context .*docker context ls/);
  });
});

describe("pins name the image's own repository", () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry();
  });
  afterAll(async () => {
    await reg?.stop();
  });

  it("an image also pushed to a second repository pins its own repository (or is local), never the other one", async () => {
    const source = "mcp-rewrap-test/busybox:latest";
    const second = `${reg.host}/second/busybox:pin-${RUN}`;
    tags.push(second);
    expect((await docker(["tag", source, second])).code).toBe(0);
    const pushed = await docker(["push", second]);
    expect(pushed.code, pushed.stderr).toBe(0);
    const repoDigests = JSON.parse(dockerSync(["image", "inspect", "-f", "{{json .RepoDigests}}", source])) as string[];
    const secondDigest = repoDigests.find((d) => d.startsWith(`${reg.host}/second/busybox@`));
    expect(secondDigest, JSON.stringify(repoDigests)).toBeDefined();

    // The local repository: never the second repository's digest.
    const out = join(work, "pin-local");
    const tag = `mcp-rewrap-test/pin-e2e:${RUN}`;
    tags.push(tag);
    const b = cli(["build", source, "--force", "--tag", tag, "--out", out, "-q"]);
    expect(b.code, b.stderr).toBe(0);
    const dockerfile = readFileSync(join(out, "Dockerfile"), "utf8");
    expect(dockerfile).not.toContain(reg.host);
    const own = repoDigests.find((d) => d.startsWith("mcp-rewrap-test/busybox@"));
    const labels = JSON.parse(dockerSync(["image", "inspect", "-f", "{{json .Config.Labels}}", tag])) as Record<string, string>;
    if (own) {
      // The containerd image store gives every local image a digest in its own repository.
      expect(fromLine(dockerfile)).toBe(`FROM ${own}`);
      expect(labels["io.mcp-rewrap.base.local"]).toBeUndefined();
    } else {
      // The legacy store: a local image, FROM its name (the legacy builder and BuildKit both resolve it).
      expect(fromLine(dockerfile)).toBe(`FROM ${source}`);
      expect(labels["io.mcp-rewrap.base.local"]).toBe("true");
      expect(labels["org.opencontainers.image.base.digest"]).toBe(imageId(source));
    }

    // Named by the second repository: pinned to that repository's digest.
    const g = cli(["generate", second, "--force", "--out", join(work, "pin-second"), "-q"]);
    expect(g.code, g.stderr).toBe(0);
    expect(fromLine(readFileSync(join(work, "pin-second", "Dockerfile"), "utf8"))).toBe(`FROM ${secondDigest}`);
  });
});

describe("rebuild cleanup", () => {
  it("keeps an old rewrap that another tag still names, and one a container still uses", async () => {
    const a = `mcp-rewrap-test/cleanup-e2e:a-${RUN}`;
    const b = `mcp-rewrap-test/cleanup-e2e:b-${RUN}`;
    tags.push(a, b);
    const build = async (...extra: string[]) => {
      const r = await cliAsync(["build", REPLICA, "--tag", a, "--out", join(work, `cleanup-${extra.join("-") || "plain"}`), ...extra]);
      expect(r.code, r.stderr).toBe(0);
      return r;
    };

    await build();
    const first = imageId(a);
    expect((await docker(["tag", a, b])).code).toBe(0);
    const second = await build("--env", "CLEANUP_ONE");
    expect(imageId(a)).not.toBe(first);
    expect(imageId(b), "the image another tag names must survive the rebuild").toBe(first);
    expect(second.stderr).toMatch(/kept sha256:[0-9a-f]{12}, the rewrap .* held before: .*cleanup-e2e:b-/);

    const held = imageId(a);
    images.push(held);
    const container = `mcp-rewrap-cleanup-${RUN}`;
    containers.push(container);
    expect((await docker(["create", "--name", container, a])).code).toBe(0);
    const third = await build("--env", "CLEANUP_TWO");
    expect(imageId(a)).not.toBe(held);
    expect((await docker(["image", "inspect", held])).code, "the image a container uses must survive the rebuild").toBe(0);
    expect(third.stderr).toMatch(new RegExp(`kept sha256:[0-9a-f]{12}, the rewrap .* held before: container ${container} uses it`));

    // With nothing left using it, the next rebuild removes the one it replaces.
    const before = imageId(a);
    const fourth = await build("--env", "CLEANUP_THREE");
    expect(fourth.stderr).toMatch(/removed sha256:[0-9a-f]{12}, the rewrap .* held before/);
    expect((await docker(["image", "inspect", before])).code).not.toBe(0);
  });
});

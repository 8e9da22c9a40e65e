/**
 * Another build to the same tag (or a `docker tag`) moves the tag right after the engine set it
 * for this build: `build` must not report the other image as its own, nor leave its own image
 * behind untagged. The move is made at the one moment it matters, from the build's own progress
 * line "Successfully tagged" (the engine has tagged, the build has not yet read the tag back),
 * against the real engine.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildRoute } from "../../src/commands/routes.js";
import { SHIM_PATH, shortId as short } from "../../src/core/plan.js";
import { cli, ensureBed } from "../support/bed.js";
import { buildFromStdin as dockerBuild, buildWithFiles, dockerSync, imageExists as exists, imageId as idOf, removeImages, uniqueName } from "../support/docker.js";

const NAME = uniqueName("mcp-rewrap-test/tagrace");
/** The source: a local image with a user of its own. */
const SRC = `${NAME}:src`;
/** The tag both "builds" want. */
const OUT = `${NAME}-rewrapped:v1`;
/** The other builds' images, under names of their own so that moving OUT never leaves one dangling. */
const OTHER = `${NAME}:other`;
const SAME = `${NAME}:same`;
const tmp: string[] = [];


/** The freshness key `generate` writes for SRC (the label a build of it carries). */
function keyOfSource(): string {
  const dir = mkdtempSync(join(tmpdir(), "mcp-rewrap-tagrace-"));
  tmp.push(dir);
  expect(cli(["generate", SRC, "--tag", OUT, "--out", dir, "-q"]).code).toBe(0);
  const key = /io\.mcp-rewrap\.context="(sha256:[0-9a-f]{64})"/.exec(readFileSync(join(dir, "Dockerfile"), "utf8"))?.[1];
  expect(key).toBeTruthy();
  return key!;
}

/**
 * buildRoute for SRC into OUT; when the engine says it tagged OUT, OUT is moved to `other`.
 * Returns the outcome, the progress lines and the images the build made (its " ---> ID" steps
 * that were not there before it).
 */
async function buildWhileMoved(other: string) {
  const before = new Set(dockerSync(["images", "-a", "-q", "--no-trunc"]).split("\n").map(short));
  const lines: string[] = [];
  const steps: string[] = [];
  const outcome = await buildRoute(SRC, {
    tag: OUT,
    progress: (line) => {
      lines.push(line);
      const step = /^ ---> ([0-9a-f]{12})$/.exec(line);
      if (step && !before.has(step[1]!)) steps.push(step[1]!);
      if (line === `Successfully tagged ${OUT}`) execFileSync("docker", ["tag", other, OUT], { timeout: 30_000 });
    },
  }).then(
    (r) => ({ ok: true as const, r }),
    (e: Error) => ({ ok: false as const, e }),
  );
  return { outcome, lines, steps };
}

beforeAll(() => {
  ensureBed();
  dockerBuild(SRC, "FROM mcp-rewrap-test/busybox:latest\nRUN echo app:x:1000:1000::/home/app:/bin/sh >> /etc/passwd && echo app:x:1000: >> /etc/group && mkdir -p /home/app\nUSER app\n");
}, 300_000);

afterAll(async () => {
  await removeImages(OUT, OTHER, SAME, SRC);
  for (const d of tmp) rmSync(d, { recursive: true, force: true });
});

describe("the tag moved by another build while this one ran", () => {
  it("to another image: one error naming it, this build's image and its steps removed, the tag left on the other image", async () => {
    dockerBuild(OTHER, "FROM mcp-rewrap-test/busybox:latest\nLABEL other=1\n");
    const other = idOf(OTHER);
    const { outcome, lines, steps } = await buildWhileMoved(OTHER);
    expect(lines).toContain(`Successfully tagged ${OUT}`);
    expect(steps.length).toBeGreaterThan(1);
    expect(outcome.ok).toBe(false);
    expect(outcome.ok ? "" : outcome.e.message).toContain(`${OUT} names another image (${short(other)}) while this build ran (another build to the same tag, or docker tag or rmi); this build's image (${steps.at(-1)}) was removed`);
    expect(idOf(OUT)).toBe(other);
    expect(steps.filter(exists)).toEqual([]);
  }, 300_000);

  it("to an image of the same rewrap (same freshness key): that image is the result, this build's copy and its steps removed", async () => {
    // Equal keys make equal images: an image that carries the key, built as a rewrap is (the
    // shim's COPY, then metadata only), stands for the same rewrap.
    buildWithFiles(SAME, `FROM mcp-rewrap-test/busybox:latest\nCOPY shim ${SHIM_PATH}\nLABEL io.mcp-rewrap.context="${keyOfSource()}"\n`, { shim: "#!/bin/sh\n" });
    const other = idOf(SAME);
    const { outcome, lines, steps } = await buildWhileMoved(SAME);
    expect(outcome.ok ? outcome.r : outcome.e.message).toMatchObject({ tag: OUT, id: other, upToDate: false });
    expect(lines).toContain(`${OUT} was tagged by another build of the same rewrap while this one ran: that image (${short(other)}) is kept; this build's image (${steps.at(-1)}) was removed`);
    expect(idOf(OUT)).toBe(other);
    expect(steps.length).toBeGreaterThan(1);
    expect(steps.filter(exists)).toEqual([]);
  }, 300_000);
});

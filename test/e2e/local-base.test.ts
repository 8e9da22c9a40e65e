/**
 * A local base image (no repository digest) is `FROM name:tag` in the rewrap's Dockerfile: the
 * build must still be on the image whose facts the plan was made from. Against the real engine:
 * the tag is moved to another image between `generate` and `build --facts` (caught before the
 * build), and while the build runs (caught after it by the layers: the built image is removed);
 * the ordinary build of a local image still works.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ImageFacts } from "../../src/core/facts.js";
import { planRewrap, shortId as short } from "../../src/core/plan.js";
import { checkLocalBase, docker as engine, removeTag, removeWithSteps } from "../../src/edge/engine.js";
import { cli, ensureBed } from "../support/bed.js";
import { buildFromStdin as dockerBuild, dockerSync, imageExists as exists, imageId as idOf, removeImages, uniqueName } from "../support/docker.js";

const NAME = uniqueName("mcp-rewrap-test/localbase");
/** The tag the plan names, moved between the two images below. */
const TAG = `${NAME}:v1`;
/** Each image also keeps a tag of its own, so moving TAG never leaves one dangling. */
const A = `${NAME}:a`;
const B = `${NAME}:b`;
/** A's layers with another config (an ENV line): another base that layers alone cannot tell. */
const A2 = `${NAME}:a2`;
const OUT = `${NAME}-rewrapped:v1`;
const tmp: string[] = [];
const OPTS = { version: "9.9.9-test", projectUrl: "https://example.test/mcp-rewrap" };

const layersOf = (ref: string): string[] => JSON.parse(dockerSync(["image", "inspect", "-f", "{{json .RootFS.Layers}}", ref])) as string[];
/** Images in the engine named after this run (tags), and untagged images whose base label names TAG. */
const leftovers = () => ({
  tags: dockerSync(["images", "--format", "{{.Repository}}:{{.Tag}}"]).split("\n").filter((t) => t.startsWith(NAME)).sort(),
  derived: dockerSync(["images", "-a", "-q", "--filter", `label=org.opencontainers.image.base.name=${TAG}`]).split("\n").filter(Boolean),
});

/** The plan for TAG from the facts `generate` records (what `build --facts` would use). */
function planFromTag() {
  const dir = scratch();
  expect(cli(["generate", TAG, "--out", dir, "-q"]).code).toBe(0);
  return planRewrap(JSON.parse(readFileSync(join(dir, "facts.json"), "utf8")) as ImageFacts, OPTS);
}

function scratch(): string {
  const d = mkdtempSync(join(tmpdir(), "mcp-rewrap-localbase-"));
  tmp.push(d);
  return d;
}

beforeAll(() => {
  ensureBed();
  dockerBuild(A, "FROM mcp-rewrap-test/busybox:latest\nRUN echo app:x:1000:1000::/home/app:/bin/sh >> /etc/passwd && echo app:x:1000: >> /etc/group && mkdir -p /home/app\nUSER app\n");
  dockerBuild(B, "FROM mcp-rewrap-test/busybox:latest\nRUN echo other:x:2000:2000::/home/other:/bin/sh >> /etc/passwd && echo other:x:2000: >> /etc/group && mkdir -p /home/other\nUSER other\n");
  dockerSync(["tag", A, TAG]);
}, 300_000);

afterAll(async () => {
  await removeImages(OUT, TAG, A2, A, B);
  for (const d of tmp) rmSync(d, { recursive: true, force: true });
});

/** The containerd image store gives every image, a local build too, a repository digest (Docker 28+ with it). */
const STORE_DIGESTS = /io\.containerd\.snapshotter/.test(dockerSync(["info", "--format", "{{json .DriverStatus}}"]));

describe.runIf(STORE_DIGESTS)("on the containerd image store a local build has a digest", () => {
  it("so the plan pins FROM by that digest, not by the tag: there is no tag to move under it", () => {
    expect(Number(dockerSync(["image", "inspect", "-f", "{{len .RepoDigests}}", A]))).toBeGreaterThan(0);
    const dir = scratch();
    const g = cli(["generate", TAG, "--out", dir, "-q"]);
    expect(g.code, g.stderr).toBe(0);
    const dockerfile = readFileSync(join(dir, "Dockerfile"), "utf8");
    expect(dockerfile).toMatch(new RegExp(`^FROM ${NAME.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}@sha256:[0-9a-f]{64}$`, "m"));
    expect(dockerfile).not.toContain("io.mcp-rewrap.base.local");
  }, 300_000);
});

describe("one image under two names", () => {
  it("is two rewraps: built from its other name, the tag is built again (not up to date), its label names the base as given, and the rewrap it replaced is gone", () => {
    const label = (ref: string) => dockerSync(["image", "inspect", "-f", '{{index .Config.Labels "org.opencontainers.image.base.name"}}', ref]);
    const status = (r: { stdout: string }) => (JSON.parse(r.stdout) as { results: { status: string }[] }).results[0]!.status;
    expect(idOf(TAG)).toBe(idOf(A));
    // Every image that carries the rewrap's labels, the build steps' too, for either name.
    const labelled = () => [A, TAG].flatMap((n) => dockerSync(["images", "-a", "-q", "--no-trunc", "--filter", `label=org.opencontainers.image.base.name=${n}`]).split("\n").filter(Boolean)).sort();
    const before = { ...leftovers(), labelled: labelled() };
    try {
      const first = cli(["build", A, "--tag", OUT, "--json"]);
      expect(first.code, first.stderr).toBe(0);
      expect(label(OUT)).toBe(A);
      const firstId = idOf(OUT);
      const second = cli(["build", TAG, "--tag", OUT, "--json"]);
      expect(second.code, second.stderr).toBe(0);
      expect(status(second)).toBe("built");
      expect(label(OUT)).toBe(TAG);
      expect(idOf(OUT)).not.toBe(firstId);
      expect(exists(firstId), "the rewrap the second build replaced is left untagged").toBe(false);
      // Its build's step images went with it (the containerd store's own pruning would have left the new ones' behind).
      expect(labelled().filter((i) => i !== idOf(OUT)).every((i) => dockerSync(["image", "inspect", "-f", '{{index .Config.Labels "org.opencontainers.image.base.name"}}', i]) === TAG)).toBe(true);
      // The same name again: up to date.
      const again = cli(["build", TAG, "--tag", OUT, "--json"]);
      expect(again.code, again.stderr).toBe(0);
      expect(status(again)).toBe("up-to-date");
    } finally {
      spawnSync("docker", ["rmi", OUT], { stdio: "ignore", timeout: 60_000 });
    }
    expect({ ...leftovers(), labelled: labelled() }).toEqual(before);
  }, 300_000);
});

/** Every image on the engine, build steps included. */
const allImages = () => dockerSync(["images", "-a", "-q", "--no-trunc"]).split("\n").filter(Boolean).sort();

/**
 * Two legacy-builder builds (the builder mcp-rewrap uses: an image per step, each the next one's
 * Parent) on the busybox base, tagged tags[0] then tags[1] (the same tag twice: the second
 * replaces the first): COPY, USER, LABEL, CMD, where the second takes COPY and USER from the
 * first's cache. The COPY copies a file of this run only, so no step is another image's. Returns
 * each build's step images, top first (the base not included).
 */
function twoSharingBuilds(tags: [string, string]): { a: string[]; b: string[] } {
  const dir = scratch();
  writeFileSync(join(dir, "f"), `${NAME} ${tags.join(" ")}\n`);
  const base = idOf("mcp-rewrap-test/busybox:latest");
  const build = (step: string, tag: string) => {
    writeFileSync(join(dir, step), `FROM mcp-rewrap-test/busybox:latest\nCOPY f /f\nUSER root\nLABEL step=${step}\nCMD ["${step}"]\n`);
    execFileSync("docker", ["build", "-q", "-f", join(dir, step), "-t", tag, dir], { env: { ...process.env, DOCKER_BUILDKIT: "0" }, encoding: "utf8", timeout: 120_000, stdio: ["ignore", "pipe", "pipe"] });
    const out: string[] = [];
    for (let at = idOf(tag); at && at !== base; at = dockerSync(["image", "inspect", "-f", "{{.Parent}}", at])) out.push(at);
    return out;
  };
  const a = build("a", tags[0]);
  const b = build("b", tags[1]);
  expect(a).toHaveLength(4);
  expect(b).toHaveLength(4);
  expect(a.filter((i) => b.includes(i)), "b took COPY and USER from a's cache").toEqual(a.slice(2));
  return { a, b };
}

describe("a replaced rewrap's build-step images", () => {
  it("removeWithSteps removes the image and the steps below it that nothing else is built on; the steps a later build shares stay, and that build's own rmi leaves nothing", async () => {
    const d = await engine();
    const tag = `${NAME}:steps`;
    const before = allImages();
    try {
      const { a, b } = twoSharingBuilds([tag, tag]);
      expect(await removeWithSteps(d, a[0]!)).toBe(true);
      const now = allImages();
      expect(a.filter((i) => now.includes(i)), "a's own steps are gone, the shared ones stay").toEqual(a.slice(2));
      expect(b.every((i) => now.includes(i)), "b is whole").toBe(true);
      // A tagged image is never removed.
      expect(await removeWithSteps(d, b[0]!)).toBe(false);
    } finally {
      spawnSync("docker", ["rmi", tag], { stdio: "ignore", timeout: 60_000 });
    }
    expect(allImages(), "b's rmi took its steps, the shared ones too").toEqual(before);
  }, 300_000);
});

describe("removing a tag this run made (a failed push, a base that moved)", () => {
  it("removeTag takes the image and the steps only it was built on; the steps another image shares stay, and its removeTag leaves nothing", async () => {
    const d = await engine();
    const [ta, ta2, tb] = [`${NAME}:tag-a`, `${NAME}:tag-a2`, `${NAME}:tag-b`];
    const before = allImages();
    try {
      const { a, b } = twoSharingBuilds([ta, tb]);
      // A second name keeps the image: only the tag goes.
      dockerSync(["tag", ta, ta2]);
      await removeTag(d, ta2);
      expect(allImages()).toContain(a[0]);
      await removeTag(d, ta);
      const now = allImages();
      expect(a.filter((i) => now.includes(i)), "a's own steps are gone, the shared ones stay").toEqual(a.slice(2));
      expect(b.every((i) => now.includes(i)), "b is whole").toBe(true);
      await removeTag(d, tb);
    } finally {
      for (const t of [ta, ta2, tb]) spawnSync("docker", ["rmi", t], { stdio: "ignore", timeout: 60_000 });
    }
    expect(allImages(), "nothing of either build is left").toEqual(before);
  }, 300_000);
});

// Where a local build has no digest (the classic store: Docker 20-27, and 28+ without containerd).
describe.skipIf(STORE_DIGESTS)("a local base named by its tag", () => {
  it("the two images differ (uid 1000 and 2000, and in their layers)", () => {
    expect(idOf(A)).not.toBe(idOf(B));
    expect(layersOf(B).slice(0, layersOf(A).length)).not.toEqual(layersOf(A));
    expect(dockerSync(["image", "inspect", "-f", "{{len .RepoDigests}}", A])).toBe("0");
  });

  it("build of a local image: FROM name:tag, labelled local, on the image's layers", async () => {
    const r = cli(["build", TAG, "--tag", OUT, "-q"]);
    expect(r.code, r.stderr).toBe(0);
    expect(dockerSync(["image", "inspect", "-f", '{{index .Config.Labels "io.mcp-rewrap.base.local"}}', OUT])).toBe("true");
    const base = layersOf(A);
    expect(layersOf(OUT).slice(0, base.length)).toEqual(base);
    await removeImages(OUT);
  }, 300_000);

  it("build --facts whose image the tag no longer names: one line, exit 3, nothing built, no tag left", async () => {
    const dir = scratch();
    const g = cli(["generate", TAG, "--out", dir, "-q"]);
    expect(g.code, g.stderr).toBe(0);
    const facts = JSON.parse(readFileSync(join(dir, "facts.json"), "utf8")) as ImageFacts;
    expect(facts.id).toBe(idOf(A));
    dockerSync(["tag", B, TAG]);
    try {
      const before = leftovers();
      const out = scratch();
      const r = cli(["build", TAG, "--facts", join(dir, "facts.json"), "--tag", OUT, "--out", join(out, "ctx")]);
      expect(r.code, r.stderr).toBe(3);
      expect(r.stdout).toBe("");
      const lines = r.stderr.split("\n").filter((l) => l.startsWith("mcp-rewrap: "));
      expect(lines).toEqual([
        `mcp-rewrap: ${TAG}: the tag now names another image (${short(idOf(B))}) than the one the plan was made from (${short(idOf(A))}); run the build again to plan from it`,
      ]);
      expect(r.stderr).not.toMatch(/^building /m);
      expect(exists(OUT)).toBe(false);
      expect(leftovers()).toEqual(before);
      expect(idOf(TAG)).toBe(idOf(B));
      expect(spawnSync("ls", [join(out, "ctx")]).status, "the --out directory the failed build made was left").not.toBe(0);
      // The facts of the image it names now build (they are another plan: uid 2000).
      const again = cli(["build", TAG, "--tag", OUT, "-q"]);
      expect(again.code, again.stderr).toBe(0);
      expect(dockerSync(["image", "inspect", "-f", '{{index .Config.Labels "io.mcp-rewrap.user"}}', OUT])).toBe("other:2000:2000");
      await removeImages(OUT);
    } finally {
      dockerSync(["tag", A, TAG]);
    }
  }, 300_000);

  it("the tag moved while the build ran: after the build, the built image is not on the planned layers; the tag just built is removed", async () => {
    const d = await engine();
    const plan = planFromTag();
    expect(plan.source).toMatchObject({ from: TAG, digest: null, id: idOf(A) });
    const before = leftovers();

    // On the planned image: passes, the tag stays.
    dockerBuild(OUT, `FROM ${TAG}\nLABEL t=1\nUSER root\nRUN touch /x\n`);
    await expect(checkLocalBase(d, plan, { tag: OUT, id: idOf(OUT) })).resolves.toBeUndefined();
    expect(exists(OUT)).toBe(true);
    await removeImages(OUT);

    // Built while the tag named B, and the tag is back on A by the time it is checked.
    dockerSync(["tag", B, TAG]);
    dockerBuild(OUT, `FROM ${TAG}\nUSER root\nRUN touch /x\n`);
    dockerSync(["tag", A, TAG]);
    await expect(checkLocalBase(d, plan, { tag: OUT, id: idOf(OUT) })).rejects.toThrow(
      `${TAG}: the tag named another image while it was built than the one the plan was made from (${short(idOf(A))}); run the build again to plan from it`,
    );
    expect(exists(OUT)).toBe(false);

    // Built on B, and the tag still names B.
    dockerSync(["tag", B, TAG]);
    try {
      dockerBuild(OUT, `FROM ${TAG}\nUSER root\nRUN touch /x\n`);
      await expect(checkLocalBase(d, plan, { tag: OUT, id: idOf(OUT) })).rejects.toThrow(`${TAG}: the tag now names another image (${short(idOf(B))})`);
      expect(exists(OUT)).toBe(false);
    } finally {
      dockerSync(["tag", A, TAG]);
    }
    expect(leftovers()).toEqual(before);

    // Digest-pinned and ID-pinned plans never ask the engine about a tag.
    await expect(checkLocalBase(d, { source: { ...plan.source, from: "nothing/here:x", pinnedById: true } })).resolves.toBeUndefined();
    await expect(checkLocalBase(d, { source: { ...plan.source, from: "nothing/here@sha256:" + "0".repeat(64), digest: "sha256:" + "0".repeat(64) } })).resolves.toBeUndefined();
  }, 300_000);

  it("the tag moved while the build ran to an image on the same layers with another config (an ENV line): caught by the inherited config", async () => {
    const d = await engine();
    const plan = planFromTag();
    dockerBuild(A2, `FROM ${A}\nENV MCP_REWRAP_OTHER=1\n`);
    expect(layersOf(A2)).toEqual(layersOf(A));
    const before = leftovers();
    dockerSync(["tag", A2, TAG]);
    try {
      dockerBuild(OUT, `FROM ${TAG}\nUSER root\nRUN touch /x\n`);
    } finally {
      dockerSync(["tag", A, TAG]);
    }
    await expect(checkLocalBase(d, plan, { tag: OUT, id: idOf(OUT) })).rejects.toThrow(
      `${TAG}: the tag named another image while it was built than the one the plan was made from (${short(idOf(A))}); run the build again to plan from it`,
    );
    expect(exists(OUT)).toBe(false);
    expect(leftovers()).toEqual(before);
  }, 300_000);

  it("a build caught on a moved tag puts the tag back on the image it named before (an earlier rewrap is not left untagged)", async () => {
    const d = await engine();
    const plan = planFromTag();
    const before = leftovers();
    // The earlier rewrap, on the planned image.
    dockerBuild(OUT, `FROM ${TAG}\nLABEL earlier=1\n`);
    const earlier = idOf(OUT);
    dockerSync(["tag", B, TAG]);
    try {
      dockerBuild(OUT, `FROM ${TAG}\nUSER root\nRUN touch /x\n`);
      const built = idOf(OUT);
      expect(built).not.toBe(earlier);
      await expect(checkLocalBase(d, plan, { tag: OUT, id: built, previous: earlier })).rejects.toThrow(`${TAG}: the tag now names another image (${short(idOf(B))})`);
      expect(idOf(OUT)).toBe(earlier);
      expect(exists(built)).toBe(false);
    } finally {
      dockerSync(["tag", A, TAG]);
    }
    await removeImages(OUT);
    expect(leftovers()).toEqual(before);
  }, 300_000);
});

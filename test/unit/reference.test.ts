/** The one reference parser's naming helpers, the one tag rule and the one platform string. */
import { describe, expect, it } from "vitest";
import {
  checkTag,
  formatReference,
  isImageId,
  manifestRef,
  namesVersion,
  parseReference,
  pickRepoDigest,
  platformString,
  rewrapTag,
  sameRepository,
  shortName,
} from "../../src/core/reference.js";

const hex = "a".repeat(64);

describe("parseReference (as the docker CLI reads references)", () => {
  it.each([
    ["mcp/kubernetes", "docker.io", "mcp/kubernetes", "latest", null, "kubernetes"],
    ["busybox:1.36", "docker.io", "library/busybox", "1.36", null, "busybox"],
    ["index.docker.io/mcp/kubernetes", "docker.io", "mcp/kubernetes", "latest", null, "kubernetes"],
    ["localhost:5000/a/b", "localhost:5000", "a/b", "latest", null, "b"],
    [`repo:tag@sha256:${hex}`, "docker.io", "library/repo", "tag", `sha256:${hex}`, "repo"],
  ])("%s", (ref, registry, repository, tag, digest, name) => {
    const r = parseReference(ref);
    expect(r).toEqual({ registry, repository, tag, digest });
    expect(shortName(r)).toBe(name);
    expect(manifestRef(r)).toBe(digest ?? tag);
  });

  it("formats back to the familiar form", () => {
    expect(formatReference(parseReference("docker.io/library/busybox"))).toBe("busybox:latest");
    expect(formatReference(parseReference(`mcp/x@sha256:${hex}`))).toBe(`mcp/x@sha256:${hex}`);
  });

  it("knows an image ID from a reference, and a named version from an implied latest", () => {
    expect(isImageId(`sha256:${hex}`)).toBe(true);
    expect(isImageId("mcp/kubernetes")).toBe(false);
    expect(namesVersion("localhost:5000/x")).toBe(false);
    expect(namesVersion("localhost:5000/x:1")).toBe(true);
    expect(namesVersion(`x@sha256:${hex}`)).toBe(true);
  });

  it("matches repository digests across spellings of the same repository", () => {
    expect(sameRepository("mcp/kubernetes", "docker.io/mcp/kubernetes:latest")).toBe(true);
    expect(sameRepository("busybox", "library/busybox")).toBe(true);
    expect(sameRepository("mcp/kubernetes", "other/kubernetes")).toBe(false);
    const digests = [`other/kubernetes@sha256:${"b".repeat(64)}`, `mcp/kubernetes@sha256:${hex}`];
    expect(pickRepoDigest("docker.io/mcp/kubernetes:1", digests)?.digest).toBe(`sha256:${hex}`);
    // Never another repository's digest: an image also pushed elsewhere pins its own repository,
    // and one whose repository has no digest is local (null), whatever other repositories hold.
    expect(pickRepoDigest("other/kubernetes:2", [...digests].reverse())?.digest).toBe(`sha256:${"b".repeat(64)}`);
    expect(pickRepoDigest("elsewhere/x", digests)).toBeNull();
    expect(pickRepoDigest("x", [])).toBeNull();
    // An image ID names no repository: the first digest in sorted order (deterministic).
    expect(pickRepoDigest(`sha256:${"c".repeat(64)}`, digests)).toEqual({ repo: "mcp/kubernetes", digest: `sha256:${hex}` });
  });
});

describe("rewrapTag: the one tag rule (build's default, build --catalog, the published images)", () => {
  it("keeps the source's tag, under mcp-rewrap/ by default", () => {
    expect(rewrapTag("mcp/kubernetes:1.2")).toBe("mcp-rewrap/kubernetes:1.2");
    expect(rewrapTag("mcp/kubernetes")).toBe("mcp-rewrap/kubernetes:latest");
  });
  it("uses sha-<12 hex> for a digest reference and for an image ID", () => {
    expect(rewrapTag(`mcp/kubernetes@sha256:${hex}`)).toBe(`mcp-rewrap/kubernetes:sha-${"a".repeat(12)}`);
    expect(rewrapTag(`sha256:${"c".repeat(64)}`, { id: `sha256:${"c".repeat(64)}` })).toBe(`mcp-rewrap/image:sha-${"c".repeat(12)}`);
  });
  it("names by server under a prefix (build --catalog, images/)", () => {
    expect(rewrapTag("mcp/kubernetes:2", { name: "Kube Server", prefix: "127.0.0.1:5000/rw/" })).toBe("127.0.0.1:5000/rw/kube-server:2");
    expect(rewrapTag("mcp/kubernetes", { name: "__", prefix: "p" })).toBe("p/server:latest");
  });
});

describe("platformString", () => {
  it("joins os, architecture and variant", () => {
    expect(platformString({ os: "linux", architecture: "arm64", variant: "v8" })).toBe("linux/arm64/v8");
    expect(platformString({ os: "linux", architecture: "amd64" })).toBe("linux/amd64");
  });
});

describe("tags the engine would refuse at the end of a build", () => {
  it("a repository named like a digest algorithm (sha256:abc reads as an ID)", () => {
    for (const t of ["sha256:abc", "sha256", "library/sha256:1", "docker.io/sha512:x"]) expect(() => checkTag(t)).toThrow(/reads as an image ID/);
    for (const t of ["foo/sha256:1", "127.0.0.1:5000/sha256:1", "sha256x:1"]) expect(checkTag(t)).toBe(t);
  });
});

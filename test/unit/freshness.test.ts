/**
 * THE up-to-date rule (core/freshness.ts): the key a build writes is the key `build --catalog`
 * computes before reading any facts, and a changed --env or --force changes it, so
 * `build --catalog` rebuilds (it used to compare only base digest and version).
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { contextKey, contextKeyOf, isUpToDate } from "../../src/core/freshness.js";
import { CONTEXT_LABEL } from "../../src/core/labels.js";
import { planRewrap } from "../../src/core/plan.js";
import { loadTemplates } from "../../src/edge/fs.js";
import { KUBE_DIGEST, OPTS, kubernetesFacts } from "./fixtures.js";

const templates = loadTemplates(join(fileURLToPath(new URL("../..", import.meta.url)), "templates"));

describe("freshness", () => {
  const built = { env: ["MY_CFG", "OTHER_CFG"] };
  const plan = planRewrap(kubernetesFacts(), { ...OPTS, ...built });
  // What buildRoute writes as the image's label:
  const label = { [CONTEXT_LABEL]: contextKeyOf(plan, built, templates) };
  // What build --catalog computes from the upstream digest and its own options:
  // (kubernetesFacts names its base "mcp/kubernetes": the plan's label base.name adds :latest.)
  const batchKey = (o: { env?: string[]; force?: boolean }) => contextKey({ base: KUBE_DIGEST, name: "mcp/kubernetes:latest", version: OPTS.version, templates, ...o });

  it("build --catalog with the same options finds the build up to date", () => {
    expect(isUpToDate([label], batchKey(built))).toBe(true);
    // --env is a set: order and repeats do not change the key.
    expect(isUpToDate([label], batchKey({ env: ["OTHER_CFG", "MY_CFG", "MY_CFG"] }))).toBe(true);
  });

  it("a changed --env or --force makes build --catalog rebuild", () => {
    expect(isUpToDate([label], batchKey({ ...built, env: ["OTHER"] }))).toBe(false);
    expect(isUpToDate([label], batchKey({ ...built, env: [] }))).toBe(false);
    expect(isUpToDate([label], batchKey({ ...built, force: true }))).toBe(false);
  });

  it("a new base, version or template makes a new key; the tag does not", () => {
    const name = "mcp/kubernetes:latest";
    const k = contextKey({ base: KUBE_DIGEST, name, version: "1", templates });
    expect(contextKey({ base: `sha256:${"1".repeat(64)}`, name, version: "1", templates })).not.toBe(k);
    expect(contextKey({ base: KUBE_DIGEST, name, version: "2", templates })).not.toBe(k);
    expect(contextKey({ base: KUBE_DIGEST, name, version: "1", templates: { ...templates, shim: `${templates.shim} ` } })).not.toBe(k);
    expect(contextKeyOf({ ...plan, tag: "x/y:z" }, built, templates)).toBe(contextKeyOf(plan, built, templates));
  });

  it("the same base under another name (a tag with the same digest) is another image, its label base.name differs: another key", () => {
    const other = planRewrap({ ...kubernetesFacts(), ref: "mcp/kubernetes:1.2" }, { ...OPTS, ...built });
    expect(other.source.digest).toBe(plan.source.digest);
    expect(other.labels).not.toEqual(plan.labels);
    expect(contextKeyOf(other, built, templates)).not.toBe(contextKeyOf(plan, built, templates));
    // build --catalog computes the key the build writes, for either name.
    expect(isUpToDate([label], batchKey(built))).toBe(true);
    expect(contextKey({ base: KUBE_DIGEST, name: "mcp/kubernetes:1.2", version: OPTS.version, templates, ...built })).toBe(contextKeyOf(other, built, templates));
  });

  it("a tag that holds nothing, or any platform image with another key, is not up to date", () => {
    const k = batchKey(built);
    expect(isUpToDate(null, k)).toBe(false);
    expect(isUpToDate([], k)).toBe(false);
    expect(isUpToDate([label, { [CONTEXT_LABEL]: "sha256:other" }], k)).toBe(false);
  });

  it("a registry tag is up to date only for the platforms asked for", () => {
    const k = batchKey(built);
    const held = { "linux/amd64": { [CONTEXT_LABEL]: k }, "linux/arm64/v8": { [CONTEXT_LABEL]: k } };
    expect(isUpToDate(held, k)).toBe(true);
    expect(isUpToDate(held, k, ["linux/amd64", "linux/arm64"])).toBe(true);
    expect(isUpToDate(held, k, ["linux/amd64"])).toBe(false);
    expect(isUpToDate({ "linux/amd64": { [CONTEXT_LABEL]: k } }, k, ["linux/amd64", "linux/arm64"])).toBe(false);
  });
});

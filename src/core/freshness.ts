/**
 * Pure: when is a rewrap already made? ONE key and ONE rule for every route (engine build,
 * push through the engine, registry to registry, and each server of `build --catalog`).
 *
 * The key hashes everything a rewrap is made from: the base it is pinned to (a repository
 * digest, or the image ID of a local image), the requested platforms, the options that change
 * the result (--mount, --env, --force), the mcp-rewrap version and the templates. It is
 * computable before the image's facts are read, so `build --catalog` can skip an unchanged
 * server cheaply. It is written as the image label io.mcp-rewrap.context on every route.
 */
import { createHash } from "node:crypto";
import { CONTEXT_LABEL } from "./labels.js";
import type { RewrapPlan } from "./plan.js";
import { stableJson } from "./render.js";
import type { Templates } from "./render.js";

/** The options that change what a rewrap makes. */
export interface RewrapInputs {
  mounts?: string[];
  env?: string[];
  force?: boolean;
  /** Requested platforms (`--platform`); none means "the image's own" or "every one of the index". */
  platforms?: string[];
}

export interface KeyInput extends RewrapInputs {
  /** The digest (or image ID) the rewrap is pinned to. */
  base: string;
  version: string;
  templates: Templates;
}

const norm = (list: string[] | undefined, trim = false) =>
  [...new Set((list ?? []).map((s) => (trim ? s.replace(/\/+$/, "") : s)))].sort();

/** THE freshness key: `sha256:<hex>`. */
export function contextKey(i: KeyInput): string {
  const input = {
    base: i.base,
    platforms: norm(i.platforms),
    mounts: norm(i.mounts, true),
    env: norm(i.env),
    force: !!i.force,
    version: i.version,
    templates: i.templates,
  };
  return `sha256:${createHash("sha256").update(stableJson(input)).digest("hex")}`;
}

/** The key of a plan made with these options (the plan names its base and version). */
export function contextKeyOf(plan: RewrapPlan, inputs: RewrapInputs, templates: Templates): string {
  return contextKey({ ...inputs, base: plan.source.digest ?? plan.source.id, version: plan.tool.version, templates });
}

/**
 * THE up-to-date rule: what the tag holds (the labels of each of its images; none when the
 * tag does not exist) was made from the same inputs.
 */
export function isUpToDate(held: Record<string, string>[] | null | undefined, key: string): boolean {
  return !!held && held.length > 0 && held.every((labels) => labels[CONTEXT_LABEL] === key);
}

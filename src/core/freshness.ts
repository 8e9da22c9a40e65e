/**
 * Pure: when is a rewrap already made? ONE key and ONE rule for every route (engine build,
 * push through the engine, registry to registry, and each server of `build --catalog`).
 *
 * The key hashes everything one platform image of a rewrap is made from: the base it is pinned
 * to (a repository digest, or the image ID of a local image) and the name it was given by (the
 * label base.name: one digest under two names makes two images), the options that change the
 * result (--env, --force), the mcp-rewrap version and the templates. It is computable
 * before the image's facts are read, so `build --catalog` can skip an unchanged server cheaply.
 * It is written as the image label io.mcp-rewrap.context on every route, so an image built by
 * the engine and the same image made registry to registry carry the same key. What a tag
 * holds is up to date when every image in it carries the key and, where the platforms asked
 * for are known, it holds exactly those.
 */
import { createHash } from "node:crypto";
import { CONTEXT_LABEL } from "./labels.js";
import { baseNameOf, platformMatches } from "./reference.js";
import type { RewrapPlan } from "./plan.js";
import type { Templates } from "./render.js";
import { stableJson } from "./stable-json.js";

/** The options that change what a rewrap makes. */
export interface RewrapInputs {
  env?: string[];
  force?: boolean;
}

export interface KeyInput extends RewrapInputs {
  /** The digest (or image ID) the rewrap is pinned to. */
  base: string;
  /** The base as named (reference.ts, baseNameOf): the image's label base.name. */
  name: string;
  version: string;
  templates: Templates;
}

const norm = (list: string[] | undefined) => [...new Set(list ?? [])].sort();

/** THE freshness key: `sha256:<hex>`. */
export function contextKey(i: KeyInput): string {
  const input = {
    base: i.base,
    name: i.name,
    env: norm(i.env),
    force: !!i.force,
    version: i.version,
    templates: i.templates,
  };
  return `sha256:${createHash("sha256").update(stableJson(input)).digest("hex")}`;
}

/** The key of a plan made with these options (the plan names its base and version). */
export function contextKeyOf(plan: RewrapPlan, inputs: RewrapInputs, templates: Templates): string {
  return contextKey({ ...inputs, base: plan.source.digest ?? plan.source.id, name: baseNameOf(plan.source.ref, plan.source.id), version: plan.tool.version, templates });
}

/**
 * THE up-to-date rule: what the tag holds (the labels of each of its images, by platform where
 * known; null when the tag does not exist) was made from the same inputs, and, when
 * `platforms` is given, for exactly those platforms.
 */
export function isUpToDate(
  held: Record<string, string>[] | Record<string, Record<string, string>> | null | undefined,
  key: string,
  platforms?: string[],
): boolean {
  if (!held) return false;
  const images = Array.isArray(held) ? held : Object.values(held);
  if (!images.length || !images.every((labels) => labels[CONTEXT_LABEL] === key)) return false;
  if (!platforms || Array.isArray(held)) return true;
  const have = Object.keys(held).map((p) => {
    const [os = "", architecture = "", variant] = p.split("/");
    return { os, architecture, ...(variant ? { variant } : {}) };
  });
  return have.length === platforms.length && platforms.every((w) => have.some((h) => platformMatches(w, h)));
}

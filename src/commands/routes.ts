/**
 * The three ways a rewrap is written (not a command; build, push and batch share them):
 *  - buildRoute: render the context, build it with the engine, tag it;
 *  - registryRoute: registry to registry, no builder, every platform of an index;
 *  - pushRoute: `build --push`, choosing between the engine (build, then push) and the registry.
 * Each one asks core/freshness.ts whether the tag already holds the same rewrap.
 */
import { PlanError, RuntimeError, UsageError } from "../core/errors.js";
import type { ImageFacts } from "../core/facts.js";
import { contextKey, isUpToDate } from "../core/freshness.js";
import { CONTEXT_LABEL, LABEL } from "../core/labels.js";
import { rewrapConfig, rewrapIndex, rewrapManifest, shimLayer } from "../core/mutate.js";
import { type Descriptor, type ImageConfigBlob, type ImageIndex, type ImageManifest, type Platform, isIndex, runnableManifests, sha256 } from "../core/oci.js";
import type { RewrapPlan } from "../core/plan.js";
import { checkPlatforms, familiarName, manifestRef, parseReference, platformMatches, platformString } from "../core/reference.js";
import { type RenderedFile, renderContext } from "../core/render.js";
import { buildContext, docker, enginePlatform, engineHost, engineOrNull, inspectImage, pushWithEngine, removeSuperseded } from "../edge/engine.js";
import { pathExists, removePath, templates, withTempDir, writeContext } from "../edge/fs.js";
import { readPublished, readRegistryFacts } from "../edge/registry/blobs.js";
import { type FetchedManifest, Registries } from "../edge/registry/client.js";
import { VERSION } from "../edge/version.js";
import { type Progress, type RewrapOptions, getFacts, keyFor, planFor, renderFiles } from "./shared.js";
import { join, resolve } from "node:path";

export interface GenerateResult {
  plan: RewrapPlan;
  facts: ImageFacts;
  dir: string;
  files: RenderedFile[];
}

/** Plan and render; write the context to `opts.out` (default images/<name>). */
export function writeGenerated(facts: ImageFacts, opts: RewrapOptions, plan = planFor(facts, opts)): GenerateResult {
  const files = renderFiles(plan, facts, opts);
  const dir = writeContext(opts.out ?? join("images", plan.name), files);
  return { plan, facts, dir, files };
}

// --- the engine ---------------------------------------------------------------------------

export interface BuildOptions extends RewrapOptions {
  rebuild?: boolean;
}

export interface BuildResult extends GenerateResult {
  tag: string;
  id: string;
  /** True when the tag already held a rewrap with the same freshness key: nothing was built. */
  upToDate: boolean;
}

/** Build the rewrap of `ref` with the engine and tag it. */
export async function buildRoute(ref: string, opts: BuildOptions): Promise<BuildResult> {
  const d = await docker();
  const facts = await getFacts(ref, opts);
  const plan = planFor(facts, opts);
  // Checked before anything is written: an image of another platform would build, but not run here.
  const here = await enginePlatform(d);
  const wants = `${facts.os}/${facts.architecture}`;
  if (wants !== here) {
    const p = platformString(facts);
    throw new PlanError(
      `${ref} is a ${p} image and the engine at ${engineHost()} runs ${here}: the rewrapped image could not run here. Build it on a ${p} engine (\`mcp-rewrap generate\` writes the context), or rewrap it in its registry: \`mcp-rewrap build IMAGE --push --platform ${p} --tag REGISTRY/NAME:TAG\``,
    );
  }
  const outDir = resolve(opts.out ?? join("images", plan.name));
  const existed = pathExists(outDir);
  const gen = writeGenerated(facts, opts, plan);
  try {
    const want = keyFor(plan, opts);
    const existing = await inspectImage(d, plan.tag);
    if (!opts.rebuild && existing && isUpToDate([existing.Config?.Labels ?? {}], want)) {
      opts.progress(`${plan.tag} is up to date (same base ${plan.source.digest ?? plan.source.id}, mcp-rewrap ${VERSION} and options); nothing built`);
      return { ...gen, tag: plan.tag, id: existing.Id, upToDate: true };
    }
    opts.progress(`building ${plan.tag} from ${plan.source.from}`);
    const built = await buildContext(d, gen.files, { tag: plan.tag, progress: opts.progress });
    if (!built.id) throw new RuntimeError(`building ${plan.tag}: no image ID`);
    if (existing && existing.Id !== built.id && existing.Config?.Labels?.[LABEL.version]) {
      await removeSuperseded(d, existing.Id, plan.tag, opts.progress);
    }
    return { ...gen, tag: built.tag, id: built.id, upToDate: false };
  } catch (e) {
    // A failed build leaves nothing behind: not even the context directory it made.
    if (!existed) removePath(outDir);
    throw e;
  }
}

// --- registry to registry -----------------------------------------------------------------

export interface RegistryRouteOptions {
  tag: string;
  platforms?: string[];
  rebuild?: boolean;
  mounts?: string[];
  env?: string[];
  force?: boolean;
  progress: Progress;
  registries?: Registries;
}

export interface PlatformResult {
  platform: string;
  digest: string;
  plan: RewrapPlan;
  config: ImageConfigBlob;
}

export interface PushResult {
  tag: string;
  /** Digest of what the tag now points to (index or manifest). */
  digest: string;
  /** The source's digest (index or manifest) the rewrap is pinned to. */
  sourceDigest: string;
  route: "engine" | "registry";
  upToDate: boolean;
  platforms: PlatformResult[];
}

/**
 * Rewraps an image that lives in a registry into another tag, without a builder: every
 * platform of an index (or those chosen with `platforms`), or the one image of a manifest.
 */
export async function registryRoute(source: string, opts: RegistryRouteOptions): Promise<PushResult> {
  const regs = opts.registries ?? new Registries();
  const src = parseReference(source);
  const target = parseReference(opts.tag);
  if (!target.tag || target.digest) throw new UsageError(`--tag ${opts.tag}: give a tag to push to (repository:tag)`);
  const sc = regs.for(src.registry);
  const tc = regs.for(target.registry);
  const tpl = templates();

  opts.progress(`resolving ${source} in ${src.registry}`);
  const top = await sc.getManifest(src.repository, manifestRef(src));
  const wanted = opts.platforms ? checkPlatforms(opts.platforms) : undefined;
  let chosen: { desc: Descriptor; platform: Platform }[];
  if (isIndex(top.mediaType)) {
    const runnable = runnableManifests(top.json as ImageIndex);
    chosen = runnable.filter((d) => !wanted || wanted.some((w) => platformMatches(w, d.platform!))).map((d) => ({ desc: d, platform: d.platform! }));
    if (!chosen.length) {
      throw new UsageError(`${source} has no ${wanted!.join(", ")} image (it has: ${runnable.map((d) => platformString(d.platform!)).join(", ") || "none"})`);
    }
  } else {
    const m = top.json as ImageManifest;
    const cfg = JSON.parse((await sc.getBlob(src.repository, m.config.digest)).toString("utf8")) as ImageConfigBlob;
    const platform: Platform = { os: cfg.os ?? "linux", architecture: cfg.architecture ?? "amd64", ...(cfg.variant ? { variant: cfg.variant } : {}) };
    if (wanted && !wanted.some((w) => platformMatches(w, platform))) {
      throw new UsageError(`${source} is a single ${platformString(platform)} image; it has no ${wanted.join(", ")}`);
    }
    chosen = [{ desc: { mediaType: top.mediaType, digest: top.digest, size: top.bytes.length }, platform }];
  }
  const platforms = chosen.map((c) => platformString(c.platform));
  if (isIndex(top.mediaType)) opts.progress(`${source} is a multi-platform index (${top.digest}): rewrapping ${platforms.join(", ")}`);
  const key = contextKey({ base: top.digest, mounts: opts.mounts, env: opts.env, force: opts.force, version: VERSION, templates: tpl });

  if (!opts.rebuild) {
    const existing = await readPublished(regs, opts.tag).catch(() => null);
    if (existing && isUpToDate(existing.labels, key, platforms)) {
      opts.progress(`${opts.tag} is up to date (same base ${top.digest}, mcp-rewrap ${VERSION}, platforms ${platforms.join(", ")} and options); nothing pushed`);
      return { tag: opts.tag, digest: existing.digest, sourceDigest: top.digest, route: "registry", upToDate: true, platforms: [] };
    }
  }

  const results: (PlatformResult & { mediaType: string; size: number; bytes: Buffer; platformObj: Platform })[] = [];
  for (const { desc, platform } of chosen) {
    const pname = platformString(platform);
    const m: FetchedManifest = desc.digest === top.digest ? top : await sc.getManifest(src.repository, desc.digest);
    const manifest = m.json as ImageManifest;
    const { facts, config } = await readRegistryFacts(sc, src, manifest, { userRef: source, pinnedDigest: top.digest, progress: opts.progress });
    const plan = planFor(facts, { tag: opts.tag, mounts: opts.mounts, env: opts.env, force: opts.force });
    const shim = renderContext(plan, tpl, key).find((f) => f.path === "entrypoint.sh")!;
    const layer = await shimLayer(plan.shimPath, shim.content, plan.healthcheck?.cmd[0]);
    const cfg = rewrapConfig(config, plan, key, layer);
    const cfgBytes = Buffer.from(JSON.stringify(cfg));
    opts.progress(`${pname}: ${plan.user.name} (uid ${plan.user.uid}) keeps running the server; copying ${manifest.layers.length} base layers to ${familiarName(target)}`);
    for (const l of manifest.layers) await tc.copyBlob({ client: sc, repo: src.repository }, target.repository, l);
    await tc.putBlob(target.repository, layer.digest, layer.blob);
    const man = rewrapManifest(manifest, m.mediaType, cfgBytes, layer);
    await tc.putBlob(target.repository, sha256(cfgBytes), cfgBytes);
    results.push({ platform: pname, digest: "", plan, config: cfg, mediaType: man.mediaType, size: man.bytes.length, bytes: man.bytes, platformObj: platform });
  }

  const annotations = {
    [CONTEXT_LABEL]: key,
    [LABEL.baseName]: source,
    [LABEL.baseDigest]: top.digest,
  };
  let digest: string;
  if (results.length === 1) {
    // One platform: the tag holds the image manifest itself (with the annotations).
    const only = results[0]!;
    const json = JSON.parse(only.bytes.toString("utf8")) as ImageManifest;
    json.annotations = annotations;
    const bytes = Buffer.from(JSON.stringify(json, null, 2));
    digest = await tc.putManifest(target.repository, target.tag, only.mediaType, bytes);
    only.digest = digest;
  } else {
    for (const r of results) r.digest = await tc.putManifest(target.repository, sha256(r.bytes), r.mediaType, r.bytes);
    const idx = rewrapIndex(
      top.mediaType,
      results.map((r) => ({ mediaType: r.mediaType, digest: r.digest, size: r.size, platform: r.platformObj })),
      annotations,
    );
    digest = await tc.putManifest(target.repository, target.tag, idx.mediaType, idx.bytes);
  }
  opts.progress(`pushed ${opts.tag} (${digest}, ${platforms.join(", ")})`);
  return {
    tag: opts.tag,
    digest,
    sourceDigest: top.digest,
    route: "registry",
    upToDate: false,
    platforms: results.map(({ platform, digest: d, plan, config }) => ({ platform, digest: d, plan, config })),
  };
}

// --- build --push: choose the route ---------------------------------------------------------

export interface PushOptions extends BuildOptions {
  platforms?: string[];
  registries?: Registries;
}

/**
 * `build IMAGE --tag REF --push`. The route:
 *  - `--platform`, or an image the engine does not have (or no engine): registry to registry;
 *  - a local image that came from a registry whose tag is a multi-platform index: registry to
 *    registry too, so every platform is rewrapped (the engine holds only one);
 *  - otherwise (built or loaded locally, or single-platform): build with the engine and push.
 */
export async function pushRoute(ref: string, opts: PushOptions): Promise<PushResult> {
  if (!opts.tag) throw new UsageError("--push needs --tag REGISTRY/REPOSITORY:TAG (where to push)");
  const regs = opts.registries ?? new Registries();
  const viaRegistry = (why: string) => {
    opts.progress(`rewrapping in the registry: ${why}`);
    return registryRoute(ref, { tag: opts.tag!, platforms: opts.platforms, rebuild: opts.rebuild, mounts: opts.mounts, env: opts.env, force: opts.force, progress: opts.progress, registries: regs });
  };
  if (opts.platforms?.length) return viaRegistry(`--platform ${opts.platforms.join(",")}`);
  if (opts.facts) throw new UsageError("--push builds a real image: it cannot use --facts");
  const d = await engineOrNull();
  if (!d) return viaRegistry("no Docker engine reachable");
  const info = await inspectImage(d, ref);
  if (!info) return viaRegistry(`${ref} is not in the local engine (no pull needed)`);
  if ((info.RepoDigests ?? []).length) {
    const src = parseReference(ref);
    const head = await regs.for(src.registry).headManifest(src.repository, manifestRef(src)).catch(() => null);
    if (head && isIndex(head.mediaType)) return viaRegistry(`${ref} is a multi-platform index in ${src.registry}`);
  }
  // The engine route: build (or find the identical local build), then push unless the registry has it already.
  const run = async (out: string): Promise<PushResult> => {
    const built = await buildRoute(ref, { ...opts, out });
    const source = built.plan.source.digest ?? built.plan.source.id;
    const want = keyFor(built.plan, opts);
    const remote = opts.rebuild ? null : await readPublished(regs, opts.tag!).catch(() => null);
    if (remote && isUpToDate(remote.labels, want)) {
      opts.progress(`${opts.tag} in the registry already holds this rewrap (${remote.digest}); nothing pushed`);
      return { tag: opts.tag!, digest: remote.digest, sourceDigest: source, route: "engine", upToDate: true, platforms: [] };
    }
    const pushed = await pushWithEngine(d, built.tag, opts.progress);
    return {
      tag: built.tag,
      digest: pushed.digest ?? "",
      sourceDigest: source,
      route: "engine",
      upToDate: false,
      platforms: [{ platform: built.plan.source.platform, digest: pushed.digest ?? "", plan: built.plan, config: {} }],
    };
  };
  return opts.out ? run(opts.out) : withTempDir("push", run);
}

/**
 * The three ways a rewrap is written (not a command; build, push and batch share them):
 *  - buildRoute: render the context, build it with the engine, tag it;
 *  - registryRoute: registry to registry, no builder, every platform of an index;
 *  - pushRoute: `build --push`, choosing between the engine (build, then push) and the registry.
 * Each one asks core/freshness.ts whether the tag already holds the same rewrap.
 * What only the registry side needs (the registry client, its blob reader, core/mutate.ts and
 * the renderer) loads when a registry route runs (registryModules): an engine build never pays for it.
 */
import { PlanError, RuntimeError, UsageError } from "../core/errors.js";
import type { ImageFacts } from "../core/facts.js";
import { contextKey, isUpToDate } from "../core/freshness.js";
import { CONTEXT_LABEL, LABEL } from "../core/labels.js";
import { type Descriptor, type ImageConfigBlob, type ImageIndex, type ImageManifest, type Platform, isIndex, runnableManifests, sha256 } from "../core/oci.js";
import { type RewrapPlan, shortId } from "../core/plan.js";
import { baseNameOf, checkPlatforms, familiarName, manifestRef, parseReference, platformMatches, platformString } from "../core/reference.js";
import type { RenderedFile } from "../core/render.js";
import { type Engine, type InspectInfo, buildContext, checkLocalBase, docker, engine, enginePlatform, engineHost, engineOrNull, full, inspectImage, isRewrapImage, localPlatformCount, pushWithEngine, putTag, removeSuperseded, removeTag, removeWithSteps, reportUntagged } from "../edge/engine.js";
import { pathExists, removePath, templates, withTempDir, writeContext } from "../edge/fs.js";
import type { FetchedManifest, Registries } from "../edge/registry/client.js";
import { VERSION } from "../edge/version.js";
import { type Progress, type RewrapOptions, getFacts, keyFor, planFor, renderFiles } from "./shared.js";
import { resolve } from "node:path";

export interface GenerateResult {
  plan: RewrapPlan;
  facts: ImageFacts;
  /** Where the context was written; null when it lived in a temporary directory (build without --out). */
  dir: string | null;
  files: RenderedFile[];
}

/**
 * Plan and render; write the context to `dir`. A Dockerfile there that mcp-rewrap did not
 * write is never overwritten.
 */
export async function writeGenerated(facts: ImageFacts, opts: RewrapOptions, dir: string, plan = planFor(facts, opts)): Promise<GenerateResult> {
  const files = await renderFiles(plan, facts, opts);
  return { plan, facts, dir: writeContext(dir, files), files };
}

// --- the engine ---------------------------------------------------------------------------

export interface BuildOptions extends RewrapOptions {
  rebuild?: boolean;
  /**
   * Leave the image the tag named before as it is, for the caller to settle (settlePrevious):
   * build --push removes it only once the push went through, and puts the tag back on it when
   * the push fails.
   */
  keepPrevious?: boolean;
}

export interface BuildResult {
  plan: RewrapPlan;
  facts: ImageFacts;
  /** Where the context was written (--out); null when it lived in a temporary directory, or was not needed (up to date). */
  dir: string | null;
  tag: string;
  id: string;
  /** True when the tag already held a rewrap with the same freshness key: nothing was built. */
  upToDate: boolean;
  /** The image the tag named before this build moved it (another image than `id`), else null. */
  previous?: InspectInfo | null;
}

/**
 * Build the rewrap of `ref` with the engine and tag it. The context is written to `opts.out`
 * when given, else to a temporary directory removed afterwards: build writes nothing else.
 * Whether the tag is up to date is asked first: then, without --out, nothing is rendered at all.
 * Up to date, the engine is only read (engine(): no dockerode); dockerode connects to build.
 */
export async function buildRoute(ref: string, opts: BuildOptions): Promise<BuildResult> {
  const d = await engine();
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
  const existing = await inspectImage(d, plan.tag);
  // Building onto the source's own name would move it off the source (then untagged, and removed
  // with the build when the local base check fails): refused before anything is written.
  if (existing && existing.Id === plan.source.id) {
    throw new UsageError(`--tag ${plan.tag} names the image being rewrapped (${shortId(existing.Id)}): the rewrap would take its name and the original could be lost; give another --tag`);
  }
  // The tag's image when it already holds this rewrap (THE up-to-date rule), else null. An image
  // built FROM the rewrap carries the same labels: it is somebody's own, and not up to date.
  const same = !opts.rebuild && existing && (await holdsRewrap(d, existing, plan, opts)) ? existing : null;
  if (!opts.out) {
    if (same) return upToDateResult(plan, facts, null, same, opts);
    return withTempDir("build", async (tmp) => ({ ...(await buildIn(tmp, facts, plan, opts, existing, null)), dir: null }));
  }
  const outDir = resolve(opts.out);
  const existed = pathExists(outDir);
  try {
    return await buildIn(outDir, facts, plan, opts, existing, same);
  } catch (e) {
    // A failed build leaves nothing behind: not even the context directory it made.
    if (!existed) removePath(outDir);
    throw e;
  }
}

/**
 * Whether a local image is this rewrap: it carries the plan's freshness key (THE up-to-date rule)
 * and was built as a rewrap (an image built FROM one carries the same labels: isRewrapImage).
 */
async function holdsRewrap(d: Engine, info: InspectInfo, plan: RewrapPlan, opts: BuildOptions): Promise<boolean> {
  return isUpToDate([info.Config?.Labels ?? {}], keyFor(plan, opts)) && (await isRewrapImage(d, info.Id));
}

function upToDateResult(plan: RewrapPlan, facts: ImageFacts, dir: string | null, existing: InspectInfo, opts: BuildOptions): BuildResult {
  opts.progress(`${plan.tag} is up to date (same base ${baseNameOf(plan.source.ref, plan.source.id)}, ${plan.source.digest ?? plan.source.id}, mcp-rewrap ${VERSION} and options); nothing built`);
  return { plan, facts, dir, tag: plan.tag, id: existing.Id, upToDate: true };
}

/** Writes the context to `dir` (also when up to date: --out keeps it), then builds unless `same` holds it already. */
async function buildIn(dir: string, facts: ImageFacts, plan: RewrapPlan, opts: BuildOptions, existing: InspectInfo | null, same: InspectInfo | null): Promise<BuildResult> {
  const gen = await writeGenerated(facts, opts, dir, plan);
  if (same) return upToDateResult(plan, facts, gen.dir, same, opts);
  const d = await docker();
  await checkLocalBase(d, plan);
  opts.progress(`building ${plan.tag} from ${plan.source.from}`);
  const built = await buildContext(d, gen.files, { tag: plan.tag, progress: opts.progress });
  if (!built.id) throw new RuntimeError(`building ${plan.tag}: no image ID`);
  const holder = await inspectImage(d, plan.tag);
  if (holder?.Id !== built.id) return tagMoved(d, built.id, holder, { plan, facts, dir: gen.dir }, opts);
  await checkLocalBase(d, plan, { ...built, previous: existing?.Id ?? null });
  const previous = existing && existing.Id !== built.id ? existing : null;
  if (previous && !opts.keepPrevious) await settlePrevious(d, previous, plan.tag, opts.progress);
  return { plan, facts, dir: gen.dir, tag: built.tag, id: built.id, upToDate: false, previous };
}

/**
 * The image a build moved the tag off: an earlier rewrap is removed (unless still used), another
 * image, one built FROM a rewrap too (it inherits the labels), is said to be kept.
 */
async function settlePrevious(d: Awaited<ReturnType<typeof docker>>, previous: InspectInfo, tag: string, progress: Progress): Promise<void> {
  const labelled = !!previous.Config?.Labels?.[LABEL.version];
  if (labelled && (await isRewrapImage(d, previous.Id))) await removeSuperseded(d, previous.Id, tag, progress);
  else await reportUntagged(d, previous.Id, tag, progress, labelled ? "an image built on a rewrap, not one" : undefined);
}

/**
 * The tag no longer names the image this build made: another build to the same tag (or a `docker
 * tag`, or an rmi) moved it after the engine set it. This build's image is then nobody's: it is
 * removed, with its steps (removeWithSteps: only when no tag names it and nothing is built on it).
 * When the tag holds the same rewrap (the same freshness key: equal keys make equal images),
 * that one is the result; else one RuntimeError, and the tag is left as the other left it.
 */
async function tagMoved(
  d: Awaited<ReturnType<typeof docker>>,
  builtId: string,
  holder: InspectInfo | null,
  made: Pick<BuildResult, "plan" | "facts" | "dir">,
  opts: BuildOptions,
): Promise<BuildResult> {
  const { plan } = made;
  const removed = await removeWithSteps(d, builtId).catch(() => false);
  const mine = `this build's image (${shortId(builtId)}) was ${removed ? "removed" : "kept: something else uses it"}`;
  if (holder && (await holdsRewrap(d, holder, plan, opts))) {
    opts.progress(`${plan.tag} was tagged by another build of the same rewrap while this one ran: that image (${shortId(holder.Id)}) is kept; ${mine}`);
    return { ...made, tag: plan.tag, id: holder.Id, upToDate: false };
  }
  const now = holder ? `names another image (${shortId(holder.Id)})` : "was removed";
  throw new RuntimeError(`${plan.tag} ${now} while this build ran (another build to the same tag, or docker tag or rmi); ${mine}, and the tag is left as it is: run the command again to build it`);
}

// --- registry to registry -----------------------------------------------------------------

export interface RegistryRouteOptions {
  tag: string;
  platforms?: string[];
  rebuild?: boolean;
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
/** The registry side's modules, loaded on first use. */
async function registryModules() {
  const [client, blobs, mutate, render] = await Promise.all([
    import("../edge/registry/client.js"),
    import("../edge/registry/blobs.js"),
    import("../core/mutate.js"),
    import("../core/render.js"),
  ]);
  return { ...client, ...blobs, ...mutate, ...render };
}

export async function registryRoute(source: string, opts: RegistryRouteOptions): Promise<PushResult> {
  const { Registries, readPublished, readRegistryFacts, renderContext, rewrapConfig, rewrapIndex, rewrapManifest, shimLayer } = await registryModules();
  const regs = opts.registries ?? new Registries();
  const src = parseReference(source);
  const target = parseReference(opts.tag);
  if (!target.tag || target.digest) throw new UsageError(`--tag ${opts.tag}: give a tag to push to (repository:tag)`);
  if (!src.digest && src.registry === target.registry && src.repository === target.repository && (src.tag ?? "latest") === target.tag) {
    throw new UsageError(`--tag ${opts.tag} is the image being rewrapped: the rewrap would take its tag and the original would be lost from it; give another --tag`);
  }
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
  const baseName = baseNameOf(source, top.digest);
  const key = contextKey({ base: top.digest, name: baseName, env: opts.env, force: opts.force, version: VERSION, templates: tpl });

  if (!opts.rebuild) {
    const existing = await readPublished(regs, opts.tag).catch(() => null);
    if (existing && isUpToDate(existing.labels, key, platforms)) {
      opts.progress(`${opts.tag} is up to date (same base ${baseName}, ${top.digest}, mcp-rewrap ${VERSION}, platforms ${platforms.join(", ")} and options); nothing pushed`);
      return { tag: opts.tag, digest: existing.digest, sourceDigest: top.digest, route: "registry", upToDate: true, platforms: [] };
    }
  }

  const results: (PlatformResult & { mediaType: string; size: number; bytes: Buffer; platformObj: Platform })[] = [];
  for (const { desc, platform } of chosen) {
    const pname = platformString(platform);
    const m: FetchedManifest = desc.digest === top.digest ? top : await sc.getManifest(src.repository, desc.digest);
    const manifest = m.json as ImageManifest;
    const { facts, config } = await readRegistryFacts(sc, src, manifest, { userRef: source, pinnedDigest: top.digest, manifestDigest: m.digest, progress: opts.progress });
    const plan = planFor(facts, { tag: opts.tag, env: opts.env, force: opts.force });
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
    [LABEL.baseName]: baseName,
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
 *  - a local image that came from a registry whose tag is a multi-platform index, or that has
 *    ONBUILD triggers (a build would run them): registry to registry too (every platform is
 *    rewrapped: the engine holds only one);
 *  - otherwise (built or loaded locally, or single-platform): build with the engine and push.
 */
export async function pushRoute(ref: string, opts: PushOptions): Promise<PushResult> {
  if (!opts.tag) throw new UsageError("--push needs --tag REGISTRY/REPOSITORY:TAG (where to push)");
  const { Registries, readPublished } = await registryModules();
  const regs = opts.registries ?? new Registries();
  const viaRegistry = (why: string) => {
    opts.progress(`rewrapping in the registry: ${why}`);
    return registryRoute(ref, { tag: opts.tag!, platforms: opts.platforms, rebuild: opts.rebuild, env: opts.env, force: opts.force, progress: opts.progress, registries: regs });
  };
  if (opts.platforms?.length) return viaRegistry(`--platform ${opts.platforms.join(",")}`);
  if (opts.facts) throw new UsageError("--push builds a real image: it cannot use --facts");
  const d = await engineOrNull();
  if (!d) return viaRegistry("no Docker engine reachable");
  const info = await inspectImage(d, ref);
  if (!info) return viaRegistry(`${ref} is not in the local engine (no pull needed)`);
  if ((info.RepoDigests ?? []).length) {
    // A build FROM it would run its ONBUILD triggers; the registry route runs nothing.
    if (info.Config?.OnBuild?.length) return viaRegistry(`${ref} has ONBUILD triggers, which a build FROM it would run`);
    // The containerd store says itself what it holds (and gives every local image a repository
    // digest: its registry is not asked about an image it never had); the legacy store does not.
    const platforms = await localPlatformCount(d, info);
    if (platforms !== null) {
      if (platforms > 1) return viaRegistry(`${ref} is a multi-platform index (${platforms} platforms in the engine's image store)`);
    } else {
      const src = parseReference(ref);
      const head = await regs.for(src.registry).headManifest(src.repository, manifestRef(src)).catch(() => null);
      if (head && isIndex(head.mediaType)) return viaRegistry(`${ref} is a multi-platform index in ${src.registry}`);
    }
  }
  // The engine route: build (or find the identical local build), then push unless the registry has it already.
  const hadTag = !!(await inspectImage(d, opts.tag!));
  // What the tag named before is settled only once the push went through (or was not needed).
  const built = await buildRoute(ref, { ...opts, keepPrevious: true });
  const settle = async () => {
    if (built.previous) await settlePrevious(await full(d), built.previous, built.tag, opts.progress);
  };
  const source = built.plan.source.digest ?? built.plan.source.id;
  const want = keyFor(built.plan, opts);
  const remote = opts.rebuild ? null : await readPublished(regs, opts.tag!).catch(() => null);
  if (remote && isUpToDate(remote.labels, want)) {
    await settle();
    opts.progress(`${opts.tag} in the registry already holds this rewrap (${remote.digest}); nothing pushed`);
    return { tag: opts.tag!, digest: remote.digest, sourceDigest: source, route: "engine", upToDate: true, platforms: [] };
  }
  let pushed: { digest: string | null };
  try {
    pushed = await pushWithEngine(await full(d), built.tag, opts.progress);
  } catch (e) {
    // A failed push leaves the tag as it was: removed when this run made it, else back on the
    // image it named before (the build just made is then removed with its steps).
    const f = await full(d);
    if (!hadTag) await removeTag(f, built.tag);
    else if (built.previous && (await putTag(f, built.previous.Id, built.tag))) await removeWithSteps(f, built.id).catch(() => false);
    throw e;
  }
  await settle();
  // The engine may not report the digest (Docker 28 with the containerd store says it only
  // in a status line; older engines in aux): ask the registry what the tag now holds.
  const dest = parseReference(built.tag);
  const digest = pushed.digest ?? (await regs.for(dest.registry).headManifest(dest.repository, manifestRef(dest)))?.digest ?? null;
  if (!digest) throw new RuntimeError(`pushing ${built.tag}: the engine reported no digest and ${dest.registry} has no ${built.tag} after the push; check the registry and push again`);
  return {
    tag: built.tag,
    digest,
    sourceDigest: source,
    route: "engine",
    upToDate: false,
    platforms: [{ platform: built.plan.source.platform, digest, plan: built.plan, config: {} }],
  };
}

/**
 * Publishing: `build --push` (through the engine, or registry to registry for multi-platform
 * sources), and the committed build contexts under images/ (`mcp-rewrap images`: regenerate
 * from recorded facts, check they are current, refresh the pin when upstream moved).
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type Docker from "dockerode";
import { RuntimeError, UsageError } from "./errors.js";
import type { ImageFacts } from "./facts.js";
import { type RewrapPlan, pinnedDigest } from "./plan.js";
import { CONTEXT_LABEL, type RenderedFile, type Templates, contextHash, renderContext, stableJson } from "./render.js";
import { PROJECT_URL, VERSION } from "./version.js";
import { type RewrapOptions, buildCommand, planFor, readFactsFile, render, templates, writeContext } from "./app.js";
import { BUILTIN, catalogYaml, rewrappedEntry } from "./catalog.js";
import { engineOrNull, inspectImage, type Progress } from "./image/engine.js";
import { type ImageConfigBlob, readRegistryFacts } from "./image/layers.js";
import {
  type Descriptor,
  type FetchedManifest,
  type ImageIndex,
  type ImageManifest,
  type Platform,
  Registries,
  type RegistryClient,
  familiarName,
  isIndex,
  parseReference,
  sha256,
} from "./image/registry.js";
import { checkPlatforms, platformMatches, platformString, pushWithEngine, rewrapConfig, rewrapIndex, rewrapManifest, runnableManifests, shimLayer } from "./image/push.js";

/** Annotation on a pushed index/manifest: hash of what the rewrap was made from. */
export const REQUEST_ANNOTATION = "io.mcp-rewrap.request";


// --- the engine, when there is one --------------------------------------------------------


// --- reading back what a tag holds ---------------------------------------------------------

export interface PublishedImage {
  digest: string;
  mediaType: string;
  annotations: Record<string, string>;
  /** Config labels of each runnable platform image, by platform. */
  labels: Record<string, Record<string, string>>;
}

/** What a registry tag holds (null when the tag does not exist): its annotations and each platform's labels. */
export async function readPublished(regs: Registries, tag: string): Promise<PublishedImage | null> {
  const ref = parseReference(tag);
  const client = regs.for(ref.registry);
  const head = await client.headManifest(ref.repository, ref.digest ?? ref.tag!);
  if (!head) return null;
  const top = await client.getManifest(ref.repository, head.digest);
  const labels: Record<string, Record<string, string>> = {};
  const children: Descriptor[] = isIndex(top.mediaType) ? runnableManifests(top.json as ImageIndex) : [];
  const manifests: ImageManifest[] = isIndex(top.mediaType)
    ? await Promise.all(children.map(async (d) => (await client.getManifest(ref.repository, d.digest)).json as ImageManifest))
    : [top.json as ImageManifest];
  for (const m of manifests) {
    const cfg = JSON.parse((await client.getBlob(ref.repository, m.config.digest)).toString("utf8")) as ImageConfigBlob;
    labels[platformString({ os: cfg.os ?? "linux", architecture: cfg.architecture ?? "amd64", ...(cfg.variant ? { variant: cfg.variant } : {}) })] = cfg.config?.Labels ?? {};
  }
  return { digest: top.digest, mediaType: top.mediaType, annotations: top.json.annotations ?? {}, labels };
}

// --- registry to registry -------------------------------------------------------------------

export interface RegistryRewrapOptions {
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

/** Hash of the inputs of a registry rewrap; equal hashes make equal images. */
export function requestHash(input: { sourceDigest: string; platforms: string[]; templates: Templates; mounts?: string[]; env?: string[]; force?: boolean }): string {
  return sha256(stableJson({ ...input, platforms: [...input.platforms].sort(), version: VERSION, mounts: input.mounts ?? [], env: input.env ?? [], force: !!input.force }));
}

/**
 * Rewraps an image that lives in a registry into another tag, without a builder: every
 * platform of an index (or those chosen with `platforms`), or the one image of a manifest.
 */
export async function registryRewrap(source: string, opts: RegistryRewrapOptions): Promise<PushResult> {
  const regs = opts.registries ?? new Registries();
  const src = parseReference(source);
  const target = parseReference(opts.tag);
  if (!target.tag || target.digest) throw new UsageError(`--tag ${opts.tag}: give a tag to push to (repository:tag)`);
  const sc = regs.for(src.registry);
  const tc = regs.for(target.registry);
  const tpl = templates();

  opts.progress(`resolving ${source} in ${src.registry}`);
  const top = await sc.getManifest(src.repository, src.digest ?? src.tag!);
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
  const request = requestHash({ sourceDigest: top.digest, platforms, templates: tpl, mounts: opts.mounts, env: opts.env, force: opts.force });

  if (!opts.rebuild) {
    const existing = await readPublished(regs, opts.tag).catch(() => null);
    if (existing?.annotations[REQUEST_ANNOTATION] === request) {
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
    const plan = planFor(facts, { tag: opts.tag, mounts: opts.mounts, env: opts.env, force: opts.force, progress: opts.progress });
    const files = renderContext(plan, tpl);
    const shim = files.find((f) => f.path === "entrypoint.sh")!;
    const layer = await shimLayer(plan.shimPath, shim.content);
    const cfg = rewrapConfig(config, plan, contextHash(plan, tpl), layer);
    const cfgBytes = Buffer.from(JSON.stringify(cfg));
    opts.progress(`${pname}: ${plan.user.name} (uid ${plan.user.uid}) keeps running the server; copying ${manifest.layers.length} base layers to ${familiarName(target)}`);
    for (const l of manifest.layers) await tc.copyBlob({ client: sc, repo: src.repository }, target.repository, l);
    await tc.putBlob(target.repository, layer.digest, layer.blob);
    const man = rewrapManifest(manifest, m.mediaType, cfgBytes, layer);
    await tc.putBlob(target.repository, sha256(cfgBytes), cfgBytes);
    results.push({ platform: pname, digest: "", plan, config: cfg, mediaType: man.mediaType, size: man.bytes.length, bytes: man.bytes, platformObj: platform });
  }

  const annotations = {
    [REQUEST_ANNOTATION]: request,
    "org.opencontainers.image.base.name": source,
    "org.opencontainers.image.base.digest": top.digest,
  };
  let digest: string;
  if (results.length === 1) {
    // One platform: the tag holds the image manifest itself (with the request annotation).
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

export interface PushCommandOptions extends RewrapOptions {
  tag?: string;
  platforms?: string[];
  rebuild?: boolean;
  registries?: Registries;
}

/**
 * `build IMAGE --tag REF --push`. The route:
 *  - `--platform`, or an image the engine does not have (or no engine): registry to registry;
 *  - a local image that came from a registry whose tag is a multi-platform index: registry to
 *    registry too, so every platform is rewrapped (the engine holds only one);
 *  - otherwise (built or loaded locally, or single-platform): build with the engine and push.
 */
export async function pushCommand(ref: string, opts: PushCommandOptions): Promise<PushResult> {
  if (!opts.tag) throw new UsageError("--push needs --tag REGISTRY/REPOSITORY:TAG (where to push)");
  const regs = opts.registries ?? new Registries();
  const viaRegistry = (why: string) => {
    opts.progress(`rewrapping in the registry: ${why}`);
    return registryRewrap(ref, { tag: opts.tag!, platforms: opts.platforms, rebuild: opts.rebuild, mounts: opts.mounts, env: opts.env, force: opts.force, progress: opts.progress, registries: regs });
  };
  if (opts.platforms?.length) return viaRegistry(`--platform ${opts.platforms.join(",")}`);
  if (opts.facts) throw new UsageError("--push builds a real image: it cannot use --facts");
  const docker = await engineOrNull();
  if (!docker) return viaRegistry("no Docker engine reachable");
  const info = await inspectImage(docker, ref);
  if (!info) return viaRegistry(`${ref} is not in the local engine (no pull needed)`);
  if ((info.RepoDigests ?? []).length) {
    const src = parseReference(ref);
    const head = await regs.for(src.registry).headManifest(src.repository, src.digest ?? src.tag!).catch(() => null);
    if (head && isIndex(head.mediaType)) return viaRegistry(`${ref} is a multi-platform index in ${src.registry}`);
  }
  // The engine route: build (or find the identical local build), then push unless the registry has it already.
  const tmp = opts.out ? null : mkdtempSync(join(tmpdir(), "mcp-rewrap-push-"));
  try {
    const built = await buildCommand(ref, { ...opts, out: opts.out ?? tmp! });
    const source = built.plan.source.digest ?? built.plan.source.id;
    const want = contextHash(built.plan, templates());
    const remote = opts.rebuild ? null : await readPublished(regs, opts.tag).catch(() => null);
    const remoteLabels = remote ? Object.values(remote.labels)[0] : undefined;
    if (remote && remoteLabels?.[CONTEXT_LABEL] === want) {
      opts.progress(`${opts.tag} in the registry already holds this rewrap (${remote.digest}); nothing pushed`);
      return { tag: opts.tag, digest: remote.digest, sourceDigest: source, route: "engine", upToDate: true, platforms: [] };
    }
    const pushed = await pushWithEngine(docker, built.tag, opts.progress);
    return {
      tag: built.tag,
      digest: pushed.digest ?? "",
      sourceDigest: source,
      route: "engine",
      upToDate: false,
      platforms: [{ platform: built.plan.source.platform, digest: pushed.digest ?? "", plan: built.plan, config: {} }],
    };
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
}

// --- images/: the committed build contexts ------------------------------------------------

/** Where the published images live; the tag recorded in each context is `<repo>/<server>:<upstream tag>`. */
export const PUBLISH_REPO = "ghcr.io/mcp-rewrap/mcp-rewrap";

export interface ImageDir {
  server: string;
  dir: string;
  facts: ImageFacts;
}

export function listImageDirs(root: string): ImageDir[] {
  if (!existsSync(root)) throw new UsageError(`${root}: no such directory`);
  return readdirSync(root)
    .filter((n) => statSync(join(root, n)).isDirectory() && existsSync(join(root, n, "facts.json")))
    .sort()
    .map((server) => ({ server, dir: join(root, server), facts: readFactsFile(join(root, server, "facts.json")) }));
}

export function publishTag(server: string, facts: ImageFacts, repo = PUBLISH_REPO): string {
  const r = parseReference(facts.ref);
  return `${repo}/${server}:${r.tag ?? "latest"}`;
}

/** Every file of images/<server>/, rendered from its facts alone (pure but for reading templates/). */
export function renderImageDir(server: string, facts: ImageFacts, repo = PUBLISH_REPO): RenderedFile[] {
  const plan = planFor(facts, { tag: publishTag(server, facts, repo), progress: () => {} });
  const files = render(plan, facts);
  const builtin = BUILTIN[server];
  if (builtin) {
    const entry = rewrappedEntry(server, builtin, publishTag(server, facts, repo));
    files.push({
      path: "server.yaml",
      content: `# A gateway catalog entry for the published image (generated by mcp-rewrap ${VERSION}; see ${PROJECT_URL}).\n${catalogYaml(server, entry, "profile").yaml}`,
      mode: 0o644,
    });
  }
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

export interface ImagesResult {
  server: string;
  dir: string;
  /** Files whose committed bytes differ from the regenerated ones (or are missing). */
  stale: string[];
  /** Set by --refresh. */
  upstream?: { pinned: string | null; current: string; moved: boolean };
  written: boolean;
}

export interface ImagesOptions {
  check?: boolean;
  refresh?: boolean;
  platform?: string;
  progress: Progress;
  registries?: Registries;
}

/** `mcp-rewrap images [DIR]`: regenerate (default), --check (write nothing), or --refresh (move the pin when upstream moved). */
export async function imagesCommand(root: string, opts: ImagesOptions): Promise<ImagesResult[]> {
  const out: ImagesResult[] = [];
  const regs = opts.registries ?? new Registries();
  for (const img of listImageDirs(root)) {
    let facts = img.facts;
    let upstream: ImagesResult["upstream"];
    if (opts.refresh) {
      const ref = parseReference(facts.ref);
      const client = regs.for(ref.registry);
      const head = await client.headManifest(ref.repository, ref.digest ?? ref.tag!);
      if (!head) throw new RuntimeError(`${img.server}: ${facts.ref} is not in ${ref.registry}`);
      const pinned = pinnedDigest(facts);
      upstream = { pinned, current: head.digest, moved: head.digest !== pinned };
      if (upstream.moved) {
        opts.progress(`${img.server}: ${facts.ref} moved ${pinned ?? "(no pin)"} -> ${head.digest}; reading its facts`);
        facts = await factsFromRegistry(client, facts.ref, head.digest, opts.platform ?? "linux/amd64", opts.progress);
      } else {
        opts.progress(`${img.server}: ${facts.ref} still ${head.digest}`);
      }
    }
    const files = renderImageDir(img.server, facts);
    const stale = files
      .filter((f) => {
        const p = join(img.dir, f.path);
        return !existsSync(p) || !readFileSync(p).equals(Buffer.from(f.content));
      })
      .map((f) => f.path);
    let written = false;
    if (stale.length && !opts.check) {
      writeContext(img.dir, files);
      written = true;
      opts.progress(`${img.server}: wrote ${stale.join(", ")}`);
    } else if (!stale.length) {
      opts.progress(`${img.server}: up to date`);
    }
    out.push({ server: img.server, dir: resolve(img.dir), stale, ...(upstream ? { upstream } : {}), written });
  }
  return out;
}

/** Facts of one platform of a registry image, pinned to `digest` (the index or manifest the tag resolves to). */
export async function factsFromRegistry(client: RegistryClient, userRef: string, digest: string, platform: string, progress: Progress): Promise<ImageFacts> {
  const ref = parseReference(userRef);
  const top = await client.getManifest(ref.repository, digest);
  let manifest: ImageManifest;
  if (isIndex(top.mediaType)) {
    const d = runnableManifests(top.json as ImageIndex).find((m) => platformMatches(platform, m.platform!));
    if (!d) throw new RuntimeError(`${userRef}@${digest} has no ${platform} image`);
    manifest = (await client.getManifest(ref.repository, d.digest)).json as ImageManifest;
  } else manifest = top.json as ImageManifest;
  const { facts } = await readRegistryFacts(client, ref, manifest, { userRef, pinnedDigest: digest, progress });
  return facts;
}


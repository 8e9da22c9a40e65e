/**
 * Image facts from a registry, without an engine: the config blob gives user, env, entrypoint,
 * cmd, workdir, labels and platform; the layers, streamed once each in order, feed the pure
 * LayerTree (core/layer-tree.ts) for /etc/passwd, /etc/group, the probed paths and /root's mode.
 */
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import * as tar from "tar-stream";
import { RuntimeError } from "../../core/errors.js";
import type { ImageFacts } from "../../core/facts.js";
import { LayerTree, TEXT_PATHS, type TreeEntry, factsFrom, normalizePath } from "../../core/layer-tree.js";
import { type Descriptor, type ImageConfigBlob, type ImageIndex, type ImageManifest, isIndex, runnableManifests } from "../../core/oci.js";
import { type Reference, familiarName, formatReference, manifestRef, parseReference, platformString } from "../../core/reference.js";
import type { Registries, RegistryClient } from "./client.js";

/** Reads one layer blob as tar entries (gzip or plain tar), keeping content for `keep` paths. */
export async function readLayer(
  client: RegistryClient,
  repo: string,
  layer: Descriptor,
  keep: Set<string>,
): Promise<{ name: string; entry: TreeEntry }[]> {
  if (/zstd/.test(layer.mediaType)) throw new RuntimeError(`layer ${layer.digest} of ${repo} is zstd-compressed, which mcp-rewrap cannot read`);
  const web = await client.blobStream(repo, layer.digest);
  const source = Readable.fromWeb(web as import("node:stream/web").ReadableStream<Uint8Array>);
  const gzipped = /gzip/.test(layer.mediaType) || !/tar$/.test(layer.mediaType);
  const out: { name: string; entry: TreeEntry }[] = [];
  const extract = tar.extract();
  extract.on("entry", (header, body, next) => {
    const path = normalizePath(header.name);
    const type = header.type === "file" || header.type === "contiguous-file" ? "file" : header.type === "directory" ? "directory" : header.type === "symlink" ? "symlink" : header.type === "link" ? "link" : "other";
    const entry: TreeEntry = { type, mode: header.mode ?? 0, ...(header.linkname ? { linkname: header.linkname } : {}) };
    const chunks: Buffer[] = [];
    const want = type === "file" && keep.has(path);
    body.on("data", (c: unknown) => {
      if (want) chunks.push(c as Buffer);
    });
    body.on("end", () => {
      if (want) entry.content = Buffer.concat(chunks);
      out.push({ name: header.name, entry });
      next();
    });
    body.resume();
  });
  try {
    if (gzipped) await pipeline(source, createGunzip(), extract);
    else await pipeline(source, extract);
  } catch (e) {
    throw new RuntimeError(`reading layer ${layer.digest.slice(0, 19)} of ${repo}: ${(e as Error).message}`);
  }
  return out;
}

/**
 * Facts of one platform image in a registry: its config, then every layer streamed once.
 * `digestRef` is what the image is pinned as (`name@sha256:…` of the index or manifest the
 * reference resolved to), recorded as its repository digest.
 */
export async function readRegistryFacts(
  client: RegistryClient,
  ref: Reference,
  manifest: ImageManifest,
  opts: { userRef: string; pinnedDigest: string; progress?: (line: string) => void },
): Promise<{ facts: ImageFacts; config: ImageConfigBlob; configBytes: Buffer }> {
  const configBytes = await client.getBlob(ref.repository, manifest.config.digest);
  const config = JSON.parse(configBytes.toString("utf8")) as ImageConfigBlob;
  const keep = new Set(TEXT_PATHS);
  const tree = new LayerTree(keep);
  for (const [i, layer] of manifest.layers.entries()) {
    opts.progress?.(`reading layer ${i + 1}/${manifest.layers.length} of ${formatReference(ref)} (${config.os}/${config.architecture}, ${(layer.size / 1e6).toFixed(1)} MB)`);
    tree.applyLayer(await readLayer(client, ref.repository, layer, keep));
  }
  const facts = factsFrom(opts.userRef, manifest.config.digest, `${familiarName(ref)}@${opts.pinnedDigest}`, config, tree);
  return { facts, config, configBytes };
}

/** What a registry tag holds: its digest, media type, annotations and each platform image's labels. */
export interface PublishedImage {
  digest: string;
  mediaType: string;
  annotations: Record<string, string>;
  /** Config labels of each runnable platform image, by platform. */
  labels: Record<string, Record<string, string>>;
}

/** What a registry tag holds (null when the tag does not exist). */
export async function readPublished(regs: Registries, tag: string): Promise<PublishedImage | null> {
  const ref = parseReference(tag);
  const client = regs.for(ref.registry);
  const head = await client.headManifest(ref.repository, manifestRef(ref));
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

/**
 * Pushing rewrapped images, two ways:
 *
 *  - through the engine: `docker push` of a locally built tag (Engine API), with the
 *    credentials from the user's Docker config passed as X-Registry-Auth;
 *  - registry to registry, no builder (as go-containerregistry's mutate.Append +
 *    mutate.Config): for each platform of the source, the shim becomes one more gzip'd tar
 *    layer, the config gets the Dockerfile's changes (User root, Entrypoint, Cmd, Labels, one
 *    diff_id, one history entry), a new manifest is written, and for several platforms an index.
 *    Base layers are mounted across repositories or streamed through, never unpacked.
 *
 * The mutation itself (shimLayer, rewrapConfig, rewrapManifest, rewrapIndex) is pure.
 */
import { gzipSync } from "node:zlib";
import type Docker from "dockerode";
import * as tar from "tar-stream";
import { RuntimeError, UsageError } from "../errors.js";
import type { RewrapPlan } from "../plan.js";
import { CONTEXT_LABEL } from "../render.js";
import { engineError, followStream, type Progress } from "./engine.js";
import type { ImageConfigBlob } from "./layers.js";
import {
  type Descriptor,
  type ImageIndex,
  type ImageManifest,
  MEDIA,
  type Platform,
  type Reference,
  credentialsFor,
  engineAuthConfig,
  parseReference,
  sha256,
} from "./registry.js";

// --- pure: the mutation -------------------------------------------------------------------

export interface Layer {
  /** The compressed blob as uploaded. */
  blob: Buffer;
  digest: string;
  /** sha256 of the uncompressed tar: goes into rootfs.diff_ids. */
  diffId: string;
  size: number;
}

/** A tar holding one file, deterministic: fixed mtime, root-owned, no directory entries. */
export async function tarOf(path: string, content: string | Buffer, mode: number): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on("data", (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    pack.on("end", resolve);
    pack.on("error", reject);
  });
  pack.entry({ name: path.replace(/^\/+/, ""), mode, mtime: new Date(0), uid: 0, gid: 0, uname: "root", gname: "root" }, content);
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** The shim as a layer: the same file (path, mode 0755, root) the Dockerfile's COPY adds. */
export async function shimLayer(shimPath: string, content: string): Promise<Layer> {
  const raw = await tarOf(shimPath, content, 0o755);
  const blob = gzipSync(raw, { level: 9 });
  return { blob, digest: sha256(blob), diffId: sha256(raw), size: blob.length };
}

/**
 * The Dockerfile's changes applied to a config blob: USER root, ENTRYPOINT (which resets the
 * inherited CMD), CMD restated, LABELs merged over the base's; plus the new layer's diff_id and
 * one history entry. Everything else (Env, WorkingDir, …) is kept. `created` stays the base's,
 * so the same inputs give the same digest.
 */
export function rewrapConfig(base: ImageConfigBlob, plan: RewrapPlan, contextHash: string, layer: Pick<Layer, "diffId">): ImageConfigBlob {
  const cfg = structuredClone(base);
  const c = { ...(cfg.config ?? {}) };
  c.User = "root";
  c.Entrypoint = [...plan.entrypoint];
  c.Cmd = plan.cmd ? [...plan.cmd] : null;
  c.Labels = { ...(c.Labels ?? {}), ...plan.labels, [CONTEXT_LABEL]: contextHash };
  cfg.config = c;
  cfg.rootfs = { type: "layers", diff_ids: [...(cfg.rootfs?.diff_ids ?? []), layer.diffId] };
  cfg.history = [
    ...(cfg.history ?? []),
    {
      ...(cfg.created ? { created: cfg.created } : {}),
      created_by: `COPY entrypoint.sh ${plan.shimPath} # mcp-rewrap ${plan.tool.version}: USER root, ENTRYPOINT ${JSON.stringify(plan.entrypoint)}`,
      comment: "mcp-rewrap",
    },
  ];
  return cfg;
}

/** Media types of the family the source uses (Docker schema 2 or OCI). */
export function mediaFamily(manifestType: string): { manifest: string; index: string; config: string; layer: string } {
  return manifestType === MEDIA.dockerManifest || manifestType === MEDIA.dockerList
    ? { manifest: MEDIA.dockerManifest, index: MEDIA.dockerList, config: MEDIA.dockerConfig, layer: MEDIA.dockerLayerGzip }
    : { manifest: MEDIA.ociManifest, index: MEDIA.ociIndex, config: MEDIA.ociConfig, layer: MEDIA.ociLayerGzip };
}

export function rewrapManifest(base: ImageManifest, baseType: string, config: Buffer, layer: Layer): { mediaType: string; bytes: Buffer } {
  const fam = mediaFamily(baseType);
  const m: ImageManifest = {
    schemaVersion: 2,
    mediaType: fam.manifest,
    config: { mediaType: fam.config, digest: sha256(config), size: config.length },
    layers: [...base.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size, ...(l.annotations ? { annotations: l.annotations } : {}) })), { mediaType: fam.layer, digest: layer.digest, size: layer.size }],
  };
  return { mediaType: fam.manifest, bytes: Buffer.from(JSON.stringify(m, null, 2)) };
}

export function rewrapIndex(
  indexType: string,
  children: { mediaType: string; digest: string; size: number; platform: Platform }[],
  annotations: Record<string, string>,
): { mediaType: string; bytes: Buffer } {
  const mediaType = mediaFamily(indexType).index;
  const idx: ImageIndex = { schemaVersion: 2, mediaType, manifests: children.map((c) => ({ ...c })), annotations };
  return { mediaType, bytes: Buffer.from(JSON.stringify(idx, null, 2)) };
}

export const platformString = (p: Platform): string => [p.os, p.architecture, p.variant].filter(Boolean).join("/");

/** The runnable images of an index: attestation manifests (buildx provenance/SBOM, platform unknown/unknown) are left out. */
export function runnableManifests(index: ImageIndex): Descriptor[] {
  return index.manifests.filter(
    (m) => m.platform && m.platform.os !== "unknown" && m.platform.architecture !== "unknown" && !m.annotations?.["vnd.docker.reference.type"],
  );
}

/** Matches `linux/arm64` against a platform (`linux/arm64/v8` matches `linux/arm64`). */
export function platformMatches(want: string, p: Platform): boolean {
  const [os, arch, variant] = want.split("/");
  return p.os === os && p.architecture === arch && (variant === undefined || p.variant === variant);
}

export function checkPlatforms(list: string[]): string[] {
  for (const p of list) {
    if (!/^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/.test(p)) throw new UsageError(`--platform ${p}: give os/arch[/variant], e.g. linux/arm64`);
  }
  return list;
}

// --- the engine: push a built tag ----------------------------------------------------------

/** `docker push` through the Engine API; returns the pushed manifest digest. */
export async function pushWithEngine(docker: Docker, tag: string, progress: Progress): Promise<{ digest: string | null }> {
  const ref: Reference = parseReference(tag);
  const auth = engineAuthConfig(ref.registry, credentialsFor(ref.registry));
  progress(`pushing ${tag} through the engine${auth ? " (credentials from the Docker config)" : ""}`);
  let stream: NodeJS.ReadableStream;
  try {
    const image = docker.getImage(tag.replace(/:[^/:@]+$/, ""));
    stream = (await image.push({ tag: ref.tag ?? "latest", ...(auth ? { authconfig: auth } : {}) })) as NodeJS.ReadableStream;
  } catch (e) {
    throw engineError(e, `pushing ${tag}`);
  }
  let failure: string | null = null;
  let digest: string | null = null;
  const seen = new Set<string>();
  await followStream(docker, stream, (ev) => {
    if (typeof ev.error === "string") failure = ev.error;
    const aux = ev.aux as { Digest?: string } | undefined;
    if (aux?.Digest) digest = aux.Digest;
    const line = [ev.id, ev.status].filter(Boolean).join(": ");
    if (line && !/^[0-9a-f]{12}: (Pushing|Preparing|Waiting)/.test(line) && !seen.has(line)) {
      seen.add(line);
      progress(line);
    }
  }).catch((e: Error) => {
    failure = failure ?? e.message;
  });
  if (failure) throw new RuntimeError(`pushing ${tag}: ${failure}`);
  return { digest };
}

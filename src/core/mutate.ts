/**
 * Pure: a plan -> the changes to the image, once, for both routes (as go-containerregistry's
 * mutate.Config + mutate.Append). The Dockerfile render (core/render.ts) writes these changes as
 * USER/ENTRYPOINT/CMD/LABEL lines; the registry route applies them to the base's config blob,
 * adds the shim as one gzip'd tar layer, writes a new manifest and, for several platforms, an
 * index. Everything else in the config (WorkingDir, …) is kept, Env too but for the image's
 * loader variables, set empty (plan.loader).
 */
import { gzipSync } from "node:zlib";
import { CONTEXT_LABEL } from "./labels.js";
import { type ImageConfigBlob, type ImageIndex, type ImageManifest, type Platform, mediaFamily, sha256 } from "./oci.js";
import { type RewrapPlan, rewrapEnv } from "./plan.js";

/** What the rewrap changes in the container config. Labels merge over the base's. */
export interface ConfigChanges {
  User: string;
  /** Setting ENTRYPOINT resets the inherited CMD, so CMD is restated (null: none). */
  Entrypoint: string[];
  Cmd: string[] | null;
  Labels: Record<string, string>;
  /** Variables set empty (the image's loader variables, plan.loader), in the image's order. */
  Env: string[];
  /** The image's HEALTHCHECK restated to run through the shim as the user (null: the image has none). */
  Healthcheck: { Test: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; Retries?: number } | null;
}

/** THE mutation: the shim runs first as root, then drops to the image's own user. */
export function configChanges(plan: RewrapPlan, contextKey: string): ConfigChanges {
  return {
    User: "root",
    Entrypoint: [...plan.entrypoint],
    Cmd: plan.cmd ? [...plan.cmd] : null,
    Labels: Object.fromEntries(
      Object.entries({ ...plan.labels, [CONTEXT_LABEL]: contextKey }).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    ),
    Env: plan.loader ? plan.loader.vars.map((v) => v.name) : [],
    Healthcheck: plan.healthcheck ? { ...plan.healthcheck.timing, Test: ["CMD", ...plan.healthcheck.cmd] } : null,
  };
}

/** The history entry of the added layer (what the Dockerfile's COPY records, in words). */
export function historyEntry(plan: RewrapPlan): string {
  return `COPY entrypoint.sh ${plan.shimPath} # mcp-rewrap ${plan.tool.version}: USER root, ENTRYPOINT ${JSON.stringify(plan.entrypoint)}`;
}

export interface Layer {
  /** The compressed blob as uploaded. */
  blob: Buffer;
  digest: string;
  /** sha256 of the uncompressed tar: goes into rootfs.diff_ids. */
  diffId: string;
  size: number;
}

/** A tar holding one file, deterministic: fixed mtime, root-owned, no directory entries. */
export async function tarOf(path: string, content: string | Buffer, mode: number, alsoAt?: string): Promise<Buffer> {
  // tar-stream loads with the first layer made, not with configChanges: the Dockerfile render needs only those.
  const tar = await import("tar-stream");
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on("data", (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    pack.on("end", resolve);
    pack.on("error", reject);
  });
  pack.entry({ name: path.replace(/^\/+/, ""), mode, mtime: new Date(0), uid: 0, gid: 0, uname: "root", gname: "root" }, content);
  if (alsoAt) pack.entry({ name: alsoAt.replace(/^\/+/, ""), mode, mtime: new Date(0), uid: 0, gid: 0, uname: "root", gname: "root" }, content);
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** The shim as a layer: the same file (path, mode 0755, root) the Dockerfile's COPY adds (and its healthcheck name, when the image has a HEALTHCHECK). */
export async function shimLayer(shimPath: string, content: string, healthPath?: string): Promise<Layer> {
  const raw = await tarOf(shimPath, content, 0o755, healthPath);
  const blob = gzipSync(raw, { level: 9 });
  return { blob, digest: sha256(blob), diffId: sha256(raw), size: blob.length };
}

/**
 * configChanges applied to a config blob, plus the new layer's diff_id and one history entry.
 * `created` stays the base's, so the same inputs give the same digest.
 */
export function rewrapConfig(base: ImageConfigBlob, plan: RewrapPlan, contextKey: string, layer: Pick<Layer, "diffId">): ImageConfigBlob {
  const cfg = structuredClone(base);
  const ch = configChanges(plan, contextKey);
  const c = { ...(cfg.config ?? {}) };
  c.User = ch.User;
  c.Entrypoint = ch.Entrypoint;
  c.Cmd = ch.Cmd;
  c.Labels = { ...(c.Labels ?? {}), ...ch.Labels };
  if (plan.loader) c.Env = rewrapEnv(c.Env ?? [], plan.loader);
  if (ch.Healthcheck) (c as Record<string, unknown>).Healthcheck = ch.Healthcheck;
  cfg.config = c;
  cfg.rootfs = { type: "layers", diff_ids: [...(cfg.rootfs?.diff_ids ?? []), layer.diffId] };
  cfg.history = [...(cfg.history ?? []), { ...(cfg.created ? { created: cfg.created } : {}), created_by: historyEntry(plan), comment: "mcp-rewrap" }];
  return cfg;
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

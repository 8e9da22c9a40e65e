/**
 * Image facts from a registry, without an engine: the config blob gives user, env, entrypoint,
 * cmd, workdir, labels and platform; the layers, read as tar streams in order with OCI
 * whiteouts applied, give /etc/passwd, /etc/group, which probed paths exist and the mode of
 * /root. The file-system part (LayerTree) is pure and answers exactly as the engine's
 * container stat does: symlinks in parent directories are followed, the last component is not.
 */
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import * as tar from "tar-stream";
import { RuntimeError } from "../errors.js";
import { type ContainerConfigFields, type ImageFacts, PROBE_PATHS, imageConfigFrom } from "../facts.js";
import { type Descriptor, type ImageManifest, type RegistryClient, familiarName, formatReference, type Reference } from "./registry.js";

export interface TreeEntry {
  type: "file" | "directory" | "symlink" | "link" | "other";
  mode: number;
  linkname?: string;
  /** Content, kept only for the paths asked for (small text files). */
  content?: Buffer;
}

/** Normalizes a tar entry name to an absolute path without trailing slash: `./etc/` -> `/etc`. */
export function normalizePath(name: string): string {
  const parts: string[] = [];
  for (const p of name.split("/")) {
    if (!p || p === ".") continue;
    if (p === "..") parts.pop();
    else parts.push(p);
  }
  return `/${parts.join("/")}`;
}

/** A merged view of an image's layers (paths -> entries), built layer by layer. */
export class LayerTree {
  readonly entries = new Map<string, TreeEntry>();
  constructor(private readonly keepContent: Set<string>) {}

  /** Applies one layer, given as its entries in tar order (whiteouts affect only lower layers). */
  applyLayer(layer: { name: string; entry: TreeEntry }[]): void {
    const adds: [string, TreeEntry][] = [];
    for (const { name, entry } of layer) {
      const path = normalizePath(name);
      const slash = path.lastIndexOf("/");
      const dir = path.slice(0, slash) || "/";
      const base = path.slice(slash + 1);
      if (base === ".wh..wh..opq") {
        this.removeBelow(dir);
      } else if (base.startsWith(".wh.")) {
        const target = `${dir === "/" ? "" : dir}/${base.slice(4)}`;
        this.entries.delete(target);
        this.removeBelow(target);
      } else {
        adds.push([path, entry]);
      }
    }
    for (const [path, entry] of adds) {
      const old = this.entries.get(path);
      // A non-directory replacing a directory hides what was below it.
      if (old?.type === "directory" && entry.type !== "directory") this.removeBelow(path);
      this.entries.set(path, entry);
    }
  }

  private removeBelow(dir: string): void {
    const prefix = dir === "/" ? "/" : `${dir}/`;
    for (const k of [...this.entries.keys()]) if (k.startsWith(prefix) && k !== dir) this.entries.delete(k);
  }

  /** Follows symlinks in every component (all when `followLast`), within the image's root. */
  resolve(path: string, followLast: boolean, hops = 0): string | null {
    if (hops > 40) return null;
    const parts = normalizePath(path).split("/").filter(Boolean);
    let cur = "";
    for (let i = 0; i < parts.length; i++) {
      const next = `${cur}/${parts[i]}`;
      const e = this.entries.get(next);
      const last = i === parts.length - 1;
      if (e?.type === "symlink" && (!last || followLast)) {
        const target = e.linkname!.startsWith("/") ? e.linkname! : `${cur || ""}/${e.linkname}`;
        const resolved = this.resolve(target, true, hops + 1);
        if (resolved === null) return null;
        const rest = parts.slice(i + 1).join("/");
        return rest ? this.resolve(`${resolved}/${rest}`, followLast, hops + 1) : resolved;
      }
      cur = next;
    }
    return cur || "/";
  }

  /** Like the engine's stat of a container path: parents resolved, the path itself not followed. */
  lstat(path: string): TreeEntry | null {
    const resolved = this.resolve(path, false);
    if (resolved === null) return null;
    if (resolved === "/") return { type: "directory", mode: 0o755 };
    return this.entries.get(resolved) ?? null;
  }

  /** A file's content, following symlinks and hard links. */
  read(path: string): Buffer | null {
    const resolved = this.resolve(path, true);
    if (resolved === null) return null;
    const e = this.entries.get(resolved);
    if (!e) return null;
    if (e.type === "link" && e.linkname) return this.entries.get(normalizePath(e.linkname))?.content ?? null;
    return e.type === "file" ? e.content ?? null : null;
  }
}

/** The paths whose content facts need, and every path a symlink on the way could point to. */
export const TEXT_PATHS = ["/etc/passwd", "/etc/group"];

/** Facts from a config and a merged tree (pure). */
export function factsFrom(
  ref: string,
  id: string,
  digestRef: string | null,
  config: ImageConfigBlob,
  tree: LayerTree,
): ImageFacts {
  const present = PROBE_PATHS.filter((p) => tree.lstat(p) !== null);
  const root = tree.lstat("/root");
  const text = (p: string) => tree.read(p)?.toString("utf8") ?? null;
  const parsedTag = /:[^/@]+$/.test(ref.replace(/@.*$/, "")) ? [ref.replace(/@.*$/, "")] : [];
  // Where probed symlinks lead, fully resolved (the engine's stat reports the same as linkTarget),
  // e.g. /bin/setpriv -> /bin/busybox: a busybox applet is not the real tool.
  const links: Record<string, string> = {};
  for (const p of present) {
    if (tree.lstat(p)?.type !== "symlink") continue;
    const target = tree.resolve(p, true);
    if (target) links[p] = target;
  }
  const extra = Object.keys(links).length ? { links } : {};
  return {
    ...extra,
    ref,
    id,
    repoTags: parsedTag,
    repoDigests: digestRef ? [digestRef] : [],
    os: config.os ?? "linux",
    architecture: config.architecture ?? "amd64",
    ...(config.variant ? { variant: config.variant } : {}),
    config: imageConfigFrom(config.config),
    passwd: text("/etc/passwd"),
    group: text("/etc/group"),
    present,
    rootMode: root ? root.mode & 0o7777 : null,
  };
}

export interface ImageConfigBlob {
  architecture?: string;
  os?: string;
  variant?: string;
  created?: string;
  config?: ContainerConfigFields & { [k: string]: unknown };
  rootfs?: { type: string; diff_ids: string[] };
  history?: Record<string, unknown>[];
  [k: string]: unknown;
}

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

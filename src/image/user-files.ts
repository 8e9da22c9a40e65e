/**
 * What scan needs of an image that is not local, read from its registry without pulling: the
 * config blob, then /etc/passwd and /etc/group, reading layers from the top down and stopping
 * as soon as both are known (a file in a higher layer hides lower ones; a whiteout or an
 * opaque directory says it is gone). Within a layer the read stops at the entry that settles
 * the last of them. Directories asked for (the parents of mount targets) are recorded with
 * owner and mode when met on the way. Every byte taken from the registry is counted.
 *
 * When /etc/passwd or /etc/group is a link (symlink or hard link), or /etc itself is a
 * symlink, top-down reading cannot settle it: the caller falls back to reading every layer.
 */
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import * as tar from "tar-stream";
import type { Owned } from "../core/access.js";
import { RuntimeError } from "../errors.js";
import { normalizePath } from "./layers.js";
import type { Descriptor, ImageManifest, RegistryClient } from "./registry.js";

export const USER_FILES = ["/etc/passwd", "/etc/group"] as const;

export interface UserFiles {
  passwd: string | null;
  group: string | null;
  /** Owner and mode of the asked-for directories met in the layers read (topmost wins). */
  dirs: Record<string, Owned>;
  /** Layers opened, of how many; bytes read of the layers' compressed size. */
  layersRead: number;
  layers: number;
  layerBytes: number;
  layerTotal: number;
  /** True when a link made top-down reading impossible: read every layer instead. */
  needsFullRead: boolean;
}

type State = { kind: "unknown" } | { kind: "file"; content: Buffer } | { kind: "absent" };

class Stop extends Error {}

/** Orders paths as a tar written by walking directories does: component by component. */
export function comparePaths(a: string, b: string): number {
  const x = a.split("/");
  const y = b.split("/");
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return x[i]! < y[i]! ? -1 : 1;
  }
  return x.length - y.length;
}

/**
 * Pure bookkeeping of one top-down pass, fed tar entries layer by layer. Docker and BuildKit
 * write layer tars in path order; while a layer's entries keep that order, an entry past
 * /etc/passwd (and past every whiteout that could name it, which all sort before it) proves the
 * layer holds nothing more about it, so the read of that layer can stop there.
 */
export class TopDown {
  readonly files = new Map<string, State>(USER_FILES.map((p) => [p, { kind: "unknown" }]));
  readonly dirs: Record<string, Owned> = {};
  needsFullRead = false;
  private hidden: string[] = [];
  private prev: string | null = null;
  private ordered = true;
  constructor(private readonly wantDirs: Set<string>) {}

  get settled(): boolean {
    return this.needsFullRead || [...this.files.values()].every((s) => s.kind !== "unknown");
  }

  /** Whether the rest of the current layer can still matter, having just seen `path`. */
  private layerDone(path: string): boolean {
    if (this.needsFullRead) return true;
    if (!this.ordered) return this.settled;
    if (this.settled) {
      // Done, unless a wanted directory not yet met may still come later in this layer.
      return ![...this.wantDirs].some((d) => !this.dirs[d] && comparePaths(path, d) < 0);
    }
    return [...this.files].every(([f, st]) => st.kind !== "unknown" || comparePaths(path, f) > 0);
  }

  /** One tar entry of the current layer. Resolves true when the rest of the layer is not needed. */
  async entry(name: string, type: string, mode: number, uid: number, gid: number, content: () => Promise<Buffer>): Promise<boolean> {
    const path = normalizePath(name);
    if (this.prev !== null && comparePaths(path, this.prev) < 0) this.ordered = false;
    this.prev = path;
    const slash = path.lastIndexOf("/");
    const dir = path.slice(0, slash) || "/";
    const base = path.slice(slash + 1);
    if (base === ".wh..wh..opq") {
      this.hidden.push(dir === "/" ? "/" : `${dir}/`);
      return this.layerDone(path);
    }
    if (base.startsWith(".wh.")) {
      const target = `${dir === "/" ? "" : dir}/${base.slice(4)}`;
      this.hidden.push(target, `${target}/`);
      return this.layerDone(path);
    }
    if (type === "directory" && this.wantDirs.has(path) && !this.dirs[path]) this.dirs[path] = { uid, gid, mode: mode & 0o7777 };
    if (path === "/etc" && type === "symlink") this.needsFullRead = true;
    const state = this.files.get(path);
    if (state?.kind === "unknown") {
      if (type === "symlink" || type === "link") this.needsFullRead = true;
      else if (type !== "file" && type !== "contiguous-file") this.files.set(path, { kind: "absent" });
      else this.files.set(path, { kind: "file", content: await content() });
    }
    return this.layerDone(path);
  }

  /** The current layer is done: its whiteouts hide what lower layers hold of the files. */
  endLayer(): void {
    for (const [path, s] of this.files) {
      if (s.kind !== "unknown") continue;
      if (this.hidden.some((h) => (h.endsWith("/") ? path.startsWith(h) : path === h))) this.files.set(path, { kind: "absent" });
    }
    this.hidden = [];
    this.prev = null;
    this.ordered = true;
  }

  /** No layer left: files never met do not exist. */
  finish(): void {
    for (const [path, s] of this.files) if (s.kind === "unknown") this.files.set(path, { kind: "absent" });
  }

  text(path: string): string | null {
    const s = this.files.get(path);
    return s?.kind === "file" ? s.content.toString("utf8") : null;
  }
}

export async function readUserFiles(
  client: RegistryClient,
  repo: string,
  manifest: ImageManifest,
  opts: { wantDirs?: string[]; progress?: (line: string) => void } = {},
): Promise<UserFiles> {
  const td = new TopDown(new Set(opts.wantDirs ?? []));
  const layers = manifest.layers;
  let layerBytes = 0;
  let layersRead = 0;
  for (let i = layers.length - 1; i >= 0 && !td.settled; i--) {
    opts.progress?.(`reading layer ${i + 1}/${layers.length} from the top (${(layers[i]!.size / 1e6).toFixed(1)} MB compressed) for /etc/passwd and /etc/group`);
    layersRead++;
    layerBytes += await readLayerTopDown(client, repo, layers[i]!, td);
    td.endLayer();
  }
  if (!td.settled) td.finish();
  return {
    passwd: td.text("/etc/passwd"),
    group: td.text("/etc/group"),
    dirs: td.dirs,
    layersRead,
    layers: layers.length,
    layerBytes,
    layerTotal: layers.reduce((n, l) => n + l.size, 0),
    needsFullRead: td.needsFullRead,
  };
}

/** First range asked of a layer; each next one doubles, up to RANGE_MAX. */
export const RANGE_FIRST = 64 * 1024;
const RANGE_MAX = 4 * 1024 * 1024;

/**
 * A layer blob as a stream of HTTP range requests, asked one at a time as the reader needs
 * them, so stopping early fetches (almost) nothing more. A registry that ignores Range (200)
 * is read as one stream, counted, and cut when the reader stops.
 */
function rangedBlob(client: RegistryClient, repo: string, layer: Descriptor, count: (n: number) => void): Readable {
  let offset = 0;
  let size = RANGE_FIRST;
  async function* chunks(): AsyncGenerator<Buffer> {
    while (offset < layer.size) {
      const end = Math.min(offset + size, layer.size) - 1;
      const res = await client.request("GET", repo, `${repo}/blobs/${layer.digest}`, {
        headers: { Range: `bytes=${offset}-${end}` },
        ok: [200, 206],
        what: `reading layer ${layer.digest.slice(0, 19)} of ${repo}`,
      });
      if (res.status === 200 && offset > 0) throw new RuntimeError(`reading layer ${layer.digest.slice(0, 19)} of ${repo}: the registry stopped honouring Range`);
      if (res.status === 200 || !res.body) {
        // No range support: the whole blob, as it comes.
        for await (const part of (res.body ?? []) as AsyncIterable<Uint8Array>) {
          count(part.length);
          yield Buffer.from(part);
        }
        return;
      }
      const got = Buffer.from(await res.arrayBuffer());
      count(got.length);
      if (!got.length) return;
      offset += got.length;
      size = Math.min(size * 2, RANGE_MAX);
      yield got;
    }
  }
  return Readable.from(chunks(), { objectMode: false });
}

/** Reads one layer into `td` until the rest of it cannot matter; returns the compressed bytes fetched. */
async function readLayerTopDown(client: RegistryClient, repo: string, layer: Descriptor, td: TopDown): Promise<number> {
  if (/zstd/.test(layer.mediaType)) throw new RuntimeError(`layer ${layer.digest} of ${repo} is zstd-compressed, which mcp-rewrap cannot read`);
  let bytes = 0;
  const source = rangedBlob(client, repo, layer, (n) => (bytes += n));
  const gzipped = /gzip/.test(layer.mediaType) || !/tar$/.test(layer.mediaType);
  const extract = tar.extract();
  extract.on("entry", (header, body, next) => {
    let consumed = false;
    const content = () =>
      new Promise<Buffer>((resolve, reject) => {
        consumed = true;
        const chunks: Buffer[] = [];
        body.on("data", (c: unknown) => {
          chunks.push(c as Buffer);
        });
        body.on("end", () => resolve(Buffer.concat(chunks)));
        body.on("error", reject);
      });
    td.entry(header.name, header.type ?? "file", header.mode ?? 0, header.uid ?? 0, header.gid ?? 0, content).then(
      (done) => {
        if (done) {
          extract.destroy(new Stop());
          return;
        }
        if (consumed) next();
        else {
          body.on("end", () => next());
          body.resume();
        }
      },
      (e) => extract.destroy(e as Error),
    );
  });
  try {
    if (gzipped) await pipeline(source, createGunzip(), extract);
    else await pipeline(source, extract);
  } catch (e) {
    source.destroy();
    if (!(e instanceof Stop)) throw new RuntimeError(`reading layer ${layer.digest.slice(0, 19)} of ${repo}: ${(e as Error).message}`);
  }
  return bytes;
}

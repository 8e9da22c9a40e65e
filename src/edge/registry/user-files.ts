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
import { createGunzip } from "node:zlib";
import * as tar from "tar-stream";
import type { Owned } from "../../core/access.js";
import { RuntimeError } from "../../core/errors.js";
import { normalizePath } from "../../core/layer-tree.js";
import type { Descriptor, ImageManifest } from "../../core/oci.js";
import type { RegistryClient } from "./client.js";

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
 * A layer blob as HTTP range requests, each asked only when the reader wants more (a lazy
 * generator: nothing is fetched ahead), so stopping early fetches nothing more. A registry
 * that ignores Range (200) is read as one stream, chunk by chunk, and cut when the reader stops.
 */
async function* rangedBlob(client: RegistryClient, repo: string, layer: Descriptor): AsyncGenerator<Buffer> {
  let offset = 0;
  let size = RANGE_FIRST;
  while (offset < layer.size) {
    const end = Math.min(offset + size, layer.size) - 1;
    const res = await client.request("GET", repo, `${repo}/blobs/${layer.digest}`, {
      headers: { Range: `bytes=${offset}-${end}` },
      ok: [200, 206],
      what: `reading layer ${layer.digest.slice(0, 19)} of ${repo}`,
    });
    if (res.status === 200 && offset > 0) throw new RuntimeError(`reading layer ${layer.digest.slice(0, 19)} of ${repo}: the registry stopped honouring Range`);
    if (res.status === 200) {
      if (!res.body) return;
      for await (const part of res.body as unknown as AsyncIterable<Uint8Array>) yield Buffer.from(part);
      return;
    }
    const got = Buffer.from(await res.arrayBuffer());
    if (!got.length) return;
    offset += got.length;
    size = Math.min(size * 2, RANGE_MAX);
    yield got;
  }
}

/** Reads one layer into `td` until the rest of it cannot matter; returns the compressed bytes fetched. */
async function readLayerTopDown(client: RegistryClient, repo: string, layer: Descriptor, td: TopDown): Promise<number> {
  if (/zstd/.test(layer.mediaType)) throw new RuntimeError(`layer ${layer.digest} of ${repo} is zstd-compressed, which mcp-rewrap cannot read`);
  let bytes = 0;
  const gzipped = /gzip/.test(layer.mediaType) || !/tar$/.test(layer.mediaType);
  const gunzip = gzipped ? createGunzip() : null;
  const extract = tar.extract();
  let finished = false;
  let failure: Error | null = null;
  let settle!: () => void;
  const done = new Promise<void>((r) => (settle = r));
  // Ends the read once: on the last entry needed, at the end of the layer, or on an error
  // (errors after that, from streams being torn down, are ignored).
  const finish = (err?: Error) => {
    if (finished) return;
    finished = true;
    if (err) failure = err;
    gunzip?.destroy();
    extract.destroy();
    settle();
  };
  extract.on("entry", (header, body, next) => {
    let consumed = false;
    const content = () =>
      new Promise<Buffer>((res, rej) => {
        consumed = true;
        const chunks: Buffer[] = [];
        body.on("data", (c: unknown) => {
          chunks.push(c as Buffer);
        });
        body.on("end", () => res(Buffer.concat(chunks)));
        body.on("error", rej);
      });
    td.entry(header.name, header.type ?? "file", header.mode ?? 0, header.uid ?? 0, header.gid ?? 0, content).then(
      (stop) => {
        if (stop || finished) return finish();
        if (consumed) next();
        else {
          body.on("end", () => next());
          body.resume();
        }
      },
      (e) => finish(e as Error),
    );
  });
  extract.on("finish", () => finish());
  for (const st of [gunzip, extract]) st?.on("error", (e: Error) => finish(e));
  if (gunzip) gunzip.pipe(extract);
  const sink = gunzip ?? extract;
  try {
    for await (const chunk of rangedBlob(client, repo, layer)) {
      bytes += chunk.length;
      // Wait until this chunk is taken in (or the reader is done), then one turn of the event
      // loop for the entry decisions, before asking the registry for more.
      await Promise.race([new Promise<void>((r) => sink.write(chunk, () => r())), done]);
      await new Promise((r) => setImmediate(r));
      if (finished) break;
    }
  } catch (e) {
    finish(e as Error);
  }
  if (!finished) {
    (sink as NodeJS.WritableStream).end();
    await done;
  }
  if (failure) throw new RuntimeError(`reading layer ${layer.digest.slice(0, 19)} of ${repo}: ${(failure as Error).message}`);
  return bytes;
}

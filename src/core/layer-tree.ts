/**
 * Pure: an image's file system from its layers (OCI whiteouts applied), answering as the
 * engine's container stat does: symlinks in parent directories are followed, the last
 * component is not. The registry edge (edge/registry/blobs.ts) feeds it layer by layer.
 */
import { type ImageFacts, PROBE_PATHS, imageConfigFrom } from "./facts.js";
import type { ImageConfigBlob } from "./oci.js";

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

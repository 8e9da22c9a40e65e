/**
 * The facts cache. An image ID names immutable content, so what is read from its files never
 * changes: it is kept under $MCP_REWRAP_CACHE, else $XDG_CACHE_HOME/mcp-rewrap, else
 * ~/.cache/mcp-rewrap (in facts/), keyed by the ID and by what is read (so a new probe list
 * never sees an old answer). Saves creating a container on every build; MCP_REWRAP_NO_CACHE=1
 * turns it off. A broken entry is ignored and rewritten.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/** What the engine edge reads from an image's files. */
export interface ImageFiles {
  text: Record<string, string>;
  present: string[];
  links: Record<string, string>;
  modes: Record<string, number>;
}

/** The cache directory (see the module comment). */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.MCP_REWRAP_CACHE) return env.MCP_REWRAP_CACHE;
  const base = env.XDG_CACHE_HOME && env.XDG_CACHE_HOME.startsWith("/") ? env.XDG_CACHE_HOME : join(homedir(), ".cache");
  return join(base, "mcp-rewrap");
}

export async function cachedImageFiles(
  imageId: string,
  textPaths: string[],
  probePaths: string[],
  modePath: string,
  read: () => Promise<ImageFiles>,
): Promise<ImageFiles> {
  if (process.env.MCP_REWRAP_NO_CACHE) return read();
  const key = createHash("sha256").update(JSON.stringify({ v: 1, imageId, textPaths, probePaths, modePath })).digest("hex");
  const dir = join(cacheDir(), "facts");
  const file = join(dir, `${key}.json`);
  try {
    return JSON.parse(readFileSync(file, "utf8")) as ImageFiles;
  } catch {
    /* not cached yet */
  }
  const files = await read();
  try {
    mkdirSync(dir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(files));
    renameSync(tmp, file);
  } catch {
    /* a cache we cannot write is no cache */
  }
  return files;
}


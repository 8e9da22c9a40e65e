/**
 * The file-system edge: the package's templates, recorded facts and catalog files read in; build
 * contexts and small results written out, each file through a temporary name; temporary
 * directories that are removed on every exit path (see edge/cleanup.ts for signals).
 */
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import type { ParsedCatalog } from "../core/catalog.js";
import { RuntimeError, UsageError } from "../core/errors.js";
import { type ImageFacts, factsProblems } from "../core/facts.js";
import { sameImage } from "../core/reference.js";
import type { RenderedFile, Templates } from "../core/render.js";
import { onCleanup } from "./cleanup.js";
import { packageRoot } from "./version.js";

export function loadTemplates(dir: string): Templates {
  return {
    dockerfile: readFileSync(join(dir, "Dockerfile.hbs"), "utf8"),
    shim: readFileSync(join(dir, "entrypoint.sh.hbs"), "utf8"),
  };
}

let loaded: Templates | null = null;
/** The package's templates/, read once per process. */
export function templates(): Templates {
  loaded ??= loadTemplates(join(packageRoot(), "templates"));
  return loaded;
}

const why = (e: unknown) => (e as NodeJS.ErrnoException).code ?? (e as Error).message;

/** Errors of the machine, not of the path given: a full disk or quota, an I/O error, no file descriptors or memory left. */
const RESOURCE_CODES = new Set(["ENOSPC", "EDQUOT", "EIO", "EMFILE", "ENFILE", "ENOMEM"]);

/**
 * A failed write to PATH: exit 3 (runtime) when the machine failed (a full disk: the same --out
 * works once there is room), else exit 2 (usage: choose another --out).
 */
function writeFailure(path: string, what: string, e: unknown): Error {
  const code = (e as NodeJS.ErrnoException).code ?? "";
  if (RESOURCE_CODES.has(code)) {
    return new RuntimeError(`--out ${path}: cannot ${what} (${code}${code === "ENOSPC" || code === "EDQUOT" ? ": no space left there" : ""}); free some space there, or choose another --out`);
  }
  return new UsageError(`--out ${path}: cannot ${what} (${why(e)}); choose another --out`);
}

/**
 * A recorded facts file (the facts.json that generate writes); `ref` overrides the recorded
 * reference. `named`: how errors name the file (default "--facts PATH"; `images` names the file).
 */
export function readFactsFile(path: string, ref?: string, named = `--facts ${path}`): ImageFacts {
  let facts: ImageFacts;
  try {
    // A byte-order mark (some editors write one) is not part of the JSON.
    facts = JSON.parse(readFileSync(path, "utf8").replace(/^\uFEFF/, "")) as ImageFacts;
  } catch (e) {
    throw new UsageError(`${named}: ${(e as Error).message.split("\n")[0]}; give a facts.json that mcp-rewrap generate wrote`);
  }
  for (const key of ["ref", "id", "config", "present"] as const) {
    if (!facts || typeof facts !== "object" || !(key in facts)) throw new UsageError(`${named}: not an mcp-rewrap facts file (no "${key}"); give a facts.json that mcp-rewrap generate wrote`);
  }
  // Each field of the type mcp-rewrap writes (a hand-written or edited file rendered nonsense:
  // a string cmd became CMD ["n","o","d","e"]).
  const problems = factsProblems(facts);
  if (problems.length) throw new UsageError(`${named}: ${problems.slice(0, 3).join("; ")}${problems.length > 3 ? ` (and ${problems.length - 3} more)` : ""}; fix the file, or write it again with mcp-rewrap generate`);
  if (!ref || ref === facts.ref) return facts;
  // The image named may be written another way (mcp/kubernetes for mcp/kubernetes:latest), but
  // must be the one the file records: another image's facts would plan its user, entrypoint and
  // digest under this name (generate busybox --facts kubernetes' facts.json).
  if (!sameImage(ref, facts.ref)) {
    throw new UsageError(`${named} records the facts of ${facts.ref}, not of ${ref}; name the image it records, or give the facts file of ${ref}`);
  }
  return { ...facts, ref };
}

/** A catalog file, parsed (core/catalog.ts and yaml load on the first call: only catalog, scan and build --catalog read one). */
export async function readCatalogFile(path: string): Promise<ParsedCatalog> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new UsageError(`${path}: cannot read (${why(e)}); check the path`);
  }
  // YAML is Unicode text: bytes that are not UTF-8 are refused, not replaced (U+FFFD would reach
  // the judged paths and the written entry).
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new UsageError(`${path}: not UTF-8 text; a catalog is a YAML file in UTF-8`);
  }
  const { parseCatalog } = await import("../core/catalog.js");
  return parseCatalog(text, path);
}

/** The folders of DIR that hold a facts.json (the committed contexts under images/), sorted. */
export function listImageDirs(root: string): { server: string; dir: string; facts: ImageFacts }[] {
  if (!existsSync(root)) throw new UsageError(`${root}: no such directory; give the directory that holds <server>/facts.json, e.g. images`);
  if (!statSync(root).isDirectory()) throw new UsageError(`${root}: not a directory; give the directory that holds <server>/facts.json, e.g. images`);
  return readdirSync(root)
    .filter((n) => {
      try {
        return statSync(join(root, n)).isDirectory() && existsSync(join(root, n, "facts.json"));
      } catch {
        // A dangling symlink (or an entry gone meanwhile) is no folder of a context.
        return false;
      }
    })
    .sort()
    .map((server) => {
      const file = join(root, server, "facts.json");
      return { server, dir: join(root, server), facts: readFactsFile(file, undefined, file) };
    });
}

/** Files of `dir` whose bytes differ from `files` (or are missing). */
export function staleFiles(dir: string, files: RenderedFile[]): string[] {
  return files
    .filter((f) => {
      const p = join(dir, f.path);
      return !existsSync(p) || !readFileSync(p).equals(Buffer.from(f.content));
    })
    .map((f) => f.path);
}

/**
 * mkdir -p, one level at a time (Node's recursive mkdirSync never returns for a path under
 * /proc); returns the first directory it created, or null. On failure it removes what it made.
 */
function makeDirs(dir: string): string | null {
  const missing: string[] = [];
  for (let p = dir; !existsSync(p); p = dirname(p)) {
    missing.unshift(p);
    if (dirname(p) === p) break;
  }
  try {
    for (const m of missing) mkdirSync(m);
  } catch (e) {
    if (missing[0] && existsSync(missing[0])) rmSync(missing[0], { recursive: true, force: true });
    throw e;
  }
  return missing[0] ?? null;
}

/** What is at `path` when it is not a regular file ("a symlink", "a directory", ...), else null (also when nothing is). */
function notRegular(path: string): string | null {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return null;
  }
  if (st.isFile()) return null;
  if (st.isSymbolicLink()) return "a symlink";
  if (st.isDirectory()) return "a directory";
  if (st.isFIFO()) return "a FIFO";
  if (st.isSocket()) return "a socket";
  return "a device";
}

/**
 * Writes files into dir: all of them first through temporary names, then each renamed into place,
 * so a failure (a full disk, say) leaves neither a half-written file nor a mix of old and new
 * files. Refused before anything is written: a Dockerfile mcp-rewrap did not generate, a file
 * name held by something that is not a regular file, and files of ours (entrypoint.sh,
 * rewrap.json, ...) in a directory without a Dockerfile (they would be somebody else's).
 */
export function writeContext(dir: string, files: RenderedFile[]): string {
  const out = resolve(dir);
  if (existsSync(out) && !statSync(out).isDirectory()) throw new UsageError(`--out ${dir}: not a directory; give a directory (made when missing)`);
  for (const f of files) {
    const what = notRegular(join(out, f.path));
    if (what) throw new UsageError(`--out ${dir}: ${join(out, f.path)} is ${what}, not a file mcp-rewrap wrote; give another --out directory`);
  }
  const foreign = foreignDockerfile(out);
  if (foreign) throw new UsageError(`--out ${dir}: ${foreign} exists and was not generated by mcp-rewrap; give another --out directory, or move that Dockerfile away`);
  if (!existsSync(join(out, "Dockerfile"))) {
    // facts.json is the input beside its context (images/<server>/, generate --facts DIR/facts.json).
    const theirs = files.filter((f) => f.path !== "facts.json").map((f) => join(out, f.path)).filter((p) => existsSync(p));
    if (theirs.length) throw new UsageError(`--out ${dir}: ${theirs.join(", ")} ${theirs.length === 1 ? "exists" : "exist"} without a Dockerfile mcp-rewrap generated beside ${theirs.length === 1 ? "it" : "them"}: not written over; give another --out directory, or move ${theirs.length === 1 ? "it" : "them"} away`);
  }
  let created: string | null;
  try {
    created = makeDirs(out);
  } catch (e) {
    throw writeFailure(dir, "create the directory", e);
  }
  const written: string[] = [];
  try {
    for (const f of files) {
      const tmp = join(out, `.${f.path}.mcp-rewrap-tmp`);
      const taken = notRegular(tmp);
      if (taken) throw new Error(`${tmp} is ${taken}`);
      written.push(tmp);
      writeFileSync(tmp, f.content, { mode: f.mode });
    }
  } catch (e) {
    for (const tmp of written) {
      try {
        rmSync(tmp, { force: true });
      } catch {
        /* never made */
      }
    }
    if (created) rmSync(created, { recursive: true, force: true });
    throw writeFailure(dir, "write there", e);
  }
  // Renames need no space: once every file is written, they all go into place.
  for (const f of files) renameSync(join(out, `.${f.path}.mcp-rewrap-tmp`), join(out, f.path));
  return out;
}

/** The path of a Dockerfile in `dir` that mcp-rewrap did not generate, or null. */
export function foreignDockerfile(dir: string): string | null {
  const file = join(dir, "Dockerfile");
  if (!existsSync(file)) return null;
  try {
    return readFileSync(file, "utf8").startsWith("# Generated by mcp-rewrap ") ? null : file;
  } catch {
    return file;
  }
}

/** Creates a directory and its parents (e.g. ~/.docker/mcp/catalogs for catalog --install). */
export function ensureDir(dir: string): void {
  try {
    makeDirs(dir);
  } catch (e) {
    throw new UsageError(`${dir}: cannot create (${why(e)})`);
  }
}

/** One file written through a temporary name: the old one stays whole when the write fails. */
export function writeFileAtomic(file: string, content: string): void {
  // Renaming over a device, a FIFO or a symlink would replace it with a regular file
  // (--out /dev/null as root): refused.
  const what = notRegular(file);
  if (what) throw new UsageError(`--out ${file}: ${what}; give the path of a file to write (it is replaced)`);
  const taken = notRegular(`${file}.mcp-rewrap-tmp`);
  if (taken) throw new UsageError(`--out ${file}: ${file}.mcp-rewrap-tmp is ${taken}; move it away`);
  try {
    writeFileSync(`${file}.mcp-rewrap-tmp`, content);
    renameSync(`${file}.mcp-rewrap-tmp`, file);
  } catch (e) {
    rmSync(`${file}.mcp-rewrap-tmp`, { force: true });
    throw writeFailure(file, "write", e);
  }
}

/** A fresh directory under the system's temp dir, and its removal (also on SIGINT/SIGTERM). */
export function tempDir(prefix: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), `mcp-rewrap-${prefix}-`));
  const untrack = onCleanup(() => removePath(path));
  return {
    path,
    remove: () => {
      removePath(path);
      untrack();
    },
  };
}

/** Runs `fn` with a temporary directory that is removed afterwards, whatever happens. */
export async function withTempDir<T>(prefix: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const t = tempDir(prefix);
  try {
    return await fn(t.path);
  } finally {
    t.remove();
  }
}

export const pathExists = (p: string): boolean => existsSync(p);

/** rm -rf, never throws (a path below a file, for one, is simply not there). */
export function removePath(p: string): void {
  try {
    rmSync(p, { recursive: true, force: true });
  } catch {
    /* nothing there to remove */
  }
}

/**
 * The commands, as plain async functions: each composes the edges (engine, file system) with
 * the pure core (plan, render, diagnose). cli.ts only parses arguments and calls these.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import type Docker from "dockerode";
import { EXIT, PlanError, RuntimeError, UsageError } from "./errors.js";
import { type ImageFacts, resolveUser } from "./facts.js";
import { type Diagnosis, diagnose } from "./diagnose.js";
import { LABEL, type PlanOptions, type RewrapPlan, checkImageRef, checkTag, defaultTag, planRewrap, platformOf } from "./plan.js";
import { CONTEXT_LABEL, type RenderedFile, type Templates, contextHash, loadTemplates, renderContext, stableJson } from "./render.js";
import { PROJECT_URL, VERSION, packageRoot } from "./version.js";
import { connect, engineHost, enginePlatform, engineOrNull, inspectImage, ping, readImageFacts, type Progress } from "./image/engine.js";
import { RegistryClient, parseReference } from "./image/registry.js";
import { buildContext } from "./image/build.js";
import { type MountSpec, type Verdict, runVerify } from "./verify.js";
import {
  BUILTIN,
  type CatalogFormat,
  type CatalogServer,
  catalogYaml,
  catalogsDir,
  configKeys,
  readCatalogFile,
  rewrappedEntry,
  usageCommands,
} from "./catalog.js";

export interface CommonOptions {
  pull?: boolean;
  progress: Progress;
  /** A recorded facts file to use instead of the engine. */
  facts?: string;
}

export interface RewrapOptions extends CommonOptions {
  mounts?: string[];
  env?: string[];
  tag?: string;
  force?: boolean;
  out?: string;
}

let engine: Docker | null = null;
async function docker(): Promise<Docker> {
  if (!engine) {
    const d = connect();
    await ping(d);
    engine = d;
  }
  return engine;
}

export async function getFacts(ref: string, opts: CommonOptions): Promise<ImageFacts> {
  checkImageRef(ref);
  if (opts.facts) return readFactsFile(opts.facts, ref);
  return readImageFacts(await docker(), ref, { pull: opts.pull, progress: opts.progress });
}

export function readFactsFile(path: string, ref?: string): ImageFacts {
  let facts: ImageFacts;
  try {
    facts = JSON.parse(readFileSync(path, "utf8")) as ImageFacts;
  } catch (e) {
    throw new UsageError(`--facts ${path}: ${(e as Error).message}`);
  }
  for (const key of ["ref", "id", "config", "present"] as const) {
    if (!(key in facts)) throw new UsageError(`--facts ${path}: not an mcp-rewrap facts file (no "${key}")`);
  }
  return ref && ref !== facts.ref ? { ...facts, ref } : facts;
}

export async function inspectCommand(ref: string, opts: CommonOptions): Promise<Diagnosis> {
  return diagnose(await getFacts(ref, opts), VERSION);
}

export function planFor(facts: ImageFacts, opts: RewrapOptions): RewrapPlan {
  const planOpts: PlanOptions = {
    version: VERSION,
    projectUrl: PROJECT_URL,
    ...(opts.mounts ? { mounts: opts.mounts } : {}),
    ...(opts.env ? { env: opts.env } : {}),
    ...(opts.tag ? { tag: opts.tag } : {}),
    ...(opts.force ? { force: true } : {}),
  };
  return planRewrap(facts, planOpts);
}

let loaded: Templates | null = null;
/** The package's templates/, read once per process. */
export function templates(): Templates {
  loaded ??= loadTemplates(join(packageRoot(), "templates"));
  return loaded;
}

export function render(plan: RewrapPlan, facts: ImageFacts): RenderedFile[] {
  const files = renderContext(plan, templates());
  return [...files, { path: "facts.json", content: stableJson(facts), mode: 0o644 }];
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

/** Writes files into dir, each through a temporary name, so a failure leaves no half-written file. */
export function writeContext(dir: string, files: RenderedFile[]): string {
  const out = resolve(dir);
  let created: string | null;
  try {
    created = makeDirs(out);
  } catch (e) {
    throw new UsageError(`--out ${dir}: cannot create the directory (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const written: string[] = [];
  try {
    for (const f of files) {
      const tmp = join(out, `.${f.path}.mcp-rewrap-tmp`);
      written.push(tmp);
      writeFileSync(tmp, f.content, { mode: f.mode });
      renameSync(tmp, join(out, f.path));
    }
  } catch (e) {
    for (const tmp of written) rmSync(tmp, { force: true });
    if (created) rmSync(created, { recursive: true, force: true });
    throw new UsageError(`--out ${dir}: cannot write there (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return out;
}

export interface GenerateResult {
  plan: RewrapPlan;
  dir: string;
  files: RenderedFile[];
}

export async function generateCommand(ref: string, opts: RewrapOptions): Promise<GenerateResult> {
  return generateFrom(await getFacts(ref, opts), opts);
}

function generateFrom(facts: ImageFacts, opts: RewrapOptions, plan = planFor(facts, opts)): GenerateResult {
  const files = render(plan, facts);
  const dir = writeContext(opts.out ?? join("images", plan.name), files);
  return { plan, dir, files };
}

export interface BuildCommandResult extends GenerateResult {
  tag: string;
  id: string;
  /** True when an image with the same context hash already had the tag: nothing was built. */
  upToDate: boolean;
}

export async function buildCommand(ref: string, opts: RewrapOptions & { rebuild?: boolean }): Promise<BuildCommandResult> {
  const d = await docker();
  const facts = await getFacts(ref, opts);
  const plan = planFor(facts, opts);
  // Checked before anything is written: an image of another platform would build, but not run here.
  const here = await enginePlatform(d);
  const wants = `${facts.os}/${facts.architecture}`;
  if (wants !== here) {
    throw new PlanError(
      `${ref} is a ${platformOf(facts)} image and the engine at ${engineHost()} runs ${here}: the rewrapped image could not run here. Build it on a ${platformOf(facts)} engine (\`mcp-rewrap generate\` writes the context), or rewrap it in its registry: \`mcp-rewrap build IMAGE --push --platform ${platformOf(facts)} --tag REGISTRY/NAME:TAG\``,
    );
  }
  const outDir = resolve(opts.out ?? join("images", plan.name));
  const existed = existsSync(outDir);
  const gen = generateFrom(facts, opts, plan);
  try {
    return await buildGenerated(d, gen, opts);
  } catch (e) {
    // A failed build leaves nothing behind: not even the context directory it made.
    if (!existed) rmSync(outDir, { recursive: true, force: true });
    throw e;
  }
}

async function buildGenerated(d: Docker, gen: GenerateResult, opts: RewrapOptions & { rebuild?: boolean }): Promise<BuildCommandResult> {
  const want = contextHash(gen.plan, templates());
  const existing = await inspectImage(d, gen.plan.tag);
  if (!opts.rebuild && existing && existing.Config?.Labels?.[CONTEXT_LABEL] === want) {
    opts.progress(`${gen.plan.tag} is up to date (same base ${gen.plan.source.digest ?? gen.plan.source.id}, mcp-rewrap ${VERSION} and options); nothing built`);
    return { ...gen, tag: gen.plan.tag, id: existing.Id, upToDate: true };
  }
  opts.progress(`building ${gen.plan.tag} from ${gen.plan.source.from}`);
  const built = await buildContext(d, gen.files, { tag: gen.plan.tag, progress: opts.progress });
  if (!built.id) throw new RuntimeError(`building ${gen.plan.tag}: no image ID`);
  if (existing && existing.Id !== built.id && existing.Config?.Labels?.[LABEL.version]) {
    await removeSuperseded(d, existing.Id, gen.plan.tag, opts.progress);
  }
  return { ...gen, tag: built.tag, id: built.id, upToDate: false };
}

/**
 * The rewrap the tag held before is now untagged: remove it rather than leave a dangling image
 * per rebuild. Never forced, so an image a container still uses, or that has another tag, stays.
 */
async function removeSuperseded(d: Docker, id: string, tag: string, progress: Progress): Promise<void> {
  try {
    await d.getImage(id).remove();
    progress(`removed ${id.slice(0, 19)}, the rewrap ${tag} held before`);
  } catch {
    /* in use or tagged elsewhere: kept */
  }
}

// --- verify, catalog, scan --------------------------------------------------------------

export interface VerifyCommandOptions extends CommonOptions {
  mounts: MountSpec[];
  mcp?: boolean;
  timeoutMs?: number;
}

export async function verifyCommand(images: string[], opts: VerifyCommandOptions): Promise<Verdict[]> {
  const out: Verdict[] = [];
  for (const image of images) {
    const facts = await getFacts(image, opts);
    let uid = 0;
    try {
      uid = resolveUser(facts).uid;
    } catch {
      /* judged by the probe */
    }
    // The gateway runs with --pull never: verify the local image by the ID we just inspected.
    out.push(await runVerify(image, { entrypoint: facts.config.entrypoint, labels: facts.config.labels, uid }, opts));
  }
  return out;
}

export interface CatalogCommandOptions extends CommonOptions {
  server: string;
  from?: string;
  format: CatalogFormat;
  out?: string;
  tag?: string;
  /** Write the file into ~/.docker/mcp/catalogs/ (where gateways >= 0.43.1 accept it). */
  install?: boolean;
  /** Home directory for --install and the printed commands (default: os.homedir()). */
  home?: string;
}

export interface CatalogCommandResult {
  file: string;
  yaml: string;
  entry: CatalogServer;
  commands: string[];
  /** Keys of the original entry the gateway does not read, left out of the file. */
  dropped: string[];
}

/** Whether `tag` exists in the local engine or, failing that, in its registry. */
async function tagExists(tag: string): Promise<{ found: boolean; where: string }> {
  const d = await engineOrNull();
  if (d && (await inspectImage(d, tag))) return { found: true, where: "the local engine" };
  const ref = parseReference(tag);
  try {
    const head = await new RegistryClient(ref.registry).headManifest(ref.repository, ref.digest ?? ref.tag ?? "latest");
    return { found: !!head, where: ref.registry };
  } catch (e) {
    return { found: false, where: `${ref.registry} (${(e as Error).message})` };
  }
}

export async function catalogCommand(image: string, opts: CatalogCommandOptions): Promise<CatalogCommandResult> {
  let original: CatalogServer | undefined;
  if (opts.from) {
    const cat = readCatalogFile(opts.from);
    original = cat.servers[opts.server];
    if (!original) {
      throw new UsageError(`${opts.from} has no server ${JSON.stringify(opts.server)} (it has: ${Object.keys(cat.servers).join(", ") || "none"})`);
    }
  } else {
    original = BUILTIN[opts.server];
    if (!original) {
      throw new UsageError(`no built-in entry for ${JSON.stringify(opts.server)} (built in: ${Object.keys(BUILTIN).join(", ")}); pass --from CATALOG.yaml`);
    }
  }
  // The image argument is the rewrapped tag, or an original image whose default tag we use.
  let target = opts.tag ?? image;
  let source = original.image ?? image;
  if (!opts.tag && !image.startsWith("mcp-rewrap/")) {
    const facts = await getFacts(image, opts).catch(() => null);
    if (facts && !facts.config.labels[LABEL.version]) {
      target = defaultTag(facts.ref, facts.id);
      source = image;
    }
  }
  checkTag(target);
  const exists = await tagExists(target);
  if (!exists.found) {
    throw Object.assign(
      new Error(
        `${target}: not built: neither the local engine nor ${exists.where} has it; run \`mcp-rewrap build ${source}${target === defaultTagOrNull(source) ? "" : ` --tag ${target}`}\` first (add --push to publish it), then run catalog again`,
      ),
      { exitCode: EXIT.problem },
    );
  }
  const entry = rewrappedEntry(opts.server, original, target);
  const { yaml, dropped } = catalogYaml(opts.server, entry, opts.format);
  const home = opts.home ?? homedir();
  const catalogs = catalogsDir(home);
  const name = `${opts.server}.${opts.format === "profile" ? "server" : "catalog"}.yaml`;
  const file = opts.install ? join(catalogs, name) : resolve(opts.out ?? name);
  if (opts.install && opts.out) throw new UsageError("give --install or --out, not both");
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(`${file}.mcp-rewrap-tmp`, yaml);
    renameSync(`${file}.mcp-rewrap-tmp`, file);
  } catch (e) {
    rmSync(`${file}.mcp-rewrap-tmp`, { force: true });
    throw new UsageError(`${opts.install ? "--install" : "--out"} ${file}: cannot write (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (dropped.length) opts.progress(`not written (the gateway does not read them): ${dropped.join(", ")}`);
  const installed = file.startsWith(`${catalogs}/`);
  return { file, yaml, entry, dropped, commands: usageCommands(opts.server, file, opts.format, configKeys(entry), { catalogs, installed }) };
}

function defaultTagOrNull(ref: string): string | null {
  try {
    return defaultTag(ref, "");
  } catch {
    return null;
  }
}

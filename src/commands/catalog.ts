/**
 * `mcp-rewrap catalog IMAGE --server NAME`: write a gateway catalog entry that points at the
 * rewrapped image. Only `image` changes; the file holds only what the gateway reads (keys it
 * would ignore are named on stderr). The tag must exist (locally or in its registry), else
 * exit 1 with the build command. `--install` writes into ~/.docker/mcp/catalogs, the only
 * place gateways >= 0.43.1 take local catalog files from.
 */
import { realpathSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import {
  BUILTIN,
  type CatalogFormat,
  type CatalogServer,
  catalogYaml,
  catalogsDir,
  configKeys,
  rewrappedEntry,
  serverNameProblem,
  usageCommands,
} from "../core/catalog.js";
import { EXIT, UsageError } from "../core/errors.js";
import { LABEL } from "../core/labels.js";
import { checkTag, manifestRef, parseReference, rewrapTag } from "../core/reference.js";
import { engineOrNull, inspectImage } from "../edge/engine.js";
import { ensureDir, readCatalogFile, writeFileAtomic } from "../edge/fs.js";
import { readPublished } from "../edge/registry/blobs.js";
import { Registries, RegistryClient } from "../edge/registry/client.js";
import { type CommonOptions, getFacts } from "./shared.js";

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
  /** The entry as written (without the dropped keys). */
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
    const head = await new RegistryClient(ref.registry).headManifest(ref.repository, manifestRef(ref));
    return { found: !!head, where: ref.registry };
  } catch (e) {
    return { found: false, where: `${ref.registry} (${(e as Error).message})` };
  }
}

export async function catalogCommand(image: string, opts: CatalogCommandOptions): Promise<CatalogCommandResult> {
  if (opts.install && opts.out) throw new UsageError("give --install or --out, not both");
  const nameProblem = serverNameProblem(opts.server);
  if (nameProblem) throw new UsageError(`--server ${nameProblem}`);
  if (opts.from && opts.out && sameFile(opts.from, opts.out)) {
    throw new UsageError(`--out ${opts.out} is the catalog --from reads: writing the one entry there would replace the whole catalog; give another --out`);
  }
  let original: CatalogServer | undefined;
  if (opts.from) {
    const cat = await readCatalogFile(opts.from);
    original = Object.hasOwn(cat.servers, opts.server) ? cat.servers[opts.server] : undefined;
    if (!original) {
      throw new UsageError(`${opts.from} has no server ${JSON.stringify(opts.server)} (it has: ${Object.keys(cat.servers).join(", ") || "none"})`);
    }
  } else {
    original = Object.hasOwn(BUILTIN, opts.server) ? BUILTIN[opts.server] : undefined;
    if (!original) {
      throw new UsageError(`no built-in entry for ${JSON.stringify(opts.server)} (built in: ${Object.keys(BUILTIN).join(", ")}); pass --from CATALOG.yaml`);
    }
  }
  // The image argument is the rewrapped tag, or an original image whose default tag we use.
  let target = opts.tag ?? image;
  let source = original.image ?? image;
  // Unknown when the image's facts cannot be read: then the registry's labels decide, below.
  let unread: string | null = null;
  if (!opts.tag && !image.startsWith("mcp-rewrap/")) {
    const facts = await getFacts(image, opts).catch((e: Error) => {
      unread = e.message;
      return null;
    });
    if (facts && !facts.config.labels[LABEL.version]) {
      target = rewrapTag(facts.ref, { id: facts.id });
      source = image;
    }
  }
  checkTag(target);
  const exists = await tagExists(target);
  if (exists.found && unread !== null && exists.where !== "the local engine") {
    // The image named is in its registry, but is it a rewrap (one pushed with build --push)?
    // Writing an original's name would install the unfixed image: its labels say.
    const published = await readPublished(new Registries(), target).catch(() => null);
    const labels = published ? Object.values(published.labels) : [];
    if (!published) {
      throw Object.assign(
        new Error(`${image}: cannot tell whether it is a rewrap (${unread}; nor could its registry image be read): name the rewrapped image (mcp-rewrap/… or the tag it was pushed as) where it can be read`),
        { exitCode: EXIT.runtime },
      );
    }
    if (!labels.length || !labels.every((l) => l[LABEL.version])) {
      throw Object.assign(
        new Error(`${image} is not a rewrap (its image in ${exists.where} carries no mcp-rewrap labels), and its rewrap cannot be looked up without its facts (${unread}): run \`mcp-rewrap build ${image}\` (add --push --tag REGISTRY/NAME:TAG to publish it), then run catalog on the rewrap`),
        { exitCode: EXIT.problem },
      );
    }
  }
  if (!exists.found) {
    const build = `mcp-rewrap build ${source}${target === rewrapTag(source) ? "" : ` --tag ${target}`}`;
    throw Object.assign(
      new Error(`${target}: not built: neither the local engine nor ${exists.where} has it; run \`${build}\` first (add --push to publish it), then run catalog again`),
      { exitCode: EXIT.problem },
    );
  }
  const entry = rewrappedEntry(opts.server, original, target);
  const { yaml, dropped, written } = catalogYaml(opts.server, entry, opts.format);
  const catalogs = catalogsDir(opts.home ?? homedir());
  const name = `${opts.server}.${opts.format === "profile" ? "server" : "catalog"}.yaml`;
  const file = opts.install ? join(catalogs, name) : resolve(opts.out ?? name);
  const installed = opts.install === true || file.startsWith(`${catalogs}/`);
  // Everything is worked out before the file is written: a failure leaves no file.
  const commands = usageCommands(opts.server, file, opts.format, configKeys(entry), { catalogs, installed });
  if (opts.install) ensureDir(catalogs);
  writeFileAtomic(file, yaml);
  if (dropped.length) opts.progress(`not written (the gateway does not read them): ${dropped.join(", ")}`);
  return { file, yaml, entry: written, dropped, commands };
}

/** Whether two paths name one file (both must exist; symlinks resolved). */
function sameFile(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}

/** `mcp-rewrap catalog IMAGE --server NAME`: write a gateway catalog entry that points at the rewrapped image. */
import { resolve } from "node:path";
import { BUILTIN, type CatalogFormat, type CatalogServer, catalogYaml, configKeys, rewrappedEntry, usageCommands } from "../core/catalog.js";
import { UsageError } from "../core/errors.js";
import { LABEL } from "../core/labels.js";
import { checkTag, rewrapTag } from "../core/reference.js";
import { readCatalogFile, writeFileAtomic } from "../edge/fs.js";
import { type CommonOptions, getFacts } from "./shared.js";

export interface CatalogCommandOptions extends CommonOptions {
  server: string;
  from?: string;
  format: CatalogFormat;
  out?: string;
  tag?: string;
}

export interface CatalogCommandResult {
  file: string;
  yaml: string;
  entry: CatalogServer;
  commands: string[];
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
  if (!opts.tag && !image.startsWith("mcp-rewrap/")) {
    const facts = await getFacts(image, opts).catch(() => null);
    if (facts && !facts.config.labels[LABEL.version]) target = rewrapTag(facts.ref, { id: facts.id });
  }
  checkTag(target);
  const entry = rewrappedEntry(opts.server, original, target);
  const yaml = catalogYaml(opts.server, entry, opts.format);
  const file = resolve(opts.out ?? `${opts.server}.${opts.format === "profile" ? "server" : "catalog"}.yaml`);
  writeFileAtomic(file, yaml);
  return { file, yaml, entry, commands: usageCommands(opts.server, file, opts.format, configKeys(entry)) };
}

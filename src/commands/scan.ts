/** `mcp-rewrap scan CATALOG...`: every catalog server whose mounts its user cannot reach. */
import { RuntimeError } from "../core/errors.js";
import { type ServerScan, scanServer } from "../core/scan.js";
import { readCatalogFile } from "../edge/fs.js";
import { type CommonOptions, getFacts } from "./shared.js";

export async function scanCommand(files: string[], opts: CommonOptions): Promise<ServerScan[]> {
  const results: ServerScan[] = [];
  for (const f of files) {
    const cat = readCatalogFile(f);
    for (const [name, entry] of Object.entries(cat.servers)) {
      if (entry.type !== "server" || !entry.image) {
        results.push(scanServer(name, entry, null));
        continue;
      }
      try {
        const facts = await getFacts(entry.image, { ...opts, pull: opts.pull === true });
        results.push(scanServer(name, entry, facts));
      } catch (e) {
        if (e instanceof RuntimeError && /not in the local engine/.test(e.message)) {
          results.push(scanServer(name, entry, null, "image not local (use --pull)"));
        } else throw e;
      }
    }
  }
  return results;
}

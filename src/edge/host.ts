/**
 * The host as `scan` and `build --catalog` see it: the gateway's config file and the files a
 * bind mount would bring in (owner, mode, direct entries). Reads only; shared by the commands
 * that need it (no command imports another).
 */
import { lstatSync, readFileSync, readdirSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { parseYamlAsGateway } from "../core/catalog.js";
import { UsageError } from "../core/errors.js";
import type { GatewayConfig } from "../core/gateway-eval.js";
import type { HostStat } from "../core/scan.js";

export const DEFAULT_GATEWAY_CONFIG = "~/.docker/mcp/config.yaml";

const expandHome = (p: string) => (p === "~" || p.startsWith("~/") ? join(homedir(), p.slice(1)) : p);

/** The gateway's config: `server: {key: value}` (what `docker mcp config read` prints). */
export function readGatewayConfig(path: string | undefined): { config: GatewayConfig; source: string } {
  const file = expandHome(path ?? DEFAULT_GATEWAY_CONFIG);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (path === undefined && code === "ENOENT") return { config: {}, source: `${DEFAULT_GATEWAY_CONFIG} (absent)` };
    throw new UsageError(`--config ${file}: cannot read (${code ?? (e as Error).message}); give the file \`docker mcp config read\` shows`);
  }
  let doc: unknown;
  try {
    doc = parseYamlAsGateway(text).toJS();
  } catch (e) {
    throw new UsageError(`--config ${file}: not valid YAML (${(e as Error).message.split("\n")[0]}); give the file \`docker mcp config read\` shows`);
  }
  if (doc === null || doc === undefined) doc = {};
  if (typeof doc !== "object" || Array.isArray(doc)) throw new UsageError(`--config ${file}: expected a mapping of server names to settings`);
  return { config: doc as GatewayConfig, source: path ?? DEFAULT_GATEWAY_CONFIG };
}

/** Host stat as a bind mount sees it (symlinks followed); a directory with its direct entries. */
export function statHost(path: string): HostStat {
  const p = expandHome(path);
  try {
    const st = statSync(p);
    const kind = (s: { isFile(): boolean; isDirectory(): boolean }) => (s.isFile() ? "file" : s.isDirectory() ? "directory" : "other") as "file" | "directory" | "other";
    const out: HostStat = { path: p, type: kind(st), uid: st.uid, gid: st.gid, mode: st.mode & 0o7777 };
    if (st.isDirectory()) {
      out.entries = [];
      for (const name of readdirSync(p).sort()) {
        const e = lstatSync(join(p, name));
        if (e.isSymbolicLink()) continue;
        out.entries.push({ name, type: kind(e), uid: e.uid, gid: e.gid, mode: e.mode & 0o7777 });
      }
    }
    return out;
  } catch (e) {
    return { path: p, error: (e as NodeJS.ErrnoException).code ?? (e as Error).message };
  }
}

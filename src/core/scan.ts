/**
 * Pure: a catalog entry, the user's gateway config, what is known of its image and of the host
 * paths it binds -> whether the server's user can use its mounts. Three classes:
 *   - a target under a directory the user cannot enter (docker/mcp-gateway#284: /root);
 *   - a host source the user cannot read though the target is reachable (#103: on Linux the
 *     kubeconfig is 0600 and owned by the host uid, 1000, mounted for uid 1001);
 *   - writable state (a named volume, a bind mounted rw) under a path the user cannot reach:
 *     what the server writes would not persist.
 * A server is `ok` only when every mount was judged; what could not be judged makes it
 * `unknown`, with the reason.
 */
import { type Owned, type Who, describeOwned, may } from "./access.js";
import { type GatewayConfig, evaluate, evaluateList, hasValue, templateKeys } from "./gateway-eval.js";
import { type CatalogServer, shWord } from "./catalog.js";
import { type ImageFacts, cleanPath, parsePasswd, resolveUser } from "./facts.js";

export interface Finding {
  target: string;
  problem: string;
  fix: string;
}

export type ScanStatus = "ok" | "affected" | "unknown";

export interface ServerScan {
  server: string;
  image: string;
  status: ScanStatus;
  /** Who the server runs as, e.g. `appuser (uid 1001, gid 1001)`. */
  user?: string;
  findings: Finding[];
  /** Why the status is what it is when that is not the findings (ok: why nothing to find; unknown: what was missing). */
  why?: string;
  /** How the image was read, e.g. `registry: 41 kB of 68 MB`. */
  via?: string;
}

/** What is known of an image: its facts, and the directories read from its layers (if any). */
export interface ImageView {
  facts: Pick<ImageFacts, "config" | "passwd" | "group" | "rootMode">;
  /** Owner and mode of directories read from the image (registry reads); others are assumed. */
  dirs?: Record<string, Owned>;
  via: string;
}

export type HostStat =
  | { path: string; type: "file" | "directory" | "other"; uid: number; gid: number; mode: number; entries?: HostEntry[] }
  | { path: string; error: string };

export interface HostEntry {
  name: string;
  type: "file" | "directory" | "other";
  uid: number;
  gid: number;
  mode: number;
}

export interface ScanContext {
  /** The user's gateway config (server -> key -> value), as `docker mcp config read` shows it. */
  config: GatewayConfig;
  /** Where the config came from, for messages (e.g. `~/.docker/mcp/config.yaml`). */
  configSource: string;
  image: ImageView | null;
  /** Why `image` is null. */
  why?: string;
  /** Stats a host path (a directory: with its direct entries). */
  hostStat: (path: string) => HostStat;
  /** The catalog file the entry is from: the printed fix reads the entry from it (catalog --from). */
  catalogFile?: string;
}

export interface Mount {
  kind: "bind" | "volume" | "anonymous";
  source: string;
  /** Cleaned as docker cleans it (`/root/../tmp/x` is `/tmp/x`). */
  target: string;
  mode: string;
  /** Why docker would refuse it (the server would not start); absent when it would not. */
  problem?: string;
}

/** A `volumes:` value after templating, as the gateway's parseDockerVolumeBind reads it. */
export function parseMount(spec: string): Mount | null {
  const s = spec.trim();
  if (!s) return null;
  // Split on ':' but keep a Windows drive letter (C:\ or C:/) with its path.
  const parts: string[] = [];
  let cur = "";
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === ":" && !(cur.length === 1 && /[A-Za-z]/.test(cur) && /[\\/]/.test(s[i + 1] ?? ""))) {
      parts.push(cur);
      cur = "";
    } else cur += c;
  }
  parts.push(cur);
  if (parts.length === 1) return withProblem(spec, { kind: "anonymous", source: "", target: cleanPath(parts[0]!), mode: "" }, parts.length);
  const [source = "", target = "", mode = ""] = parts.map((p) => p.trim());
  const host = absoluteHost(source) || /^[.~]/.test(source);
  return withProblem(spec, { kind: host ? "bind" : "volume", source, target: cleanPath(target), mode }, parts.length);
}

/** An absolute host path: POSIX, a Windows drive (C:\ or C:/) or a UNC share (\\server). */
const absoluteHost = (s: string) => s.startsWith("/") || /^[A-Za-z]:[\\/]/.test(s) || s.startsWith("\\\\");

/** A mount docker would refuse (the container would not start): `problem` says why. */
function withProblem(spec: string, m: Mount, parts: number): Mount {
  const q = JSON.stringify(spec);
  let problem: string | undefined;
  if (parts > 3) problem = `${q}: not a mount docker accepts (more than SOURCE:TARGET:MODE)`;
  else if (!m.target.startsWith("/")) problem = `${q}: not a mount docker accepts (the container path must be absolute)`;
  else if (m.kind === "bind" && !absoluteHost(m.source)) {
    problem = `${q}: the host path ${m.source} is relative (to the gateway's working directory, where docker takes it at all): cannot check who may read it`;
  } else if (m.kind === "volume" && !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(m.source)) problem = `${q}: ${JSON.stringify(m.source)} is neither an absolute host path nor a volume name`;
  return problem ? { ...m, problem } : m;
}

const isReadOnly = (mode: string) => mode.split(",").includes("ro");

/** Directories from `/` down to the parent of `target`: `/root/.kube/config` -> /, /root, /root/.kube. */
export function ancestors(target: string): string[] {
  const parts = target.split("/").filter(Boolean);
  const out = ["/"];
  for (let i = 1; i < parts.length; i++) out.push(`/${parts.slice(0, i).join("/")}`);
  return out;
}

/**
 * Several catalogs as the gateway reads them: a later catalog's entry with the same name wins
 * (and takes the later place in the order). `notes`: one line per entry replaced by another file's.
 */
export function mergeCatalogs(catalogs: readonly { file: string; servers: Record<string, CatalogServer> }[]): {
  entries: Map<string, { entry: CatalogServer; file: string }>;
  notes: string[];
} {
  const entries = new Map<string, { entry: CatalogServer; file: string }>();
  const notes: string[] = [];
  for (const { file, servers } of catalogs) {
    for (const [name, entry] of Object.entries(servers)) {
      const before = entries.get(name);
      if (before && before.file !== file) notes.push(`${name}: ${file}'s entry replaces ${before.file}'s (a later catalog's entry wins, as in the gateway)`);
      entries.delete(name);
      entries.set(name, { entry, file });
    }
  }
  return { entries, notes };
}

/** Stands for a config value that is not set (a path: no colon, so mounts still parse). */
const UNSET = "/\u0000unset\u0000";

export function scanServer(name: string, entry: CatalogServer, ctx: ScanContext): ServerScan {
  const image = entry.image ?? "";
  const base = { server: name, image };
  if (entry.type === "remote") return { ...base, status: "ok", findings: [], why: "a remote server: no container, nothing mounted" };
  if (entry.type !== "server") return { ...base, status: "unknown", findings: [], why: `type ${entry.type}: its tools' containers are not judged` };
  if (!image) return { ...base, status: "unknown", findings: [], why: "the entry names no image" };
  const volumes = entry.volumes ?? [];
  if (!volumes.length) return { ...base, status: "ok", findings: [], why: "no mounts" };
  if (!ctx.image) return { ...base, status: "unknown", findings: [], why: ctx.why ?? "the image was not read" };
  const { facts, dirs = {}, via } = ctx.image;

  // Who runs: the catalog's user: (templated from the config), else the image's USER.
  let userSpec = entry.user ?? "";
  const notes: string[] = [];
  if (userSpec.includes("{{")) {
    const unset = templateKeys(userSpec).filter((k) => !hasValue(k, ctx.config));
    const evaluated = String(evaluate(userSpec, ctx.config));
    if (!evaluated && unset.length) notes.push(`${unset.join(", ")} unset: the image's user runs`);
    userSpec = evaluated;
  }
  let user;
  try {
    user = resolveUser({ ...facts, config: { ...facts.config, user: userSpec || facts.config.user } });
  } catch (e) {
    return { ...base, status: "unknown", findings: [], why: (e as Error).message, via };
  }
  const users = parsePasswd(facts.passwd);
  const nameOf = (uid: number) => users.find((u) => u.uid === uid)?.name;
  const who: Who = { uid: user.uid, groups: user.groups };
  const label = `${user.name} (uid ${user.uid}, gid ${user.gid}${user.groups.length > 1 ? `, groups ${user.groups.slice(1).join(",")}` : ""}${userSpec && userSpec !== facts.config.user ? `, from the catalog's user: ${entry.user}` : ""})`;
  const done = (status: ScanStatus, findings: Finding[], why?: string): ServerScan => ({
    ...base,
    status,
    user: label,
    findings,
    ...(why || notes.length ? { why: [why, ...notes].filter(Boolean).join("; ") } : {}),
    via,
  });
  if (user.uid === 0) return done("ok", [], "runs as root: every mount is readable");

  const from = ctx.catalogFile ? ` --from ${shWord(ctx.catalogFile)}` : "";
  const fix = `mcp-rewrap build ${shWord(image)} && mcp-rewrap catalog ${shWord(image)} --server ${shWord(name)}${from} --install`;
  const findings: Finding[] = [];
  const unjudged: string[] = [];

  const dirInfo = (dir: string): Owned & { assumed: boolean } => {
    const known = dirs[dir];
    if (known) return { ...known, assumed: false };
    if (dir === "/root") {
      return facts.rootMode !== null ? { uid: 0, gid: 0, mode: facts.rootMode, assumed: false } : { uid: 0, gid: 0, mode: 0o700, assumed: true };
    }
    // useradd -m (Debian, UMASK 022), adduser (Alpine) and Docker's own mount points: 0755.
    const owner = users.find((u) => u.home === dir && u.uid !== 0);
    return { uid: owner?.uid ?? 0, gid: owner?.gid ?? 0, mode: 0o755, assumed: true };
  };

  for (const expr of volumes) {
    const unset = templateKeys(expr).filter((k) => !hasValue(k, ctx.config));
    let specs = evaluateList([expr], ctx.config);
    // Unset keys: learn the mount's target with placeholders (the source stays unknown). Also when
    // it evaluates to nothing now ({{key|mount_as:/root/...}} mounts nothing until the key is set):
    // judged as it will be once set, never a silent pass.
    if (unset.length) {
      const probe = structuredClone(ctx.config) as GatewayConfig;
      for (const k of unset) setKey(probe, k, `${UNSET}${k}`);
      specs = evaluateList([expr], probe);
    }

    for (const spec of specs) {
      const m = parseMount(spec);
      if (!m) continue;
      if (m.problem && !spec.includes(UNSET)) {
        unjudged.push(m.problem);
        continue;
      }
      if (m.target.includes(UNSET)) {
        unjudged.push(`${expr}: the container path comes from ${unset.join(", ")}, not set in ${ctx.configSource}`);
        continue;
      }
      const writable = m.kind !== "bind" || (m.mode !== "" && !isReadOnly(m.mode));
      const blocked = ancestors(m.target).map((d) => ({ d, info: dirInfo(d) })).find(({ info }) => !may(who, info, "x"));
      if (blocked) {
        const { d, info } = blocked;
        const why = `uid ${user.uid} (${user.name}) cannot enter ${d} (${describeOwned(info, nameOf)}${info.assumed ? `; assumed, ${d} was not among the image files read` : ""})`;
        findings.push({
          target: m.target,
          problem: writable
            ? `${why}: state would not persist (the ${m.kind === "bind" ? "writable bind" : "volume"} at ${m.target} is out of the server's reach)`
            : `${why}, so it cannot read what is mounted at ${m.target} (docker/mcp-gateway#284)`,
          fix,
        });
        continue;
      }
      if (m.kind !== "bind") continue;
      if (m.source.includes(UNSET)) {
        unjudged.push(`${m.target}: its host source comes from ${unset.join(", ")}, not set in ${ctx.configSource}; cannot check that uid ${user.uid} may read it`);
        continue;
      }
      const st = ctx.hostStat(m.source);
      if ("error" in st) {
        unjudged.push(`${m.target}: cannot stat the host source ${m.source} (${st.error})`);
        continue;
      }
      const denied = hostDenials(who, st);
      if (denied.length) {
        findings.push({
          target: m.target,
          problem: `uid ${user.uid} (${user.name}) cannot read the host's ${denied.join("; ")} though ${m.target} is reachable (docker/mcp-gateway#103)`,
          fix,
        });
      }
    }
  }
  if (findings.length) return done("affected", findings);
  if (unjudged.length) return done("unknown", [], unjudged.join("; "));
  return done("ok", [], `uid ${user.uid} reaches every mount`);
}

/** What of a host path `who` cannot read: the file; or the directory, or its direct entries. */
export function hostDenials(who: Who, st: Extract<HostStat, { type: string }>): string[] {
  const out: string[] = [];
  if (st.type === "directory") {
    if (!may(who, st, "rx")) out.push(`directory ${st.path} (${describeOwned(st)})`);
    else {
      for (const e of st.entries ?? []) {
        if (!may(who, e, e.type === "directory" ? "rx" : "r")) out.push(`${st.path}/${e.name} (${describeOwned(e)})`);
      }
    }
  } else if (!may(who, st, "r")) out.push(`${st.path} (${describeOwned(st)})`);
  return out;
}

function setKey(config: GatewayConfig, key: string, value: string): void {
  const parts = key.split(".").map((p) => p.trim());
  let cur = config;
  for (const p of parts.slice(0, -1)) {
    if (!cur[p] || typeof cur[p] !== "object" || Array.isArray(cur[p])) cur[p] = {};
    cur = cur[p] as GatewayConfig;
  }
  cur[parts[parts.length - 1]!] = value;
}

/** Exit code of a scan: 0 all ok, 1 any affected, 4 none affected but some unknown. */
export function scanExitCode(results: ServerScan[]): 0 | 1 | 4 {
  if (results.some((r) => r.status === "affected")) return 1;
  if (results.some((r) => r.status === "unknown")) return 4;
  return 0;
}

export function formatScan(results: ServerScan[]): string {
  const lines: string[] = [];
  for (const r of results) {
    const tag = r.status === "affected" ? "AFFECTED" : r.status === "ok" ? "ok      " : "unknown ";
    lines.push(`${tag} ${r.server}  ${r.image}${r.user ? `  as ${r.user}` : ""}`);
    if (r.why) lines.push(`         ${r.why}`);
    for (const f of r.findings) {
      lines.push(`         ${f.target}: ${f.problem}`);
      lines.push(`         fix: ${f.fix}`);
    }
    if (r.via) lines.push(`         (image read from ${r.via})`);
  }
  const n = (s: ScanStatus) => results.filter((r) => r.status === s).length;
  lines.push("", `${results.length} servers: ${n("affected")} affected, ${n("ok")} ok, ${n("unknown")} unknown`);
  return `${lines.join("\n")}\n`;
}


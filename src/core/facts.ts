/**
 * Image facts: everything mcp-rewrap knows about an image, read once at the edge (Engine API
 * or a recorded facts file) and passed by value afterwards. The parsers here are pure.
 */

import { posix } from "node:path";

export interface ImageConfig {
  user: string;
  env: string[];
  entrypoint: string[] | null;
  cmd: string[] | null;
  workdir: string;
  labels: Record<string, string>;
  /** ONBUILD triggers, as the config lists them (absent when there are none). */
  onBuild?: string[];
  /** The image's HEALTHCHECK (absent in facts recorded before it was read). */
  healthcheck?: Healthcheck | null;
}

/** A HEALTHCHECK as the Engine API and OCI configs give it (durations in nanoseconds). */
export interface Healthcheck {
  /** ["CMD", ...argv], ["CMD-SHELL", command] or ["NONE"]. */
  test: string[];
  interval?: number;
  timeout?: number;
  startPeriod?: number;
  retries?: number;
}

/** The container-config fields mcp-rewrap reads; the Engine API and OCI image configs name them alike. */
export interface ContainerConfigFields {
  User?: string;
  Env?: string[] | null;
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  WorkingDir?: string;
  Labels?: Record<string, string> | null;
  Healthcheck?: { Test?: string[] | null; Interval?: number; Timeout?: number; StartPeriod?: number; Retries?: number } | null;
  OnBuild?: string[] | null;
}

/** ImageConfig from an Engine API or OCI container config: absent fields get the runtime's defaults. */
export function imageConfigFrom(c: ContainerConfigFields | null | undefined): ImageConfig {
  return {
    user: c?.User ?? "",
    env: c?.Env ?? [],
    entrypoint: c?.Entrypoint ?? null,
    cmd: c?.Cmd ?? null,
    workdir: c?.WorkingDir ?? "",
    labels: c?.Labels ?? {},
    healthcheck: healthcheckFrom(c?.Healthcheck),
    ...(c?.OnBuild?.length ? { onBuild: [...c.OnBuild] } : {}),
  };
}

function healthcheckFrom(h: ContainerConfigFields["Healthcheck"]): Healthcheck | null {
  if (!h?.Test || h.Test.length === 0) return null;
  const out: Healthcheck = { test: [...h.Test] };
  if (h.Interval) out.interval = h.Interval;
  if (h.Timeout) out.timeout = h.Timeout;
  if (h.StartPeriod) out.startPeriod = h.StartPeriod;
  if (h.Retries) out.retries = h.Retries;
  return out;
}

export interface ImageFacts {
  /** The reference the user gave, e.g. `mcp/kubernetes:latest`. */
  ref: string;
  /** Image ID (`sha256:…`). */
  id: string;
  repoTags: string[];
  repoDigests: string[];
  os: string;
  architecture: string;
  variant?: string;
  config: ImageConfig;
  /** Text of /etc/passwd and /etc/group inside the image (null when absent). */
  passwd: string | null;
  group: string | null;
  /** Which of the probed paths exist in the image (see PROBE_PATHS). */
  present: string[];
  /** Where probed paths that are symlinks lead, resolved in the image (e.g. /bin/setpriv -> /bin/busybox). */
  links?: Record<string, string>;
  /** Permission bits of /root in the image (null when absent). */
  rootMode: number | null;
}

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

export interface ResolvedUser {
  /** The image's USER as written (empty means root). */
  spec: string;
  name: string;
  uid: number;
  gid: number;
  /** Supplementary groups the container runtime gives this user: primary gid first. */
  groups: number[];
  home: string;
  /** Where the home came from. */
  homeSource: "env" | "passwd" | "generated";
  /** Whether /etc/passwd has an entry for the user. */
  inPasswd: boolean;
}

/** Drop tools, in order of preference. `path` is where we look for each in the image. */
export const DROP_TOOLS = [
  { kind: "setpriv", paths: ["/usr/bin/setpriv", "/bin/setpriv", "/usr/sbin/setpriv", "/sbin/setpriv"] },
  { kind: "su-exec", paths: ["/sbin/su-exec", "/usr/sbin/su-exec", "/usr/local/bin/su-exec", "/usr/bin/su-exec"] },
  { kind: "gosu", paths: ["/usr/local/bin/gosu", "/usr/bin/gosu", "/usr/sbin/gosu", "/bin/gosu"] },
  { kind: "busybox-su", paths: ["/bin/busybox", "/usr/bin/busybox"] },
] as const;

export type DropKind = (typeof DROP_TOOLS)[number]["kind"];

/** Commands the shim runs besides the drop tool. Each is found in one of the BIN_DIRS. */
export const SHIM_COMMANDS = ["sh", "cat", "chmod", "chown", "find", "ln", "mkdir", "mv", "rm", "tar", "tr"] as const;
export const BIN_DIRS = ["/bin", "/usr/bin", "/sbin", "/usr/sbin"] as const;

/** A command the shim runs only for an image that sets loader variables (plan.ts, LOADER_VARS). */
export const LOADER_TOOL = "env";

export const PROBE_PATHS: string[] = [
  ...DROP_TOOLS.flatMap((t) => [...t.paths]),
  ...[...SHIM_COMMANDS, LOADER_TOOL].flatMap((c) => BIN_DIRS.map((d) => `${d}/${c}`)),
].filter((p, i, all) => all.indexOf(p) === i);

/** Go's strconv.Atoi as moby/sys/user uses it: conversion errors give 0 (ignored, "misbehaving files"). */
function goAtoi(s: string): number {
  return /^[+-]?[0-9]+$/.test(s) ? Number.parseInt(s, 10) : 0;
}

/** One line split on ":" into positional fields, as moby/sys/user's parseLine: missing fields stay empty. */
function fields(line: string, n: number): string[] {
  const f = line.split(":");
  return Array.from({ length: n }, (_, i) => f[i] ?? "");
}

/**
 * /etc/passwd as the container runtime reads it (moby/sys/user ParsePasswdFilter, used by runc and
 * moby): each line trimmed of surrounding white space, blank lines skipped, nothing else skipped
 * (not even "#" lines); fields taken positionally, so a short line such as `app:x:1001:1001` is an
 * entry with an empty home; a number that does not parse is 0.
 */
export function parsePasswd(text: string | null): PasswdEntry[] {
  if (!text) return [];
  const out: PasswdEntry[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line) continue;
    const [name, , uid, gid, , home, shell] = fields(line, 7);
    out.push({ name: name!, uid: goAtoi(uid!), gid: goAtoi(gid!), home: home!, shell: shell! });
  }
  return out;
}

/**
 * /etc/group as the runtime reads it (moby/sys/user ParseGroupFilter): lines trimmed, blank and
 * "#" lines skipped, fields positional, the member list split on "," with nothing trimmed (a
 * member written " app" is not "app").
 */
export function parseGroup(text: string | null): GroupEntry[] {
  if (!text) return [];
  const out: GroupEntry[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const [name, , gid, list] = fields(line, 4);
    out.push({ name: name!, gid: goAtoi(gid!), members: list ? list.split(",") : [] });
  }
  return out;
}

export function envValue(env: string[], name: string): string | undefined {
  for (const e of env) {
    const i = e.indexOf("=");
    if (i > 0 && e.slice(0, i) === name) return e.slice(i + 1);
  }
  return undefined;
}

/** What moby/sys/user treats as a number in USER (strconv.Atoi succeeds). */
const isNumeric = (s: string) => /^[+-]?[0-9]+$/.test(s);

/**
 * Resolves the image's USER the way the container runtime does: by name or number against the
 * image's own /etc/passwd and /etc/group. A numeric uid with no entry gets gid 0 unless one is
 * given, as Docker does. Throws on a name that the image does not define (the image could not
 * start either).
 */
export function resolveUser(facts: Pick<ImageFacts, "config" | "passwd" | "group">): ResolvedUser {
  const spec = facts.config.user ?? "";
  const [userPart = "", groupPart] = spec.split(":", 2);
  const users = parsePasswd(facts.passwd);
  const groups = parseGroup(facts.group);

  let entry: PasswdEntry | undefined;
  let uid: number;
  if (userPart === "") {
    entry = users.find((u) => u.uid === 0);
    uid = 0;
  } else if (isNumeric(userPart)) {
    uid = goAtoi(userPart);
    entry = users.find((u) => u.uid === uid);
  } else {
    entry = users.find((u) => u.name === userPart);
    if (!entry) {
      throw new Error(`the image's USER "${userPart}" has no entry in its /etc/passwd`);
    }
    uid = entry.uid;
  }

  let gid = entry?.gid ?? 0;
  if (groupPart !== undefined && groupPart !== "") {
    // A numeric group is a gid even when a group has that name (runc: "always treat it as a GID").
    const g = isNumeric(groupPart) ? groups.find((x) => x.gid === goAtoi(groupPart)) : groups.find((x) => x.name === groupPart);
    if (g) gid = g.gid;
    else if (isNumeric(groupPart)) gid = goAtoi(groupPart);
    else throw new Error(`the image's USER group "${groupPart}" has no entry in its /etc/group`);
  }

  // runc refuses an id outside this range ("uids and gids must be in range 0-2147483647"): the
  // container would not start.
  for (const [what, id] of [["uid", uid], ["gid", gid]] as const) {
    if (id < 0 || id > 2147483647) throw new Error(`user "${spec}": ${what} ${id} is out of the runtime's range 0-2147483647 (runc refuses to start the container)`);
  }
  const name = entry?.name ?? (uid === 0 ? "root" : String(uid));
  // Docker adds /etc/group memberships only when USER names no group (moby's GetExecUser).
  const supplementary =
    entry && (groupPart === undefined || groupPart === "") ? groups.filter((g) => g.members.includes(entry!.name)).map((g) => g.gid) : [];
  const allGroups = [gid, ...supplementary].filter((g, i, all) => all.indexOf(g) === i);

  const envHome = cleanPath(envValue(facts.config.env, "HOME") ?? "");
  const passwdHome = cleanPath(entry?.home ?? "");
  let home: string;
  let homeSource: ResolvedUser["homeSource"];
  if (envHome && envHome !== "/root" && envHome.startsWith("/") && (uid === 0 || !envHome.startsWith("/root/"))) {
    home = envHome;
    homeSource = "env";
  } else if (entry && usableHome(passwdHome, uid)) {
    home = passwdHome;
    homeSource = "passwd";
  } else {
    home = uid === 0 ? "/root" : `/home/mcp-rewrap-${uid}`;
    homeSource = uid === 0 ? "passwd" : "generated";
  }
  return { spec, name, uid, gid, groups: allGroups, home, homeSource, inPasswd: !!entry };
}

/**
 * An absolute path as one spelling, as docker cleans mount targets (`/home/app/` -> `/home/app`,
 * `//root` and `/home/../root` -> `/root`); a relative one as it is. Homes go through it too: the
 * shim matches mount points below the home, and /root written another way is still /root.
 */
export function cleanPath(path: string): string {
  return path.startsWith("/") ? posix.normalize(path).replace(/(.)\/+$/, "$1") : path;
}

function usableHome(home: string, uid: number): boolean {
  if (!home.startsWith("/")) return false;
  if (uid !== 0 && (home === "/" || home === "/root" || home.startsWith("/root/") || home === "/nonexistent" || home.startsWith("/nonexistent/"))) {
    return false;
  }
  return true;
}

/** Whether a JSON value nests deeper than `max` levels (iterative: no recursion to overflow). */
function depthOver(x: unknown, max: number): boolean {
  const todo: [unknown, number][] = [[x, 1]];
  while (todo.length) {
    const [v, d] = todo.pop()!;
    if (!v || typeof v !== "object") continue;
    if (d > max) return true;
    for (const c of Object.values(v as object)) todo.push([c, d + 1]);
  }
  return false;
}

/**
 * What in a facts file (a recorded facts.json, or --facts) is not of the type mcp-rewrap wrote:
 * `field: must be …` sentences, empty when none. Optional fields may be absent; a hand-written
 * file (aks, okta-mcp-server) is held to the same shape.
 */
export function factsProblems(x: unknown): string[] {
  const out: string[] = [];
  const obj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === "object" && !Array.isArray(v);
  const strs = (v: unknown) => Array.isArray(v) && v.every((s) => typeof s === "string");
  const strMap = (v: unknown) => obj(v) && Object.values(v).every((s) => typeof s === "string");
  type Check = [string, (v: unknown) => boolean, string, boolean?];
  const check = (o: Record<string, unknown>, at: string, rules: Check[]) => {
    for (const [k, ok, what, optional] of rules) {
      if (!(k in o) || o[k] === undefined) {
        if (!optional) out.push(`${at}${k}: missing (${what})`);
      } else if (!ok(o[k])) out.push(`${at}${k}: must be ${what}`);
    }
  };
  if (!obj(x)) return ["must be a JSON object"];
  // Nesting deeper than any field mcp-rewrap writes (an unknown field 100,000 levels deep
  // overflowed the stack when facts.json was written back: exit 3, no message).
  if (depthOver(x, 32)) return ["nested deeper than 32 levels: not a facts file mcp-rewrap wrote"];
  const str = (v: unknown) => typeof v === "string";
  const strOrNull = (v: unknown) => v === null || typeof v === "string";
  const strsOrNull = (v: unknown) => v === null || strs(v);
  check(x, "", [
    ["ref", str, "a string"],
    ["id", str, "a string"],
    ["repoTags", strs, "a list of strings", true],
    ["repoDigests", strs, "a list of strings", true],
    ["os", str, "a string", true],
    ["architecture", str, "a string", true],
    ["variant", str, "a string", true],
    ["config", obj, "an object"],
    ["passwd", strOrNull, "a string or null", true],
    ["group", strOrNull, "a string or null", true],
    ["present", strs, "a list of strings"],
    ["links", strMap, "an object of strings", true],
    ["rootMode", (v) => v === null || (typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 0o7777), "a mode (0-4095) or null", true],
  ]);
  if (obj(x.config)) {
    check(x.config, "config.", [
      ["user", str, "a string", true],
      ["env", strs, "a list of strings", true],
      ["entrypoint", strsOrNull, "a list of strings or null", true],
      ["cmd", strsOrNull, "a list of strings or null", true],
      ["workdir", str, "a string", true],
      ["labels", strMap, "an object of strings", true],
      ["onBuild", strs, "a list of strings", true],
      ["healthcheck", (v) => v === null || (obj(v) && strs(v.test)), "null or an object with a test list", true],
    ]);
  }
  return out;
}

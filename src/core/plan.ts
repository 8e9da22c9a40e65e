/**
 * Pure: image facts + options -> a rewrap plan. Every decision about the derived image is made
 * here (which user, which drop tool, which variables, entrypoint, labels, tag); rendering and
 * building only carry it out.
 */
import { CONFIG_PATHS, PATH_VARS } from "./config-paths.js";
import { PlanError, UsageError } from "./errors.js";
import { BIN_DIRS, DROP_TOOLS, type DropKind, type Healthcheck, type ImageFacts, LOADER_TOOL, type ResolvedUser, SHIM_COMMANDS, envValue, parseGroup, resolveUser } from "./facts.js";
import { LABEL } from "./labels.js";
import { baseNameOf, checkImageRef, checkTag, isImageId, parseReference, pickRepoDigest, platformString, rewrapTag, safeComponent, sameRepository, shortName } from "./reference.js";
import { stableJson } from "./stable-json.js";

type ShimCommand = (typeof SHIM_COMMANDS)[number];

export const SHIM_PATH = "/usr/local/bin/mcp-rewrap-entrypoint";
/** The same shim under the name that makes it run the image's HEALTHCHECK as the user. */
export const HEALTH_PATH = "/usr/local/bin/mcp-rewrap-healthcheck";

/** Where the gateway mounts user config under /root: the table's paths (core/config-paths.ts). */
export const DEFAULT_MOUNTS: readonly string[] = CONFIG_PATHS.map((p) => `/root/${p.rel}`);

/** Variables whose value commonly names a config path; rewritten when they point into /root. */
export const DEFAULT_ENV_VARS: readonly string[] = PATH_VARS;

/**
 * glibc's list of variables a setuid program ignores (UNSECURE_ENVVARS): what makes the loader or
 * libc load, read or write something of the environment's choosing. An image that sets one makes
 * every process started with it use it, root's too.
 */
export const LOADER_VARS: readonly string[] = [
  "GCONV_PATH", "GETCONF_DIR", "GLIBC_TUNABLES", "HOSTALIASES", "LD_AUDIT", "LD_DEBUG", "LD_DEBUG_OUTPUT",
  "LD_DYNAMIC_WEAK", "LD_HWCAP_MASK", "LD_LIBRARY_PATH", "LD_ORIGIN_PATH", "LD_PRELOAD", "LD_PROFILE",
  "LD_SHOW_AUXV", "LOCALDOMAIN", "LOCPATH", "MALLOC_TRACE", "NIS_PATH", "NLSPATH", "RESOLV_HOST_CONF",
  "RES_OPTIONS", "TMPDIR", "TZDIR",
];

/** The image's loader variables (LOADER_VARS it sets to something), in its ENV order. */
export function loaderVarsOf(env: string[]): { name: string; value: string }[] {
  return env
    .map((e) => ({ name: e.slice(0, Math.max(0, e.indexOf("="))), value: e.slice(e.indexOf("=") + 1) }))
    .filter((v, i, all) => LOADER_VARS.includes(v.name) && v.value !== "" && all.findIndex((w) => w.name === v.name) === i);
}

export interface PlanOptions {
  /** Extra variable names to rewrite when they point into /root. */
  env?: string[];
  /** Output tag; default `mcp-rewrap/<name>:<tag>`. */
  tag?: string;
  /** Rewrap even an image that runs as root. */
  force?: boolean;
  version: string;
  projectUrl: string;
}

export interface RewrapPlan {
  tool: { name: "mcp-rewrap"; version: string };
  source: {
    ref: string;
    name: string;
    id: string;
    /** Repository digest (`sha256:…`), or null when the image has none. */
    digest: string | null;
    /** The FROM value: `repo@sha256:…`, or the image ID when there is no repository digest. */
    from: string;
    pinnedById: boolean;
    platform: string;
  };
  user: ResolvedUser;
  drop: { kind: DropKind; path: string };
  shimPath: string;
  /** Of the derived image: the shim, then the original entrypoint. */
  entrypoint: string[];
  /** The original CMD, restated (setting ENTRYPOINT resets the inherited one). */
  cmd: string[] | null;
  envVars: string[];
  /** The image's tools the shim runs, by absolute path (root never searches PATH). */
  tools: Record<ShimCommand, string>;
  /** The groups the runtime gives root in this image (what root has beyond them was --group-add). */
  rootGroups: number[];
  /** Whether /root in the image lets other users search it. */
  rootOpen: boolean;
  /**
   * The image's loader variables: the derived image sets them empty (ENV), so that the shim's
   * shell, its tools and the drop tool never run as root with them, and `env` (run as the user,
   * right before the server) gives them back. Null when the image sets none, or has no env (then
   * they stay as they are: README, Limitations).
   */
  loader: { env: string; vars: { name: string; value: string }[] } | null;
  /** The image's HEALTHCHECK, restated to run through the shim as the user; null when it has none. */
  healthcheck: { flags: string[]; cmd: string[]; timing: { Interval?: number; Timeout?: number; StartPeriod?: number; Retries?: number } } | null;
  labels: Record<string, string>;
  tag: string;
  /** Directory name under images/. */
  name: string;
}

export function checkEnvName(n: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(n)) throw new UsageError(`--env ${JSON.stringify(n)}: not a variable name; give a name like MY_CONFIG`);
  return n;
}

/** The repository digest FROM is pinned to (the named repository's), or null. */
export function pinnedDigest(facts: ImageFacts): string | null {
  return pickRepoDigest(facts.ref, facts.repoDigests)?.digest ?? null;
}

/** Which probed paths the shim needs but the image lacks. */
export function missingCommands(present: string[], _drop?: DropKind | null): string[] {
  const has = new Set(present);
  return SHIM_COMMANDS.filter((c) => !BIN_DIRS.some((d) => has.has(`${d}/${c}`)));
}

/** An image's Env as its rewrap has it: the loader variables of plan.loader set empty, in place. */
export function rewrapEnv(env: readonly string[], loader: RewrapPlan["loader"]): string[] {
  const names = loader?.vars.map((v) => v.name) ?? [];
  return env.map((e) => {
    const n = e.slice(0, Math.max(0, e.indexOf("=")));
    return names.includes(n) ? `${n}=` : e;
  });
}

/** plan.loader: the image's loader variables and its env, when it sets some and has one. */
function loaderOf(facts: ImageFacts): RewrapPlan["loader"] {
  const vars = loaderVarsOf(facts.config.env);
  const has = new Set(facts.present);
  const env = BIN_DIRS.map((d) => `${d}/${LOADER_TOOL}`).find((p) => has.has(p));
  return vars.length && env ? { env, vars } : null;
}

/** Each command the shim runs, at the first of BIN_DIRS where the image has it. */
export function toolPaths(present: string[]): Record<ShimCommand, string> {
  const has = new Set(present);
  return Object.fromEntries(SHIM_COMMANDS.map((c) => [c, BIN_DIRS.map((d) => `${d}/${c}`).find((p) => has.has(p)) ?? ""])) as Record<ShimCommand, string>;
}

/** A Go duration for a Dockerfile flag, from nanoseconds. */
function duration(ns: number): string {
  if (ns % 1e9 === 0) return `${ns / 1e9}s`;
  if (ns % 1e6 === 0) return `${ns / 1e6}ms`;
  return `${ns}ns`;
}

/** The HEALTHCHECK of the derived image: the original test run by the shim as the user, same timings. */
export function healthcheckOf(h: Healthcheck | null | undefined): RewrapPlan["healthcheck"] {
  if (!h || !h.test.length) return null;
  const [kind, ...rest] = h.test;
  let argv: string[];
  if (kind === "CMD") argv = rest;
  else if (kind === "CMD-SHELL" && rest.length === 1) argv = ["/bin/sh", "-c", rest[0]!];
  else if (kind === "NONE") return null;
  else throw new PlanError(`the image's HEALTHCHECK test ${JSON.stringify(h.test)} is neither CMD, CMD-SHELL nor NONE`);
  if (!argv.length) throw new PlanError(`the image's HEALTHCHECK ${JSON.stringify(h.test)} has no command`);
  const flags: string[] = [];
  const num = (v: number | undefined, what: string) => {
    if (v === undefined) return false;
    if (!Number.isSafeInteger(v) || v < 0) throw new PlanError(`the image's HEALTHCHECK ${what} ${JSON.stringify(v)} is not a whole number`);
    return v > 0;
  };
  if (num(h.interval, "interval")) flags.push(`--interval=${duration(h.interval!)}`);
  if (num(h.timeout, "timeout")) flags.push(`--timeout=${duration(h.timeout!)}`);
  if (num(h.startPeriod, "start period")) flags.push(`--start-period=${duration(h.startPeriod!)}`);
  if (num(h.retries, "retries")) flags.push(`--retries=${h.retries}`);
  const timing = {
    ...(h.interval ? { Interval: h.interval } : {}),
    ...(h.timeout ? { Timeout: h.timeout } : {}),
    ...(h.startPeriod ? { StartPeriod: h.startPeriod } : {}),
    ...(h.retries ? { Retries: h.retries } : {}),
  };
  return { flags, cmd: [HEALTH_PATH, ...argv], timing };
}

const SHA256 = /^sha256:[0-9a-f]{64}$/;

/** A reference or image ID by the strict rule (core/reference.ts checkImageRef): no white space, no newline. */
function isRef(s: string): boolean {
  try {
    checkImageRef(s);
    return true;
  } catch {
    return false;
  }
}

/**
 * Every facts field that reaches the Dockerfile, checked (a facts file is input like any other:
 * a newline in an ID or a digest must never add an instruction).
 */
export function checkFactsForDockerfile(facts: ImageFacts): void {
  // An empty ID is allowed for facts read from a registry, where FROM is pinned by the repository digest.
  const idOk = typeof facts.id === "string" && (SHA256.test(facts.id) || (facts.id === "" && (facts.repoDigests ?? []).length > 0));
  if (!idOk) {
    throw new PlanError(`image facts: id ${JSON.stringify(facts.id)} is not an image ID (sha256: and 64 lowercase hex digits)`);
  }
  for (const d of facts.repoDigests ?? []) {
    const at = typeof d === "string" ? d.indexOf("@") : -1;
    if (at <= 0 || !SHA256.test(d.slice(at + 1)) || !isRef(d.slice(0, at))) {
      throw new PlanError(`image facts: repository digest ${JSON.stringify(d)} is not REPOSITORY@sha256:<64 hex digits>`);
    }
  }
  if (typeof facts.ref !== "string" || !isRef(facts.ref)) {
    throw new PlanError(`image facts: ref ${JSON.stringify(facts.ref)} is not an image reference`);
  }
  // Without an ID, FROM is pinned by a repository digest of the image's own repository.
  if (facts.id === "" && !(facts.repoDigests ?? []).some((d) => sameRepository(d.slice(0, d.indexOf("@")), facts.ref))) {
    throw new PlanError(`image facts: no id, and no repository digest of ${facts.ref}'s repository (${(facts.repoDigests ?? []).join(", ")}): FROM could not be pinned`);
  }
  const ob: unknown = facts.config?.onBuild;
  if (ob !== undefined && !(Array.isArray(ob) && ob.every((t) => typeof t === "string"))) {
    throw new PlanError(`image facts: config.onBuild ${JSON.stringify(ob)} is not a list of ONBUILD triggers (strings)`);
  }
}

/** A symlink to busybox: an applet, not the tool of that name (busybox setpriv cannot switch users). */
function isBusyboxApplet(path: string, links: Record<string, string>): boolean {
  const target = links[path];
  return !!target && /(^|\/)busybox$/.test(target);
}

/** Every drop tool the image has, in order of preference (busybox applets posing as setpriv & co. skipped). */
export function dropToolsIn(present: string[], links: Record<string, string> = {}): { kind: DropKind; path: string }[] {
  const has = new Set(present);
  const out: { kind: DropKind; path: string }[] = [];
  for (const tool of DROP_TOOLS) {
    const path = tool.paths.find((p) => has.has(p) && (tool.kind === "busybox-su" || !isBusyboxApplet(p, links)));
    if (path) out.push({ kind: tool.kind, path });
  }
  return out;
}

export function findDropTool(present: string[], links: Record<string, string> = {}): { kind: DropKind; path: string } | null {
  return dropToolsIn(present, links)[0] ?? null;
}

/**
 * How a drop tool reproduces the identity the container runtime gives the image's USER (uid,
 * gid, and groups: the primary gid plus /etc/group memberships in the implicit form, only the
 * gid when USER names a group):
 *   setpriv     --reuid/--regid/--groups: exact, always.
 *   su-exec     given USER verbatim it resolves it as the runtime does: exact, always.
 *   busybox su  initgroups(name, passwd gid): exact, but only for a user in /etc/passwd whose
 *               USER names no group; impossible otherwise.
 *   gosu        given USER verbatim: uid and gid exact; its groups are the /etc/group memberships
 *               only (never the primary gid unless the user is listed in that group, and none
 *               when USER names a group), so exact only when the primary group lists the user.
 *               Otherwise the server gets fewer groups, never more.
 */
export function dropFidelity(kind: DropKind, facts: Pick<ImageFacts, "group">, user: ResolvedUser): "exact" | "fewer-groups" | "impossible" {
  const groupPart = user.spec.includes(":") ? user.spec.slice(user.spec.indexOf(":") + 1) : "";
  const implicit = groupPart === "";
  switch (kind) {
    case "setpriv":
    case "su-exec":
      return "exact";
    case "busybox-su":
      return user.inPasswd && implicit ? "exact" : "impossible";
    case "gosu": {
      const members = implicit && user.inPasswd ? parseGroup(facts.group).filter((g) => g.members.includes(user.name)).map((g) => g.gid) : [];
      const same = members.length === user.groups.length && user.groups.every((g) => members.includes(g));
      return same ? "exact" : "fewer-groups";
    }
  }
}

/**
 * The drop tool for this user: the first (setpriv, su-exec, gosu, busybox su) that reproduces the
 * runtime's identity exactly, else gosu with fewer groups; null when the image has none usable.
 */
export function chooseDropTool(facts: ImageFacts, user: ResolvedUser): { kind: DropKind; path: string; fidelity: "exact" | "fewer-groups" } | null {
  const tools = dropToolsIn(facts.present, facts.links);
  for (const want of ["exact", "fewer-groups"] as const) {
    for (const t of tools) {
      if (dropFidelity(t.kind, facts, user) === want) return { ...t, fidelity: want };
    }
  }
  return null;
}

/** An image mcp-rewrap made: the shim first in its entrypoint, and our version label. */
export function isRewrapped(cfg: { entrypoint: string[] | null; labels: Record<string, string> }): boolean {
  return cfg.entrypoint?.[0] === SHIM_PATH && !!cfg.labels[LABEL.version];
}

/** One step of an image's history, as the engine lists them (newest first). */
export interface HistoryStep {
  CreatedBy?: string;
}

/**
 * Whether an image that carries a rewrap's labels is the rewrap as mcp-rewrap built it, and not
 * an image built FROM one (which inherits every label and the entrypoint): from the newest step
 * down, only the generated Dockerfile's metadata steps (LABEL, ENTRYPOINT, CMD, HEALTHCHECK; the
 * legacy builder writes them after "#(nop)"), then the COPY of the shim. A step of anything else
 * on top (RUN, COPY, ENV, USER, ...) is somebody's own image.
 */
export function isRewrapBuild(history: readonly HistoryStep[]): boolean {
  for (const step of history) {
    const by = (step.CreatedBy ?? "").replace(/^\/bin\/sh -c #\(nop\)\s*/, "").trimStart();
    if (/^(LABEL|ENTRYPOINT|CMD|HEALTHCHECK)\b/.test(by)) continue;
    return /^COPY\b/.test(by) && (by.includes(` ${SHIM_PATH}`) || by.includes(` ${HEALTH_PATH}`));
  }
  return false;
}

export function planRewrap(facts: ImageFacts, opts: PlanOptions): RewrapPlan {
  if (opts.tag !== undefined) checkTag(opts.tag);
  checkFactsForDockerfile(facts);
  if (isRewrapped(facts.config)) {
    throw new PlanError(
      `${facts.ref} was already rewrapped by mcp-rewrap ${facts.config.labels[LABEL.version]}; rewrap its base ${facts.config.labels[LABEL.baseName] ?? "image"} instead`,
    );
  }
  let user: ResolvedUser;
  try {
    user = resolveUser(facts);
  } catch (e) {
    throw new PlanError(`${facts.ref}: ${(e as Error).message}`);
  }
  if (user.uid === 0 && !opts.force) {
    throw new PlanError(
      `${facts.ref} already runs as root (USER ${JSON.stringify(facts.config.user || "")}): it can read the gateway's mounts under /root, so no rewrap is needed (--force to rewrap anyway)`,
    );
  }
  const hasShell = BIN_DIRS.some((d) => facts.present.includes(`${d}/sh`));
  if (!hasShell) {
    throw new PlanError(
      `${facts.ref} has no /bin/sh (a distroless or scratch image): the shim is a POSIX sh script and needs a shell in the image, and mcp-rewrap does not bring its own. Mount the config where uid ${user.uid} can reach and read it instead (e.g. under ${user.home}, the host file readable by uid ${user.uid}), or rebuild the image on a base with a shell`,
    );
  }
  const chosen = chooseDropTool(facts, user);
  if (!chosen) {
    if (findDropTool(facts.present, facts.links)?.kind === "busybox-su") {
      const why = user.inPasswd
        ? `USER ${JSON.stringify(user.spec)} names a group, which busybox su cannot set`
        : `uid ${user.uid} has no entry there`;
      throw new PlanError(
        `${facts.ref}: busybox su can only switch to a user in /etc/passwd with its own groups, and ${why}; the image needs setpriv, su-exec or gosu`,
      );
    }
    const applets = Object.keys(facts.links ?? {}).filter((p) => isBusyboxApplet(p, facts.links ?? {}) && DROP_TOOLS.some((t) => t.kind !== "busybox-su" && (t.paths as readonly string[]).includes(p)));
    throw new PlanError(
      `${facts.ref} has no privilege-drop tool: looked for setpriv, su-exec, gosu and busybox (${DROP_TOOLS.flatMap((t) => t.paths).join(", ")})${applets.length ? `; ${applets.join(", ")} ${applets.length > 1 ? "are busybox applets" : "is a busybox applet"}, which cannot switch users` : ""}`,
    );
  }
  const drop = { kind: chosen.kind, path: chosen.path };
  const missing = missingCommands(facts.present, drop.kind);
  if (missing.length) {
    throw new PlanError(`${facts.ref} lacks commands the shim needs: ${missing.join(", ")} (looked in ${BIN_DIRS.join(", ")})`);
  }

  const fromImageEnv = facts.config.env
    .map((e) => e.slice(0, Math.max(0, e.indexOf("="))))
    .filter((n) => n && n !== "HOME" && /^[A-Za-z_][A-Za-z0-9_]*$/.test(n) && /(^|:)\/root(\/|:|$)/.test(envValue(facts.config.env, n) ?? ""));
  const envVars = [...DEFAULT_ENV_VARS, ...fromImageEnv, ...(opts.env ?? []).map(checkEnvName)].filter(
    (n, i, all) => all.indexOf(n) === i,
  );

  for (const [what, v] of [["uid", user.uid], ["gid", user.gid], ...user.groups.map((g) => ["group", g] as const)] as const) {
    if (!Number.isSafeInteger(v) || v < 0 || v > 0xfffffffe) throw new PlanError(`${facts.ref}: the image's user has ${what} ${v}, not a valid id`);
  }
  let root: ResolvedUser;
  try {
    root = resolveUser({ ...facts, config: { ...facts.config, user: "" } });
  } catch {
    root = { spec: "", name: "root", uid: 0, gid: 0, groups: [0], home: "/root", homeSource: "passwd", inPasswd: false };
  }
  const healthcheck = healthcheckOf(facts.config.healthcheck);

  const isId = isImageId(facts.ref);
  const ref = isId ? null : parseReference(facts.ref, { anyCase: true });
  const repoDigest = pickRepoDigest(facts.ref, facts.repoDigests);
  const baseName = baseNameOf(facts.ref, facts.id);
  // FROM in a form both the legacy builder and BuildKit resolve: `repo@sha256:…` of the named
  // repository; for a local image (no digest there) its name and tag (BuildKit cannot resolve
  // `FROM sha256:<id>`), or the ID itself only when that is all the user gave.
  const from = repoDigest ? `${repoDigest.repo}@${repoDigest.digest}` : ref ? baseName : facts.id;
  const name = ref ? shortName(ref) : "image";

  const labels: Record<string, string> = {
    [LABEL.baseDigest]: repoDigest?.digest ?? facts.id,
    ...(repoDigest ? {} : { [LABEL.baseLocal]: "true" }),
    [LABEL.baseName]: baseName,
    [LABEL.drop]: drop.kind,
    [LABEL.source]: opts.projectUrl,
    [LABEL.user]: `${user.name}:${user.uid}:${user.gid}`,
    [LABEL.version]: opts.version,
  };

  return {
    tool: { name: "mcp-rewrap", version: opts.version },
    source: {
      ref: facts.ref,
      name,
      id: facts.id,
      digest: repoDigest?.digest ?? null,
      from,
      pinnedById: !repoDigest && !ref,
      platform: platformString(facts),
    },
    user,
    drop,
    shimPath: SHIM_PATH,
    entrypoint: [SHIM_PATH, ...(facts.config.entrypoint ?? [])],
    cmd: facts.config.cmd && facts.config.cmd.length ? [...facts.config.cmd] : null,
    envVars,
    tools: toolPaths(facts.present),
    rootGroups: root.groups,
    rootOpen: facts.rootMode !== null && facts.rootMode !== undefined && (facts.rootMode & 0o001) !== 0,
    loader: loaderOf(facts),
    healthcheck,
    labels,
    tag: opts.tag ?? rewrapTag(facts.ref, { id: facts.id }),
    name: safeComponent(name),
  };
}

// --- a local base, named by its tag -------------------------------------------------------

/**
 * The tag a plan's FROM names when its base is a local image (no repository digest) given by
 * name: `name:tag`, which may name another image by the time the build runs. Null when FROM is
 * pinned (by a repository digest, or by the image ID itself).
 */
export function localBaseTag(plan: Pick<RewrapPlan, "source">): string | null {
  return plan.source.digest === null && !plan.source.pinnedById ? plan.source.from : null;
}

/** Whether an image with the layers `built` sits on a base with the layers `base` (a prefix of them). */
export function layersOn(base: readonly string[], built: readonly string[]): boolean {
  return base.length <= built.length && base.every((l, i) => built[i] === l);
}

/**
 * A build FROM an image runs its ONBUILD triggers (they may COPY the build context in, or RUN
 * commands): the rewrap would not be the image plus one layer. The registry route adds the layer
 * without a build, and keeps the triggers for the rewrap's own children. The reason, or null.
 */
export function onBuildProblem(facts: Pick<ImageFacts, "ref" | "config">): string | null {
  const t = facts.config.onBuild ?? [];
  if (!t.length) return null;
  return `${facts.ref} has ONBUILD triggers (${t.map((x) => JSON.stringify(x)).join(", ")}): a build FROM it runs them, so the rewrap would not be the image plus one layer. Rewrap it in a registry instead (push it there first if it is only local), which adds the layer without a build: mcp-rewrap build ${facts.ref} --push --tag REGISTRY/NAME:TAG`;
}

/** The parts of an image's config a derived image inherits and the rewrap's Dockerfile does not set. */
export const INHERITED_CONFIG = ["Env", "WorkingDir", "StopSignal", "ExposedPorts", "Volumes", "Shell"] as const;

/**
 * Whether the built image inherited the base's config (INHERITED_CONFIG): an image with the same
 * layers but another config (an ENV line) is another base. Absent, null and empty are the same.
 */
export function inheritsConfig(base: Record<string, unknown> | undefined, built: Record<string, unknown> | undefined): boolean {
  const norm = (v: unknown): string =>
    v === undefined || v === null || v === "" || (typeof v === "object" && Object.keys(v).length === 0) ? "" : stableJson(v);
  return INHERITED_CONFIG.every((k) => norm(base?.[k]) === norm(built?.[k]));
}

/** An image ID as `docker images` shows it: 12 hex digits. */
export const shortId = (id: string): string => id.replace(/^sha256:/, "").slice(0, 12);

/**
 * Whether the local base tag still names the image the plan was made from, and (after the
 * build) the built image sits on its layers. `now`: the IDs the tag resolves to now (the
 * engine's ID and the platform image's, which differ in the containerd store for an index),
 * null when it names no image; `layers`: the base's and the built image's RootFS layers (and
 * configs: the inherited part must match, inheritsConfig), after the build. Returns the reason (one sentence, without the `mcp-rewrap: ` prefix) or null.
 */
export function localBaseProblem(
  plan: Pick<RewrapPlan, "source"> & Partial<Pick<RewrapPlan, "loader">>,
  now: { ids: string[] } | null,
  layers?: { base: readonly string[]; built: readonly string[]; baseConfig?: Record<string, unknown>; builtConfig?: Record<string, unknown> },
): string | null {
  const tag = localBaseTag(plan);
  if (!tag) return null;
  const planned = shortId(plan.source.id);
  if (!now || !now.ids.length) return `${tag}: the tag names no image now, and the plan was made from ${planned}; run the build again to plan from the image it should name`;
  if (!now.ids.includes(plan.source.id)) {
    return `${tag}: the tag now names another image (${shortId(now.ids[0]!)}) than the one the plan was made from (${planned}); run the build again to plan from it`;
  }
  // The base's config as the rewrap inherits it: its loader variables set empty (plan.loader).
  const baseConfig = layers?.baseConfig && plan.loader ? { ...layers.baseConfig, Env: rewrapEnv((layers.baseConfig.Env as string[] | undefined) ?? [], plan.loader) } : layers?.baseConfig;
  if (layers && (!layersOn(layers.base, layers.built) || !inheritsConfig(baseConfig, layers.builtConfig))) {
    return `${tag}: the tag named another image while it was built than the one the plan was made from (${planned}); run the build again to plan from it`;
  }
  return null;
}

/**
 * Pure: image facts -> what `inspect` reports. Which usual gateway mount targets the image's
 * user cannot reach, whether a rewrap is needed, and whether one can be made.
 */
import { CONFIG_PATHS } from "./config-paths.js";
import { BIN_DIRS, type ImageFacts, type ResolvedUser, resolveUser } from "./facts.js";
import { PlanError } from "./errors.js";
import { DEFAULT_MOUNTS, chooseDropTool, findDropTool, isRewrapped, onBuildProblem, pinnedDigest, planRewrap } from "./plan.js";
import { LABEL } from "./labels.js";
import { platformString } from "./reference.js";

export interface MountReach {
  target: string;
  reachable: boolean;
  why: string;
  /** The answer depends on the host file (its owner and mode): `reachable` is the answer for a Linux 0600 file of another uid. */
  host?: true;
}

export interface Diagnosis {
  ref: string;
  id: string;
  digest: string | null;
  platform: string;
  user: ResolvedUser | null;
  entrypoint: string[] | null;
  cmd: string[] | null;
  workdir: string;
  env: string[];
  labels: Record<string, string>;
  repoDigests: string[];
  shell: boolean;
  dropTool: { kind: string; path: string } | null;
  /** ONBUILD triggers: a build FROM the image runs them, so only the registry route can rewrap it. */
  onBuild: string[];
  mounts: MountReach[];
  needsRewrap: boolean;
  /** Null when a rewrap can be made; else why not. */
  cannotRewrap: string | null;
  summary: string;
}

export function diagnose(facts: ImageFacts, version: string): Diagnosis {
  let user: ResolvedUser | null = null;
  let userError: string | null = null;
  try {
    user = resolveUser(facts);
  } catch (e) {
    userError = (e as Error).message;
  }
  const rootMode = facts.rootMode;
  const traversable = rootMode !== null && (rootMode & 0o001) !== 0;
  const mounts: MountReach[] = DEFAULT_MOUNTS.map((target) => {
    if (!user) return { target, reachable: false, why: userError ?? "unknown user" };
    if (user.uid === 0) return { target, reachable: true, why: "the image runs as root" };
    if (!traversable) {
      const mode = rootMode === null ? "missing in the image (created 0755 by Docker)" : `mode ${rootMode.toString(8).padStart(4, "0")}`;
      if (rootMode === null) {
        return { target, reachable: false, why: `/root is ${mode}, but a host file of mode 0600 stays unreadable to uid ${user.uid}` };
      }
      return { target, reachable: false, why: `uid ${user.uid} cannot enter /root (${mode})` };
    }
    return { target, reachable: false, why: `a host file of mode 0600 owned by another uid stays unreadable to uid ${user.uid}` };
  });
  // Today's catalog mounts into the user's own home instead (GATEWAY.md): there the host file is
  // read as it is on the host, and a Linux kubeconfig is 0600, owned by the host user (#103).
  // Not a home the rewrap makes up (the image has none): no catalog mounts there. (resolveUser
  // gives homes as one spelling: cleanPath.)
  if (user && user.uid !== 0 && user.homeSource !== "generated" && user.home !== "/root" && user.home !== "/") {
    for (const p of CONFIG_PATHS) {
      mounts.push({ target: `${user.home}/${p.rel}`, reachable: false, host: true, why: `a host file mounted here keeps its owner and mode: uid ${user.uid} cannot read a 0600 file of another uid (a Linux host, #103)` });
    }
  }
  const needsRewrap = !!user && user.uid !== 0;
  let cannotRewrap: string | null = null;
  try {
    planRewrap(facts, { version, projectUrl: "", force: true });
  } catch (e) {
    if (!(e instanceof PlanError)) throw e;
    cannotRewrap = e.message;
  }
  const digest = pinnedDigest(facts);
  let summary: string;
  if (isRewrapped(facts.config)) {
    // It starts as root by design: the shim drops to the user its label names.
    summary = `already a rewrap (mcp-rewrap ${facts.config.labels[LABEL.version]}) of ${facts.config.labels[LABEL.baseName] ?? "an image"}, for ${facts.config.labels[LABEL.user]?.split(":")[0] ?? "its user"}; \`mcp-rewrap verify ${facts.ref}\` checks it under the gateway's run line`;
  } else if (!user) summary = `cannot tell: ${userError}`;
  else if (!needsRewrap) summary = "no rewrap needed: the image runs as root and can read the gateway's mounts under /root";
  else if (cannotRewrap) summary = `needs a rewrap, but one cannot be made: ${cannotRewrap}`;
  else if (onBuildProblem(facts)) summary = `needs a rewrap: ${user.name} (uid ${user.uid}) cannot read config the gateway mounts under /root, nor a 0600 host file of another uid mounted into its home; the image has ONBUILD triggers, which a build FROM it would run, so rewrap it in its registry: \`mcp-rewrap build ${facts.ref} --push --tag REGISTRY/NAME:TAG\``;
  else summary = `needs a rewrap: ${user.name} (uid ${user.uid}) cannot read config the gateway mounts under /root, nor a 0600 host file of another uid mounted into its home; run \`mcp-rewrap build ${facts.ref}\``;
  return {
    ref: facts.ref,
    id: facts.id,
    digest,
    platform: platformString(facts),
    user,
    entrypoint: facts.config.entrypoint,
    cmd: facts.config.cmd,
    workdir: facts.config.workdir,
    env: facts.config.env,
    labels: facts.config.labels,
    repoDigests: facts.repoDigests,
    shell: BIN_DIRS.some((d) => facts.present.includes(`${d}/sh`)),
    // The tool the rewrap would use for this user (busybox applets posing as setpriv skipped).
    dropTool: (() => {
      const t = user ? chooseDropTool(facts, user) : null;
      return t ? { kind: t.kind, path: t.path } : findDropTool(facts.present, facts.links);
    })(),
    onBuild: facts.config.onBuild ?? [],
    mounts,
    needsRewrap,
    cannotRewrap: needsRewrap ? cannotRewrap : null,
    summary,
  };
}

/** The human report for `inspect`. */
export function formatDiagnosis(d: Diagnosis): string {
  const u = d.user;
  const lines = [
    `image       ${d.ref}`,
    `id          ${d.id}`,
    `digest      ${d.digest ?? "(none: local image)"}`,
    `platform    ${d.platform}`,
    `user        ${u ? `${u.name} uid=${u.uid} gid=${u.gid} groups=${u.groups.join(",")} home=${u.home} (${u.homeSource})` : "(unresolved)"}`,
    `entrypoint  ${d.entrypoint ? JSON.stringify(d.entrypoint) : "(none)"}`,
    `cmd         ${d.cmd ? JSON.stringify(d.cmd) : "(none)"}`,
    `workdir     ${d.workdir || "/"}`,
    `shell       ${d.shell ? "/bin/sh" : "(none)"}`,
    `drop tool   ${d.dropTool ? `${d.dropTool.kind} (${d.dropTool.path})` : "(none)"}`,
    ...(d.onBuild.length ? [`onbuild     ${d.onBuild.map((t) => JSON.stringify(t)).join(", ")} (a build FROM the image runs them)`] : []),
    "gateway mounts:",
    ...d.mounts.map((m) => `  ${m.reachable ? "ok     " : m.host ? "HOST   " : "BLOCKED"} ${m.target}  ${m.why}`),
    "",
    d.summary,
  ];
  // Each entry is one line: a control character from the image (a newline in ENV HOME or
  // WorkingDir, an escape sequence for the terminal) is shown escaped, never acted on.
  return `${lines.map(visible).join("\n")}\n`;
}

/** TEXT with its control characters (tab aside) written as \n, \r or \xHH. */
function visible(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000a-\u001f\u007f]/g, (c) => (c === "\n" ? "\\n" : c === "\r" ? "\\r" : `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`));
}

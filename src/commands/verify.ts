/** `mcp-rewrap verify IMAGE [REWRAPPED]`: run images as the gateway does and judge what the server can read. */
import { resolveUser } from "../core/facts.js";
import { LABEL } from "../core/labels.js";
import { DEFAULT_VERIFY_MOUNTS, type MountSpec, type Verdict } from "../core/verdict.js";
import { runVerify } from "../edge/docker-run.js";
import { type CommonOptions, getFacts } from "./shared.js";

export interface VerifyCommandOptions extends CommonOptions {
  /** Explicit --mount specs; without them, both mount sites (see defaultMounts). */
  mounts?: MountSpec[];
  state?: string[];
  mcp?: boolean;
  timeoutMs?: number;
}

/**
 * Both sites the gateway mounts a kubeconfig at: /root/.kube/config (older catalogs, #284) and
 * the server's own $HOME/.kube/config (today's catalog) with a 0600 file of another uid, as a
 * Linux host has it (#103).
 */
export function defaultMounts(home: string): MountSpec[] {
  const h = home.replace(/\/+$/, "");
  if (!h || h === "/root") return DEFAULT_VERIFY_MOUNTS;
  return [...DEFAULT_VERIFY_MOUNTS, ...DEFAULT_VERIFY_MOUNTS.map((m) => ({ target: `${h}${m.target.slice("/root".length)}` }))];
}

/** Exit code of verify: the worst verdict across images (0 only when every image passed). */
export function verifyExitCode(verdicts: Verdict[]): 0 | 1 {
  return verdicts.every((v) => v.ok) ? 0 : 1;
}

/** One verdict from the runs of one image: every target, ok only when every run passed. */
export function mergeRuns(parts: Verdict[]): Verdict {
  const first = parts[0]!;
  const last = parts[parts.length - 1]!;
  const error = parts.map((p) => p.error).filter(Boolean).join("; ");
  const state = parts.flatMap((p) => p.state ?? []);
  return {
    ...first,
    ok: parts.every((p) => p.ok),
    targets: parts.flatMap((p) => p.targets),
    ...(error ? { error } : {}),
    ...(last.mcp ? { mcp: last.mcp } : {}),
    ...(state.length ? { state } : {}),
  };
}

export async function verifyCommand(images: string[], opts: VerifyCommandOptions): Promise<Verdict[]> {
  const out: Verdict[] = [];
  for (const image of images) {
    const facts = await getFacts(image, opts);
    let uid = 0;
    let home = "/root";
    try {
      ({ uid } = resolveUser(facts));
      // A rewrapped image starts as root; the server runs as the user its label names.
      const server = facts.config.labels[LABEL.user]?.split(":")[0];
      ({ home } = resolveUser(server ? { ...facts, config: { ...facts.config, user: server } } : facts));
    } catch {
      /* judged by the probe */
    }
    // Without --mount: one run per site, as a gateway mounts one of them (an old catalog /root,
    // today's the home); --mcp with the last (today's), --state with the first run.
    const sites = opts.mounts ? [opts.mounts] : defaultMounts(home).map((m) => [m]);
    const cfg = { entrypoint: facts.config.entrypoint, labels: facts.config.labels, uid };
    const parts: Verdict[] = [];
    for (const [i, mounts] of sites.entries()) {
      const last = i === sites.length - 1;
      // The gateway runs with --pull never: verify the local image we just inspected.
      parts.push(await runVerify(image, cfg, { ...opts, mounts, mcp: last && opts.mcp, state: i === 0 ? opts.state : undefined }));
    }
    out.push(mergeRuns(parts));
  }
  return out;
}

/** `mcp-rewrap verify IMAGE [REWRAPPED]`: run images as the gateway does and judge what the server can read. */
import { resolveUser } from "../core/facts.js";
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

export async function verifyCommand(images: string[], opts: VerifyCommandOptions): Promise<Verdict[]> {
  const out: Verdict[] = [];
  for (const image of images) {
    const facts = await getFacts(image, opts);
    let uid = 0;
    let home = "/root";
    try {
      ({ uid, home } = resolveUser(facts));
    } catch {
      /* judged by the probe */
    }
    const mounts = opts.mounts ?? defaultMounts(home);
    // The gateway runs with --pull never: verify the local image we just inspected.
    out.push(await runVerify(image, { entrypoint: facts.config.entrypoint, labels: facts.config.labels, uid }, { ...opts, mounts }));
  }
  return out;
}

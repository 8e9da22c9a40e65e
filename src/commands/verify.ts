/** `mcp-rewrap verify IMAGE [REWRAPPED]`: run images as the gateway does and judge what the server can read. */
import { resolveUser } from "../core/facts.js";
import type { MountSpec, Verdict } from "../core/verdict.js";
import { runVerify } from "../edge/docker-run.js";
import { type CommonOptions, getFacts } from "./shared.js";

export interface VerifyCommandOptions extends CommonOptions {
  mounts: MountSpec[];
  mcp?: boolean;
  timeoutMs?: number;
}

export async function verifyCommand(images: string[], opts: VerifyCommandOptions): Promise<Verdict[]> {
  const out: Verdict[] = [];
  for (const image of images) {
    const facts = await getFacts(image, opts);
    let uid = 0;
    try {
      uid = resolveUser(facts).uid;
    } catch {
      /* judged by the probe */
    }
    // The gateway runs with --pull never: verify the local image we just inspected.
    out.push(await runVerify(image, { entrypoint: facts.config.entrypoint, labels: facts.config.labels, uid }, opts));
  }
  return out;
}

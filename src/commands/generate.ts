/** `mcp-rewrap generate IMAGE`: write the build context (Dockerfile, shim, plan, facts) to --out, default images/<name>/. */
import { join } from "node:path";
import { type GenerateResult, writeGenerated } from "./routes.js";
import { type RewrapOptions, getFacts, planFor } from "./shared.js";

export type { GenerateResult };

export async function generateCommand(ref: string, opts: RewrapOptions): Promise<GenerateResult> {
  const facts = await getFacts(ref, opts);
  const plan = planFor(facts, opts);
  return writeGenerated(facts, opts, opts.out ?? join("images", plan.name), plan);
}

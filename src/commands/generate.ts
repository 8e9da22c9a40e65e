/** `mcp-rewrap generate IMAGE`: write the build context (Dockerfile, shim, plan, facts). */
import { type GenerateResult, writeGenerated } from "./routes.js";
import { type RewrapOptions, getFacts } from "./shared.js";

export type { GenerateResult };

export async function generateCommand(ref: string, opts: RewrapOptions): Promise<GenerateResult> {
  return writeGenerated(await getFacts(ref, opts), opts);
}

/** `mcp-rewrap build IMAGE --push --tag REF`: rewrap and push, through the engine or registry to registry. */
import { type PushOptions, type PushResult, pushRoute } from "./routes.js";

export type { PushOptions, PushResult };

export async function pushCommand(ref: string, opts: PushOptions): Promise<PushResult> {
  return pushRoute(ref, opts);
}

/** `mcp-rewrap build IMAGE`: generate the context, build and tag the rewrapped image with the engine. */
import { type BuildOptions, type BuildResult, buildRoute } from "./routes.js";

export type { BuildOptions, BuildResult };

export async function buildCommand(ref: string, opts: BuildOptions): Promise<BuildResult> {
  return buildRoute(ref, opts);
}

/** `mcp-rewrap inspect IMAGE`: the image's user and entrypoint, and which gateway mounts it cannot read. */
import { type Diagnosis, diagnose } from "../core/diagnose.js";
import { VERSION } from "../edge/version.js";
import { type CommonOptions, getFacts } from "./shared.js";

export async function inspectCommand(ref: string, opts: CommonOptions): Promise<Diagnosis> {
  return diagnose(await getFacts(ref, opts), VERSION);
}

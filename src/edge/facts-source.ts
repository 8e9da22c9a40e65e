/**
 * Where image facts come from: ONE interface, three sources. The engine (inspect + a created,
 * never started container's files, cached), a registry (the config blob and the layers, no
 * engine needed), or a recorded facts file (`--facts`, the facts.json that generate writes).
 */
import { RuntimeError } from "../core/errors.js";
import type { ImageFacts } from "../core/facts.js";
import { type ImageManifest, type ImageIndex, isIndex, runnableManifests } from "../core/oci.js";
import { manifestRef, parseReference, platformMatches } from "../core/reference.js";
import { type Progress, engine, readImageFacts } from "./engine.js";
import { readFactsFile } from "./fs.js";
import type { Registries } from "./registry/client.js";

export interface FactsSource {
  facts(ref: string): Promise<ImageFacts>;
}

/** The local engine; pulls a missing image unless `pull` is false. */
export function engineFacts(opts: { pull?: boolean; progress?: Progress } = {}): FactsSource {
  return { facts: async (ref) => readImageFacts(await engine(), ref, opts) };
}

/** A recorded facts file; the reference asked for replaces the recorded one. */
export function fileFacts(path: string): FactsSource {
  return { facts: async (ref) => readFactsFile(path, ref) };
}

/**
 * One platform of an image in its registry, pinned to `digest` (the index or manifest the
 * reference resolves to; default: what it resolves to now).
 */
export function registryFacts(regs: Registries, opts: { platform?: string; digest?: string; progress?: Progress } = {}): FactsSource {
  return {
    facts: async (userRef) => {
      const ref = parseReference(userRef);
      const client = regs.for(ref.registry);
      const platform = opts.platform ?? "linux/amd64";
      let digest = opts.digest;
      if (!digest) {
        const head = await client.headManifest(ref.repository, manifestRef(ref));
        if (!head) throw new RuntimeError(`${userRef} is not in ${ref.registry}; check the reference`);
        digest = head.digest;
      }
      const top = await client.getManifest(ref.repository, digest);
      let manifest: ImageManifest;
      let manifestDigest = top.digest;
      if (isIndex(top.mediaType)) {
        const d = runnableManifests(top.json as ImageIndex).find((m) => platformMatches(platform, m.platform!));
        if (!d) throw new RuntimeError(`${userRef}@${digest} has no ${platform} image; choose another --platform`);
        manifest = (await client.getManifest(ref.repository, d.digest)).json as ImageManifest;
        manifestDigest = d.digest;
      } else manifest = top.json as ImageManifest;
      // The layer reader (tar-stream) loads only when facts come from a registry.
      const { readRegistryFacts } = await import("./registry/blobs.js");
      const { facts } = await readRegistryFacts(client, ref, manifest, { userRef, pinnedDigest: digest, manifestDigest, progress: opts.progress });
      return facts;
    },
  };
}

/**
 * The edge that builds: stream rendered files as a tar context (tar-stream, modes from the
 * files, fixed mtimes) to the Engine API, report progress, tag on success. A failed build
 * leaves nothing behind: no tag, no intermediate image, no container.
 */
import type Docker from "dockerode";
import * as tar from "tar-stream";
import { RuntimeError } from "../errors.js";
import type { RenderedFile } from "../render.js";
import { engineError, followStream, type Progress } from "./engine.js";

export function contextTar(files: RenderedFile[]): tar.Pack {
  const pack = tar.pack();
  for (const f of [...files].sort((a, b) => a.path.localeCompare(b.path))) {
    pack.entry({ name: f.path, mode: f.mode, mtime: new Date(0), uid: 0, gid: 0, uname: "root", gname: "root" }, f.content);
  }
  pack.finalize();
  return pack;
}

export interface BuildResult {
  id: string;
  tag: string;
}

export async function buildContext(
  docker: Docker,
  files: RenderedFile[],
  opts: { tag: string; progress: Progress; platform?: string },
): Promise<BuildResult> {
  let stream: NodeJS.ReadableStream;
  try {
    stream = await docker.buildImage(contextTar(files) as unknown as NodeJS.ReadableStream, {
      t: opts.tag,
      rm: true,
      forcerm: true,
      ...(opts.platform ? { platform: opts.platform } : {}),
    });
  } catch (e) {
    throw engineError(e, `building ${opts.tag}`);
  }
  const made: string[] = [];
  let failure: string | null = null;
  let built: string | null = null;
  await followStream(docker, stream, (ev) => {
    if (typeof ev.error === "string") failure = ev.error;
    const aux = ev.aux as { ID?: string } | undefined;
    if (aux?.ID) built = aux.ID;
    if (typeof ev.stream === "string") {
      for (const raw of ev.stream.split("\n")) {
        const line = raw.trimEnd();
        if (!line) continue;
        const step = /^ ---> ([0-9a-f]{12})$/.exec(line);
        if (step) made.push(step[1]!);
        const ok = /^Successfully built ([0-9a-f]{12})$/.exec(line);
        if (ok && !built) built = ok[1]!;
        opts.progress(line);
      }
    }
  }).catch((e: Error) => {
    failure = failure ?? e.message;
  });
  if (failure || !built) {
    await removeIntermediates(docker, made.slice(1));
    throw new RuntimeError(`building ${opts.tag} failed: ${failure ?? "the engine reported no image"}`);
  }
  const info = await docker.getImage(opts.tag).inspect().catch((e) => {
    throw engineError(e, `inspecting the new ${opts.tag}`);
  });
  return { id: info.Id, tag: opts.tag };
}

/** Removes untagged images a failed build made (the first ` ---> ` is the base, kept). */
async function removeIntermediates(docker: Docker, ids: string[]): Promise<void> {
  for (const id of ids.reverse()) {
    const img = docker.getImage(id);
    const info = await img.inspect().catch(() => null);
    if (info && (info.RepoTags ?? []).length === 0) await img.remove({ noprune: false }).catch(() => {});
  }
}

/**
 * The engine edge: every Engine API call mcp-rewrap makes goes through here (dockerode):
 * connect, inspect, pull, read an image's files, build a context, push a tag. Errors are
 * turned into RuntimeError/UsageError messages that name the image and the step. What only
 * reads (ping, version, image inspect) goes through an `Engine`: the read-only client of
 * engine-lite.ts where it can reach the endpoint, else dockerode. dockerode loads on the first
 * call that writes, creates a container or streams (`docker()`, `full()`), and tar-stream on
 * the first tar read or write, so a command that only reads (inspect with cached facts, a no-op
 * build) pays for neither.
 */
import type Docker from "dockerode";
import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Readable } from "node:stream";
import type { Pack } from "tar-stream";
import { RuntimeError, UsageError } from "../core/errors.js";
import { type ContainerConfigFields, type ImageFacts, PROBE_PATHS, imageConfigFrom } from "../core/facts.js";
import { LABEL } from "../core/labels.js";
import { type HistoryStep, isRewrapBuild, localBaseProblem, localBaseTag, type RewrapPlan, shortId } from "../core/plan.js";
import { familiarName, parseReference } from "../core/reference.js";
import type { RenderedFile } from "../core/render.js";
import { type ImageFiles, cachedImageFiles } from "./cache.js";
import { onCleanup } from "./cleanup.js";
import { type EngineEndpoint, describeEngine, dockerodeOptions, engineHint, engineTransport, resolveEngine } from "./docker-context.js";
import { LiteEngine } from "./engine-lite.js";
import { credentialsFor, engineAuthConfig } from "./registry/credentials.js";

export type Progress = (line: string) => void;

interface EngineError extends Error {
  statusCode?: number;
  code?: string;
  json?: { message?: string };
}

let endpoint: EngineEndpoint | null = null;
/** The engine chosen as the docker CLI chooses it (DOCKER_HOST, DOCKER_CONTEXT, currentContext). */
export function engineEndpoint(): EngineEndpoint {
  endpoint ??= resolveEngine();
  return endpoint;
}

/** Where the engine is, for messages: its host, and the context that named it. */
export function engineHost(): string {
  return describeEngine(engineEndpoint());
}

export async function connect(): Promise<Docker> {
  const e = engineEndpoint();
  const { default: Dockerode } = await import("dockerode");
  try {
    return e.source === "context" ? new Dockerode(dockerodeOptions(e) as Docker.DockerOptions) : new Dockerode();
  } catch (err) {
    throw new RuntimeError(
      e.source === "context"
        ? `cannot use the Docker context ${e.context} (${e.host}): ${(err as Error).message}; run \`docker context inspect ${e.context}\``
        : `cannot use DOCKER_HOST=${process.env.DOCKER_HOST ?? ""}: ${(err as Error).message}; fix or unset DOCKER_HOST`,
    );
  }
}

const rightHint = () => {
  const e = engineEndpoint();
  return e.source === "context" ? `is the context right (docker context inspect ${e.context})?` : "is DOCKER_HOST right?";
};

/** Rewrites low-level errors into one clear sentence; `what` names the step and the input. */
export function engineError(e: unknown, what: string): Error {
  if (e instanceof RuntimeError || e instanceof UsageError) return e;
  const err = e as EngineError;
  const code = err.code ?? "";
  if (["ECONNREFUSED", "ENOENT", "EACCES", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "ECONNRESET", "EPIPE", "ETIMEDOUT"].includes(code)) {
    return new RuntimeError(
      `${what}: cannot reach the Docker engine at ${engineHost()} (${code}); ${engineHint(engineEndpoint())}`,
    );
  }
  const message =
    (err.json?.message ?? err.message ?? String(e)).replace(/^\(HTTP code \d+\)[^-]*- /, "").trim() ||
    (err.statusCode ? `HTTP ${err.statusCode} with no message` : "unknown error");
  if (err.statusCode === 400 && /invalid reference|repository name|tag|reference format/i.test(message)) {
    return new UsageError(`${what}: ${message}`);
  }
  return new RuntimeError(`${what}: ${message}`);
}

/** How long the first request may take: a DOCKER_HOST that accepts and never answers must not hang us. */
export const PING_TIMEOUT_MS = 10_000;

/**
 * An engine to read from: the read-only client (node:http, no dockerode) or dockerode itself
 * (an ssh:// or npipe:// engine, or once dockerode is loaded anyway). Reads take either.
 */
export type Engine = Docker | LiteEngine;

/** The engine when one answers, else null (for commands that can also work without one). */
export async function engineOrNull(): Promise<Engine | null> {
  try {
    return await engine();
  } catch {
    return null;
  }
}

let reader: Engine | null = null;
/**
 * The engine to read from, connected and answering (one per process): the read-only client
 * when engineTransport can reach the endpoint, else dockerode (same checks, same errors).
 */
export async function engine(): Promise<Engine> {
  if (shared) return shared;
  if (!reader) {
    const t = engineTransport(engineEndpoint());
    if (!t) return (reader = await docker());
    const lite = new LiteEngine(t);
    await ping(lite);
    reader = lite;
  }
  return reader;
}

/** dockerode for `e`: itself, or the process's dockerode when `e` is the read-only client. */
export async function full(e: Engine): Promise<Docker> {
  return e instanceof LiteEngine ? docker() : e;
}

let shared: Docker | null = null;
/** dockerode, connected and answering (one per process): for what builds, pushes, runs containers or streams. */
export async function docker(): Promise<Docker> {
  if (!shared) {
    const d = await connect();
    // The read-only client has seen this engine answer: no second ping.
    if (!(reader instanceof LiteEngine)) await ping(d);
    shared = d;
  }
  return shared;
}

export async function ping(d: Engine): Promise<void> {
  try {
    // dockerode's ping takes an abortSignal (its types do not say so); so does the read-only client's.
    await (d.ping as unknown as (o: { abortSignal: AbortSignal }) => Promise<unknown>).call(d, {
      abortSignal: AbortSignal.timeout(PING_TIMEOUT_MS),
    });
  } catch (e) {
    const err = e as EngineError;
    if (err.name === "AbortError" || err.name === "TimeoutError") {
      throw new RuntimeError(`connecting to the engine: ${engineHost()} did not answer within ${PING_TIMEOUT_MS / 1000} s; ${rightHint()}`);
    }
    if (typeof err.statusCode === "number") {
      throw new RuntimeError(`connecting to the engine: ${engineHost()} does not answer like a Docker engine (HTTP ${err.statusCode}); ${rightHint()}`);
    }
    throw engineError(e, "connecting to the engine");
  }
}

/** The engine's own platform, as `os/arch` (e.g. linux/amd64). */
export async function enginePlatform(docker: Engine): Promise<string> {
  try {
    const v = (await docker.version()) as { Os?: string; Arch?: string };
    return `${v.Os ?? "linux"}/${v.Arch ?? "unknown"}`;
  } catch (e) {
    throw engineError(e, "asking the engine for its platform");
  }
}

/** Follows a JSON-lines progress stream, reporting each line; rejects on an `error` message. */
export function followStream(docker: Docker, stream: NodeJS.ReadableStream, onEvent: (ev: Record<string, unknown>) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (err: Error | null) => (err ? reject(err) : resolve()),
      (ev: Record<string, unknown>) => {
        onEvent(ev);
      },
    );
  });
}

export async function pullImage(docker: Docker, ref: string, progress: Progress): Promise<void> {
  progress(`pulling ${ref}`);
  let stream: NodeJS.ReadableStream;
  try {
    stream = (await docker.pull(ref)) as NodeJS.ReadableStream;
  } catch (e) {
    throw engineError(e, `pulling ${ref}`);
  }
  let failure: string | null = null;
  const seen = new Set<string>();
  await followStream(docker, stream, (ev) => {
    if (typeof ev.error === "string") failure = ev.error;
    const line = [ev.id, ev.status].filter(Boolean).join(": ");
    if (line && !/^(Downloading|Extracting|Waiting)/.test(String(ev.status)) && !seen.has(line)) {
      seen.add(line);
      progress(line);
    }
  }).catch((e: Error) => {
    failure = e.message;
  });
  if (failure) throw new RuntimeError(`pulling ${ref}: ${failure}`);
}

export interface InspectInfo {
  /** The legacy store's config digest; the containerd store's manifest or index digest. */
  Id: string;
  /** API 1.48+ (containerd store): the descriptor of what Id names. */
  Descriptor?: { mediaType?: string; digest?: string } | null;
  RepoTags?: string[] | null;
  RepoDigests?: string[] | null;
  Os: string;
  Architecture: string;
  Variant?: string;
  Config?: ContainerConfigFields | null;
  RootFS?: { Layers?: string[] | null } | null;
  /** The legacy builder's image of the step before (an image ID), "" for none. */
  Parent?: string;
}

export async function inspectImage(docker: Engine, ref: string): Promise<InspectInfo | null> {
  try {
    return (await (docker instanceof LiteEngine ? docker.inspectImage(ref) : docker.getImage(ref).inspect())) as unknown as InspectInfo;
  } catch (e) {
    if ((e as EngineError).statusCode === 404) return null;
    throw engineError(e, `inspecting ${ref}`);
  }
}

/**
 * Whether the image `id` is a rewrap as mcp-rewrap built it (isRewrapBuild on its history), not an
 * image built on one. When the engine cannot say, false: then nothing is removed or trusted.
 */
export async function isRewrapImage(docker: Engine, id: string): Promise<boolean> {
  try {
    const h = docker instanceof LiteEngine ? await docker.imageHistory(id) : await docker.getImage(id).history();
    return Array.isArray(h) && isRewrapBuild(h as HistoryStep[]);
  } catch {
    return false;
  }
}

/** Image facts, read without running the image: inspect, then a created (never started) container's files. */
export async function readImageFacts(
  docker: Engine,
  ref: string,
  opts: { pull?: boolean; progress?: Progress } = {},
): Promise<ImageFacts> {
  const progress = opts.progress ?? (() => {});
  let info = await inspectImage(docker, ref);
  if (!info) {
    if (opts.pull === false) {
      throw new RuntimeError(`image ${ref} is not in the local engine (pulling is off); pull it first, or drop --no-pull`);
    }
    await pullImage(await full(docker), ref, progress);
    info = await inspectImage(docker, ref);
    if (!info) throw new RuntimeError(`image ${ref} is still missing after the pull; check the reference`);
  }
  // A bare hex ID (`docker images` prints 12 digits) that the engine resolved as an ID, not as a
  // repository of that name: the plan takes the full ID (as sha256:…), not `<hex>:latest`.
  if (/^[0-9a-f]{12,64}$/.test(ref) && info.Id.startsWith(`sha256:${ref}`) && !(info.RepoTags ?? []).includes(`${ref}:latest`)) ref = info.Id;
  const files = await cachedImageFiles(info.Id, ["/etc/passwd", "/etc/group"], PROBE_PATHS, "/root", () =>
    readFilesFromImage(docker, info!.Id, ["/etc/passwd", "/etc/group"], PROBE_PATHS, "/root"),
  );
  return {
    ref,
    id: await platformImageId(docker, info),
    repoTags: [...(info.RepoTags ?? [])].sort(),
    repoDigests: [...(info.RepoDigests ?? [])].sort(),
    os: info.Os,
    architecture: info.Architecture,
    ...(info.Variant ? { variant: info.Variant } : {}),
    config: imageConfigFrom(info.Config),
    passwd: files.text["/etc/passwd"] ?? null,
    group: files.text["/etc/group"] ?? null,
    present: files.present,
    ...(Object.keys(files.links).length ? { links: files.links } : {}),
    rootMode: files.modes["/root"] ?? null,
  };
}

const INDEX_TYPES = new Set(["application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json"]);

/**
 * The image, as every route names it: its platform manifest digest where one exists, else its
 * config digest. The legacy store's ID is the config digest; the containerd store's is the
 * manifest digest, or, for an image pulled from a multi-platform index, the index digest: then
 * the platform manifest is the one of the engine's platform that the index lists (API 1.48
 * `manifests=1`). Falls back to the engine's ID when it cannot tell.
 */
export async function platformImageId(docker: Engine, info: InspectInfo): Promise<string> {
  if (!info.Descriptor?.mediaType || !INDEX_TYPES.has(info.Descriptor.mediaType)) return info.Id;
  try {
    const match = (await manifestsOf(docker, info.Id)).find(
      (m) =>
        m.Kind === "image" &&
        m.Available !== false &&
        m.ImageData?.Platform?.os === info.Os &&
        m.ImageData?.Platform?.architecture === info.Architecture &&
        (!info.Variant || m.ImageData?.Platform?.variant === info.Variant),
    );
    return match?.ID ?? info.Id;
  } catch {
    return info.Id;
  }
}

type ManifestSummary = { ID?: string; Kind?: string; Available?: boolean; ImageData?: { Platform?: { os?: string; architecture?: string; variant?: string } } };

/** The platform manifests the engine lists for an image (containerd image store, API 1.48 `manifests=1`). */
async function manifestsOf(docker: Engine, id: string): Promise<ManifestSummary[]> {
  // dockerode's getImage().inspect() sends no query at all, so its modem is asked directly (it
  // adds options to a path with "?").
  const all = (await (docker instanceof LiteEngine
    ? docker.inspectImage(id, { manifests: true })
    : new Promise<unknown>((resolve, reject) =>
        docker.modem.dial(
          { path: `/images/${id}/json?`, method: "GET", options: { manifests: true }, statusCodes: { 200: true, 404: "no such image", 500: "server error" } },
          (err: unknown, data: unknown) => (err ? reject(err) : resolve(data)),
        ),
      ))) as { Manifests?: ManifestSummary[] | null };
  return all.Manifests ?? [];
}

/**
 * How many platforms the image has, as the engine itself knows it: on the containerd image store
 * the engine keeps what it pulled (a multi-platform index, or one manifest) and lists it; null on
 * the legacy store, or when the engine cannot say (then only the registry can tell). There, a
 * repository digest is no sign that an image came from a registry (every local build and load
 * has one), so nothing else should send its name to one.
 */
export async function localPlatformCount(docker: Engine, info: InspectInfo): Promise<number | null> {
  const type = info.Descriptor?.mediaType;
  if (!type) return null;
  if (!INDEX_TYPES.has(type)) return 1;
  try {
    const images = (await manifestsOf(docker, info.Id)).filter((m) => m.Kind === "image");
    return images.length || null;
  } catch {
    return null;
  }
}

async function readFilesFromImage(
  e: Engine,
  imageId: string,
  textPaths: string[],
  probePaths: string[],
  modePath: string,
): Promise<ImageFiles> {
  // Loaded before the container exists, so the signal cleanup can remove it from the first moment.
  const { removeContainerSync } = await import("./docker-run.js");
  const docker = await full(e);
  // Named before it is made: a signal while the engine makes it removes it by that name, also
  // when the engine finishes the create after the stop (removeContainerSync's mayAppear).
  const name = `mcp-rewrap-probe-${randomBytes(5).toString("hex")}`;
  let creating = true;
  const untrack = onCleanup(() => removeContainerSync(name, { mayAppear: creating }));
  let container: Docker.Container;
  try {
    container = await docker.createContainer({
      name,
      Image: imageId,
      Entrypoint: ["/mcp-rewrap-probe-never-started"],
      Cmd: [],
      Labels: { [LABEL.probe]: "1" },
      NetworkDisabled: true,
    });
  } catch (e) {
    untrack();
    throw engineError(e, `reading files of ${imageId.slice(0, 19)}`);
  } finally {
    creating = false;
  }
  try {
    const text: Record<string, string> = {};
    for (const p of textPaths) {
      const content = await readTextFile(container, p);
      if (content !== null) text[p] = content;
    }
    const stats = await mapLimit([...probePaths, modePath], 8, async (p) => [p, await statPath(container, p)] as const);
    const present = stats.filter(([p, s]) => s && p !== modePath).map(([p]) => p);
    const modes: Record<string, number> = {};
    const rootStat = stats.find(([p]) => p === modePath)?.[1];
    if (rootStat) modes[modePath] = rootStat.mode & 0o7777;
    // Where probed symlinks lead (e.g. /bin/setpriv -> /bin/busybox): a busybox applet is not the real tool.
    const links: Record<string, string> = {};
    for (const [p, s] of stats) if (s?.linkTarget && p !== modePath) links[p] = s.linkTarget;
    return { text, present, links, modes };
  } finally {
    await container.remove({ force: true, v: true }).catch(() => {});
    untrack();
  }
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  });
  await Promise.all(workers);
  return out;
}

async function statPath(container: Docker.Container, path: string): Promise<{ mode: number; linkTarget?: string } | null> {
  try {
    const res = (await container.infoArchive({ path })) as unknown as IncomingMessage;
    const header = res.headers["x-docker-container-path-stat"];
    res.resume?.();
    if (typeof header !== "string") return { mode: 0 };
    const stat = JSON.parse(Buffer.from(header, "base64").toString("utf8")) as { mode: number; linkTarget?: string };
    return { mode: stat.mode, ...(stat.linkTarget ? { linkTarget: stat.linkTarget } : {}) };
  } catch (e) {
    if ((e as EngineError).statusCode === 404) return null;
    throw engineError(e, `checking ${path} in the image`);
  }
}

/** A file's text from a container's filesystem (following one symlink), or null when absent. */
async function readTextFile(container: Docker.Container, path: string, hops = 0): Promise<string | null> {
  let stream: NodeJS.ReadableStream;
  try {
    stream = (await container.getArchive({ path })) as NodeJS.ReadableStream;
  } catch (e) {
    if ((e as EngineError).statusCode === 404) return null;
    throw engineError(e, `reading ${path} from the image`);
  }
  const entry = await firstTarEntry(stream);
  if (!entry) return null;
  if (entry.type === "symlink" && entry.linkname && hops < 4) {
    const target = entry.linkname.startsWith("/") ? entry.linkname : `${path.slice(0, path.lastIndexOf("/"))}/${entry.linkname}`;
    return readTextFile(container, target, hops + 1);
  }
  return entry.type === "file" ? entry.body.toString("utf8") : null;
}

async function firstTarEntry(stream: NodeJS.ReadableStream): Promise<{ type: string; linkname?: string; body: Buffer } | null> {
  const tar = await import("tar-stream");
  return new Promise((resolve, reject) => {
    const extract = tar.extract();
    let result: { type: string; linkname?: string; body: Buffer } | null = null;
    extract.on("entry", (header, body, next) => {
      const chunks: Buffer[] = [];
      body.on("data", (c: unknown) => {
        if (!result) chunks.push(c as Buffer);
      });
      body.on("end", () => {
        if (!result) result = { type: header.type ?? "file", linkname: header.linkname ?? undefined, body: Buffer.concat(chunks) };
        next();
      });
      body.resume();
    });
    extract.on("finish", () => resolve(result));
    extract.on("error", reject);
    (stream as Readable).pipe(extract);
  });
}

// --- build a context, push a tag -------------------------------------------------------

export async function contextTar(files: RenderedFile[]): Promise<Pack> {
  const tar = await import("tar-stream");
  const pack = tar.pack();
  for (const f of [...files].sort((a, b) => a.path.localeCompare(b.path))) {
    pack.entry({ name: f.path, mode: f.mode, mtime: new Date(0), uid: 0, gid: 0, uname: "root", gname: "root" }, f.content);
  }
  pack.finalize();
  return pack;
}

export interface BuildResult {
  /** The image this build made (not necessarily what the tag names now). */
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
    stream = await docker.buildImage((await contextTar(files)) as unknown as NodeJS.ReadableStream, {
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
    // The last step that made an image, and the steps below it that nothing else is built on.
    if (made.length > 1) await removeWithSteps(docker, made.at(-1)!).catch(() => {});
    throw new RuntimeError(`building ${opts.tag} failed: ${failure ?? "the engine reported no image"}; run it again without -q to see the build output`);
  }
  // The image this build made, by the ID the engine printed: by the time it is read, another build
  // (or a `docker tag`) may have moved the tag to its own image (the caller checks the tag).
  const info = await docker.getImage(built).inspect().catch((e) => {
    throw engineError(e, `inspecting the new ${opts.tag}`);
  });
  return { id: info.Id, tag: opts.tag };
}

/** The tags that name an image (the engine lists an untagged one as `<none>:<none>`). */
function tagsOf(info: InspectInfo): string[] {
  return (info.RepoTags ?? []).filter((t) => t && t !== "<none>:<none>");
}

/**
 * Removes an image that no tag names and no other image is built on, then its build's
 * step images (Parent), one by one, up to the first that another image is built on (a later
 * build that shared the first steps from the cache) or that a tag or digest names (the base).
 * The engine's own pruning is not used: the containerd image store (Docker 28.5) also removes
 * step images other images are built on, and those images' own steps are then left for good.
 * Returns whether `id` was removed.
 */
export async function removeWithSteps(d: Docker, id: string): Promise<boolean> {
  // `id` itself only needs to be untagged: a rewrap pushed through the engine keeps its repository
  // digest on the legacy store after its tag has moved on.
  const top = await inspectImage(d, id);
  if (!top || tagsOf(top).length) return false;
  const children = await childCounts(d);
  if (children.get(top.Id)) return false;
  await d.getImage(top.Id).remove({ noprune: true });
  await removeStepsBelow(d, top.Parent, children);
  return true;
}

/** How many images are built on each one (the containerd store does not refuse to remove those). */
async function childCounts(d: Docker): Promise<Map<string, number>> {
  const children = new Map<string, number>();
  for (const im of await d.listImages({ all: true })) if (im.ParentId) children.set(im.ParentId, (children.get(im.ParentId) ?? 0) + 1);
  return children;
}

/**
 * The step images below an image just removed, from its Parent `step` down, one by one, up to
 * the first that another image is built on or that a tag or digest names. `children` was
 * counted while that image was still there (it counts as one of its parent's children).
 */
async function removeStepsBelow(d: Docker, step: string | undefined, children: Map<string, number>): Promise<void> {
  const named = (i: InspectInfo) => tagsOf(i).length > 0 || (i.RepoDigests ?? []).length > 0;
  while (step) {
    children.set(step, (children.get(step) ?? 1) - 1);
    if (children.get(step)) return;
    const s = await inspectImage(d, step);
    if (!s || named(s)) return;
    await d.getImage(step).remove({ noprune: true });
    step = s.Parent;
  }
}

/**
 * The digest a push stream event reports: `aux.Digest` (legacy store), or the status line
 * `<tag>: digest: sha256:… size: N` (the only place Docker 28 with the containerd store says it).
 */
export function pushedDigest(ev: Record<string, unknown>): string | null {
  const aux = ev.aux as { Digest?: unknown } | undefined;
  if (typeof aux?.Digest === "string" && /^sha256:[0-9a-f]{64}$/.test(aux.Digest)) return aux.Digest;
  const m = typeof ev.status === "string" ? /(?:^|\s)digest: (sha256:[0-9a-f]{64}) size: \d+/.exec(ev.status) : null;
  return m?.[1] ?? null;
}

/** `docker push` through the Engine API; returns the pushed manifest digest (null when the engine did not say). */
export async function pushWithEngine(docker: Docker, tag: string, progress: Progress): Promise<{ digest: string | null }> {
  const ref = parseReference(tag);
  const auth = engineAuthConfig(ref.registry, credentialsFor(ref.registry));
  progress(`pushing ${tag} through the engine${auth ? " (credentials from the Docker config)" : ""}`);
  let stream: NodeJS.ReadableStream;
  try {
    const image = docker.getImage(tag.replace(/:[^/:@]+$/, ""));
    stream = (await image.push({ tag: ref.tag ?? "latest", ...(auth ? { authconfig: auth } : {}) })) as NodeJS.ReadableStream;
  } catch (e) {
    throw engineError(e, `pushing ${tag}`);
  }
  let failure: string | null = null;
  let digest: string | null = null;
  const seen = new Set<string>();
  await followStream(docker, stream, (ev) => {
    if (typeof ev.error === "string") failure = ev.error;
    digest = pushedDigest(ev) ?? digest;
    const line = [ev.id, ev.status].filter(Boolean).join(": ");
    if (line && !/^[0-9a-f]{12}: (Pushing|Preparing|Waiting)/.test(line) && !seen.has(line)) {
      seen.add(line);
      progress(line);
    }
  }).catch((e: Error) => {
    failure = failure ?? e.message;
  });
  if (failure) throw new RuntimeError(`pushing ${tag}: ${failure}`);
  return { digest };
}

/**
 * The rewrap a tag held before is now untagged: remove it rather than leave a dangling image
 * per rebuild, but only when nothing else uses it: no other tag (RepoTags, read again now) and
 * no container, running or not. Never forced, never by bare ID while a tag names it.
 * Its build's step images go with it (removeWithSteps), up to the first one the new rewrap
 * shares.
 */
export async function removeSuperseded(d: Docker, id: string, tag: string, progress: Progress): Promise<void> {
  try {
    const info = await inspectImage(d, id);
    if (!info) return;
    const tags = tagsOf(info);
    if (tags.length) {
      progress(`kept ${id.slice(0, 19)}, the rewrap ${tag} held before: ${tags.join(", ")} still names it`);
      return;
    }
    const containers = await d.listContainers({ all: true });
    const users = containers.filter((c) => c.ImageID === id || c.ImageID === info.Id || c.Image === id);
    if (users.length) {
      progress(`kept ${id.slice(0, 19)}, the rewrap ${tag} held before: container ${users.map((c) => (c.Names?.[0] ?? c.Id).replace(/^\//, "")).join(", ")} uses it`);
      return;
    }
    if (await removeWithSteps(d, info.Id)) progress(`removed ${id.slice(0, 19)}, the rewrap ${tag} held before`);
  } catch {
    /* in use or tagged elsewhere after all: kept */
  }
}

/**
 * The build moved `tag` off an image that is not a rewrap (the engine moves a tag silently, as
 * `docker build` does): that image is kept, and said to be without a name now when no other
 * tag holds it, with the command that removes it. Never throws.
 */
export async function reportUntagged(d: Docker, id: string, tag: string, progress: Progress, what = "not a rewrap"): Promise<void> {
  try {
    const info = await inspectImage(d, id);
    if (!info) return;
    const short = shortId(id);
    const tags = tagsOf(info);
    if (tags.length) progress(`${tag} named ${short} before, ${what}; kept: ${tags.join(", ")} still names it`);
    else progress(`${tag} named ${short} before, ${what}; kept, now without a name (\`docker image rm ${short}\` removes it)`);
  } catch {
    /* only a message */
  }
}

/**
 * Removes a tag this run made (a failed push, a build on a base that moved; the tests pass image
 * IDs too). When that was the image's last name it goes, with the build-step images only it was
 * built on (removeWithSteps), never through the engine's pruning, which on the containerd store
 * also removes steps other images are built on and so leaves theirs behind for good; an image
 * that store keeps as a dangling one after its last tag goes the same way. `force`: as
 * `docker rmi -f` (a stopped container does not keep it). Never throws: what the engine refuses
 * (an image in use) is kept.
 */
export async function removeTag(d: Docker, tag: string, opts: { force?: boolean } = {}): Promise<void> {
  try {
    const info = await inspectImage(d, tag);
    if (!info) return;
    const children = await childCounts(d);
    await d.getImage(tag).remove({ noprune: true, ...(opts.force ? { force: true } : {}) });
    const left = await inspectImage(d, info.Id);
    if (left) {
      // Another tag names it (kept), or it stayed as a dangling image.
      if (!tagsOf(left).length) await removeWithSteps(d, left.Id);
      return;
    }
    await removeStepsBelow(d, info.Parent, children);
  } catch {
    /* kept: the engine refused (in use, or a build just put an image on a step) */
  }
}

/**
 * A plan whose base is a local image named by its tag (`FROM name:tag`, no repository digest):
 * the tag must still name the image the plan was made from (`plan.source.id`). Before the build
 * (`built` absent) that is all; after it, the built image must also sit on that image's layers
 * (the tag may have named another image while the build read it). On failure the tag just built
 * is removed (its image too, when nothing else names it), put back on `built.previous` (the
 * rewrap it named before the build, if any), and one RuntimeError says why. Plans
 * pinned by digest or ID pass without a call to the engine.
 */
export async function checkLocalBase(d: Docker, plan: Pick<RewrapPlan, "source"> & Partial<Pick<RewrapPlan, "loader">>, built?: { tag: string; id: string; previous?: string | null }): Promise<void> {
  const tag = localBaseTag(plan);
  if (!tag) return;
  const now = await inspectImage(d, tag);
  const ids = now ? [...new Set([now.Id, await platformImageId(d, now)])] : [];
  let layers: Parameters<typeof localBaseProblem>[2];
  if (built && now) {
    const out = await inspectImage(d, built.id);
    layers = {
      base: now.RootFS?.Layers ?? [],
      built: out?.RootFS?.Layers ?? [],
      baseConfig: now.Config as Record<string, unknown> | undefined,
      builtConfig: out?.Config as Record<string, unknown> | undefined,
    };
  }
  const problem = localBaseProblem(plan, now ? { ids } : null, layers);
  if (!problem) return;
  if (!built) throw new RuntimeError(problem);
  await removeTag(d, built.tag);
  // The tag named an earlier rewrap before this build moved it: it names that one again.
  if (built.previous && built.previous !== built.id) {
    const back = await putTag(d, built.previous, built.tag);
    throw new RuntimeError(`${problem}${back ? "" : `; ${built.tag} could not be put back on the image it named before (${shortId(built.previous)}): tag it again with docker tag`}`);
  }
  throw new RuntimeError(problem);
}

/** Tags image `id` as `tag` (name:tag); false when the engine refuses. */
export async function putTag(d: Docker, id: string, tag: string): Promise<boolean> {
  const r = parseReference(tag);
  return d
    .getImage(id)
    .tag({ repo: familiarName(r), tag: r.tag ?? "latest" })
    .then(() => true)
    .catch(() => false);
}


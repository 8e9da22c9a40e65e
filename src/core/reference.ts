/**
 * Pure: image references, the one way mcp-rewrap reads them (as the docker CLI does:
 * `mcp/kubernetes` is docker.io/mcp/kubernetes:latest, `busybox` is docker.io/library/busybox),
 * the one rule that names a rewrapped image, and the one platform string.
 */
import { UsageError } from "./errors.js";

export interface Reference {
  /** Host[:port] as written, docker.io for Docker Hub (index.docker.io and registry-1.docker.io too). */
  registry: string;
  /** Repository path, `library/` added for official Docker Hub images. */
  repository: string;
  /** The tag; latest when neither a tag nor a digest was written (as docker does), null for a digest alone. */
  tag: string | null;
  digest: string | null;
}

export const DOCKER_HUB = "docker.io";

const COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const REPOSITORY = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** An image ID as the engine prints it (`sha256:<hex>`, at least 12 hex digits). */
export function isImageId(ref: string): boolean {
  return /^sha256:[0-9a-f]{12,64}$/.test(ref);
}

/**
 * Parses an image reference the way the docker CLI does. Throws UsageError on an invalid one
 * (`anyCase`: accept an uppercase repository, for naming only).
 */
export function parseReference(ref: string, opts: { anyCase?: boolean } = {}): Reference {
  let rest = ref.trim();
  let digest: string | null = null;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw new UsageError(`${ref}: not a valid digest (want sha256:<64 hex>)`);
  }
  let tag: string | null = null;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  const slash = rest.indexOf("/");
  const first = slash >= 0 ? rest.slice(0, slash) : "";
  let registry = DOCKER_HUB;
  let repository = rest;
  if (slash >= 0 && (first.includes(".") || first.includes(":") || first === "localhost")) {
    registry = first;
    repository = rest.slice(slash + 1);
  }
  if (registry === "index.docker.io" || registry === "registry-1.docker.io") registry = DOCKER_HUB;
  if (registry === DOCKER_HUB && repository && !repository.includes("/")) repository = `library/${repository}`;
  if (!repository || !REPOSITORY.test(opts.anyCase ? repository.toLowerCase() : repository)) throw new UsageError(`${ref}: not a valid image reference; write [registry/]repository[:tag][@sha256:digest], repository in lowercase`);
  if (tag !== null && !TAG.test(tag)) throw new UsageError(`${ref}: not a valid tag; a tag is up to 128 letters, digits, _ . -`);
  if (tag === null && digest === null) tag = "latest";
  return { registry, repository, tag, digest };
}

/** What to ask a registry for: the digest, else the tag. */
export function manifestRef(r: Reference): string {
  return r.digest ?? r.tag ?? "latest";
}

/** Whether a reference names its tag or digest (`mcp/x:1`, `x@sha256:…`), rather than meaning latest. */
export function namesVersion(ref: string): boolean {
  return /(:[^/]*|@.*)$/.test(ref);
}

/**
 * The base as a rewrap names it (the label org.opencontainers.image.base.name, and part of the
 * freshness key): the reference as given, with `:latest` when it names no version; an image
 * ID given as the base is named by `id`, its full ID.
 */
export function baseNameOf(ref: string, id: string): string {
  if (isImageId(ref)) return id;
  return namesVersion(ref) ? ref : `${ref}:latest`;
}

/** The short name the docker CLI shows: `mcp/kubernetes`, `busybox`, `127.0.0.1:5000/x/y`. */
export function familiarName(r: Pick<Reference, "registry" | "repository">): string {
  if (r.registry !== DOCKER_HUB) return `${r.registry}/${r.repository}`;
  return r.repository.startsWith("library/") ? r.repository.slice("library/".length) : r.repository;
}

/** familiarName with the tag and digest. */
export function formatReference(r: Reference): string {
  return `${familiarName(r)}${r.tag ? `:${r.tag}` : ""}${r.digest ? `@${r.digest}` : ""}`;
}

/** The last path component: `kubernetes` of `mcp/kubernetes:1`. */
export function shortName(r: Pick<Reference, "repository">): string {
  return r.repository.slice(r.repository.lastIndexOf("/") + 1);
}

/** Whether two references name the same repository (`mcp/x` and `docker.io/mcp/x` do). */
export function sameRepository(a: string, b: string): boolean {
  try {
    const x = parseReference(a, { anyCase: true });
    const y = parseReference(b, { anyCase: true });
    return x.registry === y.registry && x.repository === y.repository;
  } catch {
    return false;
  }
}

/** Whether two references name one image: the same registry, repository, tag (latest when none) and digest. */
export function sameImage(a: string, b: string): boolean {
  try {
    const x = parseReference(a);
    const y = parseReference(b);
    return x.registry === y.registry && x.repository === y.repository && x.tag === y.tag && x.digest === y.digest;
  } catch {
    return false;
  }
}

/**
 * The repository digest a reference is pinned to, from the engine's RepoDigests
 * (`repo@sha256:…`): the one of the named repository only (an image also pushed to another
 * repository is never pinned to that one's digest); null when the named repository has none (a
 * local image). For an image ID, which names no repository, the first one in sorted order.
 */
export function pickRepoDigest(ref: string, repoDigests: string[]): { repo: string; digest: string } | null {
  const parsed = repoDigests
    .filter((d) => d.includes("@"))
    .map((d) => {
      const at = d.indexOf("@");
      return { repo: d.slice(0, at), digest: d.slice(at + 1) };
    });
  if (isImageId(ref)) return [...parsed].sort((a, b) => (a.repo < b.repo ? -1 : a.repo > b.repo ? 1 : 0))[0] ?? null;
  return parsed.find((d) => sameRepository(d.repo, ref)) ?? null;
}

/** A name usable as one repository path component: `Kube_Rnetes` -> `kube_rnetes`. */
export function safeComponent(name: string, fallback = "image"): string {
  return name.toLowerCase().replace(/[^a-z0-9._-]/g, "-").replace(/^[._-]+/, "").replace(/[._-]+$/, "") || fallback;
}

/**
 * THE tag rule for a rewrapped image: `<prefix>/<name>:<tag>`, where name is the server's (when
 * given) or the image's last path component, and tag the source's tag, else `sha-<12 hex>` of
 * its digest (or of the image ID when the source is one), else latest. Default prefix
 * mcp-rewrap: never mcp/, whose images gateways only run signed.
 */
export function rewrapTag(source: string, opts: { id?: string; name?: string; prefix?: string } = {}): string {
  const prefix = (opts.prefix ?? "mcp-rewrap").replace(/\/+$/, "");
  const short = (hex: string) => `sha-${hex.replace(/^sha256:/, "").slice(0, 12)}`;
  let name: string;
  let tag: string;
  if (isImageId(source)) {
    name = opts.name ?? "image";
    tag = short(opts.id ?? source);
  } else {
    const r = parseReference(source, { anyCase: true });
    name = opts.name ?? shortName(r);
    tag = r.tag ?? (r.digest ? short(r.digest) : "latest");
  }
  return `${prefix}/${safeComponent(name, opts.name ? "server" : "image")}:${tag}`;
}

/** THE platform string: `linux/arm64/v8`. */
export function platformString(p: { os: string; architecture: string; variant?: string }): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join("/");
}

/** Matches `linux/arm64` against a platform (`linux/arm64/v8` matches `linux/arm64`). */
export function platformMatches(want: string, p: { os: string; architecture: string; variant?: string }): boolean {
  const [os, arch, variant] = want.split("/");
  return p.os === os && p.architecture === arch && (variant === undefined || p.variant === variant);
}

export function checkPlatforms(list: string[]): string[] {
  for (const p of list) {
    if (!/^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/.test(p)) throw new UsageError(`--platform ${p}: give os/arch[/variant], e.g. linux/arm64`);
  }
  return list;
}

const IMAGE_REF = new RegExp(
  `^(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?${COMPONENT}(?:/${COMPONENT})*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$`,
);

/** Whether `ref` names an image as docker takes one: a reference (`[registry/]repo[:tag][@digest]`) or an image ID. */
export function isImageRef(ref: string): boolean {
  return IMAGE_REF.test(ref) || /^(?:sha256:)?[0-9a-f]{12,64}$/.test(ref);
}

/** An image argument: a reference (`[registry/]repo[:tag][@digest]`) or an image ID (`sha256:…` or a hex prefix). */
export function checkImageRef(ref: string): string {
  if (!isImageRef(ref)) {
    throw new UsageError(`${JSON.stringify(ref)}: not an image reference or ID (e.g. mcp/kubernetes:latest, a lowercase repository with an optional :tag or @sha256:digest)`);
  }
  return ref;
}

/** A tag the gateway will run: a valid reference, and not under mcp/ (those must be signed). */
export function checkTag(tag: string): string {
  if (!/^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$/.test(tag)) {
    throw new UsageError(`--tag ${JSON.stringify(tag)}: not a valid image reference (lowercase repository, optional :tag)`);
  }
  // Docker Hub under any of its names (docker.io, index.docker.io, registry-1.docker.io, none).
  const ref = parseReference(tag);
  // The engine refuses a repository named like a digest algorithm (`sha256:abc` reads as an ID).
  if (/^(?:library\/)?sha(?:256|384|512)$/.test(ref.repository) && ref.registry === DOCKER_HUB) {
    throw new UsageError(`--tag ${tag}: a repository named ${ref.repository.replace(/^library\//, "")} reads as an image ID (the engine refuses it); choose another name`);
  }
  if (ref.registry === DOCKER_HUB && ref.repository.startsWith("mcp/")) {
    throw new UsageError(`--tag ${tag}: gateways refuse local images under mcp/ (they must be signed and pinned by digest); tag it outside mcp/`);
  }
  return tag;
}

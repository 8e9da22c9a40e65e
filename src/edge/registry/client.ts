/**
 * The registry edge: a small OCI distribution client (the parts mcp-rewrap needs) over the
 * global fetch. GET/HEAD/PUT manifests, GET/HEAD blobs, monolithic and chunked blob uploads,
 * cross-repository mounts, and the two auth schemes registries use: Bearer tokens (a 401 with
 * `WWW-Authenticate: Bearer realm=…`, as Docker Hub, GHCR and distribution's token auth do)
 * and Basic (htpasswd), with credentials from edge/registry/credentials.ts. Loopback registries,
 * and the hosts given with `--insecure-registry`, are spoken to over plain http, everything else
 * over https. Fit for real networks: proxies from the environment (HTTP_PROXY, HTTPS_PROXY,
 * NO_PROXY, and their lower-case forms, through undici's ProxyAgent: Node 20's own fetch
 * ignores them), and bounded retries with backoff on 429, 5xx and dropped connections, honouring
 * Retry-After. Every error is one line naming the registry and what to do.
 */
import { createHash } from "node:crypto";
import type { ProxyAgent } from "undici";

/** undici loads on the first registry request only (a no-op rebuild never makes one). */
type Undici = Awaited<ReturnType<typeof importUndici>>;
const importUndici = () => import("undici");
let undiciModule: Promise<Undici> | null = null;
const loadUndici = () => (undiciModule ??= importUndici());
import { RuntimeError, UsageError } from "../../core/errors.js";
import { type Descriptor, type ImageIndex, type ImageManifest, MEDIA, sha256 } from "../../core/oci.js";
import { DOCKER_HUB, familiarName } from "../../core/reference.js";
import { type Credentials, credentialsFor, dockerConfigPath } from "./credentials.js";

const MANIFEST_ACCEPT = [MEDIA.ociIndex, MEDIA.dockerList, MEDIA.ociManifest, MEDIA.dockerManifest].join(", ");

export interface FetchedManifest {
  mediaType: string;
  digest: string;
  /** The exact bytes: their sha256 is the digest. */
  bytes: Buffer;
  json: ImageManifest | ImageIndex;
}

export function isLoopback(host: string): boolean {
  const h = host.replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
  return h === "localhost" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** Hosts (`host` or `host:port`) given with --insecure-registry: spoken to over plain http. */
const insecureHosts = new Set<string>();

/** `--insecure-registry HOST[:PORT]` (repeatable): plain http to these registries, as dockerd's insecure-registries. */
export function setInsecureRegistries(hosts: string[]): void {
  insecureHosts.clear();
  for (const h of hosts) {
    const host = h.trim().replace(/^https?:\/\//, "").replace(/\/+$/, "");
    if (!/^[A-Za-z0-9.-]+(:\d+)?$|^\[[0-9a-fA-F:]+\](:\d+)?$/.test(host)) {
      throw new UsageError(`--insecure-registry ${JSON.stringify(h)}: give a registry host, e.g. registry.internal:5000`);
    }
    insecureHosts.add(host.toLowerCase());
  }
}

export function isInsecure(host: string): boolean {
  const h = host.toLowerCase();
  return insecureHosts.has(h) || insecureHosts.has(h.replace(/:\d+$/, ""));
}

export function registryBaseUrl(registry: string): string {
  const host = registry === DOCKER_HUB ? "registry-1.docker.io" : registry;
  return `${isLoopback(host) || isInsecure(host) ? "http" : "https"}://${host}`;
}

// --- the network: proxies from the environment, bounded retries ---------------------------

export interface RetryPolicy {
  /** Attempts in all (first try included). */
  attempts: number;
  /** First backoff; doubled per attempt, with jitter. */
  baseMs: number;
  /** No wait (backoff or Retry-After) is longer than this. */
  maxMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseMs: 500, maxMs: 30_000 };

const RETRY_STATUS = new Set([429, 500, 502, 503, 504]);
const RETRY_CODES = new Set(["ECONNRESET", "ETIMEDOUT", "EPIPE", "ECONNABORTED", "UND_ERR_SOCKET", "UND_ERR_CONNECT_TIMEOUT", "EAI_AGAIN"]);

/** Milliseconds a Retry-After header asks for (seconds or an HTTP date), or null. */
export function retryAfterMs(header: string | null, now = Date.now()): number | null {
  if (!header) return null;
  const v = header.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  return Number.isNaN(t) ? null : Math.max(0, t - now);
}

/** The wait before attempt `n` (1-based retry count): Retry-After when given, else exponential backoff. */
export function backoffMs(policy: RetryPolicy, retry: number, retryAfter: number | null): number {
  const wait = retryAfter ?? policy.baseMs * 2 ** (retry - 1) * (0.75 + Math.random() / 2);
  return Math.min(policy.maxMs, Math.max(0, Math.round(wait)));
}

/** The proxy settings of an environment, as curl and the docker CLI read them (lower case first; empty is unset). */
export interface ProxyEnv {
  http: string | null;
  https: string | null;
  noProxy: string[];
}

export function proxyEnv(env: NodeJS.ProcessEnv = process.env): ProxyEnv {
  const pick = (lower: string, upper: string) => env[lower] || env[upper] || null;
  const no = pick("no_proxy", "NO_PROXY") ?? "";
  return {
    http: pick("http_proxy", "HTTP_PROXY"),
    https: pick("https_proxy", "HTTPS_PROXY"),
    noProxy: no.split(/[\s,]+/).map((e) => e.trim().toLowerCase()).filter(Boolean),
  };
}

/**
 * The proxy for a URL, or null for a direct connection. NO_PROXY entries: `*`, a host (and its
 * subdomains), `.domain`, `host:port`, an IP address. Loopback follows the same rules (as curl).
 */
export function proxyFor(url: URL, p: ProxyEnv): string | null {
  const proxy = url.protocol === "https:" ? p.https : p.http;
  if (!proxy) return null;
  const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, "");
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  for (const entry of p.noProxy) {
    if (entry === "*") return null;
    const [h, ep] = entry.startsWith("[") ? [entry.slice(1, entry.indexOf("]")), entry.slice(entry.indexOf("]") + 2) || undefined] : (entry.split(":") as [string, string?]);
    if (ep && ep !== port) continue;
    const bare = h!.replace(/^\*?\./, "");
    if (host === bare || host.endsWith(`.${bare}`)) return null;
  }
  return proxy;
}

/**
 * fetch through the proxies the environment names (Node 20's own fetch ignores them): undici's
 * ProxyAgent per proxy URL, a direct connection where NO_PROXY says so. Read once per client.
 */
function proxyFetch(p: ProxyEnv) {
  const agents = new Map<string, ProxyAgent>();
  return async (url: string | URL, init: RequestInit = {}): Promise<Response> => {
    const undici = await loadUndici();
    const proxy = proxyFor(new URL(String(url)), p);
    let dispatcher: ProxyAgent | undefined;
    if (proxy) {
      dispatcher = agents.get(proxy);
      if (!dispatcher) agents.set(proxy, (dispatcher = new undici.ProxyAgent(proxy)));
    }
    return (await undici.fetch(url, { ...(init as object), ...(dispatcher ? { dispatcher } : {}) } as Parameters<typeof undici.fetch>[1])) as unknown as Response;
  };
}

const errCode = (e: unknown): string => {
  const err = e as Error & { code?: string; cause?: { code?: string } };
  return err.cause?.code ?? err.code ?? "";
};

// --- the client -----------------------------------------------------------------------

/** Parses `Bearer realm="…",service="…",scope="…"` (or `Basic realm=…`). */
export function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const m = /^\s*(\w+)\s*(.*)$/.exec(header);
  const scheme = (m?.[1] ?? "").toLowerCase();
  const params: Record<string, string> = {};
  for (const p of (m?.[2] ?? "").matchAll(/([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) {
    params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, "$1") : p[3]!;
  }
  return { scheme, params };
}

export interface RegistryOptions {
  /** Credentials to use; default: read from the Docker config on first need. */
  credentials?: Credentials | null;
  /** Chunk size for chunked uploads (default 16 MiB); smaller blobs go up in one PUT. */
  chunkSize?: number;
  userAgent?: string;
  /** Retries on 429/5xx/dropped connections (default DEFAULT_RETRY; MCP_REWRAP_REGISTRY_ATTEMPTS overrides the count). */
  retry?: Partial<RetryPolicy>;
}

type Body = Buffer | Uint8Array | string | undefined;

/** One registry host; repositories are named per call. Tokens are cached per repository and access. */
export class RegistryClient {
  readonly base: string;
  private creds: Credentials | null | undefined;
  private readonly tokens = new Map<string, string>();
  private basic: string | null = null;
  private readonly chunkSize: number;
  private readonly userAgent: string;
  private readonly retry: RetryPolicy;
  private readonly fetch: (url: string | URL, init?: RequestInit) => Promise<Response>;

  constructor(
    readonly registry: string,
    opts: RegistryOptions = {},
  ) {
    this.base = registryBaseUrl(registry);
    this.creds = opts.credentials;
    this.chunkSize = opts.chunkSize ?? (Number(process.env.MCP_REWRAP_UPLOAD_CHUNK) || 16 * 1024 * 1024);
    this.userAgent = opts.userAgent ?? "mcp-rewrap";
    const attempts = Number(process.env.MCP_REWRAP_REGISTRY_ATTEMPTS) || undefined;
    this.retry = { ...DEFAULT_RETRY, ...(attempts ? { attempts } : {}), ...opts.retry };
    this.fetch = proxyFetch(proxyEnv());
  }

  /** What to do when the registry cannot be reached at all. */
  private reachHint(code: string, cause = ""): string {
    const host = this.base.replace(/^https?:\/\//, "");
    // Node's fetch refuses the ports the Fetch standard blocks (6000, 6665-6669, 10080, ...)
    // before any connection: the network is not the problem.
    if (cause === "bad port") return `Node's fetch refuses that port (one the Fetch standard blocks, such as 6000 or 10080) without connecting; serve the registry on another port`;
    const proxy = process.env.HTTPS_PROXY || process.env.https_proxy || process.env.HTTP_PROXY || process.env.http_proxy;
    if (this.base.startsWith("https:") && ["EPROTO", "ERR_SSL_WRONG_VERSION_NUMBER", "ECONNREFUSED"].includes(code)) {
      return `check the name and port; if it serves plain http, pass --insecure-registry ${host}`;
    }
    if (["ENOTFOUND", "EAI_AGAIN"].includes(code)) {
      return proxy ? `check the name, or that the proxy ${proxy} is right (NO_PROXY bypasses it)` : "check the name, or set HTTPS_PROXY if this network needs a proxy";
    }
    return proxy ? `check the network and the proxy ${proxy}` : "check the network (and HTTPS_PROXY if this network needs a proxy)";
  }

  private credentials(): Credentials | null {
    if (this.creds === undefined) this.creds = credentialsFor(this.registry);
    return this.creds;
  }

  private authHeader(repo: string, push: boolean): string | undefined {
    const token = this.tokens.get(`${repo}:${push ? "push" : "pull"}`) ?? (push ? undefined : this.tokens.get(`${repo}:push`));
    if (token) return `Bearer ${token}`;
    return this.basic ?? undefined;
  }

  /** Answers a 401 challenge: fetches a token (Bearer) or sets Basic credentials. False when it cannot. */
  private async authenticate(challenge: string, repo: string, push: boolean): Promise<boolean> {
    const { scheme, params } = parseChallenge(challenge);
    const creds = this.credentials();
    if (scheme === "basic") {
      if (!creds?.username || creds.password === undefined) return false;
      if (this.basic) return false; // already sent and refused
      this.basic = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString("base64")}`;
      return true;
    }
    if (scheme !== "bearer" || !params.realm) return false;
    const scope = `repository:${repo}:${push ? "pull,push" : "pull"}`;
    const key = `${repo}:${push ? "push" : "pull"}`;
    let res: Response;
    try {
      if (creds?.identityToken) {
        const form = new URLSearchParams({ grant_type: "refresh_token", refresh_token: creds.identityToken, service: params.service ?? "", scope, client_id: "mcp-rewrap" });
        res = await this.fetch(params.realm, { method: "POST", body: form, headers: { "User-Agent": this.userAgent } });
      } else {
        const url = new URL(params.realm);
        if (params.service) url.searchParams.set("service", params.service);
        url.searchParams.set("scope", scope);
        const headers: Record<string, string> = { "User-Agent": this.userAgent };
        if (creds?.username && creds.password !== undefined) {
          headers.Authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString("base64")}`;
        }
        res = await this.fetch(url, { headers });
      }
    } catch (e) {
      throw new RuntimeError(`${this.registry}: cannot reach the token service ${params.realm} (${causeOf(e)}); ${this.reachHint(errCode(e), causeOf(e))}`);
    }
    if (!res.ok) {
      const text = await res.text().catch(() => "");
      throw new RuntimeError(
        `${this.registry}: the token service refused ${creds ? `the credentials of ${creds.username ?? "the identity token"}` : "anonymous access"} for ${scope} (HTTP ${res.status}${text ? `: ${text.slice(0, 200)}` : ""})${creds ? "" : "; run docker login"}`,
      );
    }
    const body = (await res.json()) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token) throw new RuntimeError(`${this.registry}: the token service answered without a token`);
    if (this.tokens.get(key) === token) return false;
    this.tokens.set(key, token);
    return true;
  }

  /** One request with auth: retried once after answering a 401 challenge. `url` is a path below /v2/ or absolute. */
  async request(
    method: string,
    repo: string,
    url: string,
    opts: { headers?: Record<string, string>; body?: Body; push?: boolean; ok?: number[]; what?: string } = {},
  ): Promise<Response> {
    const full = url.startsWith("http") ? url : `${this.base}/v2/${url}`;
    const push = opts.push ?? false;
    const what = opts.what ?? `${method} ${full}`;
    // Only requests that can be sent again unchanged are retried after a dropped connection.
    const idempotent = method === "GET" || method === "HEAD" || method === "PUT";
    let authRetried = false;
    for (let retry = 0; ; ) {
      const headers: Record<string, string> = { "User-Agent": this.userAgent, ...opts.headers };
      const auth = this.authHeader(repo, push);
      if (auth) headers.Authorization = auth;
      let res: Response;
      try {
        res = await this.fetch(full, { method, headers, body: opts.body as BodyInit | undefined, redirect: "follow" });
      } catch (e) {
        const code = errCode(e);
        if (idempotent && RETRY_CODES.has(code) && retry + 1 < this.retry.attempts) {
          await sleep(backoffMs(this.retry, ++retry, null));
          continue;
        }
        throw new RuntimeError(`${what}: cannot reach the registry ${this.registry} at ${this.base} (${causeOf(e)}${retry ? `, ${retry + 1} attempts` : ""}); ${this.reachHint(code, causeOf(e))}`);
      }
      if (RETRY_STATUS.has(res.status) && retry + 1 < this.retry.attempts) {
        const wait = backoffMs(this.retry, ++retry, retryAfterMs(res.headers.get("retry-after")));
        await res.arrayBuffer().catch(() => undefined);
        await sleep(wait);
        continue;
      }
      if (res.status === 401 && !authRetried) {
        authRetried = true;
        const challenge = res.headers.get("www-authenticate");
        await res.arrayBuffer().catch(() => undefined);
        if (challenge && (await this.authenticate(challenge, repo, push))) continue;
        throw new RuntimeError(
          `${what}: ${this.registry} requires credentials${this.credentials() ? " and refused the ones in the Docker config" : ` (none in ${dockerConfigPath()}; run docker login ${this.registry})`}`,
        );
      }
      if (opts.ok && !opts.ok.includes(res.status)) {
        throw await registryError(res, what, this.registry, retry + 1);
      }
      return res;
    }
  }

  async getManifest(repo: string, ref: string): Promise<FetchedManifest> {
    const what = `reading the manifest ${familiarName({ registry: this.registry, repository: repo })}${ref.startsWith("sha256:") ? "@" : ":"}${ref}`;
    const res = await this.request("GET", repo, `${repo}/manifests/${ref}`, { headers: { Accept: MANIFEST_ACCEPT }, ok: [200], what });
    const bytes = Buffer.from(await res.arrayBuffer());
    const digest = sha256(bytes);
    if (ref.startsWith("sha256:") && ref !== digest) throw new RuntimeError(`${what}: the registry sent content with digest ${digest}`);
    const json = JSON.parse(bytes.toString("utf8")) as ImageManifest | ImageIndex;
    const mediaType = json.mediaType ?? (res.headers.get("content-type") ?? "").split(";")[0]!.trim();
    return { mediaType, digest, bytes, json };
  }

  /** The digest a tag or digest resolves to, or null when the registry has no such manifest. */
  async headManifest(repo: string, ref: string): Promise<{ digest: string; mediaType: string } | null> {
    const what = `looking up ${familiarName({ registry: this.registry, repository: repo })}:${ref}`;
    const res = await this.request("HEAD", repo, `${repo}/manifests/${ref}`, { headers: { Accept: MANIFEST_ACCEPT }, ok: [200, 404], what });
    if (res.status === 404) return null;
    const digest = res.headers.get("docker-content-digest");
    const mediaType = (res.headers.get("content-type") ?? "").split(";")[0]!.trim();
    if (digest) return { digest, mediaType };
    const m = await this.getManifest(repo, ref);
    return { digest: m.digest, mediaType: m.mediaType };
  }

  async putManifest(repo: string, ref: string, mediaType: string, bytes: Buffer): Promise<string> {
    const what = `pushing the manifest ${familiarName({ registry: this.registry, repository: repo })}:${ref}`;
    const res = await this.request("PUT", repo, `${repo}/manifests/${ref}`, {
      headers: { "Content-Type": mediaType },
      body: bytes,
      push: true,
      ok: [200, 201, 202],
      what,
    });
    await res.arrayBuffer().catch(() => undefined);
    const digest = sha256(bytes);
    const said = res.headers.get("docker-content-digest");
    if (said && said !== digest) throw new RuntimeError(`${what}: the registry stored digest ${said}, expected ${digest}`);
    return digest;
  }

  async blobExists(repo: string, digest: string, push = false): Promise<boolean> {
    const res = await this.request("HEAD", repo, `${repo}/blobs/${digest}`, { ok: [200, 404], push, what: `checking blob ${digest.slice(0, 19)}` });
    return res.status === 200;
  }

  async getBlob(repo: string, digest: string): Promise<Buffer> {
    const res = await this.request("GET", repo, `${repo}/blobs/${digest}`, { ok: [200], what: `reading blob ${digest.slice(0, 19)} of ${repo}` });
    const bytes = Buffer.from(await res.arrayBuffer());
    if (sha256(bytes) !== digest) throw new RuntimeError(`reading blob ${digest} of ${repo}: content does not match its digest`);
    return bytes;
  }

  /** A blob as a stream (layers can be large); the caller checks the digest if it needs to. */
  async blobStream(repo: string, digest: string): Promise<ReadableStream<Uint8Array>> {
    const res = await this.request("GET", repo, `${repo}/blobs/${digest}`, { ok: [200], what: `reading blob ${digest.slice(0, 19)} of ${repo}` });
    if (!res.body) throw new RuntimeError(`reading blob ${digest} of ${repo}: empty response`);
    return res.body;
  }

  /** Starts an upload session; with `mount`, asks the registry to link the blob from another repository instead. */
  private async startUpload(repo: string, mount?: { digest: string; from: string }): Promise<{ mounted: boolean; location: string }> {
    const query = mount ? `?mount=${encodeURIComponent(mount.digest)}&from=${encodeURIComponent(mount.from)}` : "";
    const res = await this.request("POST", repo, `${repo}/blobs/uploads/${query}`, { push: true, ok: [201, 202], what: `starting an upload to ${repo}` });
    await res.arrayBuffer().catch(() => undefined);
    const location = res.headers.get("location");
    if (res.status === 201) return { mounted: true, location: location ?? "" };
    if (!location) throw new RuntimeError(`starting an upload to ${repo}: the registry gave no Location`);
    return { mounted: false, location: new URL(location, this.base).toString() };
  }

  /** Uploads a blob held in memory: one PUT when it fits a chunk, else PATCH chunks then PUT. Skips a blob already there. */
  async putBlob(repo: string, digest: string, data: Buffer): Promise<"exists" | "uploaded"> {
    if (await this.blobExists(repo, digest, true)) return "exists";
    const { location } = await this.startUpload(repo);
    if (data.length <= this.chunkSize) {
      await this.finishUpload(repo, location, digest, data);
    } else {
      let loc = location;
      for (let off = 0; off < data.length; off += this.chunkSize) {
        loc = await this.patchChunk(repo, loc, data.subarray(off, off + this.chunkSize), off);
      }
      await this.finishUpload(repo, loc, digest, undefined);
    }
    return "uploaded";
  }

  /**
   * Copies a blob from another repository, maybe on another registry: a cross-repository mount
   * when both are on this registry, else streamed through in chunks (never whole in memory).
   */
  async copyBlob(from: { client: RegistryClient; repo: string }, repo: string, desc: Descriptor): Promise<"exists" | "mounted" | "copied"> {
    if (await this.blobExists(repo, desc.digest, true)) return "exists";
    const sameRegistry = from.client.registry === this.registry;
    const started = await this.startUpload(repo, sameRegistry ? { digest: desc.digest, from: from.repo } : undefined);
    if (started.mounted) return "mounted";
    const stream = await from.client.blobStream(from.repo, desc.digest);
    const hash = createHash("sha256");
    let loc = started.location;
    let offset = 0;
    let pending: Buffer[] = [];
    let pendingLen = 0;
    const flush = async () => {
      if (!pendingLen) return;
      const chunk = Buffer.concat(pending, pendingLen);
      pending = [];
      pendingLen = 0;
      loc = await this.patchChunk(repo, loc, chunk, offset);
      offset += chunk.length;
    };
    for await (const part of stream as unknown as AsyncIterable<Uint8Array>) {
      const b = Buffer.from(part);
      hash.update(b);
      pending.push(b);
      pendingLen += b.length;
      if (pendingLen >= this.chunkSize) await flush();
    }
    await flush();
    const got = `sha256:${hash.digest("hex")}`;
    if (got !== desc.digest) throw new RuntimeError(`copying blob ${desc.digest} from ${from.repo}: its content has digest ${got}`);
    await this.finishUpload(repo, loc, desc.digest, undefined);
    return "copied";
  }

  private async patchChunk(repo: string, location: string, chunk: Buffer, offset: number): Promise<string> {
    const res = await this.request("PATCH", repo, location, {
      headers: {
        "Content-Type": "application/octet-stream",
        "Content-Range": `${offset}-${offset + chunk.length - 1}`,
        "Content-Length": String(chunk.length),
      },
      body: chunk,
      push: true,
      ok: [202, 204],
      what: `uploading a chunk to ${repo}`,
    });
    await res.arrayBuffer().catch(() => undefined);
    const next = res.headers.get("location");
    return next ? new URL(next, this.base).toString() : location;
  }

  private async finishUpload(repo: string, location: string, digest: string, body: Buffer | undefined): Promise<void> {
    const url = new URL(location, this.base);
    url.searchParams.set("digest", digest);
    const res = await this.request("PUT", repo, url.toString(), {
      headers: { "Content-Type": "application/octet-stream", ...(body ? { "Content-Length": String(body.length) } : { "Content-Length": "0" }) },
      body: body ?? Buffer.alloc(0),
      push: true,
      ok: [201, 204],
      what: `finishing the upload of ${digest.slice(0, 19)} to ${repo}`,
    });
    await res.arrayBuffer().catch(() => undefined);
  }
}

function causeOf(e: unknown): string {
  const err = e as Error & { cause?: { code?: string; message?: string } };
  return err.cause?.code ?? err.cause?.message ?? err.message;
}

async function registryError(res: Response, what: string, registry: string, attempts = 1): Promise<RuntimeError> {
  let detail = "";
  try {
    const text = await res.text();
    try {
      const body = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
      detail = (body.errors ?? []).map((e) => [e.code, e.message].filter(Boolean).join(": ")).join("; ");
    } catch {
      detail = text.replace(/\s+/g, " ").trim().slice(0, 200);
    }
  } catch {
    /* no body */
  }
  const d = detail ? ` (${detail})` : "";
  const tries = attempts > 1 ? ` after ${attempts} attempts` : "";
  if (res.status === 404) return new RuntimeError(`${what}: not found in ${registry}${d}; check the repository and tag`);
  if (res.status === 403) return new RuntimeError(`${what}: ${registry} denied access${d}; check that your docker login for ${registry} may do this`);
  if (res.status === 429) return new RuntimeError(`${what}: ${registry} is rate limiting (HTTP 429${tries})${d}; wait and try again, or docker login ${registry} for a higher limit`);
  if (res.status >= 500) return new RuntimeError(`${what}: ${registry} failed (HTTP ${res.status}${tries})${d}; the registry has a problem: try again later`);
  return new RuntimeError(`${what}: ${registry} answered HTTP ${res.status}${d}`);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A client per registry host, shared by a command. */
export class Registries {
  private readonly clients = new Map<string, RegistryClient>();
  constructor(private readonly opts: RegistryOptions = {}) {}
  for(registry: string): RegistryClient {
    let c = this.clients.get(registry);
    if (!c) {
      c = new RegistryClient(registry, this.opts);
      this.clients.set(registry, c);
    }
    return c;
  }
}

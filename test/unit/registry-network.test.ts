/**
 * The registry client on real networks, against in-process stand-ins (no engine, no registry):
 * proxies from the environment (a counting proxy sees the traffic; NO_PROXY bypasses it),
 * bounded retries with backoff on 429/5xx/dropped connections honouring Retry-After, one-line
 * errors that name the registry and what to do, and --insecure-registry.
 */
import { type IncomingMessage, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { MEDIA, sha256 } from "../../src/core/oci.js";
import { RegistryClient, backoffMs, registryBaseUrl, retryAfterMs, setInsecureRegistries } from "../../src/edge/registry/client.js";
import { type CountingProxy, startCountingProxy } from "../support/proxy.js";

const MANIFEST = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociManifest, config: { mediaType: MEDIA.ociConfig, digest: sha256("{}"), size: 2 }, layers: [] }));

/** A registry stand-in: each request to a manifest takes the next scripted answer (the last one repeats). */
function standIn() {
  const log: { method: string; url: string; at: number }[] = [];
  let script: ((res: ServerResponse, req: IncomingMessage) => void)[] = [];
  let n = 0;
  const server = createServer((req, res) => {
    log.push({ method: req.method ?? "", url: req.url ?? "", at: Date.now() });
    const step = script[Math.min(n++, script.length - 1)];
    if (!step) return void res.writeHead(500).end();
    step(res, req);
  });
  return {
    log,
    server,
    play(steps: typeof script) {
      script = steps;
      n = 0;
      log.length = 0;
    },
    get host() {
      return `127.0.0.1:${(server.address() as AddressInfo).port}`;
    },
  };
}

const ok = (res: ServerResponse) => res.writeHead(200, { "Content-Type": MEDIA.ociManifest, "Docker-Content-Digest": sha256(MANIFEST) }).end(MANIFEST);
const status = (code: number, headers: Record<string, string> = {}, body = "") => (res: ServerResponse) =>
  res.writeHead(code, { "Content-Type": "application/json", ...headers }).end(body);
const drop = (res: ServerResponse) => res.socket?.destroy();

const reg = standIn();
let proxy: CountingProxy;
const saved = { ...process.env };
const FAST = { attempts: 4, baseMs: 10, maxMs: 5_000 };

beforeAll(async () => {
  await new Promise<void>((r) => reg.server.listen(0, "127.0.0.1", () => r()));
  proxy = await startCountingProxy();
});
afterAll(async () => {
  reg.server.closeAllConnections();
  await new Promise<void>((r) => reg.server.close(() => r()));
  await proxy.stop();
});
afterEach(() => {
  for (const k of ["HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"]) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
  proxy.seen.length = 0;
  setInsecureRegistries([]);
});

function clearProxyEnv() {
  for (const k of ["HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"]) delete process.env[k];
}

describe("retries", () => {
  it("a 429 then 200 is retried, and the manifest arrives", async () => {
    clearProxyEnv();
    reg.play([status(429, { "Retry-After": "0" }), ok]);
    const m = await new RegistryClient(reg.host, { credentials: null, retry: FAST }).getManifest("r", "t");
    expect(m.digest).toBe(sha256(MANIFEST));
    expect(reg.log.map((l) => l.url)).toEqual(["/v2/r/manifests/t", "/v2/r/manifests/t"]);
  });

  it("honours Retry-After (seconds) between the attempts", async () => {
    clearProxyEnv();
    reg.play([status(503, { "Retry-After": "1" }), ok]);
    await new RegistryClient(reg.host, { credentials: null, retry: FAST }).getManifest("r", "t");
    expect(reg.log).toHaveLength(2);
    expect(reg.log[1]!.at - reg.log[0]!.at).toBeGreaterThanOrEqual(950);
  });

  it("a dropped connection on a GET is retried", async () => {
    clearProxyEnv();
    reg.play([drop, ok]);
    const m = await new RegistryClient(reg.host, { credentials: null, retry: FAST }).getManifest("r", "t");
    expect(m.digest).toBe(sha256(MANIFEST));
    expect(reg.log).toHaveLength(2);
  });

  it("is bounded: after the last attempt, one line naming the registry, the status and what to do", async () => {
    clearProxyEnv();
    reg.play([status(503, {}, '{"errors":[{"code":"UNAVAILABLE","message":"maintenance"}]}')]);
    const err = await new RegistryClient(reg.host, { credentials: null, retry: { ...FAST, attempts: 3 } }).getManifest("r", "t").catch((e: Error) => e);
    expect(reg.log).toHaveLength(3);
    expect((err as Error).message).toBe(`reading the manifest ${reg.host}/r:t: ${reg.host} failed (HTTP 503 after 3 attempts) (UNAVAILABLE: maintenance); the registry has a problem: try again later`);
    expect((err as Error).message).not.toContain("\n");
  });

  it("a 429 that never ends says so and suggests logging in", async () => {
    clearProxyEnv();
    reg.play([status(429, { "Retry-After": "0" })]);
    const err = await new RegistryClient(reg.host, { credentials: null, retry: { ...FAST, attempts: 2 } }).getManifest("r", "t").catch((e: Error) => e);
    expect((err as Error).message).toMatch(new RegExp(`${reg.host.replace(/\./g, "\\.")} is rate limiting \\(HTTP 429 after 2 attempts\\); wait and try again, or docker login`));
  });

  it("a 404 is not retried", async () => {
    clearProxyEnv();
    reg.play([status(404, {}, '{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}')]);
    const err = await new RegistryClient(reg.host, { credentials: null, retry: FAST }).getManifest("r", "t").catch((e: Error) => e);
    expect(reg.log).toHaveLength(1);
    expect((err as Error).message).toMatch(/not found in 127\.0\.0\.1:\d+ \(MANIFEST_UNKNOWN: manifest unknown\); check the repository and tag$/);
  });

  it("Retry-After as seconds or an HTTP date; backoff grows and is capped", () => {
    expect(retryAfterMs("3")).toBe(3000);
    expect(retryAfterMs(new Date(10_000 + 5_000).toUTCString(), 10_000)).toBe(5000);
    expect(retryAfterMs("soon")).toBeNull();
    expect(retryAfterMs(null)).toBeNull();
    const p = { attempts: 5, baseMs: 100, maxMs: 1000 };
    expect(backoffMs(p, 1, null)).toBeGreaterThanOrEqual(75);
    expect(backoffMs(p, 1, null)).toBeLessThanOrEqual(125);
    expect(backoffMs(p, 3, null)).toBeGreaterThanOrEqual(300);
    expect(backoffMs(p, 9, null)).toBe(1000);
    expect(backoffMs(p, 1, 60_000)).toBe(1000);
    expect(backoffMs(p, 1, 0)).toBe(0);
  });
});

describe("proxies from the environment", () => {
  it("HTTP_PROXY: the counting proxy sees the registry traffic", async () => {
    clearProxyEnv();
    process.env.HTTP_PROXY = proxy.url;
    reg.play([ok]);
    const m = await new RegistryClient(reg.host, { credentials: null, retry: FAST }).getManifest("r", "t");
    expect(m.digest).toBe(sha256(MANIFEST));
    // undici tunnels (CONNECT) even to http targets; a proxy may also see the absolute-form GET.
    expect(proxy.seen).toHaveLength(1);
    expect(proxy.seen[0]).toMatch(new RegExp(`^(CONNECT ${reg.host}|GET http://${reg.host}/v2/r/manifests/t)$`.replace(/\./g, "\\.")));
    expect(reg.log).toHaveLength(1);
  });

  it("http_proxy (lower case) works too", async () => {
    clearProxyEnv();
    process.env.http_proxy = proxy.url;
    reg.play([ok]);
    await new RegistryClient(reg.host, { credentials: null, retry: FAST }).headManifest("r", "t");
    expect(proxy.seen).toHaveLength(1);
    expect(proxy.seen[0]).toContain(reg.host);
  });

  it("NO_PROXY bypasses it", async () => {
    clearProxyEnv();
    process.env.HTTP_PROXY = proxy.url;
    process.env.NO_PROXY = "127.0.0.1";
    reg.play([ok]);
    await new RegistryClient(reg.host, { credentials: null, retry: FAST }).getManifest("r", "t");
    expect(proxy.seen).toEqual([]);
    expect(reg.log).toHaveLength(1);
  });

  it("an unknown host names the registry and suggests a proxy (one line)", async () => {
    clearProxyEnv();
    const err = await new RegistryClient("registry.invalid", { credentials: null, retry: { ...FAST, attempts: 1 } }).getManifest("r", "t").catch((e: Error) => e);
    expect((err as Error).message).toMatch(/^reading the manifest registry\.invalid\/r:t: cannot reach the registry registry\.invalid at https:\/\/registry\.invalid \((ENOTFOUND|EAI_AGAIN)[^)]*\); check the name, or set HTTPS_PROXY if this network needs a proxy$/);
  });
});

describe("a port Node's fetch refuses", () => {
  it("127.0.0.1:6000 (a port the Fetch standard blocks): the message says so instead of blaming the network", async () => {
    clearProxyEnv();
    const err = await new RegistryClient("127.0.0.1:6000", { credentials: null, retry: { ...FAST, attempts: 1 } }).getManifest("r", "t").catch((e: Error) => e);
    expect((err as Error).message).toBe(
      "reading the manifest 127.0.0.1:6000/r:t: cannot reach the registry 127.0.0.1:6000 at http://127.0.0.1:6000 (bad port); Node's fetch refuses that port (one the Fetch standard blocks, such as 6000 or 10080) without connecting; serve the registry on another port",
    );
  });
});

describe("--insecure-registry", () => {
  it("plain http for the hosts given (with or without the port), https for the rest", () => {
    expect(registryBaseUrl("registry.internal:5000")).toBe("https://registry.internal:5000");
    setInsecureRegistries(["registry.internal:5000", "10.1.2.3"]);
    expect(registryBaseUrl("registry.internal:5000")).toBe("http://registry.internal:5000");
    expect(registryBaseUrl("10.1.2.3:443")).toBe("http://10.1.2.3:443");
    expect(registryBaseUrl("registry.internal:5001")).toBe("https://registry.internal:5001");
    expect(registryBaseUrl("ghcr.io")).toBe("https://ghcr.io");
    expect(registryBaseUrl("127.0.0.1:5000")).toBe("http://127.0.0.1:5000");
  });

  it("refuses what is not a host", () => {
    expect(() => setInsecureRegistries(["http://a b"])).toThrow(/^--insecure-registry "http:\/\/a b": give a registry host, e\.g\. registry\.internal:5000$/);
  });
});

describe("push digests on every engine", () => {
  it("from aux.Digest (legacy store) or the status line (Docker 28, containerd store)", async () => {
    const { pushedDigest } = await import("../../src/edge/engine.js");
    const d = `sha256:${"ab".repeat(32)}`;
    expect(pushedDigest({ aux: { Tag: "x", Digest: d, Size: 527 } })).toBe(d);
    expect(pushedDigest({ status: `engine: digest: ${d} size: 527` })).toBe(d);
    expect(pushedDigest({ status: "Pushed", id: "0123456789ab" })).toBeNull();
    expect(pushedDigest({ status: "digest: sha256:short size: 1" })).toBeNull();
    expect(pushedDigest({ aux: { Digest: "nonsense" } })).toBeNull();
  });
});

describe("proxyFor: which requests go through which proxy", () => {
  it("HTTP_PROXY for http, HTTPS_PROXY for https; lower case wins; empty is unset", async () => {
    const { proxyEnv, proxyFor } = await import("../../src/edge/registry/client.js");
    const p = proxyEnv({ HTTP_PROXY: "http://up:3128", https_proxy: "http://low:3128", HTTPS_PROXY: "http://UP:3128", http_proxy: "" });
    expect(proxyFor(new URL("http://r.example/v2/"), p)).toBe("http://up:3128");
    expect(proxyFor(new URL("https://r.example/v2/"), p)).toBe("http://low:3128");
    expect(proxyFor(new URL("https://r.example/v2/"), proxyEnv({ HTTP_PROXY: "http://up:3128" }))).toBeNull();
  });

  it("NO_PROXY: *, hosts and their subdomains, .domain, host:port, IPs", async () => {
    const { proxyEnv, proxyFor } = await import("../../src/edge/registry/client.js");
    const p = proxyEnv({ HTTPS_PROXY: "http://proxy:3128", NO_PROXY: "internal.example, .corp, registry.local:5000,10.0.0.5" });
    const via = (u: string) => proxyFor(new URL(u), p);
    expect(via("https://internal.example/v2/")).toBeNull();
    expect(via("https://a.internal.example/v2/")).toBeNull();
    expect(via("https://x.corp/v2/")).toBeNull();
    expect(via("https://registry.local:5000/v2/")).toBeNull();
    expect(via("https://registry.local:5001/v2/")).toBe("http://proxy:3128");
    expect(via("https://10.0.0.5/v2/")).toBeNull();
    expect(via("https://ghcr.io/v2/")).toBe("http://proxy:3128");
    expect(via("https://notinternal.example/v2/")).toBe("http://proxy:3128");
    expect(proxyFor(new URL("https://ghcr.io/"), proxyEnv({ HTTPS_PROXY: "http://p:1", no_proxy: "*" }))).toBeNull();
  });
});

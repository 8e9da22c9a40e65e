/**
 * The read-only Engine API client (src/edge/engine-lite.ts) and its transport
 * (engineTransport in src/edge/docker-context.ts), against dockerode itself, no engine:
 *  - the transport is the one dockerode would use for the same environment (DOCKER_HOST unix,
 *    tcp, TLS by DOCKER_TLS_VERIFY or port 2376 with DOCKER_CERT_PATH, the default socket,
 *    contexts), and null (dockerode serves) for ssh, npipe and what dockerode alone honours;
 *  - against stand-in engines on 127.0.0.1, a unix socket and https: the same answers and the
 *    same errors (message, statusCode, reason, json; connection codes; aborts) as dockerode,
 *    and engine.ts's messages for them are the same sentences.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Dockerode from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EngineTransport, engineTransport, resolveEngine } from "../../src/edge/docker-context.js";
import { engineError, inspectImage, platformImageId } from "../../src/edge/engine.js";
import { LiteEngine, imageInspectPath, parseBody, requestOptions, statusError } from "../../src/edge/engine-lite.js";

const work = mkdtempSync(join(tmpdir(), "mcp-rewrap-lite-unit-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs `fn` with exactly these engine variables set (the others unset), then restores them. */
function withEnv<T>(vars: Record<string, string | undefined>, fn: () => T): T {
  const keys = ["DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_CONTEXT", "DOCKER_CONFIG", "DOCKER_PATH_PREFIX", "DOCKER_CLIENT_TIMEOUT", "HOME", ...Object.keys(vars)];
  const saved = Object.fromEntries(keys.map((k) => [k, process.env[k]]));
  for (const k of keys) delete process.env[k];
  for (const [k, v] of Object.entries(vars)) if (v !== undefined) process.env[k] = v;
  try {
    return fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** What dockerode's modem would dial for the current environment (and `options`, as connect() passes them for a context). */
async function modemOf(options?: Record<string, unknown>): Promise<Record<string, unknown>> {
  const m = new Dockerode(options as Dockerode.DockerOptions).modem as unknown as Record<string, unknown> & { getSocketPath(): Promise<string> | undefined };
  const socketPath = m.host ? undefined : await m.getSocketPath();
  return { socketPath, host: m.host, port: m.port ? Number(m.port) : undefined, protocol: m.host ? m.protocol : undefined, ca: m.ca, cert: m.cert, key: m.key };
}

/** The same facts from our transport, in the modem's terms. */
function transportFacts(t: EngineTransport | null): Record<string, unknown> {
  if (!t) return { none: true };
  if ("socketPath" in t) return { socketPath: t.socketPath, host: undefined, port: undefined, protocol: undefined };
  return { socketPath: undefined, host: t.host, port: t.port, protocol: t.protocol };
}

const home = mkdtempSync(join(work, "home-"));
const homeWithDesktopSocket = mkdtempSync(join(work, "home-desktop-"));
mkdirSync(join(homeWithDesktopSocket, ".docker", "run"), { recursive: true });
writeFileSync(join(homeWithDesktopSocket, ".docker", "run", "docker.sock"), "");
const certDir = mkdtempSync(join(work, "certs-"));
for (const f of ["ca.pem", "cert.pem", "key.pem"]) writeFileSync(join(certDir, f), `-----BEGIN CERTIFICATE-----\n${f}\n-----END CERTIFICATE-----\n`);

describe("engineTransport: the endpoint dockerode would dial", () => {
  const cases: [string, Record<string, string>][] = [
    ["no DOCKER_HOST: the system socket", { HOME: home }],
    ["no DOCKER_HOST, ~/.docker/run/docker.sock there: that one (as docker-modem)", { HOME: homeWithDesktopSocket }],
    ["unix://PATH", { HOME: home, DOCKER_HOST: "unix:///run/other/docker.sock" }],
    ["unix:// without a path: the default", { HOME: home, DOCKER_HOST: "unix://" }],
    ["tcp://127.0.0.1:2375: plain http", { HOME: home, DOCKER_HOST: "tcp://127.0.0.1:2375" }],
    ["HOST:PORT without a scheme is tcp", { HOME: home, DOCKER_HOST: "127.0.0.1:2375" }],
    ["tcp without a port", { HOME: home, DOCKER_HOST: "tcp://localhost" }],
    ["port 2376 is https", { HOME: home, DOCKER_HOST: "tcp://127.0.0.1:2376" }],
    ["DOCKER_TLS_VERIFY=1 is https", { HOME: home, DOCKER_HOST: "tcp://127.0.0.1:2375", DOCKER_TLS_VERIFY: "1" }],
    ["DOCKER_CERT_PATH without DOCKER_TLS_VERIFY on 2375 stays http", { HOME: home, DOCKER_HOST: "tcp://127.0.0.1:2375", DOCKER_CERT_PATH: certDir }],
    ["DOCKER_TLS_VERIFY=0 on 2375 stays http", { HOME: home, DOCKER_HOST: "tcp://127.0.0.1:2375", DOCKER_TLS_VERIFY: "0" }],
  ];
  for (const [name, env] of cases) {
    it(name, async () => {
      const ours = withEnv(env, () => transportFacts(engineTransport(resolveEngine())));
      const theirs = await withEnv(env, () => modemOf());
      expect(ours).toEqual({ socketPath: theirs.socketPath, host: theirs.host, port: theirs.port, protocol: theirs.protocol });
    });
  }

  it("the TLS material of DOCKER_CERT_PATH is dockerode's (ca, cert, key)", async () => {
    const env = { HOME: home, DOCKER_HOST: "tcp://127.0.0.1:2376", DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: certDir };
    const t = withEnv(env, () => engineTransport(resolveEngine())) as Extract<EngineTransport, { protocol: string }>;
    const m = await withEnv(env, () => modemOf());
    expect(t.protocol).toBe("https");
    expect(String(t.ca).trim()).toBe((m.ca as string[]).join("\n").trim());
    expect(t.cert).toEqual(m.cert);
    expect(t.key).toEqual(m.key);
    expect(t.rejectUnauthorized).toBeUndefined();
  });

  it("a context: dockerodeOptions' endpoint (socket; tcp with its TLS files, SkipTLSVerify)", async () => {
    const cfg = mkdtempSync(join(work, "cfg-"));
    const ctx = (name: string, host: string, skip: boolean, tls: boolean) => {
      const id = createHash("sha256").update(name).digest("hex");
      mkdirSync(join(cfg, "contexts", "meta", id), { recursive: true });
      writeFileSync(join(cfg, "contexts", "meta", id, "meta.json"), JSON.stringify({ Name: name, Endpoints: { docker: { Host: host, SkipTLSVerify: skip } } }));
      if (tls) {
        mkdirSync(join(cfg, "contexts", "tls", id, "docker"), { recursive: true });
        for (const f of ["ca.pem", "cert.pem", "key.pem"]) writeFileSync(join(cfg, "contexts", "tls", id, "docker", f), readFileSync(join(certDir, f)));
      }
    };
    ctx("sock", "unix:///run/x/docker.sock", false, false);
    ctx("tls", "tcp://10.0.0.5:2376", false, true);
    ctx("skip", "tcp://10.0.0.5:2376", true, true);
    ctx("plain", "tcp://10.0.0.5:2375", false, false);
    const t = (name: string) => withEnv({ HOME: home, DOCKER_CONFIG: cfg, DOCKER_CONTEXT: name }, () => engineTransport(resolveEngine()));
    expect(t("sock")).toEqual({ socketPath: "/run/x/docker.sock" });
    expect(t("plain")).toEqual({ protocol: "http", host: "10.0.0.5", port: 2375 });
    const tls = t("tls") as Extract<EngineTransport, { protocol: string }>;
    expect({ ...tls, ca: String(tls.ca), cert: String(tls.cert), key: String(tls.key) }).toEqual({
      protocol: "https",
      host: "10.0.0.5",
      port: 2376,
      ca: readFileSync(join(certDir, "ca.pem"), "utf8"),
      cert: readFileSync(join(certDir, "cert.pem"), "utf8"),
      key: readFileSync(join(certDir, "key.pem"), "utf8"),
    });
    expect((t("skip") as { rejectUnauthorized?: boolean }).rejectUnauthorized).toBe(false);
    expect(tls.rejectUnauthorized).toBeUndefined();
  });

  it("null (dockerode serves, or says why it cannot) for ssh, npipe, an unparsable host, missing TLS files, DOCKER_PATH_PREFIX, DOCKER_CLIENT_TIMEOUT", () => {
    const none = (env: Record<string, string>) => withEnv({ HOME: home, ...env }, () => engineTransport(resolveEngine()));
    expect(none({ DOCKER_HOST: "ssh://me@10.0.0.5" })).toBeNull();
    expect(none({ DOCKER_HOST: "npipe:////./pipe/docker_engine" })).toBeNull();
    expect(none({ DOCKER_HOST: "tcp://[not-a-host" })).toBeNull();
    expect(none({ DOCKER_HOST: "tcp://127.0.0.1:2376", DOCKER_CERT_PATH: join(work, "no-such-dir") })).toBeNull();
    expect(none({ DOCKER_HOST: "tcp://127.0.0.1:2375", DOCKER_PATH_PREFIX: "/v1" })).toBeNull();
    expect(none({ DOCKER_HOST: "tcp://127.0.0.1:2375", DOCKER_CLIENT_TIMEOUT: "5000" })).toBeNull();
    // and dockerode refuses those two hosts itself, which connect() reports as today
    expect(() => withEnv({ DOCKER_HOST: "tcp://[not-a-host" }, () => new Dockerode())).toThrow(/DOCKER_HOST env variable/);
    expect(() => withEnv({ DOCKER_HOST: "tcp://127.0.0.1:2376", DOCKER_CERT_PATH: join(work, "no-such-dir") }, () => new Dockerode())).toThrow(/ENOENT/);
  });
});

describe("request building and response parsing (pure)", () => {
  it("the inspect path is dockerode's: the name as given", () => {
    expect(imageInspectPath("mcp-rewrap-test/busybox:latest")).toBe("/images/mcp-rewrap-test/busybox:latest/json");
    expect(imageInspectPath("sha256:0123abcd")).toBe("/images/sha256:0123abcd/json");
    expect(imageInspectPath("r.example:5000/a/b@sha256:ff")).toBe("/images/r.example:5000/a/b@sha256:ff/json");
    // what a URL path cannot carry is escaped rather than cut off (dockerode would send it raw)
    expect(imageInspectPath("a b?c#d")).toBe("/images/a%20b%3Fc%23d/json");
  });

  it("request options: a socket, or host/port, with TLS material only for https", () => {
    expect(requestOptions({ socketPath: "/s.sock" }, "/_ping")).toEqual({ method: "GET", path: "/_ping", headers: {}, socketPath: "/s.sock" });
    expect(requestOptions({ protocol: "http", host: "h", port: 2375 }, "/version")).toEqual({ method: "GET", path: "/version", headers: {}, hostname: "h", port: 2375 });
    const ca = Buffer.from("ca");
    expect(requestOptions({ protocol: "https", host: "h", ca, cert: ca, key: ca, rejectUnauthorized: false }, "/x")).toEqual({
      method: "GET",
      path: "/x",
      headers: {},
      hostname: "h",
      ca,
      cert: ca,
      key: ca,
      rejectUnauthorized: false,
    });
  });

  it("a body is JSON when it parses, else the bytes; an unexpected status is docker-modem's error", () => {
    expect(parseBody(Buffer.from('{"a":1}'))).toEqual({ a: 1 });
    expect(parseBody(Buffer.from("OK"))).toEqual(Buffer.from("OK"));
    const e = statusError(404, { 404: "no such image" }, { message: "No such image: x:latest" });
    expect([e.message, e.statusCode, e.reason, e.json]).toEqual(["(HTTP code 404) no such image - No such image: x:latest ", 404, "no such image", { message: "No such image: x:latest" }]);
    expect(statusError(418, {}, Buffer.from("teapot")).message).toBe("(HTTP code 418) unexpected - teapot ");
  });
});

// --- stand-in engines: the same answers and errors as dockerode --------------------------------

function handler(req: IncomingMessage, res: ServerResponse): void {
  const json = (status: number, body: unknown) => {
    res.writeHead(status, { "Content-Type": "application/json" });
    res.end(JSON.stringify(body));
  };
  if (req.url === "/_ping") return void res.end("OK");
  if (req.url === "/version") return json(200, { Os: "linux", Arch: "amd64", ApiVersion: "1.41" });
  if (req.url === "/images/mcp-rewrap-test/present:latest/json") return json(200, { Id: "sha256:abc", Os: "linux", Architecture: "amd64", RepoTags: ["mcp-rewrap-test/present:latest"], Config: { User: "app" } });
  // An image pulled from an index on the containerd store: its platform manifest only with ?manifests.
  const INDEX = { Id: `sha256:${"1".repeat(64)}`, Os: "linux", Architecture: "amd64", Descriptor: { mediaType: "application/vnd.oci.image.index.v1+json" } };
  if (req.url === "/images/mcp-rewrap-test/index:latest/json" || req.url === `/images/${INDEX.Id}/json`) return json(200, INDEX);
  if (req.url === `/images/${INDEX.Id}/json?manifests=1` || req.url === `/images/${INDEX.Id}/json?manifests=true`) {
    const m = (arch: string, id: string) => ({ ID: id, Kind: "image", Available: true, ImageData: { Platform: { os: "linux", architecture: arch } } });
    return json(200, { ...INDEX, Manifests: [m("arm64", `sha256:${"3".repeat(64)}`), m("amd64", `sha256:${"2".repeat(64)}`)] });
  }
  if (req.url?.startsWith("/images/mcp-rewrap-test/absent")) return json(404, { message: "No such image: mcp-rewrap-test/absent:latest" });
  if (req.url?.startsWith("/images/broken")) {
    res.writeHead(500);
    return void res.end("engine on fire");
  }
  if (req.url === "/hang/_ping" || req.url === "/hang") return; // never answers
  json(404, { message: "page not found" });
}

const listen = (s: Server, at: number | string) => new Promise<void>((r) => (typeof at === "string" ? s.listen(at, r) : s.listen(at, "127.0.0.1", r)));
const settle = async (p: Promise<unknown>) => p.then((v) => ({ ok: v }), (e: Error & { statusCode?: number; reason?: string; json?: unknown; code?: string }) => ({ err: { name: e.name, message: e.message, statusCode: e.statusCode, reason: e.reason, json: e.json, code: e.code } }));

describe("against stand-in engines: what dockerode answers, the read-only client answers", () => {
  const tcp = createServer(handler);
  const unix = createServer(handler);
  const socketPath = join(work, "engine.sock");
  let port = 0;
  const hanging = createServer(() => {});
  let hangPort = 0;
  beforeAll(async () => {
    await listen(tcp, 0);
    port = (tcp.address() as AddressInfo).port;
    await listen(unix, socketPath);
    await listen(hanging, 0);
    hangPort = (hanging.address() as AddressInfo).port;
  });
  afterAll(() => {
    tcp.closeAllConnections();
    hanging.closeAllConnections();
    unix.closeAllConnections();
    tcp.close();
    unix.close();
    hanging.close();
  });

  const pairs = (): [string, Dockerode, LiteEngine][] => [
    ["tcp", new Dockerode({ host: "127.0.0.1", port, protocol: "http" }), new LiteEngine({ protocol: "http", host: "127.0.0.1", port })],
    ["unix socket", new Dockerode({ socketPath }), new LiteEngine({ socketPath })],
  ];

  it("ping, version, inspect of a present, an absent and a broken image: same values, same errors", async () => {
    for (const [via, d, l] of pairs()) {
      const calls: [string, () => Promise<unknown>, () => Promise<unknown>][] = [
        ["ping", () => d.ping(), () => l.ping()],
        ["version", () => d.version(), () => l.version()],
        ["present", () => d.getImage("mcp-rewrap-test/present:latest").inspect(), () => l.inspectImage("mcp-rewrap-test/present:latest")],
        ["absent", () => d.getImage("mcp-rewrap-test/absent:latest").inspect(), () => l.inspectImage("mcp-rewrap-test/absent:latest")],
        ["broken", () => d.getImage("broken").inspect(), () => l.inspectImage("broken")],
      ];
      for (const [what, a, b] of calls) {
        const [theirs, ours] = [await settle(a()), await settle(b())];
        expect(ours, `${what} via ${via}`).toEqual(theirs);
      }
      // and through engine.ts: absent is null, broken is the same sentence
      expect(await inspectImage(l, "mcp-rewrap-test/absent:latest")).toBeNull();
      expect(await inspectImage(d, "mcp-rewrap-test/absent:latest")).toBeNull();
      expect(await inspectImage(l, "mcp-rewrap-test/present:latest")).toEqual(await inspectImage(d, "mcp-rewrap-test/present:latest"));
      const msg = async (e: LiteEngine | Dockerode) => inspectImage(e, "broken").then(() => "no error", (err: Error) => `${err.constructor.name}: ${err.message}`);
      expect(await msg(l)).toBe(await msg(d));
      expect(await msg(l)).toBe("RuntimeError: inspecting broken: engine on fire");
    }
  });

  it("an image pulled from an index (containerd store): both clients ask for its manifests and name the platform image", async () => {
    for (const [via, d, l] of pairs()) {
      for (const client of [d, l]) {
        const info = await inspectImage(client, "mcp-rewrap-test/index:latest");
        expect(await platformImageId(client, info!), via).toBe(`sha256:${"2".repeat(64)}`);
      }
    }
  });

  it("a closed port and a missing socket: the same connection errors (code), so engine.ts says the same", async () => {
    const closed = createServer();
    await listen(closed, 0);
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const cases: [Dockerode, LiteEngine][] = [
      [new Dockerode({ host: "127.0.0.1", port: closedPort, protocol: "http" }), new LiteEngine({ protocol: "http", host: "127.0.0.1", port: closedPort })],
      [new Dockerode({ socketPath: join(work, "nothing.sock") }), new LiteEngine({ socketPath: join(work, "nothing.sock") })],
    ];
    for (const [d, l] of cases) {
      const [theirs, ours] = [await settle(d.ping()), await settle(l.ping())];
      expect((ours as { err: { code: string } }).err.code).toMatch(/^(ECONNREFUSED|ENOENT)$/);
      expect((ours as { err: { code: string } }).err.code).toBe((theirs as { err: { code: string } }).err.code);
      const said = async (p: Promise<unknown>) => p.then(() => "", (e) => engineError(e, "connecting to the engine").message);
      expect(await said(l.ping())).toBe(await said(d.ping()));
    }
  });

  it("an engine that never answers: the ping's signal ends both the same way", async () => {
    const d = new Dockerode({ host: "127.0.0.1", port: hangPort, protocol: "http" });
    const l = new LiteEngine({ protocol: "http", host: "127.0.0.1", port: hangPort });
    const ping = (e: Dockerode | LiteEngine) => (e.ping as unknown as (o: { abortSignal: AbortSignal }) => Promise<unknown>).call(e, { abortSignal: AbortSignal.timeout(300) });
    const [theirs, ours] = [await settle(ping(d)), await settle(ping(l))];
    expect((ours as { err: { name: string } }).err.name).toMatch(/^(AbortError|TimeoutError)$/);
    expect((ours as { err: { name: string } }).err.name).toBe((theirs as { err: { name: string } }).err.name);
  });

  it("https with the context's CA, client certificate and key (and refused without the CA, as dockerode is)", async () => {
    const dir = mkdtempSync(join(work, "tls-"));
    const ssl = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
    ssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca.pem", "-days", "1", "-subj", "/CN=mcp-rewrap test CA"]);
    ssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server-key.pem", "-out", "server.csr", "-subj", "/CN=127.0.0.1"]);
    writeFileSync(join(dir, "ext.cnf"), "subjectAltName=IP:127.0.0.1\n");
    ssl(["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial", "-out", "server.pem", "-days", "1", "-extfile", "ext.cnf"]);
    ssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out", "client.csr", "-subj", "/CN=client"]);
    ssl(["x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial", "-out", "cert.pem", "-days", "1"]);
    const read = (f: string) => readFileSync(join(dir, f));
    const server = createHttpsServer({ key: read("server-key.pem"), cert: read("server.pem"), ca: read("ca.pem"), requestCert: true, rejectUnauthorized: true }, handler);
    await listen(server as unknown as Server, 0);
    const tlsPort = (server.address() as AddressInfo).port;
    try {
      const t = withEnv({ HOME: home, DOCKER_HOST: `tcp://127.0.0.1:${tlsPort}`, DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: dir }, () => engineTransport(resolveEngine()))!;
      const d = withEnv({ HOME: home, DOCKER_HOST: `tcp://127.0.0.1:${tlsPort}`, DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: dir }, () => new Dockerode());
      const l = new LiteEngine(t);
      expect(await settle(l.version())).toEqual(await settle(d.version()));
      expect(await l.version()).toEqual({ Os: "linux", Arch: "amd64", ApiVersion: "1.41" });
      // without the CA (and without a client certificate) the handshake fails, for both
      const bare = new LiteEngine({ protocol: "https", host: "127.0.0.1", port: tlsPort });
      const bareD = new Dockerode({ host: "127.0.0.1", port: tlsPort, protocol: "https" });
      const [ours, theirs] = [await settle(bare.ping()), await settle(bareD.ping())];
      expect((ours as { err: { code: string } }).err.code).toBeTruthy();
      expect((ours as { err: { code: string } }).err.code).toBe((theirs as { err: { code: string } }).err.code);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});

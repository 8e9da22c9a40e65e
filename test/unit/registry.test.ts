/**
 * The registry client and the registry-side rewrap, without an engine or a real registry:
 * references, Docker config credentials, the auth challenge dance against an in-process
 * mock registry (Bearer token service and Basic), chunked uploads, cross-repository mounts,
 * the layer walk (whiteouts, symlinked parents) and the pure mutation (shim layer, config,
 * manifest, index).
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { type IncomingMessage, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { planRewrap } from "../../src/core/plan.js";
import { gzipTarEntries } from "../support/tar.js";
import { LayerTree, type TreeEntry, factsFrom, normalizePath } from "../../src/core/layer-tree.js";
import { RegistryClient, parseChallenge, registryBaseUrl } from "../../src/edge/registry/client.js";
import { credentialsFor, engineAuthConfig } from "../../src/edge/registry/credentials.js";
import { MEDIA, mediaFamily, runnableManifests, sha256 } from "../../src/core/oci.js";
import { familiarName, parseReference, platformMatches } from "../../src/core/reference.js";
import { rewrapConfig, rewrapIndex, rewrapManifest, shimLayer } from "../../src/core/mutate.js";
import { OPTS, kubernetesFacts } from "./fixtures.js";

const work = mkdtempSync(join(tmpdir(), "mcp-rewrap-registry-unit-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("parseReference", () => {
  it.each([
    ["mcp/kubernetes", { registry: "docker.io", repository: "mcp/kubernetes", tag: "latest", digest: null }],
    ["busybox", { registry: "docker.io", repository: "library/busybox", tag: "latest", digest: null }],
    ["docker.io/mcp/kubernetes:1.2", { registry: "docker.io", repository: "mcp/kubernetes", tag: "1.2", digest: null }],
    ["127.0.0.1:5000/a/b:t", { registry: "127.0.0.1:5000", repository: "a/b", tag: "t", digest: null }],
    ["localhost/x", { registry: "localhost", repository: "x", tag: "latest", digest: null }],
    ["ghcr.io/o/mcp-rewrap/kubernetes:latest", { registry: "ghcr.io", repository: "o/mcp-rewrap/kubernetes", tag: "latest", digest: null }],
    [`mcp/kubernetes@sha256:${"a".repeat(64)}`, { registry: "docker.io", repository: "mcp/kubernetes", tag: null, digest: `sha256:${"a".repeat(64)}` }],
  ])("%s", (ref, want) => {
    expect(parseReference(ref)).toEqual(want);
  });

  it("refuses bad references and digests", () => {
    expect(() => parseReference("Upper/Case")).toThrow(/not a valid image reference/);
    expect(() => parseReference("x@sha256:abc")).toThrow(/not a valid digest/);
  });

  it("names registries the way the docker CLI shows them, http only on loopback", () => {
    expect(familiarName(parseReference("busybox"))).toBe("busybox");
    expect(familiarName(parseReference("mcp/kubernetes"))).toBe("mcp/kubernetes");
    expect(familiarName(parseReference("127.0.0.1:5000/a/b"))).toBe("127.0.0.1:5000/a/b");
    expect(registryBaseUrl("docker.io")).toBe("https://registry-1.docker.io");
    expect(registryBaseUrl("127.0.0.1:5000")).toBe("http://127.0.0.1:5000");
    expect(registryBaseUrl("localhost:5000")).toBe("http://localhost:5000");
    expect(registryBaseUrl("ghcr.io")).toBe("https://ghcr.io");
  });
});

describe("credentials from the Docker config", () => {
  const env = (cfg: unknown, extra: Record<string, string> = {}) => {
    const dir = mkdtempSync(join(work, "docker-"));
    writeFileSync(join(dir, "config.json"), JSON.stringify(cfg));
    return { DOCKER_CONFIG: dir, PATH: process.env.PATH ?? "", ...extra };
  };

  it("reads auths (base64 user:password), Docker Hub under its legacy key, and identity tokens", () => {
    const e = env({
      auths: {
        "127.0.0.1:5000": { auth: Buffer.from("alice:s3cret:with:colons").toString("base64") },
        "https://index.docker.io/v1/": { auth: Buffer.from("bob:hub").toString("base64") },
        "https://ghcr.io": { username: "carol", identitytoken: "refresh-me" },
      },
    });
    expect(credentialsFor("127.0.0.1:5000", e)).toEqual({ username: "alice", password: "s3cret:with:colons" });
    expect(credentialsFor("docker.io", e)).toEqual({ username: "bob", password: "hub" });
    expect(credentialsFor("ghcr.io", e)).toEqual({ username: "carol", identityToken: "refresh-me" });
    expect(credentialsFor("quay.io", e)).toBeNull();
    expect(engineAuthConfig("docker.io", { username: "bob", password: "hub" })).toEqual({ username: "bob", password: "hub", serveraddress: "https://index.docker.io/v1/" });
  });

  it("asks a credential helper (credHelpers, then credsStore) before auths", () => {
    const bin = mkdtempSync(join(work, "bin-"));
    const helper = join(bin, "docker-credential-fake");
    writeFileSync(helper, '#!/bin/sh\nread -r server\n[ "$server" = "ghcr.io" ] || exit 1\nprintf \'{"Username":"helper-user","Secret":"helper-secret"}\'\n');
    chmodSync(helper, 0o755);
    const e = env({ credHelpers: { "ghcr.io": "fake" }, auths: { "ghcr.io": { auth: Buffer.from("x:y").toString("base64") } } }, { PATH: `${bin}:${process.env.PATH}` });
    const saved = process.env.PATH;
    process.env.PATH = e.PATH;
    try {
      expect(credentialsFor("ghcr.io", e)).toEqual({ username: "helper-user", password: "helper-secret" });
    } finally {
      process.env.PATH = saved;
    }
  });

  it("no config file means anonymous", () => {
    expect(credentialsFor("ghcr.io", { DOCKER_CONFIG: join(work, "nowhere") })).toBeNull();
  });

  it("parses auth challenges", () => {
    expect(parseChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:mcp/kubernetes:pull"')).toEqual({
      scheme: "bearer",
      params: { realm: "https://auth.docker.io/token", service: "registry.docker.io", scope: "repository:mcp/kubernetes:pull" },
    });
    expect(parseChallenge('Basic realm="x"')).toEqual({ scheme: "basic", params: { realm: "x" } });
  });
});

// --- an in-process registry: just enough of the distribution API, with auth --------------

interface Mock {
  host: string;
  log: string[];
  blobs: Map<string, Buffer>;
  manifests: Map<string, { type: string; body: Buffer }>;
  close(): Promise<void>;
}

async function mockRegistry(auth: "bearer" | "basic", creds = { user: "u", pass: "p" }): Promise<Mock> {
  const blobs = new Map<string, Buffer>();
  const manifests = new Map<string, { type: string; body: Buffer }>();
  const uploads = new Map<string, Buffer[]>();
  const inRepo = new Set<string>();
  const log: string[] = [];
  const token = "t0k3n";
  let host = "";
  const body = (req: IncomingMessage) =>
    new Promise<Buffer>((r) => {
      const c: Buffer[] = [];
      req.on("data", (d: Buffer) => c.push(d));
      req.on("end", () => r(Buffer.concat(c)));
    });
  const basic = `Basic ${Buffer.from(`${creds.user}:${creds.pass}`).toString("base64")}`;
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", `http://${host}`);
    const data = await body(req);
    log.push(`${req.method} ${url.pathname}${url.search}`);
    if (url.pathname === "/token") {
      if (req.headers.authorization !== basic) return res.writeHead(401).end();
      res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ token, scope: url.searchParams.get("scope") }));
      return;
    }
    const ok = auth === "bearer" ? req.headers.authorization === `Bearer ${token}` : req.headers.authorization === basic;
    if (!ok) {
      const challenge = auth === "bearer" ? `Bearer realm="http://${host}/token",service="mock"` : 'Basic realm="mock"';
      return res.writeHead(401, { "WWW-Authenticate": challenge }).end();
    }
    let m: RegExpExecArray | null;
    if ((m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(url.pathname))) {
      const key = `${m[1]}:${m[2]}`;
      if (req.method === "PUT") {
        const d = sha256(data);
        manifests.set(key, { type: String(req.headers["content-type"]), body: data });
        manifests.set(`${m[1]}:${d}`, { type: String(req.headers["content-type"]), body: data });
        return res.writeHead(201, { "Docker-Content-Digest": d }).end();
      }
      const got = manifests.get(key);
      if (!got) return res.writeHead(404).end();
      res.writeHead(200, { "Content-Type": got.type, "Docker-Content-Digest": sha256(got.body), "Content-Length": got.body.length });
      return res.end(req.method === "HEAD" ? undefined : got.body);
    }
    if ((m = /^\/v2\/(.+)\/blobs\/uploads\/([^/]*)$/.exec(url.pathname))) {
      if (req.method === "POST") {
        const mount = url.searchParams.get("mount");
        if (mount && inRepo.has(`${url.searchParams.get("from")}@${mount}`)) {
          inRepo.add(`${m[1]}@${mount}`);
          return res.writeHead(201, { Location: `/v2/${m[1]}/blobs/${mount}` }).end();
        }
        const id = String(uploads.size + 1);
        uploads.set(id, []);
        return res.writeHead(202, { Location: `/v2/${m[1]}/blobs/uploads/${id}?state=s${id}` }).end();
      }
      const parts = uploads.get(m[2]!)!;
      if (req.method === "PATCH") {
        parts.push(data);
        return res.writeHead(202, { Location: `/v2/${m[1]}/blobs/uploads/${m[2]}?state=next` }).end();
      }
      if (req.method === "PUT") {
        parts.push(data);
        const all = Buffer.concat(parts);
        if (sha256(all) !== url.searchParams.get("digest")) return res.writeHead(400).end(JSON.stringify({ errors: [{ code: "DIGEST_INVALID", message: "digest did not match" }] }));
        blobs.set(sha256(all), all);
        inRepo.add(`${m[1]}@${sha256(all)}`);
        return res.writeHead(201).end();
      }
    }
    if ((m = /^\/v2\/(.+)\/blobs\/(sha256:[0-9a-f]+)$/.exec(url.pathname))) {
      const b = inRepo.has(`${m[1]}@${m[2]}`) ? blobs.get(m[2]!) : undefined;
      if (!b) return res.writeHead(404).end();
      res.writeHead(200, { "Content-Length": b.length });
      return res.end(req.method === "HEAD" ? undefined : b);
    }
    res.writeHead(404).end();
  };
  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { host, log, blobs, manifests, close: () => new Promise((r) => server.close(() => r())) };
}

describe("RegistryClient against a mock registry", () => {
  let bearer: Mock;
  let basic: Mock;
  beforeAll(async () => {
    bearer = await mockRegistry("bearer");
    basic = await mockRegistry("basic");
  });
  afterAll(async () => {
    await bearer.close();
    await basic.close();
  });

  it("answers a Bearer challenge with a token fetched with the configured credentials, once per scope", async () => {
    const c = new RegistryClient(bearer.host, { credentials: { username: "u", password: "p" } });
    const data = Buffer.from("hello layer");
    expect(await c.putBlob("a/b", sha256(data), data)).toBe("uploaded");
    expect(await c.putBlob("a/b", sha256(data), data)).toBe("exists");
    expect((await c.getBlob("a/b", sha256(data))).toString()).toBe("hello layer");
    const tokenCalls = bearer.log.filter((l) => l.startsWith("GET /token"));
    expect(tokenCalls.length).toBe(1); // the pull,push token serves later pulls too
    expect(tokenCalls[0]).toContain("scope=repository%3Aa%2Fb%3Apull%2Cpush");
  });

  it("says to docker login when the registry wants credentials and there are none", async () => {
    const c = new RegistryClient(basic.host, { credentials: null });
    await expect(c.headManifest("a/b", "latest")).rejects.toThrow(/requires credentials .*docker login/);
  });

  it("uses Basic credentials; chunked upload in order; manifests round-trip with their digest", async () => {
    const c = new RegistryClient(basic.host, { credentials: { username: "u", password: "p" }, chunkSize: 1000 });
    const big = Buffer.alloc(4500, 7);
    await c.putBlob("x/y", sha256(big), big);
    expect(basic.log.filter((l) => l.startsWith("PATCH")).length).toBe(5);
    expect(basic.blobs.get(sha256(big))?.equals(big)).toBe(true);
    const man = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociManifest, config: { mediaType: MEDIA.ociConfig, digest: sha256(big), size: big.length }, layers: [] }));
    const d = await c.putManifest("x/y", "v1", MEDIA.ociManifest, man);
    expect(d).toBe(sha256(man));
    expect(await c.headManifest("x/y", "v1")).toEqual({ digest: d, mediaType: MEDIA.ociManifest });
    expect(await c.headManifest("x/y", "nope")).toBeNull();
    const got = await c.getManifest("x/y", d);
    expect(got.bytes.equals(man)).toBe(true);
  });

  it("copies a blob across repositories of one registry by mount, and across registries by streaming chunks", async () => {
    const c = new RegistryClient(basic.host, { credentials: { username: "u", password: "p" }, chunkSize: 1000 });
    const data = Buffer.alloc(2500, 3);
    await c.putBlob("src/repo", sha256(data), data);
    const desc = { mediaType: MEDIA.ociLayerGzip, digest: sha256(data), size: data.length };
    expect(await c.copyBlob({ client: c, repo: "src/repo" }, "dst/repo", desc)).toBe("mounted");
    const other = new RegistryClient(bearer.host, { credentials: { username: "u", password: "p" }, chunkSize: 1000 });
    expect(await other.copyBlob({ client: c, repo: "src/repo" }, "dst/repo", desc)).toBe("copied");
    expect(bearer.blobs.get(sha256(data))?.equals(data)).toBe(true);
    expect(await other.copyBlob({ client: c, repo: "src/repo" }, "dst/repo", desc)).toBe("exists");
  });
});

// --- the layer walk ------------------------------------------------------------------------

const file = (content = "", mode = 0o644): TreeEntry => ({ type: "file", mode, content: Buffer.from(content) });
const dir = (mode = 0o755): TreeEntry => ({ type: "directory", mode });
const link = (to: string): TreeEntry => ({ type: "symlink", mode: 0o777, linkname: to });

describe("LayerTree", () => {
  it("normalizes tar names", () => {
    expect(normalizePath("./etc/passwd")).toBe("/etc/passwd");
    expect(normalizePath("usr/bin/")).toBe("/usr/bin");
    expect(normalizePath("./")).toBe("/");
  });

  it("resolves merged-/usr symlinks in parents but not the last component, like the engine's stat", () => {
    const t = new LayerTree(new Set(["/etc/passwd"]));
    t.applyLayer([
      { name: "./bin", entry: link("usr/bin") },
      { name: "./usr/", entry: dir() },
      { name: "./usr/bin/", entry: dir() },
      { name: "./usr/bin/dash", entry: file("", 0o755) },
      { name: "./usr/bin/sh", entry: link("dash") },
      { name: "./usr/bin/dangling", entry: link("/nowhere") },
      { name: "./root/", entry: dir(0o700) },
      { name: "./etc/passwd", entry: file("root:x:0:0::/root:/bin/sh\n") },
    ]);
    expect(t.lstat("/bin/sh")?.type).toBe("symlink");
    expect(t.lstat("/bin/dash")?.type).toBe("file");
    expect(t.lstat("/usr/bin/dangling")?.type).toBe("symlink");
    expect(t.lstat("/bin/setpriv")).toBeNull();
    expect(t.lstat("/root")?.mode).toBe(0o700);
    expect(t.read("/etc/passwd")?.toString()).toMatch(/^root:/);
  });

  it("applies whiteouts and opaque directories to lower layers only", () => {
    const t = new LayerTree(new Set());
    t.applyLayer([
      { name: "etc/", entry: dir() },
      { name: "etc/a", entry: file() },
      { name: "etc/b", entry: file() },
      { name: "opt/x/", entry: dir() },
      { name: "opt/x/old", entry: file() },
    ]);
    t.applyLayer([
      { name: "etc/.wh.a", entry: file() },
      { name: "opt/x/new", entry: file() },
      { name: "opt/x/.wh..wh..opq", entry: file() },
    ]);
    expect(t.lstat("/etc/a")).toBeNull();
    expect(t.lstat("/etc/b")).not.toBeNull();
    expect(t.lstat("/opt/x/old")).toBeNull();
    expect(t.lstat("/opt/x/new")).not.toBeNull();
    t.applyLayer([{ name: ".wh.opt", entry: file() }]);
    expect(t.lstat("/opt/x/new")).toBeNull();
  });

  it("gives the facts the plan needs", () => {
    const t = new LayerTree(new Set(["/etc/passwd", "/etc/group"]));
    t.applyLayer([
      { name: "bin", entry: link("usr/bin") },
      ...["sh", "cat", "mkdir", "chmod", "chown", "ln", "mv", "rm", "find", "tar", "tr", "setpriv"].map((c) => ({ name: `usr/bin/${c}`, entry: file("", 0o755) })),
      { name: "root", entry: dir(0o700) },
      { name: "etc/passwd", entry: file("root:x:0:0:root:/root:/bin/sh\napp:x:1001:1001::/home/app:/bin/sh\n") },
      { name: "etc/group", entry: file("root:x:0:\napp:x:1001:\n") },
    ]);
    const cfg = `sha256:${"c".repeat(64)}`;
    const idx = `sha256:${"d".repeat(64)}`;
    const facts = factsFrom("r.example/a/b:1", cfg, `r.example/a/b@${idx}`, { os: "linux", architecture: "arm64", variant: "v8", config: { User: "app", Cmd: ["x"] } }, t);
    expect(facts).toMatchObject({ id: cfg, repoDigests: [`r.example/a/b@${idx}`], repoTags: ["r.example/a/b:1"], architecture: "arm64", variant: "v8", rootMode: 0o700 });
    expect(facts.present).toEqual(expect.arrayContaining(["/usr/bin/setpriv", "/bin/setpriv", "/bin/sh", "/usr/bin/tar", "/bin/tr"]));
    const plan = planRewrap(facts, OPTS);
    expect(plan.user).toMatchObject({ name: "app", uid: 1001 });
    expect(plan.source.platform).toBe("linux/arm64/v8");
  });
});

describe("facts from layers: symlinked tools", () => {
  it("records where probed symlinks lead, fully resolved, as the engine's stat does (busybox applets)", () => {
    const t = new LayerTree(new Set());
    t.applyLayer([
      { name: "bin/busybox", entry: file("", 0o755) },
      { name: "bin/setpriv", entry: link("busybox") },
      { name: "bin/sh", entry: link("/bin/busybox") },
      { name: "usr/bin", entry: link("../bin") },
    ]);
    const facts = factsFrom("x:1", "sha256:c", null, { config: {} }, t) as ReturnType<typeof factsFrom> & { links?: Record<string, string> };
    expect(facts.present).toEqual(expect.arrayContaining(["/bin/setpriv", "/usr/bin/setpriv", "/bin/sh", "/bin/busybox"]));
    expect(facts.links?.["/bin/setpriv"]).toBe("/bin/busybox");
    expect(facts.links?.["/usr/bin/setpriv"]).toBe("/bin/busybox");
    expect(facts.links?.["/bin/sh"]).toBe("/bin/busybox");
    expect(facts.links?.["/bin/busybox"]).toBeUndefined();
  });
});

// --- the mutation --------------------------------------------------------------------------

async function tarEntries(gz: Buffer): Promise<{ name: string; mode: number; uid: number; mtime: number; body: string }[]> {
  return (await gzipTarEntries(gz)).map((e) => ({ ...e, body: e.body.toString() }));
}

describe("the registry-side rewrap (pure)", () => {
  const plan = planRewrap(kubernetesFacts(), OPTS);

  it("the shim layer is one root-owned 0755 file at the shim path, byte-identical every time", async () => {
    const a = await shimLayer(plan.shimPath, "#!/bin/sh\necho hi\n");
    const b = await shimLayer(plan.shimPath, "#!/bin/sh\necho hi\n");
    expect(a.digest).toBe(b.digest);
    expect(a.blob.equals(b.blob)).toBe(true);
    expect(a.diffId).toBe(sha256(gunzipSync(a.blob)));
    expect(await tarEntries(a.blob)).toEqual([{ name: "usr/local/bin/mcp-rewrap-entrypoint", mode: 0o755, uid: 0, mtime: 0, body: "#!/bin/sh\necho hi\n" }]);
  });

  it("the config gets the Dockerfile's changes and keeps everything else", () => {
    const base = {
      architecture: "amd64",
      os: "linux",
      created: "2025-06-01T00:00:00Z",
      config: { User: "appuser", Env: ["PATH=/usr/bin", "NODE_ENV=production"], Entrypoint: ["docker-entrypoint.sh"], Cmd: ["node", "dist/index.js"], WorkingDir: "/usr/local/app", Labels: { keep: "me" }, ExposedPorts: { "80/tcp": {} } },
      rootfs: { type: "layers", diff_ids: ["sha256:a"] },
      history: [{ created_by: "base" }],
    };
    const cfg = rewrapConfig(base, plan, "sha256:ctx", { diffId: "sha256:shim" });
    expect(cfg.config).toEqual({
      ...base.config,
      User: "root",
      Entrypoint: ["/usr/local/bin/mcp-rewrap-entrypoint", "docker-entrypoint.sh"],
      Cmd: ["node", "dist/index.js"],
      Labels: { keep: "me", ...plan.labels, "io.mcp-rewrap.context": "sha256:ctx" },
    });
    expect(cfg.rootfs?.diff_ids).toEqual(["sha256:a", "sha256:shim"]);
    expect(cfg.history).toHaveLength(2);
    expect(cfg.created).toBe(base.created);
    expect(base.config.User).toBe("appuser"); // the input is not changed
  });

  it("the manifest appends the layer, in the source's media-type family; the index skips attestations", () => {
    const layer = { blob: Buffer.from("x"), digest: "sha256:l", diffId: "sha256:d", size: 1 };
    const base = { schemaVersion: 2 as const, config: { mediaType: MEDIA.dockerConfig, digest: "sha256:c", size: 1 }, layers: [{ mediaType: MEDIA.dockerLayerGzip, digest: "sha256:b", size: 9 }] };
    const m = rewrapManifest(base, MEDIA.dockerManifest, Buffer.from("{}"), layer);
    const json = JSON.parse(m.bytes.toString());
    expect(m.mediaType).toBe(MEDIA.dockerManifest);
    expect(json.layers.map((l: { digest: string }) => l.digest)).toEqual(["sha256:b", "sha256:l"]);
    expect(json.config).toEqual({ mediaType: MEDIA.dockerConfig, digest: sha256("{}"), size: 2 });
    expect(mediaFamily(MEDIA.ociIndex).layer).toBe(MEDIA.ociLayerGzip);
    const idx = { schemaVersion: 2 as const, manifests: [
      { mediaType: MEDIA.ociManifest, digest: "sha256:1", size: 1, platform: { os: "linux", architecture: "amd64" } },
      { mediaType: MEDIA.ociManifest, digest: "sha256:2", size: 1, platform: { os: "linux", architecture: "arm64", variant: "v8" } },
      { mediaType: MEDIA.ociManifest, digest: "sha256:3", size: 1, platform: { os: "unknown", architecture: "unknown" }, annotations: { "vnd.docker.reference.type": "attestation-manifest" } },
    ] };
    expect(runnableManifests(idx).map((d) => d.digest)).toEqual(["sha256:1", "sha256:2"]);
    expect(platformMatches("linux/arm64", idx.manifests[1]!.platform)).toBe(true);
    expect(platformMatches("linux/arm64/v7", idx.manifests[1]!.platform)).toBe(false);
    const out = JSON.parse(rewrapIndex(MEDIA.dockerList, [{ mediaType: MEDIA.dockerManifest, digest: "sha256:n", size: 5, platform: { os: "linux", architecture: "amd64" } }], { a: "b" }).bytes.toString());
    expect(out).toMatchObject({ schemaVersion: 2, mediaType: MEDIA.dockerList, annotations: { a: "b" } });
  });
});

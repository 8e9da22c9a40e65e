/**
 * Publishing against a real registry (Debian's docker-registry on a free 127.0.0.1 port, and a second
 * one with htpasswd auth on another): `build --push` registry to registry for a
 * two-architecture index (amd64 + arm64/v8 busybox assembled from Debian .debs, plus a buildx
 * style attestation manifest that must be skipped), `--platform`, the engine route with
 * credentials from the Docker config, the builder and the registry rewrap giving the same
 * config, and `build --catalog --affected` with skipping on the second run. Everything pushed
 * is read back through the registry API with plain HTTP, not with our client.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPLICA, cli, cliAsync, ensureBed, BUILD_JSON_KEYS } from "../support/bed.js";
import { buildFromStdin, docker, dockerSync, removeImages } from "../support/docker.js";
import { gzipTarEntries } from "../support/tar.js";
import { type Fixture, type TestRegistry, ensureMultiarchBed, pushFixture, startRegistry } from "../support/registry.js";
import { startCountingProxy } from "../support/proxy.js";

const ACCEPT = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");
const AUTH = { user: "publisher", password: "s3cret-pass" };
const SHIM = "/usr/local/bin/mcp-rewrap-entrypoint";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The registry API, read with plain fetch (optionally Basic auth). */
function api(host: string, auth = false) {
  const headers = (extra: Record<string, string> = {}) => ({
    ...extra,
    ...(auth ? { Authorization: `Basic ${Buffer.from(`${AUTH.user}:${AUTH.password}`).toString("base64")}` } : {}),
  });
  const get = async (path: string, accept?: string) => {
    const res = await fetch(`http://${host}/v2/${path}`, { headers: headers(accept ? { Accept: accept } : {}) });
    if (!res.ok) throw new Error(`GET ${path}: HTTP ${res.status}`);
    return { body: Buffer.from(await res.arrayBuffer()), digest: res.headers.get("docker-content-digest"), type: res.headers.get("content-type") };
  };
  return {
    tags: async (repo: string) => (JSON.parse((await get(`${repo}/tags/list`)).body.toString()) as { tags: string[] }).tags,
    manifest: async (repo: string, ref: string) => {
      const r = await get(`${repo}/manifests/${ref}`, ACCEPT);
      return { json: JSON.parse(r.body.toString()) as Json, digest: r.digest!, type: r.type! };
    },
    blob: async (repo: string, digest: string) => (await get(`${repo}/blobs/${digest}`)).body,
    config: async (repo: string, manifest: Json) => JSON.parse((await get(`${repo}/blobs/${manifest.config.digest}`)).body.toString()) as Json,
  };
}

const tarFiles = gzipTarEntries;

/** What differs between two config values, on one line: the keys (of an object) or both values. */
function configDifference(registry: unknown, engine: unknown): string {
  const isMap = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
  if (isMap(registry) && isMap(engine)) {
    const keys = [...new Set([...Object.keys(registry), ...Object.keys(engine)])].sort();
    const differ = keys.filter((k) => JSON.stringify(registry[k]) !== JSON.stringify(engine[k]));
    return differ.map((k) => `${k}: registry ${JSON.stringify(registry[k])}, engine ${JSON.stringify(engine[k])}`).join("; ") || "the same";
  }
  return `registry ${JSON.stringify(registry)}, engine ${JSON.stringify(engine)}`;
}

describe("publishing to a registry", () => {
  let reg: TestRegistry;
  let priv: TestRegistry;
  let fx: Fixture;
  let work: string;
  let dockerConfig: string;
  let emptyConfig: string;
  const localTags: string[] = [];

  beforeAll(async () => {
    ensureBed();
    ensureMultiarchBed();
    reg = await startRegistry();
    priv = await startRegistry({ auth: AUTH });
    fx = await pushFixture(reg.host);
    work = mkdtempSync(join(tmpdir(), "mcp-rewrap-publish-"));
    dockerConfig = join(work, "docker");
    emptyConfig = join(work, "docker-empty");
    const logins = { auths: { [priv.host]: { auth: Buffer.from(`${AUTH.user}:${AUTH.password}`).toString("base64") } } };
    for (const [dir, cfg] of [[dockerConfig, logins], [emptyConfig, {}]] as const) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "config.json"), JSON.stringify(cfg));
    }
  });

  afterAll(async () => {
    await removeImages(...[...localTags, fx?.amd64].filter((t): t is string => Boolean(t)));
    await priv?.stop();
    await reg?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("build --push of a local copy of a two-platform index (pulled) rewraps it in the registry too, every platform", async () => {
    // Pulled, the index is local: on the containerd store the engine lists both platforms itself;
    // the legacy store keeps one platform and a repository digest, and the registry is asked.
    // The other tests find the index only in the registry, as before: the copy goes at the end.
    dockerSync(["pull", "-q", fx.multi]);
    try {
      const tag = `${reg.host}/rewrapped/busybox:pulled`;
      const r = cli(["build", fx.multi, "--tag", tag, "--push", "--json"]);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).results[0]).toMatchObject({ tag, route: "registry", status: "pushed", base: fx.indexDigest });
      const containerd = dockerSync(["info", "--format", "{{.Driver}} {{range .DriverStatus}}{{index . 1}} {{end}}"]).includes("snapshotter");
      expect(r.stderr).toMatch(containerd ? /multi-platform index \(2 platforms in the engine's image store\)/ : /multi-platform index in 127\.0\.0\.1:\d+/);
    } finally {
      await removeImages(fx.multi);
    }
  });

  it("build --push of a two-platform index rewraps both platforms and pushes an index (attestation left out)", async () => {
    const tag = `${reg.host}/rewrapped/busybox:multi`;
    const r = cli(["build", fx.multi, "--tag", tag, "--push", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout).results[0];
    expect(out).toMatchObject({ tag, route: "registry", status: "pushed", base: fx.indexDigest });
    expect(Object.keys(out).sort()).toEqual(BUILD_JSON_KEYS);
    expect(r.stderr).toContain("multi-platform index");

    const reader = api(reg.host);
    expect(await reader.tags("rewrapped/busybox")).toContain("multi");
    const index = await reader.manifest("rewrapped/busybox", "multi");
    expect(index.digest).toBe(out.digest);
    expect(index.json.mediaType).toBe("application/vnd.oci.image.index.v1+json");
    expect(index.json.manifests.map((m: Json) => m.platform)).toEqual([
      { os: "linux", architecture: "amd64" },
      { os: "linux", architecture: "arm64", variant: "v8" },
    ]);
    expect(index.json.annotations).toMatchObject({
      "org.opencontainers.image.base.name": fx.multi,
      "org.opencontainers.image.base.digest": fx.indexDigest,
    });

    for (const [i, child] of index.json.manifests.entries()) {
      const m = await reader.manifest("rewrapped/busybox", child.digest);
      const src = fx.images[i]!;
      const cfg = await reader.config("rewrapped/busybox", m.json);
      expect(cfg.architecture).toBe(src.platform.architecture);
      expect(cfg.config.User).toBe("root");
      expect(cfg.config.Entrypoint).toEqual([SHIM, "/bin/sh", "-c"]);
      expect(cfg.config.Cmd).toEqual(["cat /etc/mcp-rewrap-arch; id -u"]);
      expect(cfg.config.Env).toEqual(["PATH=/bin", "FIXTURE=busybox"]);
      expect(cfg.config.WorkingDir).toBe("/home/app");
      expect(cfg.config.Labels).toMatchObject({
        "org.opencontainers.image.title": "mcp-rewrap busybox fixture",
        "org.opencontainers.image.base.name": fx.multi,
        "org.opencontainers.image.base.digest": fx.indexDigest,
        "io.mcp-rewrap.user": "app:1001:1001",
        "io.mcp-rewrap.drop-tool": "busybox-su",
      });
      expect(cfg.config.Labels["io.mcp-rewrap.version"]).toMatch(/^\d+\.\d+\.\d+/);
      expect(cfg.rootfs.diff_ids).toHaveLength(2);
      expect(m.json.layers).toHaveLength(2);
      const shim = await tarFiles(await reader.blob("rewrapped/busybox", m.json.layers[1].digest));
      expect(shim.map((f) => [f.name, f.mode])).toEqual([[SHIM.slice(1), 0o755]]);
      expect(shim[0]!.body.toString()).toMatch(/^#!\/bin\/sh\n/);
    }
  });

  it("a second push of the same rewrap changes nothing", () => {
    const tag = `${reg.host}/rewrapped/busybox:multi`;
    const r = cli(["build", fx.multi, "--tag", tag, "--push", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).results[0]).toMatchObject({ status: "up-to-date", route: "registry" });
    expect(r.stderr).toMatch(/up to date/);
  });

  it("--platform linux/arm64 pushes only that platform, as an image manifest", async () => {
    const tag = `${reg.host}/rewrapped/busybox:arm64`;
    const r = cli(["build", fx.multi, "--platform", "linux/arm64", "--tag", tag, "--push", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const reader = api(reg.host);
    const m = await reader.manifest("rewrapped/busybox", "arm64");
    expect(m.json.mediaType).toBe("application/vnd.oci.image.manifest.v1+json");
    const cfg = await reader.config("rewrapped/busybox", m.json);
    expect([cfg.architecture, cfg.variant]).toEqual(["arm64", "v8"]);
    expect(cfg.config.Labels["org.opencontainers.image.base.digest"]).toBe(fx.indexDigest);

    const none = cli(["build", fx.multi, "--platform", "linux/s390x", "--tag", tag, "--push"]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/no linux\/s390x image \(it has: linux\/amd64, linux\/arm64\/v8\)/);
  });

  it("the pushed index runs on this amd64 engine under the gateway's flags: the shim drops to app", async () => {
    const tag = `${reg.host}/rewrapped/busybox:multi`;
    localTags.push(tag);
    const pulled = await docker(["pull", "-q", tag], { timeoutMs: 120_000 });
    expect(pulled.code, pulled.stderr).toBe(0);
    const run = await docker(["run", "--rm", "-i", "--init", "--security-opt", "no-new-privileges", "--network", "none", tag], { timeoutMs: 60_000 });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.toString()).toBe("amd64\n1001\n");

    // Its facts name the platform image, not the index: on the containerd image store the amd64
    // manifest the index lists (the engine names the image by the index), else its config digest.
    const reader = api(reg.host);
    const index = await reader.manifest("rewrapped/busybox", "multi");
    const amd64 = (index.json.manifests as Json[]).find((m) => m.platform?.architecture === "amd64")!;
    const manifest = await reader.manifest("rewrapped/busybox", amd64.digest);
    const containerd = /io\.containerd\.snapshotter/.test(dockerSync(["info", "--format", "{{json .DriverStatus}}"]));
    const inspected = cli(["inspect", tag, "--json", "-q"]);
    expect(inspected.code, inspected.stderr).toBe(0);
    expect(JSON.parse(inspected.stdout).id).toBe(containerd ? amd64.digest : manifest.json.config.digest);
  });

  it("an image with ONBUILD triggers: the engine route refuses (a build would run them), the registry route rewraps it and keeps them", async () => {
    const src = `${reg.host}/mcp-rewrap-test/onbuild:1`;
    const tag = `${reg.host}/rewrapped/onbuild:1`;
    localTags.push(src);
    buildFromStdin(src, "FROM mcp-rewrap-test/family-busybox-su-exec:latest\nONBUILD RUN touch /triggered\n");
    const pushed = await docker(["push", src], { timeoutMs: 120_000 });
    expect(pushed.code, pushed.stderr).toBe(0);

    const local = cli(["build", src, "--tag", `mcp-rewrap-test/onbuild-local:1`, "-q"]);
    expect(local.code, local.stderr).toBe(1);
    expect(local.stderr).toMatch(/has ONBUILD triggers \("RUN touch \/triggered"\): a build FROM it runs them/);

    // The image is local, and came from the registry: --push takes the registry route for it.
    const r = cli(["build", src, "--tag", tag, "--push", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("rewrapping in the registry: " + src + " has ONBUILD triggers, which a build FROM it would run");
    expect(JSON.parse(r.stdout).results[0]).toMatchObject({ tag, route: "registry", status: "pushed" });
    const reader = api(reg.host);
    const m = await reader.manifest("rewrapped/onbuild", "1");
    const cfg = await reader.config("rewrapped/onbuild", m.json);
    expect(cfg.config.Entrypoint[0]).toBe(SHIM);
    expect(cfg.config.OnBuild).toEqual(["RUN touch /triggered"]);
  });

  it("the registry-made image has the builder's User, Entrypoint, Cmd, Env, WorkingDir and Labels, and the same shim", async () => {
    const built = "mcp-rewrap-test/busybox-rewrapped:builder";
    localTags.push(built);
    // Not local: build pulls it from the registry first, with progress on stderr.
    await docker(["rmi", "-f", fx.amd64]);
    const b = cli(["build", fx.amd64, "--tag", built, "--out", join(work, "ctx"), "--json"]);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stderr).toContain(`pulling ${fx.amd64}`);
    expect(b.stderr).toMatch(/Pull complete|Download complete|Status: Downloaded newer image/);
    expect(dockerSync(["image", "inspect", "-f", "{{.Id}}", fx.amd64])).toMatch(/^sha256:/);
    const pushedTag = `${reg.host}/rewrapped/busybox:amd64`;
    const p = cli(["build", fx.amd64, "--platform", "linux/amd64", "--tag", pushedTag, "--push", "--json"]);
    expect(p.code, p.stderr).toBe(0);
    expect(JSON.parse(p.stdout).results[0].route).toBe("registry");

    const engine = JSON.parse(dockerSync(["image", "inspect", built]))[0].Config;
    const reader = api(reg.host);
    const m = await reader.manifest("rewrapped/busybox", "amd64");
    const cfg = (await reader.config("rewrapped/busybox", m.json)).config;
    for (const field of ["User", "Entrypoint", "Cmd", "Env", "WorkingDir", "Labels"]) {
      // The message names what differs on its first line (the CI verdict shows only that line).
      expect(cfg[field], `${field}: ${configDifference(cfg[field], engine[field])}`).toEqual(engine[field]);
    }
    const shim = await tarFiles(await reader.blob("rewrapped/busybox", m.json.layers.at(-1).digest));
    const fromBuilder = await docker(["run", "--rm", "--entrypoint", "cat", built, SHIM]);
    expect(fromBuilder.code, fromBuilder.stderr).toBe(0);
    expect(shim[0]!.body.equals(fromBuilder.stdout)).toBe(true);
  });

  it("build --push through the engine uses the Docker config's credentials (and says so when they are missing)", async () => {
    const tag = `${priv.host}/private/busybox:engine`;
    localTags.push(tag);
    const denied = cli(["build", fx.amd64, "--tag", tag, "--push"], { env: { DOCKER_CONFIG: emptyConfig } });
    expect(denied.code).toBe(3);
    expect(denied.stderr).toMatch(/pushing .*(auth|credentials)/i);
    // The failed push leaves no local tag behind (the build made it, the push did not use it).
    expect((await docker(["image", "inspect", tag])).code).not.toBe(0);

    const r = cli(["build", fx.amd64, "--tag", tag, "--push", "--json"], { env: { DOCKER_CONFIG: dockerConfig } });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout).results[0];
    expect(out).toMatchObject({ route: "engine", status: "pushed" });
    expect(Object.keys(out).sort()).toEqual(BUILD_JSON_KEYS);
    expect(r.stderr).toContain("credentials from the Docker config");
    const reader = api(priv.host, true);
    expect(await reader.tags("private/busybox")).toContain("engine");
    const m = await reader.manifest("private/busybox", "engine");
    expect(m.digest).toBe(out.digest);
    const cfg = await reader.config("private/busybox", m.json);
    expect(cfg.config.Labels["org.opencontainers.image.base.name"]).toBe(fx.amd64);
    expect(cfg.config.Labels["org.opencontainers.image.base.digest"]).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(cfg.config.User).toBe("root");

    const again = cli(["build", fx.amd64, "--tag", tag, "--push", "--json"], { env: { DOCKER_CONFIG: dockerConfig } });
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).results[0].status).toBe("up-to-date");
  });

  it("the registry client honours HTTP_PROXY: a counting proxy sees the registry traffic, NO_PROXY bypasses it", async () => {
    const proxy = await startCountingProxy();
    try {
      const noProxy = { NO_PROXY: "", no_proxy: "", HTTPS_PROXY: "", https_proxy: "", http_proxy: "" };
      const tag = `${reg.host}/proxied/busybox:amd64`;
      // Asynchronously: the proxy is served by this process, which a synchronous run would starve.
      const r = await cliAsync(["build", fx.multi, "--platform", "linux/amd64", "--tag", tag, "--push", "--rebuild", "--json"], { env: { ...noProxy, HTTP_PROXY: proxy.url } });
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).results[0].route).toBe("registry");
      expect(proxy.seen.length, "the proxy saw no registry traffic").toBeGreaterThan(0);
      for (const line of proxy.seen) expect(line).toContain(reg.host);
      expect(await api(reg.host).tags("proxied/busybox")).toContain("amd64");

      proxy.seen.length = 0;
      const bypass = await cliAsync(["build", fx.multi, "--platform", "linux/amd64", "--tag", tag, "--push", "--json"], { env: { ...noProxy, HTTP_PROXY: proxy.url, NO_PROXY: "127.0.0.1" } });
      expect(bypass.code, bypass.stderr).toBe(0);
      expect(proxy.seen).toEqual([]);
    } finally {
      await proxy.stop();
    }
  });

  it("registry to registry into an authenticated registry: base layers streamed across in chunks", async () => {
    const tag = `${priv.host}/private/busybox:multi`;
    const denied = cli(["build", fx.multi, "--tag", tag, "--push"], { env: { DOCKER_CONFIG: emptyConfig } });
    expect(denied.code).toBe(3);
    expect(denied.stderr).toMatch(/requires credentials.*docker login/);

    const r = cli(["build", fx.multi, "--tag", tag, "--push", "--json"], { env: { DOCKER_CONFIG: dockerConfig, MCP_REWRAP_UPLOAD_CHUNK: String(256 * 1024) } });
    expect(r.code, r.stderr).toBe(0);
    const reader = api(priv.host, true);
    const index = await reader.manifest("private/busybox", "multi");
    expect(index.json.manifests).toHaveLength(2);
    for (const child of index.json.manifests) {
      const m = await reader.manifest("private/busybox", child.digest);
      const base = await reader.blob("private/busybox", m.json.layers[0].digest);
      expect(base.length).toBe(m.json.layers[0].size);
    }
  });

  it("build --catalog --affected --push rewraps what scan flags, then skips it while upstream and version are unchanged", async () => {
    const catalog = join(work, "catalog.yaml");
    writeFileSync(
      catalog,
      [
        "name: publish-test",
        "registry:",
        "  busybox-root-mount:",
        "    type: server",
        `    image: ${fx.multi}`,
        "    volumes:",
        '      - "{{busybox.config}}:/root/.config/tool"',
        "  busybox-home-mount:",
        "    type: server",
        `    image: ${fx.amd64}`,
        "    volumes:",
        '      - "{{busybox.config}}:/home/app/.config/tool"',
        "  remote-server:",
        "    type: remote",
        "    remote:",
        "      url: https://example.invalid/mcp",
        "",
      ].join("\n"),
    );
    const prefix = `${reg.host}/batch`;
    const first = cli(["build", "--catalog", catalog, "--affected", "--push", "--prefix", prefix]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(new RegExp(`^pushed\\s+busybox-root-mount\\s+${prefix.replace(/[.]/g, "\\.")}/busybox-root-mount:multi$`, "m"));
    expect(first.stdout).toMatch(/^not-affected\s+busybox-home-mount/m);
    expect(first.stdout).toMatch(/^skipped\s+remote-server/m);
    expect(first.stdout).toMatch(/3 servers: 1 pushed, 1 not affected, 1 skipped/);
    expect(first.stderr).toMatch(/^\[1\/3\] busybox-root-mount: /m);
    expect(first.stderr).toMatch(/^\[3\/3\] remote-server: skipped/m);

    const reader = api(reg.host);
    expect(await reader.tags("batch/busybox-root-mount")).toEqual(["multi"]);
    const index = await reader.manifest("batch/busybox-root-mount", "multi");
    expect(index.json.manifests).toHaveLength(2);

    const second = cli(["build", "--catalog", catalog, "--affected", "--push", "--prefix", prefix, "--json"]);
    expect(second.code, second.stderr).toBe(0);
    const results = JSON.parse(second.stdout).results as Json[];
    for (const r of results) expect(Object.keys(r).sort()).toEqual(BUILD_JSON_KEYS);
    expect(results.map((r) => [r.server, r.status])).toEqual([
      ["busybox-root-mount", "up-to-date"],
      ["busybox-home-mount", "not-affected"],
      ["remote-server", "skipped"],
    ]);
    expect(results[0]!.detail).toContain(fx.indexDigest);
    expect((await reader.manifest("batch/busybox-root-mount", "multi")).digest).toBe(index.digest);
  });

  it("build --catalog without --push builds in the engine, skips from the local tag's labels, and rebuilds when --env or --force change", async () => {
    // Six CLI runs, each awaited: run synchronously they kept this worker from
    // answering vitest for about a minute on engine 2 (its RPC gives up after 60 s).
    const catalog = join(work, "local.yaml");
    writeFileSync(
      catalog,
      ["name: local", "registry:", "  kubernetes-root:", "    type: server", `    image: ${REPLICA}`, "    volumes:", '      - "{{k.config_path}}:/root/.kube/config"', ""].join("\n"),
    );
    const tag = "mcp-rewrap-test-batch/kubernetes-root:latest";
    localTags.push(tag);
    const first = await cliAsync(["build", "--catalog", catalog, "--affected", "--prefix", "mcp-rewrap-test-batch", "--json"]);
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout).results[0]).toMatchObject({ server: "kubernetes-root", status: "built", tag, route: "engine" });
    expect(Object.keys(JSON.parse(first.stdout).results[0]).sort()).toEqual(BUILD_JSON_KEYS);
    const labels = JSON.parse(dockerSync(["image", "inspect", tag]))[0].Config.Labels;
    expect(labels["org.opencontainers.image.base.name"]).toBe(REPLICA);
    const second = await cliAsync(["build", "--catalog", catalog, "--affected", "--prefix", "mcp-rewrap-test-batch", "--json"]);
    expect(second.code, second.stderr).toBe(0);
    expect(JSON.parse(second.stdout).results[0]).toMatchObject({ status: "up-to-date" });
    // A changed --env or --force is a different rewrap: built again, then up to date.
    const base = ["build", "--catalog", catalog, "--affected", "--prefix", "mcp-rewrap-test-batch", "--json"];
    for (const extra of [["--env", "MY_CONFIG"], ["--env", "MY_CONFIG", "--force"]]) {
      const changed = await cliAsync([...base, ...extra]);
      expect(changed.code, changed.stderr).toBe(0);
      expect(JSON.parse(changed.stdout).results[0], extra.join(" ")).toMatchObject({ status: "built" });
      const again = await cliAsync([...base, ...extra]);
      expect(JSON.parse(again.stdout).results[0], extra.join(" ")).toMatchObject({ status: "up-to-date" });
    }
  }, 300_000);

  it("images --refresh re-pins a context whose upstream moved, from registry facts; --check catches a stale file", async () => {
    const root = join(work, "images");
    const dir = join(root, "busybox");
    mkdirSync(dir, { recursive: true });
    const old = `sha256:${"0".repeat(64)}`;
    const stub = { ref: fx.multi, id: "", repoTags: [], repoDigests: [`${reg.host}/mcp-rewrap-test/busybox@${old}`], os: "linux", architecture: "amd64", config: { user: "app", env: [], entrypoint: null, cmd: null, workdir: "", labels: {} }, passwd: null, group: null, present: [], rootMode: null };
    writeFileSync(join(dir, "facts.json"), JSON.stringify(stub));

    const r = cli(["images", root, "--refresh", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const [res] = JSON.parse(r.stdout).results as Json[];
    expect(res).toMatchObject({ server: "busybox", written: true, upstream: { pinned: old, current: fx.indexDigest, moved: true } });
    const facts = JSON.parse(readFileSync(join(dir, "facts.json"), "utf8"));
    expect(facts).toMatchObject({ id: fx.images[0]!.manifestDigest, architecture: "amd64", repoDigests: [`${reg.host}/mcp-rewrap-test/busybox@${fx.indexDigest}`] });
    expect(facts.config.user).toBe("app");
    expect(facts.passwd).toMatch(/^app:x:1001:1001:/m);
    expect(readFileSync(join(dir, "Dockerfile"), "utf8")).toContain(`FROM ${reg.host}/mcp-rewrap-test/busybox@${fx.indexDigest}`);

    const again = cli(["images", root, "--refresh", "--json"]);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).results[0]).toMatchObject({ written: false, stale: [], upstream: { moved: false } });
    expect(cli(["images", root, "--check"]).code).toBe(0);

    writeFileSync(join(dir, "Dockerfile"), "FROM scratch\n");
    const stale = cli(["images", root, "--check"]);
    expect(stale.code).toBe(1);
    expect(stale.stdout).toContain("busybox: STALE: Dockerfile");
    expect(stale.stderr).toMatch(/make images/);
  });
});

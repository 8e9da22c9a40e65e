/**
 * A real OCI registry for the publish tests: Debian's docker-registry (distribution 2.8) run
 * as a plain process on 127.0.0.1 with a temporary storage directory, optionally with htpasswd
 * (Basic) auth. If something already answers /v2/ on the port, it is used as is and left
 * running. Plus the two-architecture fixture: busybox rootfs layers from test/bed/multiarch.sh
 * pushed as linux/amd64 and linux/arm64/v8 images and an OCI index, with our own client.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { MEDIA, type Platform, sha256 } from "../../src/core/oci.js";
import { RegistryClient } from "../../src/edge/registry/client.js";
import { ROOT } from "./bed.js";

export interface TestRegistry {
  /** host:port, e.g. 127.0.0.1:5000 */
  host: string;
  /** Whether this helper started it (and stop() ends it). */
  started: boolean;
  stop(): Promise<void>;
}

async function answers(host: string): Promise<boolean> {
  try {
    const res = await fetch(`http://${host}/v2/`, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status === 200 || res.status === 401;
  } catch {
    return false;
  }
}

/** Installs the registry and builds the fixture layers (cached; quick after the first run). */
export function ensureMultiarchBed(): void {
  execFileSync("bash", [join(ROOT, "test/bed/multiarch.sh")], { cwd: ROOT, stdio: ["ignore", "inherit", "inherit"], timeout: 10 * 60_000 });
}

export async function startRegistry(opts: { port?: number; auth?: { user: string; password: string } } = {}): Promise<TestRegistry> {
  const host = `127.0.0.1:${opts.port ?? 5000}`;
  if (await answers(host)) return { host, started: false, stop: async () => {} };
  const dir = mkdtempSync(join(tmpdir(), "mcp-rewrap-registry-"));
  let auth = "";
  if (opts.auth) {
    const line = execFileSync("htpasswd", ["-Bbn", opts.auth.user, opts.auth.password], { encoding: "utf8" }).trim();
    writeFileSync(join(dir, "htpasswd"), `${line}\n`);
    auth = `auth:\n  htpasswd:\n    realm: mcp-rewrap-test\n    path: ${join(dir, "htpasswd")}\n`;
  }
  writeFileSync(
    join(dir, "config.yml"),
    [
      "version: 0.1",
      "log:",
      "  level: error",
      "  accesslog:",
      "    disabled: true",
      "storage:",
      "  filesystem:",
      `    rootdirectory: ${join(dir, "data")}`,
      "  delete:",
      "    enabled: true",
      "http:",
      `  addr: ${host}`,
      "  secret: mcp-rewrap-test",
      auth,
    ].join("\n"),
  );
  let stderr = "";
  const child: ChildProcess = spawn("docker-registry", ["serve", join(dir, "config.yml")], { stdio: ["ignore", "ignore", "pipe"] });
  child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
  let exited = false;
  child.on("exit", () => (exited = true));
  const end = Date.now() + 20_000;
  while (!(await answers(host))) {
    if (exited || Date.now() > end) {
      child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`docker-registry on ${host} did not come up: ${stderr.slice(-500)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    host,
    started: true,
    stop: async () => {
      if (!exited) {
        const gone = new Promise<void>((r) => child.once("exit", () => r()));
        child.kill("SIGTERM");
        await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
        if (!exited) child.kill("SIGKILL");
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const FIXTURE_REPO = "mcp-rewrap-test/busybox";
const CACHE = process.env.MCP_REWRAP_CACHE ?? join(homedir(), ".cache/mcp-rewrap");

export interface FixtureImage {
  platform: Platform;
  manifestDigest: string;
  configDigest: string;
  manifestType: string;
}

/** The config of a fixture image: busybox running as app (1001), like a non-root MCP server. */
function fixtureConfig(platform: Platform, diffId: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      architecture: platform.architecture,
      os: platform.os,
      ...(platform.variant ? { variant: platform.variant } : {}),
      created: "2025-01-01T00:00:00Z",
      config: {
        User: "app",
        Env: ["PATH=/bin", "FIXTURE=busybox"],
        Entrypoint: ["/bin/sh", "-c"],
        Cmd: ["cat /etc/mcp-rewrap-arch; id -u"],
        WorkingDir: "/home/app",
        Labels: { "org.opencontainers.image.title": "mcp-rewrap busybox fixture" },
      },
      rootfs: { type: "layers", diff_ids: [diffId] },
      history: [{ created: "2025-01-01T00:00:00Z", created_by: "test/bed/multiarch.sh (busybox-static rootfs)" }],
    }),
  );
}

async function pushImage(client: RegistryClient, repo: string, arch: "amd64" | "arm64", family: "docker" | "oci", tag?: string): Promise<FixtureImage> {
  const layer = readFileSync(join(CACHE, "multiarch", `busybox-${arch}.tar.gz`));
  const platform: Platform = arch === "arm64" ? { os: "linux", architecture: "arm64", variant: "v8" } : { os: "linux", architecture: "amd64" };
  const config = fixtureConfig(platform, sha256(gunzipSync(layer)));
  await client.putBlob(repo, sha256(layer), layer);
  await client.putBlob(repo, sha256(config), config);
  const manifestType = family === "docker" ? MEDIA.dockerManifest : MEDIA.ociManifest;
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: manifestType,
      config: { mediaType: family === "docker" ? MEDIA.dockerConfig : MEDIA.ociConfig, digest: sha256(config), size: config.length },
      layers: [{ mediaType: family === "docker" ? MEDIA.dockerLayerGzip : MEDIA.ociLayerGzip, digest: sha256(layer), size: layer.length }],
    }),
  );
  const digest = await client.putManifest(repo, tag ?? sha256(manifest), manifestType, manifest);
  return { platform, manifestDigest: digest, configDigest: sha256(config), manifestType };
}

/** An attestation manifest as buildx attaches one (platform unknown/unknown): must be skipped. */
async function pushAttestation(client: RegistryClient, repo: string, subject: string): Promise<{ digest: string; size: number }> {
  const statement = Buffer.from(JSON.stringify({ _type: "https://in-toto.io/Statement/v0.1", predicateType: "https://slsa.dev/provenance/v0.2", subject: [{ digest: { sha256: subject.slice(7) } }] }));
  const empty = Buffer.from("{}");
  await client.putBlob(repo, sha256(statement), statement);
  await client.putBlob(repo, sha256(empty), empty);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.ociManifest,
      config: { mediaType: MEDIA.ociConfig, digest: sha256(empty), size: empty.length },
      layers: [{ mediaType: "application/vnd.in-toto+json", digest: sha256(statement), size: statement.length, annotations: { "in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2" } }],
    }),
  );
  const digest = await client.putManifest(repo, sha256(manifest), MEDIA.ociManifest, manifest);
  return { digest, size: manifest.length };
}

export interface Fixture {
  /** `<host>/mcp-rewrap-test/busybox:multi`: OCI index, amd64 + arm64/v8 + one attestation manifest. */
  multi: string;
  /** `<host>/mcp-rewrap-test/busybox:amd64`: a single Docker schema 2 manifest. */
  amd64: string;
  indexDigest: string;
  images: FixtureImage[];
}

/** Pushes the fixture (idempotent: same bytes, same digests). */
export async function pushFixture(host: string, repo = FIXTURE_REPO): Promise<Fixture> {
  const client = new RegistryClient(host, { credentials: null });
  const amd64 = await pushImage(client, repo, "amd64", "oci");
  const arm64 = await pushImage(client, repo, "arm64", "oci");
  const att = await pushAttestation(client, repo, amd64.manifestDigest);
  const sizeOf = async (d: string) => (await client.getManifest(repo, d)).bytes.length;
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.ociIndex,
      manifests: [
        { mediaType: MEDIA.ociManifest, digest: amd64.manifestDigest, size: await sizeOf(amd64.manifestDigest), platform: amd64.platform },
        { mediaType: MEDIA.ociManifest, digest: arm64.manifestDigest, size: await sizeOf(arm64.manifestDigest), platform: arm64.platform },
        {
          mediaType: MEDIA.ociManifest,
          digest: att.digest,
          size: att.size,
          platform: { os: "unknown", architecture: "unknown" },
          annotations: { "vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": amd64.manifestDigest },
        },
      ],
    }),
  );
  const indexDigest = await client.putManifest(repo, "multi", MEDIA.ociIndex, index);
  await pushImage(client, repo, "amd64", "docker", "amd64");
  return { multi: `${host}/${repo}:multi`, amd64: `${host}/${repo}:amd64`, indexDigest, images: [amd64, arm64] };
}

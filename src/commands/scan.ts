/**
 * `mcp-rewrap scan CATALOG...`: every server of some catalogs, judged (src/scan.ts) from what the edges can read —
 * the user's gateway config, the host paths it binds, and each image: from the local engine
 * when it is there, else from its registry without pulling (config, /etc/passwd and
 * /etc/group only, layers top-down; see edge/registry/user-files.ts). `--pull` pulls instead; one
 * failed pull or unreadable registry makes that server `unknown`, never the whole scan fail.
 */
import { UsageError } from "../core/errors.js";
import { type ImageFacts, imageConfigFrom } from "../core/facts.js";
import { type GatewayConfig, evaluate } from "../core/gateway-eval.js";
import { type ImageConfigBlob, type ImageIndex, type ImageManifest, isIndex, runnableManifests } from "../core/oci.js";
import { type Reference, checkPlatforms, isImageRef, manifestRef, parseReference, platformMatches } from "../core/reference.js";
import { type HostStat, type ImageView, type ServerScan, ancestors, mergeCatalogs, parseMount, scanServer } from "../core/scan.js";
import { type Engine, engineOrNull, inspectImage, readImageFacts, type Progress } from "../edge/engine.js";
import { readCatalogFile } from "../edge/fs.js";
import { readGatewayConfig, statHost } from "../edge/host.js";
import { readRegistryFacts } from "../edge/registry/blobs.js";
import { Registries } from "../edge/registry/client.js";
import { readUserFiles } from "../edge/registry/user-files.js";

export interface ScanOptions {
  pull?: boolean;
  /** The gateway's config file (default ~/.docker/mcp/config.yaml). */
  config?: string;
  /** `docker.io=127.0.0.1:5000`: read images of a registry from another host (like containerd mirrors). */
  mirrors?: string[];
  platform?: string;
  progress: Progress;
}

/** `--registry-mirror docker.io=127.0.0.1:5000` -> {docker.io: 127.0.0.1:5000}. */
export function parseMirrors(specs: string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of specs) {
    const m = /^([^=\s]+)=([^=\s]+)$/.exec(s);
    if (!m) throw new UsageError(`--registry-mirror ${s}: give REGISTRY=HOST[:PORT], e.g. docker.io=127.0.0.1:5000`);
    out[m[1]!] = m[2]!;
  }
  return out;
}

const mb = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${(n / 1e3).toFixed(1)} kB`);

export interface RegistryRead {
  view: ImageView;
  bytes: number;
  /** The image's compressed size: manifest, config and every layer. */
  total: number;
}

/** Reads what scan needs of `image` from its registry (or its mirror), without pulling. */
export async function readImageFromRegistry(
  image: string,
  opts: {
    regs: Registries;
    mirrors: Record<string, string>;
    platform: string;
    wantDirs: string[];
    progress: Progress;
    /** The catalog's user: as evaluated (empty: the image's USER runs). */
    runAs?: string;
  },
): Promise<RegistryRead> {
  const ref: Reference = parseReference(image);
  const host = opts.mirrors[ref.registry] ?? ref.registry;
  const client = opts.regs.for(host);
  const top = await client.getManifest(ref.repository, manifestRef(ref));
  let bytes = top.bytes.length;
  let total = top.bytes.length;
  let manifest: ImageManifest;
  if (isIndex(top.mediaType)) {
    const d = runnableManifests(top.json as ImageIndex).find((m) => platformMatches(opts.platform, m.platform!));
    if (!d) throw new Error(`${image} has no ${opts.platform} image`);
    const m = await client.getManifest(ref.repository, d.digest);
    bytes += m.bytes.length;
    total += m.bytes.length;
    manifest = m.json as ImageManifest;
  } else manifest = top.json as ImageManifest;
  const configBytes = await client.getBlob(ref.repository, manifest.config.digest);
  bytes += configBytes.length;
  total += configBytes.length + manifest.layers.reduce((n, l) => n + l.size, 0);
  const blob = JSON.parse(configBytes.toString("utf8")) as ImageConfigBlob;
  const config = imageConfigFrom(blob.config);
  const user = (opts.runAs || config.user).split(":")[0]!;
  const source = host === ref.registry ? ref.registry : `${host} (mirror of ${ref.registry})`;
  if (user === "" || user === "root" || user === "0") {
    // Root reads every mount: no user file is needed to judge it.
    return { view: { facts: { config, passwd: "root:x:0:0:root:/root:/bin/sh\n", group: "root:x:0:\n", rootMode: null }, via: `${source}: ${mb(bytes)} of ${mb(total)} (config only: runs as root), nothing pulled` }, bytes, total };
  }
  const files = await readUserFiles(client, ref.repository, manifest, { wantDirs: opts.wantDirs });
  bytes += files.layerBytes;
  let facts: ImageView["facts"] = { config, passwd: files.passwd, group: files.group, rootMode: files.dirs["/root"]?.mode ?? null };
  let via = `${source}: ${mb(bytes)} of ${mb(total)}, ${files.layersRead} of ${files.layers} layers opened, nothing pulled`;
  if (files.needsFullRead) {
    opts.progress(`${image}: /etc/passwd or /etc/group is a link; reading every layer`);
    const full: ImageFacts = (await readRegistryFacts(client, ref, manifest, { userRef: image, pinnedDigest: top.digest })).facts;
    bytes = total;
    facts = full;
    via = `${source}: every layer (${mb(total)}; /etc/passwd or /etc/group is a link), nothing pulled`;
  }
  return { view: { facts, dirs: files.dirs, via }, bytes, total };
}

export async function scanCommand(files: string[], opts: ScanOptions): Promise<ServerScan[]> {
  const platform = checkPlatforms([opts.platform ?? "linux/amd64"])[0]!;
  const mirrors = parseMirrors(opts.mirrors);
  const catalogs = [];
  for (const f of files) catalogs.push({ file: f, servers: (await readCatalogFile(f)).servers });
  const { entries, notes } = mergeCatalogs(catalogs);
  for (const n of notes) opts.progress(n);
  const { config, source } = readGatewayConfig(opts.config);
  const regs = new Registries();
  let docker: Engine | null | undefined;
  const engine = async () => (docker === undefined ? (docker = await engineOrNull()) : docker);
  const results: ServerScan[] = [];
  const fromEngine = new Map<string, Promise<ImageView | null>>();
  for (const [name, { entry, file }] of entries) {
    const ctx = { config, configSource: source, hostStat: statHost, catalogFile: file };
    if (entry.type !== "server" || !entry.image || !(entry.volumes ?? []).length) {
      results.push(scanServer(name, entry, { ...ctx, image: null }));
      continue;
    }
    const image = entry.image;
    if (!isImageRef(image)) {
      results.push(scanServer(name, entry, { ...ctx, image: null, why: `${JSON.stringify(image)} is not a valid image reference: docker refuses to run it ([registry/]repository[:tag][@sha256:digest], the repository in lowercase)` }));
      continue;
    }
    // Directories whose owner and mode matter: the parents of every literal mount target.
    const wantDirs = [...new Set((entry.volumes ?? []).flatMap((v) => {
      const m = parseMount(v.replace(/\{\{[^}]*\}\}/g, "/x"));
      return m && m.target.startsWith("/") ? ancestors(m.target) : [];
    }))];
    let view: ImageView | null = null;
    const why: string[] = [];
    const d = await engine();
    if (d) {
      // Read once per image: servers of a catalog often share one (each read starts a container).
      let read = fromEngine.get(image);
      if (!read) {
        read = (async () => {
          const local = await inspectImage(d, image);
          if (!local && !opts.pull) return null;
          if (!local) opts.progress(`pulling ${image}`);
          const facts = await readImageFacts(d, image, { pull: opts.pull === true, progress: opts.progress });
          return { facts, via: local ? "the local engine" : "the local engine (pulled)" };
        })();
        fromEngine.set(image, read);
      }
      try {
        view = await read;
      } catch (e) {
        why.push(`${opts.pull ? "pull" : "local engine"}: ${(e as Error).message}`);
      }
    } else why.push("no engine");
    if (!view) {
      try {
        opts.progress(`${image}: not local; reading its user files from the registry`);
        const runAs = entry.user?.includes("{{") ? String(evaluate(entry.user, config)) : entry.user ?? "";
        const r = await readImageFromRegistry(image, { regs, mirrors, platform, wantDirs, progress: opts.progress, runAs });
        view = r.view;
      } catch (e) {
        why.push(`registry: ${(e as Error).message}`);
      }
    }
    results.push(scanServer(name, entry, { ...ctx, image: view, why: `the image could not be read (${why.join("; ")})` }));
  }
  return results;
}

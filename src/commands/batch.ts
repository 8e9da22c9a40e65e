/**
 * `mcp-rewrap build --catalog CATALOG.yaml [--affected] [--push]`: rewraps the servers of a
 * catalog one after the other. For each server: find the upstream digest (the engine's copy,
 * else a HEAD in its registry), read back the labels of the tag it built last (from the
 * engine, or from the registry with --push) and skip when the freshness key (base digest,
 * mcp-rewrap version, templates, --mount/--env/--force/--platform) is unchanged; else read
 * the image's facts, scan the entry (with --affected, only servers scan flags are built),
 * build or push. One server's failure is reported and the next goes on.
 */
import type { CatalogServer } from "../core/catalog.js";
import { PlanError } from "../core/errors.js";
import type { ImageFacts } from "../core/facts.js";
import { contextKey, isUpToDate } from "../core/freshness.js";
import { CONTEXT_LABEL, LABEL } from "../core/labels.js";
import { baseNameOf, manifestRef, parseReference, pickRepoDigest, rewrapTag } from "../core/reference.js";
import { scanServer } from "../core/scan.js";
import { readGatewayConfig, statHost } from "../edge/host.js";
import { type Engine, engineOrNull, inspectImage } from "../edge/engine.js";
import { registryFacts } from "../edge/facts-source.js";
import { readCatalogFile, templates } from "../edge/fs.js";
import { readPublished } from "../edge/registry/blobs.js";
import { Registries } from "../edge/registry/client.js";
import { VERSION } from "../edge/version.js";
import { type BuildResult, type PushResult, buildRoute, pushRoute } from "./routes.js";
import { type Progress, getFacts } from "./shared.js";

export interface BatchOptions {
  affected?: boolean;
  push?: boolean;
  /** Repository prefix of the tags: `<prefix>/<server>:<upstream tag>` (default mcp-rewrap). */
  prefix?: string;
  platforms?: string[];
  rebuild?: boolean;
  pull?: boolean;
  env?: string[];
  force?: boolean;
  progress: Progress;
  registries?: Registries;
  /** The gateway's config file for --affected's judgement (default ~/.docker/mcp/config.yaml). */
  config?: string;
}

export type BatchStatus = "built" | "pushed" | "up-to-date" | "not-affected" | "skipped" | "failed";

export interface BatchResult {
  server: string;
  image: string;
  tag: string;
  status: BatchStatus;
  detail: string;
  upstream?: string;
  digest?: string;
  /** What the build or push route returned (status built or pushed). */
  built?: BuildResult;
  pushed?: PushResult;
}

/** The digest a rewrap of `image` would be pinned to, and where the image is. */
async function upstreamOf(docker: Engine | null, regs: Registries, image: string): Promise<{ digest: string; local: boolean } | null> {
  const info = docker ? await inspectImage(docker, image) : null;
  if (info) return { digest: pickRepoDigest(image, info.RepoDigests ?? [])?.digest ?? info.Id, local: true };
  const ref = parseReference(image);
  const head = await regs.for(ref.registry).headManifest(ref.repository, manifestRef(ref));
  return head ? { digest: head.digest, local: false } : null;
}

/** The labels of each image the tag holds (engine, or registry by platform with --push); null when there is no such tag. */
async function heldLabels(docker: Engine | null, regs: Registries, tag: string, push: boolean): Promise<Record<string, string>[] | Record<string, Record<string, string>> | null> {
  if (push) return (await readPublished(regs, tag))?.labels ?? null;
  const info = docker ? await inspectImage(docker, tag) : null;
  return info ? [info.Config?.Labels ?? {}] : null;
}

export async function batchCommand(catalogFile: string, opts: BatchOptions): Promise<BatchResult[]> {
  const cat = await readCatalogFile(catalogFile);
  const regs = opts.registries ?? new Registries();
  const docker = await engineOrNull();
  const gateway = readGatewayConfig(opts.config);
  const entries = Object.entries(cat.servers);
  const results: BatchResult[] = [];
  for (const [i, [server, entry]] of entries.entries()) {
    const say = (line: string) => opts.progress(`[${i + 1}/${entries.length}] ${server}: ${line}`);
    results.push(await oneServer(server, entry, { ...opts, progress: say }, docker, regs, gateway));
    const r = results[results.length - 1]!;
    say(`${r.status}${r.detail ? ` (${r.detail})` : ""}`);
  }
  return results;
}

async function oneServer(
  server: string,
  entry: CatalogServer,
  opts: BatchOptions,
  docker: Engine | null,
  regs: Registries,
  gateway: ReturnType<typeof readGatewayConfig>,
): Promise<BatchResult> {
  const image = entry.image ?? "";
  const base = { server, image, tag: "" };
  if (entry.type !== "server" || !image) return { ...base, status: "skipped", detail: `type ${entry.type}: not a container` };
  const tag = rewrapTag(image, { name: server, prefix: opts.prefix });
  const res = (status: BatchStatus, detail: string, extra: Partial<BatchResult> = {}): BatchResult => ({ ...base, tag, status, detail, ...extra });
  try {
    const up = await upstreamOf(docker, regs, image);
    if (!up && !(opts.pull && docker)) return res("failed", `${image} is neither in the local engine nor in its registry`);
    if (up && !opts.rebuild) {
      // THE up-to-date rule (core/freshness.ts): same base, named the same, version, templates and options.
      const key = contextKey({ base: up.digest, name: baseNameOf(image, up.digest), env: opts.env, force: opts.force, version: VERSION, templates: templates() });
      const held = await heldLabels(docker, regs, tag, !!opts.push).catch(() => null);
      if (isUpToDate(held, key, opts.push ? opts.platforms : undefined)) {
        return res("up-to-date", `${tag} was built from ${up.digest} by mcp-rewrap ${VERSION} with the same options`, { upstream: up.digest });
      }
      const l = held ? (Array.isArray(held) ? held : Object.values(held))[0] : undefined;
      if (l) opts.progress(`${tag} holds base ${l[LABEL.baseDigest] ?? "?"}, mcp-rewrap ${l[LABEL.version] ?? "?"}, key ${l[CONTEXT_LABEL]?.slice(7, 19) ?? "?"}; wanted ${up.digest}, mcp-rewrap ${VERSION}, key ${key.slice(7, 19)}`);
    }
    let facts: ImageFacts;
    if (!up || up.local) {
      facts = await getFacts(image, { pull: opts.pull === true, progress: opts.progress });
    } else {
      facts = await registryFacts(regs, { platform: opts.platforms?.[0], digest: up.digest, progress: opts.progress }).facts(image);
    }
    const scan = scanServer(server, entry, { config: gateway.config, configSource: gateway.source, image: { facts, via: "" }, hostStat: statHost });
    if (opts.affected && scan.status !== "affected") {
      return res("not-affected", `scan: ${scan.status}${scan.why ? ` (${scan.why})` : ""}`, { upstream: up?.digest });
    }
    if (scan.status === "affected") opts.progress(`affected: ${scan.findings.map((f) => f.target).join(", ")}`);
    if (opts.push) {
      const pushed = await pushRoute(image, {
        tag,
        platforms: opts.platforms,
        rebuild: true,
        env: opts.env,
        force: opts.force,
        pull: opts.pull,
        progress: opts.progress,
        registries: regs,
      });
      return res("pushed", `${pushed.route === "registry" ? "registry to registry" : "built and pushed"}: ${pushed.digest}`, { upstream: pushed.sourceDigest, digest: pushed.digest, pushed });
    }
    const built = await buildRoute(image, { tag, rebuild: true, env: opts.env, force: opts.force, pull: opts.pull, progress: opts.progress });
    return res("built", built.id, { upstream: built.plan.source.digest ?? built.plan.source.id, digest: built.id, built });
  } catch (e) {
    if (e instanceof PlanError) return res("skipped", e.message);
    return res("failed", (e as Error).message);
  }
}

export function formatBatch(results: BatchResult[]): string {
  const width = Math.max(6, ...results.map((r) => r.server.length));
  const lines = results.map((r) => `${r.status.padEnd(12)} ${r.server.padEnd(width)}  ${r.tag || r.image}${r.detail ? `\n${" ".repeat(13)}${r.detail}` : ""}`);
  const count = (s: BatchStatus) => results.filter((r) => r.status === s).length;
  const parts = (["built", "pushed", "up-to-date", "not-affected", "skipped", "failed"] as const).filter((s) => count(s)).map((s) => `${count(s)} ${s.replace(/-/g, " ")}`);
  lines.push("", `${results.length} servers: ${parts.join(", ") || "none"}`);
  return `${lines.join("\n")}\n`;
}

/**
 * `mcp-rewrap build --catalog CATALOG.yaml [--affected] [--push]`: rewraps the servers of a
 * catalog one after the other. For each server: find the upstream digest (the engine's copy,
 * else a HEAD in its registry), read back the labels of the tag it built last (from the
 * engine, or from the registry with --push) and skip when base digest and mcp-rewrap version
 * are unchanged; else read the image's facts, scan the entry (with --affected, only servers
 * scan flags are built), build or push. One server's failure is reported and the next goes on.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type Docker from "dockerode";
import { PlanError } from "./errors.js";
import type { ImageFacts } from "./facts.js";
import { parseRef } from "./facts.js";
import { LABEL } from "./plan.js";
import { VERSION } from "./version.js";
import { buildCommand, getFacts } from "./app.js";
import { type CatalogServer, readCatalogFile } from "./catalog.js";
import { scanServer } from "./scan.js";
import { readGatewayConfig, statHost } from "./scan-command.js";
import { engineOrNull, inspectImage, type Progress } from "./image/engine.js";
import { Registries, parseReference } from "./image/registry.js";
import { factsFromRegistry, pushCommand, readPublished } from "./publish.js";

export interface BatchOptions {
  affected?: boolean;
  push?: boolean;
  /** Repository prefix of the tags: `<prefix>/<server>:<upstream tag>` (default mcp-rewrap). */
  prefix?: string;
  platforms?: string[];
  rebuild?: boolean;
  pull?: boolean;
  mounts?: string[];
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
}

export function batchTag(server: string, image: string, prefix = "mcp-rewrap"): string {
  const { tag, digest } = parseRef(image);
  const name = server.toLowerCase().replace(/[^a-z0-9._-]/g, "-").replace(/^[._-]+/, "") || "server";
  const t = tag ?? (digest ? `sha-${digest.replace(/^sha256:/, "").slice(0, 12)}` : "latest");
  return `${prefix.replace(/\/+$/, "")}/${name}:${t}`;
}


/** The digest a rewrap of `image` would be pinned to, and where the image is. */
async function upstreamOf(docker: Docker | null, regs: Registries, image: string): Promise<{ digest: string; local: boolean } | null> {
  const info = docker ? await inspectImage(docker, image) : null;
  if (info) {
    const repo = parseRef(image).repo;
    const digests = (info.RepoDigests ?? []).map((d) => ({ repo: d.slice(0, d.indexOf("@")), digest: d.slice(d.indexOf("@") + 1) }));
    const same = digests.find((d) => d.repo === repo || d.repo.endsWith(`/${repo}`)) ?? digests[0];
    return { digest: same?.digest ?? info.Id, local: true };
  }
  const ref = parseReference(image);
  const head = await regs.for(ref.registry).headManifest(ref.repository, ref.digest ?? ref.tag!);
  return head ? { digest: head.digest, local: false } : null;
}

async function lastBuiltLabels(docker: Docker | null, regs: Registries, tag: string, push: boolean): Promise<Record<string, string> | null> {
  if (push) {
    const pub = await readPublished(regs, tag);
    return pub ? Object.values(pub.labels)[0] ?? {} : null;
  }
  const info = docker ? await inspectImage(docker, tag) : null;
  return info ? info.Config?.Labels ?? {} : null;
}

export async function batchCommand(catalogFile: string, opts: BatchOptions): Promise<BatchResult[]> {
  const cat = readCatalogFile(catalogFile);
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
  docker: Docker | null,
  regs: Registries,
  gateway: ReturnType<typeof readGatewayConfig>,
): Promise<BatchResult> {
  const image = entry.image ?? "";
  const base = { server, image, tag: "" };
  if (entry.type !== "server" || !image) return { ...base, status: "skipped", detail: `type ${entry.type}: not a container` };
  const tag = batchTag(server, image, opts.prefix);
  const res = (status: BatchStatus, detail: string, extra: Partial<BatchResult> = {}): BatchResult => ({ ...base, tag, status, detail, ...extra });
  try {
    const up = await upstreamOf(docker, regs, image);
    if (!up && !(opts.pull && docker)) return res("failed", `${image} is neither in the local engine nor in its registry`);
    if (up && !opts.rebuild) {
      const labels = await lastBuiltLabels(docker, regs, tag, !!opts.push).catch(() => null);
      if (labels && labels[LABEL.baseDigest] === up.digest && labels[LABEL.version] === VERSION) {
        return res("up-to-date", `${tag} was built from ${up.digest} by mcp-rewrap ${VERSION}`, { upstream: up.digest });
      }
      if (labels) opts.progress(`${tag} holds base ${labels[LABEL.baseDigest] ?? "?"}, mcp-rewrap ${labels[LABEL.version] ?? "?"}; upstream is ${up.digest}, mcp-rewrap ${VERSION}`);
    }
    let facts: ImageFacts;
    if (!up || up.local) {
      facts = await getFacts(image, { pull: opts.pull === true, progress: opts.progress });
    } else {
      const ref = parseReference(image);
      facts = await factsFromRegistry(regs.for(ref.registry), image, up.digest, opts.platforms?.[0] ?? "linux/amd64", opts.progress);
    }
    const scan = scanServer(server, entry, { config: gateway.config, configSource: gateway.source, image: { facts, via: "" }, hostStat: statHost });
    if (opts.affected && scan.status !== "affected") {
      return res("not-affected", `scan: ${scan.status}${scan.why ? ` (${scan.why})` : ""}`, { upstream: up?.digest });
    }
    if (scan.status === "affected") opts.progress(`affected: ${scan.findings.map((f) => f.target).join(", ")}`);
    if (opts.push) {
      const pushed = await pushCommand(image, {
        tag,
        platforms: opts.platforms,
        rebuild: true,
        mounts: opts.mounts,
        env: opts.env,
        force: opts.force,
        pull: opts.pull,
        progress: opts.progress,
        registries: regs,
      });
      return res("pushed", `${pushed.route === "registry" ? "registry to registry" : "built and pushed"}: ${pushed.digest}`, { upstream: pushed.sourceDigest, digest: pushed.digest });
    }
    const out = mkdtempSync(join(tmpdir(), "mcp-rewrap-batch-"));
    try {
      const built = await buildCommand(image, { tag, out, rebuild: true, mounts: opts.mounts, env: opts.env, force: opts.force, pull: opts.pull, progress: opts.progress });
      return res("built", built.id, { upstream: built.plan.source.digest ?? built.plan.source.id, digest: built.id });
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
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

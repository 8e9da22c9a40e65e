/**
 * The docker CLI edge, used exactly as the gateway uses it: `docker run` of the gateway's run
 * line (core/gateway.ts) for verify's probe, and THE MCP client (the official SDK over the
 * container's stdio, with one deadline and the container always removed). Tests, the bench and
 * scripts import this module from dist/ rather than keep their own client.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { RuntimeError } from "../core/errors.js";
import { gatewayRunArgs } from "../core/gateway.js";
import { type ImageConfigLite, type MountSpec, type Verdict, isRewrapped, judge, parseProbe, probeCommand, probeScript, syntheticContent, syntheticTarget } from "../core/verdict.js";

export function runDocker(args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("docker", args, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("error", (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(e.code === "ENOENT" ? new RuntimeError("verify runs images with the docker CLI, as the gateway does, and `docker` is not on PATH") : e);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end();
  });
}

/** `docker rm -f NAME`; never throws. */
export async function removeContainer(name: string): Promise<void> {
  await runDocker(["rm", "-f", name], 30_000).catch(() => {});
}

export type McpOutcome<T> = { ok: true; value: T; stderr: string } | { ok: false; error: string; stderr: string };

/**
 * Runs `docker <runArgs>` (a `run …` argv, e.g. from gatewayRunArgs) as an MCP server over
 * stdio, connects the SDK client, and gives it to `work`. A generated `--name` is added so the
 * container is removed with `docker rm -f` whatever happens; one deadline bounds the whole
 * exchange. Failures (the server exited, no answer, `work` threw) come back as `error`, never
 * as a throw; the container's stderr always comes back.
 */
export async function withMcpServer<T>(
  runArgs: string[],
  work: (client: Client) => Promise<T>,
  opts: { timeoutMs?: number; clientName?: string; namePrefix?: string } = {},
): Promise<McpOutcome<T>> {
  if (runArgs[0] !== "run") throw new Error(`withMcpServer expects a "run …" argv, got: ${runArgs.join(" ")}`);
  const { Client } = await import("@modelcontextprotocol/sdk/client/index.js");
  const { StdioClientTransport } = await import("@modelcontextprotocol/sdk/client/stdio.js");
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const name = `${opts.namePrefix ?? "mcp-rewrap-mcp"}-${randomBytes(5).toString("hex")}`;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  const transport = new StdioClientTransport({ command: "docker", args: ["run", "--name", name, ...runArgs.slice(1)], env, stderr: "pipe" });
  let stderr = "";
  transport.stderr?.on("data", (c: Buffer) => (stderr += c.toString()));
  const client = new Client({ name: opts.clientName ?? "mcp-rewrap", version: "1" });
  let timer: NodeJS.Timeout | undefined;
  try {
    const deadline = new Promise<never>((_, rej) => {
      timer = setTimeout(() => rej(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    const value = await Promise.race([
      (async () => {
        await client.connect(transport);
        return work(client);
      })(),
      deadline,
    ]);
    return { ok: true, value, stderr };
  } catch (e) {
    return { ok: false, error: (e as Error).message, stderr };
  } finally {
    clearTimeout(timer);
    await client.close().catch(() => {});
    await removeContainer(name);
  }
}

export interface VerifyOptions {
  mounts: MountSpec[];
  name?: string;
  mcp?: boolean;
  timeoutMs?: number;
}

/** Makes the synthetic host files: 0600, owned by a uid that is not the image user's. */
export function syntheticFiles(mounts: MountSpec[], imageUid: number, marker: string): { dir: string; mounts: Required<MountSpec>[] } {
  const dir = mkdtempSync(join(tmpdir(), "mcp-rewrap-verify-"));
  chmodSync(dir, 0o755);
  const owner = imageUid === 1000 ? 1002 : 1000;
  const out = mounts.map((m, i) => {
    if (m.host) return { host: m.host, target: m.target };
    const file = join(dir, `file-${i}`);
    const target = syntheticTarget(m.target);
    writeFileSync(file, syntheticContent(target, marker), { mode: 0o600 });
    try {
      chownSync(file, owner, owner);
    } catch {
      /* not root: the file stays ours, which is still another uid than the image's */
    }
    return { host: file, target };
  });
  return { dir, mounts: out };
}

/** Runs `image` under the gateway's run line with the mounts and judges what the server sees. */
export async function runVerify(image: string, cfg: ImageConfigLite, opts: VerifyOptions): Promise<Verdict> {
  const marker = `mcp-rewrap-verify-${randomBytes(8).toString("hex")}`;
  const syn = syntheticFiles(opts.mounts, cfg.uid, marker);
  const rewrapped = isRewrapped(cfg);
  try {
    const targets = syn.mounts.map((m) => m.target);
    const probe = probeCommand(cfg, probeScript(targets, marker));
    const args = gatewayRunArgs({
      name: opts.name ?? "verify",
      image,
      network: "none",
      volumes: syn.mounts.map((m) => `${m.host}:${m.target}:ro`),
      extraFlags: ["--entrypoint", probe.entrypoint],
      command: probe.args,
    });
    const r = await runDocker(args, opts.timeoutMs ?? 60_000);
    const parsed = parseProbe(r.stdout);
    let verdict: Verdict;
    if (!parsed) {
      const why = r.stderr.trim().split("\n").filter(Boolean).slice(-3).join(" | ") || `exit code ${r.code}`;
      verdict = {
        image,
        ok: false,
        uid: null,
        gid: null,
        home: "",
        rewrapped,
        targets: syn.mounts.map((m) => ({ target: m.target, ok: false, looksAt: [], reason: "the probe did not run" })),
        error: `the image did not run under the gateway's run line: ${why}`,
      };
    } else {
      verdict = judge(image, rewrapped, syn.mounts.map((m, i) => ({ target: m.target, ...(opts.mounts[i]?.host ? { host: m.host } : {}) })), parsed);
    }
    if (opts.mcp) {
      verdict.mcp = await mcpCheck(image, syn.mounts, opts);
      verdict.ok = verdict.ok && verdict.mcp.ok;
    }
    return verdict;
  } finally {
    rmSync(syn.dir, { recursive: true, force: true });
  }
}

async function mcpCheck(image: string, mounts: Required<MountSpec>[], opts: VerifyOptions): Promise<NonNullable<Verdict["mcp"]>> {
  const args = gatewayRunArgs({ name: opts.name ?? "verify", image, network: "none", volumes: mounts.map((m) => `${m.host}:${m.target}:ro`) });
  const r = await withMcpServer(
    args,
    async (client) => {
      const tools = await client.listTools();
      const info = client.getServerVersion();
      return { tools: tools.tools.length, server: `${info?.name ?? "?"} ${info?.version ?? ""}`.trim() };
    },
    { timeoutMs: opts.timeoutMs, clientName: "mcp-rewrap-verify", namePrefix: "mcp-rewrap-verify" },
  );
  if (r.ok) return { ok: true, ...r.value };
  const tail = r.stderr.trim().split("\n").slice(-2).join(" | ");
  return { ok: false, error: `${r.error}${tail ? ` (stderr: ${tail})` : ""}` };
}

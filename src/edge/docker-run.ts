/**
 * The docker CLI edge, used exactly as the gateway uses it: `docker run` of the gateway's run
 * line (core/gateway.ts) for verify's probe, and THE MCP client (the official SDK over the
 * container's stdio, with one deadline and the container always removed). Tests, the bench and
 * scripts import this module from dist/ rather than keep their own client.
 */
import { spawn, spawnSync } from "node:child_process";
import { onCleanup } from "./cleanup.js";
import { tempDir } from "./fs.js";
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { RuntimeError } from "../core/errors.js";
import { dockerCliEnv } from "./docker-context.js";
import { gatewayRunArgs } from "../core/gateway.js";
import {
  type ImageConfigLite,
  type MountSpec,
  type StateVerdict,
  type Verdict,
  isRewrapped,
  judge,
  judgeState,
  parseProbe,
  parseStateLine,
  probeCommand,
  probeScript,
  stateScript,
  syntheticContent,
  syntheticTarget,
} from "../core/verdict.js";

export function runDocker(args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("docker", args, { stdio: ["pipe", "pipe", "pipe"], env: dockerCliEnv() });
    const untrack = onCleanup(() => child.kill("SIGKILL"));
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("error", (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      untrack();
      reject(e.code === "ENOENT" ? new RuntimeError("verify: it runs images with the docker CLI, as the gateway does, and `docker` is not on PATH; install the docker CLI") : e);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      untrack();
      resolve({ code, stdout, stderr });
    });
    child.stdin.end();
  });
}

/**
 * `docker rm -f NAME`; never throws. When the engine is already removing it (the run's own --rm,
 * after the container stopped: `docker rm` then fails with "removal … is already in progress"),
 * waits until it is gone (up to 10 s), so that nothing of this run is listed once it returns.
 */
export async function removeContainer(name: string): Promise<void> {
  const r = await runDocker(["rm", "-f", name], 30_000).catch(() => null);
  if (r?.code === 0) return;
  const until = Date.now() + 10_000;
  while (Date.now() < until) {
    const seen = await runDocker(["container", "inspect", "--format", "{{.Id}}", name], 10_000).catch(() => null);
    if (seen?.code !== 0) return;
    await new Promise((res) => setTimeout(res, 100));
  }
}

/**
 * How long the exit path after a signal watches for a container whose create may still be under
 * way in the engine (the killed CLI had sent it): such a container would stay, never started.
 */
export const CREATE_SETTLE_MS = 3_000;

/**
 * The same, synchronous: for the exit path after a signal. With `mayAppear` (the CLI that makes
 * the container was still running, now killed), a name the engine does not know yet is watched
 * for up to CREATE_SETTLE_MS and removed if it appears.
 */
export function removeContainerSync(name: string, opts: { mayAppear?: boolean } = {}): void {
  const env = dockerCliEnv();
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const exists = () => spawnSync("docker", ["container", "inspect", "--format", "{{.Id}}", name], { stdio: "ignore", timeout: 10_000, env }).status === 0;
  // Removed: the CLI names it (a CLI of today also exits 0 for a name it does not know, under -f).
  const removed = () => {
    const r = spawnSync("docker", ["rm", "-f", name], { stdio: ["ignore", "pipe", "ignore"], encoding: "utf8", timeout: 30_000, env });
    return r.status === 0 && r.stdout.trim() !== "";
  };
  if (removed()) return;
  if (opts.mayAppear && !exists()) {
    const settle = Date.now() + CREATE_SETTLE_MS;
    for (;;) {
      if (Date.now() >= settle) return;
      Atomics.wait(pause, 0, 0, 100);
      if (exists()) break;
    }
    if (removed()) return;
  }
  const until = Date.now() + 10_000;
  while (Date.now() < until && exists()) Atomics.wait(pause, 0, 0, 100);
}

/**
 * runDocker for a `docker run` argv that names its container `name` (--name): the container is
 * removed when the run ends, also after a timeout (the killed CLI leaves it running), and on
 * SIGINT/SIGTERM (edge/cleanup.ts).
 */
function runNamed(name: string, args: string[], timeoutMs: number): ReturnType<typeof runDocker> {
  let running = true;
  const untrack = onCleanup(() => removeContainerSync(name, { mayAppear: running }));
  return runDocker(args, timeoutMs).finally(async () => {
    running = false;
    await removeContainer(name);
    untrack();
  });
}

/** `docker volume rm -f NAME`; never throws (for edge/cleanup.ts, after the containers using it). */
export function removeVolumeSync(name: string): void {
  spawnSync("docker", ["volume", "rm", "-f", name], { stdio: "ignore", timeout: 30_000, env: dockerCliEnv() });
}

export type McpOutcome<T> = { ok: true; value: T; stderr: string } | { ok: false; error: string; stderr: string };

export interface McpServerOptions {
  /** One deadline for the whole exchange (default 60 s). */
  timeoutMs?: number;
  /** The container's name (default: `<namePrefix>-<random>`); it is removed with `docker rm -f` at the end. */
  name?: string;
  namePrefix?: string;
  clientName?: string;
  /** Each chunk of the container's stderr, as it arrives (it is also collected). */
  onStderr?: (chunk: string) => void;
}

/**
 * THE MCP client: runs `docker <runArgs>` (a `run …` argv, e.g. from gatewayRunArgs) as an MCP
 * server over stdio, connects the official SDK client, and gives it to `work`. A `--name` is
 * added so the container is removed whatever happens (and on SIGINT/SIGTERM, edge/cleanup.ts);
 * one deadline bounds the whole exchange; a server that exits before answering ends it at once.
 * Failures come back as `error`, never as a throw; the container's stderr always comes back.
 * Used by verify --mcp, and (from dist/) by the tests, the bench and scripts/mcp-call.mjs.
 */
export async function withMcpServer<T>(runArgs: string[], work: (client: Client) => Promise<T>, opts: McpServerOptions = {}): Promise<McpOutcome<T>> {
  if (runArgs[0] !== "run") throw new Error(`withMcpServer expects a "run …" argv, got: ${runArgs.join(" ")}`);
  const { Client } = await import("@modelcontextprotocol/sdk/client/index.js");
  const { StdioClientTransport } = await import("@modelcontextprotocol/sdk/client/stdio.js");
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const name = opts.name ?? `${opts.namePrefix ?? "mcp-rewrap-mcp"}-${randomBytes(5).toString("hex")}`;
  // The same engine as the Engine API calls (a selected Docker context becomes DOCKER_HOST).
  const env = dockerCliEnv();
  const transport = new StdioClientTransport({ command: "docker", args: ["run", "--name", name, ...runArgs.slice(1)], env, stderr: "pipe" });
  // Stopped by a signal: the CLI is killed first, so that it makes nothing after the removal; a
  // create it had already sent is watched for (removeContainerSync's mayAppear).
  const untrack = onCleanup(() => {
    const pid = transport.pid;
    if (pid !== null) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        /* gone already */
      }
    }
    removeContainerSync(name, { mayAppear: pid !== null });
  });
  let stderr = "";
  transport.stderr?.on("data", (c: Buffer | string) => {
    stderr += c.toString();
    opts.onStderr?.(c.toString());
  });
  const client = new Client({ name: opts.clientName ?? "mcp-rewrap", version: "1" });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, rej) => {
    timer = setTimeout(() => rej(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  // The server may exit before answering (e.g. it crashes on an unreadable config).
  const exited = new Promise<never>((_, rej) => {
    client.onclose = () => rej(new Error("the server closed the connection (container exited)"));
  });
  deadline.catch(() => {});
  exited.catch(() => {});
  try {
    const exchange = (async () => {
      await client.connect(transport, { timeout: timeoutMs });
      return work(client);
    })();
    const value = await Promise.race([exchange, deadline, exited]);
    return { ok: true, value, stderr };
  } catch (e) {
    return { ok: false, error: (e as Error).message, stderr };
  } finally {
    clearTimeout(timer);
    await Promise.race([client.close().catch(() => {}), new Promise((r) => setTimeout(r, 5_000))]);
    await removeContainer(name);
    untrack();
  }
}

export interface VerifyOptions {
  mounts: MountSpec[];
  /** --state targets: a named volume there, written in one run and read back in the next. */
  state?: string[];
  name?: string;
  mcp?: boolean;
  timeoutMs?: number;
}

/** Makes the synthetic host files: 0600, owned by a uid that is not the image user's; `remove` deletes them. */
export function syntheticFiles(mounts: MountSpec[], imageUid: number, marker: string): { dir: string; mounts: Required<MountSpec>[]; remove: () => void } {
  const { path: dir, remove } = tempDir("verify");
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
  return { dir, mounts: out, remove };
}

/** Runs `image` under the gateway's run line with the mounts and judges what the server sees. */
export async function runVerify(image: string, cfg: ImageConfigLite, opts: VerifyOptions): Promise<Verdict> {
  const marker = `mcp-rewrap-verify-${randomBytes(8).toString("hex")}`;
  const syn = syntheticFiles(opts.mounts, cfg.uid, marker);
  const rewrapped = isRewrapped(cfg);
  try {
    const targets = syn.mounts.map((m) => m.target);
    const probe = probeCommand(cfg, probeScript(targets, marker));
    // Named, so that a stopped run can remove it (the gateway's own run line has no --name).
    const container = `mcp-rewrap-verify-${randomBytes(5).toString("hex")}`;
    const args = gatewayRunArgs({
      name: opts.name ?? "verify",
      image,
      network: "none",
      volumes: syn.mounts.map((m) => `${m.host}:${m.target}:ro`),
      extraFlags: ["--name", container, "--entrypoint", probe.entrypoint],
      command: probe.args,
    });
    const r = await runNamed(container, args, opts.timeoutMs ?? 60_000);
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
    if (opts.state?.length) {
      verdict.state = [];
      for (const target of opts.state) verdict.state.push(await stateCheck(image, cfg, target, opts));
      verdict.ok = verdict.ok && verdict.state.every((x) => x.ok);
    }
    return verdict;
  } finally {
    syn.remove();
  }
}

/**
 * Two runs under the gateway's run line with the same fresh named volume at `target`: the first
 * writes a marker as the server (through the entrypoint chain, so a shim prepares first), the
 * second reads it back. The runs are named `<volume>-write` and `<volume>-read`; they and the
 * volume are removed afterwards, and on SIGINT/SIGTERM (edge/cleanup.ts: the runs first, then
 * the volume they hold).
 */
async function stateCheck(image: string, cfg: ImageConfigLite, target: string, opts: VerifyOptions): Promise<StateVerdict> {
  const marker = `mcp-rewrap-state-${randomBytes(8).toString("hex")}`;
  const volume = `mcp-rewrap-verify-state-${randomBytes(5).toString("hex")}`;
  const untrackVolume = onCleanup(() => removeVolumeSync(volume));
  const run = async (phase: "write" | "read") => {
    const probe = probeCommand(cfg, stateScript(target, marker, phase));
    const container = `${volume}-${phase}`;
    const args = gatewayRunArgs({
      name: opts.name ?? "verify",
      image,
      network: "none",
      volumes: [`${volume}:${target}`],
      extraFlags: ["--name", container, "--entrypoint", probe.entrypoint],
      command: probe.args,
    });
    const r = await runNamed(container, args, opts.timeoutMs ?? 60_000);
    return parseStateLine(r.stdout);
  };
  try {
    const first = await run("write");
    const second = first?.kind === "wrote" ? await run("read") : null;
    return judgeState(target, first, second, volume);
  } finally {
    await runDocker(["volume", "rm", "-f", volume], 30_000).catch(() => {});
    untrackVolume();
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

/**
 * One call for every e2e file: compile the CLI (tests run the real binary, dist/src/cli.js),
 * then build the hermetic images (base images, mcp/kubernetes replica). Both steps are cached,
 * so after the first file this costs well under a second.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { join } from "node:path";

export const ROOT = new URL("../..", import.meta.url).pathname;
export const CLI = join(ROOT, "dist/src/cli.js");
export const REPLICA = "mcp-rewrap-test/kubernetes:latest";

export function ensureBed(): void {
  execFileSync("npx", ["tsc", "-p", "tsconfig.json"], { cwd: ROOT, stdio: ["ignore", "inherit", "inherit"], timeout: 120_000 });
  for (const script of ["test/bed/base-images.sh", "test/bed/replica.sh"]) {
    execFileSync("bash", [join(ROOT, script)], { cwd: ROOT, stdio: ["ignore", "inherit", "inherit"], timeout: 15 * 60_000 });
  }
}

/** The keys of each element of `build --json`'s results, the same on every route (docs/JSON.md). */
export const BUILD_JSON_KEYS = ["base", "detail", "digest", "dir", "dropTool", "id", "platforms", "route", "server", "source", "status", "tag", "user"];

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI as a user would. */
export function cli(args: string[], opts: { env?: Record<string, string>; cwd?: string } = {}): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, ...opts.env },
    encoding: "utf8",
    timeout: 10 * 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface SpawnOpts {
  cwd?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
}

/**
 * CMD run to the end without blocking this process (killed at the timeout); its stdout and (unless
 * `stderrInherit`) its stderr captured. The one async runner of cliAsync and runAsync.
 */
function spawnAsync(cmd: string, args: string[], opts: SpawnOpts & { stderrInherit?: boolean }, defaultTimeoutMs: number): Promise<CliResult & { signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd ?? ROOT, env: { ...process.env, ...opts.env }, stdio: ["ignore", "pipe", opts.stderrInherit ? "inherit" : "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr?.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? defaultTimeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/**
 * The built CLI (or `cliPath`), without blocking this process: for tests that serve something the
 * CLI talks to from this same process (a proxy, a registry stand-in), which a synchronous run
 * would starve, and for long runs (builds), which would keep vitest's worker from its own RPC.
 */
export async function cliAsync(args: string[], opts: SpawnOpts & { cliPath?: string } = {}): Promise<CliResult> {
  const { code, stdout, stderr } = await spawnAsync(process.execPath, [opts.cliPath ?? CLI, ...args], opts, 10 * 60_000);
  return { code, stdout, stderr };
}

/**
 * A command run to the end without blocking this process (its stderr passes through), rejecting
 * on a non-zero exit. For the long set-up steps of a suite's hooks: vitest's worker gives up on
 * its own RPC after 60 s without a turn of the event loop ("Timeout calling onTaskUpdate"), and on
 * the containerd store a hook that builds several images in a row can take that long.
 */
export async function runAsync(cmd: string, args: string[], opts: SpawnOpts = {}): Promise<void> {
  const r = await spawnAsync(cmd, args, { ...opts, stderrInherit: true }, 15 * 60_000);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.signal ? `killed by ${r.signal}` : `exit ${r.code}`}`);
}

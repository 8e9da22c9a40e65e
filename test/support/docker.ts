/**
 * Small, bounded wrappers over the docker CLI for tests: every call has a timeout, output is
 * captured as bytes (stdout must be compared byte for byte), and containers a test names are
 * removed in its finally.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { docker as engine, removeTag } from "../../src/edge/engine.js";

export interface RunResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs `docker <args>`, feeding `input` on stdin (then closing it). */
export function docker(args: string[], opts: { input?: Buffer | string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn("docker", args, { stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    let err = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`docker ${args.join(" ")} timed out after ${opts.timeoutMs ?? 60_000} ms; stderr: ${err}`));
    }, opts.timeoutMs ?? 60_000);
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr: err });
    });
    child.stdin.on("error", () => {});
    child.stdin.end(opts.input ?? "");
  });
}

export function uniqueName(prefix = "mcp-rewrap-test"): string {
  return `${prefix}-${randomBytes(5).toString("hex")}`;
}

export function dockerSync(args: string[]): string {
  return execFileSync("docker", args, { encoding: "utf8", timeout: 60_000 }).trim();
}

/** A container's stdout and stderr so far, as text. */
export function dockerLogs(name: string): string {
  const r = spawnSync("docker", ["logs", name], { encoding: "utf8", timeout: 30_000 });
  return `${r.stdout ?? ""}${r.stderr ?? ""}`;
}

export function removeContainers(...names: string[]): void {
  for (const n of names) {
    try {
      execFileSync("docker", ["rm", "-f", n], { stdio: "ignore", timeout: 30_000 });
    } catch {
      /* already gone */
    }
  }
}

/** Whether the engine has this image (a tag or an ID). */
export function imageExists(ref: string): boolean {
  return spawnSync("docker", ["image", "inspect", ref], { stdio: "ignore", timeout: 30_000 }).status === 0;
}

/** The engine's ID of an image (`sha256:…`). */
export function imageId(ref: string): string {
  return dockerSync(["image", "inspect", "-f", "{{.Id}}", ref]);
}

/** `docker build -q -t TAG -` with this Dockerfile on stdin (no context): a small image FROM the test bed's. */
export function buildFromStdin(tag: string, dockerfile: string): void {
  execFileSync("docker", ["build", "-q", "-t", tag, "-"], { input: dockerfile, timeout: 120_000, stdio: ["pipe", "pipe", "pipe"] });
}

/** `docker build -q -t TAG DIR`, DIR a temporary context of this Dockerfile and these files (removed after). */
export function buildWithFiles(tag: string, dockerfile: string, files: Record<string, string>): void {
  const dir = mkdtempSync(join(tmpdir(), "mcp-rewrap-ctx-"));
  try {
    writeFileSync(join(dir, "Dockerfile"), dockerfile);
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    execFileSync("docker", ["build", "-q", "-t", tag, dir], { timeout: 120_000, stdio: ["ignore", "pipe", "pipe"] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Removes images a test made (tags or IDs; one that is not there is skipped), with the build-step
 * images only they were built on: mcp-rewrap's own removeTag, forced like `docker rmi -f`.
 * `docker rmi` left step images behind for good on the containerd store (Docker 28.5) when two
 * builds share cached steps. What removeTag has to keep (a build in another test file may have
 * just put an image on a step) is not an error here; a step truly left behind is what
 * scripts/test-engines.sh reports after the run.
 */
export async function removeImages(...refs: string[]): Promise<void> {
  const d = await engine();
  for (const ref of refs) await removeTag(d, ref, { force: true });
}

/** Fields of /proc/<pid>/status on the host (we run as root next to the engine). */
export function procStatus(hostPid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(`/proc/${hostPid}/status`, "utf8").split("\n")) {
    const i = line.indexOf(":");
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

export function procEnviron(hostPid: number): Record<string, string> {
  const env: Record<string, string> = {};
  for (const kv of readFileSync(`/proc/${hostPid}/environ`, "utf8").split("\0")) {
    const i = kv.indexOf("=");
    if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return env;
}

/** Host PIDs of a running container's processes with their command lines (`docker top`). */
export function containerProcesses(name: string): { pid: number; ppid: number; cmd: string }[] {
  const text = dockerSync(["top", name, "-o", "pid,ppid,args"]);
  return text
    .split("\n")
    .slice(1)
    .map((l) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => !!m)
    .map((m) => ({ pid: Number(m[1]), ppid: Number(m[2]), cmd: m[3]! }));
}

export async function waitFor<T>(what: string, fn: () => T | undefined | null, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = fn();
      if (v) return v;
    } catch {
      /* not yet */
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

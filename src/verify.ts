/**
 * `verify`: run an image exactly as the gateway does, with a synthetic config mounted the
 * gateway's way, and judge from the server's own context (its user, its env, through the
 * entrypoint chain) whether the config is readable where the server will look.
 *
 * Pure: probeScript, parseProbe, judge, formatting. Edge: runVerify (docker CLI, as the
 * gateway itself uses it; temp files removed in finally).
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RuntimeError, UsageError } from "./errors.js";
import { gatewayRunArgs } from "./gateway.js";
import { LABEL, SHIM_PATH } from "./plan.js";

/** Where tools look for a config mounted at a path below /root, by variable (a file, or a directory). */
const ENV_FOR: { rel: string; env: string }[] = [
  { rel: ".kube/config", env: "KUBECONFIG" },
  { rel: ".aws/credentials", env: "AWS_SHARED_CREDENTIALS_FILE" },
  { rel: ".aws/config", env: "AWS_CONFIG_FILE" },
  { rel: ".config/gcloud", env: "CLOUDSDK_CONFIG" },
  { rel: ".docker", env: "DOCKER_CONFIG" },
];

/**
 * The variable that relocates `target` (below /root), and what to append to its value: a
 * target inside a directory variable's location keeps its remainder (`/root/.docker/config.json`
 * is `$DOCKER_CONFIG/config.json`); a target that is, or contains, a file variable's location
 * is the variable's value itself.
 */
export function envLook(target: string): { env: string; suffix: string } | null {
  if (!target.startsWith("/root/")) return null;
  const rel = target.slice("/root/".length);
  for (const e of ENV_FOR) {
    if (rel === e.rel || e.rel.startsWith(`${rel}/`)) return { env: e.env, suffix: "" };
    if (rel.startsWith(`${e.rel}/`)) return { env: e.env, suffix: rel.slice(e.rel.length) };
  }
  return null;
}

export interface MountSpec {
  /** Host file; when absent a synthetic one (mode 0600, another uid) is made. */
  host?: string;
  target: string;
}

export const DEFAULT_VERIFY_MOUNTS: MountSpec[] = [{ target: "/root/.kube/config" }];

export function parseMountSpec(spec: string): MountSpec {
  const i = spec.lastIndexOf(":");
  const m = i > 0 ? { host: spec.slice(0, i), target: spec.slice(i + 1) } : { target: spec };
  if (!m.target.startsWith("/") || m.target.includes("..")) {
    throw new UsageError(`--mount ${JSON.stringify(spec)}: give TARGET or HOST:TARGET with an absolute TARGET`);
  }
  return m;
}

export interface ProbeResult {
  uid: number | null;
  gid: number | null;
  home: string;
  env: Record<string, string>;
  checks: { label: string; state: "match" | "readable" | "unreadable" | "missing" | "blocked"; path: string }[];
  rootDir: string | null;
}

/** A POSIX sh script printing what the server's process can see; one fact per line. */
export function probeScript(targets: string[], marker: string): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const envNames = ENV_FOR.map((e) => e.env).concat("KUBECONFIG_PATH");
  return [
    "echo MCP_REWRAP_PROBE_BEGIN",
    "while read -r k a b _; do case $k in Uid:) echo \"uid $b\";; Gid:) echo \"gid $b\";; esac; done </proc/self/status",
    'echo "home ${HOME-}"',
    ...envNames.map((n) => `[ -n "\${${n}+x}" ] && echo "env ${n}=\${${n}}"`),
    `check() { if [ -f "$2" ] && [ -r "$2" ]; then if grep -q ${q(marker)} "$2" 2>/dev/null; then s=match; else s=readable; fi; elif [ -e "$2" ]; then s=unreadable; else d=\${2%/*}; while [ -n "$d" ] && ! [ -e "$d" ]; do d=\${d%/*}; done; if [ -z "$d" ] || [ -x "$d" ]; then s=missing; else s=blocked; fi; fi; echo "check $1 $s $2"; }`,
    ...targets.map((t) => `check target ${q(t)}`),
    'if [ -n "${KUBECONFIG-}" ]; then rest=$KUBECONFIG; while :; do check kubeconfig "${rest%%:*}"; case $rest in *:*) rest=${rest#*:};; *) break;; esac; done; fi',
    '[ -n "${KUBECONFIG_PATH-}" ] && check kubeconfig_path "$KUBECONFIG_PATH"',
    ...targets
      .map((t) => envLook(t))
      .filter((l): l is { env: string; suffix: string } => !!l && l.env !== "KUBECONFIG")
      .map((l) => `[ -n "\${${l.env}-}" ] && check ${l.env} "\$${l.env}"${q(l.suffix)}`),
    ...targets.filter((t) => t.startsWith("/root/")).map((t) => `check home "$HOME/${t.slice("/root/".length).replace(/"/g, '\\"')}"`),
    'echo "rootdir $(ls -ldn /root 2>/dev/null | cut -d" " -f1,3,4)"',
    "echo MCP_REWRAP_PROBE_END",
  ].join("\n");
}

export function parseProbe(stdout: string): ProbeResult | null {
  const begin = stdout.indexOf("MCP_REWRAP_PROBE_BEGIN");
  const end = stdout.indexOf("MCP_REWRAP_PROBE_END");
  if (begin < 0 || end < begin) return null;
  const r: ProbeResult = { uid: null, gid: null, home: "", env: {}, checks: [], rootDir: null };
  for (const line of stdout.slice(begin, end).split("\n").slice(1)) {
    const sp = line.indexOf(" ");
    const key = sp < 0 ? line : line.slice(0, sp);
    const rest = sp < 0 ? "" : line.slice(sp + 1);
    if (key === "uid") r.uid = Number(rest);
    else if (key === "gid") r.gid = Number(rest);
    else if (key === "home") r.home = rest;
    else if (key === "env") {
      const eq = rest.indexOf("=");
      r.env[rest.slice(0, eq)] = rest.slice(eq + 1);
    } else if (key === "check") {
      const m = /^(\S+) (\S+) (.*)$/.exec(rest);
      if (m) r.checks.push({ label: m[1]!, state: m[2] as ProbeResult["checks"][number]["state"], path: m[3]! });
    } else if (key === "rootdir") r.rootDir = rest.trim() || null;
  }
  return r;
}

export interface TargetVerdict {
  target: string;
  ok: boolean;
  /** The path the server reads for this target (first that exists among where it looks). */
  looksAt: string[];
  reason: string;
}

export interface Verdict {
  image: string;
  ok: boolean;
  uid: number | null;
  gid: number | null;
  home: string;
  rewrapped: boolean;
  targets: TargetVerdict[];
  /** Set when the probe could not run at all. */
  error?: string;
  mcp?: { ok: boolean; tools?: number; server?: string; error?: string };
}

/** Where the server looks for the config mounted at `target`, in its order. */
function whereServerLooks(target: string, p: ProbeResult): { label: string; path: string }[] {
  const underRoot = target.startsWith("/root/") ? target.slice("/root/".length) : null;
  const look = envLook(target);
  const isKube = /(^|\/)\.kube(\/|$)/.test(target);
  const out: { label: string; path: string }[] = [];
  if (isKube) {
    if (p.env.KUBECONFIG_PATH) out.push({ label: "kubeconfig_path", path: p.env.KUBECONFIG_PATH });
    else if (p.env.KUBECONFIG) for (const k of p.env.KUBECONFIG.split(":")) out.push({ label: "kubeconfig", path: k });
  } else if (look && p.env[look.env]) out.push({ label: look.env, path: `${p.env[look.env]}${look.suffix}` });
  if (!out.length) {
    if (underRoot !== null) out.push({ label: "home", path: `${p.home.replace(/\/$/, "")}/${underRoot}` });
    else out.push({ label: "target", path: target });
  }
  return out;
}

export function judge(image: string, rewrapped: boolean, targets: MountSpec[], p: ProbeResult): Verdict {
  const verdicts = targets.map((m): TargetVerdict => {
    const looks = whereServerLooks(m.target, p);
    const state = (path: string) => p.checks.find((c) => c.path === path)?.state ?? (path === m.target ? undefined : "missing");
    const targetState = p.checks.find((c) => c.label === "target" && c.path === m.target)?.state;
    const wanted = m.host ? ["match", "readable"] : ["match"];
    const first = looks.find((l) => state(l.path) !== "missing" && state(l.path) !== "blocked") ?? looks[0]!;
    const s = state(first.path) ?? "missing";
    const who = `uid ${p.uid ?? "?"}${p.home ? `, HOME=${p.home}` : ""}`;
    if (wanted.includes(s)) {
      return { target: m.target, ok: true, looksAt: looks.map((l) => l.path), reason: `the server (${who}) reads it at ${first.path}` };
    }
    const parts = [`the server (${who}) looks at ${looks.map((l) => l.path).join(", ")}: ${s === "readable" ? "readable, but it is not the mounted file" : s}`];
    if (targetState === "blocked" || targetState === "unreadable" || targetState === "missing") {
      const rootNote = m.target.startsWith("/root/") && p.rootDir ? ` (/root is ${p.rootDir.split(" ")[0]} owned by uid ${p.rootDir.split(" ")[1] ?? "?"})` : "";
      parts.push(`the mount at ${m.target} is ${targetState === "blocked" ? "unreachable: permission denied on a parent directory" : targetState === "unreadable" ? "not readable: permission denied" : "missing"}${rootNote}`);
    }
    if (/\.kube/.test(m.target)) parts.push("mcp-server-kubernetes then silently falls back to a default cluster");
    parts.push(rewrapped ? "rebuild with the current mcp-rewrap, or check the shim's stderr" : `fix: mcp-rewrap build ${image}`);
    return { target: m.target, ok: false, looksAt: looks.map((l) => l.path), reason: parts.join("; ") };
  });
  return { image, ok: verdicts.every((v) => v.ok), uid: p.uid, gid: p.gid, home: p.home, rewrapped, targets: verdicts };
}

export function formatVerdict(v: Verdict): string {
  const lines = [`${v.ok ? "PASS" : "FAIL"}  ${v.image}${v.rewrapped ? " (rewrapped)" : ""}`];
  if (v.error) lines.push(`  ${v.error}`);
  else lines.push(`  runs as uid ${v.uid ?? "?"} gid ${v.gid ?? "?"}, HOME=${v.home || "(unset)"}`);
  for (const t of v.targets) lines.push(`  ${t.ok ? "ok  " : "FAIL"} ${t.target}: ${t.reason}`);
  if (v.mcp) lines.push(`  mcp  ${v.mcp.ok ? `initialize + tools/list: ${v.mcp.tools} tools from ${v.mcp.server}` : `FAIL: ${v.mcp.error}`}`);
  return `${lines.join("\n")}\n`;
}

export function formatSideBySide(a: Verdict, b: Verdict): string {
  const rows: [string, string, string][] = [
    ["", a.image, b.image],
    ["verdict", a.ok ? "PASS" : "FAIL", b.ok ? "PASS" : "FAIL"],
    ["user", `uid ${a.uid ?? "?"} gid ${a.gid ?? "?"}`, `uid ${b.uid ?? "?"} gid ${b.gid ?? "?"}`],
    ["HOME", a.home || "-", b.home || "-"],
  ];
  for (let i = 0; i < Math.max(a.targets.length, b.targets.length); i++) {
    const ta = a.targets[i];
    const tb = b.targets[i];
    const target = ta?.target ?? tb?.target ?? "";
    rows.push([target, ta ? (ta.ok ? `ok: ${ta.looksAt[0]}` : `FAIL: ${ta.looksAt[0]}`) : "-", tb ? (tb.ok ? `ok: ${tb.looksAt[0]}` : `FAIL: ${tb.looksAt[0]}`) : "-"]);
  }
  if (a.mcp || b.mcp) {
    const m = (v: Verdict) => (v.mcp ? (v.mcp.ok ? `${v.mcp.tools} tools` : "FAIL") : "-");
    rows.push(["mcp", m(a), m(b)]);
  }
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  const table = rows.map((r) => `${r[0].padEnd(w0)}  ${r[1].padEnd(w1)}  ${r[2]}`).join("\n");
  const details = [a, b].filter((v) => !v.ok).map(formatVerdict).join("");
  return `${table}\n${details ? `\n${details}` : ""}`;
}

// ---------------------------------------------------------------------------------------
// The edge: docker CLI, exactly as the gateway runs it.

export interface ImageConfigLite {
  entrypoint: string[] | null;
  labels: Record<string, string>;
  uid: number;
}

function runDocker(args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
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

/** A script entrypoint (…sh, …entrypoint…) is kept in the chain; a program one (node, python) cannot run a probe. */
export function keepsEntrypoint(entrypoint: string[] | null): boolean {
  const first = entrypoint?.[0] ?? "";
  return /\.sh$|entrypoint/i.test(first.split("/").pop() ?? "");
}

/** The argv after the image for the probe, and the --entrypoint to use. */
export function probeCommand(cfg: ImageConfigLite, script: string): { entrypoint: string; args: string[] } {
  const ep = cfg.entrypoint ?? [];
  const rewrapped = ep[0] === SHIM_PATH && !!cfg.labels[LABEL.version];
  const original = rewrapped ? ep.slice(1) : ep;
  const chain = keepsEntrypoint(original) ? original : [];
  if (rewrapped) return { entrypoint: SHIM_PATH, args: [...chain, "sh", "-c", script] };
  if (chain.length) return { entrypoint: chain[0]!, args: [...chain.slice(1), "sh", "-c", script] };
  return { entrypoint: "sh", args: ["-c", script] };
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
    const isKube = /\.kube/.test(m.target);
    writeFileSync(
      file,
      isKube
        ? `# ${marker}\napiVersion: v1\nkind: Config\nclusters:\n- name: verify\n  cluster:\n    server: https://127.0.0.1:6443\n    insecure-skip-tls-verify: true\ncontexts:\n- name: verify\n  context:\n    cluster: verify\n    user: verify\ncurrent-context: verify\nusers:\n- name: verify\n  user:\n    token: ${marker}\n`
        : `# ${marker}\n`,
      { mode: 0o600 },
    );
    try {
      chownSync(file, owner, owner);
    } catch {
      /* not root: the file stays ours, which is still another uid than the image's */
    }
    const target = m.target.endsWith("/.kube") ? `${m.target}/config` : m.target;
    return { host: file, target };
  });
  return { dir, mounts: out };
}

export async function runVerify(image: string, cfg: ImageConfigLite, opts: VerifyOptions): Promise<Verdict> {
  const marker = `mcp-rewrap-verify-${randomBytes(8).toString("hex")}`;
  const syn = syntheticFiles(opts.mounts, cfg.uid, marker);
  const rewrapped = cfg.entrypoint?.[0] === SHIM_PATH && !!cfg.labels[LABEL.version];
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
  const { Client } = await import("@modelcontextprotocol/sdk/client/index.js");
  const { StdioClientTransport } = await import("@modelcontextprotocol/sdk/client/stdio.js");
  const name = `mcp-rewrap-verify-${randomBytes(5).toString("hex")}`;
  const args = gatewayRunArgs({ name: opts.name ?? "verify", image, network: "none", volumes: mounts.map((m) => `${m.host}:${m.target}:ro`) });
  const transport = new StdioClientTransport({ command: "docker", args: ["run", "--name", name, ...args.slice(1)], stderr: "pipe" });
  let stderr = "";
  transport.stderr?.on("data", (c: Buffer) => (stderr += c.toString()));
  const client = new Client({ name: "mcp-rewrap-verify", version: "1" });
  let timer: NodeJS.Timeout | undefined;
  try {
    const work = (async () => {
      await client.connect(transport);
      const tools = await client.listTools();
      const info = client.getServerVersion();
      return { ok: true, tools: tools.tools.length, server: `${info?.name ?? "?"} ${info?.version ?? ""}`.trim() };
    })();
    const deadline = new Promise<never>((_, rej) => {
      timer = setTimeout(() => rej(new Error(`no answer within ${opts.timeoutMs ?? 60_000} ms`)), opts.timeoutMs ?? 60_000);
    });
    return await Promise.race([work, deadline]);
  } catch (e) {
    const tail = stderr.trim().split("\n").slice(-2).join(" | ");
    return { ok: false, error: `${(e as Error).message}${tail ? ` (stderr: ${tail})` : ""}` };
  } finally {
    clearTimeout(timer);
    await client.close().catch(() => {});
    await runDocker(["rm", "-f", name], 30_000).catch(() => {});
  }
}

/**
 * Pure, the judging half of `verify` (edge/docker-run.ts runs the image): a probe script that
 * prints what the server's process sees (its user, its env, through the entrypoint chain), its
 * parser, and the verdict: is the mounted config readable where the server will look? Where
 * it looks comes from the table, core/config-paths.ts.
 */
import { CONFIG_PATHS, type ConfigPath, configPathOf } from "./config-paths.js";
import { UsageError } from "./errors.js";
import { LABEL } from "./labels.js";
import { SHIM_PATH, isRewrapped } from "./plan.js";
import { shellQuote as q } from "./render.js";

/** Where tools look for a config mounted at a path below /root, by variable (a file, or a directory). */
const ENV_FOR = CONFIG_PATHS.flatMap((p) => p.vars.map((v) => ({ rel: v.sub === "." ? p.rel : `${p.rel}/${v.sub}`, env: v.name, list: !!v.list })));

/** The table row a target below /root falls in. */
export const rowOf = (target: string): ConfigPath | null => configPathOf("/root", target);

/** The table row of a target below /root or below any home (/home/appuser/.kube/config: .kube). */
export const rowAnywhere = (target: string): ConfigPath | null =>
  rowOf(target) ?? CONFIG_PATHS.find((p) => target.endsWith(`/${p.rel}`) || target.includes(`/${p.rel}/`)) ?? null;

/** The home a target is below: /root, or the server's own home (where the catalog mounts today). */
export function homeOf(target: string, home?: string): string | null {
  if (target.startsWith("/root/")) return "/root";
  const h = home?.replace(/\/+$/, "");
  return h && h !== "/root" && target.startsWith(`${h}/`) ? h : null;
}

/**
 * The variable that relocates `target` (below /root, or below the server's `home`), and what to
 * append to its value: a target inside a directory variable's location keeps its remainder
 * (`/root/.docker/config.json` is `$DOCKER_CONFIG/config.json`); a target that is, or contains,
 * a file variable's location is the variable's value itself.
 */
export function envLook(target: string, home?: string): { env: string; suffix: string } | null {
  const base = homeOf(target, home);
  if (!base) return null;
  const rel = target.slice(base.length + 1);
  for (const e of ENV_FOR) {
    if (rel === e.rel || e.rel.startsWith(`${rel}/`)) return { env: e.env, suffix: "" };
    if (rel.startsWith(`${e.rel}/`)) return { env: e.env, suffix: rel.slice(e.rel.length) };
  }
  // Elsewhere in a row with one variable (/root/.kube/other): the server still reads that variable.
  const row = configPathOf(base, target);
  return row?.vars.length === 1 ? { env: row.vars[0]!.name, suffix: "" } : null;
}

const isList = (env: string) => ENV_FOR.some((e) => e.env === env && e.list);

/** The path verify mounts a synthetic file at for `target`: a config directory gets its probe file. */
export function syntheticTarget(target: string): string {
  const row = rowOf(target);
  return row && target.replace(/\/+$/, "") === `/root/${row.rel}` && row.probe !== "." ? `${target.replace(/\/+$/, "")}/${row.probe}` : target;
}

/** What verify writes into the synthetic file for `target` (with `marker` in it). */
export function syntheticContent(target: string, marker: string): string {
  if (rowAnywhere(target)?.sample === "kubeconfig") {
    return `# ${marker}\napiVersion: v1\nkind: Config\nclusters:\n- name: verify\n  cluster:\n    server: https://127.0.0.1:6443\n    insecure-skip-tls-verify: true\ncontexts:\n- name: verify\n  context:\n    cluster: verify\n    user: verify\ncurrent-context: verify\nusers:\n- name: verify\n  user:\n    token: ${marker}\n`;
  }
  return `# ${marker}\n`;
}

export interface MountSpec {
  /** Host file; when absent a synthetic one (mode 0600, another uid) is made. */
  host?: string;
  target: string;
}

/** Without --mount: the table's kubeconfig (the config whose loss is silent). */
export const DEFAULT_VERIFY_MOUNTS: MountSpec[] = CONFIG_PATHS.filter((p) => p.sample === "kubeconfig").map((p) => ({ target: `/root/${p.rel}/${p.probe}` }));

/** The longest timeout a timer can hold (2^31-1 ms, about 24.8 days), in seconds. */
export const MAX_TIMEOUT_S = Math.floor((2 ** 31 - 1) / 1000);

/**
 * `--mount TARGET` or `--mount HOST:TARGET` (HOST absolute: docker would read a bare name as a
 * volume's); `--state TARGET` takes a TARGET only.
 */
export function parseMountSpec(spec: string, option: "--mount" | "--state" = "--mount"): MountSpec {
  const i = spec.lastIndexOf(":");
  const m = i > 0 ? { host: spec.slice(0, i), target: spec.slice(i + 1) } : { target: spec };
  if (option === "--state" && m.host !== undefined) throw new UsageError(`--state ${JSON.stringify(spec)}: give an absolute TARGET (a fresh volume is mounted there)`);
  if (!m.target.startsWith("/") || m.target.includes("..")) {
    throw new UsageError(`${option} ${JSON.stringify(spec)}: give ${option === "--state" ? "an absolute TARGET" : "TARGET or HOST:TARGET with an absolute TARGET"}`);
  }
  if (m.host !== undefined && !m.host.startsWith("/")) {
    throw new UsageError(`--mount ${JSON.stringify(spec)}: HOST must be an absolute path (docker reads ${JSON.stringify(m.host)} as a volume name)`);
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
  const envNames = [...new Set([...ENV_FOR.map((e) => e.env), ...CONFIG_PATHS.flatMap((p) => (p.serverVar ? [p.serverVar] : []))])];
  const looks = targets.flatMap((t) => {
    const row = rowAnywhere(t);
    // A target below a home other than /root (the server's own): its base is what precedes the row.
    const base = row && !t.startsWith("/root/") ? t.slice(0, t.indexOf(`/${row.rel}`)) : undefined;
    const l = envLook(t, base);
    return [...(row?.serverVar ? [{ env: row.serverVar, suffix: "" }] : []), ...(l ? [l] : [])];
  });
  return [
    "echo MCP_REWRAP_PROBE_BEGIN",
    "while read -r k a b _; do case $k in Uid:) echo \"uid $b\";; Gid:) echo \"gid $b\";; esac; done </proc/self/status",
    'echo "home ${HOME-}"',
    ...envNames.map((n) => `[ -n "\${${n}+x}" ] && echo "env ${n}=\${${n}}"`),
    // A directory (a mounted tree: ~/.azure, ~/.kube): readable when it and every file in its first two levels are.
    `dcheck() { for f in "$1"/* "$1"/.[!.]* "$1"/*/* "$1"/.[!.]*/*; do [ -f "$f" ] || continue; [ -r "$f" ] || return 1; done; }`,
    `check() { if [ -d "$2" ]; then if [ -r "$2" ] && [ -x "$2" ] && dcheck "$2"; then s=readable; else s=unreadable; fi; elif [ -f "$2" ] && [ -r "$2" ]; then if grep -q ${q(marker)} "$2" 2>/dev/null; then s=match; else s=readable; fi; elif [ -e "$2" ]; then s=unreadable; else d=\${2%/*}; while [ -n "$d" ] && ! [ -e "$d" ]; do d=\${d%/*}; done; if [ -z "$d" ] || [ -x "$d" ]; then s=missing; else s=blocked; fi; fi; echo "check $1 $s $2"; }`,
    ...targets.map((t) => `check target ${q(t)}`),
    ...looks
      .filter((l, i, all) => all.findIndex((x) => x.env === l.env && x.suffix === l.suffix) === i)
      .map((l) =>
        isList(l.env)
          ? `if [ -n "\${${l.env}-}" ]; then rest=\$${l.env}; while :; do check ${l.env} "\${rest%%:*}"${q(l.suffix)}; case $rest in *:*) rest=\${rest#*:};; *) break;; esac; done; fi`
          : `[ -n "\${${l.env}-}" ] && check ${l.env} "\$${l.env}"${q(l.suffix)}`,
      ),
    ...targets.filter((t) => t.startsWith("/root/")).map((t) => `check home "$HOME"/${q(t.slice("/root/".length))}`),
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
  /** --state: persistence across two runs with a named volume. */
  state?: StateVerdict[];
}

/** Where the server looks for the config mounted at `target`, in its order. */
function whereServerLooks(target: string, p: ProbeResult): { label: string; path: string }[] {
  const underRoot = target.startsWith("/root/") ? target.slice("/root/".length) : null;
  const base = homeOf(target, p.home);
  const look = envLook(target, p.home);
  const serverVar = base ? configPathOf(base, target)?.serverVar : undefined;
  const out: { label: string; path: string }[] = [];
  if (serverVar && p.env[serverVar]) out.push({ label: serverVar, path: p.env[serverVar]! });
  else if (look && p.env[look.env]) {
    const values = isList(look.env) ? p.env[look.env]!.split(":") : [p.env[look.env]!];
    for (const v of values) out.push({ label: look.env, path: `${v}${look.suffix}` });
  }
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
    const whenMissing = rowOf(m.target)?.whenMissing;
    if (whenMissing) parts.push(whenMissing);
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
  for (const s of v.state ?? []) lines.push(`  ${s.ok ? "ok  " : "FAIL"} state ${s.target}: ${s.reason}`);
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
  for (let i = 0; i < Math.max(a.state?.length ?? 0, b.state?.length ?? 0); i++) {
    const sa = a.state?.[i];
    const sb = b.state?.[i];
    rows.push([`state ${sa?.target ?? sb?.target ?? ""}`, sa ? (sa.ok ? "ok" : "FAIL") : "-", sb ? (sb.ok ? "ok" : "FAIL") : "-"]);
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

export interface ImageConfigLite {
  entrypoint: string[] | null;
  labels: Record<string, string>;
  uid: number;
}

export { isRewrapped };

/** A script entrypoint (…sh, …entrypoint…) is kept in the chain; a program one (node, python) cannot run a probe. */
export function keepsEntrypoint(entrypoint: string[] | null): boolean {
  const first = entrypoint?.[0] ?? "";
  return /\.sh$|entrypoint/i.test(first.split("/").pop() ?? "");
}

/** The argv after the image for the probe, and the --entrypoint to use. */
export function probeCommand(cfg: ImageConfigLite, script: string): { entrypoint: string; args: string[] } {
  const ep = cfg.entrypoint ?? [];
  const rewrapped = isRewrapped(cfg);
  const original = rewrapped ? ep.slice(1) : ep;
  const chain = keepsEntrypoint(original) ? original : [];
  if (rewrapped) return { entrypoint: SHIM_PATH, args: [...chain, "sh", "-c", script] };
  if (chain.length) return { entrypoint: chain[0]!, args: [...chain.slice(1), "sh", "-c", script] };
  return { entrypoint: "sh", args: ["-c", script] };
}


// --- --state: does what the server writes under TARGET survive a second run? -----------------

export interface StateVerdict {
  target: string;
  ok: boolean;
  /** Where the server's process wrote and read (its $HOME/REL for a target under /root). */
  path: string;
  reason: string;
}

/**
 * Where the server writes the state the catalog mounts at `target`: a target under /root is the
 * server's $HOME/REL (a non-root server writes there, not into /root); elsewhere the target.
 * As a shell word for the probe.
 */
export function stateDirWord(target: string): string {
  return target.startsWith("/root/") ? `"\${HOME:-/root}"/${q(target.slice("/root/".length))}` : q(target);
}

/** A probe run as the server: "write" leaves `marker` in a file, "read" looks for it and its owner. */
export function stateScript(target: string, marker: string, phase: "write" | "read"): string {
  const d = stateDirWord(target);
  const f = '"$d/.mcp-rewrap-state"';
  return [
    `d=${d}`,
    phase === "write"
      ? `mkdir -p "$d" 2>/dev/null; if printf '%s\\n' '${marker}' > ${f} 2>/dev/null; then echo "state wrote $(id -u) - $d"; else echo "state write-failed $(id -u) - $d"; fi`
      : `if [ -r ${f} ] && grep -q '${marker}' ${f}; then set -- $(ls -ln ${f}); echo "state read $(id -u) $3 $d"; else echo "state missing $(id -u) - $d"; fi`,
  ].join("\n");
}

export interface StateLine {
  kind: "wrote" | "write-failed" | "read" | "missing";
  uid: number;
  owner: number | null;
  path: string;
}

export function parseStateLine(stdout: string): StateLine | null {
  const m = /^state (wrote|write-failed|read|missing) (\d+) (\d+|-) (.*)$/m.exec(stdout);
  if (!m) return null;
  return { kind: m[1] as StateLine["kind"], uid: Number(m[2]), owner: m[3] === "-" ? null : Number(m[3]), path: m[4]! };
}

export function judgeState(target: string, first: StateLine | null, second: StateLine | null, volume: string): StateVerdict {
  const path = second?.path ?? first?.path ?? target;
  const bad = (reason: string): StateVerdict => ({ target, ok: false, path, reason });
  if (!first) return bad("the first run did not report (the image did not run under the gateway's run line)");
  if (first.kind !== "wrote") return bad(`the server (uid ${first.uid}) cannot write ${first.path}: permission denied`);
  if (!second) return bad("the second run did not report");
  if (second.kind !== "read") {
    return bad(
      `what the server (uid ${first.uid}) wrote at ${first.path} in the first run is gone in the second: state would not persist (the volume ${volume} is mounted at ${target}, which ${first.path === target ? "the server does not keep its state in" : "is not where the server writes"})`,
    );
  }
  if (second.owner !== second.uid) return bad(`read back, but owned by uid ${second.owner}, not the server's uid ${second.uid}`);
  return { target, ok: true, path, reason: `written in the first run and read back in the second at ${path}, owned by the server's uid ${second.uid}` };
}

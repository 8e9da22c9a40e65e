/**
 * The differential twin suite (issue 11): for every image of the corpus and every run mode, the
 * original image and its rewrap are started side by side with the same flags, and what the
 * server sees is compared, read by the host from the engine's own processes (/proc/<pid> of the
 * server: uid, gid, groups, CapInh/Prm/Eff/Bnd/Amb, NoNewPrivs, umask, the open-files limit, environment, argv, cwd),
 * plus the bytes it echoes on stdout, its exit code and its answer to SIGTERM. The expected
 * answer is always the original run by the engine, never a re-derivation.
 *
 * Any difference not on the documented list fails. The documented list is data (documented()
 * below); docs/TWIN.md is rendered from it and checked (TWIN_WRITE=1 rewrites it).
 */
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { chownSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PATH_VARS } from "../../src/core/config-paths.js";
import { GATEWAY_FLAGS, gatewayRunArgs } from "../../src/core/gateway.js";
import { ROOT, cliAsync, runAsync } from "../support/bed.js";
import { buildFromStdin, containerProcesses, dockerLogs, dockerSync, procStatus, removeContainers, removeImages, uniqueName, waitFor } from "../support/docker.js";

// --- the corpus ------------------------------------------------------------------------------------

interface Image {
  family: string;
  /** uid:gid the runtime gives the image's USER (for the -u mode). */
  ids: string;
  /** The user's home as mcp-rewrap plans it (where a home mount goes). */
  home: string;
  /** mcp-rewrap picks a home (the image has no usable one): HOME differs, documented. */
  generatedHome: boolean;
  drop: "setpriv" | "su-exec" | "gosu" | "busybox-su";
  command?: string[];
  what: string;
}

export const IMAGES: Image[] = [
  { family: "debian", ids: "1001:1001", home: "/home/appuser", generatedHome: false, drop: "setpriv", what: "Debian, setpriv, the mcp/kubernetes shape" },
  { family: "busybox-su", ids: "1002:1002", home: "/home/mcp", generatedHome: false, drop: "busybox-su", what: "busybox, busybox su" },
  { family: "busybox-gosu", ids: "1003:1003", home: "/srv/app", generatedHome: false, drop: "gosu", what: "busybox + gosu, ENV HOME" },
  { family: "busybox-su-exec", ids: "1004:1004", home: "/home/mcp-rewrap-1004", generatedHome: true, drop: "su-exec", command: ["fixture-server", "serve"], what: "busybox + su-exec, passwd home /nonexistent" },
  { family: "numeric", ids: "4242:4242", home: "/home/mcp-rewrap-4242", generatedHome: true, drop: "setpriv", what: "USER 4242:4242, no passwd entry, ENV KUBECONFIG=/root/.kube/config" },
  { family: "custom-home", ids: "1005:3000", home: "/app", generatedHome: false, drop: "setpriv", what: "home /app, primary group not its own, shell-form ENTRYPOINT" },
  { family: "usergroup", ids: "1001:2001", home: "/home/appuser", generatedHome: false, drop: "setpriv", what: "USER appuser:mcpextra (user:group)" },
  {
    family: "hostile",
    ids: "1001:1001",
    home: "/home/mcp-rewrap-1001",
    generatedHome: true,
    drop: "setpriv",
    what: "malformed passwd line, gid in no group file, ' app' member, user-writable PATH first, HEALTHCHECK",
  },
];

interface Mode {
  name: string;
  what: string;
  /** Flags added to the gateway's run line (for both images). */
  flags: (img: Image, kube: string) => string[];
  /** Drop --init from the gateway's flags. */
  noInit?: boolean;
  /** Send SIGTERM once the server is ready instead of closing stdin. */
  sigterm?: boolean;
  /** The rewrap must read the mounted kubeconfig. */
  readsConfig?: boolean;
}

const ROOT_MOUNT = (kube: string) => ["-v", `${kube}:/root/.kube/config:ro`];
export const MODES: Mode[] = [
  { name: "gateway", what: "the gateway's run line, nothing mounted", flags: () => [] },
  { name: "root-mount", what: "a 0600 kubeconfig of uid 1000 at /root/.kube/config (#284)", flags: (_i, k) => ROOT_MOUNT(k), readsConfig: true },
  { name: "home-mount", what: "the same file at $HOME/.kube/config (#103)", flags: (i, k) => ["-v", `${k}:${i.home}/.kube/config:ro`], readsConfig: true },
  {
    name: "catalog-var",
    what: "a variable naming the file where the catalog mounts it into the home, outside the table (-e KUBECONFIG=$HOME/.config/mcp/kubeconfig; the cloud-run-mcp shape)",
    flags: (i, k) => ["-e", `KUBECONFIG=${i.home}/.config/mcp/kubeconfig`, "-v", `${k}:${i.home}/.config/mcp/kubeconfig:ro`],
    readsConfig: true,
  },
  { name: "group-add", what: "--group-add 7", flags: (_i, k) => [...ROOT_MOUNT(k), "--group-add", "7"], readsConfig: true },
  { name: "user", what: "-u <the image's uid:gid> (the catalog's user:)", flags: (i, k) => [...ROOT_MOUNT(k), "-u", i.ids] },
  { name: "read-only", what: "--read-only", flags: (_i, k) => [...ROOT_MOUNT(k), "--read-only"], readsConfig: true },
  { name: "cap-drop", what: "--cap-drop ALL (ToolHive)", flags: (_i, k) => [...ROOT_MOUNT(k), "--cap-drop", "ALL"] },
  {
    name: "shim-names",
    what: "-e with the shim's own variable names (RW_UID=0, NL, name, PWD, SHLVL...)",
    flags: (_i, k) => [...ROOT_MOUNT(k), "-e", "RW_UID=0", "-e", "RW_DROP=none", "-e", "NL=x", "-e", "name=n", "-e", "path=p", "-e", "PWD=/x", "-e", "SHLVL=5", "-e", "COPIED=1"],
    readsConfig: true,
  },
  {
    name: "limits-env",
    what: "a soft open-files limit under the hard one (--ulimit nofile=1000:2000; many hosts give 1024:524288) and -e PPID=77 -e OPTIND=9 (a shell resets both)",
    flags: (_i, k) => [...ROOT_MOUNT(k), "--ulimit", "nofile=1000:2000", "-e", "PPID=77", "-e", "OPTIND=9"],
    readsConfig: true,
  },
  { name: "no-init", what: "no --init (the shim is PID 1), SIGTERM once ready", flags: (_i, k) => ROOT_MOUNT(k), noInit: true, sigterm: true, readsConfig: true },
];

/** What may differ, and why: the documented list. Empty: the twin must be identical. */
export function documented(img: Image, mode: Mode): { refused?: string; differ: string[] } {
  if (mode.name === "cap-drop") return { refused: "no CAP_SETUID/CAP_SETGID: the shim refuses to run the server as root (one line, exit 126)", differ: [] };
  const differ: string[] = [];
  if (mode.name === "user") return { differ };
  if (img.generatedHome) differ.push("HOME");
  // Every mode that mounts the kubeconfig: where the table has it (under /root or over the home),
  // root's copy in /dev (rw_copy_dev), which numeric's own ENV KUBECONFIG=/root/.kube/config names
  // too; elsewhere (catalog-var), the user's copy in /tmp.
  if (mode.readsConfig) differ.push("KUBECONFIG");
  if (mode.name === "group-add" && img.drop !== "setpriv") differ.push("groups");
  return { differ: [...new Set(differ)] };
}

// --- running one side ------------------------------------------------------------------------------

interface Seen {
  ready: boolean;
  status: Record<string, string>;
  /** The "Max open files" line of /proc/<pid>/limits (soft, hard). */
  nofile: string;
  env: Record<string, string>;
  argv: string[];
  cwd: string;
  stdout: string;
  code: number | null;
  stderr: string;
}

const STATUS_KEYS = ["Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Umask"];
const INPUT = Buffer.from('{"jsonrpc":"2.0","id":1,"method":"ping"}\n\u0000\u00ff binary\r\n', "latin1");

function runArgs(image: string, img: Image, mode: Mode, name: string, kube: string): string[] {
  const args = gatewayRunArgs({ name: `twin-${img.family}`, image, extraFlags: ["--name", name, "--hostname", "twin", ...mode.flags(img, kube)], ...(img.command ? { command: img.command } : {}) });
  return mode.noInit ? args.filter((a, i) => !(a === "--init" && i <= GATEWAY_FLAGS.length)) : args;
}

/** The server's own process: the fixture-server script (not its cat child), found with docker top. */
function serverPid(name: string): number | null {
  const procs = containerProcesses(name);
  const server = procs.find((p) => / \/usr\/local\/bin\/fixture-server( |$)/.test(p.cmd) && !procs.some((q) => q.pid === p.ppid && / \/usr\/local\/bin\/fixture-server( |$)/.test(q.cmd)));
  return server?.pid ?? null;
}

async function observe(image: string, img: Image, mode: Mode, kube: string): Promise<Seen> {
  const name = uniqueName("mcp-rewrap-twin");
  const child: ChildProcessWithoutNullStreams = spawn("docker", runArgs(image, img, mode, name, kube), { stdio: ["pipe", "pipe", "pipe"] });
  const out: Buffer[] = [];
  let err = "";
  let exited: number | null | undefined;
  child.stdout.on("data", (c: Buffer) => out.push(c));
  child.stderr.on("data", (c: Buffer) => (err += c.toString()));
  child.stdin.on("error", () => {});
  const closed = new Promise<number | null>((resolve) => child.on("close", (code) => resolve((exited = code))));
  const seen: Seen = { ready: false, status: {}, nofile: "", env: {}, argv: [], cwd: "", stdout: "", code: null, stderr: "" };
  try {
    await waitFor(`${name} ready or gone`, () => err.includes("fixture-server: ready") || exited !== undefined, 30_000);
    if (exited === undefined) {
      seen.ready = true;
      const pid = await waitFor(`${name}'s server process`, () => serverPid(name), 10_000);
      const st = procStatus(pid);
      for (const k of STATUS_KEYS) seen.status[k] = (st[k] ?? "").replace(/\s+/g, " ");
      seen.nofile = (/^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync(`/proc/${pid}/limits`, "utf8")) ?? []).slice(1).join(" ");
      for (const kv of readFileSync(`/proc/${pid}/environ`, "latin1").split("\0")) {
        const i = kv.indexOf("=");
        if (i > 0) seen.env[kv.slice(0, i)] = kv.slice(i + 1);
      }
      seen.argv = readFileSync(`/proc/${pid}/cmdline`, "latin1").split("\0").slice(0, -1);
      seen.cwd = readlinkSync(`/proc/${pid}/cwd`);
      if (mode.sigterm) {
        dockerSync(["kill", "-s", "TERM", name]);
      } else {
        child.stdin.end(INPUT);
      }
    } else {
      child.stdin.end();
    }
    // A server that ignores SIGTERM (PID 1 a shell, as the original too) is still running: that is its answer.
    const ended = await Promise.race([closed.then((c) => ({ c })), new Promise<null>((r) => setTimeout(() => r(null), mode.sigterm ? 5_000 : 20_000))]);
    if (!ended && !mode.sigterm) throw new Error(`${name} did not end after its stdin closed`);
    seen.code = ended ? ended.c : -1;
    seen.stdout = Buffer.concat(out).toString("latin1");
    seen.stderr = err;
    return seen;
  } finally {
    child.kill("SIGKILL");
    removeContainers(name);
  }
}

/** What the twin compares, as flat strings: a difference is a key whose values differ. */
function facets(s: Seen): Record<string, string> {
  const f: Record<string, string> = {
    ready: String(s.ready),
    code: s.code === -1 ? "still running" : String(s.code),
    stdout: Buffer.from(s.stdout, "latin1").toString("hex"),
    argv: JSON.stringify(s.argv),
    cwd: s.cwd,
    sigterm: String(s.stderr.includes("fixture-server: got SIGTERM")),
    nofile: s.nofile,
  };
  for (const k of STATUS_KEYS) f[k === "Groups" ? "groups" : k] = s.status[k] ?? "";
  // Groups as a set: Docker 28 (runc 1.3) lists the primary gid twice for some users
  // ("1003 1003 2001"); the kernel checks membership, so a repeated gid grants nothing more.
  f.groups = [...new Set((s.status.Groups ?? "").split(/\s+/).filter(Boolean))].sort((x, y) => Number(x) - Number(y)).join(" ");
  for (const [k, v] of Object.entries(s.env)) f[`env ${k}`] = v;
  return f;
}

function differences(a: Record<string, string>, b: Record<string, string>): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => a[k] !== b[k]).sort();
}

// --- the suite -------------------------------------------------------------------------------------

const RUN_ID = randomBytes(4).toString("hex");
const rewrapTag = (f: string) => `mcp-rewrap-test/twin-${f}:${RUN_ID}`;
const work = mkdtempSync(join(tmpdir(), "mcp-rewrap-twin-"));
const kube = join(work, "kubeconfig");
const KUBE_TEXT = `apiVersion: v1\nkind: Config\n# twin ${RUN_ID}\n`;
const KUBE_MD5 = createHash("md5").update(KUBE_TEXT).digest("hex");

beforeAll(async () => {
  await runAsync("bash", [join(ROOT, "test/bed/families.sh"), ...IMAGES.map((i) => i.family)], { timeoutMs: 600_000 });
  writeFileSync(kube, KUBE_TEXT, { mode: 0o600 });
  chownSync(kube, 1000, 1000);
  for (const img of IMAGES) {
    const r = await cliAsync(["build", `mcp-rewrap-test/family-${img.family}:latest`, "-t", rewrapTag(img.family), "-o", join(work, img.family), "-q"]);
    if (r.code !== 0) throw new Error(`rewrapping ${img.family} failed: ${r.stderr}`);
  }
}, 900_000);

afterAll(async () => {
  await removeImages(...IMAGES.map((img) => rewrapTag(img.family)));
  rmSync(work, { recursive: true, force: true });
});

describe.each(IMAGES)("twin: $family", (img) => {
  it.each(MODES)(`${img.family} × $name`, async (mode) => {
    const [orig, rew] = await Promise.all([observe(`mcp-rewrap-test/family-${img.family}:latest`, img, mode, kube), observe(rewrapTag(img.family), img, mode, kube)]);
    const doc = documented(img, mode);
    const shimLines = rew.stderr.split("\n").filter((l) => l.startsWith("mcp-rewrap:"));
    expect(rew.stderr, "no secret on stderr").not.toContain("kind: Config");
    if (doc.refused) {
      expect(orig.ready, orig.stderr).toBe(true);
      expect(rew.ready, rew.stderr).toBe(false);
      expect(rew.code).toBe(126);
      expect(shimLines, rew.stderr).toHaveLength(1);
      expect(rew.stdout).toBe("");
      return;
    }
    expect(orig.ready, `original: ${orig.stderr}`).toBe(true);
    expect(rew.ready, `rewrap: ${rew.stderr}`).toBe(true);
    const diff = differences(facets(orig), facets(rew)).map((k) => k.replace(/^env /, ""));
    expect(diff, `original vs rewrap differ in more than the documented ${JSON.stringify(doc.differ)}; rewrap stderr: ${rew.stderr}`).toEqual([...doc.differ].sort());
    for (const v of doc.differ.filter((d) => d !== "HOME" && d !== "groups")) {
      expect(PATH_VARS, `${v} is a variable of the config table`).toContain(v);
      expect(rew.env[v], `${v} points at a copy`).toMatch(/^(\/dev\/mcp-rewrap-|\/tmp\/mcp-rewrap-|\/dev\/shm\/mcp-rewrap-|\/home\/mcp-rewrap-)/);
    }
    // HOME: the home mcp-rewrap picks, or (when it could not be made) the private directory of the copies.
    if (doc.differ.includes("HOME")) expect([img.home, `/dev/shm/mcp-rewrap-${img.ids.split(":")[0]}`, `/tmp/mcp-rewrap-${img.ids.split(":")[0]}`]).toContain(rew.env.HOME);
    // The kubeconfig mounted where the table has it (under /root, or over the home): root's copy in
    // /dev, whatever the image (numeric's ENV) or the caller set.
    const mounted = mode.flags(img, kube);
    if (mode.readsConfig && (mounted.includes(`${kube}:/root/.kube/config:ro`) || mounted.includes(`${kube}:${img.home}/.kube/config:ro`))) expect(rew.env.KUBECONFIG).toBe("/dev/mcp-rewrap-kube-config");
    if (mode.readsConfig) expect(rew.stderr, "the rewrap reads the mounted kubeconfig").toContain(`"md5":"${KUBE_MD5}"`);
    if (mode.sigterm) expect(rew.stderr.includes("fixture-server: got SIGTERM"), "SIGTERM answered as by the original").toBe(orig.stderr.includes("fixture-server: got SIGTERM"));
  }, 90_000);
});

// The hostile runs of issue 11 (a planted PATH, HEALTHCHECK, baked /root files, a FIFO under -u,
// SIGTERM during a 10,000-file copy, $HOME's mode) are test/e2e/findings.test.ts, one per finding.

describe("writable state under /root (issue 12, item 5)", () => {
  const seeState = async (volume: string, write: string) => {
    const name = uniqueName("mcp-rewrap-twin-state");
    try {
      dockerSync(["run", "-d", "-i", "--init", "--name", name, "--network", "none", "-v", `${volume}:/root/.local/share/python_keyring`, rewrapTag("debian")]);
      await waitFor("the server", () => dockerLogs(name).includes("fixture-server: ready"), 20_000);
      const dir = "/home/appuser/.local/share/python_keyring";
      const before = dockerSync(["exec", "-u", "1001", name, "/bin/sh", "-c", `/bin/cat ${dir}/token 2>/dev/null; printf '%s' '${write}' >>${dir}/token && /usr/bin/stat -c '%u' ${dir}/token`]);
      const rootClosed = spawnSyncOk(["exec", "-u", "1001", name, "/bin/ls", "/root"]);
      return { before, rootClosed, logs: dockerLogs(name) };
    } finally {
      removeContainers(name);
    }
  };

  it("a named volume is the same storage for the user across two runs, owned by the user; /root stays closed", async () => {
    const volume = `mcp-rewrap-twin-${RUN_ID}`;
    try {
      const first = await seeState(volume, "one");
      expect(first.before).toBe("1001");
      expect(first.rootClosed).toBe(false);
      expect(first.logs).not.toContain("mcp-rewrap:");
      const second = await seeState(volume, "two");
      expect(second.before).toBe("one1001");
    } finally {
      execFileSync("docker", ["volume", "rm", "-f", volume], { stdio: "ignore" });
    }
  }, 90_000);

  it("a host directory the user cannot write is never chowned: one line, and a copy", async () => {
    const host = join(work, "state-host");
    execFileSync("/bin/sh", ["-c", `mkdir -p '${host}' && echo kept > '${host}/token' && chmod 0755 '${host}' && chmod 0644 '${host}/token'`]);
    const name = uniqueName("mcp-rewrap-twin-bind");
    try {
      dockerSync(["run", "-d", "-i", "--name", name, "--network", "none", "-v", `${host}:/root/.local/share/python_keyring`, rewrapTag("debian")]);
      await waitFor("the server", () => dockerLogs(name).includes("fixture-server: ready"), 20_000);
      const lines = dockerLogs(name).split("\n").filter((l) => l.startsWith("mcp-rewrap:"));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/cannot write, and mcp-rewrap never changes host files; copied instead/);
      expect(dockerSync(["exec", "-u", "1001", name, "/bin/cat", "/home/appuser/.local/share/python_keyring/token"])).toBe("kept");
      const st = execFileSync("stat", ["-c", "%u %a", host], { encoding: "utf8" }).trim();
      expect(st).toBe("0 755");
    } finally {
      removeContainers(name);
    }
  }, 60_000);
});

describe("the image's own loader variables (LD_PRELOAD, LD_LIBRARY_PATH, LD_DEBUG_OUTPUT, …)", () => {
  // LD_DEBUG_OUTPUT makes every process started with it write /tmp/ld-trace.<pid>, owned by whoever
  // it ran as: a root-owned one is a process that ran as root with the image's loader variables
  // (which could as well have loaded a library the user planted).
  const SRC = `mcp-rewrap-test/twin-loader-src:${RUN_ID}`;
  const TAG = `mcp-rewrap-test/twin-loader:${RUN_ID}`;
  const SEE = 'printf "%s|%s|" "$LD_DEBUG" "$LD_DEBUG_OUTPUT"; /usr/bin/stat -c %U /tmp/ld-trace.* | /usr/bin/sort -u | /usr/bin/tr "\\n" " "';

  beforeAll(async () => {
    buildFromStdin(SRC, `FROM mcp-rewrap-test/family-debian:latest\nENV LD_DEBUG=files LD_DEBUG_OUTPUT=/tmp/ld-trace\nENTRYPOINT []\nCMD ["/bin/sh", "-c", ${JSON.stringify(SEE)}]\n`);
    const r = await cliAsync(["build", SRC, "-t", TAG, "-q"]);
    if (r.code !== 0) throw new Error(`rewrapping the loader image failed: ${r.stderr}`);
  }, 300_000);

  afterAll(async () => {
    await removeImages(TAG, SRC);
  });

  it("no process of the rewrap runs as root with them, and the server gets them as under the original", () => {
    const see = (image: string, extra: string[] = []) =>
      execFileSync("docker", ["run", "--rm", "--network", "none", ...extra, "-v", `${kube}:/root/.kube/config:ro`, image], { encoding: "utf8", timeout: 60_000 });
    const orig = see(SRC);
    expect(orig).toBe("files|/tmp/ld-trace|appuser ");
    expect(see(TAG)).toBe(orig);
    expect(dockerSync(["image", "inspect", "-f", "{{json .Config.Env}}", TAG])).toMatch(/"LD_DEBUG=","LD_DEBUG_OUTPUT="/);
    // A value the caller gives is the caller's: it reaches the server as given.
    expect(see(TAG, ["-e", "LD_DEBUG_OUTPUT=/tmp/ld-trace"])).toMatch(/^files\|\/tmp\/ld-trace\|/);
  }, 90_000);
});

function spawnSyncOk(args: string[]): boolean {
  try {
    execFileSync("docker", args, { stdio: "ignore", timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
}

// --- docs/TWIN.md ------------------------------------------------------------------------------------

const DOC = join(ROOT, "docs/TWIN.md");
const BEGIN = "<!-- twin:begin (generated from test/e2e/twin.test.ts: TWIN_WRITE=1 npx vitest run test/e2e/twin.test.ts -t docs) -->";
const END = "<!-- twin:end -->";

export function twinTable(): string {
  const cell = (img: Image, mode: Mode) => {
    const d = documented(img, mode);
    if (d.refused) return "refused";
    return d.differ.length ? `documented: ${d.differ.join(", ")}` : "same";
  };
  const lines = [
    `| mode | ${IMAGES.map((i) => `\`${i.family}\``).join(" | ")} |`,
    `|---|${IMAGES.map(() => "---").join("|")}|`,
    ...MODES.map((m) => `| \`${m.name}\`: ${m.what} | ${IMAGES.map((i) => cell(i, m)).join(" | ")} |`),
  ];
  const images = ["", "| image | what it is |", "|---|---|", ...IMAGES.map((i) => `| \`${i.family}\` | ${i.what} |`)];
  return [BEGIN, ...lines, ...images, END].join("\n");
}

describe("docs", () => {
  it("docs/TWIN.md shows this table", () => {
    const text = readFileSync(DOC, "utf8");
    const start = text.indexOf(BEGIN);
    const end = text.indexOf(END);
    if (process.env.TWIN_WRITE === "1" && start >= 0 && end > start) {
      writeFileSync(DOC, `${text.slice(0, start)}${twinTable()}${text.slice(end + END.length)}`);
      return;
    }
    expect(start, "docs/TWIN.md lacks the twin:begin marker").toBeGreaterThanOrEqual(0);
    expect(text.slice(start, end + END.length)).toBe(twinTable());
  });
});

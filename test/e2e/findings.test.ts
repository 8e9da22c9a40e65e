/**
 * Issue 11's fifteen findings, one black-box regression test each ("finding N: ..."): every test
 * reproduces the finding's attack or condition and asserts the fixed behaviour, driving only the
 * CLI as a subprocess (generate, build: options that existed at 8920dfe too) and the engine
 * (docker build, run, start, exec, inspect). So the same file judges another build of the CLI:
 * MCP_REWRAP_CLI=/path/to/cli.js (default: this checkout's dist/src/cli.js).
 * scripts/findings-old-main.sh runs it against 8920dfe (the main the issue was filed on) and
 * against this checkout, and writes docs/FINDINGS.md.
 *
 * The images are the stages of test/fixtures/findings/Dockerfile (FROM the test bed's Debian
 * base), each with the probe server (test/fixtures/findings/probe-server), which reports its
 * environment and identity on stderr.
 */
import { type SpawnSyncReturns, execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, cliAsync, runAsync } from "../support/bed.js";
import { dockerLogs, dockerSync, removeContainers, removeImages, uniqueName, waitFor } from "../support/docker.js";

const CLI = process.env.MCP_REWRAP_CLI || join(ROOT, "dist/src/cli.js");
const RUN_ID = randomBytes(4).toString("hex");
const FIXTURES = join(ROOT, "test/fixtures/findings");
const STAGES = ["plain", "healthcheck", "baked", "malformed", "kubeenv", "rootopen"] as const;
type Stage = (typeof STAGES)[number];
const original = (s: Stage) => `mcp-rewrap-test/findings-${s}:${RUN_ID}`;
const rewrap = (s: Stage) => `mcp-rewrap-test/findings-${s}-rewrap:${RUN_ID}`;
const UID = "1001";

const work = mkdtempSync(join(tmpdir(), "mcp-rewrap-findings-"));
const containers: string[] = [];
const built: Partial<Record<Stage, { code: number | null; stderr: string }>> = {};
const KUBE_TEXT = `apiVersion: v1\nkind: Config\n# findings ${RUN_ID}\n`;
const kube = join(work, "kubeconfig");

interface Cli {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], cwd = work): Cli {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: "utf8", timeout: 5 * 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The rewrap of a stage, as the CLI under test built it (the test fails here when it could not). */
function rewrapOf(s: Stage): string {
  const b = built[s];
  expect(b?.code, `the CLI could not rewrap ${original(s)}: ${b?.stderr}`).toBe(0);
  return rewrap(s);
}

// --- running containers ---------------------------------------------------------------------------

/** `docker run -d -i` (stdin kept open: the probe server echoes it until EOF); removed in afterAll at the latest. */
function start(image: string, flags: string[] = []): string {
  const name = uniqueName("mcp-rewrap-findings");
  containers.push(name);
  dockerSync(["run", "-d", "-i", "--name", name, "--network", "none", "--hostname", "probe", ...flags, image]);
  return name;
}

const readyCount = (name: string) => dockerLogs(name).split("\n").filter((l) => l === "probe: ready").length;

/** Waits until the probe server said ready `count` times; false when it did not within `ms`. */
async function ready(name: string, ms = 20_000, count = 1): Promise<boolean> {
  try {
    await waitFor(`${name} ready`, () => readyCount(name) >= count, ms);
    return true;
  } catch {
    return false;
  }
}

interface Probe {
  env: Record<string, string>;
  uid: string;
  gid: string;
  groups: string[];
  shim: string[];
  ready: boolean;
}

/** What the probe server reported on its last start. */
function probeOf(logs: string): Probe {
  const lines = logs.split("\n");
  const last = lines.lastIndexOf("probe: ready");
  const from = lines.slice(0, last + 1).findLastIndex((l) => l.startsWith("probe: env "));
  const mine = lines.slice(Math.max(from, 0));
  const field = (k: string) => (mine.find((l) => l.startsWith(`probe: ${k}: `)) ?? "").slice(`probe: ${k}: `.length).split(/\s+/);
  const env: Record<string, string> = {};
  const b64 = mine.find((l) => l.startsWith("probe: env "))?.slice("probe: env ".length) ?? "";
  for (const kv of Buffer.from(b64, "base64").toString("latin1").split("\0")) {
    const i = kv.indexOf("=");
    if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return {
    env,
    uid: field("Uid")[0] ?? "",
    gid: field("Gid")[0] ?? "",
    groups: [...new Set(field("Groups").filter(Boolean))].sort((a, b) => Number(a) - Number(b)),
    shim: lines.filter((l) => l.startsWith("mcp-rewrap:")),
    ready: last >= 0,
  };
}

/** One run to the end (stdin closed at once): what the probe reported. */
function runOnce(image: string, flags: string[] = []): Probe {
  const r = spawnSync("docker", ["run", "--rm", "-i", "--network", "none", "--hostname", "probe", ...flags, image], { input: "", encoding: "utf8", timeout: 60_000 });
  return probeOf(`${r.stdout}${r.stderr}`);
}

/** `docker exec` as root with absolute paths only (the image's PATH starts with a user-owned directory). */
function asRoot(name: string, args: string[]): SpawnSyncReturns<string> {
  return spawnSync("docker", ["exec", "-u", "0", name, ...args], { encoding: "utf8", timeout: 30_000 });
}

function asUser(name: string, args: string[]): SpawnSyncReturns<string> {
  return spawnSync("docker", ["exec", "-u", `${UID}:${UID}`, name, ...args], { encoding: "utf8", timeout: 30_000 });
}

/** Regular files below DIR in the container (names may hold newlines). */
function filesBelow(name: string, dir: string): string[] {
  const r = asRoot(name, ["/usr/bin/find", dir, "-type", "f", "-print0"]);
  return r.stdout.split("\0").filter(Boolean);
}

// --- the bed -----------------------------------------------------------------------------------------

// Async (runAsync, cliAsync): twelve builds in a row can keep vitest's worker from its own RPC
// for over a minute on the containerd store.
beforeAll(async () => {
  await runAsync("bash", [join(ROOT, "test/bed/base-images.sh")]);
  for (const s of STAGES) {
    await runAsync("docker", ["build", "-q", "--target", s, "-t", original(s), FIXTURES], { timeoutMs: 5 * 60_000 });
  }
  writeFileSync(kube, KUBE_TEXT, { mode: 0o600 });
  chownSync(kube, 1000, 1000);
  for (const s of STAGES) {
    const r = await cliAsync(["build", original(s), "-t", rewrap(s), "-o", join(work, `context-${s}`), "-q"], { cwd: work, cliPath: CLI, timeoutMs: 5 * 60_000 });
    built[s] = { code: r.code, stderr: r.stderr };
  }
}, 20 * 60_000);

afterAll(async () => {
  removeContainers(...containers);
  await removeImages(...STAGES.flatMap((s) => [rewrap(s), original(s)]));
  rmSync(work, { recursive: true, force: true });
});

const ROOT_KUBE = () => ["-v", `${kube}:/root/.kube/config:ro`];

// --- High -------------------------------------------------------------------------------------------

describe("issue 11 findings, each a regression test", () => {
  it("finding 1: root never runs a tool the server planted in a user-writable directory of its PATH (on the next start)", async () => {
    const name = start(rewrapOf("plain"), ["-e", "PROBE_PLANT=1", ...ROOT_KUBE()]);
    expect(await ready(name), dockerLogs(name)).toBe(true);
    const planted = () => asRoot(name, ["/bin/cat", "/tmp/planted.log"]).stdout.split("\n").filter(Boolean);
    expect(planted(), "the server planted its tools, and they log when run").toContain(`ls ${UID}`);
    // Run 2: the same container started again, the planted tools first in PATH.
    dockerSync(["stop", "-t", "1", name]);
    dockerSync(["start", name]);
    expect(await ready(name, 20_000, 2), dockerLogs(name)).toBe(true);
    const byOthers = planted().filter((l) => !l.endsWith(` ${UID}`));
    expect(byOthers, `planted tools run as another uid than the server's ("tool uid"): ${byOthers.join(", ")}`).toEqual([]);
  }, 90_000);

  it("finding 2: the image's HEALTHCHECK runs as the image's user, not as root", async () => {
    const name = start(rewrapOf("healthcheck"));
    expect(await ready(name), dockerLogs(name)).toBe(true);
    const runs = () => asRoot(name, ["/bin/cat", "/tmp/health.log"]).stdout.split("\n").filter(Boolean);
    await waitFor("two health checks", () => runs().length >= 2, 30_000);
    const uids = [...new Set(runs())];
    expect(uids, `uids the HEALTHCHECK ran as: ${uids.join(", ")}`).toEqual([UID]);
    // The shim's files, which root runs, are root's and not writable by the user.
    const hc = JSON.parse(dockerSync(["inspect", "-f", "{{json .Config.Healthcheck.Test}}", name])) as string[];
    const shimFiles = ["/usr/local/bin/mcp-rewrap-entrypoint", ...hc.filter((p) => p.startsWith("/usr/local/bin/mcp-rewrap"))];
    for (const f of shimFiles) expect(asRoot(name, ["/usr/bin/stat", "-c", "%u %A", f]).stdout.trim(), f).toMatch(/^0 -rwxr-xr-x$/);
  }, 60_000);

  // --- Medium -----------------------------------------------------------------------------------------

  it("finding 3: a newline in a mounted entry's name never makes root copy another path (x<newline>/etc/shadow), and new<newline>line is copied", async () => {
    const dir = join(work, "newline");
    mkdirSync(join(dir, "x\n", "etc"), { recursive: true });
    writeFileSync(join(dir, "x\n", "etc", "shadow"), "not the real one\n");
    writeFileSync(join(dir, "new\nline"), "kept\n");
    writeFileSync(join(dir, "config"), KUBE_TEXT);
    const name = start(rewrapOf("plain"), ["-v", `${dir}:/root/.kube:ro`]);
    expect(await ready(name), dockerLogs(name)).toBe(true);
    const shadow = asRoot(name, ["/bin/cat", "/etc/shadow"]).stdout;
    expect(shadow).toMatch(/^root:/);
    const everywhere = ["/home/appuser", "/tmp", "/dev/shm"].flatMap((d) => filesBelow(name, d));
    const holding = everywhere.filter((f) => asRoot(name, ["/bin/cat", f]).stdout === shadow);
    expect(holding, `copies of the container's /etc/shadow the user got: ${holding.map((f) => JSON.stringify(f)).join(", ")}`).toEqual([]);
    const home = "/home/appuser/.kube";
    expect(filesBelow(name, home).sort(), "the copy of the mounted directory").toEqual([`${home}/config`, `${home}/new\nline`, `${home}/x\n/etc/shadow`].sort());
    expect(asUser(name, ["/bin/cat", `${home}/new\nline`]).stdout).toBe("kept\n");
    expect(asUser(name, ["/bin/cat", `${home}/x\n/etc/shadow`]).stdout).toBe("not the real one\n");
  }, 60_000);

  it("finding 4: root-only files baked under /root (/root/.aws) are not copied to the user when nothing is mounted", async () => {
    const name = start(rewrapOf("baked"));
    expect(await ready(name), dockerLogs(name)).toBe(true);
    const leaked = asUser(name, ["/bin/grep", "-rls", "baked-aws-secret", "/home/appuser", "/tmp", "/dev/shm"]);
    const got = leaked.stdout.split("\n").filter(Boolean);
    expect(got, `files holding /root/.aws/credentials the user can read: ${got.join(", ")}`).toEqual([]);
    expect(filesBelow(name, "/home/appuser").filter((f) => f.startsWith("/home/appuser/.aws")), "a copy of /root/.aws").toEqual([]);
  }, 60_000);

  it("finding 5: USER 1001 with a 4-field /etc/passwd line runs with the gid runc gives the original (1001), not 0", () => {
    const orig = runOnce(original("malformed"));
    const rew = runOnce(rewrapOf("malformed"));
    expect(orig.ready && orig.gid).toBe("1001");
    expect(rew.ready, rew.shim.join("\n")).toBe(true);
    expect({ uid: rew.uid, gid: rew.gid, groups: rew.groups }, `the rewrap's uid/gid/groups (${rew.uid}/${rew.gid}/${rew.groups.join(" ")}) vs the original's (${orig.uid}/${orig.gid}/${orig.groups.join(" ")})`).toEqual({ uid: orig.uid, gid: orig.gid, groups: orig.groups });
  }, 60_000);

  it("finding 6: groups are the runtime's: --group-add kept, a member listed with a leading blank gets no group", () => {
    const flags = ["--group-add", "7", ...ROOT_KUBE()];
    const orig = runOnce(original("plain"), flags);
    const rew = runOnce(rewrapOf("plain"), flags);
    expect(orig.groups).toEqual(["7", "1001", "2002"]);
    expect(rew.groups, `the rewrap's groups (${rew.groups.join(" ")}) vs the original's (${orig.groups.join(" ")})`).toEqual(orig.groups);
  }, 60_000);

  // --- Low ----------------------------------------------------------------------------------------------

  it("finding 7: the server's environment is the caller's: variables named like the shim's own are neither clobbered nor leaked, no PWD or SHLVL added", () => {
    const own = ["NL", "COPIED", "DEST_ROOT", "PRIVATE", "name", "path", "src", "value", "CAP_EFF", "RW_UID", "rw_name"];
    const flags = [...own.flatMap((n) => ["-e", `${n}=caller-${n}`]), ...ROOT_KUBE()];
    const orig = runOnce(original("plain"), flags);
    const rew = runOnce(rewrapOf("plain"), flags);
    expect(orig.ready && rew.ready).toBe(true);
    expect(Object.keys(orig.env)).toContain("NL");
    // Only the documented fix differs for this image (HOME is the image's own home on both sides):
    // KUBECONFIG names root's copy of the mounted kubeconfig.
    const differ = [...new Set([...Object.keys(orig.env), ...Object.keys(rew.env)])].filter((k) => orig.env[k] !== rew.env[k]).sort();
    expect(differ, `variables that differ from the original's (${differ.map((k) => `${k}=${JSON.stringify(rew.env[k] ?? null)}`).join(", ")})`).toEqual(["KUBECONFIG"]);
    expect(rew.env).toEqual({ ...orig.env, KUBECONFIG: "/dev/mcp-rewrap-kube-config" });
  }, 60_000);

  it("finding 8: a 10,000-file mount starts in well under 15 s, and SIGTERM during the copy ends the container at once without --init", async () => {
    const tree = join(work, "many");
    execFileSync("/bin/sh", ["-c", `mkdir -p '${tree}' && cd '${tree}' && for i in $(seq 0 99); do mkdir d$i; for j in $(seq 0 99); do : > d$i/f$j; done; done`]);
    const t0 = Date.now();
    const name = start(rewrapOf("plain"), ["-v", `${tree}:/root/.kube:ro`]);
    const ok = await ready(name, 15_000);
    const ms = Date.now() - t0;
    expect(ok, `the server was not ready ${(ms / 1000).toFixed(1)} s after docker run (the copy of 10,000 files; bound 15 s)`).toBe(true);
    expect(asUser(name, ["/usr/bin/test", "-f", "/home/appuser/.kube/d99/f99"]).status, "the last file was copied").toBe(0);
    removeContainers(name);
    // No --init: the shim is PID 1 while it copies.
    const term = start(rewrapOf("plain"), ["-v", `${tree}:/root/.kube:ro`]);
    const t1 = Date.now();
    dockerSync(["kill", "-s", "TERM", term]);
    let running = true;
    while (running && Date.now() - t1 < 5_000) {
      running = dockerSync(["inspect", "-f", "{{.State.Running}}", term]) === "true";
      if (running) await new Promise((r) => setTimeout(r, 100));
    }
    expect(running, "still running 5 s after SIGTERM during the copy (without --init)").toBe(false);
  }, 90_000);

  it("finding 9: under --read-only, the image's KUBECONFIG (its home's kubeconfig) is pointed at the fallback copy", async () => {
    const name = start(rewrapOf("kubeenv"), ["--read-only", ...ROOT_KUBE()]);
    expect(await ready(name), dockerLogs(name)).toBe(true);
    const seen = probeOf(dockerLogs(name));
    const at = seen.env.KUBECONFIG ?? "";
    expect(asUser(name, ["/bin/cat", at]).stdout, `the server's KUBECONFIG=${at} as the server's user reads it`).toBe(KUBE_TEXT);
  }, 60_000);

  it("finding 10: a copy that fails (a 3 MB kubeconfig, /dev/shm of 1 MB under --read-only) leaves no partial file", async () => {
    const big = join(work, "big-kubeconfig");
    writeFileSync(big, `${KUBE_TEXT}${"#".repeat(3 * 1024 * 1024)}\n`, { mode: 0o600 });
    const name = start(rewrapOf("plain"), ["--read-only", "--shm-size", "1m", "-v", `${big}:/root/.kube/config:ro`]);
    expect(await ready(name), dockerLogs(name)).toBe(true);
    const left = filesBelow(name, "/dev/shm");
    expect(left, `files left in /dev/shm by the failed copy: ${left.join(", ")}`).toEqual([]);
  }, 60_000);

  it("finding 11: a file mounted straight under /root (/root/.netrc) leaves $HOME's mode as the original has it", async () => {
    const netrc = join(work, "netrc");
    writeFileSync(netrc, "machine x login y\n", { mode: 0o600 });
    const modes: string[] = [];
    for (const image of [original("plain"), rewrapOf("plain")]) {
      const name = start(image, ["-v", `${netrc}:/root/.netrc:ro`]);
      expect(await ready(name), dockerLogs(name)).toBe(true);
      modes.push(asRoot(name, ["/usr/bin/stat", "-c", "%a %u", "/home/appuser"]).stdout.trim());
      removeContainers(name);
    }
    expect(modes[0]).toBe("755 1001");
    expect(modes[1], `the rewrap's $HOME mode and owner (${modes[1]}) vs the original's (${modes[0]})`).toBe(modes[0]);
  }, 60_000);

  it("finding 12: under -u, a FIFO mounted under /root is never opened: one line, and the server starts", async () => {
    const fifo = join(work, "fifo");
    execFileSync("mkfifo", [fifo]);
    const name = start(rewrapOf("rootopen"), ["-u", `${UID}:${UID}`, "-v", `${fifo}:/root/.kube/config`]);
    expect(await ready(name, 15_000), `the server was not ready 15 s after docker run (start-up hung: the FIFO opened?)${dockerLogs(name).trim() ? `; logs: ${dockerLogs(name).trim()}` : ""}`).toBe(true);
    const lines = probeOf(dockerLogs(name)).shim;
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain("/root/.kube/config");
  }, 60_000);

  it("finding 13: glob characters in a mount point are not expanded (a mount at /root/s* never copies the baked /root/secret-key)", async () => {
    const dir = join(work, "glob");
    mkdirSync(dir);
    writeFileSync(join(dir, "file"), "mounted\n");
    const name = start(rewrapOf("baked"), ["-v", `${dir}:/root/s*:ro`]);
    expect(await ready(name), dockerLogs(name)).toBe(true);
    const leaked = asUser(name, ["/bin/grep", "-rls", "baked-secret-key", "/home/appuser", "/tmp", "/dev/shm"]);
    const got = leaked.stdout.split("\n").filter(Boolean);
    expect(got, `files holding /root/secret-key the user can read: ${got.join(", ")}`).toEqual([]);
    expect(asUser(name, ["/bin/cat", "/home/appuser/s*/file"]).stdout, "the mount itself is copied").toBe("mounted\n");
  }, 60_000);

  it("finding 14: generate --facts with a newline in id or repoDigests adds no Dockerfile instruction: refused, exit non-zero", () => {
    const own = join(work, "facts-source");
    const g = cli(["generate", original("plain"), "--out", own, "-q"]);
    expect(g.code, g.stderr).toBe(0);
    const facts = JSON.parse(readFileSync(join(own, "facts.json"), "utf8")) as Record<string, unknown> & { id: string };
    const repo = original("plain").split(":")[0];
    const cases = {
      id: { ...facts, id: `${facts.id}\nRUN touch /pwned` },
      repoDigests: { ...facts, repoDigests: [`${repo}@sha256:${"a".repeat(64)}\nRUN touch /pwned`] },
    };
    for (const [field, tampered] of Object.entries(cases)) {
      const file = join(work, `facts-${field}.json`);
      writeFileSync(file, JSON.stringify(tampered, null, 2));
      const out = join(work, `injected-${field}`);
      const r = cli(["generate", original("plain"), "--facts", file, "--out", out, "-q"]);
      const dockerfile = existsSync(join(out, "Dockerfile")) ? readFileSync(join(out, "Dockerfile"), "utf8") : "";
      expect(dockerfile.split("\n").filter((l) => /^RUN\b/i.test(l)), `Dockerfile instructions injected through facts.${field}`).toEqual([]);
      expect(r.code, `exit code with a newline in facts.${field}`).not.toBe(0);
      expect(r.stderr.split("\n").filter(Boolean), r.stderr).toHaveLength(1);
    }
  }, 60_000);

  it("finding 15: generate --out refuses to overwrite a Dockerfile it did not write, and says what to do", () => {
    const out = join(work, "foreign");
    mkdirSync(out);
    const mine = "FROM scratch\n# someone else's Dockerfile\n";
    writeFileSync(join(out, "Dockerfile"), mine);
    const c = cli(["generate", original("plain"), "--out", out, "-q"]);
    const after = readFileSync(join(out, "Dockerfile"), "utf8");
    expect(after, `the foreign Dockerfile after generate --out (exit ${c.code}; its first line now: ${after.split("\n")[0]})`).toBe(mine);
    expect(c.code, c.stderr).toBe(2);
    expect(c.stderr).toMatch(/^mcp-rewrap: --out .*: .*Dockerfile exists and was not generated by mcp-rewrap; give another --out directory, or move that Dockerfile away\n$/);
    expect(readdirSync(out)).toEqual(["Dockerfile"]);
    // Its own output it regenerates in place.
    const own = join(work, "own");
    expect(cli(["generate", original("plain"), "--out", own, "-q"]).code).toBe(0);
    const again = cli(["generate", original("plain"), "--out", own, "-q"]);
    expect(again.code, again.stderr).toBe(0);
  }, 60_000);
});

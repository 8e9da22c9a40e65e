/**
 * A long-lived server, started by testcontainers the way runners without `--init` start one
 * (`docker run -d`, the image's entrypoint as PID 1): the shim must exec, so the server itself is
 * PID 1 with the image user's identity; and a restart refreshes the copy from a changed mount.
 */
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GenericContainer, type StartedTestContainer, Wait } from "testcontainers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPLICA, cli, ensureBed } from "../support/bed.js";
import { removeImages } from "../support/docker.js";

const TAG = "mcp-rewrap-test/kubernetes-long-lived:e2e";

describe("a long-lived rewrapped server under testcontainers (no --init)", () => {
  let dir: string;
  let config: string;
  let container: StartedTestContainer | undefined;

  beforeAll(async () => {
    ensureBed();
    dir = mkdtempSync(join(tmpdir(), "mcp-rewrap-long-"));
    config = join(dir, "config");
    writeFileSync(config, "apiVersion: v1\nkind: Config\n# first\n");
    chownSync(config, 1000, 1000);
    chmodSync(config, 0o600);
    const r = cli(["build", REPLICA, "--tag", TAG, "--out", join(dir, "ctx"), "-q"]);
    expect(r.code, r.stderr).toBe(0);
    container = await new GenericContainer(TAG)
      .withBindMounts([{ source: config, target: "/root/.kube/config", mode: "ro" }])
      .withSecurityOpt("no-new-privileges")
      // The catalog's command replaces CMD; docker-entrypoint.sh execs it.
      .withCommand(["node", "-e", "process.stderr.write('serving\\n'); setInterval(() => {}, 1000)"])
      .withWaitStrategy(Wait.forLogMessage("serving"))
      .withStartupTimeout(60_000)
      .start();
  });

  afterAll(async () => {
    await container?.stop({ remove: true, removeVolumes: true }).catch(() => {});
    if (dir) rmSync(dir, { recursive: true, force: true });
    await removeImages(TAG);
  });

  const inContainer = async (cmd: string[], user?: string) => {
    const r = await container!.exec(cmd, user ? { user } : {});
    expect(r.exitCode, r.output).toBe(0);
    return r.output.trim();
  };

  it("the server is PID 1 itself (the shim exec'd), as appuser with no capabilities", async () => {
    const status = await inContainer(["cat", "/proc/1/status"]);
    expect(status).toMatch(/^Name:\s+node$/m);
    expect(status).toMatch(/^Uid:\s+1001\s+1001\s+1001\s+1001$/m);
    expect(status).toMatch(/^Gid:\s+1001\s+1001\s+1001\s+1001$/m);
    expect(status).toMatch(/^CapEff:\s+0+$/m);
    expect(status).toMatch(/^NoNewPrivs:\s+1$/m);
    // Another uid's environ needs ptrace rights: read it as the server's own user.
    const environ = await inContainer(["sh", "-c", "tr '\\0' '\\n' </proc/1/environ | grep '^HOME='"], "1001:1001");
    expect(environ).toBe("HOME=/home/appuser");
  });

  it("the copy is root's in /dev, readable by the user, and a restart refreshes it from the changed mount", async () => {
    const copy = "/dev/mcp-rewrap-kube-config";
    expect(await inContainer(["stat", "-c", "%a %U %G", copy])).toBe("644 root root");
    expect(await inContainer(["cat", copy], "1001:1001")).toContain("# first");
    expect((await container!.exec(["sh", "-c", `echo x >>${copy}`], { user: "1001:1001" })).exitCode, "the user cannot change root's copy").not.toBe(0);

    writeFileSync(config, "apiVersion: v1\nkind: Config\n# second\n");
    await container!.restart();
    // The server (PID 1 again) starts only after the shim copied: wait for it, bounded.
    let seen = "";
    for (const end = Date.now() + 20_000; Date.now() < end && !seen.includes("# second"); ) {
      const r = await container!.exec(["cat", copy]).catch(() => null);
      seen = r?.output ?? "";
      if (!seen.includes("# second")) await new Promise((res) => setTimeout(res, 200));
    }
    expect(seen).toContain("# second");
    expect(await inContainer(["stat", "-c", "%a %U %G", copy])).toBe("644 root root");
    const environ = await inContainer(["sh", "-c", "tr '\\0' '\\n' </proc/1/environ | grep '^KUBECONFIG='"], "1001:1001");
    expect(environ).toBe(`KUBECONFIG=${copy}`);
  });
});

import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { envLook, judge, parseProbe, probeScript } from "../../src/core/verdict.js";

const probe = (lines: string[]) => parseProbe(["MCP_REWRAP_PROBE_BEGIN", ...lines, "MCP_REWRAP_PROBE_END"].join("\n"))!;

describe("verify: where the server looks, and the verdict (pure)", () => {
  it("envLook keeps the remainder inside a directory variable, and names file variables as they are", () => {
    expect(envLook("/root/.docker/config.json")).toEqual({ env: "DOCKER_CONFIG", suffix: "/config.json" });
    expect(envLook("/root/.config/gcloud/adc.json")).toEqual({ env: "CLOUDSDK_CONFIG", suffix: "/adc.json" });
    expect(envLook("/root/.kube/config")).toEqual({ env: "KUBECONFIG", suffix: "" });
    expect(envLook("/root/.aws/config")).toEqual({ env: "AWS_CONFIG_FILE", suffix: "" });
    expect(envLook("/root/elsewhere")).toBeNull();
    expect(envLook("/home/appuser/.kube/config")).toBeNull();
  });

  it("a docker config relocated by DOCKER_CONFIG (a directory) is found in it", () => {
    const p = probe(["uid 1001", "gid 1001", "home /home/appuser", "env DOCKER_CONFIG=/dev/shm/mcp-rewrap-1001/.docker", "check DOCKER_CONFIG match /dev/shm/mcp-rewrap-1001/.docker/config.json"]);
    const v = judge("img", true, [{ target: "/root/.docker/config.json" }], p);
    expect(v.ok).toBe(true);
    expect(v.targets[0]!.looksAt).toEqual(["/dev/shm/mcp-rewrap-1001/.docker/config.json"]);
  });

  it("the original's failure names the unreachable mount, /root's mode and the fix", () => {
    const p = probe(["uid 1001", "gid 1001", "home /home/appuser", "check target blocked /root/.kube/config", "check home missing /home/appuser/.kube/config", "rootdir drwx------ 0 0"]);
    const v = judge("mcp/kubernetes", false, [{ target: "/root/.kube/config" }], p);
    expect(v.ok).toBe(false);
    expect(v.targets[0]!.reason).toContain("/root is drwx------ owned by uid 0");
    expect(v.targets[0]!.reason).toContain("fix: mcp-rewrap build mcp/kubernetes");
  });

  it("the probe reads a mounted directory as readable when its files are (it failed every directory), and never expands a target's $(…)", () => {
    const tmp = mkdtempSync(join(tmpdir(), "mcp-rewrap-probe-"));
    try {
      const dir = join(tmp, "kube");
      mkdirSync(join(dir, "..data"), { recursive: true });
      writeFileSync(join(dir, "..data", "config"), "x");
      writeFileSync(join(dir, "config"), "x");
      const locked = join(tmp, "locked");
      mkdirSync(locked);
      writeFileSync(join(locked, "config"), "x");
      chmodSync(join(locked, "config"), 0o000);
      const evil = "/root/.kube/$(touch PWNED)";
      const script = probeScript([dir, locked, evil], "m");
      // As a user other than root (root reads the 0000 file): nobody, when the tests run as root.
      const asUser = process.getuid?.() === 0 ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"] : [];
      chmodSync(tmp, 0o755);
      for (const shell of [["dash", "-c"], ["busybox", "sh", "-c"]]) {
        const argv = [...asUser, ...shell, script];
        const r = spawnSync(argv[0]!, argv.slice(1), { cwd: tmp, env: { PATH: process.env.PATH, HOME: tmp }, encoding: "utf8" });
        expect(r.status, r.stderr).toBe(0);
        const p = parseProbe(r.stdout)!;
        expect(p.checks).toContainEqual(expect.objectContaining({ label: "target", state: "readable", path: dir }));
        expect(p.checks).toContainEqual(expect.objectContaining({ label: "target", state: "unreadable", path: locked }));
        expect(p.checks).toContainEqual(expect.objectContaining({ label: "home", path: `${tmp}/.kube/$(touch PWNED)` }));
        expect(existsSync(join(tmp, "PWNED"))).toBe(false);
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it("the probe script is valid sh", () => {
    const r = spawnSync("sh", ["-n"], { input: probeScript(["/root/.kube/config", "/root/.docker/config.json", "/root/it's here"], "m'k"), encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
  });
});

describe("verify's --mount and --state (pure)", () => {
  it("HOST must be absolute (docker reads a bare name as a volume); --state takes a TARGET only", async () => {
    const { parseMountSpec } = await import("../../src/core/verdict.js");
    expect(parseMountSpec("/root/.kube/config")).toEqual({ target: "/root/.kube/config" });
    expect(parseMountSpec("/h/k:/root/.kube/config")).toEqual({ host: "/h/k", target: "/root/.kube/config" });
    expect(() => parseMountSpec("relative:/root/x")).toThrow(/HOST must be an absolute path/);
    expect(() => parseMountSpec("C:\\x:/root/a")).toThrow(/HOST must be an absolute path/);
    expect(() => parseMountSpec("/a:/b", "--state")).toThrow(/^--state "\/a:\/b": give an absolute TARGET/);
    expect(() => parseMountSpec("relative", "--state")).toThrow(/^--state "relative": give an absolute TARGET$/);
  });
});

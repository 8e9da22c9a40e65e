import { spawnSync } from "node:child_process";
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

  it("the probe script is valid sh", () => {
    const r = spawnSync("sh", ["-n"], { input: probeScript(["/root/.kube/config", "/root/.docker/config.json", "/root/it's here"], "m'k"), encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
  });
});

/** verify's pure parts added for today's catalog: both mount sites, --state, the exit code. */
import { describe, expect, it } from "vitest";
import { defaultMounts, verifyExitCode } from "../../src/commands/verify.js";
import { type ProbeResult, type Verdict, envLook, judge, judgeState, parseStateLine, stateScript } from "../../src/core/verdict.js";

describe("verify: both mount sites", () => {
  it("defaults to /root/.kube/config and the user's own $HOME/.kube/config", () => {
    expect(defaultMounts("/home/appuser")).toEqual([{ target: "/root/.kube/config" }, { target: "/home/appuser/.kube/config" }]);
    expect(defaultMounts("/root")).toEqual([{ target: "/root/.kube/config" }]);
  });

  it("a target in the user's home is judged where the server looks: KUBECONFIG when set (the shim's copy), else the mount", () => {
    const base: ProbeResult = { uid: 1001, gid: 1001, home: "/home/appuser", env: {}, checks: [], rootDir: "drwx------ 0 0" };
    const t = "/home/appuser/.kube/config";
    expect(envLook(t, "/home/appuser")).toEqual({ env: "KUBECONFIG", suffix: "" });
    const original = judge("img", false, [{ target: t }], { ...base, checks: [{ label: "target", state: "unreadable", path: t }] });
    expect(original.ok).toBe(false);
    expect(original.targets[0]!.reason).toMatch(/the mount at \/home\/appuser\/\.kube\/config is not readable: permission denied/);
    const copy = "/tmp/mcp-rewrap-1001/home/.kube/config";
    const rewrapped = judge("img", true, [{ target: t }], {
      ...base,
      env: { KUBECONFIG: copy },
      checks: [
        { label: "target", state: "unreadable", path: t },
        { label: "kubeconfig", state: "match", path: copy },
      ],
    });
    expect(rewrapped.targets[0]).toMatchObject({ ok: true, looksAt: [copy] });
  });

  it("the exit code is the worst verdict, whatever the order", () => {
    const v = (ok: boolean) => ({ ok }) as Verdict;
    expect(verifyExitCode([v(false), v(true)])).toBe(1);
    expect(verifyExitCode([v(true), v(false)])).toBe(1);
    expect(verifyExitCode([v(true), v(true)])).toBe(0);
  });
});

describe("verify --state", () => {
  it("writes and reads where the server keeps it: $HOME/REL for a target under /root", () => {
    expect(stateScript("/root/.local/share/python_keyring", "M", "write")).toContain(`d="\${HOME:-/root}"/'.local/share/python_keyring'`);
    expect(stateScript("/data", "M", "read")).toContain("d='/data'");
  });

  it("parses the probe's line and judges the two runs", () => {
    const wrote = parseStateLine("noise\nstate wrote 1000 - /home/appuser/.local/share/python_keyring\n")!;
    expect(wrote).toEqual({ kind: "wrote", uid: 1000, owner: null, path: "/home/appuser/.local/share/python_keyring" });
    const missing = parseStateLine("state missing 1000 - /home/appuser/.local/share/python_keyring")!;
    const read = parseStateLine("state read 1000 1000 /home/appuser/.local/share/python_keyring")!;
    const T = "/root/.local/share/python_keyring";
    expect(judgeState(T, wrote, missing, "v").reason).toMatch(/gone in the second: state would not persist/);
    expect(judgeState(T, wrote, read, "v")).toMatchObject({ ok: true });
    expect(judgeState(T, wrote, { ...read, owner: 0 }, "v").reason).toMatch(/owned by uid 0, not the server's uid 1000/);
    expect(judgeState(T, parseStateLine("state write-failed 1000 - /x"), null, "v").reason).toMatch(/cannot write \/x/);
    expect(judgeState(T, null, null, "v").ok).toBe(false);
  });
});

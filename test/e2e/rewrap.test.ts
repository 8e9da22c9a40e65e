/**
 * The fix, end to end against a real engine: rewrap the mcp/kubernetes replica with the CLI,
 * then run it exactly as the Docker MCP Gateway does, with the host's 0600 uid-1000
 * kubeconfig mounted at /root/.kube/config, and check what the server really gets: the five
 * nodes over MCP, its uid/gid/groups/capabilities/HOME, the copied config's owner and mode,
 * an untouched stdout, exit codes and SIGTERM.
 */
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gatewayRunArgs } from "../../src/core/gateway.js";
import { NODE_NAMES, startKubeApi, type KubeApi } from "../support/kube-api.js";
import { writeHostKubeconfig, type HostKubeconfig } from "../support/kubeconfig.js";
import { listNodesOverMcp } from "../support/mcp.js";
import { REPLICA, cli, ensureBed, BUILD_JSON_KEYS } from "../support/bed.js";
import {
  containerProcesses,
  docker,
  dockerLogs,
  dockerSync,
  procEnviron,
  procStatus,
  removeContainers,
  uniqueName,
  removeImages,
  waitFor,
} from "../support/docker.js";

const TAG = "mcp-rewrap-test/kubernetes-rewrapped:e2e";

/** `docker run` argv the gateway's way, for the rewrapped image, with a command override. */
function gatewayRun(opts: { image?: string; volumes?: string[]; command?: string[]; extra?: string[]; name?: string } = {}): string[] {
  const args = gatewayRunArgs({
    name: "kubernetes",
    image: opts.image ?? TAG,
    network: "none",
    volumes: opts.volumes ?? [],
    ...(opts.command ? { command: opts.command } : {}),
    extraFlags: opts.extra ?? [],
  });
  return opts.name ? ["run", "--name", opts.name, ...args.slice(1)] : args;
}

describe("rewrapped mcp/kubernetes under the gateway's run line", () => {
  let api: KubeApi;
  let host: HostKubeconfig;
  let out: string;
  let mount: string;

  beforeAll(async () => {
    ensureBed();
    api = await startKubeApi();
    host = writeHostKubeconfig({ server: api.url, token: api.token });
    mount = `${host.file}:/root/.kube/config:ro`;
    out = mkdtempSync(join(tmpdir(), "mcp-rewrap-e2e-"));
    const r = cli(["build", REPLICA, "--tag", TAG, "--out", out, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ schemaVersion: 1, command: "build" });
    const built = doc.results[0] as { tag: string; id: string; route: string; status: string };
    expect(built).toMatchObject({ tag: TAG, route: "engine", status: "built" });
    expect(Object.keys(built).sort()).toEqual(BUILD_JSON_KEYS);
  });

  afterAll(async () => {
    host?.cleanup();
    await api?.close();
    if (out) rmSync(out, { recursive: true, force: true });
    await removeImages(TAG);
  });

  it("inspect --json reports the replica's facts and that it needs a rewrap", () => {
    const r = cli(["inspect", REPLICA, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const d = JSON.parse(r.stdout);
    expect(d.user).toMatchObject({ name: "appuser", uid: 1001, gid: 1001, home: "/home/appuser" });
    expect(d.entrypoint).toEqual(["docker-entrypoint.sh"]);
    expect(d.cmd).toEqual(["node", "dist/index.js"]);
    expect(d.workdir).toBe("/usr/local/app");
    expect(d.needsRewrap).toBe(true);
    expect(d.dropTool).toBe("setpriv");
    expect(d.mounts.find((m: { target: string }) => m.target === "/root/.kube")).toMatchObject({ reachable: false });
  });

  it("the derived image keeps the original config and adds one layer", () => {
    const orig = JSON.parse(dockerSync(["image", "inspect", REPLICA]))[0];
    const img = JSON.parse(dockerSync(["image", "inspect", TAG]))[0];
    expect(img.Config.User).toBe("root");
    expect(img.Config.Entrypoint).toEqual(["/usr/local/bin/mcp-rewrap-entrypoint", "docker-entrypoint.sh"]);
    expect(img.Config.Cmd).toEqual(["node", "dist/index.js"]);
    expect(img.Config.WorkingDir).toBe(orig.Config.WorkingDir);
    expect(img.Config.Env).toEqual(orig.Config.Env);
    expect(img.RootFS.Layers.length).toBe(orig.RootFS.Layers.length + 1);
    expect(img.RootFS.Layers.slice(0, -1)).toEqual(orig.RootFS.Layers);
    expect(img.Config.Labels["org.opencontainers.image.base.digest"]).toBe(orig.Id);
    expect(img.Config.Labels["org.opencontainers.image.base.name"]).toBe(REPLICA);
    expect(img.Config.Labels["io.mcp-rewrap.version"]).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("an MCP client lists the five k3s nodes through the rewrapped server", async () => {
    const args = gatewayRunArgs({ name: "kubernetes", image: TAG, network: "host", volumes: [mount] });
    // The gateway's run line, written out as docker/mcp-gateway composes it (clientpool.go baseArgs + argsAndEnv).
    expect(args).toEqual([
      "run", "--rm", "-i", "--init", "--security-opt", "no-new-privileges", "--cpus", "1", "--memory", "2Gb", "--pull", "never",
      "-l", "docker-mcp=true", "-l", "docker-mcp-tool-type=mcp", "-l", "docker-mcp-name=kubernetes", "-l", "docker-mcp-transport=stdio",
      "--network", "host", "-v", mount, TAG,
    ]);
    const before = api.requests.length;
    const res = await listNodesOverMcp(args, { timeoutMs: 60_000 });
    expect(res.error, `stderr: ${res.stderr}`).toBeUndefined();
    expect([...res.nodes].sort()).toEqual([...NODE_NAMES]);
    expect(api.requests.slice(before)).toContain("GET /api/v1/nodes");
    expect(res.stderr).not.toMatch(/mcp-rewrap:/);
    expect(res.stderr).not.toContain(api.token);
  });

  it("the server process runs as appuser: uid/gid/groups as the original, no capabilities, HOME, exec'd", async () => {
    // The original's identity, for comparison: same run line, nothing mounted.
    const orig = await docker(gatewayRun({ image: REPLICA, command: ["sh", "-c", "grep -E '^(Uid|Gid|Groups):' /proc/self/status"] }));
    expect(orig.code, orig.stderr).toBe(0);
    const origStatus = Object.fromEntries(
      orig.stdout.toString().trim().split("\n").map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1).trim()]),
    );

    const name = uniqueName();
    try {
      // -d with -i keeps the server's stdin open, so it waits for JSON-RPC like under the gateway.
      const started = await docker(["run", "-d", "--name", name, ...gatewayRun({ volumes: [mount] }).slice(1).filter((a) => a !== "--rm")]);
      expect(started.code, started.stderr).toBe(0);
      const server = await waitFor("the node server process", () =>
        containerProcesses(name).find((p) => p.cmd.startsWith("node dist/index.js")),
      );
      const procs = containerProcesses(name);
      const init = procs.find((p) => p.cmd.includes("docker-init"));
      expect(init, JSON.stringify(procs)).toBeDefined();
      // exec, not fork: the server is docker-init's direct child and no shim shell is left.
      expect(server.ppid).toBe(init!.pid);
      expect(procs.filter((p) => p.pid !== init!.pid && /mcp-rewrap-entrypoint|setpriv/.test(p.cmd))).toEqual([]);
      expect(procs.length).toBe(2);

      const st = procStatus(server.pid);
      expect(st.Uid).toBe("1001\t1001\t1001\t1001");
      expect(st.Gid).toBe("1001\t1001\t1001\t1001");
      expect(st.Groups).toBe(origStatus.Groups);
      expect(st.CapEff).toBe("0000000000000000");
      expect(st.CapPrm).toBe("0000000000000000");
      expect(st.CapAmb).toBe("0000000000000000");
      expect(st.NoNewPrivs).toBe("1");
      expect(procEnviron(server.pid).HOME).toBe("/home/appuser");
      // The kubeconfig mounted under /root: root's copy in the container's /dev (tmpfs), which the
      // user can read and not change, named by KUBECONFIG; nothing written in the home.
      expect(procEnviron(server.pid).KUBECONFIG).toBe("/dev/mcp-rewrap-kube-config");
      const ls = await docker(["exec", name, "stat", "-c", "%a %U %G %n", "/dev/mcp-rewrap-kube-config"]);
      expect(ls.stdout.toString().trim()).toBe("644 root root /dev/mcp-rewrap-kube-config");
      expect((await docker(["exec", "-u", "1001", name, "ls", "-A", "/home/appuser"])).stdout.toString()).not.toMatch(/^\.kube$/m);
      const logs = await docker(["logs", name]);
      expect(logs.stdout.length, "the container wrote to stdout before any request").toBe(0);
      expect(logs.stderr).not.toContain(api.token);
    } finally {
      removeContainers(name);
    }
  });

  it("the shim writes nothing to stdout, and stdin/stdout pass byte for byte", async () => {
    const silent = await docker(gatewayRun({ volumes: [mount], command: ["true"] }));
    expect(silent.code, silent.stderr).toBe(0);
    expect(silent.stdout.length).toBe(0);
    expect(silent.stderr).toBe("");

    const request = Buffer.from(
      `${JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } } })}\n` +
        "\u00e9\u4e2d\u{1F600}\r\n\0binary\xff\n",
      "utf8",
    );
    const echo = await docker(gatewayRun({ volumes: [mount], command: ["cat"] }), { input: request });
    expect(echo.code, echo.stderr).toBe(0);
    expect(echo.stdout.equals(request)).toBe(true);
  });

  it("exit codes pass through", async () => {
    const r = await docker(gatewayRun({ volumes: [mount], command: ["sh", "-c", "exit 42"] }));
    expect(r.code).toBe(42);
  });

  it("SIGTERM reaches the server under docker-init", async () => {
    const name = uniqueName();
    // "ready" only once the handler is installed: a SIGTERM before that would kill node outright.
    const script =
      "process.on('SIGTERM',()=>{process.stderr.write('got SIGTERM\\n');process.exit(7)});process.stderr.write('ready\\n');setInterval(()=>{},1000)";
    try {
      const run = gatewayRun({ volumes: [mount], command: ["node", "-e", script] });
      const started = await docker(["run", "-d", "--name", name, ...run.slice(1).filter((a) => a !== "--rm")]);
      expect(started.code, started.stderr).toBe(0);
      await waitFor("node to install its SIGTERM handler", () => dockerLogs(name).includes("ready"));
      const stop = await docker(["stop", "-t", "20", name]);
      expect(stop.code, stop.stderr).toBe(0);
      const code = dockerSync(["inspect", "-f", "{{.State.ExitCode}}", name]);
      expect(code).toBe("7");
      const logs = await docker(["logs", name]);
      expect(logs.stderr).toContain("got SIGTERM");
    } finally {
      removeContainers(name);
    }
  });

  it("with nothing mounted the server starts with no noise from the shim", async () => {
    const res = await listNodesOverMcp(gatewayRunArgs({ name: "kubernetes", image: TAG, network: "none" }), { timeoutMs: 60_000 });
    // Without a kubeconfig there is no cluster, exactly as with the original image; the shim says nothing.
    expect(res.stderr).not.toMatch(/mcp-rewrap:/);
    expect(res.stderr).toContain("Starting Kubernetes MCP server");
  });

  it("a directory mount with a symlink out of the mount: root never follows it, the copy keeps it as a link the user cannot use to read more", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mcp-rewrap-kube-"));
    try {
      const kube = join(dir, "kube");
      mkdirSync(join(kube, "..data"), { recursive: true });
      writeFileSync(join(kube, "..data", "config"), "apiVersion: v1\nkind: Config\n# via link\n");
      chmodSync(join(kube, "..data", "config"), 0o600);
      chownSync(join(kube, "..data", "config"), 1000, 1000);
      symlinkSync("..data/config", join(kube, "config"));
      symlinkSync("/etc/shadow", join(kube, "shadow"));
      const r = await docker(
        gatewayRun({
          volumes: [`${kube}:/root/.kube:ro`],
          command: ["sh", "-c", "cat $HOME/.kube/config; cat $HOME/.kube/shadow 2>/dev/null && echo LEAKED; readlink $HOME/.kube/shadow; stat -c '%a %U' $HOME/.kube/..data/config"],
        }),
      );
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.toString()).toBe("apiVersion: v1\nkind: Config\n# via link\n/etc/shadow\n600 appuser\n");
      expect(r.stderr).not.toContain("mcp-rewrap:");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("-u 1001 (a catalog's user:) with the 0600 host kubeconfig mounted into the home (#103): one line says the server cannot read it; the server runs as given (it said nothing)", async () => {
    const target = "/home/appuser/.kube/config";
    const r = await docker(gatewayRun({ volumes: [`${host.file}:${target}:ro`], extra: ["-u", "1001:1001"], command: ["sh", "-c", `id -u; test -r ${target} || echo unreadable`] }));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.toString()).toBe("1001\nunreadable\n");
    expect(r.stderr.split("\n").filter((l) => l.startsWith("mcp-rewrap:"))).toEqual([
      `mcp-rewrap: started as uid 1001 (--user, or the catalog's user:), not root, so nothing can be copied for appuser: cannot use ${target} (not readable by uid 1001); remove the user override (the image drops to appuser, uid 1001, by itself) or make the config readable by uid 1001`,
    ]);
    // Readable in place: nothing to say.
    const ok = await docker(gatewayRun({ volumes: [`${host.file}:${target}:ro`], extra: ["-u", "1000:1000"], command: ["id", "-u"] }));
    expect(ok.stdout.toString()).toBe("1000\n");
    expect(ok.stderr).not.toContain("mcp-rewrap:");
  });

  it("today's catalog shape, a file mounted into the home and a variable naming it (cloud-run-mcp: GOOGLE_APPLICATION_CREDENTIALS): the variable names the copy; with no variable, one line says the copy is unused", async () => {
    const adc = "/home/appuser/.config/gcloud/application_default_credentials.json";
    const read = ["sh", "-c", 'printf "%s|" "${GOOGLE_APPLICATION_CREDENTIALS-unset}" "${CLOUDSDK_CONFIG-unset}"; cat "${GOOGLE_APPLICATION_CREDENTIALS:-/dev/null}" 2>&1'];
    const named = await docker(gatewayRun({ volumes: [`${host.file}:${adc}:ro`], extra: ["-e", `GOOGLE_APPLICATION_CREDENTIALS=${adc}`], command: read }));
    expect(named.code, named.stderr).toBe(0);
    expect(named.stdout.toString()).toBe(`/tmp/mcp-rewrap-1001/home/.config/gcloud/application_default_credentials.json|unset|${readFileSync(host.file, "utf8")}`);
    expect(named.stderr).not.toContain("mcp-rewrap:");
    // CLOUDSDK_CONFIG names all of ~/.config/gcloud: pointing it at a directory holding only this
    // copy would hide the rest, so nothing names the copy, and the shim says so.
    const unnamed = await docker(gatewayRun({ volumes: [`${host.file}:${adc}:ro`], command: read }));
    expect(unnamed.stdout.toString()).toBe("unset|unset|");
    expect(unnamed.stderr.split("\n").filter((l) => l.startsWith("mcp-rewrap:"))).toEqual([
      `mcp-rewrap: ${adc} is mounted into appuser's home but only root can read it, and no variable names it: a copy is in /tmp/mcp-rewrap-1001/home/.config/gcloud/application_default_credentials.json, but the server looks at ${adc}; make it readable by uid 1001 on the host, or mount it under /root`,
    ]);
  });
});

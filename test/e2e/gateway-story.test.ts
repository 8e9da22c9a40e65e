/**
 * The user story of issue 4, end to end against a real engine with the hermetic replica:
 * the original fails silently under the gateway's run line -> `verify` diagnoses it ->
 * `build` -> `verify` passes -> `catalog` writes the entry -> a run composed from that entry
 * exactly as the gateway composes it lists the five nodes through the official MCP client.
 * Plus `catalog`'s refusals and --install, and `scan` on a catalog that mixes fine and broken
 * entries, with and without the gateway config that names the host files.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { composeRun, parseCatalog, validateServer, type CatalogServer } from "../../src/core/catalog.js";
import { gatewayRunArgs } from "../../src/core/gateway.js";
import { NODE_NAMES, startKubeApi, type KubeApi } from "../support/kube-api.js";
import { writeHostKubeconfig, type HostKubeconfig } from "../support/kubeconfig.js";
import { listNodesOverMcp } from "../support/mcp.js";
import { REPLICA, ROOT, cli, cliAsync, ensureBed } from "../support/bed.js";
import { dockerSync, removeImages } from "../support/docker.js";
import { startRegistry, type TestRegistry } from "../support/registry.js";

const TAG = "mcp-rewrap-test/kubernetes-story:e2e";

describe("the gateway user story: verify -> build -> verify -> catalog -> run", () => {
  let api: KubeApi;
  let host: HostKubeconfig;
  let dir: string;
  // A registry on 127.0.0.1 that has none of the images named below: tests that look an image up
  // in its registry, or pull it, ask this one, never docker.io (no test talks to other addresses).
  let reg: TestRegistry;
  let NEVER: string;

  beforeAll(async () => {
    ensureBed();
    reg = await startRegistry();
    NEVER = `${reg.host}/mcp-rewrap-test/never-built:e2e`;
    api = await startKubeApi();
    host = writeHostKubeconfig({ server: api.url, token: api.token });
    dir = mkdtempSync(join(tmpdir(), "mcp-rewrap-story-"));
  });

  afterAll(async () => {
    host?.cleanup();
    await api?.close();
    await reg?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
    await removeImages(TAG);
  });

  it("the original fails silently: the server starts, but lists no nodes", async () => {
    const res = await listNodesOverMcp(
      gatewayRunArgs({ name: "kubernetes", image: REPLICA, network: "host", volumes: [`${host.file}:/root/.kube/config:ro`] }),
    );
    expect(res.nodes).toEqual([]);
    expect(res.stderr).toContain("Starting Kubernetes MCP server");
    expect(api.requests).not.toContain("GET /api/v1/nodes");
  });

  it("verify diagnoses the original at both mount sites: /root (#284) and its own home with a 0600 file of uid 1000 (#103)", () => {
    const r = cli(["verify", REPLICA]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/^FAIL/);
    expect(r.stdout).toContain("/root/.kube/config");
    expect(r.stdout).toMatch(/permission denied/);
    expect(r.stdout).toContain("/root is drwx------");
    expect(r.stdout).toContain(`mcp-rewrap build ${REPLICA}`);
    const j = cli(["verify", REPLICA, "--json"]);
    const [v] = JSON.parse(j.stdout);
    expect(v.targets.map((t: { target: string; ok: boolean }) => [t.target, t.ok])).toEqual([
      ["/root/.kube/config", false],
      ["/home/appuser/.kube/config", false],
    ]);
    expect(v.targets[1].reason).toMatch(/the mount at \/home\/appuser\/\.kube\/config is not readable: permission denied/);
  });

  it("build, then verify passes, alone, with --mcp, and side by side (exit: the worst verdict)", async () => {
    const b = await cliAsync(["build", REPLICA, "--tag", TAG, "--out", join(dir, "ctx"), "-q"]);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stdout.trim()).toBe(TAG);

    const v = await cliAsync(["verify", TAG, "--json"]);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    const verdicts = JSON.parse(v.stdout);
    expect(verdicts).toHaveLength(1);
    expect(verdicts[0]).toMatchObject({ ok: true, uid: 1001, gid: 1001, home: "/home/appuser", rewrapped: true });
    expect(verdicts[0].targets[0]).toMatchObject({ target: "/root/.kube/config", ok: true });
    expect(verdicts[0].targets[1]).toMatchObject({ target: "/home/appuser/.kube/config", ok: true });

    const m = await cliAsync(["verify", TAG, "--mcp", "--json"]);
    expect(m.code, m.stdout + m.stderr).toBe(0);
    const mv = JSON.parse(m.stdout)[0];
    expect(mv.mcp.ok).toBe(true);
    expect(mv.mcp.tools).toBeGreaterThan(5);
    expect(mv.mcp.server).toContain("kubernetes");

    for (const order of [[REPLICA, TAG], [TAG, REPLICA]]) {
      const both = await cliAsync(["verify", ...order]);
      expect(both.code, `${order.join(" ")}: the original fails, so the pair does`).toBe(1);
      const verdictRow = both.stdout.split("\n").find((l) => l.startsWith("verdict"));
      expect(verdictRow).toMatch(order[0] === REPLICA ? /^verdict\s+FAIL\s+PASS$/ : /^verdict\s+PASS\s+FAIL$/);
    }
    const pairJson = JSON.parse((await cliAsync(["verify", REPLICA, TAG, "--json"])).stdout);
    expect(pairJson.map((x: { ok: boolean }) => x.ok)).toEqual([false, true]);
  });

  it("verify --mount HOST:TARGET checks a real file at a chosen target", () => {
    const r = cli(["verify", TAG, "--mount", `${host.file}:/root/.kube/config`, "--json"]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const o = cli(["verify", REPLICA, "--mount", `${host.file}:/root/.kube/config`, "--json"]);
    expect(o.code).toBe(1);
    expect(JSON.parse(o.stdout)[0].targets[0].ok).toBe(false);
  });

  for (const format of ["profile", "legacy"] as const) {
    it(`catalog --format ${format} writes a valid entry whose gateway run line lists the five nodes`, async () => {
      const file = join(dir, `kubernetes.${format}.yaml`);
      const home = join(dir, "home");
      const r = cli(["catalog", TAG, "--server", "kubernetes", "--format", format, "-o", file], { env: { HOME: home } });
      expect(r.code, r.stderr).toBe(0);
      // Gateways >= 0.43.1 take local catalog files only from ~/.docker/mcp/catalogs: the commands name it there.
      const inCatalogs = join(home, ".docker/mcp/catalogs", `kubernetes.${format}.yaml`);
      expect(r.stdout).toContain(`cp ${file} ${inCatalogs}`);
      expect(r.stdout).toContain(format === "profile" ? `docker mcp profile create --name kubernetes --server file://${inCatalogs}` : `--additional-catalog ${inCatalogs}`);
      const parsed = parseCatalog(readFileSync(file, "utf8"), file);
      expect(parsed.kind).toBe(format === "profile" ? "server" : "legacy");
      const entry = parsed.servers.kubernetes as CatalogServer;
      expect(validateServer("kubernetes", entry)).toEqual([]);
      expect(entry.image).toBe(TAG);
      expect(entry.volumes).toEqual(["{{kubernetes.config_path}}:/home/appuser/.kube/config"]);
      if (format === "legacy") expect(YAML.parse(readFileSync(file, "utf8")).registry.kubernetes).toBeDefined();

      // Compose as the gateway does: config value substituted, :ro appended; network host to reach 127.0.0.1.
      const run = composeRun("kubernetes", entry, { "kubernetes.config_path": host.file }, "host");
      expect(run.volumes).toEqual([`${host.file}:/home/appuser/.kube/config:ro`]);
      const res = await listNodesOverMcp(gatewayRunArgs(run));
      expect(res.error, res.stderr).toBeUndefined();
      expect([...res.nodes].sort()).toEqual([...NODE_NAMES]);
    });
  }

  it("catalog --from keeps a custom entry's name, config keys and /root mount, and that run works too", async () => {
    const file = join(dir, "from.yaml");
    const r = cli(["catalog", TAG, "--server", "kubernetes-root", "--from", join(ROOT, "test/fixtures/catalogs/mixed.yaml"), "-o", file]);
    expect(r.code, r.stderr).toBe(0);
    const entry = parseCatalog(readFileSync(file, "utf8"), file).servers["kubernetes-root"]!;
    expect(entry.volumes).toEqual(["{{kubernetes-root.config_path}}:/root/.kube/config"]);
    const res = await listNodesOverMcp(gatewayRunArgs(composeRun("kubernetes-root", entry, { "kubernetes-root.config_path": host.file }, "host")));
    expect(res.error, res.stderr).toBeUndefined();
    expect([...res.nodes].sort()).toEqual([...NODE_NAMES]);
  });

  it("catalog refuses an mcp/ tag and an unknown server", () => {
    // --no-pull: that tag is refused before any lookup; nothing asks docker.io for it.
    const m = cli(["catalog", "mcp/kubernetes:fixed", "--server", "kubernetes", "--no-pull"]);
    expect(m.code, m.stderr).toBe(2);
    expect(m.stderr).toMatch(/mcp\/kubernetes:fixed/);
    const u = cli(["catalog", TAG, "--server", "nope"]);
    expect(u.code).toBe(2);
    expect(u.stderr).toContain("no built-in entry");
  });

  it("catalog exits 1 with the build command when the tag exists neither locally nor in its registry, writing nothing", () => {
    const file = join(dir, "never.yaml");
    const r = cli(["catalog", NEVER, "--server", "kubernetes", "-o", file]);
    expect(r.code, r.stderr).toBe(1);
    const e = NEVER.replace(/[.]/g, "\\.");
    expect(r.stderr).toMatch(new RegExp(`^mcp-rewrap: ${e}: not built: neither the local engine nor ${reg.host.replace(/[.]/g, "\\.")} has it; run \`mcp-rewrap build mcp/kubernetes --tag ${e}\` first`, "m"));
    expect(() => readFileSync(file)).toThrow();
  });

  it("catalog --install writes into ~/.docker/mcp/catalogs and the commands use it there", () => {
    const home = join(dir, "home-install");
    const r = cli(["catalog", TAG, "--server", "kubernetes", "--install"], { env: { HOME: home } });
    expect(r.code, r.stderr).toBe(0);
    const file = join(home, ".docker/mcp/catalogs/kubernetes.server.yaml");
    expect(r.stdout).toContain(`wrote ${file}`);
    expect(r.stdout).not.toMatch(/&& cp /);
    expect(r.stdout).toContain(`docker mcp profile create --name kubernetes --server file://${file}`);
    expect(parseCatalog(readFileSync(file, "utf8"), file).servers.kubernetes!.image).toBe(TAG);
  });

  it("scan judges a mixed catalog: /root (#284) always; a 0600 kubeconfig of uid 1000 (#103) once the config names it", () => {
    const mixed = join(ROOT, "test/fixtures/catalogs/mixed.yaml");
    const r = cli(["scan", mixed, "--json", "--config", join(dir, "no-such-config.yaml")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--config .*no-such-config\.yaml: cannot read \(ENOENT\)/);

    // No config (HOME without one): what depends on the host file is unknown, never ok.
    const blind = cli(["scan", mixed, "--json"], { env: { HOME: join(dir, "empty-home") } });
    expect(blind.code, blind.stderr).toBe(1);
    const st = (out: string) => Object.fromEntries((JSON.parse(out) as { server: string; status: string }[]).map((x) => [x.server, x.status]));
    expect(st(blind.stdout)).toEqual({
      "kubernetes-root": "affected",
      "kubernetes-home": "unknown",
      "root-image": "ok",
      "aks-templated-user": "unknown",
      "aks-fixed-user": "unknown",
      "remote-server": "ok",
    });

    const config = join(dir, "gateway-config.yaml");
    writeFileSync(config, YAML.stringify({ "kubernetes-root": { config_path: host.file }, "kubernetes-home": { config_path: host.file }, "root-image": { dir: dir }, aks: { azure_dir: dir, kubeconfig: host.file } }));
    const judged = cli(["scan", mixed, "--json", "--config", config]);
    expect(judged.code, judged.stderr).toBe(1);
    const results = JSON.parse(judged.stdout) as { server: string; status: string; user: string; findings: { target: string; problem: string; fix: string }[] }[];
    expect(st(judged.stdout)).toEqual({
      "kubernetes-root": "affected",
      "kubernetes-home": "affected",
      "root-image": "ok",
      "aks-templated-user": "affected",
      "aks-fixed-user": "ok",
      "remote-server": "ok",
    });
    const home = results.find((x) => x.server === "kubernetes-home")!;
    expect(home.findings[0]!.problem).toMatch(/cannot read the host's .* \(mode 0600, owner uid 1000.*#103/);
    expect(results.find((x) => x.server === "kubernetes-root")!.findings[0]!.fix).toContain(`mcp-rewrap build ${REPLICA}`);
    const human = cli(["scan", mixed, "--config", config]);
    expect(human.stdout).toContain("6 servers: 3 affected, 3 ok, 0 unknown");
  });

  it("scan exits 0 when every server is ok, 4 when none is affected but some are unknown, 2 on malformed YAML", () => {
    const pub = join(dir, "pub");
    mkdirSync(pub, { mode: 0o755 });
    chmodSync(pub, 0o755);
    writeFileSync(join(pub, "config"), "kind: Config\n", { mode: 0o644 });
    const okFile = join(dir, "ok.yaml");
    writeFileSync(okFile, YAML.stringify({ registry: { k: { type: "server", image: REPLICA, volumes: [`${pub}:/home/appuser/.kube`] } } }));
    expect(cli(["scan", okFile]).code).toBe(0);
    const unknownFile = join(dir, "unknown.yaml");
    writeFileSync(unknownFile, YAML.stringify({ registry: { k: { type: "server", image: REPLICA, volumes: ["{{k.path}}:/home/appuser/.kube/config"] } } }));
    const u = cli(["scan", unknownFile], { env: { HOME: join(dir, "empty-home") } });
    expect(u.code).toBe(4);
    expect(u.stdout).toMatch(/^unknown  k /m);
    // --pull: one image that cannot be pulled makes that server unknown, the scan goes on.
    const pullFile = join(dir, "pull.yaml");
    writeFileSync(pullFile, YAML.stringify({ registry: { ghost: { type: "server", image: NEVER, volumes: ["x:/root/.cache/x"] }, k: { type: "server", image: REPLICA, volumes: [`${pub}:/home/appuser/.kube`] } } }));
    const pulled = cli(["scan", pullFile, "--pull", "--json", "-q"]);
    expect(pulled.code, pulled.stderr).toBe(4);
    const pr = JSON.parse(pulled.stdout) as { server: string; status: string; why?: string }[];
    expect(pr.map((x) => [x.server, x.status])).toEqual([["ghost", "unknown"], ["k", "ok"]]);
    expect(pr[0]!.why).toMatch(/could not be read \(pull: /);
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, "registry:\n  k: [unclosed\n");
    const r = cli(["scan", bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(bad);
    expect(r.stderr).toMatch(/not valid YAML/);
  });

  it("a rebuild that changes the rewrap replaces the tag and removes the image it held (no dangling image)", async () => {
    // First a rewrap no other tag can name (a `make demo` run leaves mcp-rewrap/kubernetes:latest,
    // the same image as a default build), so its removal is this rebuild's to make.
    const unique = `MCP_REWRAP_STORY_${Date.now()}`;
    const first = await cliAsync(["build", REPLICA, "--tag", TAG, "--out", join(dir, "ctx1u"), "--env", unique]);
    expect(first.code, first.stderr).toBe(0);
    const before = dockerSync(["image", "inspect", "-f", "{{.Id}}", TAG]);
    const r = await cliAsync(["build", REPLICA, "--tag", TAG, "--out", join(dir, "ctx2"), "--env", unique, "--env", "MY_EXTRA_CONFIG"]);
    expect(r.code, r.stderr).toBe(0);
    const after = dockerSync(["image", "inspect", "-f", "{{.Id}}", TAG]);
    expect(after).not.toBe(before);
    expect(r.stderr).toContain(`removed ${before.slice(0, 19)}`);
    expect(() => dockerSync(["image", "inspect", before])).toThrow();
  });
});

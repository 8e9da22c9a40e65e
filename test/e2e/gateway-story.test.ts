/**
 * The user story of issue 4, end to end against a real engine with the hermetic replica:
 * the original fails silently under the gateway's run line -> `verify` diagnoses it ->
 * `build` -> `verify` passes -> `catalog` writes the entry -> a run composed from that entry
 * exactly as the gateway composes it lists the five nodes through the official MCP client.
 * Plus `scan` on a catalog that mixes fine and broken entries.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { composeRun, parseCatalog, validateServer, type CatalogServer } from "../../src/core/catalog.js";
import { gatewayRunArgs } from "../../src/core/gateway.js";
import { NODE_NAMES, startKubeApi, type KubeApi } from "../support/kube-api.js";
import { writeHostKubeconfig, type HostKubeconfig } from "../support/kubeconfig.js";
import { listNodesOverMcp } from "../support/mcp.js";
import { REPLICA, ROOT, cli, ensureBed } from "../support/bed.js";
import { dockerSync } from "../support/docker.js";

const TAG = "mcp-rewrap-test/kubernetes-story:e2e";

describe("the gateway user story: verify -> build -> verify -> catalog -> run", () => {
  let api: KubeApi;
  let host: HostKubeconfig;
  let dir: string;

  beforeAll(async () => {
    ensureBed();
    api = await startKubeApi();
    host = writeHostKubeconfig({ server: api.url, token: api.token });
    dir = mkdtempSync(join(tmpdir(), "mcp-rewrap-story-"));
  });

  afterAll(async () => {
    host?.cleanup();
    await api?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    try {
      dockerSync(["rmi", TAG]);
    } catch {
      /* not built */
    }
  });

  it("the original fails silently: the server starts, but lists no nodes", async () => {
    const res = await listNodesOverMcp(
      gatewayRunArgs({ name: "kubernetes", image: REPLICA, network: "host", volumes: [`${host.file}:/root/.kube/config:ro`] }),
    );
    expect(res.nodes).toEqual([]);
    expect(res.stderr).toContain("Starting Kubernetes MCP server");
    expect(api.requests).not.toContain("GET /api/v1/nodes");
  });

  it("verify diagnoses the original: names the path, the permission problem and the fix", () => {
    const r = cli(["verify", REPLICA]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/^FAIL/);
    expect(r.stdout).toContain("/root/.kube/config");
    expect(r.stdout).toMatch(/permission denied/);
    expect(r.stdout).toContain("/root is drwx------");
    expect(r.stdout).toContain(`mcp-rewrap build ${REPLICA}`);
  });

  it("build, then verify passes, alone, with --mcp, and side by side", () => {
    const b = cli(["build", REPLICA, "--tag", TAG, "--out", join(dir, "ctx"), "-q"]);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stdout.trim()).toBe(TAG);

    const v = cli(["verify", TAG, "--json"]);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    const verdict = JSON.parse(v.stdout);
    expect(verdict).toMatchObject({ ok: true, uid: 1001, gid: 1001, home: "/home/appuser", rewrapped: true });
    expect(verdict.targets[0]).toMatchObject({ target: "/root/.kube/config", ok: true, looksAt: ["/home/appuser/.kube/config"] });

    const m = cli(["verify", TAG, "--mcp", "--json"]);
    expect(m.code, m.stdout + m.stderr).toBe(0);
    const mv = JSON.parse(m.stdout);
    expect(mv.mcp.ok).toBe(true);
    expect(mv.mcp.tools).toBeGreaterThan(5);
    expect(mv.mcp.server).toContain("kubernetes");

    const both = cli(["verify", REPLICA, TAG]);
    expect(both.code, both.stderr).toBe(0);
    const verdictRow = both.stdout.split("\n").find((l) => l.startsWith("verdict"));
    expect(verdictRow).toMatch(/^verdict\s+FAIL\s+PASS$/);
  });

  it("verify --mount HOST:TARGET checks a real file at a chosen target", () => {
    const r = cli(["verify", TAG, "--mount", `${host.file}:/root/.kube/config`, "--json"]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const o = cli(["verify", REPLICA, "--mount", `${host.file}:/root/.kube/config`, "--json"]);
    expect(o.code).toBe(1);
    expect(JSON.parse(o.stdout).targets[0].ok).toBe(false);
  });

  for (const format of ["profile", "legacy"] as const) {
    it(`catalog --format ${format} writes a valid entry whose gateway run line lists the five nodes`, async () => {
      const file = join(dir, `kubernetes.${format}.yaml`);
      const r = cli(["catalog", TAG, "--server", "kubernetes", "--format", format, "-o", file]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(format === "profile" ? `docker mcp profile create --name kubernetes --server file://${file}` : `--additional-catalog ${file}`);
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
    expect(cli(["catalog", "mcp/kubernetes:fixed", "--server", "kubernetes"]).code).toBe(2);
    const u = cli(["catalog", TAG, "--server", "nope"]);
    expect(u.code).toBe(2);
    expect(u.stderr).toContain("no built-in entry");
  });

  it("scan flags exactly the broken entries of a mixed catalog, with the fix", () => {
    const r = cli(["scan", join(ROOT, "test/fixtures/catalogs/mixed.yaml"), "--json"]);
    expect(r.code, r.stderr).toBe(1);
    const results = JSON.parse(r.stdout) as { server: string; status: string; findings: { fix: string }[] }[];
    const status = Object.fromEntries(results.map((x) => [x.server, x.status]));
    expect(status).toEqual({
      "kubernetes-root": "affected",
      "kubernetes-home": "ok",
      "root-image": "ok",
      "aks-templated-user": "ok",
      "aks-fixed-user": "affected",
      "remote-server": "skipped",
    });
    const fix = results.find((x) => x.server === "kubernetes-root")!.findings[0]!.fix;
    expect(fix).toContain(`mcp-rewrap build ${REPLICA}`);
    const human = cli(["scan", join(ROOT, "test/fixtures/catalogs/mixed.yaml")]);
    expect(human.stdout).toContain("2 of 6 servers affected");
  });

  it("scan exits 0 on a catalog with nothing affected, and 2 on malformed YAML", () => {
    const okFile = join(dir, "ok.yaml");
    writeFileSync(okFile, YAML.stringify({ registry: { k: { type: "server", image: REPLICA, volumes: ["/x:/home/appuser/.kube/config"] } } }));
    expect(cli(["scan", okFile]).code).toBe(0);
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, "registry:\n  k: [unclosed\n");
    const r = cli(["scan", bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(bad);
    expect(r.stderr).toMatch(/not valid YAML/);
  });

  it("a rebuild that changes the rewrap replaces the tag and removes the image it held (no dangling image)", () => {
    const before = dockerSync(["image", "inspect", "-f", "{{.Id}}", TAG]);
    const r = cli(["build", REPLICA, "--tag", TAG, "--out", join(dir, "ctx2"), "--mount", "/root/.extra"]);
    expect(r.code, r.stderr).toBe(0);
    const after = dockerSync(["image", "inspect", "-f", "{{.Id}}", TAG]);
    expect(after).not.toBe(before);
    expect(r.stderr).toContain(`removed ${before.slice(0, 19)}`);
    expect(() => dockerSync(["image", "inspect", before])).toThrow();
  });
});

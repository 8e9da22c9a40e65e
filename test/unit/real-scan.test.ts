/**
 * scan on the real catalog (test/fixtures/real/docker-mcp.yaml) against images shaped like the
 * real servers' (test/support/real-images.ts), served by a registry on 127.0.0.1 that stands in
 * for docker.io (--registry-mirror). No engine: DOCKER_HOST points nowhere, so every image is
 * read from the registry, top-down, nothing pulled. Host files are made with the modes and
 * owners a Linux user has (0600, uid 1000).
 */
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseCatalog } from "../../src/core/catalog.js";
import { evaluateList } from "../../src/core/gateway-eval.js";
import { RegistryClient } from "../../src/edge/registry/client.js";
import { TopDown, comparePaths, readUserFiles } from "../../src/edge/registry/user-files.js";
import { type ServerScan, hostDenials, mergeCatalogs, parseMount, scanExitCode, scanServer } from "../../src/core/scan.js";
import { readImageFromRegistry, scanCommand } from "../../src/commands/scan.js";
import { readGatewayConfig, statHost } from "../../src/edge/host.js";
import { Registries } from "../../src/edge/registry/client.js";
import { type ServedRegistry, type ShapedImage, realShapes, serveImages } from "../support/real-images.js";

const CATALOG = new URL("../fixtures/real/docker-mcp.yaml", import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), "mcp-rewrap-real-scan-"));
let reg: ServedRegistry;
const savedHost = process.env.DOCKER_HOST;

function hostFile(path: string, mode: number, uid = 1000) {
  writeFileSync(path, "apiVersion: v1\nkind: Config\n");
  chmodSync(path, mode);
  chownSync(path, uid, uid);
  return path;
}
function hostDir(path: string, mode: number, uid = 0) {
  mkdirSync(path, { recursive: true });
  chmodSync(path, mode);
  chownSync(path, uid, uid);
  return path;
}

/** The gateway config of a Linux user (uid 1000) who set every key the ten servers read. */
function linuxConfig(): string {
  const azure = hostDir(join(work, "azure"), 0o700, 1000);
  hostFile(join(azure, "azureProfile.json"), 0o600);
  const file = join(work, "config.yaml");
  writeFileSync(
    file,
    [
      "kubernetes:",
      `  config_path: ${hostFile(join(work, "kubeconfig"), 0o600)}`,
      "aks:",
      `  azure_dir: ${azure}`,
      `  kubeconfig: ${join(work, "kubeconfig")}`,
      "  access_level: readonly",
      "kubectl-mcp-server:",
      `  kubeconfig: ${hostDir(join(work, "kube"), 0o700, 1000)}`,
      "filesystem:",
      "  paths:",
      `    - ${hostDir(join(work, "projects"), 0o755, 1000)}`,
      "cloud-run-mcp:",
      `  credentials_path: ${hostFile(join(work, "adc.json"), 0o600)}`,
      "hoverfly-mcp-server:",
      `  data: ${hostDir(join(work, "hoverfly"), 0o755)}`,
      "elevenlabs:",
      `  data: ${hostDir(join(work, "elevenlabs"), 0o755)}`,
      "inspektor-gadget:",
      `  kubeconfig: ${join(work, "kubeconfig")}`,
      "aws-diagram:",
      `  output_dir: ${hostDir(join(work, "diagrams"), 0o755)}`,
      "",
    ].join("\n"),
  );
  return file;
}

beforeAll(async () => {
  process.env.DOCKER_HOST = `unix://${join(work, "no-engine.sock")}`;
  reg = await serveImages(realShapes(0.02));
});
afterAll(async () => {
  if (savedHost === undefined) delete process.env.DOCKER_HOST;
  else process.env.DOCKER_HOST = savedHost;
  await reg?.close();
  rmSync(work, { recursive: true, force: true });
});

/** Facts of an image whose USER is appuser (uid 1001, home /home/appuser) and whose /root is 0700: scanServer's pure cases. */
const APPUSER_FACTS = {
  config: { user: "appuser", env: [], entrypoint: null, cmd: null, workdir: "", labels: {} },
  passwd: "root:x:0:0::/root:/bin/sh\nappuser:x:1001:1001::/home/appuser:/bin/sh\n",
  group: "root:x:0:\nappuser:x:1001:\n",
  rootMode: 0o700,
};

const quiet = () => {};
const byServer = (rs: ServerScan[]) => Object.fromEntries(rs.map((r) => [r.server, r]));

describe("scan on the real catalog, images from a test registry (nothing pulled)", () => {
  it("flags exactly kubernetes and aks (#103) and okta-mcp-server (state under /root); judges all ten", async () => {
    const config = linuxConfig();
    reg.reset();
    const results = await scanCommand([CATALOG], { config, mirrors: [`docker.io=${reg.host}`], progress: quiet });
    const r = byServer(results);
    expect(results).toHaveLength(10);
    const affected = results.filter((x) => x.status === "affected").map((x) => x.server).sort();
    expect(affected).toEqual(["aks", "kubernetes", "okta-mcp-server"]);
    expect(results.filter((x) => x.status === "unknown").map((x) => `${x.server}: ${x.why}`)).toEqual([]);
    expect(scanExitCode(results)).toBe(1);

    expect(r.kubernetes!.user).toMatch(/^appuser \(uid 1001, gid 1001/);
    expect(r.kubernetes!.findings).toEqual([
      expect.objectContaining({ target: "/home/appuser/.kube/config", problem: expect.stringMatching(/cannot read the host's .*kubeconfig \(mode 0600, owner uid 1000.*#103/) }),
    ]);
    expect(r.aks!.user).toMatch(/^mcp \(uid 100, gid 101/);
    expect(r.aks!.findings.map((f) => f.target)).toEqual(["/home/mcp/.azure", "/home/mcp/.kube/config"]);
    expect(r.aks!.findings[0]!.problem).toMatch(/directory .*azure \(mode 0700, owner uid 1000/);
    expect(r["okta-mcp-server"]!.findings).toEqual([
      expect.objectContaining({ target: "/root/.local/share/python_keyring", problem: expect.stringMatching(/cannot enter \/root \(mode 0700, owner uid 0.*state would not persist/) }),
    ]);
    // The fix reads the entry from the scanned catalog: okta-mcp-server has no built-in entry.
    expect(r["okta-mcp-server"]!.findings[0]!.fix).toBe(`mcp-rewrap build mcp/okta-mcp-server && mcp-rewrap catalog mcp/okta-mcp-server --server okta-mcp-server --from ${CATALOG} --install`);
    for (const s of ["kubectl-mcp-server", "filesystem", "cloud-run-mcp", "elevenlabs", "inspektor-gadget"]) expect(r[s]!.why, s).toMatch(/runs as root/);
    expect(r["hoverfly-mcp-server"]!.status).toBe("ok");
    expect(r["aws-diagram"]!.status).toBe("ok");
    // Read from the registry, and only a little of each image.
    for (const x of results) expect(x.via, x.server).toMatch(new RegExp(`^${reg.host.replace(/\./g, "\\.")} \\(mirror of docker\\.io\\): .* nothing pulled$`));
    // Root images: the config only. kubernetes, aks, hoverfly, aws-diagram: a few 64 KiB ranges.
    // okta: its top layer is `useradd && chown -R /app`, and /app sorts before /etc: read whole.
    const total = reg.images.reduce((n, i) => n + i.compressedSize, 0);
    expect(total).toBeGreaterThan(20e6);
    expect(reg.sent()).toBeLessThan(total * 0.08);
    for (const s of ["kubectl-mcp-server", "filesystem", "cloud-run-mcp", "elevenlabs", "inspektor-gadget"]) expect(r[s]!.via).toMatch(/config only: runs as root/);
    const k8s = /: ([\d.]+) kB of ([\d.]+) MB, 3 of 9 layers opened/.exec(r.kubernetes!.via!);
    expect(k8s, r.kubernetes!.via).not.toBeNull();
    expect(Number(k8s![1]) * 1e3).toBeLessThan(Number(k8s![2]) * 1e6 * 0.05);
    expect(reg.requests.some((q) => /^GET \/v2\/mcp\/kubernetes\/blobs\/sha256:[0-9a-f]+ bytes=0-65535$/.test(q))).toBe(true);
  });

  it("without the gateway config, servers whose host files decide are unknown, never ok (exit 4 without affected)", async () => {
    const results = await scanCommand([CATALOG], { config: join(work, "empty.yaml"), mirrors: [`docker.io=${reg.host}`], progress: quiet }).catch((e) => e);
    expect(String(results)).toMatch(/--config .*empty\.yaml: cannot read \(ENOENT\)/);
    writeFileSync(join(work, "empty.yaml"), "");
    const rs = byServer(await scanCommand([CATALOG], { config: join(work, "empty.yaml"), mirrors: [`docker.io=${reg.host}`], progress: quiet }));
    expect(rs.kubernetes!.status).toBe("unknown");
    expect(rs.kubernetes!.why).toMatch(/kubernetes\.config_path, not set in .*empty\.yaml; cannot check that uid 1001 may read it/);
    expect(rs["okta-mcp-server"]!.status).toBe("affected");
    const onlyK8s = [rs.kubernetes!, rs.filesystem!];
    expect(scanExitCode(onlyK8s)).toBe(4);
  });

  it("an image its registry does not have is unknown with the reason; the rest are still judged", async () => {
    const cat = join(work, "one-missing.yaml");
    writeFileSync(cat, `registry:\n  ghost:\n    type: server\n    image: mcp/ghost\n    volumes: ["{{ghost.dir}}:/data"]\n  kubectl:\n    type: server\n    image: mcp/kubectl-mcp-server\n    volumes: ["x:/root/.kube"]\n`);
    const rs = byServer(await scanCommand([cat], { config: linuxConfig(), mirrors: [`docker.io=${reg.host}`], progress: quiet }));
    expect(rs.ghost!.status).toBe("unknown");
    expect(rs.ghost!.why).toMatch(/could not be read .*registry: .*mcp\/ghost.*not found/);
    expect(rs.kubectl!.status).toBe("ok");
  });

  it("a bad --registry-mirror is a usage error", async () => {
    await expect(scanCommand([CATALOG], { mirrors: ["docker.io"], progress: quiet })).rejects.toThrow(/--registry-mirror docker\.io: give REGISTRY=HOST\[:PORT\]/);
  });
});

describe("top-down reading of /etc/passwd and /etc/group", () => {
  const etc = (passwd: string | null, group: string | null) => [
    { path: "/etc", type: "directory" as const },
    ...(group !== null ? [{ path: "/etc/group", content: group }] : []),
    ...(passwd !== null ? [{ path: "/etc/passwd", content: passwd }] : []),
  ];
  const img = (repository: string, layers: ShapedImage["layers"]): ShapedImage => ({ repository, tag: "latest", user: "", layers });
  let r: ServedRegistry;
  beforeAll(async () => {
    r = await serveImages([
      img("t/plain", [etc("root:x:0:0::/root:/bin/sh\n", "root:x:0:\n"), [{ path: "/usr", type: "directory" }, { path: "/usr/big", filler: 2_000_000 }], etc("root:x:0:0::/root:/bin/sh\napp:x:1001:1001::/home/app:/bin/sh\n", null)]),
      img("t/whiteout", [etc("root:x:0:0::/root:/bin/sh\n", "root:x:0:\n"), [{ path: "/etc", type: "directory" }, { path: "/etc/.wh.group" }], [{ path: "/usr", type: "directory" }, { path: "/usr/x", content: "x" }]]),
      img("t/opaque", [etc("old\n", "old\n"), [{ path: "/etc", type: "directory" }, { path: "/etc/.wh..wh..opq" }, { path: "/etc/passwd", content: "new\n" }]]),
      img("t/symlink", [etc("root:x:0:0::/root:/bin/sh\n", "root:x:0:\n"), [{ path: "/etc", type: "directory" }, { path: "/etc/passwd", type: "symlink", linkname: "/usr/lib/passwd" }]]),
      img("t/unordered", [etc("low\n", "low\n"), [{ path: "/a", type: "directory" }, { path: "/a/z", content: "z" }, { path: "/a/b", content: "b" }, { path: "/usr/x", content: "x" }, { path: "/etc/passwd", content: "high\n" }]]),
    ]);
  });
  afterAll(() => r?.close());
  const read = async (repo: string, wantDirs: string[] = []) => {
    const c = new RegistryClient(r.host);
    const m = (await c.getManifest(repo, "latest")).json as never;
    return readUserFiles(c, repo, m, { wantDirs });
  };

  it("takes each file from the highest layer holding it, and stops as soon as both are known", async () => {
    r.reset();
    const f = await read("t/plain", ["/home/app"]);
    expect(f.passwd).toMatch(/^app:x:1001/m);
    expect(f.group).toBe("root:x:0:\n");
    expect(f.layersRead).toBe(3);
    // The 2 MB middle layer: one range of 64 KiB was enough to see it holds no /etc.
    expect(f.layerBytes).toBeLessThan(200_000);
    expect(r.requests.filter((q) => q.includes("bytes=")).length).toBe(3);
  });

  it("honours whiteouts and opaque directories", async () => {
    const w = await read("t/whiteout");
    expect(w.group).toBeNull();
    expect(w.passwd).toBe("root:x:0:0::/root:/bin/sh\n");
    const o = await read("t/opaque");
    expect(o.passwd).toBe("new\n");
    expect(o.group).toBeNull();
    expect(o.layersRead).toBe(1);
  });

  it("asks for a full read when /etc/passwd is a link", async () => {
    expect((await read("t/symlink")).needsFullRead).toBe(true);
  });

  it("once a layer's entries show they are not in path order, reads it to its end", async () => {
    const u = await read("t/unordered");
    expect(u.passwd).toBe("high\n");
    expect(u.group).toBe("low\n");
  });

  it("orders paths component by component", () => {
    expect(comparePaths("/etc/passwd", "/etc-old")).toBeLessThan(0);
    expect(comparePaths("/etc/.wh.passwd", "/etc/group")).toBeLessThan(0);
    expect(comparePaths("/root", "/etc/passwd")).toBeGreaterThan(0);
    const td = new TopDown(new Set());
    expect(td.settled).toBe(false);
  });

  it("a registry without Range support is read as one stream and cut", async () => {
    const nr = await serveImages([img("t/plain", [etc("root:x:0:0::/root:/bin/sh\n", "root:x:0:\n"), [{ path: "/usr", type: "directory" }, { path: "/usr/big", filler: 3_000_000 }]])], { noRange: true });
    try {
      const view = await readImageFromRegistry(`${nr.host}/t/plain`, { regs: new Registries(), mirrors: {}, platform: "linux/amd64", wantDirs: [], progress: quiet, runAs: "1001" });
      expect(view.view.facts.passwd).toBe("root:x:0:0::/root:/bin/sh\n");
      expect(view.view.via).toMatch(/nothing pulled/);
      expect(view.bytes).toBeLessThan(1_000_000);
    } finally {
      await nr.close();
    }
  });
});

describe("pure judgement", () => {
  it("parses mounts as the gateway does", () => {
    expect(parseMount("okta-keyring:/root/.local/share/python_keyring")).toEqual({ kind: "volume", source: "okta-keyring", target: "/root/.local/share/python_keyring", mode: "" });
    expect(parseMount("/h/k:/home/appuser/.kube/config:ro")).toEqual({ kind: "bind", source: "/h/k", target: "/home/appuser/.kube/config", mode: "ro" });
    expect(parseMount("C:\\Users\\me\\.kube:/root/.kube")).toMatchObject({ kind: "bind", source: "C:\\Users\\me\\.kube", target: "/root/.kube" });
    expect(parseMount("/cache")).toMatchObject({ kind: "anonymous", target: "/cache" });
    expect(parseMount("  ")).toBeNull();
  });

  it("cleans a target as docker does, and marks a mount docker would refuse (never a silent pass)", () => {
    expect(parseMount("/h:/root/../tmp/x")).toEqual({ kind: "bind", source: "/h", target: "/tmp/x", mode: "" });
    expect(parseMount("/h:/home/appuser/../../root/x/")).toMatchObject({ target: "/root/x" });
    expect(parseMount(":")!.problem).toBe('":": not a mount docker accepts (the container path must be absolute)');
    expect(parseMount("a:b:c:d")!.problem).toBe('"a:b:c:d": not a mount docker accepts (more than SOURCE:TARGET:MODE)');
    expect(parseMount("relative/kube:/home/appuser/x")!.problem).toBe('"relative/kube:/home/appuser/x": "relative/kube" is neither an absolute host path nor a volume name');
    expect(parseMount("./kube:/x")!.problem).toMatch(/the host path \.\/kube is relative/);
    expect(parseMount("/h/k:/home/appuser/.kube/config:ro")!.problem).toBeUndefined();
  });

  it("such a mount makes the server unknown, with the reason (it was ok, uid reaches every mount)", () => {
    const facts = APPUSER_FACTS;
    const r = scanServer("a", { type: "server", image: "x/y", volumes: ["relative/kube:/home/appuser/.kube/config"] }, { config: {}, configSource: "c", image: { facts, via: "t" }, hostStat: () => ({ path: "", error: "unused" }) });
    expect(r.status).toBe("unknown");
    expect(r.why).toContain('"relative/kube" is neither an absolute host path nor a volume name');
  });

  it("evaluates the gateway's templates: volume, volume-target, into, or, mount_as", () => {
    const cfg = { filesystem: { paths: ["/a", "/b"] }, k: { p: "/x", empty: "" } };
    expect(evaluateList(["{{filesystem.paths|volume|into}}"], cfg)).toEqual(["/a:/a", "/b:/b"]);
    expect(evaluateList(["{{filesystem.paths|volume-target|into}}"], cfg)).toEqual(["/a", "/b"]);
    expect(evaluateList(["{{k.p}}:/home/u/.kube/config"], cfg)).toEqual(["/x:/home/u/.kube/config"]);
    expect(evaluateList(["{{k.empty|or:/d}}", "{{k.p|mount_as:/t}}", "{{k.none|volume|into}}"], cfg)).toEqual(["/d", "/x:/t", ""]);
  });

  it("a 0600 host file is readable by its owner and root only; a 0644 one by all", () => {
    const st = { path: "/k", type: "file" as const, uid: 1000, gid: 1000, mode: 0o600 };
    expect(hostDenials({ uid: 1000, groups: [1000] }, st)).toEqual([]);
    expect(hostDenials({ uid: 0, groups: [0] }, st)).toEqual([]);
    expect(hostDenials({ uid: 1001, groups: [1001] }, st)).toEqual(["/k (mode 0600, owner uid 1000, gid 1000)"]);
    expect(hostDenials({ uid: 1001, groups: [1001] }, { ...st, mode: 0o644 })).toEqual([]);
    expect(hostDenials({ uid: 1001, groups: [1001, 1000] }, { ...st, mode: 0o640 })).toEqual([]);
  });

  it("a directory: itself (r and x), then each direct entry", () => {
    const dir = { path: "/az", type: "directory" as const, uid: 1000, gid: 1000, mode: 0o755, entries: [{ name: "token", type: "file" as const, uid: 1000, gid: 1000, mode: 0o600 }] };
    expect(hostDenials({ uid: 1001, groups: [1001] }, dir)).toEqual(["/az/token (mode 0600, owner uid 1000, gid 1000)"]);
    expect(hostDenials({ uid: 1001, groups: [1001] }, { ...dir, mode: 0o700 })).toEqual(["directory /az (mode 0700, owner uid 1000, gid 1000)"]);
  });

  it("statHost reads owner, mode and direct entries", () => {
    const d = hostDir(join(work, "st"), 0o750, 1000);
    hostFile(join(d, "f"), 0o640);
    const st = statHost(d);
    expect(st).toMatchObject({ type: "directory", uid: 1000, mode: 0o750, entries: [{ name: "f", type: "file", uid: 1000, mode: 0o640 }] });
    expect(statHost(join(work, "missing"))).toMatchObject({ error: "ENOENT" });
  });

  it("a #284 entry (kubeconfig under /root, as in the bug report) is affected without any host check", () => {
    const cat = parseCatalog('registry:\n  kubernetes:\n    type: server\n    image: mcp/kubernetes\n    volumes: ["{{kubernetes.config_path}}:/root/.kube/config"]\n', "old.yaml");
    const facts = APPUSER_FACTS;
    const r = scanServer("kubernetes", cat.servers.kubernetes!, { config: {}, configSource: "none", image: { facts, via: "test" }, hostStat: () => ({ path: "", error: "unused" }) });
    expect(r.status).toBe("affected");
    expect(r.findings[0]!.problem).toMatch(/cannot enter \/root \(mode 0700.*#284/);
  });

  it("{{key|mount_as:PATH}} with the key unset mounts nothing yet, but is judged as it will be once set: never a silent ok", () => {
    const facts = APPUSER_FACTS;
    const ctx = { config: {}, configSource: "none", image: { facts, via: "test" }, hostStat: () => ({ path: "", error: "unused" }) };
    const root = scanServer("c", { type: "server", image: "x/y", volumes: ["{{c.kubeconfig|mount_as:/root/.kube/config}}"] }, ctx);
    expect(root.status).toBe("affected");
    expect(root.findings[0]!.problem).toMatch(/cannot enter \/root .*#284/);
    const home = scanServer("c", { type: "server", image: "x/y", volumes: ["{{c.kubeconfig|mount_as:/home/appuser/.kube/config}}"] }, ctx);
    expect(home.status).toBe("unknown");
    expect(home.why).toContain("its host source comes from c.kubeconfig, not set in none");
  });

  it("remote servers are ok, entries without volumes ok, an unreadable image unknown", () => {
    const ctx = { config: {}, configSource: "none", image: null, why: "no engine", hostStat: statHost };
    expect(scanServer("r", { type: "remote" }, ctx).status).toBe("ok");
    expect(scanServer("n", { type: "server", image: "x" }, ctx)).toMatchObject({ status: "ok", why: "no mounts" });
    expect(scanServer("u", { type: "server", image: "x", volumes: ["a:/b"] }, ctx)).toMatchObject({ status: "unknown", why: "no engine" });
    expect(readGatewayConfig(undefined).source).toMatch(/config\.yaml/);
  });
});

describe("scan: bad input in catalogs and options", () => {
  const cat = (name: string, body: string) => {
    const f = join(work, name);
    writeFileSync(f, body);
    return f;
  };

  it("--config with a mapping key that is a collection → 2, naming where (it became the key '{ a: 1 }', with a warning from Node)", () => {
    const f = cat("config-collection-key.yaml", "kubernetes:\n  ? {a: 1}\n  : /x\n");
    expect(() => readGatewayConfig(f)).toThrow(new RegExp(`^--config ${f.replace(/[.]/g, "\\.")}: not valid YAML \\(a mapping key at line 2, column 5 is a sequence or a mapping`));
  });

  it("a later catalog's entry with the same name wins (the gateway's rule), with a line; the same file twice judges each server once", async () => {
    const a = cat("merge-a.yaml", "registry:\n  one:\n    type: server\n    image: a/one:1\n  two:\n    type: server\n    image: a/two:1\n");
    const b = cat("merge-b.yaml", "registry:\n  two:\n    type: remote\n");
    const lines: string[] = [];
    const rs = await scanCommand([a, b], { config: join(work, "empty.yaml"), progress: (l) => lines.push(l) });
    expect(rs.map((r) => `${r.server} ${r.status} ${r.image}`)).toEqual(["one ok a/one:1", "two ok "]);
    expect(byServer(rs).two!.why).toMatch(/remote server/);
    expect(lines).toContain(`two: ${b}'s entry replaces ${a}'s (a later catalog's entry wins, as in the gateway)`);
    const twice = await scanCommand([a, a], { config: join(work, "empty.yaml"), progress: (l) => lines.push(l) });
    expect(twice.map((r) => r.server)).toEqual(["one", "two"]);
    expect(mergeCatalogs([{ file: "x", servers: {} }]).notes).toEqual([]);
  });

  it("an image reference docker refuses makes that server unknown with the reason, before any engine or registry is asked", async () => {
    const f = cat("badref.yaml", 'registry:\n  bad:\n    type: server\n    image: "Not A Valid::ref"\n    volumes: ["/tmp/x:/root/.kube/config"]\n');
    const [r] = await scanCommand([f], { config: join(work, "empty.yaml"), progress: quiet });
    expect(r!.status).toBe("unknown");
    expect(r!.why).toBe('"Not A Valid::ref" is not a valid image reference: docker refuses to run it ([registry/]repository[:tag][@sha256:digest], the repository in lowercase)');
  });

  it("--platform that is not os/arch[/variant] → a usage error before anything is read", async () => {
    const f = cat("plat.yaml", "registry:\n  one:\n    type: remote\n");
    await expect(scanCommand([f], { platform: "foo", progress: quiet })).rejects.toThrow("--platform foo: give os/arch[/variant], e.g. linux/arm64");
  });

  it("several invalid entries: one line naming each (the CLI printed 'invalid catalog entry:;')", () => {
    expect(() => parseCatalog("registry:\n  a:\n    image: x\n  b:\n    image: y\n", "c.yaml")).toThrow(
      /^c\.yaml: 2 problems in catalog entries: a: type: must be server, remote or poci \(got undefined\); b: type: must be server, remote or poci \(got undefined\)$/,
    );
  });
});

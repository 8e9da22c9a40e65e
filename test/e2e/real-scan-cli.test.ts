/**
 * The CLI as a user runs it on the real catalog (test/fixtures/real/docker-mcp.yaml): images from
 * a registry on 127.0.0.1 standing in for Docker Hub (`--registry-mirror`), the gateway config
 * of a Linux user (`--config`), no engine (DOCKER_HOST points nowhere), nothing pulled.
 * The CLI runs as a child process (async: the registry lives in this process).
 */
import { execFile, execFileSync } from "node:child_process";
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, ROOT } from "../support/bed.js";
import { type ServedRegistry, realShapes, serveImages } from "../support/real-images.js";
import { freePort } from "../support/registry.js";

const CATALOG = join(ROOT, "test/fixtures/real/docker-mcp.yaml");

function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, timeout: 120_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe("scan CLI on the real catalog", () => {
  let reg: ServedRegistry;
  let dir: string;
  let env: Record<string, string>;
  beforeAll(async () => {
    execFileSync("npx", ["tsc", "-p", "tsconfig.json"], { cwd: ROOT, stdio: "inherit", timeout: 120_000 });
    reg = await serveImages(realShapes(0.01));
    dir = mkdtempSync(join(tmpdir(), "mcp-rewrap-real-cli-"));
    const kube = join(dir, "kubeconfig");
    writeFileSync(kube, "apiVersion: v1\nkind: Config\n");
    chownSync(kube, 1000, 1000);
    chmodSync(kube, 0o600);
    writeFileSync(join(dir, "config.yaml"), `kubernetes:\n  config_path: ${kube}\n`);
    env = { DOCKER_HOST: `unix://${join(dir, "no-engine.sock")}`, HOME: dir };
  });
  afterAll(async () => {
    await reg?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("--json: an array of {server, image, status, user, findings}; exit 1 (kubernetes #103, okta state); the rest ok or unknown with why", async () => {
    const r = await run(["scan", CATALOG, "--config", join(dir, "config.yaml"), "--registry-mirror", `docker.io=${reg.host}`, "--json", "-q"], env);
    expect(r.code, r.stderr).toBe(1);
    const results = JSON.parse(r.stdout) as { server: string; image: string; status: string; user?: string; findings: { target: string; problem: string; fix: string }[]; why?: string }[];
    expect(results).toHaveLength(10);
    for (const x of results) {
      expect(Object.keys(x)).toEqual(expect.arrayContaining(["server", "image", "status", "findings"]));
      if (x.status === "unknown") expect(x.why, x.server).toBeTruthy();
    }
    const st = Object.fromEntries(results.map((x) => [x.server, x.status]));
    expect(st.kubernetes).toBe("affected");
    expect(st["okta-mcp-server"]).toBe("affected");
    // Only kubernetes' key is in this config: aks, hoverfly, aws-diagram cannot be checked.
    expect(st.aks).toBe("unknown");
    expect(results.find((x) => x.server === "aks")!.why).toMatch(/aks\.azure_dir, not set in .*config\.yaml/);
    for (const s of ["kubectl-mcp-server", "filesystem", "cloud-run-mcp", "elevenlabs", "inspektor-gadget"]) expect(st[s], s).toBe("ok");
    expect(results.find((x) => x.server === "kubernetes")!.findings[0]).toMatchObject({ target: "/home/appuser/.kube/config", fix: expect.stringMatching(/^mcp-rewrap build mcp\/kubernetes && mcp-rewrap catalog/) });
  });

  it("with Docker Hub unreachable nothing is judged blind: exit 4, every server with mounts unknown", async () => {
    // Docker Hub stood in for by a port on 127.0.0.1 where nothing listens: no test talks to
    // another address.
    const down = `127.0.0.1:${await freePort()}`;
    const r = await run(["scan", join(ROOT, "test/fixtures/real/servers/kubernetes.yaml"), "--config", join(dir, "config.yaml"), "--registry-mirror", `docker.io=${down}`, "-q"], env);
    expect(r.code, r.stdout + r.stderr).toBe(4);
    expect(r.stdout).toMatch(/^unknown  kubernetes  mcp\/kubernetes\n\s+the image could not be read \(.*registry: /m);
    expect(r.stdout).toContain("1 servers: 0 affected, 0 ok, 1 unknown");
  });
});

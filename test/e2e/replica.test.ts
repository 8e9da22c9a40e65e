/**
 * E2E against the hermetic mcp/kubernetes replica (test/bed/replica.sh) and a stand-in
 * Kubernetes API (test/support/kube-api.ts) serving the bug report's five k3s nodes.
 *   (a) the bug: run the gateway's way with the host's 0600 uid-1000 kubeconfig mounted at
 *       /root/.kube/config, the server (uid 1001) cannot see it and does not list the nodes.
 *   (b) the hand fix: a 0644 copy mounted at /home/appuser/.kube/config lists k3s-01..k3s-05,
 *       and the stand-in API saw an authenticated GET /api/v1/nodes.
 * Needs a Docker engine; builds the base images and the replica first (cached after one run).
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, chmodSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gatewayRunArgs } from "../../src/core/gateway.js";
import { NODE_NAMES, startKubeApi, type KubeApi } from "../support/kube-api.js";
import { writeHostKubeconfig, type HostKubeconfig } from "../support/kubeconfig.js";
import { listNodesOverMcp } from "../support/mcp.js";

const IMAGE = "mcp-rewrap-test/kubernetes:latest";
const root = new URL("../..", import.meta.url).pathname;

describe("mcp/kubernetes replica", () => {
  let api: KubeApi;
  let host: HostKubeconfig;

  beforeAll(async () => {
    for (const script of ["test/bed/base-images.sh", "test/bed/replica.sh"]) {
      execFileSync("bash", [join(root, script)], { cwd: root, stdio: ["ignore", "inherit", "inherit"], timeout: 15 * 60_000 });
    }
    api = await startKubeApi();
    host = writeHostKubeconfig({ server: api.url, token: api.token });
  }, 16 * 60_000);

  afterAll(async () => {
    host?.cleanup();
    await api?.close();
  });

  it("reproduces the bug: kubeconfig mounted under /root is not used", async () => {
    const args = gatewayRunArgs({
      name: "kubernetes",
      image: IMAGE,
      network: "host",
      volumes: [`${host.file}:/root/.kube/config:ro`],
    });
    const before = api.requests.length;
    const res = await listNodesOverMcp(args, { timeoutMs: 60_000 });
    expect(res.nodes, `stderr: ${res.stderr}`).not.toEqual(expect.arrayContaining([...NODE_NAMES]));
    console.error(`bug reproduced: nodes=${JSON.stringify(res.nodes)} error=${res.error}`);
    expect(res.error ?? "", "the read should fail (default cluster localhost:8080)").not.toBe("");
    expect(api.requests.slice(before)).not.toContain("GET /api/v1/nodes");
  }, 90_000);

  it("lists the five nodes with a readable copy at /home/appuser/.kube/config", async () => {
    const copy = join(host.dir, "config-0644");
    copyFileSync(host.file, copy);
    chmodSync(copy, 0o644);
    const args = gatewayRunArgs({
      name: "kubernetes",
      image: IMAGE,
      network: "host",
      volumes: [`${copy}:/home/appuser/.kube/config:ro`],
    });
    const before = api.requests.length;
    const res = await listNodesOverMcp(args, { timeoutMs: 60_000 });
    expect(res.error, `stderr: ${res.stderr}`).toBeUndefined();
    expect([...res.nodes].sort()).toEqual([...NODE_NAMES]);
    // The stand-in answers 401 without the right bearer token, so nodes + this request = authenticated.
    expect(api.requests.slice(before)).toContain("GET /api/v1/nodes");
  }, 90_000);
});

/**
 * Writes a host-side kubeconfig the way a Linux user has one: file `config`, owned by the host
 * user (default 1000:1000) with mode 0600, in a fresh temp dir (mode 0755) under os.tmpdir().
 * Cluster/context `k3s`, token auth, plain http server URL (the stand-in from kube-api.ts), with
 * `insecure-skip-tls-verify: true` because @kubernetes/client-node 1.x rejects http otherwise.
 * `dir` is the parent for the new temp dir (default os.tmpdir()).
 * Tests run as root, so chown works. Call cleanup() when done (idempotent).
 */
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface HostKubeconfig {
  dir: string;
  file: string;
  cleanup(): void;
}

export function kubeconfigYaml(server: string, token: string): string {
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: k3s",
    "  cluster:",
    `    server: ${server}`,
    // @kubernetes/client-node >= 1.x refuses plain http unless TLS verification is skipped.
    "    insecure-skip-tls-verify: true",
    "contexts:",
    "- name: k3s",
    "  context:",
    "    cluster: k3s",
    "    user: k3s-admin",
    "    namespace: default",
    "current-context: k3s",
    "preferences: {}",
    "users:",
    "- name: k3s-admin",
    "  user:",
    `    token: ${token}`,
    "",
  ].join("\n");
}

export function writeHostKubeconfig(opts: {
  server: string;
  token: string;
  uid?: number;
  gid?: number;
  mode?: number;
  dir?: string;
}): HostKubeconfig {
  const dir = mkdtempSync(join(opts.dir ?? tmpdir(), "mcp-rewrap-kube-"));
  chmodSync(dir, 0o755);
  const file = join(dir, "config");
  writeFileSync(file, kubeconfigYaml(opts.server, opts.token));
  chownSync(file, opts.uid ?? 1000, opts.gid ?? 1000);
  chmodSync(file, opts.mode ?? 0o600);
  return { dir, file, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

// A stand-in Kubernetes API for scripts/demo.sh: plain node:http on 127.0.0.1, random port.
// Serves the bug report's five k3s nodes (k3s-01 … k3s-05) to bearer-token clients only.
// stdout: first line "PORT TOKEN", then one line per request: "METHOD path STATUS".
// Runs until killed. Imports nothing but node built-ins.
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";

const token = process.env.KUBE_API_TOKEN || randomBytes(24).toString("hex");
const created = "2025-01-06T09:12:00Z";
const node = (name, i) => ({
  kind: "Node",
  apiVersion: "v1",
  metadata: {
    name,
    uid: `6f1c2d3e-0000-4000-8000-00000000000${i + 1}`,
    creationTimestamp: created,
    labels: {
      "kubernetes.io/hostname": name,
      "kubernetes.io/os": "linux",
      ...(i === 0 ? { "node-role.kubernetes.io/control-plane": "true" } : {}),
    },
  },
  spec: { podCIDR: `10.42.${i}.0/24`, providerID: `k3s://${name}` },
  status: {
    conditions: [{ type: "Ready", status: "True", reason: "KubeletReady", lastTransitionTime: created }],
    addresses: [{ type: "InternalIP", address: `127.0.0.${11 + i}` }, { type: "Hostname", address: name }],
    nodeInfo: { kubeletVersion: "v1.31.4+k3s1", osImage: "Debian GNU/Linux 12 (bookworm)", architecture: "amd64" },
  },
});
const nodes = ["k3s-01", "k3s-02", "k3s-03", "k3s-04", "k3s-05"].map(node);
const failure = (code, reason, message) => ({ kind: "Status", apiVersion: "v1", status: "Failure", code, reason, message });

function route(path) {
  if (path === "/version") return [200, { major: "1", minor: "31", gitVersion: "v1.31.4+k3s1", platform: "linux/amd64" }];
  if (path === "/api") return [200, { kind: "APIVersions", versions: ["v1"] }];
  if (path === "/apis") return [200, { kind: "APIGroupList", apiVersion: "v1", groups: [] }];
  if (path === "/api/v1/nodes") return [200, { kind: "NodeList", apiVersion: "v1", metadata: {}, items: nodes }];
  const one = /^\/api\/v1\/nodes\/([^/]+)$/.exec(path);
  if (one) {
    const found = nodes.find((n) => n.metadata.name === one[1]);
    return found ? [200, found] : [404, failure(404, "NotFound", `nodes "${one[1]}" not found`)];
  }
  return [404, failure(404, "NotFound", "the server could not find the requested resource")];
}

const server = createServer((req, res) => {
  req.resume();
  const path = new URL(req.url ?? "/", "http://x").pathname.replace(/\/+$/, "") || "/";
  const [code, body] =
    req.headers.authorization !== `Bearer ${token}`
      ? [401, failure(401, "Unauthorized", "Unauthorized")]
      : req.method !== "GET"
        ? [405, failure(405, "MethodNotAllowed", "read-only stand-in")]
        : route(path);
  const text = JSON.stringify(body);
  res.writeHead(code, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
  process.stdout.write(`${req.method} ${path} ${code}\n`);
});
server.listen(0, "127.0.0.1", () => process.stdout.write(`${server.address().port} ${token}\n`));
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => process.exit(0));

/**
 * A stand-in Kubernetes API server for the e2e tests: plain node:http on 127.0.0.1, random port.
 * It serves the five k3s nodes of the bug report (k3s-01 … k3s-05, k3s-01 is the control plane)
 * as a realistic v1 NodeList, enough for @kubernetes/client-node's CoreV1Api.listNode():
 *   GET /api/v1/nodes, /api/v1/nodes/<name>, /version, /api, /apis, /api/v1/namespaces
 * Every request must carry `Authorization: Bearer <token>` (401 Status JSON otherwise). Each
 * request is recorded as "METHOD path" (path without query) in `requests`, authenticated or not.
 * Containers reach it with `--network host` (it listens on loopback only).
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface KubeApi {
  /** http://127.0.0.1:PORT */
  url: string;
  port: number;
  token: string;
  /** "METHOD path" of every request received, in order. */
  requests: string[];
  close(): Promise<void>;
}

export const NODE_NAMES = ["k3s-01", "k3s-02", "k3s-03", "k3s-04", "k3s-05"] as const;

const KUBELET = "v1.31.4+k3s1";
const CREATED = "2025-01-06T09:12:00Z";

function node(name: string, i: number): Record<string, unknown> {
  const controlPlane = i === 0;
  const ip = `127.0.0.${11 + i}`;
  const labels: Record<string, string> = {
    "beta.kubernetes.io/arch": "amd64",
    "beta.kubernetes.io/instance-type": "k3s",
    "beta.kubernetes.io/os": "linux",
    "kubernetes.io/arch": "amd64",
    "kubernetes.io/hostname": name,
    "kubernetes.io/os": "linux",
    "node.kubernetes.io/instance-type": "k3s",
  };
  if (controlPlane) {
    labels["node-role.kubernetes.io/control-plane"] = "true";
    labels["node-role.kubernetes.io/master"] = "true";
  }
  return {
    kind: "Node",
    apiVersion: "v1",
    metadata: {
      name,
      uid: `6f1c2d3e-0000-4000-8000-00000000000${i + 1}`,
      resourceVersion: String(1000 + i),
      creationTimestamp: CREATED,
      labels,
      annotations: {
        "k3s.io/hostname": name,
        "k3s.io/internal-ip": ip,
        "node.alpha.kubernetes.io/ttl": "0",
        "volumes.kubernetes.io/controller-managed-attach-detach": "true",
      },
    },
    spec: { podCIDR: `10.42.${i}.0/24`, podCIDRs: [`10.42.${i}.0/24`], providerID: `k3s://${name}` },
    status: {
      capacity: { cpu: "4", "ephemeral-storage": "61255492Ki", memory: "8025176Ki", pods: "110" },
      allocatable: { cpu: "4", "ephemeral-storage": "59589115317", memory: "8025176Ki", pods: "110" },
      conditions: [
        cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
      ],
      addresses: [
        { type: "InternalIP", address: ip },
        { type: "Hostname", address: name },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        machineID: randomBytes(16).toString("hex"),
        systemUUID: `8d0e5c1a-0000-4000-8000-00000000000${i + 1}`,
        bootID: `b0b0b0b0-0000-4000-8000-00000000000${i + 1}`,
        kernelVersion: "6.1.0-28-amd64",
        osImage: "Debian GNU/Linux 12 (bookworm)",
        containerRuntimeVersion: "containerd://1.7.23-k3s2",
        kubeletVersion: KUBELET,
        kubeProxyVersion: KUBELET,
        operatingSystem: "linux",
        architecture: "amd64",
      },
    },
  };
}

function cond(type: string, status: string, reason: string, message: string) {
  return {
    type,
    status,
    lastHeartbeatTime: "2025-06-01T12:00:00Z",
    lastTransitionTime: CREATED,
    reason,
    message,
  };
}

function namespace(name: string, i: number) {
  return {
    kind: "Namespace",
    apiVersion: "v1",
    metadata: {
      name,
      uid: `0a0a0a0a-0000-4000-8000-00000000010${i}`,
      resourceVersion: String(10 + i),
      creationTimestamp: CREATED,
      labels: { "kubernetes.io/metadata.name": name },
    },
    spec: { finalizers: ["kubernetes"] },
    status: { phase: "Active" },
  };
}

function status(code: number, reason: string, message: string) {
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, code };
}

function send(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

/**
 * Starts the stand-in (the one the tests, the bench and scripts/demo.sh share: the demo runs it
 * from dist/bench through scripts/demo-kube-api.mjs). `onRequest` hears each answered request.
 */
export async function startKubeApi(opts: { token?: string; onRequest?: (method: string, path: string, status: number) => void } = {}): Promise<KubeApi> {
  const token = opts.token ?? randomBytes(24).toString("hex");
  const requests: string[] = [];
  const nodes = NODE_NAMES.map(node);
  const namespaces = ["default", "kube-system"].map(namespace);

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const method = req.method ?? "GET";
    const path = new URL(req.url ?? "/", "http://x").pathname.replace(/\/+$/, "") || "/";
    requests.push(`${method} ${path}`);
    req.resume();
    res.on("finish", () => opts.onRequest?.(method, path, res.statusCode));

    if (req.headers.authorization !== `Bearer ${token}`) {
      send(res, 401, status(401, "Unauthorized", "Unauthorized"));
      return;
    }
    if (method !== "GET") {
      send(res, 405, status(405, "MethodNotAllowed", `the server does not allow this method on ${path}`));
      return;
    }
    const nodeMatch = /^\/api\/v1\/nodes\/([^/]+)$/.exec(path);
    if (path === "/version") {
      send(res, 200, {
        major: "1",
        minor: "31",
        gitVersion: KUBELET,
        gitCommit: "a8e1d5c3a4a5f3bd4b2e9cbd0a2b0e7a7c1c0e55",
        gitTreeState: "clean",
        buildDate: "2024-12-19T00:00:00Z",
        goVersion: "go1.22.9",
        compiler: "gc",
        platform: "linux/amd64",
      });
    } else if (path === "/api") {
      send(res, 200, {
        kind: "APIVersions",
        versions: ["v1"],
        serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: "127.0.0.11:6443" }],
      });
    } else if (path === "/apis") {
      send(res, 200, { kind: "APIGroupList", apiVersion: "v1", groups: [] });
    } else if (path === "/api/v1/nodes") {
      send(res, 200, { kind: "NodeList", apiVersion: "v1", metadata: { resourceVersion: "1100" }, items: nodes });
    } else if (nodeMatch) {
      const found = nodes.find((n) => (n.metadata as { name: string }).name === nodeMatch[1]);
      if (found) send(res, 200, found);
      else send(res, 404, status(404, "NotFound", `nodes "${nodeMatch[1]}" not found`));
    } else if (path === "/api/v1/namespaces") {
      send(res, 200, { kind: "NamespaceList", apiVersion: "v1", metadata: { resourceVersion: "20" }, items: namespaces });
    } else {
      send(res, 404, status(404, "NotFound", "the server could not find the requested resource"));
    }
  };

  const server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    token,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

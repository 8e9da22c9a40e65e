/**
 * Images shaped like the real catalog servers' (test/fixtures/real), built in memory and served
 * by a read-only registry on 127.0.0.1 (just enough of the distribution API: manifests, blobs,
 * HTTP Range). Their users, homes and layer order follow each server's Dockerfile at the
 * commit its server.yaml names (see REAL_SHAPES); bulk files are random bytes standing in for
 * the packages, sized by `scale`. The server counts every byte it sends.
 */
import { randomBytes } from "node:crypto";
import { type IncomingMessage, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync, gzipSync } from "node:zlib";
import * as tar from "tar-stream";
import { MEDIA, sha256 } from "../../src/core/oci.js";

export interface FileSpec {
  path: string;
  type?: "file" | "directory" | "symlink";
  mode?: number;
  uid?: number;
  gid?: number;
  content?: string | Buffer;
  linkname?: string;
  /** Random (incompressible) bytes of this size, standing in for package contents. */
  filler?: number;
}

/** A gzip'd layer tar, entries in the order given (Docker writes them in path order). */
export async function makeLayer(files: FileSpec[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on("data", (c: unknown) => {
    chunks.push(c as Buffer);
  });
  const done = new Promise<void>((r) => pack.on("end", () => r()));
  for (const f of files) {
    const name = f.path.replace(/^\//, "");
    const type = f.type ?? "file";
    const body = type === "file" ? (f.filler ? randomBytes(f.filler) : Buffer.from(f.content ?? "")) : undefined;
    await new Promise<void>((resolve, reject) =>
      pack.entry(
        { name, type, mode: f.mode ?? (type === "directory" ? 0o755 : 0o644), uid: f.uid ?? 0, gid: f.gid ?? 0, ...(f.linkname ? { linkname: f.linkname } : {}), mtime: new Date(0) },
        body as Buffer,
        (err) => (err ? reject(err) : resolve()),
      ),
    );
  }
  pack.finalize();
  await done;
  return gzipSync(Buffer.concat(chunks), { level: 1 });
}

export interface ShapedImage {
  repository: string;
  tag: string;
  user: string;
  env?: string[];
  entrypoint?: string[];
  cmd?: string[];
  layers: FileSpec[][];
}

export interface Built {
  repository: string;
  tag: string;
  manifestDigest: string;
  /** Manifest + config + every layer, compressed: what a pull would fetch. */
  compressedSize: number;
}

interface Stored {
  blobs: Map<string, Buffer>;
  manifests: Map<string, { type: string; body: Buffer }>;
}

export interface ServedRegistry {
  host: string;
  /** Bytes of response bodies sent since the last reset. */
  sent: () => number;
  reset: () => void;
  requests: string[];
  images: Built[];
  close: () => Promise<void>;
}

export async function buildImage(store: Stored, img: ShapedImage): Promise<Built> {
  const layers = [];
  for (const files of img.layers) layers.push(await makeLayer(files));
  const diffIds = layers.map((l) => sha256(gunzipSync(l)));
  const config = Buffer.from(
    JSON.stringify({
      architecture: "amd64",
      os: "linux",
      config: { User: img.user, Env: img.env ?? ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], Entrypoint: img.entrypoint ?? null, Cmd: img.cmd ?? null },
      rootfs: { type: "layers", diff_ids: diffIds },
    }),
  );
  for (const l of layers) store.blobs.set(sha256(l), l);
  store.blobs.set(sha256(config), config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.dockerManifest,
      config: { mediaType: MEDIA.dockerConfig, digest: sha256(config), size: config.length },
      layers: layers.map((l) => ({ mediaType: MEDIA.dockerLayerGzip, digest: sha256(l), size: l.length })),
    }),
  );
  const digest = sha256(manifest);
  store.manifests.set(`${img.repository}:${img.tag}`, { type: MEDIA.dockerManifest, body: manifest });
  store.manifests.set(`${img.repository}:${digest}`, { type: MEDIA.dockerManifest, body: manifest });
  return {
    repository: img.repository,
    tag: img.tag,
    manifestDigest: digest,
    compressedSize: manifest.length + config.length + layers.reduce((n, l) => n + l.length, 0),
  };
}


/** Serves `images` on 127.0.0.1 (an ephemeral port), read-only, with Range on blobs. */
export async function serveImages(images: ShapedImage[], opts: { noRange?: boolean } = {}): Promise<ServedRegistry> {
  const store: Stored = { blobs: new Map(), manifests: new Map() };
  const built: Built[] = [];
  for (const img of images) built.push(await buildImage(store, img));
  let sent = 0;
  const requests: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://x");
    requests.push(`${req.method} ${url.pathname}${req.headers.range ? ` ${req.headers.range}` : ""}`);
    const send = (status: number, headers: Record<string, string>, body?: Buffer) => {
      res.writeHead(status, { ...headers, ...(body ? { "Content-Length": String(body.length) } : {}) });
      if (body && req.method !== "HEAD") {
        sent += body.length;
        res.end(body);
      } else res.end();
    };
    if (url.pathname === "/v2/" || url.pathname === "/v2") return send(200, {}, Buffer.from("{}"));
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(url.pathname);
    if (!m) return send(404, {}, Buffer.from('{"errors":[{"code":"NOT_FOUND"}]}'));
    const [, repo, kind, ref] = m as unknown as [string, string, string, string];
    if (kind === "manifests") {
      const man = store.manifests.get(`${repo}:${ref}`);
      if (!man) return send(404, { "Content-Type": "application/json" }, Buffer.from('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}'));
      return send(200, { "Content-Type": man.type, "Docker-Content-Digest": sha256(man.body) }, man.body);
    }
    const blob = store.blobs.get(ref);
    if (!blob) return send(404, {}, Buffer.from('{"errors":[{"code":"BLOB_UNKNOWN"}]}'));
    const range = /^bytes=(\d+)-(\d+)?$/.exec(String(req.headers.range ?? ""));
    if (range && !opts.noRange) {
      const start = Number(range[1]);
      const end = Math.min(range[2] ? Number(range[2]) : blob.length - 1, blob.length - 1);
      return send(206, { "Content-Range": `bytes ${start}-${end}/${blob.length}` }, blob.subarray(start, end + 1));
    }
    return send(200, { "Docker-Content-Digest": ref }, blob);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    host: `127.0.0.1:${port}`,
    sent: () => sent,
    reset: () => {
      sent = 0;
      requests.length = 0;
    },
    requests,
    images: built,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

// --- the shapes ----------------------------------------------------------------------------

const DEBIAN_PASSWD = [
  "root:x:0:0:root:/root:/bin/bash",
  "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin",
  "bin:x:2:2:bin:/bin:/usr/sbin/nologin",
  "sys:x:3:3:sys:/dev:/usr/sbin/nologin",
  "sync:x:4:65534:sync:/bin:/bin/sync",
  "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin",
  "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin",
];
const DEBIAN_GROUP = ["root:x:0:", "daemon:x:1:", "bin:x:2:", "sys:x:3:", "adm:x:4:", "staff:x:50:", "users:x:100:", "nogroup:x:65534:"];
const ALPINE_PASSWD = [
  "root:x:0:0:root:/root:/bin/sh",
  "bin:x:1:1:bin:/bin:/sbin/nologin",
  "daemon:x:2:2:daemon:/sbin:/sbin/nologin",
  "nobody:x:65534:65534:nobody:/:/sbin/nologin",
];
const ALPINE_GROUP = ["root:x:0:root", "bin:x:1:root,bin,daemon", "daemon:x:2:root,bin,daemon", "users:x:100:games", "nogroup:x:65533:", "nobody:x:65534:"];

const lines = (l: string[]) => `${l.join("\n")}\n`;

/** A distribution's base layer: user files, /root 0700, /home, /tmp 1777, and bulk. */
function base(passwd: string[], group: string[], bulk: number): FileSpec[] {
  return [
    { path: "/etc", type: "directory" },
    { path: "/etc/group", content: lines(group) },
    { path: "/etc/passwd", content: lines(passwd) },
    { path: "/home", type: "directory" },
    { path: "/root", type: "directory", mode: 0o700 },
    { path: "/tmp", type: "directory", mode: 0o1777 },
    { path: "/usr", type: "directory" },
    { path: "/usr/lib", type: "directory" },
    { path: "/usr/lib/base.bin", filler: bulk },
  ];
}

/** A layer that adds a user (useradd -m / adduser): /etc/group, /etc/passwd, the home. */
function addUser(passwd: string[], group: string[], user: { name: string; uid: number; gid: number; home: string }, rest: FileSpec[] = []): FileSpec[] {
  const p = [...passwd, `${user.name}:x:${user.uid}:${user.gid}::${user.home}:/bin/sh`];
  const g = [...group, `${user.name}:x:${user.gid}:`];
  const homeParts = user.home.split("/").filter(Boolean);
  const parents = homeParts.slice(0, -1).map((_, i) => ({ path: `/${homeParts.slice(0, i + 1).join("/")}`, type: "directory" as const }));
  return [
    { path: "/etc", type: "directory" },
    { path: "/etc/group", content: lines(g) },
    { path: "/etc/gshadow", content: "", mode: 0o640 },
    { path: "/etc/passwd", content: lines(p) },
    { path: "/etc/shadow", content: "", mode: 0o640 },
    ...parents,
    { path: user.home, type: "directory", mode: 0o755, uid: user.uid, gid: user.gid },
    ...rest,
  ];
}

const bulk = (path: string, size: number): FileSpec[] => {
  const parts = path.split("/").filter(Boolean);
  return [...parts.slice(0, -1).map((_, i) => ({ path: `/${parts.slice(0, i + 1).join("/")}`, type: "directory" as const })), { path, filler: size }];
};

/**
 * The real servers' images, shaped from their Dockerfiles. `scale` multiplies the bulk sizes
 * (1 = roughly the real compressed sizes; tests use a small fraction).
 */
export function realShapes(scale: number): ShapedImage[] {
  const MB = (n: number) => Math.max(1024, Math.round(n * 1e6 * scale));
  const nodeP = [...DEBIAN_PASSWD, "node:x:1000:1000::/home/node:/bin/bash"];
  const nodeG = [...DEBIAN_GROUP, "node:x:1000:"];
  return [
    {
      // Flux159/mcp-server-kubernetes@662a1919: FROM node:24.2.0-slim; apt kubectl, gcloud, awscli,
      // helm; useradd -m appuser (1001); npm install; COPY dist; USER appuser.
      repository: "mcp/kubernetes",
      tag: "latest",
      user: "appuser",
      entrypoint: ["docker-entrypoint.sh"],
      cmd: ["node", "dist/index.js"],
      layers: [
        base(DEBIAN_PASSWD, DEBIAN_GROUP, MB(28)),
        addUser(DEBIAN_PASSWD, DEBIAN_GROUP, { name: "node", uid: 1000, gid: 1000, home: "/home/node" }, bulk("/usr/local/bin/node", MB(45))),
        bulk("/usr/local/bin/docker-entrypoint.sh", 400),
        bulk("/usr/bin/kubectl", MB(20)),
        bulk("/usr/lib/google-cloud-sdk/bulk.bin", MB(190)),
        bulk("/usr/local/bin/helm", MB(17)),
        addUser(nodeP, nodeG, { name: "appuser", uid: 1001, gid: 1001, home: "/home/appuser" }, [{ path: "/usr", type: "directory" }, { path: "/usr/local", type: "directory" }, { path: "/usr/local/app", type: "directory", uid: 1001 }]),
        [{ path: "/root", type: "directory", mode: 0o700 }, { path: "/root/.npm", type: "directory" }, { path: "/root/.npm/cache.bin", filler: MB(2) }, ...bulk("/usr/local/app/node_modules/bulk.bin", MB(30))],
        bulk("/usr/local/app/dist/index.js", 120_000),
      ],
    },
    {
      // Azure/aks-mcp@e60444c3: FROM alpine:3.22; apk bulk; kubectl, kubelogin, helm, azure-cli;
      // addgroup -S mcp && adduser -S -G mcp -h /home/mcp mcp (uid 100, gid 101); USER mcp.
      repository: "mcp/aks",
      tag: "latest",
      user: "mcp",
      env: ["HOME=/home/mcp", "KUBECONFIG=/home/mcp/.kube/config"],
      entrypoint: ["/usr/local/bin/aks-mcp"],
      layers: [
        base(ALPINE_PASSWD, ALPINE_GROUP, MB(3.8)),
        bulk("/usr/lib/apk.bin", MB(60)),
        bulk("/usr/local/bin/kubectl", MB(20)),
        bulk("/usr/lib/python3/azure.bin", MB(120)),
        addUser(ALPINE_PASSWD, ALPINE_GROUP, { name: "mcp", uid: 100, gid: 101, home: "/home/mcp" }, [{ path: "/home/mcp/.kube", type: "directory", uid: 100, gid: 101 }]),
        bulk("/usr/local/bin/aks-mcp", MB(25)),
      ],
    },
    {
      // okta/okta-mcp-server@f9f6157f: FROM python:3.13-slim; uv sync; useradd --create-home appuser (1000); USER appuser.
      repository: "mcp/okta-mcp-server",
      tag: "latest",
      user: "appuser",
      entrypoint: ["okta-mcp-server"],
      layers: [
        base(DEBIAN_PASSWD, DEBIAN_GROUP, MB(28)),
        bulk("/usr/local/lib/python3.13/bulk.bin", MB(14)),
        bulk("/app/.venv/bulk.bin", MB(40)),
        // `useradd ... && chown -R appuser:appuser /app`: one layer, /app copied again (and /app sorts before /etc).
        [...bulk("/app/.venv/bulk.bin", MB(40)).map((f) => ({ ...f, uid: 1000, gid: 1000 })), ...addUser(DEBIAN_PASSWD, DEBIAN_GROUP, { name: "appuser", uid: 1000, gid: 1000, home: "/home/appuser" })],
      ],
    },
    rootImage("mcp/kubectl-mcp-server", DEBIAN_PASSWD, DEBIAN_GROUP, MB(28), MB(60)),
    rootImage("mcp/filesystem", ALPINE_PASSWD, ALPINE_GROUP, MB(3.8), MB(40)),
    rootImage("mcp/cloud-run-mcp", DEBIAN_PASSWD, DEBIAN_GROUP, MB(28), MB(50)),
    rootImage("mcp/elevenlabs", DEBIAN_PASSWD, DEBIAN_GROUP, MB(28), MB(40)),
    {
      // inspektor-gadget/ig-mcp-server: distroless/static (root; /etc/passwd has nonroot 65532).
      repository: "mcp/inspektor-gadget",
      tag: "latest",
      user: "",
      layers: [
        base(["root:x:0:0:root:/root:/sbin/nologin", "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin", "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin"], ["root:x:0:", "nobody:x:65534:", "nonroot:x:65532:"], MB(1)),
        bulk("/ig-mcp-server", MB(30)),
      ],
    },
    {
      // kapishmalik/hoverfly-mcp-server: a hoverflymcp user whose home is /opt/hoverfly-mcp.
      repository: "kapish88/hoverfly-mcp-server",
      tag: "latest",
      user: "hoverflymcp",
      layers: [
        base(DEBIAN_PASSWD, DEBIAN_GROUP, MB(28)),
        bulk("/opt/java/bulk.bin", MB(50)),
        addUser(DEBIAN_PASSWD, DEBIAN_GROUP, { name: "hoverflymcp", uid: 1001, gid: 1001, home: "/opt/hoverfly-mcp" }, [{ path: "/opt/hoverfly-mcp/simulation-data", type: "directory", uid: 1001, gid: 1001 }]),
      ],
    },
    {
      // awslabs/mcp src/aws-diagram-mcp-server: user app; output to /tmp/generated-diagrams.
      repository: "mcp/aws-diagram",
      tag: "latest",
      user: "app",
      layers: [
        base(DEBIAN_PASSWD, DEBIAN_GROUP, MB(28)),
        bulk("/usr/lib/graphviz.bin", MB(30)),
        addUser(DEBIAN_PASSWD, DEBIAN_GROUP, { name: "app", uid: 999, gid: 999, home: "/app" }),
      ],
    },
  ];
}

function rootImage(repository: string, passwd: string[], group: string[], baseSize: number, appSize: number): ShapedImage {
  return { repository, tag: "latest", user: "", layers: [base(passwd, group, baseSize), bulk("/app/bulk.bin", appSize)] };
}

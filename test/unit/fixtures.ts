/**
 * Image facts fixtures for the unit tests: recorded by hand from what readImageFacts returns
 * for real images, so plan/render/diagnose can be exercised without a Docker engine.
 * Every factory returns a fresh object, so a test may change its copy freely.
 */
import { BIN_DIRS, type ImageFacts, PROBE_PATHS, SHIM_COMMANDS } from "../../src/core/facts.js";
import type { PlanOptions } from "../../src/core/plan.js";

export const KUBE_ID = `sha256:${"0123456789abcdef".repeat(4)}`;
export const KUBE_DIGEST = `sha256:${"fedcba9876543210".repeat(4)}`;

/** Fixed options: a version and URL of their own, so snapshots do not churn with package.json. */
export const OPTS: PlanOptions = { version: "9.9.9-test", projectUrl: "https://example.test/mcp-rewrap" };

/** /etc/passwd of node:24-slim plus `useradd -m appuser` (Debian trixie). */
export const KUBE_PASSWD = `root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
bin:x:2:2:bin:/bin:/usr/sbin/nologin
sys:x:3:3:sys:/dev:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
_apt:x:42:65534::/nonexistent:/usr/sbin/nologin
node:x:1000:1000::/home/node:/bin/bash
appuser:x:1001:1001::/home/appuser:/bin/sh
`;

export const KUBE_GROUP = `root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
staff:x:50:
users:x:100:
nogroup:x:65534:
node:x:1000:
appuser:x:1001:
`;

/** Paths present in the image, in probe order (as readImageFacts reports them). */
export function presentPaths(paths: Iterable<string>): string[] {
  const has = new Set(paths);
  return PROBE_PATHS.filter((p) => has.has(p));
}

/** The shim's commands in the given directories. */
export function shimCommandsIn(dirs: readonly string[] = BIN_DIRS.slice(0, 2)): string[] {
  return SHIM_COMMANDS.flatMap((c) => dirs.map((d) => `${d}/${c}`));
}

/** mcp/kubernetes as pulled from Docker Hub: node:24-slim based, USER appuser, /root 0700. */
export function kubernetesFacts(): ImageFacts {
  return {
    ref: "mcp/kubernetes",
    id: KUBE_ID,
    repoTags: ["mcp/kubernetes:latest"],
    repoDigests: [`mcp/kubernetes@${KUBE_DIGEST}`],
    os: "linux",
    architecture: "amd64",
    config: {
      user: "appuser",
      env: [
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "NODE_VERSION=24.11.1",
        "YARN_VERSION=1.22.22",
        "NODE_ENV=production",
      ],
      entrypoint: ["docker-entrypoint.sh"],
      cmd: ["node", "dist/index.js"],
      workdir: "/usr/local/app",
      labels: { "org.opencontainers.image.title": "mcp-server-kubernetes" },
    },
    passwd: KUBE_PASSWD,
    group: KUBE_GROUP,
    // usrmerged Debian: /bin and /usr/bin both resolve; util-linux ships setpriv.
    present: presentPaths(["/usr/bin/setpriv", "/bin/setpriv", ...shimCommandsIn(["/bin", "/usr/bin"])]),
    rootMode: 0o700,
  };
}

/** A root image (USER unset): e.g. an official python-based MCP server. */
export function rootFacts(): ImageFacts {
  const f = kubernetesFacts();
  f.ref = "mcp/rooty:1.0";
  f.repoDigests = [`mcp/rooty@${KUBE_DIGEST}`];
  f.config.user = "";
  return f;
}

/** gcr.io/distroless/nodejs-style: USER nonroot, no shell, no tools. */
export function distrolessFacts(): ImageFacts {
  const f = kubernetesFacts();
  f.ref = "example/distroless-mcp:2";
  f.repoDigests = [];
  f.config.user = "nonroot";
  f.config.entrypoint = ["/nodejs/bin/node"];
  f.config.cmd = ["/app/index.js"];
  f.passwd = "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n";
  f.group = "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n";
  f.present = [];
  return f;
}

/** An Alpine image with only busybox (applets linked in /bin) and no setpriv/su-exec/gosu. */
export function busyboxFacts(user: string): ImageFacts {
  const f = kubernetesFacts();
  f.ref = "example/alpine-mcp:3";
  f.config.user = user;
  f.config.entrypoint = null;
  f.config.cmd = ["/app/server"];
  f.passwd = "root:x:0:0:root:/root:/bin/sh\nmcp:x:1001:1001:Linux User,,,:/home/mcp:/sbin/nologin\n";
  f.group = "root:x:0:root\nmcp:x:1001:\n";
  // Alpine links every applet in /bin (the shim runs them by absolute path).
  f.present = presentPaths(["/bin/busybox", ...shimCommandsIn(["/bin"])]);
  return f;
}

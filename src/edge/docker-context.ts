/**
 * Which Docker engine to talk to, decided as the docker CLI decides it: DOCKER_HOST, else
 * DOCKER_CONTEXT, else `currentContext` in the config file ($DOCKER_CONFIG/config.json, default
 * ~/.docker/config.json), else the default socket. A context lives in
 * $DOCKER_CONFIG/contexts/meta/<sha256 of its name>/meta.json (its docker endpoint: Host,
 * SkipTLSVerify) with TLS material in $DOCKER_CONFIG/contexts/tls/<sha256 of its name>/docker/
 * (ca.pem, cert.pem, key.pem). The docker CLI subprocesses (verify) get the same engine through
 * dockerCliEnv().
 */
import { createHash } from "node:crypto";
import { accessSync, existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { UsageError } from "../core/errors.js";

export const DEFAULT_HOST = "unix:///var/run/docker.sock";

export interface EngineEndpoint {
  /** unix:///…, tcp://host:port, ssh://user@host, npipe://… */
  host: string;
  /** How it was chosen, for messages: `DOCKER_HOST`, `context NAME` or `default`. */
  source: "DOCKER_HOST" | "context" | "default";
  /** The context's name (source "context"). */
  context?: string;
  /** A context's TLS: the directory with ca.pem/cert.pem/key.pem, and whether to verify. */
  tls?: { dir: string | null; verify: boolean };
}

export function dockerConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.DOCKER_CONFIG || join(env.HOME || homedir(), ".docker");
}

const contextId = (name: string) => createHash("sha256").update(name).digest("hex");

interface ContextMeta {
  Name?: string;
  Endpoints?: { docker?: { Host?: string; SkipTLSVerify?: boolean } };
}

/** The engine the docker CLI would use with this environment. Throws UsageError for a context that does not exist. */
export function resolveEngine(env: NodeJS.ProcessEnv = process.env): EngineEndpoint {
  // DOCKER_HOST (with DOCKER_TLS_VERIFY/DOCKER_CERT_PATH) is read by dockerode itself, as by the CLI.
  if (env.DOCKER_HOST) return { host: env.DOCKER_HOST, source: "DOCKER_HOST" };
  const configDir = dockerConfigDir(env);
  let name = env.DOCKER_CONTEXT || "";
  let from = "DOCKER_CONTEXT";
  if (!name) {
    const file = join(configDir, "config.json");
    try {
      name = (JSON.parse(readFileSync(file, "utf8")) as { currentContext?: string }).currentContext ?? "";
      from = `currentContext in ${file}`;
    } catch {
      /* no config file, or not ours to judge here: the default engine */
    }
  }
  if (!name || name === "default") return { host: DEFAULT_HOST, source: "default" };
  const id = contextId(name);
  const metaFile = join(configDir, "contexts", "meta", id, "meta.json");
  let meta: ContextMeta;
  try {
    meta = JSON.parse(readFileSync(metaFile, "utf8")) as ContextMeta;
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === "ENOENT" ? "no such context" : (e as Error).message;
    throw new UsageError(`Docker context ${JSON.stringify(name)} (${from}): ${why} (looked for ${metaFile}); run \`docker context ls\`, or unset DOCKER_CONTEXT`);
  }
  const ep = meta.Endpoints?.docker;
  if (!ep?.Host) throw new UsageError(`Docker context ${JSON.stringify(name)} (${from}): ${metaFile} has no docker endpoint Host; run \`docker context inspect ${name}\``);
  const tlsDir = join(configDir, "contexts", "tls", id, "docker");
  const hasTls = existsSync(join(tlsDir, "ca.pem")) || existsSync(join(tlsDir, "cert.pem"));
  const tls = hasTls || /^tcp:\/\/|^https:\/\//.test(ep.Host) ? { dir: hasTls ? tlsDir : null, verify: !ep.SkipTLSVerify } : undefined;
  return { host: ep.Host, source: "context", context: name, ...(tls && tls.dir ? { tls } : {}) };
}

/** "unix:///x" or "tcp://h:2376 (context NAME)": where, for messages. */
export function describeEngine(e: EngineEndpoint): string {
  return e.source === "context" ? `${e.host} (context ${e.context})` : e.host;
}

/** What to check when the engine does not answer, for messages. */
export function engineHint(e: EngineEndpoint): string {
  return e.source === "context" ? `is dockerd running and the context right (docker context inspect ${e.context})?` : "is dockerd running and DOCKER_HOST right?";
}

/**
 * The environment for a docker CLI subprocess: the engine resolved here, as DOCKER_HOST (and
 * DOCKER_TLS_VERIFY / DOCKER_CERT_PATH for a TLS context), so it talks to the same engine as
 * the Engine API calls whatever context the user has selected.
 */
export function dockerCliEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  const e = resolveEngine(env);
  if (e.source !== "context") return out;
  delete out.DOCKER_CONTEXT;
  out.DOCKER_HOST = e.host;
  delete out.DOCKER_TLS_VERIFY;
  delete out.DOCKER_CERT_PATH;
  if (e.tls?.dir) {
    out.DOCKER_CERT_PATH = e.tls.dir;
    if (e.tls.verify) out.DOCKER_TLS_VERIFY = "1";
  }
  return out;
}

/** dockerode options for an endpoint (unix socket, tcp with or without TLS, ssh). */
export function dockerodeOptions(e: EngineEndpoint): Record<string, unknown> {
  const url = e.host;
  if (url.startsWith("unix://")) return { socketPath: url.slice("unix://".length) };
  if (url.startsWith("npipe://")) return { socketPath: url.slice("npipe://".length) };
  const u = new URL(url.replace(/^tcp:/, e.tls ? "https:" : "http:"));
  const opts: Record<string, unknown> = { host: u.hostname, port: u.port ? Number(u.port) : undefined };
  if (url.startsWith("ssh://")) return { ...opts, protocol: "ssh", port: u.port ? Number(u.port) : 22, username: u.username || undefined };
  if (e.tls?.dir) {
    const read = (f: string) => (existsSync(join(e.tls!.dir!, f)) ? readFileSync(join(e.tls!.dir!, f)) : undefined);
    return { ...opts, protocol: "https", ca: read("ca.pem"), cert: read("cert.pem"), key: read("key.pem"), ...(e.tls.verify ? {} : { rejectUnauthorized: false }) };
  }
  return { ...opts, protocol: u.protocol === "https:" ? "https" : "http" };
}

/**
 * How to reach an endpoint with node:http / node:https (the read-only client, engine-lite.ts):
 * a unix socket, or a host and port over http or https with the TLS material. It is decided as
 * dockerode decides it (docker-modem's defaults for DOCKER_HOST and the default socket,
 * dockerodeOptions for a context), so both clients reach the same engine the same way. null
 * when only dockerode can serve it: ssh:// and npipe:// engines, a DOCKER_HOST it would refuse
 * or read TLS files for that are missing (dockerode then says why), DOCKER_PATH_PREFIX or
 * DOCKER_CLIENT_TIMEOUT (honoured by dockerode alone).
 */
export type EngineTransport =
  | { socketPath: string }
  | { protocol: "http" | "https"; host: string; port?: number; ca?: Buffer | string; cert?: Buffer; key?: Buffer; rejectUnauthorized?: false };

export function engineTransport(e: EngineEndpoint, env: NodeJS.ProcessEnv = process.env, home: string = homedir()): EngineTransport | null {
  try {
    if (e.source === "context") {
      if (!/^(unix|tcp|https?):\/\//.test(e.host)) return null;
      const o = dockerodeOptions(e);
      if (typeof o.socketPath === "string") return o.socketPath ? { socketPath: o.socketPath } : null;
      return tcpTransport(o.protocol === "https" ? "https" : "http", String(o.host), o.port as number | undefined, {
        ca: o.ca as Buffer | undefined,
        cert: o.cert as Buffer | undefined,
        key: o.key as Buffer | undefined,
        ...(o.rejectUnauthorized === false ? { rejectUnauthorized: false as const } : {}),
      });
    }
    const host = env.DOCKER_HOST ?? "";
    // docker-modem's own defaults (DOCKER_HOST unset: ~/.docker/run/docker.sock when there, else the system socket).
    if (!host) return { socketPath: defaultSocket(home) };
    if (host.startsWith("unix://")) return { socketPath: host.slice("unix://".length) || defaultSocket(home) };
    if (host.startsWith("npipe://") || env.DOCKER_PATH_PREFIX || env.DOCKER_CLIENT_TIMEOUT) return null;
    const u = new URL(host.includes("//") ? host : `tcp://${host}`);
    if (u.protocol === "ssh:") return null;
    const https = env.DOCKER_TLS_VERIFY === "1" || u.port === "2376";
    const certs = env.DOCKER_CERT_PATH
      ? {
          ca: readFileSync(join(env.DOCKER_CERT_PATH, "ca.pem"), "utf8"),
          cert: readFileSync(join(env.DOCKER_CERT_PATH, "cert.pem")),
          key: readFileSync(join(env.DOCKER_CERT_PATH, "key.pem")),
        }
      : {};
    return tcpTransport(https ? "https" : "http", u.hostname, u.port ? Number(u.port) : undefined, certs);
  } catch {
    return null;
  }
}

function tcpTransport(protocol: "http" | "https", host: string, port: number | undefined, tls: { ca?: Buffer | string; cert?: Buffer; key?: Buffer; rejectUnauthorized?: false }): EngineTransport | null {
  if (!host) return null;
  const out: EngineTransport = { protocol, host: host.replace(/^\[(.*)\]$/, "$1"), ...(port ? { port } : {}) };
  if (protocol === "https") {
    if (tls.ca) out.ca = tls.ca;
    if (tls.cert) out.cert = tls.cert;
    if (tls.key) out.key = tls.key;
    if (tls.rejectUnauthorized === false) out.rejectUnauthorized = false;
  }
  return out;
}

function defaultSocket(home: string): string {
  const user = join(home, ".docker", "run", "docker.sock");
  try {
    accessSync(user);
    return user;
  } catch {
    return DEFAULT_HOST.slice("unix://".length);
  }
}

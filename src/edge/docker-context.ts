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
import { existsSync, readFileSync } from "node:fs";
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

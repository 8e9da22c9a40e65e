/**
 * Registry credentials from the user's Docker config (`auths`, `credsStore`, `credHelpers`),
 * the same file `docker login` writes.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { UsageError } from "../../core/errors.js";
import { DOCKER_HUB } from "../../core/reference.js";

// --- credentials ----------------------------------------------------------------------

export interface Credentials {
  username?: string;
  password?: string;
  /** An OAuth2 refresh token (`docker login` to registries that hand one out). */
  identityToken?: string;
}

interface DockerConfigFile {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
}

export function dockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.DOCKER_CONFIG || join(homedir(), ".docker"), "config.json");
}

/** The keys `docker login` may have stored a registry under, most specific first. */
function configKeys(registry: string): string[] {
  if (registry === DOCKER_HUB) return ["https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io"];
  return [registry, `https://${registry}`, `http://${registry}`, `https://${registry}/v1/`, `https://${registry}/v2/`];
}

const stripKey = (k: string) => k.replace(/^https?:\/\//, "").replace(/\/.*$/, "");

/**
 * Credentials for a registry from the Docker config, or null when there are none. A
 * credential helper (`credHelpers[host]`, else `credsStore`) is asked first, as the docker CLI
 * does; a helper that has nothing for the host is not an error.
 */
export function credentialsFor(registry: string, env: NodeJS.ProcessEnv = process.env): Credentials | null {
  const path = dockerConfigPath(env);
  let cfg: DockerConfigFile;
  try {
    cfg = JSON.parse(readFileSync(path, "utf8")) as DockerConfigFile;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new UsageError(`${path}: cannot read the Docker config (${(e as Error).message})`);
  }
  const keys = configKeys(registry);
  const helper = keys.map((k) => cfg.credHelpers?.[k]).find(Boolean) ?? cfg.credsStore;
  if (helper) {
    const fromHelper = askHelper(helper, registry === DOCKER_HUB ? keys[0]! : registry);
    if (fromHelper) return fromHelper;
  }
  const auths = cfg.auths ?? {};
  const wanted = new Set(keys.map(stripKey));
  const key = keys.find((k) => auths[k]) ?? Object.keys(auths).find((k) => wanted.has(stripKey(k)));
  const entry = key ? auths[key] : undefined;
  if (!entry) return null;
  if (entry.identitytoken) return { ...(entry.username ? { username: entry.username } : {}), identityToken: entry.identitytoken };
  if (entry.auth) {
    const text = Buffer.from(entry.auth, "base64").toString("utf8");
    const i = text.indexOf(":");
    if (i < 0) throw new UsageError(`${path}: the "auth" of ${key} is not base64 user:password`);
    return { username: text.slice(0, i), password: text.slice(i + 1) };
  }
  if (entry.username && entry.password) return { username: entry.username, password: entry.password };
  return null;
}

function askHelper(helper: string, server: string): Credentials | null {
  const r = spawnSync(`docker-credential-${helper}`, ["get"], { input: server, encoding: "utf8", timeout: 30_000 });
  if (r.error || r.status !== 0) return null;
  try {
    const out = JSON.parse(r.stdout) as { Username?: string; Secret?: string };
    if (!out.Secret) return null;
    if (out.Username === "<token>") return { identityToken: out.Secret };
    return { username: out.Username ?? "", password: out.Secret };
  } catch {
    return null;
  }
}

/** The X-Registry-Auth body the Engine API wants for a push (dockerode `authconfig`). */
export function engineAuthConfig(registry: string, creds: Credentials | null): Record<string, string> | undefined {
  if (!creds) return undefined;
  const serveraddress = registry === DOCKER_HUB ? "https://index.docker.io/v1/" : registry;
  if (creds.identityToken) return { identitytoken: creds.identityToken, serveraddress };
  return { username: creds.username ?? "", password: creds.password ?? "", serveraddress };
}

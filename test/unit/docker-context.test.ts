/**
 * Which engine, as the docker CLI decides: DOCKER_HOST, then DOCKER_CONTEXT, then currentContext
 * in $DOCKER_CONFIG/config.json, then the default socket; contexts (and their TLS material)
 * found by the sha256 of their name; the docker CLI subprocesses get the same engine. No engine.
 */
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DEFAULT_HOST, describeEngine, dockerCliEnv, dockerodeOptions, resolveEngine } from "../../src/edge/docker-context.js";

const work = mkdtempSync(join(tmpdir(), "mcp-rewrap-context-unit-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A Docker config dir with contexts as `docker context create` writes them. */
function config(contexts: Record<string, { host: string; skipTLSVerify?: boolean; tls?: boolean }>, current?: string): string {
  const dir = mkdtempSync(join(work, "cfg-"));
  if (current !== undefined) writeFileSync(join(dir, "config.json"), JSON.stringify({ auths: {}, currentContext: current }));
  for (const [name, c] of Object.entries(contexts)) {
    const id = createHash("sha256").update(name).digest("hex");
    mkdirSync(join(dir, "contexts", "meta", id), { recursive: true });
    writeFileSync(
      join(dir, "contexts", "meta", id, "meta.json"),
      JSON.stringify({ Name: name, Metadata: { Description: "" }, Endpoints: { docker: { Host: c.host, SkipTLSVerify: !!c.skipTLSVerify } } }),
    );
    if (c.tls) {
      const tls = join(dir, "contexts", "tls", id, "docker");
      mkdirSync(tls, { recursive: true });
      for (const f of ["ca.pem", "cert.pem", "key.pem"]) writeFileSync(join(tls, f), `${f}\n`);
    }
  }
  return dir;
}

describe("resolveEngine", () => {
  const cfg = config(
    {
      engine2: { host: "unix:///run/mcp-rewrap-engine2/docker.sock" },
      remote: { host: "tcp://10.0.0.5:2376", tls: true },
      insecure: { host: "tcp://10.0.0.6:2376", tls: true, skipTLSVerify: true },
    },
    "remote",
  );

  it("DOCKER_HOST wins over everything", () => {
    expect(resolveEngine({ DOCKER_HOST: "tcp://1.2.3.4:2375", DOCKER_CONTEXT: "engine2", DOCKER_CONFIG: cfg })).toEqual({ host: "tcp://1.2.3.4:2375", source: "DOCKER_HOST" });
  });

  it("then DOCKER_CONTEXT", () => {
    const e = resolveEngine({ DOCKER_CONTEXT: "engine2", DOCKER_CONFIG: cfg });
    expect(e).toEqual({ host: "unix:///run/mcp-rewrap-engine2/docker.sock", source: "context", context: "engine2" });
    expect(describeEngine(e)).toBe("unix:///run/mcp-rewrap-engine2/docker.sock (context engine2)");
    expect(dockerodeOptions(e)).toEqual({ socketPath: "/run/mcp-rewrap-engine2/docker.sock" });
  });

  it("then currentContext of the config file (DOCKER_CONFIG-aware), with its TLS material", () => {
    const e = resolveEngine({ DOCKER_CONFIG: cfg });
    const id = createHash("sha256").update("remote").digest("hex");
    expect(e).toEqual({ host: "tcp://10.0.0.5:2376", source: "context", context: "remote", tls: { dir: join(cfg, "contexts", "tls", id, "docker"), verify: true } });
    const o = dockerodeOptions(e);
    expect(o).toMatchObject({ host: "10.0.0.5", port: 2376, protocol: "https" });
    expect(String(o.ca)).toBe("ca.pem\n");
    expect(String(o.cert)).toBe("cert.pem\n");
    expect(String(o.key)).toBe("key.pem\n");
    expect(o.rejectUnauthorized).toBeUndefined();
  });

  it("SkipTLSVerify is honoured", () => {
    const e = resolveEngine({ DOCKER_CONTEXT: "insecure", DOCKER_CONFIG: cfg });
    expect(e.tls?.verify).toBe(false);
    expect(dockerodeOptions(e).rejectUnauthorized).toBe(false);
  });

  it("the default context, or no config at all, is the default socket", () => {
    expect(resolveEngine({ DOCKER_CONTEXT: "default", DOCKER_CONFIG: cfg })).toEqual({ host: DEFAULT_HOST, source: "default" });
    expect(resolveEngine({ DOCKER_CONFIG: join(work, "nothing-here") })).toEqual({ host: DEFAULT_HOST, source: "default" });
    expect(resolveEngine({ HOME: join(work, "no-home") })).toEqual({ host: DEFAULT_HOST, source: "default" });
  });

  it("a context that does not exist is one usage line naming it and where it was looked for", () => {
    expect(() => resolveEngine({ DOCKER_CONTEXT: "nope", DOCKER_CONFIG: cfg })).toThrow(
      /^Docker context "nope" \(DOCKER_CONTEXT\): no such context \(looked for .*contexts\/meta\/[0-9a-f]{64}\/meta\.json\); run `docker context ls`, or unset DOCKER_CONTEXT$/,
    );
  });
});

describe("dockerCliEnv: the docker CLI subprocesses get the same engine", () => {
  const cfg = config({ engine2: { host: "unix:///run/e2/docker.sock" }, remote: { host: "tcp://10.0.0.5:2376", tls: true } });

  it("a context becomes DOCKER_HOST (and DOCKER_CERT_PATH + DOCKER_TLS_VERIFY for TLS); DOCKER_CONTEXT is dropped", () => {
    const env = dockerCliEnv({ DOCKER_CONTEXT: "engine2", DOCKER_CONFIG: cfg, PATH: "/bin" });
    expect(env).toEqual({ DOCKER_HOST: "unix:///run/e2/docker.sock", DOCKER_CONFIG: cfg, PATH: "/bin" });
    const tls = dockerCliEnv({ DOCKER_CONTEXT: "remote", DOCKER_CONFIG: cfg });
    expect(tls.DOCKER_HOST).toBe("tcp://10.0.0.5:2376");
    expect(tls.DOCKER_TLS_VERIFY).toBe("1");
    expect(tls.DOCKER_CERT_PATH).toMatch(/contexts\/tls\/[0-9a-f]{64}\/docker$/);
  });

  it("DOCKER_HOST and the default pass through unchanged", () => {
    expect(dockerCliEnv({ DOCKER_HOST: "unix:///x.sock", PATH: "/bin" })).toEqual({ DOCKER_HOST: "unix:///x.sock", PATH: "/bin" });
    expect(dockerCliEnv({ DOCKER_CONFIG: join(work, "none"), PATH: "/bin" })).toEqual({ DOCKER_CONFIG: join(work, "none"), PATH: "/bin" });
  });
});

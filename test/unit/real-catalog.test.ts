/**
 * Real catalog data (test/fixtures/real: docker/mcp-registry's server.yaml files and a catalog in
 * the published docker-mcp.yaml shape) through the pure catalog code: read leniently (every key
 * the gateway would ignore is accepted and kept), written strictly (only the gateway's keys; the
 * Go decoder with KnownFields accepts every file), and `catalog` changes nothing but `image`.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { type CatalogServer, catalogYaml, configKeys, parseCatalog, rewrappedEntry, serverNameProblem, shWord, usageCommands } from "../../src/core/catalog.js";
import { SERVER_SHAPE, gatewayView, unknownKeys } from "../../src/core/gateway-schema.js";
import { catalogCheck, catalogCheckBinary } from "../support/catalogcheck.js";

const REAL = new URL("../fixtures/real/", import.meta.url).pathname;
const SERVERS = readdirSync(join(REAL, "servers")).filter((f) => f.endsWith(".yaml")).sort();
const work = mkdtempSync(join(tmpdir(), "mcp-rewrap-real-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const read = (rel: string) => parseCatalog(readFileSync(join(REAL, rel), "utf8"), rel);
const published = read("docker-mcp.yaml");

/** Every (source, server, entry) of the real fixtures. */
const ALL: [string, string, CatalogServer][] = [
  ...SERVERS.map((f) => {
    const c = read(`servers/${f}`);
    const [name, entry] = Object.entries(c.servers)[0]!;
    return [`servers/${f}`, name, entry] as [string, string, CatalogServer];
  }),
  ...Object.entries(published.servers).map(([name, entry]) => ["docker-mcp.yaml", name, entry] as [string, string, CatalogServer]),
];

describe("real fixtures are read leniently", () => {
  it("has the ten servers, each file headed by repo, path and commit", () => {
    expect(SERVERS.map((f) => f.replace(/\.yaml$/, ""))).toEqual(
      ["aks", "aws-diagram", "cloud-run-mcp", "elevenlabs", "filesystem", "hoverfly-mcp-server", "inspektor-gadget", "kubectl-mcp-server", "kubernetes", "okta-mcp-server"],
    );
    for (const f of SERVERS) {
      expect(readFileSync(join(REAL, "servers", f), "utf8")).toMatch(/^# From github\.com\/docker\/mcp-registry, servers\/[a-z-]+\/server\.yaml at commit [0-9a-f]{40}\n/);
    }
    expect(readFileSync(join(REAL, "docker-mcp.yaml"), "utf8")).toMatch(/docker\/mcp-registry[\s\S]*818bf169b365e7b7d5b117352e32757c54844718/);
  });

  it("the published shape parses, its extra keys kept on the entries (the gateway ignores them, so do we)", () => {
    expect(published.kind).toBe("legacy");
    expect(Object.keys(published.servers)).toHaveLength(10);
    const k = published.servers.kubernetes!;
    expect(k).toMatchObject({ dateAdded: expect.any(String), ref: "", toolsUrl: expect.stringContaining("/tools/kubernetes.json"), prompts: 0, resources: {} });
    expect(unknownKeys(k)).toEqual(["dateAdded", "ref", "toolsUrl", "source", "upstream", "prompts", "resources"]);
    expect(unknownKeys(published.servers["okta-mcp-server"]!)).toContain("secrets[0].example");
  });

  it("a server.yaml converts as the published catalog has it (ToTile's mapping), for every field the gateway reads", () => {
    for (const f of SERVERS) {
      const [name, entry] = Object.entries(read(`servers/${f}`).servers)[0]!;
      const pub = published.servers[name]!;
      const mine = gatewayView(entry, SERVER_SHAPE) as Record<string, unknown>;
      const theirs = gatewayView(pub, SERVER_SHAPE) as Record<string, unknown>;
      // name: the published catalog keys by it; metadata: ToTile adds owner/license from GitHub;
      // remote/oauth: ToTile writes empty ones; readme: a URL ToTile makes up; longLived: ToTile
      // drops it, we keep it.
      const strip = (o: Record<string, unknown>) => {
        const { name: _n, metadata: _m, remote: _r, oauth: _o, tools: _t, readme: _rd, longLived: _l, ...rest } = o;
        return rest;
      };
      expect(strip(mine), name).toEqual(strip(theirs));
    }
    expect(read("servers/inspektor-gadget.yaml").servers["inspektor-gadget"]!.longLived).toBe(true);
  });

  it("keeps env, secrets, disableNetwork, icon, command and user from server.yaml", () => {
    const okta = read("servers/okta-mcp-server.yaml").servers["okta-mcp-server"]!;
    expect(okta.env?.map((e) => e.name)).toEqual(["OKTA_ORG_URL", "OKTA_CLIENT_ID", "OKTA_SCOPES", "OKTA_KEY_ID", "OKTA_LOG_LEVEL", "OKTA_LOG_FILE"]);
    expect(okta.secrets).toEqual([{ name: "okta-mcp-server.okta_private_key", env: "OKTA_PRIVATE_KEY" }]);
    const cloud = read("servers/cloud-run-mcp.yaml").servers["cloud-run-mcp"]!;
    expect(cloud.env).toEqual([{ name: "GOOGLE_APPLICATION_CREDENTIALS", value: "/app/.config/gcloud/application_default_credentials.json" }]);
    const fs = read("servers/filesystem.yaml").servers.filesystem!;
    expect(fs).toMatchObject({ disableNetwork: true, command: ["{{filesystem.paths|volume-target|into}}"], icon: expect.stringMatching(/^https:/) });
    expect(read("servers/aks.yaml").servers.aks!.user).toBe("{{aks.container_user}}");
  });

  it("config keys are read through the gateway's filters", () => {
    expect(configKeys(published.servers["okta-mcp-server"]!)).toEqual([
      "okta-mcp-server.log_path",
      "okta-mcp-server.okta_client_id",
      "okta-mcp-server.okta_key_id",
      "okta-mcp-server.okta_log_level",
      "okta-mcp-server.okta_org_url",
      "okta-mcp-server.okta_scopes",
    ]);
    expect(configKeys(published.servers.filesystem!)).toEqual(["filesystem.paths"]);
  });
});

describe("catalog writes strictly and changes only image", () => {
  const TAG = "ghcr.io/example/rewrapped:1";
  const written: string[] = [];
  let n = 0;
  for (const [src, name, entry] of ALL) {
    it(`${src} ${name}: every other field equal after a YAML round trip, both formats`, () => {
      for (const format of ["profile", "legacy"] as const) {
        const out = rewrappedEntry(name, entry, TAG);
        const { yaml, dropped, written: entryWritten } = catalogYaml(name, out, format);
        const file = join(work, `${n++}-${name}.${format}.yaml`);
        writeFileSync(file, yaml);
        written.push(file);
        const doc = YAML.parse(yaml);
        const back = format === "profile" ? doc : doc.registry[name];
        const want = gatewayView({ ...(entry.name === undefined ? { name } : {}), ...entry }, SERVER_SHAPE) as Record<string, unknown>;
        expect(back.image).toBe(TAG);
        expect({ ...back, image: null }).toEqual({ ...want, image: null });
        expect(back.description).toBe(entry.description);
        expect(dropped).toEqual(unknownKeys(entry));
        // What --json reports as the entry is what the file holds (it listed the dropped keys too).
        expect(JSON.parse(JSON.stringify(entryWritten))).toEqual(back);
      }
    });
  }

  it("the gateway's strict decoder (Go, yaml.v3, KnownFields) accepts every file catalog wrote", () => {
    const bin = catalogCheckBinary(work);
    expect(written.length).toBe(ALL.length * 2);
    const r = catalogCheck(bin, written);
    expect(r.out).not.toMatch(/not found in type/);
    expect(r.code, r.out).toBe(0);
  });

  it("the same decoder refuses the published catalog itself (the check can fail)", () => {
    const bin = catalogCheckBinary(work);
    const r = catalogCheck(bin, [join(REAL, "docker-mcp.yaml")]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/field dateAdded not found in type main\.server/);
    expect(r.out).toMatch(/field example not found in type main\.secret/);
  });

  it("the printed commands name the file inside ~/.docker/mcp/catalogs and say what older gateways need", () => {
    const cmds = usageCommands("kubernetes", "/work/k.server.yaml", "profile", ["kubernetes.config_path"], { catalogs: "/home/u/.docker/mcp/catalogs", installed: false });
    expect(cmds[0]).toBe("mkdir -p /home/u/.docker/mcp/catalogs && cp /work/k.server.yaml /home/u/.docker/mcp/catalogs/k.server.yaml");
    expect(cmds).toContain("docker mcp profile create --name kubernetes --server file:///home/u/.docker/mcp/catalogs/k.server.yaml");
    expect(cmds).toContain("docker mcp profile config kubernetes --set kubernetes.config_path=<value>");
    const inst = usageCommands("kubernetes", "/home/u/.docker/mcp/catalogs/k.catalog.yaml", "legacy", [], { catalogs: "/home/u/.docker/mcp/catalogs", installed: true });
    expect(inst[0]).toBe("docker mcp gateway run --additional-catalog /home/u/.docker/mcp/catalogs/k.catalog.yaml --servers kubernetes");
    expect(inst.join("\n")).toMatch(/older ones: docker mcp catalog import/);
    for (const c of [...cmds, ...inst]) expect(c).not.toMatch(/file:\/\/\/work\//);
  });

  it("refuses to write what the gateway could not decode", () => {
    expect(() => catalogYaml("x", { name: "x", type: "server", image: "i", volumes: "nope" } as unknown as CatalogServer, "profile")).toThrow(/volumes: must be a list/);
    expect(() => catalogYaml("x", { name: "x", type: "server", image: "i", disableNetwork: "yes" } as unknown as CatalogServer, "profile")).toThrow(/disableNetwork: must be true or false/);
  });
});

describe("what a hand-written catalog may hold", () => {
  it("a scalar where the gateway wants a string is read as yaml.v3 reads it, the text as written (user: 1001 crashed scan and catalog)", () => {
    const c = parseCatalog('registry:\n  a:\n    type: server\n    image: x/y\n    user: 1001\n    volumes: [42, 0x10, ~, "/h:/root/.kube"]\n    longLived: true\n    command: [1.50]\n', "t.yaml");
    const a = c.servers.a!;
    expect(a.user).toBe("1001");
    expect(a.volumes).toEqual(["42", "0x10", "", "/h:/root/.kube"]);
    expect(a.command).toEqual(["1.50"]);
    expect(a.longLived).toBe(true);
    // configKeys and the written file take them as strings.
    expect(configKeys(a)).toEqual([]);
    expect(catalogYaml("a", rewrappedEntry("a", a, "mcp-rewrap/y:latest"), "profile").yaml).toContain('user: "1001"');
    // A single-server file too.
    expect(parseCatalog("name: b\ntype: server\nimage: x/y\nuser: 0\n", "b.yaml").servers.b!.user).toBe("0");
  });

  it("a file that is not UTF-8 is refused, naming it (bytes were replaced by U+FFFD and judged)", async () => {
    const f = join(work, "latin1.yaml");
    writeFileSync(f, Buffer.concat([Buffer.from('registry:\n  a:\n    type: server\n    image: x/y\n    volumes: ["/x:/root/'), Buffer.from([0xff]), Buffer.from('"]\n')]));
    const { readCatalogFile } = await import("../../src/edge/fs.js");
    await expect(readCatalogFile(f)).rejects.toThrow(`${f}: not UTF-8 text; a catalog is a YAML file in UTF-8`);
  });

  it("server names: only a plain file name is written for (../../x wrote outside the catalogs directory)", () => {
    for (const ok of ["kubernetes", "okta-mcp-server", "a.b_c-1", "_x"]) expect(serverNameProblem(ok)).toBeNull();
    for (const bad of ["../../escape", "sub/dir", "with space", ".hidden", "-x", "", "a\nb"]) expect(serverNameProblem(bad)).toMatch(/not a server name mcp-rewrap writes a file for/);
  });

  it("the printed commands quote a path the shell would split", () => {
    const cmds = usageCommands("kubernetes", "/work/my dir/k.server.yaml", "profile", [], { catalogs: "/home/u s/.docker/mcp/catalogs", installed: false });
    expect(cmds[0]).toBe("mkdir -p '/home/u s/.docker/mcp/catalogs' && cp '/work/my dir/k.server.yaml' '/home/u s/.docker/mcp/catalogs/k.server.yaml'");
    expect(cmds).toContain("docker mcp profile create --name kubernetes --server 'file:///home/u s/.docker/mcp/catalogs/k.server.yaml'");
    expect(shWord("it's")).toBe("'it'\\''s'");
  });
});

describe("YAML merge keys, as the gateway's yaml.v3 applies them", () => {
  it("<<: *anchor in an entry gives it the anchor's fields (it was refused: 'type: must be server, remote or poci (got undefined)'); its own keys win", () => {
    const text = "x-base: &base\n  type: server\n  image: a/b:1\n  title: base\nregistry:\n  b:\n    <<: *base\n    title: mine\n    volumes: [\"/h:/root/.kube/config\"]\n";
    const b = parseCatalog(text, "m.yaml").servers.b!;
    expect(b).toMatchObject({ type: "server", image: "a/b:1", title: "mine", volumes: ["/h:/root/.kube/config"] });
  });
});

describe("mapping keys that are collections, which the gateway's yaml.v3 refuses", () => {
  it("a sequence, a mapping or an alias of one as a key: one line naming where, no warning from Node (it was taken as the string '[ a, b ]', with a multi-line warning)", () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on("warning", onWarning);
    try {
      for (const [text, line] of [
        ["registry:\n  ? [a, b]\n  : {type: server, image: x/y:1}\n", 2],
        ["registry:\n  b:\n    type: server\n    image: x/y:1\n    env:\n      ? {k: v}\n      : 1\n", 6],
        ["x: &k [a]\nregistry:\n  ? *k\n  : {type: server, image: x/y:1}\n", 3],
      ] as const) {
        expect(() => parseCatalog(text, "k.yaml"), text).toThrow(new RegExp(`^k\\.yaml: not valid YAML: a mapping key at line ${line}, column \\d+ is a sequence or a mapping, which the gateway's YAML decoder refuses; fix the file`));
      }
      // Scalar keys of every kind stay fine.
      expect(Object.keys(parseCatalog("registry:\n  1:\n    type: remote\n  true:\n    type: remote\n", "s.yaml").servers)).toEqual(["1", "true"]);
    } finally {
      process.off("warning", onWarning);
    }
    expect(warnings).toEqual([]);
  });
});

describe("server names that are Object.prototype's", () => {
  it("a server named __proto__ is a server like any other (it vanished: scan judged nothing for it)", () => {
    const servers = parseCatalog("registry:\n  __proto__:\n    type: server\n    image: a/b:1\n  constructor:\n    type: remote\n", "p.yaml").servers;
    expect(Object.keys(servers)).toEqual(["__proto__", "constructor"]);
    expect(Object.hasOwn(servers, "__proto__") && servers["__proto__"]!.image).toBe("a/b:1");
  });

  it("catalog --server constructor: no built-in entry (it took Object's constructor for one)", async () => {
    const { catalogCommand } = await import("../../src/commands/catalog.js");
    await expect(catalogCommand("mcp-rewrap/kubernetes:latest", { server: "constructor", format: "profile", out: join(work, "c.yaml"), progress: () => {} })).rejects.toThrow(/^no built-in entry for "constructor"/);
  });
});

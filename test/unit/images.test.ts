/**
 * images/ is generated: every committed file of images/<server>/ must be exactly what
 * `mcp-rewrap images` renders from that folder's facts.json. This is the CI check that the
 * published contexts are not stale (after a change to templates/ or the plan: `make images`).
 * No engine, no registry.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { parseCatalog } from "../../src/core/catalog.js";
import { scanServer } from "../../src/core/scan.js";
import { listImageDirs, readFactsFile, writeContext } from "../../src/edge/fs.js";
import { pinnedDigest } from "../../src/core/plan.js";
import { PUBLISH_REPO, publishTag, renderImageDir } from "../../src/commands/images.js";

const root = fileURLToPath(new URL("../../images", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "mcp-rewrap-images-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The digest the Docker MCP catalog pins mcp/kubernetes to (docker/mcp-gateway, pkg/gateway/config_validation_test.go). */
const CATALOG_PIN = "sha256:ad0316b4ddcc61356d45abce4abf5b090c85cd20ffbff5dd0b6e743db11cb788";

describe("images/", () => {
  const dirs = listImageDirs(root);

  it("has the real affected servers: kubernetes (pinned), aks and okta-mcp-server (not pinned yet)", () => {
    expect(dirs.map((d) => d.server)).toEqual(["aks", "kubernetes", "okta-mcp-server"]);
    expect(dirs.filter((d) => !pinnedDigest(d.facts)).map((d) => d.server)).toEqual(["aks", "okta-mcp-server"]);
  });

  for (const { server, dir, facts } of dirs.filter((d) => !pinnedDigest(d.facts))) {
    it(`${server}: not pinned, so only its facts.json and a README saying the digest is unknown; the facts make scan flag it`, () => {
      expect(readdirSync(dir).sort()).toEqual(["README.md", "facts.json"]);
      expect(readFileSync(join(dir, "README.md"), "utf8")).toMatch(/Unknown: the digest and the image ID/);
      expect(facts.id).toBe("");
      const real = parseCatalog(readFileSync(join(root, "../test/fixtures/real/servers", `${server}.yaml`), "utf8"), server).servers[server]!;
      expect(readFileSync(join(dir, "README.md"), "utf8")).toContain(readFileSync(join(root, "../test/fixtures/real/servers", `${server}.yaml`), "utf8").match(/commit: ([0-9a-f]{40})/)![1]!);
      const host = { path: "/h", type: "file" as const, uid: 1000, gid: 1000, mode: 0o600 };
      const dirStat = { ...host, type: "directory" as const, mode: 0o700, entries: [] };
      const r = scanServer(server, real, {
        config: { aks: { azure_dir: "/h/.azure", kubeconfig: "/h/kubeconfig" } },
        configSource: "test",
        image: { facts, via: "facts.json" },
        hostStat: (p) => (p.endsWith(".azure") ? { ...dirStat, path: p } : { ...host, path: p }),
      });
      expect(r.status, JSON.stringify(r)).toBe("affected");
      expect(r.user).toMatch(server === "aks" ? /^mcp \(uid 100, gid 101/ : /^appuser \(uid 1000, gid 1000/);
    });
  }

  for (const { server, dir, facts } of dirs.filter((d) => pinnedDigest(d.facts))) {
    it(`${server}: regenerates byte-identically from its facts.json (run \`make images\` if not)`, async () => {
      const out = join(work, server);
      writeContext(out, await renderImageDir(server, facts));
      const committed = readdirSync(dir).filter((f) => !f.startsWith(".")).sort();
      const generated = readdirSync(out).sort();
      expect(committed, `files in images/${server}`).toEqual(generated);
      for (const f of generated) {
        const want = readFileSync(join(out, f));
        const have = readFileSync(join(dir, f));
        expect(have.equals(want), `images/${server}/${f} is stale: run \`make images\` and commit it`).toBe(true);
        expect(statSync(join(dir, f)).mode & 0o111, `images/${server}/${f} executable bit`).toBe(statSync(join(out, f)).mode & 0o111);
      }
    });

    it(`${server}: the Dockerfile is FROM the pinned digest and adds no RUN step (multi-arch without QEMU)`, () => {
      const dockerfile = readFileSync(join(dir, "Dockerfile"), "utf8");
      const pin = pinnedDigest(facts);
      expect(pin).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(dockerfile).toMatch(new RegExp(`^FROM [a-z0-9./-]+@${pin}$`, "m"));
      expect(dockerfile).not.toMatch(/^RUN /m);
      const plan = JSON.parse(readFileSync(join(dir, "rewrap.json"), "utf8"));
      expect(plan.tag).toBe(publishTag(server, facts));
      expect(plan.tag.startsWith(`${PUBLISH_REPO}/${server}:`)).toBe(true);
    });
  }

  it("kubernetes is pinned to the digest the Docker MCP catalog uses, with the known facts of mcp/kubernetes", () => {
    const facts = readFactsFile(join(root, "kubernetes", "facts.json"));
    expect(facts.repoDigests).toEqual([`mcp/kubernetes@${CATALOG_PIN}`]);
    expect(facts.config).toMatchObject({
      user: "appuser",
      entrypoint: ["docker-entrypoint.sh"],
      cmd: ["node", "dist/index.js"],
      workdir: "/usr/local/app",
    });
    expect(facts.passwd).toMatch(/^appuser:x:1001:1001::\/home\/appuser:/m);
    expect(facts.passwd).toMatch(/^node:x:1000:1000:/m);
    expect(facts.present).toEqual(expect.arrayContaining(["/usr/bin/setpriv", "/bin/sh", "/usr/bin/tar", "/usr/bin/tr"]));
    const dockerfile = readFileSync(join(root, "kubernetes", "Dockerfile"), "utf8");
    expect(dockerfile).toContain(`FROM mcp/kubernetes@${CATALOG_PIN}`);
    expect(dockerfile).toContain('ENTRYPOINT ["/usr/local/bin/mcp-rewrap-entrypoint","docker-entrypoint.sh"]');
  });
});

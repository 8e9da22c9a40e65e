/**
 * The GitHub workflows, validated offline: the schema check of @action-validator/core (the
 * library behind the action-validator CLI), then what the publish pipeline promises: triggers,
 * least permissions, a concurrency group, every action pinned to a full commit SHA, both
 * platforms without QEMU, attestations, keyless signing.
 */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { validateWorkflow } from "@action-validator/core";
import YAML from "yaml";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));
const dir = join(root, ".github/workflows");
const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort();
const load = (f: string) => readFileSync(join(dir, f), "utf8");

type Step = { uses?: string; run?: string; with?: Record<string, unknown>; if?: string };
type Job = { permissions?: Record<string, string>; steps?: Step[]; needs?: string | string[]; strategy?: unknown };
type Workflow = { on: Record<string, unknown>; permissions?: Record<string, string>; concurrency?: { group: string }; jobs: Record<string, Job> };

const steps = (wf: Workflow) => Object.values(wf.jobs).flatMap((j) => j.steps ?? []);

describe(".github/workflows", () => {
  it("has ci.yml and publish.yml", () => {
    expect(files).toEqual(expect.arrayContaining(["ci.yml", "publish.yml"]));
  });

  for (const f of files) {
    it(`${f} passes the workflow schema (action-validator)`, () => {
      const state = validateWorkflow(load(f));
      expect(state.errors, JSON.stringify(state.errors, null, 2)).toEqual([]);
    });

    it(`${f} pins every action to a full commit SHA, with the version in a comment`, () => {
      const lines = load(f).split("\n").filter((l) => /^\s*(-\s+)?uses:/.test(l));
      expect(lines.length).toBeGreaterThan(0);
      for (const l of lines) expect(l, l).toMatch(/uses: [\w.-]+\/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$/);
    });
  }

  it("the validator rejects a broken workflow (so a pass means something)", () => {
    expect(validateWorkflow("name: x\non: push\njobs:\n  a:\n    bogus: 1\n    steps:\n      - run: echo\n").errors.length).toBeGreaterThan(0);
  });

  it("ci.yml runs make test on push and pull requests", () => {
    const wf = YAML.parse(load("ci.yml")) as Workflow;
    expect(Object.keys(wf.on)).toEqual(expect.arrayContaining(["push", "pull_request"]));
    expect(wf.permissions).toEqual({ contents: "read" });
    expect(steps(wf).some((s) => /\bmake test\b/.test(s.run ?? ""))).toBe(true);
    expect(steps(wf).some((s) => /images images --check/.test(s.run ?? ""))).toBe(true);
  });

  it("ci.yml fills the npm cache it restores: npm ci as the runner user, before any sudo step", () => {
    const wf = YAML.parse(load("ci.yml")) as Workflow;
    const all = steps(wf);
    const node = all.find((s) => s.uses?.startsWith("actions/setup-node@"));
    expect(node?.with).toMatchObject({ cache: "npm" });
    const npmCi = all.findIndex((s) => /^npm ci\b/.test(s.run ?? ""));
    expect(npmCi, "an `npm ci` step without sudo").toBeGreaterThan(all.indexOf(node!));
    const firstSudo = all.findIndex((s) => /\bsudo\b/.test(s.run ?? ""));
    expect(firstSudo).toBeGreaterThan(npmCi);
    expect(all.some((s) => /\bsudo\b.*\bnpm (ci|install)\b/.test(s.run ?? ""))).toBe(false);
  });

  it("ci.yml runs make lint, and make test runs both engines and the npm pack smoke test", () => {
    const wf = YAML.parse(load("ci.yml")) as Workflow;
    expect(steps(wf).some((s) => /\bmake lint\b/.test(s.run ?? ""))).toBe(true);
    const makefile = readFileSync(join(root, "Makefile"), "utf8");
    const testRule = /^test:.*\n((?:\t.*\n)+)/m.exec(makefile)?.[1] ?? "";
    expect(testRule).toContain("scripts/test-engines.sh");
    expect(testRule).toContain("scripts/pack-smoke.sh");
    expect(makefile).toMatch(/^ENGINES \?= system engine2$/m);
    const ci = readFileSync(join(root, ".ci/run"), "utf8");
    expect(ci).toMatch(/^make lint\b/m);
    expect(ci).toMatch(/^make test\b/m);
  });

  it("the multiarch test bed takes its arm64 package from the Debian mirror, not from the runner's apt", () => {
    const bed = readFileSync(join(root, "test/bed/multiarch.sh"), "utf8");
    const code = bed.split("\n").filter((l) => !/^\s*#/.test(l)).join("\n");
    expect(code).not.toMatch(/APT::Architectures|dpkg --add-architecture|apt-get[^\n]*(download|update)[^\n]*arm64|:arm64/);
    expect(code).toMatch(/dists\/\$suite\/InRelease/);
    expect(code).toMatch(/gpgv --keyring/);
  });

  describe("project metadata", () => {
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as Record<string, unknown>;

    it("LICENSE is the Apache-2.0 text package.json names", () => {
      expect(pkg.license).toBe("Apache-2.0");
      const license = readFileSync(join(root, "LICENSE"), "utf8");
      expect(license).toMatch(/^\s*Apache License\s+Version 2\.0, January 2004/);
      expect(license).toContain("TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION");
    });

    it("package.json names the repository, homepage and issue tracker", () => {
      expect(pkg.repository).toEqual({ type: "git", url: "git+https://github.com/mcp-rewrap/mcp-rewrap.git" });
      expect(pkg.homepage).toBe("https://github.com/mcp-rewrap/mcp-rewrap#readme");
      expect(pkg.bugs).toEqual({ url: "https://github.com/mcp-rewrap/mcp-rewrap/issues" });
    });

    it("dependabot keeps the pinned actions and the npm dependencies current", () => {
      const cfg = YAML.parse(readFileSync(join(root, ".github/dependabot.yml"), "utf8")) as {
        version: number;
        updates: { "package-ecosystem": string; directory: string; schedule: { interval: string } }[];
      };
      expect(cfg.version).toBe(2);
      const eco = Object.fromEntries(cfg.updates.map((u) => [u["package-ecosystem"], u]));
      expect(Object.keys(eco).sort()).toEqual(["github-actions", "npm"]);
      for (const u of Object.values(eco)) {
        expect(u.directory).toBe("/");
        expect(["daily", "weekly", "monthly"]).toContain(u.schedule.interval);
      }
    });
  });

  describe("publish.yml", () => {
    const wf = YAML.parse(load("publish.yml")) as Workflow;
    const publish = wf.jobs.publish!;
    const find = (action: string) => (publish.steps ?? []).find((s) => s.uses?.startsWith(`${action}@`));

    it("runs on push to main, daily and on demand, one run at a time", () => {
      expect((wf.on.push as { branches: string[] }).branches).toEqual(["main"]);
      expect((wf.on.schedule as { cron: string }[])[0]!.cron).toMatch(/^\d+ \d+ \* \* \*$/);
      expect(wf.on).toHaveProperty("workflow_dispatch");
      expect(wf.concurrency?.group).toMatch(/publish/);
    });

    it("has least permissions: read by default; packages + id-token only where it publishes", () => {
      expect(wf.permissions).toEqual({ contents: "read" });
      expect(publish.permissions).toEqual({ contents: "read", packages: "write", "id-token": "write" });
      expect(wf.jobs.refresh!.permissions).toEqual({ contents: "write", "pull-requests": "write" });
    });

    it("checks the upstream digests and opens a pull request with the new pin", () => {
      const refresh = wf.jobs.refresh!.steps ?? [];
      expect(refresh.some((s) => /images images --refresh/.test(s.run ?? ""))).toBe(true);
      expect(refresh.some((s) => s.uses?.startsWith("peter-evans/create-pull-request@"))).toBe(true);
    });

    it("builds linux/amd64 + linux/arm64 with buildx, tags from metadata-action, attestations, no QEMU", () => {
      expect(find("docker/setup-buildx-action")).toBeDefined();
      expect(steps(wf).some((s) => s.uses?.startsWith("docker/setup-qemu-action"))).toBe(false);
      const build = find("docker/build-push-action")!;
      expect(build.with).toMatchObject({ platforms: "linux/amd64,linux/arm64", push: true, provenance: "mode=max", sbom: true });
      expect(String(build.with!.tags)).toContain("steps.meta.outputs.tags");
      expect(String(build.with!.labels)).toContain("steps.meta.outputs.labels");
      const meta = find("docker/metadata-action")!;
      expect(String(meta.with!.images)).toContain("steps.pin.outputs.image");
      expect(String(meta.with!.tags)).toMatch(/type=raw,value=\$\{\{ steps\.pin\.outputs\.tag \}\}/);
      expect(String(meta.with!.tags)).toMatch(/type=sha/);
      expect(load("publish.yml")).toContain("IMAGE: ghcr.io/${{ github.repository_owner }}/mcp-rewrap/${{ matrix.server }}");
    });

    it("signs the pushed digest with keyless cosign", () => {
      expect(find("sigstore/cosign-installer")).toBeDefined();
      const sign = (publish.steps ?? []).find((s) => /cosign sign --yes/.test(s.run ?? ""));
      expect(sign?.run).toMatch(/@\$DIGEST/);
      expect(sign?.run).not.toMatch(/--key/);
    });

    it("every images/<server> Dockerfile has no RUN step (so buildx needs no emulation)", () => {
      const images = fileURLToPath(new URL("../../images", import.meta.url));
      const built = readdirSync(images, { withFileTypes: true }).filter((d) => d.isDirectory() && existsSync(join(images, d.name, "Dockerfile")));
      expect(built.length).toBeGreaterThan(0);
      for (const s of built) {
        expect(readFileSync(join(images, s.name, "Dockerfile"), "utf8")).not.toMatch(/^RUN /m);
      }
    });
  });
});

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

const dir = fileURLToPath(new URL("../../.github/workflows", import.meta.url));
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

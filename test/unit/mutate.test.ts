/**
 * ONE mutation for both routes: the config a Dockerfile build produces (its USER, ENTRYPOINT,
 * CMD and LABEL lines interpreted here the way the builder applies them) equals the config the
 * registry route writes (rewrapConfig) on the same base.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { ContainerConfigFields } from "../../src/core/facts.js";
import { contextKeyOf } from "../../src/core/freshness.js";
import { configChanges, rewrapConfig } from "../../src/core/mutate.js";
import type { ImageConfigBlob } from "../../src/core/oci.js";
import { planRewrap } from "../../src/core/plan.js";
import { renderContext } from "../../src/core/render.js";
import { loadTemplates } from "../../src/edge/fs.js";
import { OPTS, busyboxFacts, kubernetesFacts } from "./fixtures.js";

const templates = loadTemplates(join(fileURLToPath(new URL("../..", import.meta.url)), "templates"));

/** Applies a Dockerfile's config instructions to a base config, as the classic builder does. */
function applyDockerfile(dockerfile: string, base: ContainerConfigFields): ContainerConfigFields {
  const cfg: ContainerConfigFields = structuredClone(base);
  const logical = dockerfile.replace(/\\\n/g, " ").split("\n").filter((l) => l.trim() && !l.startsWith("#"));
  let entrypointSet = false;
  let cmdSet = false;
  for (const line of logical) {
    const [, op = "", rest = ""] = /^(\w+)\s+(.*)$/.exec(line.trim()) ?? [];
    switch (op.toUpperCase()) {
      case "FROM":
      case "COPY":
        break;
      case "USER":
        cfg.User = rest.trim();
        break;
      case "ENTRYPOINT":
        cfg.Entrypoint = JSON.parse(rest) as string[];
        entrypointSet = true;
        if (!cmdSet) cfg.Cmd = null; // ENTRYPOINT resets an inherited CMD
        break;
      case "CMD":
        cfg.Cmd = JSON.parse(rest) as string[];
        cmdSet = true;
        break;
      case "LABEL": {
        const labels = { ...(cfg.Labels ?? {}) };
        for (const m of rest.matchAll(/([\w.-]+)=("(?:[^"\\]|\\.)*")/g)) labels[m[1]!] = JSON.parse(m[2]!.replace(/\\\$/g, "$")) as string;
        cfg.Labels = labels;
        break;
      }
      default:
        throw new Error(`unexpected Dockerfile instruction: ${line}`);
    }
  }
  expect(entrypointSet).toBe(true);
  return cfg;
}

describe("mutate: the Dockerfile and the registry route make the same config", () => {
  const noCmd = kubernetesFacts();
  noCmd.config.cmd = null;
  for (const [name, facts] of [["kubernetes (entrypoint and CMD)", kubernetesFacts()], ["kubernetes without CMD", noCmd], ["busybox (CMD, no entrypoint)", busyboxFacts("mcp")]] as const) {
    it(name, () => {
      const plan = planRewrap(facts, { ...OPTS, env: ["MY_CFG"] });
      const key = contextKeyOf(plan, { env: ["MY_CFG"] }, templates);
      const base: ImageConfigBlob = {
        os: facts.os,
        architecture: facts.architecture,
        config: {
          User: facts.config.user,
          Env: facts.config.env,
          Entrypoint: facts.config.entrypoint,
          Cmd: facts.config.cmd,
          WorkingDir: facts.config.workdir,
          Labels: { "base.label": "kept", ...facts.config.labels },
        },
        rootfs: { type: "layers", diff_ids: ["sha256:base"] },
      };
      const dockerfile = renderContext(plan, templates, key).find((f) => f.path === "Dockerfile")!.content;
      const viaDockerfile = applyDockerfile(dockerfile, base.config!);
      const viaRegistry = rewrapConfig(base, plan, key, { diffId: "sha256:shim" }).config!;
      expect(viaRegistry).toEqual(viaDockerfile);
      expect(viaRegistry.User).toBe(configChanges(plan, key).User);
      expect(viaRegistry.Labels?.["base.label"]).toBe("kept");
    });
  }
});

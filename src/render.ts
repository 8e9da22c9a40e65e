/**
 * Pure: plan -> the files of a build context. Templates are handlebars text passed in (read
 * from templates/ at the edge by loadTemplates); the output depends on nothing else, so the
 * same plan always renders byte-identical files.
 */
import Handlebars from "handlebars";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { RewrapPlan } from "./plan.js";

export interface RenderedFile {
  path: string;
  content: string;
  mode: number;
}

export interface Templates {
  dockerfile: string;
  shim: string;
}

export function loadTemplates(dir: string): Templates {
  return {
    dockerfile: readFileSync(join(dir, "Dockerfile.hbs"), "utf8"),
    shim: readFileSync(join(dir, "entrypoint.sh.hbs"), "utf8"),
  };
}

/** Single-quotes a string for POSIX sh. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A Dockerfile LABEL key="value" pair; JSON string escaping is valid Dockerfile quoting. */
function labelLine(key: string, value: string): string {
  return `${key}=${JSON.stringify(value).replace(/\$/g, "\\$")}`;
}

/** Stable JSON: object keys sorted at every depth, two-space indent, trailing newline. */
export function stableJson(value: unknown): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (v && typeof v === "object") {
      return Object.fromEntries(
        Object.keys(v as object)
          .sort()
          .map((k) => [k, sort((v as Record<string, unknown>)[k])]),
      );
    }
    return v;
  };
  return `${JSON.stringify(sort(value), null, 2)}\n`;
}

/** Label carrying a hash of everything the build context is made from (plan and templates). */
export const CONTEXT_LABEL = "io.mcp-rewrap.context";

/** Same plan and templates -> same hash -> an existing image with this label needs no rebuild. */
export function contextHash(plan: RewrapPlan, templates: Templates): string {
  const { tag: _tag, ...rest } = plan;
  return `sha256:${createHash("sha256").update(stableJson({ plan: rest, templates })).digest("hex")}`;
}

export function renderContext(plan: RewrapPlan, templates: Templates): RenderedFile[] {
  const hb = Handlebars.create();
  hb.registerHelper("shq", (s: unknown) => new Handlebars.SafeString(shellQuote(String(s))));
  hb.registerHelper("json", (v: unknown) => JSON.stringify(v));
  const view = {
    ...plan,
    version: plan.tool.version,
    groupsCsv: plan.user.groups.join(","),
    mountLines: plan.mounts.join("\n"),
    envVarWords: plan.envVars.join(" "),
    labelLines: Object.entries({ ...plan.labels, [CONTEXT_LABEL]: contextHash(plan, templates) })
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => labelLine(k, v)),
  };
  const opts = { noEscape: true, strict: true } as const;
  return [
    { path: "Dockerfile", content: hb.compile(templates.dockerfile, opts)(view), mode: 0o644 },
    { path: "entrypoint.sh", content: hb.compile(templates.shim, opts)(view), mode: 0o755 },
    { path: "rewrap.json", content: stableJson(plan), mode: 0o644 },
  ];
}

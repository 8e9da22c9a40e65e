/**
 * What the CLI loads before it does anything (docs/BENCHMARKS.md rows 4 and 5): the modules a
 * file pulls in through its static imports, as the compiler emits them (type-only imports are
 * elided), followed through src/. Libraries and the modules behind them that only some runs
 * need load on first use (`await import()`), so they must not appear in these closures.
 */
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const SRC = fileURLToPath(new URL("../../src", import.meta.url));

/** The static imports of one file, as emitted JavaScript has them (no type-only ones, no import()). */
function staticImports(file: string): string[] {
  const js = ts.transpileModule(readFileSync(file, "utf8"), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  }).outputText;
  const out: string[] = [];
  for (const m of js.matchAll(/^\s*(?:import|export)\s(?:[^;'"]*?\sfrom\s)?["']([^"']+)["']/gm)) out.push(m[1]!);
  return out;
}

/** Every module reachable from `entry` by static imports: our files (relative to src/) and packages. */
function closure(entry: string): { files: string[]; packages: string[] } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    const rel = relative(SRC, file);
    if (files.has(rel)) return;
    files.add(rel);
    for (const spec of staticImports(file)) {
      if (spec.startsWith(".")) visit(resolve(dirname(file), spec.replace(/\.js$/, ".ts")));
      else if (!spec.startsWith("node:")) packages.add(spec);
    }
  };
  visit(join(SRC, entry));
  return { files: [...files].sort(), packages: [...packages].sort() };
}

describe("start-up: what loads before a command runs", () => {
  it("the CLI itself (--version, then --help) imports no package statically: commander loads in main()", () => {
    expect(closure("cli.ts")).toEqual({ files: ["cli.ts", "core/errors.ts", "edge/version.ts"], packages: [] });
  });

  it("build (a no-op build: facts, plan, key, one inspect) loads neither the renderer, catalogs, the registry side nor any library statically", () => {
    const { files, packages } = closure("commands/build.ts");
    expect(packages).toEqual([]);
    for (const lazy of ["core/render.ts", "core/mutate.ts", "core/catalog.ts", "edge/registry/blobs.ts", "edge/registry/client.ts", "edge/docker-run.ts"]) {
      expect(files, `${lazy} is loaded on first use`).not.toContain(lazy);
    }
    // The freshness key is computed without the renderer.
    expect(files).toContain("core/freshness.ts");
    expect(files).toContain("core/stable-json.ts");
  });

  it("the renderer (a build with --out, up to date or not) brings handlebars and no other library: tar-stream waits for a layer", () => {
    expect(closure("core/render.ts").packages).toEqual(["handlebars"]);
  });

  it("the finder sees what it must: a static import of a library is caught", () => {
    expect(closure("core/catalog.ts").packages).toContain("yaml");
    expect(closure("edge/registry/blobs.ts").packages).toContain("tar-stream");
  });
});

describe("the layout's arrows (README: Layout)", () => {
  const dir = (d: string) => readdirSync(join(SRC, d)).filter((f) => f.endsWith(".ts")).map((f) => join(d, f));
  const importsOf = (f: string) => staticImports(join(SRC, f)).filter((s) => s.startsWith(".")).map((s) => relative(SRC, resolve(dirname(join(SRC, f)), s)).replace(/\.js$/, ".ts"));
  const dynamicImportsOf = (f: string) => [...readFileSync(join(SRC, f), "utf8").matchAll(/import\(\s*["'](\.[^"']+)["']\s*\)/g)].map((m) => relative(SRC, resolve(dirname(join(SRC, f)), m[1]!)).replace(/\.js$/, ".ts"));
  const all = (f: string) => [...importsOf(f), ...dynamicImportsOf(f)];

  it("core imports only core", () => {
    const bad = dir("core").flatMap((f) => all(f).filter((t) => !t.startsWith("core/")).map((t) => `${f} -> ${t}`));
    expect(bad).toEqual([]);
  });

  it("no command imports another (only the shared modules, shared.ts and routes.ts)", () => {
    const shared = new Set(["commands/shared.ts", "commands/routes.ts"]);
    const bad = dir("commands").flatMap((f) => all(f).filter((t) => t.startsWith("commands/") && !shared.has(t) && t !== f).map((t) => `${f} -> ${t}`));
    expect(bad).toEqual([]);
  });
});

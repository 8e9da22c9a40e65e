import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import type { ImageFacts } from "../../src/core/facts.js";
import { type RewrapPlan, SHIM_PATH, planRewrap } from "../../src/core/plan.js";
import { type RenderedFile, dockerfileProblem, mountPickPatterns, renderContext, shellQuote } from "../../src/core/render.js";
import { stableJson } from "../../src/core/stable-json.js";
import { CONTEXT_LABEL } from "../../src/core/labels.js";
import { contextKeyOf } from "../../src/core/freshness.js";
import { configChanges, rewrapConfig } from "../../src/core/mutate.js";
import type { ImageConfigBlob } from "../../src/core/oci.js";
import { loadTemplates } from "../../src/edge/fs.js";
import { KUBE_DIGEST, OPTS, kubernetesFacts } from "./fixtures.js";
import { PATH_VARS, configPathLines } from "../../src/core/config-paths.js";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const templates = loadTemplates(join(repoRoot, "templates"));
const work = mkdtempSync(join(tmpdir(), "mcp-rewrap-unit-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function render(facts: ImageFacts, opts = OPTS): { plan: RewrapPlan; files: RenderedFile[]; byPath: Record<string, RenderedFile> } {
  const plan = planRewrap(facts, opts);
  const files = renderContext(plan, templates, contextKeyOf(plan, {}, templates));
  return { plan, files, byPath: Object.fromEntries(files.map((f) => [f.path, f])) };
}

function writeTemp(name: string, content: string): string {
  const p = join(work, name);
  writeFileSync(p, content, { mode: 0o755 });
  return p;
}

/** Runs sh (dash on Debian) and returns stdout; throws with stderr on a non-zero exit. */
function sh(args: string[]): string {
  const r = spawnSync("/bin/sh", args, { encoding: "utf8" });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`sh ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** Dockerfile instructions: comments dropped, `\`-continued lines joined. */
function instructions(dockerfile: string): string[] {
  return dockerfile
    .replace(/\\\n/g, " ")
    .split("\n")
    .filter((l) => l.trim() && !l.trimStart().startsWith("#"));
}

/** The "facts about the original image" block of the shim: RW_USER= up to RW_NL=. */
function factsBlock(shim: string): string {
  const start = shim.indexOf("\nRW_USER=");
  const end = shim.indexOf("\nRW_NL='");
  expect(start, "shim has RW_USER=").toBeGreaterThan(0);
  expect(end, "shim has RW_NL= after the facts").toBeGreaterThan(start);
  return shim.slice(start + 1, end + 1);
}

const FACT_VARS = [
  "RW_USER",
  "RW_UID",
  "RW_GID",
  "RW_GROUPS",
  "RW_ROOT_GROUPS",
  "RW_HOME",
  "RW_DROP",
  "RW_DROP_PATH",
  "RW_ROOT_OPEN",
  "RW_SH",
  "RW_TAR",
  "RW_FIND",
  "RW_CONFIG_PATHS",
  "RW_PATH_VARS",
] as const;

/** Sources the facts block through sh and returns each variable's exact value. */
function evalFacts(shim: string): Record<(typeof FACT_VARS)[number], string> {
  const file = writeTemp(`facts-${Math.random().toString(36).slice(2)}.sh`, factsBlock(shim));
  const out = sh(["-c", `. "$1" && printf '%s\\0' ${FACT_VARS.map((v) => `"$${v}"`).join(" ")}`, "sh", file]);
  const values = out.split("\0");
  expect(values).toHaveLength(FACT_VARS.length + 1);
  return Object.fromEntries(FACT_VARS.map((v, i) => [v, values[i]!])) as Record<(typeof FACT_VARS)[number], string>;
}

describe("renderContext for mcp/kubernetes", () => {
  const { plan, files, byPath } = render(kubernetesFacts());
  const dockerfile = byPath["Dockerfile"]!.content;
  const shim = byPath["entrypoint.sh"]!.content;

  it("renders Dockerfile, entrypoint.sh (0755) and rewrap.json", () => {
    expect(files.map((f) => [f.path, f.mode])).toEqual([
      ["Dockerfile", 0o644],
      ["entrypoint.sh", 0o755],
      ["rewrap.json", 0o644],
    ]);
  });

  it("renders byte-identical files twice", () => {
    const again = render(kubernetesFacts()).files;
    expect(again).toEqual(files);
    for (const [i, f] of files.entries()) expect(Buffer.from(again[i]!.content).equals(Buffer.from(f.content))).toBe(true);
  });

  it("gives every function the hot part stubs a definition in the rest, and stubs nothing defined before the guard", () => {
    const guard = shim.indexOf("\ncase ${0##*/} in\n");
    expect(guard).toBeGreaterThan(0);
    const hot = shim.slice(0, guard);
    const rest = shim.slice(guard);
    const stubs = [...hot.matchAll(/^(rw_\w+)\(\) \{ rw_cold && (rw_\w+) "\$@"; \}$/gm)].map((m) => {
      expect(m[2]).toBe(m[1]);
      return m[1]!;
    });
    const defined = (text: string) => new Set([...text.matchAll(/^(rw_\w+)\(\) \{$/gm)].map((m) => m[1]!));
    const hotDefs = defined(hot);
    const restDefs = defined(rest);
    expect(stubs.length).toBeGreaterThan(10);
    expect(new Set(stubs).size).toBe(stubs.length);
    for (const f of stubs) {
      expect(restDefs.has(f), `${f} is stubbed but never defined after the guard`).toBe(true);
      expect(hotDefs.has(f), `${f} is both hot and stubbed`).toBe(false);
    }
    // Whatever the rest defines and the hot part calls has a stub (else the first call fails).
    for (const f of restDefs) {
      if (hotDefs.has(f) || stubs.includes(f)) continue;
      const calledHot = new RegExp(`(^|[\\s;|&({])${f}( |$|;)`, "m").test(hot.replace(/^#.*$/gm, ""));
      expect(calledHot, `${f} is called before the guard without a stub`).toBe(false);
    }
  });

  it("picks the mount lines by the home's first letter (and every line for a home it cannot spell)", () => {
    expect(mountPickPatterns("/home/appuser")).toBe(`*" /"[rh]* | *" / r"[ow]*`);
    expect(mountPickPatterns("/srv/app/")).toBe(`*" /"[rs]* | *" / r"[ow]*`);
    expect(mountPickPatterns("/root")).toBe(`*" /"[r]* | *" / r"[ow]*`);
    expect(mountPickPatterns("/")).toBe("*");
    expect(mountPickPatterns("/ odd")).toBe("*");
    expect(mountPickPatterns("/*x")).toBe("*");
  });

  it("writes the plan as stable JSON in rewrap.json", () => {
    const json = byPath["rewrap.json"]!.content;
    expect(json).toBe(stableJson(plan));
    expect(json.endsWith("}\n")).toBe(true);
    expect(JSON.parse(json)).toEqual(plan);
    const keys = Object.keys(JSON.parse(json) as object);
    expect(keys).toEqual([...keys].sort());
  });

  describe("the Dockerfile", () => {
    const ins = instructions(dockerfile);

    it("starts FROM the pinned base", () => {
      expect(ins[0]).toBe(`FROM mcp/kubernetes@${KUBE_DIGEST}`);
      expect(ins.filter((l) => /^FROM\s/i.test(l))).toHaveLength(1);
    });

    it("has exactly one COPY, of the shim, and no RUN", () => {
      expect(ins.filter((l) => /^COPY\s/i.test(l))).toEqual([`COPY entrypoint.sh ${SHIM_PATH}`]);
      expect(ins.filter((l) => /^(RUN|ADD)\s/i.test(l))).toEqual([]);
    });

    it("switches to USER root and sets nothing else that changes the run", () => {
      expect(ins.filter((l) => /^USER\s/i.test(l))).toEqual(["USER root"]);
      expect(ins.map((l) => l.split(/\s/, 1)[0])).toEqual(["FROM", "USER", "COPY", "LABEL", "ENTRYPOINT", "CMD"]);
    });

    it("sets ENTRYPOINT as a JSON array: the shim, then the original", () => {
      const line = ins.find((l) => l.startsWith("ENTRYPOINT "))!;
      const value: unknown = JSON.parse(line.slice("ENTRYPOINT ".length));
      expect(value).toEqual([SHIM_PATH, "docker-entrypoint.sh"]);
    });

    it("restates CMD as a JSON array", () => {
      const line = ins.find((l) => l.startsWith("CMD "))!;
      expect(JSON.parse(line.slice("CMD ".length))).toEqual(["node", "dist/index.js"]);
    });

    it("carries every label of the plan, sorted, JSON-quoted", () => {
      const line = ins.find((l) => l.startsWith("LABEL "))!;
      const pairs = [...line.slice("LABEL ".length).matchAll(/([\w.-]+)=("(?:[^"\\]|\\.)*")/g)].map((m) => [m[1]!, JSON.parse(m[2]!) as string]);
      const labels = { ...plan.labels, [CONTEXT_LABEL]: contextKeyOf(plan, {}, templates) };
      expect(Object.fromEntries(pairs)).toEqual(labels);
      expect(pairs.map((p) => p[0])).toEqual(Object.keys(labels).sort());
    });

    it("labels a freshness key that changes with the options and with the templates, not with the tag", () => {
      const h = contextKeyOf(plan, {}, templates);
      expect(h).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(contextKeyOf({ ...plan, tag: "other/name:x" }, {}, templates)).toBe(h);
      expect(contextKeyOf(plan, { env: ["MY_CFG"] }, templates)).not.toBe(h);
      expect(contextKeyOf(plan, { force: true }, templates)).not.toBe(h);
      expect(contextKeyOf(plan, {}, { ...templates, shim: `${templates.shim}\n` })).not.toBe(h);
    });

    it("omits CMD when the image has none and says when it is pinned by ID", () => {
      const f = kubernetesFacts();
      f.config.cmd = null;
      f.repoDigests = [];
      f.ref = f.id;
      const d = render(f).byPath["Dockerfile"]!.content;
      const i = instructions(d);
      expect(i.some((l) => l.startsWith("CMD"))).toBe(false);
      expect(i[0]).toBe(`FROM ${f.id}`);
      expect(d).toMatch(/^# sha256:[0-9a-f]{64} has no repository digest .*pinned by image ID\.$/m);
      expect(instructions(dockerfile).length).toBe(i.length + 1);
      expect(dockerfile).not.toContain("pinned by image ID");
    });
  });

  describe("the shim", () => {
    it("is a POSIX sh script that sh -n accepts", () => {
      expect(shim.startsWith("#!/bin/sh\n")).toBe(true);
      const file = writeTemp("kubernetes.entrypoint.sh", shim);
      sh(["-n", file]);
    });

    it("carries the plan's facts exactly", () => {
      expect(evalFacts(shim)).toEqual({
        RW_USER: "appuser",
        RW_UID: "1001",
        RW_GID: "1001",
        RW_GROUPS: "1001",
        RW_HOME: "/home/appuser",
        RW_DROP: "setpriv",
        RW_DROP_PATH: "/usr/bin/setpriv",
        RW_ROOT_GROUPS: "0",
        RW_ROOT_OPEN: "",
        RW_SH: "/bin/sh",
        RW_TAR: "/bin/tar",
        RW_FIND: "/bin/find",
        RW_CONFIG_PATHS: configPathLines(),
        RW_PATH_VARS: plan.envVars.join(" "),
      });
      expect(plan.envVars).toEqual(expect.arrayContaining([...PATH_VARS]));
    });

    it("passes shellcheck -s sh and -s dash", () => {
      const probe = spawnSync("shellcheck", ["--version"], { encoding: "utf8" });
      if (probe.error || probe.status !== 0) {
        throw new Error(
          "shellcheck is not installed, and it is a required dev tool for these tests: install it (Debian/Ubuntu: `apt-get install -y shellcheck`, macOS: `brew install shellcheck`)",
        );
      }
      const file = writeTemp("shellcheck.entrypoint.sh", shim);
      for (const dialect of ["sh", "dash"]) {
        const r = spawnSync("shellcheck", ["-s", dialect, "-f", "gcc", file], { encoding: "utf8" });
        expect(`${r.stdout}${r.stderr}`, `shellcheck -s ${dialect}`).toBe("");
        expect(r.status, `shellcheck -s ${dialect} exit status`).toBe(0);
      }
    });
  });
});

describe("renderContext with awkward names", () => {
  // A user whose name has a quote and a space, whose home has quotes, a space, $ and a backtick.
  const home = `/home/o'brien dir/"x" $HOME \`id\``;
  function awkwardFacts(): ImageFacts {
    const f = kubernetesFacts();
    f.config.user = "o'brien x";
    f.passwd = `${f.passwd}o'brien x:x:1002:1002::${home}:/bin/sh\n`;
    f.group = `${f.group}odd:x:1002:\naudio:x:29:o'brien x\n`;
    return f;
  }

  it("renders a shim that sh -n accepts and whose facts evaluate to the exact strings", () => {
    const { plan, byPath } = render(awkwardFacts());
    expect(plan.user).toMatchObject({ name: "o'brien x", home, groups: [1002, 29] });
    const shim = byPath["entrypoint.sh"]!.content;
    sh(["-n", writeTemp("awkward.entrypoint.sh", shim)]);
    const facts = evalFacts(shim);
    expect(facts.RW_USER).toBe("o'brien x");
    expect(facts.RW_HOME).toBe(home);
    expect(facts.RW_GROUPS).toBe("1002,29");
  });

  it("renders an ENV HOME with a quote and a space exactly", () => {
    const f = kubernetesFacts();
    const envHome = "/srv/it's a home";
    f.config.env.push(`HOME=${envHome}`);
    const shim = render(f).byPath["entrypoint.sh"]!.content;
    sh(["-n", writeTemp("envhome.entrypoint.sh", shim)]);
    expect(evalFacts(shim).RW_HOME).toBe(envHome);
  });

  it("keeps the Dockerfile's instructions intact", () => {
    const { plan, byPath } = render(awkwardFacts());
    const ins = instructions(byPath["Dockerfile"]!.content);
    expect(ins.map((l) => l.split(/\s/, 1)[0])).toEqual(["FROM", "USER", "COPY", "LABEL", "ENTRYPOINT", "CMD"]);
    const label = ins.find((l) => l.startsWith("LABEL "))!;
    expect(label).toContain(`io.mcp-rewrap.user=${JSON.stringify(plan.labels["io.mcp-rewrap.user"])}`);
    expect(plan.labels["io.mcp-rewrap.user"]).toBe("o'brien x:1002:1002");
  });
});

describe("shellQuote", () => {
  const nasty = [
    "",
    "plain",
    "a b  c",
    "it's",
    "'",
    "''",
    "'start and end'",
    '"double"',
    "$HOME ${PATH} $(id) $1",
    "`id`",
    "line1\nline2\n",
    "tab\there",
    "back\\slash\\",
    "*?[a-z]",
    "-n",
    "%s%d",
    "semi;colon|pipe&amp>gt<lt",
    "ünïcödé ✓",
    `all'of"them $x \`y\` \\ \n end`,
  ];

  it("wraps in single quotes", () => {
    for (const s of nasty) expect(shellQuote(s)).toMatch(/^'[\s\S]*'$/);
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
  });

  it("round-trips nasty strings through sh", () => {
    const script = `set -- ${nasty.map(shellQuote).join(" ")}\nfor a in "$@"; do printf '%s\\0' "$a"; done`;
    const out = sh(["-c", script]);
    expect(out.split("\0").slice(0, -1)).toEqual(nasty);
  });

  it("round-trips each string as the $1 of sh -c 'printf %s \"$1\"'", () => {
    for (const s of ["it's", "a\nb", "$x`y`"]) {
      expect(sh(["-c", `sh -c 'printf %s "$1"' sh ${shellQuote(s)}`])).toBe(s);
    }
  });
});

describe("a Dockerfile no builder could read", () => {
  it("a line over 65535 bytes (an image whose CMD is that long) is named before any build; the usual one passes", () => {
    expect(dockerfileProblem(render(kubernetesFacts()).byPath.Dockerfile!.content)).toBeNull();
    const f = kubernetesFacts();
    f.config.cmd = Array.from({ length: 1300 }, (_, i) => `--argument-${i}-${"x".repeat(40)}`);
    const problem = dockerfileProblem(render(f).byPath.Dockerfile!.content);
    expect(problem).toMatch(/^the Dockerfile line `CMD \["--argument-0-x+…` would be \d{5} bytes, over the 65535 a builder reads .*; rewrap it in its registry instead, which writes no Dockerfile/);
  });
});

describe("the image's loader variables (LD_PRELOAD, LD_LIBRARY_PATH, …)", () => {
  const withLoader = () => {
    const f = kubernetesFacts();
    f.config.env = [...f.config.env, "LD_LIBRARY_PATH=/home/appuser/lib", "LD_PRELOAD=/usr/lib/libjemalloc.so.2 'x'", "LD_AUDIT=", "LD_LIBRARY_PATH=/again"];
    f.present = [...f.present, "/usr/bin/env"];
    return f;
  };

  it("are set empty in the derived image and given back to the command by env, as the user, unless the caller set one", () => {
    const { plan, byPath } = render(withLoader());
    expect(plan.loader).toEqual({
      env: "/usr/bin/env",
      vars: [
        { name: "LD_LIBRARY_PATH", value: "/home/appuser/lib" },
        { name: "LD_PRELOAD", value: "/usr/lib/libjemalloc.so.2 'x'" },
      ],
    });
    expect(byPath.Dockerfile!.content).toContain('\nUSER root\n# The image\'s loader variables, empty here');
    expect(byPath.Dockerfile!.content).toContain('\nENV LD_LIBRARY_PATH="" LD_PRELOAD=""\n');
    const shim = byPath["entrypoint.sh"]!.content;
    expect(shim).toContain(`[ -n "\${LD_LIBRARY_PATH-}" ] || { set -- 'LD_LIBRARY_PATH=/home/appuser/lib' "$@"; rw_lv=1; }`);
    expect(shim).toContain(`[ -n "\${LD_PRELOAD-}" ] || { set -- 'LD_PRELOAD=/usr/lib/libjemalloc.so.2 '\\''x'\\''' "$@"; rw_lv=1; }`);
    expect(shim).toContain(`[ -z "$rw_lv" ] || set -- '/usr/bin/env' "$@"`);
  });

  it("the registry route sets the same ones empty in the config blob, and nothing else of Env", () => {
    const { plan } = render(withLoader());
    const base = { config: { Env: ["PATH=/usr/bin", "LD_LIBRARY_PATH=/home/appuser/lib", "LD_PRELOAD=x", "LD_AUDIT="] } } as ImageConfigBlob;
    const out = rewrapConfig(base, plan, "sha256:" + "0".repeat(64), { diffId: "sha256:" + "1".repeat(64) });
    expect(out.config?.Env).toEqual(["PATH=/usr/bin", "LD_LIBRARY_PATH=", "LD_PRELOAD=", "LD_AUDIT="]);
    expect(configChanges(plan, "k").Env).toEqual(["LD_LIBRARY_PATH", "LD_PRELOAD"]);
  });

  it("an image without them, or without env, renders as before (no ENV line, no env in the shim)", () => {
    expect(render(kubernetesFacts()).plan.loader).toBeNull();
    expect(render(kubernetesFacts()).byPath.Dockerfile!.content).not.toMatch(/^ENV /m);
    const noEnv = withLoader();
    noEnv.present = noEnv.present.filter((p) => !p.endsWith("/env"));
    expect(render(noEnv).plan.loader).toBeNull();
    expect(render(noEnv).byPath["entrypoint.sh"]!.content).not.toContain("rw_lv");
  });

  it("the rendered shim with them passes shellcheck", () => {
    const file = join(work, "loader-entrypoint.sh");
    writeFileSync(file, render(withLoader()).byPath["entrypoint.sh"]!.content);
    const r = spawnSync("shellcheck", ["-s", "sh", file], { encoding: "utf8" });
    expect(r.status, r.stdout).toBe(0);
  });
});

/**
 * Pure: plan -> the files of a build context. Templates are handlebars text passed in (read
 * from templates/ at the edge, edge/fs.ts); the output depends on nothing else, so the same
 * plan and key always render byte-identical files. The Dockerfile writes core/mutate.ts's
 * configChanges, the same changes the registry route applies to a config blob.
 */
import Handlebars from "handlebars";
import { configChanges } from "./mutate.js";
import type { RewrapPlan } from "./plan.js";
import { SINGLE_PATH_VARS, configPathLines, devCopyLines } from "./config-paths.js";
import { stableJson } from "./stable-json.js";

export interface RenderedFile {
  path: string;
  content: string;
  mode: number;
}

export interface Templates {
  dockerfile: string;
  shim: string;
}

/** Single-quotes a string for POSIX sh. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A Dockerfile LABEL key="value" pair; JSON string escaping is valid Dockerfile quoting. */
function labelLine(key: string, value: string): string {
  return `${key}=${JSON.stringify(value).replace(/\$/g, "\\$")}`;
}

/**
 * The shim's rw_mounts pick, a case pattern list a mountinfo line is tested against: a mount
 * point below /root, or at or below HOME or one of its parents, starts with "/r" or with "/" and
 * HOME's first letter; the point "/" is followed by the mount options (rw or ro first). A superset
 * (rw_mounts' callback decides on the decoded point); it only spares it most lines, with one
 * pattern test a line, as each costs a scan of the line in dash. A HOME whose first letter is not
 * a plain one (the kernel escapes a space) lets every line through.
 */
export function mountPickPatterns(home: string): string {
  const c = home.replace(/\/+$/, "").charAt(1);
  if (!/^[A-Za-z0-9._-]$/.test(c)) return "*";
  return `*" /"[r${c === "r" ? "" : c}]* | *" / r"[ow]*`;
}

/** renderContext options: `stripShim: false` ships the shim as the template reads (comments, indentation). */
export interface RenderOptions {
  stripShim?: boolean;
}

/** The longest Dockerfile line the builders read (moby/buildkit's parser: "dockerfile line greater than max allowed size"). */
export const DOCKERFILE_LINE_MAX = 65535;

/** Why no builder could read this Dockerfile (a line over DOCKERFILE_LINE_MAX bytes), or null. */
export function dockerfileProblem(dockerfile: string): string | null {
  const long = dockerfile.split("\n").find((l) => Buffer.byteLength(l) > DOCKERFILE_LINE_MAX);
  if (!long) return null;
  return `the Dockerfile line \`${long.slice(0, 30)}…\` would be ${Buffer.byteLength(long)} bytes, over the ${DOCKERFILE_LINE_MAX} a builder reads (the image's ENTRYPOINT, CMD or HEALTHCHECK is that long); rewrap it in its registry instead, which writes no Dockerfile: \`mcp-rewrap build IMAGE --push --tag REGISTRY/NAME:TAG\``;
}

/** The build context: Dockerfile, the shim, and the plan; `contextKey` is core/freshness.ts's key. */
export function renderContext(plan: RewrapPlan, templates: Templates, contextKey: string, options: RenderOptions = {}): RenderedFile[] {
  const changes = configChanges(plan, contextKey);
  const hb = Handlebars.create();
  hb.registerHelper("shq", (s: unknown) => new Handlebars.SafeString(shellQuote(String(s))));
  hb.registerHelper("json", (v: unknown) => JSON.stringify(v));
  const view = {
    ...plan,
    version: plan.tool.version,
    groupsCsv: plan.user.groups.join(","),
    rootGroupsWords: plan.rootGroups.join(" "),
    rootOpen: plan.rootOpen ? "1" : "",
    configPathLines: configPathLines(),
    devCopyLines: devCopyLines(),
    pathVarWords: plan.envVars.join(" "),
    singleVarWords: SINGLE_PATH_VARS.filter((v) => plan.envVars.includes(v)).join(" "),
    // "${NAME+x}" for each of them: one expansion tells whether any is set (names checked by plan).
    pathVarProbe: plan.envVars.map((v) => `\${${v}+x}`).join(""),
    mountPick: mountPickPatterns(plan.user.home),
    // The image's loader variables as `env` arguments (NAME=VALUE, quoted for sh).
    loaderArgs: (plan.loader?.vars ?? []).map((v) => ({ name: v.name, assign: shellQuote(`${v.name}=${v.value}`) })),
    healthFlags: plan.healthcheck ? plan.healthcheck.flags.map((f) => `${f} `).join("") : "",
    changes,
    labelLines: Object.entries(changes.Labels).map(([k, v]) => labelLine(k, v)),
  };
  const opts = { noEscape: true, strict: true } as const;
  const strip = options.stripShim === false ? (s: string) => s : stripShellScript;
  const dockerfile = hb.compile(templates.dockerfile, opts)(view);
  return [
    { path: "Dockerfile", content: dockerfile, mode: 0o644 },
    { path: "entrypoint.sh", content: strip(hb.compile(templates.shim, opts)(view)), mode: 0o755 },
    { path: "rewrap.json", content: stableJson(plan), mode: 0o644 },
  ];
}

/**
 * The shipped form of a generated sh script: the same commands without comment-only lines, blank
 * lines and leading indentation, so the layer stays small while the template stays commented and
 * indented in the repository. Kept: the shebang, the first comment line after it (what generated
 * the file), `# shellcheck` directives, and byte for byte every line that starts inside a quoted
 * string, a command substitution, a here-document or after a backslash-newline. Pure; throws on a
 * script it cannot follow to the end (an unterminated quote or substitution).
 */
export function stripShellScript(script: string): string {
  type Ctx = { kind: "sq" | "dq" | "bt" | "brace" | "cmd" | "arith"; depth: number };
  const stack: Ctx[] = [];
  const pending: { delim: string; tabs: boolean }[] = [];
  let heredoc: { delim: string; tabs: boolean } | null = null;
  let continued = false;
  const top = () => stack[stack.length - 1];
  const inCode = () => !top() || top()!.kind === "cmd";
  const push = (kind: Ctx["kind"]) => stack.push({ kind, depth: 0 });
  // The only characters that change the state below: lex() jumps from one to the next.
  const special = /['"\\`$(){}#<]/g;

  /** Follows one line's quoting from the current state; returns nothing, updates the state. */
  const lex = (line: string) => {
    continued = false;
    for (let i = 0; i < line.length; i++) {
      special.lastIndex = i;
      const next = special.exec(line);
      if (!next) break;
      i = next.index;
      const c = line[i]!;
      const ctx = top();
      const kind = ctx?.kind;
      if (kind === "sq") {
        if (c === "'") stack.pop();
        continue;
      }
      if (c === "\\") {
        if (i === line.length - 1) continued = true;
        i++;
        continue;
      }
      if (kind === "dq" && c === '"') {
        stack.pop();
        continue;
      }
      if (kind === "bt" && c === "`") {
        stack.pop();
        continue;
      }
      if (kind === "brace" && c === "}") {
        stack.pop();
        continue;
      }
      if (c === "$" && line.startsWith("$((", i)) {
        push("arith");
        i += 2;
        continue;
      }
      if (c === "$" && line[i + 1] === "(") {
        push("cmd");
        i += 1;
        continue;
      }
      if (c === "$" && line[i + 1] === "{") {
        push("brace");
        i += 1;
        continue;
      }
      if (c === "`") {
        push("bt");
        continue;
      }
      if (c === '"' && kind !== "dq") {
        push("dq");
        continue;
      }
      if (c === "'" && kind !== "dq" && !(kind === "brace" && stack.some((s) => s.kind === "dq"))) {
        push("sq");
        continue;
      }
      if (kind === "arith") {
        if (c === "(") ctx!.depth++;
        else if (c === ")") {
          if (ctx!.depth > 0) ctx!.depth--;
          else {
            stack.pop();
            if (line[i + 1] === ")") i++;
          }
        }
        continue;
      }
      if (!inCode()) continue;
      // Code (top level or inside $(...)): comments, here-documents, the closing parenthesis.
      if (c === "#" && (i === 0 || /[\s;&|()<>]/.test(line[i - 1]!))) return;
      if (kind === "cmd" && c === "(") ctx!.depth++;
      else if (kind === "cmd" && c === ")") {
        if (ctx!.depth > 0) ctx!.depth--;
        else stack.pop();
      } else if (c === "<" && line[i + 1] === "<" && line[i + 2] !== "<") {
        const m = /^<<(-?)[ \t]*(?:'([^']*)'|"([^"]*)"|\\?([^\s;&|()<>]+))/.exec(line.slice(i));
        if (!m) throw new Error(`stripShellScript: cannot read the here-document in: ${line}`);
        pending.push({ delim: (m[2] ?? m[3] ?? m[4]!).replace(/["'\\]/g, ""), tabs: m[1] === "-" });
        i += m[0].length - 1;
      }
    }
  };

  const body = script.endsWith("\n") ? script.slice(0, -1) : script;
  const out: string[] = [];
  for (const [n, line] of body.split("\n").entries()) {
    if (heredoc) {
      out.push(line);
      if ((heredoc.tabs ? line.replace(/^\t+/, "") : line) === heredoc.delim) heredoc = pending.shift() ?? null;
      continue;
    }
    if (stack.length > 0 || continued) {
      out.push(line);
      lex(line);
    } else {
      const text = line.replace(/^[ \t]+/, "");
      if (text === "") continue;
      if (text.startsWith("#")) {
        if (n === 0 && text.startsWith("#!")) out.push(text);
        else if (/^#\s*shellcheck\s/.test(text)) out.push(text);
        else if (n === 1) out.push(text);
        continue;
      }
      out.push(text);
      lex(text);
    }
    if (!heredoc && pending.length > 0 && inCode()) heredoc = pending.shift()!;
  }
  if (stack.length > 0 || heredoc || pending.length > 0) {
    throw new Error(`stripShellScript: the script ends inside ${heredoc || pending.length ? "a here-document" : `a ${top()!.kind} context`}`);
  }
  return `${out.join("\n")}${script.endsWith("\n") ? "\n" : ""}`;
}

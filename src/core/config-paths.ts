/**
 * THE table of config paths and the variables that name them (pure data). Everything that knows
 * where a tool keeps its config derives from here: the plan (which variables the shim may
 * rewrite), the shim (rendered into it as data lines), inspect's diagnosis, verify's probe and
 * verdict, and scan. Paths are relative to a home directory (the gateway mounts them under
 * /root/REL or under the image user's $HOME/REL).
 */

export interface ConfigVar {
  /** The variable, e.g. KUBECONFIG. */
  name: string;
  /** Where it points, relative to the config path: "." for the path itself, else a file below it. */
  sub: string;
  /** The value may be a :-separated list (KUBECONFIG). */
  list?: boolean;
}

export interface ConfigPath {
  /** Relative to a home directory, no leading or trailing slash: ".kube", ".config/gcloud". */
  rel: string;
  /** Which tool keeps its config there (for messages). */
  tool: string;
  /** Variables that tell the tool where the config is (pointed at a prepared copy). */
  vars: ConfigVar[];
  /** The file a probe checks (relative to rel), e.g. "config" for .kube. */
  probe: string;
  /** A variable the server reads before `vars` (mcp-server-kubernetes: KUBECONFIG_PATH). */
  serverVar?: string;
  /** What the server does when it finds no config there (for verify's verdict). */
  whenMissing?: string;
  /** The kind of synthetic file verify mounts for it ("kubeconfig": a minimal valid one). */
  sample?: "kubeconfig";
}

export const CONFIG_PATHS: readonly ConfigPath[] = [
  {
    rel: ".kube",
    tool: "kubectl / mcp-server-kubernetes",
    vars: [{ name: "KUBECONFIG", sub: "config", list: true }],
    probe: "config",
    serverVar: "KUBECONFIG_PATH",
    whenMissing: "mcp-server-kubernetes then silently falls back to a default cluster",
    sample: "kubeconfig",
  },
  {
    rel: ".aws",
    tool: "the AWS CLI and SDKs",
    vars: [
      { name: "AWS_CONFIG_FILE", sub: "config" },
      { name: "AWS_SHARED_CREDENTIALS_FILE", sub: "credentials" },
    ],
    probe: "config",
  },
  { rel: ".config/gcloud", tool: "the Google Cloud CLI", vars: [{ name: "CLOUDSDK_CONFIG", sub: "." }], probe: "." },
  { rel: ".docker", tool: "the Docker CLI", vars: [{ name: "DOCKER_CONFIG", sub: "." }], probe: "config.json" },
  { rel: ".azure", tool: "the Azure CLI", vars: [{ name: "AZURE_CONFIG_DIR", sub: "." }], probe: "." },
];

/**
 * Variables whose value may name a path (or a :-separated list of paths) into /root; the shim
 * rewrites such values to the prepared location. The table's variables, plus these.
 */
export const PATH_VARS: readonly string[] = [
  ...CONFIG_PATHS.flatMap((p) => [...p.vars.map((v) => v.name), ...(p.serverVar ? [p.serverVar] : [])]),
  "AWS_WEB_IDENTITY_TOKEN_FILE",
  "GOOGLE_APPLICATION_CREDENTIALS",
  "XDG_CONFIG_HOME",
  "XDG_DATA_HOME",
  "XDG_CACHE_HOME",
].filter((n, i, all) => all.indexOf(n) === i);

/**
 * The variables of PATH_VARS that hold one path, never a list: the shim takes a ":" in them as
 * part of the path (a mount destination may hold one). Any other (KUBECONFIG, an image's own,
 * --env) is split on ":".
 */
export const SINGLE_PATH_VARS: readonly string[] = PATH_VARS.filter((n) => !CONFIG_PATHS.some((p) => p.vars.some((v) => v.list && v.name === n)));

/** The rows as the shim reads them: one line per variable, "REL VAR SUB". */
export function configPathLines(paths: readonly ConfigPath[] = CONFIG_PATHS): string {
  return paths.flatMap((p) => p.vars.map((v) => `${p.rel} ${v.name} ${v.sub}`)).join("\n");
}

/**
 * The table's files a variable names on its own (not a directory: sub is not "."), each with the
 * name of its copy in /dev, as the shim reads them: "REL NAME" per line (REL with a leading
 * slash), e.g. "/.kube/config mcp-rewrap-kube-config". Root writes a copy of such a file mounted
 * under /root or over the user's home straight into /dev (a root-owned tmpfs the runtime makes for
 * every container) and points the variable at it: no process as the user, no directory to make.
 */
export function devCopyLines(paths: readonly ConfigPath[] = CONFIG_PATHS): string {
  return paths
    .flatMap((p) => p.vars.filter((v) => v.sub !== ".").map((v) => `${p.rel}/${v.sub}`))
    .filter((at, i, all) => all.indexOf(at) === i)
    .map((at) => `/${at} mcp-rewrap-${at.replace(/^\./, "").replace(/[/.]+/g, "-")}`)
    .join("\n");
}

/**
 * Which variable names `target` (a path below a home, e.g. "/root/.kube/config" relative to
 * "/root"), and what is left of the target below the variable's value; null when none does.
 */
export function varFor(home: string, target: string): { name: string; suffix: string } | null {
  const prefix = home.endsWith("/") ? home : `${home}/`;
  if (!target.startsWith(prefix)) return null;
  const rel = target.slice(prefix.length).replace(/\/+$/, "");
  for (const p of CONFIG_PATHS) {
    for (const v of p.vars) {
      const at = v.sub === "." ? p.rel : `${p.rel}/${v.sub}`;
      if (rel === at) return { name: v.name, suffix: "" };
      if (v.sub === "." && rel.startsWith(`${at}/`)) return { name: v.name, suffix: rel.slice(at.length) };
    }
  }
  return null;
}

/** The table row a target falls in (the target is the config path, or below it, or its parent of a file var). */
export function configPathOf(home: string, target: string): ConfigPath | null {
  const prefix = home.endsWith("/") ? home : `${home}/`;
  if (!target.startsWith(prefix)) return null;
  const rel = target.slice(prefix.length).replace(/\/+$/, "");
  return CONFIG_PATHS.find((p) => rel === p.rel || rel.startsWith(`${p.rel}/`)) ?? null;
}

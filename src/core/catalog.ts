/**
 * Docker MCP Gateway catalogs: parse (legacy `registry:` catalogs, single-server files, and
 * docker/mcp-registry server.yaml), validate against the gateway's field set
 * (pkg/catalog/types.go), write entries that point at a rewrapped image, and compose the
 * `docker run` line the gateway would make from an entry. Pure (edge/fs.ts reads the files).
 */
import YAML from "yaml";
import { UsageError } from "./errors.js";
import type { GatewayRun } from "./gateway.js";

export interface CatalogServer {
  name?: string;
  type: string;
  image?: string;
  title?: string;
  description?: string;
  volumes?: string[];
  env?: { name: string; value: string }[];
  secrets?: { name: string; env: string }[];
  command?: string[];
  user?: string;
  disableNetwork?: boolean;
  config?: unknown[];
  [key: string]: unknown;
}

/** The keys of the gateway's catalog.Server (pkg/catalog/types.go). */
export const SERVER_FIELDS = new Set([
  "name", "type", "image", "description", "title", "icon", "readme", "longLived", "remote", "sseEndpoint",
  "oauth", "secrets", "env", "command", "volumes", "user", "disableNetwork", "allowHosts", "extraHosts",
  "tools", "config", "prefix", "metadata", "policy",
]);

/** Built-in entries for servers we know, as the Docker MCP catalog describes them. */
export const BUILTIN: Record<string, CatalogServer> = {
  kubernetes: {
    name: "kubernetes",
    type: "server",
    title: "Kubernetes",
    description: "Connect to a Kubernetes cluster and manage it",
    image: "mcp/kubernetes",
    volumes: ["{{kubernetes.config_path}}:/home/appuser/.kube/config"],
    config: [
      {
        name: "kubernetes",
        description: "Configure the location of the host Kubernetes file",
        type: "object",
        properties: { config_path: { type: "string", description: "the path to the host .kube/config" } },
        required: ["config_path"],
      },
    ],
  },
};

/** Every problem with an entry, as `server: field: problem` sentences (empty when valid). */
export function validateServer(key: string, s: unknown): string[] {
  const errs: string[] = [];
  const at = (f: string, m: string) => errs.push(`${key}: ${f}: ${m}`);
  if (!s || typeof s !== "object" || Array.isArray(s)) return [`${key}: not a mapping`];
  const e = s as Record<string, unknown>;
  for (const k of Object.keys(e)) if (!SERVER_FIELDS.has(k)) at(k, "not a field of the gateway's catalog server");
  if (!["server", "remote", "poci"].includes(String(e.type))) at("type", `must be server, remote or poci (got ${JSON.stringify(e.type)})`);
  if (e.name !== undefined && (typeof e.name !== "string" || !e.name)) at("name", "must be a non-empty string");
  if (e.type === "server" && (typeof e.image !== "string" || !e.image)) at("image", "required for type server");
  const strList = (f: string) => {
    const v = e[f];
    if (v !== undefined && (!Array.isArray(v) || v.some((x) => typeof x !== "string"))) at(f, "must be a list of strings");
  };
  strList("volumes");
  strList("command");
  strList("allowHosts");
  strList("extraHosts");
  if (e.user !== undefined && typeof e.user !== "string") at("user", "must be a string");
  for (const [f, keys] of [["env", ["name", "value"]], ["secrets", ["name", "env"]]] as const) {
    const v = e[f];
    if (v === undefined) continue;
    if (!Array.isArray(v)) {
      at(f, "must be a list");
      continue;
    }
    v.forEach((item, i) => {
      if (!item || typeof item !== "object") return at(`${f}[${i}]`, "must be a mapping");
      for (const k of keys) if (typeof (item as Record<string, unknown>)[k] !== "string") at(`${f}[${i}].${k}`, "must be a string");
    });
  }
  if (e.config !== undefined && !Array.isArray(e.config)) at("config", "must be a list");
  return errs;
}

export interface ParsedCatalog {
  kind: "legacy" | "server" | "registry-server";
  name?: string;
  displayName?: string;
  servers: Record<string, CatalogServer>;
}

/** docker/mcp-registry's server.yaml (name, image, about, run.volumes, config.parameters) -> a catalog server. */
function fromRegistryServer(doc: Record<string, unknown>): CatalogServer {
  const about = (doc.about ?? {}) as Record<string, unknown>;
  const run = (doc.run ?? {}) as Record<string, unknown>;
  const cfg = (doc.config ?? {}) as Record<string, unknown>;
  const out: CatalogServer = { name: String(doc.name), type: String(doc.type ?? "server"), image: String(doc.image) };
  if (about.title) out.title = String(about.title);
  if (about.description) out.description = String(about.description);
  if (Array.isArray(run.volumes)) out.volumes = run.volumes.map(String);
  if (Array.isArray(run.command)) out.command = run.command.map(String);
  if (typeof run.user === "string") out.user = run.user;
  const params = cfg.parameters as Record<string, unknown> | undefined;
  if (params) out.config = [{ name: String(doc.name), description: String(cfg.description ?? ""), ...params }];
  return out;
}

export function parseCatalog(text: string, source: string): ParsedCatalog {
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (e) {
    throw new UsageError(`${source}: not valid YAML: ${(e as Error).message.split("\n")[0]}`);
  }
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) throw new UsageError(`${source}: expected a YAML mapping`);
  const d = doc as Record<string, unknown>;
  let parsed: ParsedCatalog;
  if (d.registry !== undefined) {
    if (!d.registry || typeof d.registry !== "object" || Array.isArray(d.registry)) {
      throw new UsageError(`${source}: "registry" must map server names to entries`);
    }
    parsed = {
      kind: "legacy",
      ...(typeof d.name === "string" ? { name: d.name } : {}),
      ...(typeof d.displayName === "string" ? { displayName: d.displayName } : {}),
      servers: d.registry as Record<string, CatalogServer>,
    };
  } else if (typeof d.name === "string" && (d.run !== undefined || d.about !== undefined)) {
    parsed = { kind: "registry-server", servers: { [d.name]: fromRegistryServer(d) } };
  } else if (typeof d.name === "string" && d.type !== undefined) {
    parsed = { kind: "server", servers: { [d.name]: d as CatalogServer } };
  } else {
    throw new UsageError(`${source}: neither a catalog (with "registry:") nor a server entry (with "name:" and "type:")`);
  }
  const errs = Object.entries(parsed.servers).flatMap(([k, v]) => validateServer(k, v));
  if (errs.length) throw new UsageError(`${source}: invalid catalog entry:\n  ${errs.join("\n  ")}`);
  return parsed;
}

/** The original entry with only `image` replaced; name, volumes and config keys are kept. */
export function rewrappedEntry(name: string, original: CatalogServer, image: string): CatalogServer {
  const { name: _n, ...rest } = original;
  const out: CatalogServer = { name, ...rest, image, type: original.type ?? "server" };
  const desc = original.description ? `${original.description} ` : "";
  out.description = `${desc}(rewrapped by mcp-rewrap: config mounted under /root works for the image's non-root user)`.trim();
  return out;
}

export type CatalogFormat = "profile" | "legacy";

export function catalogYaml(name: string, entry: CatalogServer, format: CatalogFormat): string {
  const errs = validateServer(name, entry);
  if (errs.length) throw new UsageError(`refusing to write an invalid entry:\n  ${errs.join("\n  ")}`);
  const doc =
    format === "profile"
      ? entry
      : { name: `mcp-rewrap-${name}`, displayName: `mcp-rewrap: ${entry.title ?? name}`, registry: { [name]: entry } };
  return YAML.stringify(doc, { lineWidth: 0 });
}

export function usageCommands(name: string, file: string, format: CatalogFormat, configKeys: string[]): string[] {
  if (format === "profile") {
    const sets = configKeys.map((k) => `docker mcp profile config ${name} --set ${k}=<value>`);
    return [
      `mkdir -p ~/.docker/mcp/catalogs && cp ${file} ~/.docker/mcp/catalogs/`,
      `docker mcp profile create --name ${name} --server file://${file}`,
      ...sets,
      `docker mcp gateway run --profile ${name}`,
    ];
  }
  return [
    `docker mcp gateway run --additional-catalog ${file} --servers ${name}`,
    `# older gateways: docker mcp catalog import ${file} && docker mcp server enable ${name}`,
  ];
}

/** `server.key` config keys used by `{{…}}` templates in an entry. */
export function configKeys(entry: CatalogServer): string[] {
  const text = JSON.stringify([entry.volumes ?? [], entry.user ?? "", entry.command ?? [], entry.env ?? []]);
  return [...new Set([...text.matchAll(/\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g)].map((m) => m[1]!))].sort();
}

/** Substitutes `{{key}}` templates; an unknown key is an error naming it. */
export function substitute(template: string, values: Record<string, string>, where: string): string {
  return template.replace(/\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g, (_, key: string) => {
    const v = values[key];
    if (v === undefined) throw new UsageError(`${where}: no value for {{${key}}} (pass --config ${key}=VALUE)`);
    return v;
  });
}

/** Current gateways append `:ro` to host binds that name no mode. */
export function withReadOnly(bind: string): string {
  const parts = bind.split(":");
  if (parts.length >= 3 && /^(ro|rw|z|Z|ro,.*|rw,.*)$/.test(parts[parts.length - 1]!)) return bind;
  return `${bind}:ro`;
}

/** The run line the gateway composes from a catalog entry and the user's config values. */
export function composeRun(name: string, entry: CatalogServer, values: Record<string, string>, network = "none"): GatewayRun {
  if (!entry.image) throw new UsageError(`${name}: the entry has no image`);
  const run: GatewayRun = {
    name,
    image: entry.image,
    network: entry.disableNetwork ? "none" : network,
    env: [...(entry.env ?? []).map((e) => e.name), ...(entry.secrets ?? []).map((s) => s.env)],
    volumes: (entry.volumes ?? []).map((v) => withReadOnly(substitute(v, values, `${name}.volumes`))),
  };
  if (entry.user) run.user = substitute(entry.user, values, `${name}.user`);
  if (entry.command?.length) run.command = entry.command.map((c) => substitute(c, values, `${name}.command`));
  return run;
}

/** Container-side path of a bind (`SRC:DST[:mode]`). */
export function bindTarget(bind: string): string {
  const parts = bind.split(":");
  if (parts.length >= 3 && /^(ro|rw|z|Z|ro,.*|rw,.*)$/.test(parts[parts.length - 1]!)) parts.pop();
  return parts[parts.length - 1]!;
}

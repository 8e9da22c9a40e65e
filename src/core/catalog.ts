/**
 * Docker MCP Gateway catalogs: parse (legacy `registry:` catalogs, single-server files, and
 * docker/mcp-registry server.yaml), validate against the gateway's field set
 * (pkg/catalog/types.go), write entries that point at a rewrapped image, and compose the
 * `docker run` line the gateway would make from an entry. Pure (edge/fs.ts reads the files).
 */
import YAML from "yaml";
import { SERVER_SHAPE, type Shape, gatewayView, typeProblems } from "./gateway-schema.js";
import { templateKeys } from "./gateway-eval.js";
import { fromRegistryServer, isRegistryServer } from "./registry-server.js";
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

/**
 * Every problem the gateway itself would have with an entry, as `server: field: problem`
 * sentences (empty when none). Keys the gateway does not know are not problems: it ignores
 * them, and so does the judgement (they are kept when the entry is read).
 */
export function validateServer(key: string, s: unknown): string[] {
  if (!s || typeof s !== "object" || Array.isArray(s)) return [`${key}: not a mapping`];
  const e = s as Record<string, unknown>;
  const errs = typeProblems(e, SERVER_SHAPE, key).map((m) => m.replace(`${key}.`, `${key}: `));
  const at = (f: string, m: string) => errs.push(`${key}: ${f}: ${m}`);
  if (!["server", "remote", "poci"].includes(String(e.type))) at("type", `must be server, remote or poci (got ${JSON.stringify(e.type)})`);
  if (e.type === "server" && (typeof e.image !== "string" || !e.image)) at("image", "required for type server");
  return errs;
}

export interface ParsedCatalog {
  kind: "legacy" | "server" | "registry-server";
  name?: string;
  displayName?: string;
  servers: Record<string, CatalogServer>;
}

/**
 * A node as the gateway's yaml.v3 decoder reads it into its types: a scalar where a string is
 * expected becomes that string as written (`user: 1001` is "1001", `0x10` stays "0x10"; null is
 * the zero value ""), everything else as the yaml library reads it.
 */
function asGatewayReads(doc: YAML.Document.Parsed, node: unknown, shape: Shape): unknown {
  if (YAML.isAlias(node)) return asGatewayReads(doc, node.resolve(doc), shape);
  if (YAML.isScalar(node)) {
    if (shape !== "string" || typeof node.value === "string") return node.toJS(doc);
    return node.value === null ? "" : (node.source ?? String(node.value));
  }
  if (YAML.isSeq(node) && typeof shape === "object" && "list" in shape) return node.items.map((n) => asGatewayReads(doc, n, shape.list));
  // A merge key (<<: parsed with merge on, its value is a symbol) is left to the library, which applies it.
  const isMerge = (k: unknown) => YAML.isScalar(k) && (k.value === "<<" || typeof k.value === "symbol");
  if (YAML.isMap(node) && typeof shape === "object" && !("list" in shape) && !node.items.some((p) => isMerge(p.key))) {
    // No prototype: a server or field named __proto__ is a key like any other (it set the prototype
    // and vanished from the catalog: scan reported nothing for it).
    const out: Record<string, unknown> = Object.create(null);
    for (const pair of node.items) {
      const key = String(YAML.isScalar(pair.key) ? pair.key.value : pair.key);
      const sub = "map" in shape ? shape.map : (shape.fields[key] ?? "any");
      out[key] = asGatewayReads(doc, pair.value, sub);
    }
    return out;
  }
  return YAML.isNode(node) ? node.toJS(doc) : node;
}

/**
 * A YAML text parsed as the gateway's yaml.v3 decodes it into Go maps and structs: merge keys
 * applied (yaml 2 does only when asked), and a mapping key that is a sequence or a mapping refused
 * (yaml.v3: "cannot unmarshal !!seq into string"; yaml 2 would turn it into a string and print a
 * multi-line warning). Throws an Error whose message is one line.
 */
export function parseYamlAsGateway(text: string): YAML.Document.Parsed {
  const lines = new YAML.LineCounter();
  const ydoc = YAML.parseDocument(text, { merge: true, lineCounter: lines });
  if (ydoc.errors.length) throw ydoc.errors[0];
  let bad: { line: number; col: number } | null = null;
  YAML.visit(ydoc, {
    Pair(_, pair) {
      const k: unknown = pair.key;
      const key = YAML.isAlias(k) ? k.resolve(ydoc) : k;
      if (YAML.isCollection(key)) {
        bad = lines.linePos((YAML.isNode(k) ? k.range?.[0] : undefined) ?? 0);
        return YAML.visit.BREAK;
      }
      return undefined;
    },
  });
  if (bad) {
    const at = bad as { line: number; col: number };
    throw new Error(`a mapping key at line ${at.line}, column ${at.col} is a sequence or a mapping, which the gateway's YAML decoder refuses`);
  }
  return ydoc;
}

export function parseCatalog(text: string, source: string): ParsedCatalog {
  let doc: unknown;
  let ydoc: YAML.Document.Parsed;
  try {
    ydoc = parseYamlAsGateway(text);
    doc = ydoc.toJS();
  } catch (e) {
    // The yaml library ends its first line with "at line L, column C:" before a code excerpt.
    const why = (e as Error).message.split("\n")[0]!.replace(/:\s*$/, "");
    throw new UsageError(`${source}: not valid YAML: ${why}; fix the file (a catalog is a YAML mapping)`);
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
      servers: asGatewayReads(ydoc, ydoc.get("registry", true), { map: SERVER_SHAPE }) as Record<string, CatalogServer>,
    };
  } else if (isRegistryServer(d)) {
    parsed = { kind: "registry-server", servers: { [d.name as string]: fromRegistryServer(d) as CatalogServer } };
  } else if (typeof d.name === "string" && d.type !== undefined) {
    parsed = { kind: "server", servers: { [d.name]: asGatewayReads(ydoc, ydoc.contents, SERVER_SHAPE) as CatalogServer } };
  } else {
    throw new UsageError(`${source}: neither a catalog (with "registry:") nor a server entry (with "name:" and "type:")`);
  }
  const errs = Object.entries(parsed.servers).flatMap(([k, v]) => validateServer(k, v));
  // One line (the CLI prints one line per error): each problem names its server.
  if (errs.length) throw new UsageError(`${source}: ${errs.length === 1 ? "an invalid catalog entry" : `${errs.length} problems in catalog entries`}: ${errs.join("; ")}`);
  return parsed;
}

/**
 * The original entry with only `image` replaced: every other field, known to the gateway or
 * not, is kept as read (lineage goes in the image's labels, not here). A single-server file
 * needs a name, so the server's key is added when the entry has none.
 */
export function rewrappedEntry(name: string, original: CatalogServer, image: string): CatalogServer {
  return { ...(original.name === undefined ? { name } : {}), ...original, image };
}

export type CatalogFormat = "profile" | "legacy";

/**
 * The file `catalog` writes: only what the gateway reads (yaml keys of catalog.Server), so
 * test/go/catalogcheck's strict decoder accepts it. `dropped` lists the keys the gateway would
 * have ignored (e.g. dateAdded, secrets[0].example), for the caller to report; `written` is the
 * entry as the file holds it.
 */
export function catalogYaml(name: string, entry: CatalogServer, format: CatalogFormat): { yaml: string; dropped: string[]; written: CatalogServer } {
  const errs = validateServer(name, entry);
  if (errs.length) throw new UsageError(`refusing to write an invalid entry: ${errs.join("; ")}`);
  const dropped: string[] = [];
  const strict = gatewayView(entry, SERVER_SHAPE, "", dropped) as CatalogServer;
  const doc =
    format === "profile"
      ? strict
      : { name: `mcp-rewrap-${name}`, displayName: `mcp-rewrap: ${entry.title ?? name}`, registry: { [name]: strict } };
  return { yaml: YAML.stringify(doc, { lineWidth: 0 }), dropped, written: strict };
}

/** Where gateways >= 0.43.1 accept local catalog files: `~/.docker/mcp/catalogs`. */
export function catalogsDir(home: string): string {
  return `${home.replace(/\/+$/, "")}/.docker/mcp/catalogs`;
}

/**
 * The commands that use a written file. Gateways >= 0.43.1 refuse a local catalog path outside
 * ~/.docker/mcp/catalogs (`file://` and `--additional-catalog` alike), so the file is named
 * there; `installed` says whether it already is (else the first command copies it).
 */
/** A word for a printed command: as it is when the shell reads it so, else single-quoted. */
export function shWord(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * A server's name as a file name and a command-line word: letters, digits, '.', '_' and '-',
 * not starting with '.' or '-' (registry names are such: kubernetes, okta-mcp-server). Null when
 * it is one, else why not.
 */
export function serverNameProblem(name: string): string | null {
  if (/^[A-Za-z0-9_][A-Za-z0-9._-]*$/.test(name)) return null;
  return `${JSON.stringify(name)}: not a server name mcp-rewrap writes a file for (letters, digits, '.', '_' and '-', not first '.' or '-'; it names the file and the printed commands)`;
}

export function usageCommands(
  name: string,
  file: string,
  format: CatalogFormat,
  configKeys: string[],
  opts: { catalogs: string; installed: boolean },
): string[] {
  const base = file.slice(file.lastIndexOf("/") + 1);
  const inCatalogs = opts.installed ? file : `${opts.catalogs}/${base}`;
  const [n, f, dir, inc] = [name, file, opts.catalogs, inCatalogs].map(shWord);
  const copy = opts.installed ? [] : [`mkdir -p ${dir} && cp ${f} ${inc}`];
  if (format === "profile") {
    return [
      ...copy,
      `docker mcp profile create --name ${n} --server ${shWord(`file://${inCatalogs}`)}`,
      ...configKeys.map((k) => `docker mcp profile config ${n} --set ${shWord(k)}=<value>`),
      `docker mcp gateway run --profile ${n}`,
      `# gateways older than profiles read catalogs, not server files: write one with --format legacy`,
    ];
  }
  return [
    ...copy,
    `docker mcp gateway run --additional-catalog ${inc} --servers ${n}`,
    ...configKeys.map((k) => `# set ${k} in ~/.docker/mcp/config.yaml (docker mcp config write)`),
    `# gateways < 0.43.1 also take the file where it is; older ones: docker mcp catalog import ${f} && docker mcp server enable ${n}`,
  ];
}

/** `server.key` config keys read by templates in an entry (filters such as |volume dropped). */
export function configKeys(entry: CatalogServer): string[] {
  const exprs = [...(entry.volumes ?? []), entry.user ?? "", ...(entry.command ?? []), ...(entry.env ?? []).map((e) => e.value ?? "")];
  return [...new Set(exprs.flatMap(templateKeys))].sort();
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

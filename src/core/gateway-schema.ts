/**
 * Pure: the yaml keys of the Docker MCP Gateway's catalog types (docker/mcp-gateway
 * pkg/catalog/types.go, v0.43.3), as data. The gateway reads catalogs with yaml.v3 `Unmarshal`
 * and no `KnownFields`, so a key outside these is ignored: mcp-rewrap reads such files
 * leniently (every key kept) and writes strictly (only these keys, so what it writes means to
 * the gateway exactly what it says). test/go/catalogcheck checks the same keys with yaml.v3.
 */

export type Shape =
  | "string"
  | "bool"
  | "int"
  | "any"
  | { list: Shape }
  | { map: Shape }
  | { fields: Record<string, Shape> };

const strings: Shape = { list: "string" };
const items: Shape = { fields: { type: "string" } };
/** policy.Decision has json tags only: yaml.v3 uses the lower-cased Go field names. */
const decision: Shape = { fields: { allowed: "bool", reason: "string", error: "string" } };

const tool: Shape = {
  fields: {
    name: "string",
    description: "string",
    arguments: { list: { fields: { name: "string", type: "string", items, desc: "string", optional: "bool" } } },
    annotations: {
      fields: { title: "string", readOnlyHint: "bool", destructiveHint: "bool", idempotentHint: "bool", openWorldHint: "bool" },
    },
    container: { fields: { image: "string", command: strings, volumes: strings, user: "string" } },
    parameters: {
      fields: {
        type: "string",
        properties: { map: { fields: { type: "string", description: "string", items } } },
        required: strings,
      },
    },
    policy: decision,
  },
};

/** catalog.Server. */
export const SERVER_SHAPE: { fields: Record<string, Shape> } = {
  fields: {
    name: "string",
    type: "string",
    image: "string",
    description: "string",
    title: "string",
    icon: "string",
    readme: "string",
    longLived: "bool",
    remote: { fields: { url: "string", transport_type: "string", headers: { map: "string" } } },
    sseEndpoint: "string",
    oauth: {
      fields: {
        providers: { list: { fields: { provider: "string", secret: "string", env: "string" } } },
        scopes: strings,
      },
    },
    secrets: { list: { fields: { name: "string", env: "string" } } },
    env: { list: { fields: { name: "string", value: "string" } } },
    command: strings,
    volumes: strings,
    user: "string",
    disableNetwork: "bool",
    allowHosts: strings,
    extraHosts: strings,
    tools: { list: tool },
    config: { list: "any" },
    prefix: "string",
    metadata: {
      fields: {
        pulls: "int",
        stars: "int",
        githubStars: "int",
        category: "string",
        tags: strings,
        license: "string",
        owner: "string",
        registryUrl: "string",
      },
    },
    policy: decision,
  },
};

/** The catalog file around servers (`topLevel`). */
export const CATALOG_SHAPE: { fields: Record<string, Shape> } = {
  fields: { name: "string", displayName: "string", registry: { map: SERVER_SHAPE }, policy: decision },
};

const isMap = (v: unknown): v is Record<string, unknown> => !!v && typeof v === "object" && !Array.isArray(v);

/**
 * What the gateway's decoder keeps of `value`: keys it does not know are left out (their paths
 * collected in `dropped`, e.g. `dateAdded`, `secrets[0].example`). Values are not coerced.
 */
export function gatewayView(value: unknown, shape: Shape, path = "", dropped: string[] = []): unknown {
  if (typeof shape === "string") return value;
  if ("list" in shape) {
    if (!Array.isArray(value)) return value;
    return value.map((v, i) => gatewayView(v, shape.list, `${path}[${i}]`, dropped));
  }
  if (!isMap(value)) return value;
  if ("map" in shape) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, gatewayView(v, shape.map, path ? `${path}.${k}` : k, dropped)]));
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const sub = shape.fields[k];
    const at = path ? `${path}.${k}` : k;
    if (sub === undefined) dropped.push(at);
    else out[k] = gatewayView(v, sub, at, dropped);
  }
  return out;
}

/** Paths of `value` the gateway would ignore (see gatewayView). */
export function unknownKeys(value: unknown, shape: Shape = SERVER_SHAPE): string[] {
  const dropped: string[] = [];
  gatewayView(value, shape, "", dropped);
  return dropped;
}

/**
 * Values yaml.v3 could not decode into the gateway's types (the gateway fails to read the whole
 * catalog then): `field: problem` sentences. Unknown keys are not problems.
 */
export function typeProblems(value: unknown, shape: Shape, path: string): string[] {
  const out: string[] = [];
  const at = (m: string) => out.push(`${path}: ${m}`);
  if (value === null || value === undefined) return out; // yaml null decodes to the zero value
  if (shape === "any") return out;
  if (shape === "string") {
    // yaml.v3 decodes any scalar into a string; mappings and sequences fail.
    if (typeof value === "object") at("must be a string");
  } else if (shape === "bool") {
    if (typeof value !== "boolean") at("must be true or false");
  } else if (shape === "int") {
    if (typeof value !== "number" || !Number.isInteger(value)) at("must be an integer");
  } else if ("list" in shape) {
    if (!Array.isArray(value)) at("must be a list");
    else value.forEach((v, i) => out.push(...typeProblems(v, shape.list, `${path}[${i}]`)));
  } else if ("map" in shape) {
    if (!isMap(value)) at("must be a mapping");
    else for (const [k, v] of Object.entries(value)) out.push(...typeProblems(v, shape.map, `${path}.${k}`));
  } else {
    if (!isMap(value)) at("must be a mapping");
    else {
      for (const [k, v] of Object.entries(value)) {
        const sub = shape.fields[k];
        if (sub !== undefined) out.push(...typeProblems(v, sub, `${path}.${k}`));
      }
    }
  }
  return out;
}

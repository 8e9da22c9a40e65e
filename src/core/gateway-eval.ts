/**
 * Pure: the gateway's template language for catalog `volumes`, `command`, `user` and `env`
 * values (docker/mcp-gateway pkg/eval): `{{server.key}}` digs into the user's config
 * (`~/.docker/mcp/config.yaml`, server -> key -> value), then `|`-separated functions:
 * volume, volume-target, into, first, last, or:DEFAULT, mount_as:PATH. A missing key is "".
 */

export type GatewayConfig = Record<string, unknown>;

const TERMS = /\{\{.*?\}\}|[^{}]+/g;

function dig(key: string, config: GatewayConfig): unknown {
  const k = key.trim();
  const dot = k.indexOf(".");
  if (dot < 0) return config[k] ?? "";
  const child = config[k.slice(0, dot).trim()];
  if (!child || typeof child !== "object" || Array.isArray(child)) return "";
  return dig(k.slice(dot + 1), child as GatewayConfig);
}

const fmt = (v: unknown): string => (v === null || v === undefined ? "<nil>" : Array.isArray(v) ? `[${v.map(fmt).join(" ")}]` : String(v));

function isWindowsPath(p: string): boolean {
  return /^[a-zA-Z]:\\/.test(p) || /^\\\\[^\\]+\\[^\\]+/.test(p);
}
function toLinuxPath(p: string): string {
  return p.replace(/\\/g, "/").replace(/^([a-zA-Z]):\//, "/$1/");
}
const volume = (v: unknown): string => {
  const source = fmt(v);
  if (source === "") return "";
  return `${source}:${isWindowsPath(source) ? toLinuxPath(source) : source}`;
};
const volumeTarget = (v: unknown): string => {
  const p = fmt(v);
  return isWindowsPath(p) ? toLinuxPath(p) : p;
};
const each = (v: unknown, fn: (x: unknown) => string): unknown => (Array.isArray(v) ? v.map(fn) : fn(v));

function term(t: string, config: GatewayConfig): unknown {
  if (!t.startsWith("{{") || !t.endsWith("}}")) return t;
  const inner = t.slice(2, -2);
  const bar = inner.indexOf("|");
  let value = dig(bar < 0 ? inner : inner.slice(0, bar), config);
  if (bar < 0) return value;
  for (const f of inner.slice(bar + 1).split("|")) {
    const name = f.trim();
    if (name === "volume") value = each(value, volume);
    else if (name === "volume-target") value = each(value, volumeTarget);
    else if (name === "into") value = Array.isArray(value) ? value.map(fmt) : [fmt(value)];
    else if (name === "first") value = Array.isArray(value) ? (value.length ? value[0] : "") : value;
    else if (name === "last") value = Array.isArray(value) ? (value.length ? value[value.length - 1] : "") : value;
    else if (f.startsWith("or:")) {
      const def = f.slice(3);
      if (Array.isArray(value)) {
        if (!value.length) value = def.startsWith("[") && def.endsWith("]") ? (def.length > 2 ? def.slice(1, -1).split(",") : []) : def;
      } else if (value === null || value === undefined || value === "") value = def;
      else value = fmt(value);
    } else if (f.startsWith("mount_as:")) {
      let v = value;
      if (Array.isArray(v)) v = v.length ? v[0] : "";
      value = v === null || v === undefined || v === "" ? "" : `${fmt(v)}:${f.slice(9).trim()}`;
    }
  }
  return value;
}

/** One expression: a single term keeps its type (a list stays a list); several are joined as text. */
export function evaluate(expression: string, config: GatewayConfig): unknown {
  const terms = expression.match(TERMS) ?? [];
  if (terms.length === 0) return "";
  if (terms.length === 1) return term(terms[0]!, config);
  return terms.map((t) => fmt(term(t, config))).join("");
}

/** A list of expressions, lists flattened (the gateway's EvaluateList). */
export function evaluateList(expressions: string[], config: GatewayConfig): string[] {
  const out: string[] = [];
  for (const e of expressions) {
    const v = evaluate(e, config);
    if (Array.isArray(v)) out.push(...v.map(fmt));
    else out.push(typeof v === "string" ? v : fmt(v));
  }
  return out;
}

/** The `server.key` paths an expression reads, e.g. `okta-mcp-server.log_path`. */
export function templateKeys(expression: string): string[] {
  return [...expression.matchAll(/\{\{(.*?)\}\}/g)].map((m) => m[1]!.split("|")[0]!.trim()).filter(Boolean);
}

/** Whether the user's config has a non-empty value for `server.key`. */
export function hasValue(key: string, config: GatewayConfig): boolean {
  const v = dig(key, config);
  return !(v === "" || v === null || v === undefined || (Array.isArray(v) && v.length === 0));
}

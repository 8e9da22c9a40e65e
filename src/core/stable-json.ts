/**
 * Pure: stable JSON, the one serialisation of what mcp-rewrap hashes or writes as data (the
 * freshness key's input, a context's rewrap.json and facts.json). Its own module so the
 * freshness key never loads the renderer (handlebars).
 */

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

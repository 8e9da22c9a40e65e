/**
 * Pure: docker/mcp-registry's `servers/<name>/server.yaml` -> the catalog entry the published
 * catalog holds for it, by the field mapping of docker/mcp-registry pkg/catalog/tile.go
 * (ToTile), without the parts ToTile fetches from the network (GitHub owner, license, stars,
 * pulls, readme and tools URLs, dateAdded). One deliberate difference: `longLived`, which the
 * gateway reads and ToTile does not copy, is kept.
 */

type Doc = Record<string, unknown>;
const map = (v: unknown): Doc => (v && typeof v === "object" && !Array.isArray(v) ? (v as Doc) : {});
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string => (v === undefined || v === null ? "" : String(v));

/** True for a server.yaml (registry format) rather than a catalog entry. */
export function isRegistryServer(doc: Doc): boolean {
  return typeof doc.name === "string" && (doc.run !== undefined || doc.about !== undefined || doc.source !== undefined);
}

/** ToTile's description: newlines joined, trimmed, a full stop added. */
export function tileDescription(text: string): string {
  const t = text.replace(/\n/g, " ").trim();
  return t.endsWith(".") ? t : `${t}.`;
}

export function fromRegistryServer(doc: Doc): Doc {
  const name = str(doc.name);
  const about = map(doc.about);
  const run = map(doc.run);
  const cfg = map(doc.config);
  const meta = map(doc.meta);
  const out: Doc = { name, type: str(doc.type) || "server" };
  if (doc.image) out.image = str(doc.image);
  if (about.description) out.description = tileDescription(str(about.description));
  if (about.title) out.title = str(about.title);
  if (about.icon) out.icon = str(about.icon);
  if (doc.longLived === true) out.longLived = true;
  const remote = map(doc.remote);
  if (remote.url) {
    out.remote = {
      url: str(remote.url),
      ...(remote.transport_type ? { transport_type: str(remote.transport_type) } : {}),
      ...(remote.headers ? { headers: remote.headers } : {}),
    };
  }
  const oauth = list(doc.oauth).map(map);
  if (oauth.length) {
    out.oauth = {
      providers: oauth.map((p) => ({ provider: str(p.provider), ...(p.secret ? { secret: str(p.secret) } : {}), ...(p.env ? { env: str(p.env) } : {}) })),
    };
  }
  const secrets = list(cfg.secrets).map(map);
  if (secrets.length) out.secrets = secrets.map((s) => ({ name: str(s.name), env: str(s.env) }));
  const env = [
    ...list(cfg.env).map(map).map((e) => ({ name: str(e.name), value: str(e.value) })),
    ...Object.entries(map(run.env)).map(([k, v]) => ({ name: k, value: str(v) })),
  ];
  if (env.length) out.env = env;
  if (Array.isArray(run.command)) out.command = run.command.map(str);
  if (Array.isArray(run.volumes)) out.volumes = run.volumes.map(str);
  if (run.user !== undefined && run.user !== "") out.user = str(run.user);
  if (run.disableNetwork === true) out.disableNetwork = true;
  if (Array.isArray(run.allowHosts)) out.allowHosts = run.allowHosts.map(str);
  if (Array.isArray(doc.tools)) out.tools = doc.tools;
  const params = map(cfg.parameters);
  if (Object.keys(map(params.properties)).length) {
    out.config = [
      {
        name,
        description: str(cfg.description),
        type: str(params.type) || "object",
        // ToTile clears each property's default (the UI shows defaults; the gateway reads values from config.yaml).
        properties: Object.fromEntries(
          Object.entries(map(params.properties)).map(([k, v]) => {
            const { default: _d, ...rest } = map(v);
            return [k, rest];
          }),
        ),
        ...(params.required ? { required: params.required } : {}),
        ...(params.anyOf ? { anyOf: params.anyOf } : {}),
      },
    ];
  }
  if (meta.category || meta.tags) {
    out.metadata = { ...(meta.category ? { category: str(meta.category) } : {}), ...(Array.isArray(meta.tags) ? { tags: meta.tags.map(str) } : {}) };
  }
  return out;
}

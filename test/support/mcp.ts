/**
 * Drives an MCP server container over stdio the way an MCP client behind the gateway would:
 * spawns `docker <dockerArgs>` (a full `run …` argv, e.g. from gatewayRunArgs() in
 * src/core/gateway.ts), initializes, reads the resource `k8s://nodes` (mcp-server-kubernetes
 * lists nodes with @kubernetes/client-node there) and returns the node names it got back. The
 * client itself is the product's one (src/edge/docker-run.ts, withMcpServer).
 *
 * - A generated `--name` is inserted right after `run`, so the container is always removed
 *   with `docker rm -f` in a finally, whatever happened. Callers add every other flag
 *   (e.g. `network: "host"` so the container reaches the stand-in API on 127.0.0.1).
 * - A read failure (e.g. the server silently fell back to the default cluster localhost:8080)
 *   comes back as `error`, not as a throw. Startup failures (server exited, timeout) also land
 *   in `error`; the container's stderr is always returned.
 * - One overall deadline (timeoutMs, default 60 s) bounds the whole exchange; it never hangs.
 */
import { withMcpServer } from "../../src/edge/docker-run.js";

export interface ListNodesResult {
  nodes: string[];
  error?: string;
  stderr: string;
}

function nodeNames(text: string): string[] {
  const parsed: unknown = JSON.parse(text);
  const items = Array.isArray(parsed)
    ? parsed
    : ((parsed as { items?: unknown[] } | null)?.items ?? []);
  return items
    .map((item) => (item as { metadata?: { name?: unknown } } | null)?.metadata?.name)
    .filter((n): n is string => typeof n === "string");
}

/** Lists the nodes through the one MCP client of src/edge/docker-run.ts (withMcpServer). */
export async function listNodesOverMcp(dockerArgs: string[], opts: { timeoutMs?: number } = {}): Promise<ListNodesResult> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const r = await withMcpServer(
    dockerArgs,
    async (client) => {
      const res = await client.readResource({ uri: "k8s://nodes" }, { timeout: timeoutMs });
      const first = res.contents[0];
      return nodeNames(first && "text" in first && typeof first.text === "string" ? first.text : "[]");
    },
    { timeoutMs, namePrefix: "mcp-rewrap-test", clientName: "mcp-rewrap-test" },
  );
  return r.ok ? { nodes: r.value, stderr: r.stderr } : { nodes: [], error: r.error, stderr: r.stderr };
}

/**
 * Drives an MCP server container over stdio the way an MCP client behind the gateway would:
 * spawns `docker <dockerArgs>` (a full `run …` argv, e.g. from gatewayRunArgs() in
 * src/gateway.ts), initializes, reads the resource `k8s://nodes` (mcp-server-kubernetes lists
 * nodes with @kubernetes/client-node there) and returns the node names it got back.
 *
 * - A generated `--name` is inserted right after `run`, so the container is always removed
 *   with `docker rm -f` in a finally, whatever happened. Callers add every other flag
 *   (e.g. `network: "host"` so the container reaches the stand-in API on 127.0.0.1).
 * - A read failure (e.g. the server silently fell back to the default cluster localhost:8080)
 *   comes back as `error`, not as a throw. Startup failures (server exited, timeout) also land
 *   in `error`; the container's stderr is always returned.
 * - One overall deadline (timeoutMs, default 60 s) bounds the whole exchange; it never hangs.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

export interface ListNodesResult {
  nodes: string[];
  error?: string;
  stderr: string;
}

/** `docker rm -f <name>`, never throws, bounded by a timeout. */
export function removeContainer(name: string): Promise<void> {
  return new Promise((resolve) => {
    execFile("docker", ["rm", "-f", name], { timeout: 30_000 }, () => resolve());
  });
}

function withName(dockerArgs: string[], name: string): string[] {
  if (dockerArgs[0] !== "run") throw new Error(`listNodesOverMcp expects a "run …" argv, got: ${dockerArgs.join(" ")}`);
  return ["run", "--name", name, ...dockerArgs.slice(1)];
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

export async function listNodesOverMcp(
  dockerArgs: string[],
  opts: { timeoutMs?: number } = {},
): Promise<ListNodesResult> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const name = `mcp-rewrap-test-${randomBytes(6).toString("hex")}`;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;

  const transport = new StdioClientTransport({
    command: "docker",
    args: withName(dockerArgs, name),
    env,
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (chunk: Buffer | string) => {
    stderr += chunk.toString();
  });
  const client = new Client({ name: "mcp-rewrap-test", version: "0.0.0" });

  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
  });
  // The server may exit before answering (e.g. it crashes on an unreadable kubeconfig).
  const exited = new Promise<never>((_, reject) => {
    client.onclose = () => reject(new Error("server closed the connection (container exited)"));
  });
  deadline.catch(() => {});
  exited.catch(() => {});

  const exchange = async (): Promise<ListNodesResult> => {
    await client.connect(transport, { timeout: timeoutMs });
    try {
      const res = await client.readResource({ uri: "k8s://nodes" }, { timeout: timeoutMs });
      const first = res.contents[0];
      const text = first && "text" in first && typeof first.text === "string" ? first.text : "[]";
      return { nodes: nodeNames(text), stderr };
    } catch (err) {
      return { nodes: [], error: err instanceof Error ? err.message : String(err), stderr };
    }
  };

  try {
    const result = await Promise.race([exchange(), deadline, exited]);
    return { ...result, stderr };
  } catch (err) {
    return { nodes: [], error: err instanceof Error ? err.message : String(err), stderr };
  } finally {
    clearTimeout(timer);
    await Promise.race([client.close().catch(() => {}), new Promise((r) => setTimeout(r, 5_000))]);
    await removeContainer(name);
  }
}

/**
 * The Docker MCP Gateway's run line, composed exactly as docker/mcp-gateway does for a stdio
 * server (see GATEWAY.md). Pure: returns the argv after `docker`.
 */
export interface GatewayRun {
  /** Server name from the catalog (used in the docker-mcp-name label). */
  name: string;
  image: string;
  /** `--network <net>`; the gateway uses `none` when the server has no network. */
  network?: string;
  /** Names passed as `-e NAME` (values come from the docker CLI's environment). */
  env?: string[];
  /** Bind strings `SRC:DST[:ro]` as written in the catalog's `volumes:`. */
  volumes?: string[];
  /** Catalog `user:` field. */
  user?: string;
  /** Catalog `command:`: replaces the image CMD. */
  command?: string[];
  /** Extra flags a caller adds for a test or a different runner (e.g. `--cap-drop ALL`). */
  extraFlags?: string[];
}

export const GATEWAY_FLAGS = [
  "--rm",
  "-i",
  "--init",
  "--security-opt",
  "no-new-privileges",
  "--cpus",
  "1",
  "--memory",
  "2Gb",
  "--pull",
  "never",
] as const;

export function gatewayRunArgs(run: GatewayRun): string[] {
  const args: string[] = ["run", ...GATEWAY_FLAGS];
  args.push(
    "-l",
    "docker-mcp=true",
    "-l",
    "docker-mcp-tool-type=mcp",
    "-l",
    `docker-mcp-name=${run.name}`,
    "-l",
    "docker-mcp-transport=stdio",
  );
  args.push("--network", run.network ?? "none");
  for (const name of run.env ?? []) args.push("-e", name);
  for (const bind of run.volumes ?? []) args.push("-v", bind);
  if (run.user) args.push("-u", run.user);
  args.push(...(run.extraFlags ?? []));
  args.push(run.image, ...(run.command ?? []));
  return args;
}

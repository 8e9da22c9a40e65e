// Talks MCP to a server container the way a client behind the Docker MCP Gateway does:
// spawns `docker <args>` over stdio, initializes, reads the resource k8s://nodes and prints
// the node names, one a line, on stdout (exit 0). On failure prints `error: <message>` on
// stderr (exit 1). The container's own stderr is passed through, each line prefixed "  | ".
//
//   node scripts/mcp-call.mjs [--name NAME] [--timeout SECONDS] -- run [docker run flags] IMAGE
//
// --name NAME names the container (so the caller can `docker rm -f NAME`); it is removed when
// done either way. One deadline (default 60 s) bounds the whole exchange. The client is
// mcp-rewrap's own (src/edge/docker-run.ts, withMcpServer), from dist/: run `make build` first.
import { existsSync } from "node:fs";

let name;
let timeoutMs = 60_000;
const argv = process.argv.slice(2);
while (argv.length && argv[0] !== "--") {
  const flag = argv.shift();
  if (flag === "--name") name = argv.shift();
  else if (flag === "--timeout") timeoutMs = Number(argv.shift()) * 1000;
  else usage(`unknown option ${flag}`);
}
argv.shift();
if (argv[0] !== "run" || argv.length < 2 || !(timeoutMs > 0)) usage("expected: -- run [flags] IMAGE");

function usage(msg) {
  process.stderr.write(`mcp-call: ${msg}; usage: mcp-call.mjs [--name NAME] [--timeout S] -- run [flags] IMAGE\n`);
  process.exit(2);
}

const compiled = new URL("../dist/src/edge/docker-run.js", import.meta.url);
if (!existsSync(compiled)) usage("dist/src missing: run `make build`");
const { withMcpServer } = await import(compiled.href);

let pending = "";
const r = await withMcpServer(
  argv,
  async (client) => {
    const res = await client.readResource({ uri: "k8s://nodes" }, { timeout: timeoutMs });
    const first = res.contents[0];
    const parsed = JSON.parse(first && typeof first.text === "string" ? first.text : "[]");
    const items = Array.isArray(parsed) ? parsed : (parsed?.items ?? []);
    return items.map((n) => n?.metadata?.name).filter((n) => typeof n === "string");
  },
  {
    timeoutMs,
    name,
    namePrefix: "mcp-call",
    clientName: "mcp-rewrap-demo",
    onStderr: (chunk) => {
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) process.stderr.write(`  | ${line}\n`);
    },
  },
);
if (pending) process.stderr.write(`  | ${pending}\n`);
if (!r.ok) {
  process.stderr.write(`error: ${r.error}\n`);
  process.exit(1);
}
process.stdout.write(r.value.map((n) => `${n}\n`).join(""));
if (r.value.length === 0) {
  process.stderr.write("error: the server answered with no nodes\n");
  process.exit(1);
}

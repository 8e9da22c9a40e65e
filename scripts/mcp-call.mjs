// Talks MCP to a server container the way a client behind the Docker MCP Gateway does:
// spawns `docker <args>` over stdio, initializes, reads the resource k8s://nodes and prints
// the node names, one a line, on stdout (exit 0). On failure prints `error: <message>` on
// stderr (exit 1). The container's own stderr is passed through, each line prefixed "  | ".
//
//   node scripts/mcp-call.mjs [--name NAME] [--timeout SECONDS] -- run [docker run flags] IMAGE
//
// --name NAME is inserted right after `run` so the caller can `docker rm -f NAME`; this script
// also removes it when done. One deadline (default 60 s) bounds the whole exchange.
import { execFileSync } from "node:child_process";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

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
const dockerArgs = name ? ["run", "--name", name, ...argv.slice(1)] : argv;

function usage(msg) {
  process.stderr.write(`mcp-call: ${msg}\nusage: mcp-call.mjs [--name NAME] [--timeout S] -- run [flags] IMAGE\n`);
  process.exit(2);
}

const transport = new StdioClientTransport({ command: "docker", args: dockerArgs, env: { ...process.env }, stderr: "pipe" });
let pending = "";
transport.stderr?.on("data", (chunk) => {
  pending += chunk.toString();
  const lines = pending.split("\n");
  pending = lines.pop() ?? "";
  for (const line of lines) process.stderr.write(`  | ${line}\n`);
});
const client = new Client({ name: "mcp-rewrap-demo", version: "0.0.0" });

async function exchange() {
  await client.connect(transport, { timeout: timeoutMs });
  const res = await client.readResource({ uri: "k8s://nodes" }, { timeout: timeoutMs });
  const first = res.contents[0];
  const parsed = JSON.parse(first && typeof first.text === "string" ? first.text : "[]");
  const items = Array.isArray(parsed) ? parsed : (parsed?.items ?? []);
  return items.map((n) => n?.metadata?.name).filter((n) => typeof n === "string");
}

let timer;
const deadline = new Promise((_, reject) => {
  timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs / 1000} s`)), timeoutMs);
});
const exited = new Promise((_, reject) => {
  client.onclose = () => reject(new Error("the server closed the connection (container exited)"));
});
exited.catch(() => {});

let code = 0;
try {
  const names = await Promise.race([exchange(), deadline, exited]);
  process.stdout.write(names.map((n) => `${n}\n`).join(""));
  if (names.length === 0) {
    process.stderr.write("error: the server answered with no nodes\n");
    code = 1;
  }
} catch (err) {
  process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
  code = 1;
} finally {
  clearTimeout(timer);
  await Promise.race([client.close().catch(() => {}), new Promise((r) => setTimeout(r, 5_000))]);
  if (pending) process.stderr.write(`  | ${pending}\n`);
  if (name) {
    try {
      execFileSync("docker", ["rm", "-f", name], { stdio: "ignore", timeout: 30_000 });
    } catch {
      // already gone (--rm)
    }
  }
}
process.exit(code);

#!/usr/bin/env node
// The tests' net guard (scripts/test-engines.sh): no test may talk to an address other than
// 127.0.0.1 (or a namespace it made itself). During a run, HTTP_PROXY and HTTPS_PROXY name this
// proxy (NO_PROXY keeps loopback direct), and the engines that scripts/engine*.sh start send their
// pulls here too; so anything that reaches for another host arrives here instead, never leaves
// the machine, and is refused (403). Each attempt is appended to LOG as one line:
//   <ISO time> <host:port> <method>
// and the run that made it fails (test-engines.sh reads LOG).
//   node scripts/net-guard.mjs PORT LOG     listens on 127.0.0.1:PORT until killed
import { appendFileSync } from "node:fs";
import { createServer } from "node:net";

const [port, log] = process.argv.slice(2);
if (!/^[0-9]+$/.test(port ?? "") || !log) {
  process.stderr.write("usage: net-guard.mjs PORT LOG\n");
  process.exit(2);
}

const server = createServer((socket) => {
  let head = "";
  socket.setTimeout(5000, () => socket.destroy());
  socket.on("error", () => {});
  socket.on("data", (chunk) => {
    head += chunk.toString("latin1");
    if (!head.includes("\r\n") && head.length < 8192) return;
    socket.removeAllListeners("data");
    // "CONNECT host:443 HTTP/1.1" (https) or "GET http://host/path HTTP/1.1" (plain http).
    const [method = "?", target = "?"] = head.split("\r\n", 1)[0].split(" ");
    let where = target;
    if (method !== "CONNECT") {
      try {
        const u = new URL(target);
        where = `${u.hostname}:${u.port || (u.protocol === "https:" ? 443 : 80)}`;
      } catch {
        // Not a proxy request: recorded as it came.
      }
    }
    appendFileSync(log, `${new Date().toISOString()} ${where.replace(/\s/g, "?")} ${method.replace(/\s/g, "?")}\n`);
    socket.end("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  });
});
server.on("error", (e) => {
  process.stderr.write(`net-guard: cannot listen on 127.0.0.1:${port}: ${e.message}\n`);
  process.exit(1);
});
server.listen(Number(port), "127.0.0.1", () => process.stderr.write(`net-guard: listening on 127.0.0.1:${port}\n`));
for (const s of ["SIGTERM", "SIGINT"]) process.on(s, () => server.close(() => process.exit(0)));

/**
 * A tiny forward proxy on 127.0.0.1 (random port) that counts what goes through it: plain http
 * requests in absolute form (`GET http://host/path`), and CONNECT tunnels (https). Used to show
 * that the registry client honours HTTP_PROXY / HTTPS_PROXY / NO_PROXY.
 */
import { type IncomingMessage, type ServerResponse, createServer, request as httpRequest } from "node:http";
import { type AddressInfo, connect } from "node:net";

export interface CountingProxy {
  url: string;
  /** Request lines seen: `GET http://127.0.0.1:1234/v2/`, `CONNECT host:443`. */
  seen: string[];
  stop(): Promise<void>;
}

export async function startCountingProxy(): Promise<CountingProxy> {
  const seen: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen.push(`${req.method} ${req.url}`);
    let target: URL;
    try {
      target = new URL(req.url ?? "");
    } catch {
      res.writeHead(400).end("absolute-form URL expected");
      return;
    }
    const upstream = httpRequest(
      { host: target.hostname, port: target.port || 80, path: `${target.pathname}${target.search}`, method: req.method, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on("error", () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  server.on("connect", (req: IncomingMessage, socket, head: Buffer) => {
    seen.push(`CONNECT ${req.url}`);
    const [host, port] = (req.url ?? "").split(":");
    const up = connect(Number(port) || 443, host!, () => {
      socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      up.write(head);
      up.pipe(socket);
      socket.pipe(up);
    });
    up.on("error", () => socket.destroy());
    socket.on("error", () => up.destroy());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    stop: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

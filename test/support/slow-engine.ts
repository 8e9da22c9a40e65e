/**
 * A Unix-socket relay in front of the engine that holds the Nth container create for a while:
 * the window in which a client has sent `POST …/containers/create` and the engine has not made
 * the container yet, widened from milliseconds to `holdMs`. The held request reaches the engine
 * whole even when the client is gone by then (as a request the engine had already read), and
 * the relay keeps the engine's side open until it answers. Everything else passes through.
 */
import { type Server, type Socket, connect, createServer } from "node:net";

export interface SlowEngine {
  /** DOCKER_HOST for the relay. */
  host: string;
  /** Resolves when the held create has arrived (before it is passed on). */
  held: Promise<void>;
  /** Resolves when the held create has been passed on to the engine. */
  released: Promise<void>;
  stop(): Promise<void>;
}

/** The engine's socket path from DOCKER_HOST (unix:// only), else the default socket. */
function engineSocket(): string {
  const h = process.env.DOCKER_HOST ?? "";
  if (!h) return "/var/run/docker.sock";
  if (!h.startsWith("unix://")) throw new Error(`slow-engine needs a unix:// DOCKER_HOST, got ${h}`);
  return h.slice("unix://".length);
}

/** Relays `socketPath` to the engine; the `nth` container create (1-based) is held `holdMs`. */
export async function startSlowEngine(socketPath: string, nth: number, holdMs: number): Promise<SlowEngine> {
  const upstreamPath = engineSocket();
  let creates = 0;
  let onHeld!: () => void;
  let onReleased!: () => void;
  const held = new Promise<void>((r) => (onHeld = r));
  const released = new Promise<void>((r) => (onReleased = r));
  const sockets = new Set<Socket>();
  // Half-open both ways: `docker run -i` closes its side of the attach stream at stdin's end and
  // still reads the output.
  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    const up = connect({ path: upstreamPath, allowHalfOpen: true });
    sockets.add(client).add(up);
    let queue: Buffer[] | null = null;
    let ended = false;
    client.on("data", (chunk: Buffer) => {
      if (queue) {
        queue.push(chunk);
        return;
      }
      if (/^POST \S*\/containers\/create/m.test(chunk.toString("latin1")) && ++creates === nth) {
        queue = [chunk];
        onHeld();
        setTimeout(() => {
          for (const c of queue!) up.write(c);
          queue = null;
          if (ended) up.end();
          onReleased();
        }, holdMs);
        return;
      }
      up.write(chunk);
    });
    up.on("data", (chunk: Buffer) => {
      if (!client.destroyed) client.write(chunk);
    });
    // A client that goes away does not take the engine's side down while a request is held: its
    // end is passed on after the request.
    client.on("end", () => {
      ended = true;
      if (!queue) up.end();
    });
    up.on("end", () => client.end());
    client.on("error", () => {});
    up.on("error", () => client.destroy());
    up.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, () => resolve());
  });
  return {
    host: `unix://${socketPath}`,
    held,
    released,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

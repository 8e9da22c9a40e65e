/**
 * The read-only Engine API client: ping, version and image inspect over node:http / node:https,
 * for the commands (and the no-op build) that only read from the engine, so they never load
 * dockerode (~250 ms of modules: docker-modem, ssh2, grpc, protobufjs). It is reached as
 * docker-context.ts's engineTransport says, and it answers as dockerode does: the same
 * unversioned paths, the parsed JSON body, and on an unexpected status an Error carrying
 * statusCode, reason and json (docker-modem's shape), so engine.ts turns both clients' errors
 * into the same sentences. Connection errors are node's own (code ECONNREFUSED, ENOENT...), as
 * under dockerode; an abort rejects with the AbortError/TimeoutError of the signal.
 */
import { Agent as HttpAgent, type IncomingMessage, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, type RequestOptions, request as httpsRequest } from "node:https";
import { addAbortSignal } from "node:stream";
import type { EngineTransport } from "./docker-context.js";

/** What a read needs: its path and the statuses it accepts (others reject with `reason`, as dockerode's statusCodes). */
export interface LiteRequest {
  path: string;
  ok: number[];
  reasons?: Record<number, string>;
  signal?: AbortSignal;
}

/** An engine error as docker-modem builds one. */
export interface LiteHttpError extends Error {
  statusCode: number;
  reason?: string;
  json: unknown;
}

/** The path of an image's inspect, as dockerode writes it (the name as given; only what a URL path cannot carry is escaped). */
export function imageInspectPath(name: string): string {
  return `/images/${name.replace(/[^A-Za-z0-9._\-:/@+]/g, (c) => encodeURIComponent(c))}/json`;
}

/** node:http request options for a GET of `path` through `t`. */
export function requestOptions(t: EngineTransport, path: string, agent?: HttpAgent): RequestOptions {
  const base = { method: "GET", path, headers: {}, ...(agent ? { agent } : {}) };
  if ("socketPath" in t) return { ...base, socketPath: t.socketPath };
  return {
    ...base,
    hostname: t.host,
    ...(t.port ? { port: t.port } : {}),
    ...(t.protocol === "https"
      ? { ...(t.ca ? { ca: t.ca } : {}), ...(t.cert ? { cert: t.cert } : {}), ...(t.key ? { key: t.key } : {}), ...(t.rejectUnauthorized === false ? { rejectUnauthorized: false } : {}) }
      : {}),
  };
}

/** A response body as docker-modem reads it: JSON when it parses, else the raw bytes. */
export function parseBody(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString());
  } catch {
    return body;
  }
}

/**
 * The error for a status the request does not accept, worded as docker-modem words it:
 * `(HTTP code 404) no such image - No such image: x:latest ` with statusCode, reason and json.
 */
export function statusError(statusCode: number, reasons: Record<number, string>, json: unknown): LiteHttpError {
  const j = json as { message?: unknown; error?: unknown } | null;
  const cause = (j && typeof j === "object" && !Buffer.isBuffer(j) ? (j.message ?? j.error) : undefined) ?? (Buffer.isBuffer(json) ? json.toString() : json);
  const err = new Error(`(HTTP code ${statusCode}) ${reasons[statusCode] ?? "unexpected"} - ${String(cause)} `) as LiteHttpError;
  err.reason = reasons[statusCode];
  err.statusCode = statusCode;
  err.json = json;
  return err;
}

export class LiteEngine {
  private readonly agent: HttpAgent;
  private readonly https: boolean;

  constructor(private readonly transport: EngineTransport) {
    this.https = "protocol" in transport && transport.protocol === "https";
    this.agent = this.https ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
  }

  /** A GET whose JSON (or raw) body resolves, or rejects as dockerode would. */
  get(req: LiteRequest): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const options = { ...requestOptions(this.transport, req.path, this.agent), ...(req.signal ? { signal: req.signal } : {}) };
      let done = false;
      const finish = (err: Error | null, value?: unknown) => {
        if (done) return;
        done = true;
        if (err) reject(err);
        else resolve(value);
      };
      let r;
      try {
        r = (this.https ? httpsRequest : httpRequest)(options, (res: IncomingMessage) => {
          if (req.signal) addAbortSignal(req.signal, res);
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("error", (e) => finish(e));
          res.on("end", () => {
            const json = parseBody(Buffer.concat(chunks));
            const status = res.statusCode ?? 0;
            if (req.ok.includes(status)) finish(null, json);
            else finish(statusError(status, req.reasons ?? {}, json));
          });
        });
      } catch (e) {
        finish(e as Error);
        return;
      }
      r.on("error", (e) => finish(e));
      r.end();
    });
  }

  ping(opts: { abortSignal?: AbortSignal } = {}): Promise<unknown> {
    return this.get({ path: "/_ping", ok: [200], reasons: { 500: "server error" }, ...(opts.abortSignal ? { signal: opts.abortSignal } : {}) });
  }

  version(): Promise<unknown> {
    return this.get({ path: "/version", ok: [200], reasons: { 500: "server error" } });
  }

  /** The image's history, newest step first (GET /images/{name}/history). */
  imageHistory(name: string): Promise<unknown> {
    const path = imageInspectPath(name).replace(/\/json$/, "/history");
    return this.get({ path, ok: [200], reasons: { 404: "no such image", 500: "server error" } });
  }

  /** `manifests`: the image's platform manifests too (containerd image store, API 1.48+; older engines ignore it). */
  inspectImage(name: string, opts: { manifests?: boolean } = {}): Promise<unknown> {
    const path = imageInspectPath(name) + (opts.manifests ? "?manifests=1" : "");
    return this.get({ path, ok: [200], reasons: { 404: "no such image", 500: "server error" } });
  }
}

/** Reads every entry of a gzip'd tar (a registry layer) into memory, for assertions. */
import { gunzipSync } from "node:zlib";
import * as tar from "tar-stream";

export interface TarEntry {
  name: string;
  mode: number;
  uid: number;
  mtime: number;
  body: Buffer;
}

export async function gzipTarEntries(gz: Buffer): Promise<TarEntry[]> {
  const out: TarEntry[] = [];
  const ex = tar.extract();
  await new Promise<void>((resolve, reject) => {
    ex.on("entry", (h, s, next) => {
      const c: Buffer[] = [];
      s.on("data", (d: unknown) => c.push(d as Buffer));
      s.on("end", () => {
        out.push({ name: h.name, mode: h.mode ?? 0, uid: h.uid ?? -1, mtime: h.mtime?.getTime() ?? -1, body: Buffer.concat(c) });
        next();
      });
    });
    ex.on("finish", resolve);
    ex.on("error", reject);
    ex.end(gunzipSync(gz));
  });
  return out;
}

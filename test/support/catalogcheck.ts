/**
 * test/go/catalogcheck, built once per process in GOPATH mode with Debian's golang-go and
 * golang-gopkg-yaml.v3-dev (scripts/engine.sh --tools installs them). Missing Go is an error,
 * not a skip: a check that silently does not run proves nothing.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./bed.js";

const GOPATH = "/usr/share/gocode";
let built: string | null = null;

export function catalogCheckBinary(work: string): string {
  if (built) return built;
  const go = spawnSync("go", ["version"], { encoding: "utf8" });
  if (go.status !== 0 || !existsSync(join(GOPATH, "src/gopkg.in/yaml.v3"))) {
    throw new Error("test/go/catalogcheck needs golang-go and golang-gopkg-yaml.v3-dev: run `bash scripts/engine.sh --tools` (as root)");
  }
  const out = join(work, "catalogcheck");
  execFileSync("go", ["build", "-o", out, "./test/go/catalogcheck"], {
    cwd: ROOT,
    env: { ...process.env, GO111MODULE: "off", GOPATH, GOCACHE: join(work, "gocache"), GOFLAGS: "" },
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 180_000,
  });
  built = out;
  return out;
}

export function catalogCheck(bin: string, files: string[]): { code: number | null; out: string } {
  const r = spawnSync(bin, files, { encoding: "utf8" });
  return { code: r.status, out: r.stdout + r.stderr };
}

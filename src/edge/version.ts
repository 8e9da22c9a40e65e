import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The package root: where package.json and templates/ live (works from src/ and dist/src/). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    try {
      readFileSync(join(dir, "package.json"));
      return dir;
    } catch {
      dir = dirname(dir);
    }
  }
  throw new Error("mcp-rewrap: cannot find its package.json");
}

const pkg = JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as {
  version: string;
};

export const VERSION: string = pkg.version;
export const PROJECT_URL = "https://github.com/mcp-rewrap/mcp-rewrap";

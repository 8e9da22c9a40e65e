/**
 * Pure: a catalog entry + the facts of its image -> which mount targets the server's user
 * cannot reach, each with the command that fixes it.
 */
import { bindTarget, type CatalogServer } from "./catalog.js";
import { type ImageFacts, parsePasswd, resolveUser } from "./facts.js";

export interface Finding {
  target: string;
  problem: string;
  fix: string;
}

export interface ServerScan {
  server: string;
  image: string;
  /** ok: nothing found; affected: findings; skipped: could not be judged (reason in note). */
  status: "ok" | "affected" | "skipped";
  user?: string;
  findings: Finding[];
  note?: string;
}

const TEMPLATE = /\{\{[^}]*\}\}/;

export function scanServer(name: string, entry: CatalogServer, facts: ImageFacts | null, why?: string): ServerScan {
  const image = entry.image ?? "";
  if (entry.type !== "server" || !image) return { server: name, image, status: "skipped", findings: [], note: `type ${entry.type}: not a container` };
  const targets = (entry.volumes ?? []).map(bindTarget);
  if (!facts) return { server: name, image, status: "skipped", findings: [], note: why ?? "image not inspected" };

  let imageUser;
  try {
    imageUser = resolveUser(facts);
  } catch (e) {
    return { server: name, image, status: "skipped", findings: [], note: (e as Error).message };
  }
  const users = parsePasswd(facts.passwd);
  let uid = imageUser.uid;
  let userLabel = `${imageUser.name} (uid ${uid}, from the image)`;
  const findings: Finding[] = [];
  const fixRewrap = `mcp-rewrap build ${image} && mcp-rewrap catalog ${image} --server ${name}`;

  if (entry.user !== undefined && entry.user !== "") {
    if (TEMPLATE.test(entry.user)) {
      // The uid comes from the user's config: only /root is unreachable whatever it is (short of 0).
      userLabel = `${entry.user} (catalog user:, set by config)`;
      for (const t of targets.filter((x) => x === "/root" || x.startsWith("/root/"))) {
        findings.push({
          target: t,
          problem: `only uid 0 can enter /root, and ${entry.user} is meant to be the host user's uid`,
          fix: `mount it under the chosen user's home, or ${fixRewrap} and leave ${entry.user.replace(/[{}\s]/g, "")} empty`,
        });
      }
      const note = `user: ${entry.user} decides the uid; it must be able to read the files mounted at ${targets.join(", ") || "(none)"}`;
      return { server: name, image, status: findings.length ? "affected" : "ok", user: userLabel, findings, note };
    }
    const spec = entry.user.split(":")[0]!;
    const byName = users.find((u) => u.name === spec);
    uid = /^[0-9]+$/.test(spec) ? Number(spec) : byName?.uid ?? uid;
    userLabel = `${entry.user} (uid ${uid}, from the catalog's user:)`;
  }

  for (const t of targets) {
    if (uid === 0) continue;
    if (t === "/root" || t.startsWith("/root/")) {
      const mode = facts.rootMode === null ? "0700 by default" : facts.rootMode.toString(8).padStart(4, "0");
      if (facts.rootMode === null || (facts.rootMode & 0o001) === 0) {
        findings.push({
          target: t,
          problem: `uid ${uid} cannot enter /root (mode ${mode})`,
          fix: entry.user ? `remove user: ${entry.user}, then ${fixRewrap}` : fixRewrap,
        });
      }
      continue;
    }
    const owner = users.find((u) => u.uid !== uid && u.uid !== 0 && u.home !== "/" && (t === u.home || t.startsWith(`${u.home}/`)));
    if (owner) {
      findings.push({
        target: t,
        problem:
          entry.user && owner.uid === imageUser.uid
            ? `the catalog's user: ${entry.user} (uid ${uid}) differs from the image's ${owner.name} (uid ${owner.uid}), whose home this is`
            : `${t} is in ${owner.name}'s home (uid ${owner.uid}), not uid ${uid}'s`,
        fix: entry.user ? `drop user: ${entry.user} or set it to ${owner.uid}` : `mount it under the home of uid ${uid}`,
      });
    }
  }
  return { server: name, image, status: findings.length ? "affected" : "ok", user: userLabel, findings };
}

export function formatScan(results: ServerScan[]): string {
  const lines: string[] = [];
  for (const r of results) {
    const head = `${r.status === "affected" ? "AFFECTED" : r.status === "ok" ? "ok      " : "skipped "} ${r.server}  ${r.image}${r.user ? `  as ${r.user}` : ""}`;
    lines.push(head);
    if (r.note) lines.push(`         ${r.note}`);
    for (const f of r.findings) {
      lines.push(`         ${f.target}: ${f.problem}`);
      lines.push(`         fix: ${f.fix}`);
    }
  }
  const affected = results.filter((r) => r.status === "affected").length;
  lines.push("", `${affected} of ${results.length} servers affected`);
  return `${lines.join("\n")}\n`;
}

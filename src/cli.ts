#!/usr/bin/env node
/**
 * Command-line wiring and printing only: parse, call one src/commands/ module, print its result
 * (text, or the --json shapes of docs/JSON.md), map errors to one stderr line and an exit code.
 */
import { existsSync } from "node:fs";
import type { Command } from "commander";
import { EXIT, UsageError } from "./core/errors.js";
import { VERSION } from "./edge/version.js";
import type { BatchResult } from "./commands/batch.js";
import type { BuildResult, PushResult } from "./commands/routes.js";

// Commander loads when a command line has to be parsed, and each command's modules (dockerode,
// handlebars, yaml, the MCP SDK, …) only when that command runs: `--version` alone loads
// nothing but this file, errors.ts and version.ts; `--help` adds commander.

/** The version flags; main() answers them alone before commander loads, as commander would (the version and a newline). */
const VERSION_FLAGS = ["-V", "--version"];

const collect = (value: string, prev: string[] = []) => [...prev, value];

function progressFor(opts: { quiet?: boolean }) {
  return (line: string) => {
    if (!opts.quiet) process.stderr.write(`${line}\n`);
  };
}

/** The --json contract (docs/JSON.md): every document says which schema and which mcp-rewrap made it. */
export const JSON_SCHEMA_VERSION = 1;
const stamp = { schemaVersion: JSON_SCHEMA_VERSION, version: VERSION } as const;

function printJson(command: string, value: Record<string, unknown>) {
  process.stdout.write(`${JSON.stringify({ ...stamp, command, ...value }, null, 2)}\n`);
}

/** verify and scan: an array, one stamped element per image or server. */
function printJsonArray(command: string, values: object[]) {
  process.stdout.write(`${JSON.stringify(values.map((v) => ({ ...stamp, command, ...v })), null, 2)}\n`);
}

/** One --tag per run: a repeated one is refused, not silently reduced to the last. */
function oneTag(tags: string[] | undefined): string | undefined {
  if (tags && tags.length > 1) {
    throw new UsageError(`--tag given ${tags.length} times (${tags.join(", ")}): one rewrap gets one tag; give --tag once, and \`docker tag\` the result for more`);
  }
  return tags?.[0];
}

/** One element of `build --json`'s results, the same for every route. */
export interface BuildJson {
  server: string | null;
  source: string;
  tag: string;
  status: BatchResult["status"];
  route: "engine" | "registry" | null;
  id: string | null;
  digest: string | null;
  base: string | null;
  platforms: { platform: string; digest: string | null }[];
  /** The user the server keeps running as. */
  user: { name: string; uid: number; gid: number; home: string } | null;
  dropTool: string | null;
  dir: string | null;
  detail: string | null;
}

const userOf = (p: BuildResult["plan"]) => ({ name: p.user.name, uid: p.user.uid, gid: p.user.gid, home: p.user.home });

function fromBuild(source: string, r: BuildResult, server: string | null = null): BuildJson {
  const p = r.plan;
  return {
    server,
    source,
    tag: r.tag,
    status: r.upToDate ? "up-to-date" : "built",
    route: "engine",
    id: r.id,
    digest: null,
    base: p.source.digest ?? p.source.id,
    platforms: [{ platform: p.source.platform, digest: null }],
    user: userOf(p),
    dropTool: p.drop.kind,
    dir: r.dir,
    detail: null,
  };
}

function fromPush(source: string, r: PushResult, server: string | null = null): BuildJson {
  const p = r.platforms[0]?.plan;
  return {
    server,
    source,
    tag: r.tag,
    status: r.upToDate ? "up-to-date" : "pushed",
    route: r.route,
    id: null,
    digest: r.digest,
    base: r.sourceDigest,
    platforms: r.platforms.map((x) => ({ platform: x.platform, digest: x.digest || null })),
    user: p ? userOf(p) : null,
    dropTool: p?.drop.kind ?? null,
    dir: null,
    detail: null,
  };
}

function fromBatch(b: BatchResult): BuildJson {
  const inner = b.built ? fromBuild(b.image, b.built, b.server) : b.pushed ? fromPush(b.image, b.pushed, b.server) : null;
  return {
    server: b.server,
    source: b.image,
    tag: b.tag,
    route: null,
    id: null,
    digest: null,
    base: b.upstream ?? null,
    platforms: [],
    user: null,
    dropTool: null,
    dir: null,
    ...inner,
    status: b.status,
    detail: b.detail || null,
  };
}

/** --insecure-registry HOST (repeatable): plain http to those registries for this command. */
async function insecure(o: { insecureRegistry?: string[] }): Promise<void> {
  if (!o.insecureRegistry?.length) return;
  const { setInsecureRegistries } = await import("./edge/registry/client.js");
  setInsecureRegistries(o.insecureRegistry);
}

/** generate/build --mount is gone: the shim prepares what the kernel lists as mounted, nothing baked. */
function noMount(o: { mount?: string[] }): void {
  if (o.mount?.length) {
    throw new UsageError(
      `--mount ${o.mount.join(", ")}: no longer an option of generate and build: the shim prepares whatever the kernel lists as mounted under /root at run time (a baked path list would copy root-only files that are not mounted); drop --mount`,
    );
  }
}

export async function makeProgram(): Promise<Command> {
  const { Command, Option } = await import("commander");
  const program = new Command();
  program
    .name("mcp-rewrap")
    .description("Repair MCP server images so config the Docker MCP Gateway mounts (under /root, or a 0600 host file in their home) works for their non-root user")
    .version(VERSION, VERSION_FLAGS.join(", "))
    .exitOverride()
    // Commander's own errors become one line in main(); help asked for goes to stdout.
    .configureOutput({ writeErr: () => {}, outputError: () => {} })
    // An option given an empty value (--out '', --tag "$UNSET") is a mistake, never "the default".
    .hook("preAction", (_program, action) => {
      for (const opt of action.options) {
        const value = action.getOptionValue(opt.attributeName()) as unknown;
        if (value === "" || (Array.isArray(value) && value.includes(""))) {
          throw new UsageError(`${opt.long ?? opt.flags}: empty; give a value, or leave the option out for its default`);
        }
      }
    });

  const rewrapOptions = (cmd: Command) =>
    cmd
      .addOption(new Option("--mount <path>", "gone: the shim prepares what is mounted at run time").hideHelp().argParser(collect))
      .option("--env <name>", "also rewrite this variable when it points into /root (repeatable)", collect)
      .option("--force", "rewrap even an image that already runs as root")
      .option("--facts <file>", "use recorded image facts (from a generated facts.json) instead of the engine")
      .option("--no-pull", "fail instead of pulling an image that is not local")
      .option("-q, --quiet", "no progress on stderr");

  program
    .command("inspect")
    .description("show an image's user, entrypoint and which gateway mounts it cannot read")
    .argument("<image>", "image reference or ID")
    .option("--json", "print one JSON object")
    .option("--facts <file>", "use recorded image facts instead of the engine")
    .option("--no-pull", "fail instead of pulling an image that is not local")
    .option("-q, --quiet", "no progress on stderr")
    .action(async (image: string, o) => {
      const { inspectCommand } = await import("./commands/inspect.js");
      const { formatDiagnosis } = await import("./core/diagnose.js");
      const d = await inspectCommand(image, { pull: o.pull, facts: o.facts, progress: progressFor(o) });
      if (o.json) {
        printJson("inspect", {
          ...d,
          dropTool: d.dropTool?.kind ?? null,
          dropToolPath: d.dropTool?.path ?? null,
        });
      } else process.stdout.write(formatDiagnosis(d));
    });

  rewrapOptions(
    program
      .command("generate")
      .description("write the build context (Dockerfile, shim, plan) for a rewrapped image")
      .argument("<image>", "image reference or ID")
      .option("-o, --out <dir>", "output directory (default images/<name>)")
      .option("-t, --tag <ref>", "tag recorded in the plan (default mcp-rewrap/<name>:<tag>)", collect)
      .option("--json", "print the result as JSON"),
  ).action(async (image: string, o) => {
    const { generateCommand } = await import("./commands/generate.js");
    noMount(o);
    const r = await generateCommand(image, { ...o, tag: oneTag(o.tag), progress: progressFor(o) });
    if (o.json) printJson("generate", { dir: r.dir, files: r.files.map((f) => f.path), plan: r.plan });
    else process.stdout.write(`${r.dir}\n`);
  });

  rewrapOptions(
    program
      .command("build")
      .description("generate the context, then build and tag the rewrapped image (--push: and push it; --catalog: every server of a catalog)")
      .argument("[image]", "image reference or ID (not with --catalog)")
      .option("-o, --out <dir>", "also keep the build context there (default: a temporary directory, removed afterwards)")
      .option("-t, --tag <ref>", "tag for the new image (default mcp-rewrap/<name>:<tag>)", collect)
      .option("--rebuild", "build even when the tag already holds an identical rewrap")
      .option("--push", "push the tag to its registry (credentials from the Docker config); a multi-platform source is rewrapped registry to registry, every platform")
      .option("--platform <list>", "with --push: only these platforms, e.g. linux/amd64,linux/arm64 (repeatable)", collect)
      .option("--catalog <file>", "rewrap every server of this catalog, one after the other")
      .option("--affected", "with --catalog: only the servers scan flags")
      .option("--prefix <repo>", "with --catalog: tag each image <repo>/<server>:<tag> (default mcp-rewrap)")
      .option("--insecure-registry <host>", "speak plain http to this registry (host or host:port; repeatable); proxies come from HTTP(S)_PROXY/NO_PROXY", collect)
      .option("--json", "print the result as JSON"),
  ).action(async (image: string | undefined, o) => {
    noMount(o);
    await insecure(o);
    const platforms = o.platform ? (o.platform as string[]).flatMap((p) => p.split(",")).map((p) => p.trim()).filter(Boolean) : undefined;
    const tag = oneTag(o.tag);
    if (o.catalog) {
      if (image) throw new UsageError("build: give either an image or --catalog, not both; see mcp-rewrap build --help");
      if (tag) throw new UsageError("build --catalog: --tag names one image; use --prefix REPO for the catalog's tags");
      const { batchCommand, formatBatch } = await import("./commands/batch.js");
      const results = await batchCommand(o.catalog, { ...o, platforms, progress: progressFor(o) });
      if (o.json) printJson("build", { results: results.map(fromBatch) });
      else process.stdout.write(formatBatch(results));
      process.exitCode = results.some((r) => r.status === "failed") ? EXIT.runtime : EXIT.ok;
      return;
    }
    if (!image) throw new UsageError("build: give an image, or --catalog CATALOG.yaml; see mcp-rewrap build --help");
    if (o.affected || o.prefix) throw new UsageError("build: --affected and --prefix go with --catalog; see mcp-rewrap build --help");
    if (platforms && !o.push) throw new UsageError("build: --platform goes with --push (the registry-to-registry rewrap); add --push --tag REGISTRY/NAME:TAG");
    if (o.push) {
      const { pushCommand } = await import("./commands/push.js");
      const r = await pushCommand(image, { ...o, tag, platforms, progress: progressFor(o) });
      if (o.json) printJson("build", { results: [fromPush(image, r)] });
      else process.stdout.write(`${r.tag}@${r.digest}\n`);
      return;
    }
    const { buildCommand } = await import("./commands/build.js");
    const r = await buildCommand(image, { ...o, tag, progress: progressFor(o) });
    if (o.json) printJson("build", { results: [fromBuild(image, r)] });
    else process.stdout.write(`${r.tag}\n`);
  });

  program
    .command("images")
    .description("regenerate the committed build contexts under DIR/<server>/ from their recorded facts.json")
    .argument("[dir]", "the directory holding one folder per server", "images")
    .option("--check", "write nothing; exit 1 when a committed file differs from what its facts generate")
    .option("--refresh", "first ask each server's registry for its upstream digest; when it moved, read the new facts from the registry and re-pin")
    .option("--platform <platform>", "with --refresh: the platform whose facts are recorded", "linux/amd64")
    .option("--insecure-registry <host>", "with --refresh: speak plain http to this registry (repeatable)", collect)
    .option("--json", "print the results as JSON")
    .option("-q, --quiet", "no progress on stderr")
    .action(async (dir: string, o) => {
      await insecure(o);
      const { imagesCommand } = await import("./commands/images.js");
      const results = await imagesCommand(dir, { check: o.check, refresh: o.refresh, platform: o.platform, progress: progressFor(o) });
      if (o.json) printJson("images", { results });
      else {
        for (const r of results) {
          const moved = r.upstream ? (r.upstream.moved ? ` upstream moved to ${r.upstream.current}` : " upstream unchanged") : "";
          const state = r.unpinned ? "not pinned (digest unknown): nothing rendered" : r.stale.length ? (o.check ? `STALE: ${r.stale.join(", ")}` : `regenerated: ${r.stale.join(", ")}`) : "up to date";
          process.stdout.write(`${r.server}: ${state};${moved || " "}\n`.replace("; \n", "\n"));
        }
      }
      if (o.check && results.some((r) => r.stale.length)) {
        process.stderr.write(`mcp-rewrap: ${dir} is stale: run \`make images\` (mcp-rewrap images ${dir}) and commit the result\n`);
        process.exitCode = EXIT.problem;
      }
    });

  program
    .command("verify")
    .description("run images exactly as the gateway does and check the server can read its mounted config")
    .argument("<image>", "image to verify (the original, or a rewrapped one)")
    .argument("[rewrapped]", "a second image, shown side by side with the first")
    .option("--mount <spec>", "TARGET (a synthetic 0600 file of another uid) or HOST:TARGET to mount read-only (repeatable; default: /root/.kube/config and the user's $HOME/.kube/config)", collect)
    .option("--state <target>", "mount a fresh named volume at TARGET; pass when what the server writes in one run is there, owned by it, in the next (repeatable)", collect)
    .option("--mcp", "also run an MCP initialize + tools/list through the official SDK client")
    .option("--json", "print the verdicts as JSON")
    .option("--timeout <seconds>", "per run", "60")
    .option("--no-pull", "fail instead of pulling an image that is not local")
    .option("-q, --quiet", "no progress on stderr")
    .action(async (image: string, second: string | undefined, o) => {
      const timeout = Number(o.timeout);
      const { MAX_TIMEOUT_S, formatSideBySide, formatVerdict, parseMountSpec } = await import("./core/verdict.js");
      if (!Number.isFinite(timeout) || timeout < 1 || timeout > MAX_TIMEOUT_S) throw new UsageError(`--timeout ${o.timeout}: give a number of seconds from 1 to ${MAX_TIMEOUT_S}`);
      const { verifyCommand, verifyExitCode } = await import("./commands/verify.js");
      const mounts = o.mount ? (o.mount as string[]).map((m) => parseMountSpec(m)) : undefined;
      // A HOST that does not exist would be made by the engine, as a root-owned directory.
      for (const m of mounts ?? []) {
        if (m.host !== undefined && !existsSync(m.host)) throw new UsageError(`--mount ${m.host}:${m.target}: ${m.host} does not exist (the engine would make it, as an empty root-owned directory)`);
      }
      const state = o.state ? (o.state as string[]).map((t) => parseMountSpec(t, "--state").target) : undefined;
      const images = second ? [image, second] : [image];
      const verdicts = await verifyCommand(images, { mounts, state, mcp: o.mcp, timeoutMs: timeout * 1000, pull: o.pull, progress: progressFor(o) });
      // Always an array (one verdict per image), each stamped like the other --json documents.
      if (o.json) printJsonArray("verify", verdicts);
      else if (second) process.stdout.write(formatSideBySide(verdicts[0]!, verdicts[1]!));
      else process.stdout.write(formatVerdict(verdicts[0]!));
      process.exitCode = verifyExitCode(verdicts);
    });

  program
    .command("catalog")
    .description("write a gateway catalog entry that points at the rewrapped image (only image changes)")
    .argument("<image>", "the rewrapped tag (or the original image: its default rewrapped tag is used)")
    .requiredOption("--server <name>", "the server's catalog name (kept, so its config keys still resolve)")
    .option("--from <catalog>", "take the original entry from this catalog, server file or registry server.yaml")
    .option("--format <format>", "profile (single-server file) or legacy (registry: catalog)", "profile")
    .option("-o, --out <file>", "where to write (default <server>.server.yaml or <server>.catalog.yaml)")
    .option("--install", "write it into ~/.docker/mcp/catalogs/, where gateways >= 0.43.1 accept local catalog files")
    .option("--json", "print the result as JSON")
    .option("--no-pull", "fail instead of pulling an image that is not local")
    .option("-q, --quiet", "no progress on stderr")
    .action(async (image: string, o) => {
      if (o.format !== "profile" && o.format !== "legacy") throw new UsageError(`--format ${o.format}: use profile or legacy`);
      const { catalogCommand } = await import("./commands/catalog.js");
      const r = await catalogCommand(image, { server: o.server, from: o.from, format: o.format, out: o.out, install: o.install, pull: o.pull, progress: progressFor(o) });
      if (o.json) printJson("catalog", { file: r.file, entry: r.entry, dropped: r.dropped, commands: r.commands });
      else process.stdout.write(`wrote ${r.file}\n\nuse it with:\n${r.commands.map((c) => `  ${c}`).join("\n")}\n`);
    });

  program
    .command("scan")
    .description("judge every catalog server: affected (exit 1), ok (0 when all are), unknown (4 when none is affected)")
    .argument("<catalog...>", "catalog files (legacy registry: catalogs, server files, registry server.yaml)")
    .option("--config <file>", "the gateway's config with the values of {{server.key}} (default ~/.docker/mcp/config.yaml)")
    .option("--pull", "pull images that are not local (default: read their user files from the registry, nothing pulled)")
    .option("--registry-mirror <registry=host>", "read images of REGISTRY from HOST instead, e.g. docker.io=127.0.0.1:5000 (repeatable)", collect)
    .option("--platform <platform>", "the platform judged for multi-platform images", "linux/amd64")
    .option("--json", "print the results as JSON: [{server, image, status, user, findings:[{target, problem, fix}], why}]")
    .option("-q, --quiet", "no progress on stderr")
    .action(async (files: string[], o) => {
      const { scanCommand } = await import("./commands/scan.js");
      const { formatScan, scanExitCode } = await import("./core/scan.js");
      const results = await scanCommand(files, { pull: o.pull === true, config: o.config, mirrors: o.registryMirror, platform: o.platform, progress: progressFor(o) });
      // An array (one element per server), each stamped like the other --json documents.
      if (o.json) printJsonArray("scan", results);
      else process.stdout.write(formatScan(results));
      process.exitCode = scanExitCode(results);
    });

  return program;
}

/** The subcommand named in argv (for the usage hint), if any. */
function subcommandOf(program: Command, argv: string[]): string | null {
  const names = new Set(program.commands.map((c) => c.name()));
  return argv.find((a) => names.has(a)) ?? null;
}

export async function main(argv: string[]): Promise<number> {
  if (argv.length === 1 && VERSION_FLAGS.includes(argv[0]!)) {
    process.stdout.write(`${VERSION}\n`);
    return EXIT.ok;
  }
  const { CommanderError } = await import("commander");
  const { cleanUpOnBrokenPipe, cleanUpOnSignals } = await import("./edge/cleanup.js");
  cleanUpOnBrokenPipe();
  cleanUpOnSignals((signal) => process.stderr.write(`mcp-rewrap: interrupted by ${signal}: removed the temporary files and containers this run made; run the command again to finish\n`));
  const program = await makeProgram();
  try {
    await program.parseAsync(argv, { from: "user" });
    return typeof process.exitCode === "number" ? process.exitCode : EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version") return EXIT.ok;
      const sub = subcommandOf(program, argv);
      const what = e.code === "commander.help" ? "no command given" : e.message.replace(/^error: /, "").replace(/\.$/, "").split("\n")[0];
      process.stderr.write(`mcp-rewrap: ${what}; see mcp-rewrap ${sub ? `${sub} ` : ""}--help\n`);
      return EXIT.usage;
    }
    const err = e as Error & { exitCode?: number };
    process.stderr.write(`mcp-rewrap: ${err.message.split("\n").join("; ")}\n`);
    if (process.env.MCP_REWRAP_DEBUG) process.stderr.write(`${err.stack}\n`);
    if (typeof err.exitCode === "number") return err.exitCode;
    return EXIT.runtime;
  }
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});

#!/usr/bin/env node
/** Command-line wiring and printing only: parse, call one src/commands/ module, print, map errors to exit codes. */
import { Command, CommanderError } from "commander";
import { EXIT, UsageError } from "./core/errors.js";
import { VERSION } from "./edge/version.js";

// The commands' modules (dockerode, handlebars, the MCP SDK, …) load only when a command runs,
// so `--version` and `--help` start as fast as node itself allows.

const collect = (value: string, prev: string[] = []) => [...prev, value];

function progressFor(opts: { quiet?: boolean }) {
  return (line: string) => {
    if (!opts.quiet) process.stderr.write(`${line}\n`);
  };
}

function printJson(value: unknown) {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function makeProgram(): Command {
  const program = new Command();
  program
    .name("mcp-rewrap")
    .description("Repair MCP server images so config mounted under /root by the Docker MCP Gateway works for their non-root user")
    .version(VERSION, "-V, --version")
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  const rewrapOptions = (cmd: Command) =>
    cmd
      .option("--mount <path>", "also prepare this path under /root (repeatable)", collect)
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
        printJson({
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
      .option("-t, --tag <ref>", "tag recorded in the plan (default mcp-rewrap/<name>:<tag>)")
      .option("--json", "print the result as JSON"),
  ).action(async (image: string, o) => {
    const { generateCommand } = await import("./commands/generate.js");
    const r = await generateCommand(image, { ...o, mounts: o.mount, progress: progressFor(o) });
    if (o.json) printJson({ dir: r.dir, files: r.files.map((f) => f.path), plan: r.plan });
    else process.stdout.write(`${r.dir}\n`);
  });

  rewrapOptions(
    program
      .command("build")
      .description("generate the context, then build and tag the rewrapped image (--push: and push it; --catalog: every server of a catalog)")
      .argument("[image]", "image reference or ID (not with --catalog)")
      .option("-o, --out <dir>", "where the context is written (default images/<name>)")
      .option("-t, --tag <ref>", "tag for the new image (default mcp-rewrap/<name>:<tag>)")
      .option("--rebuild", "build even when the tag already holds an identical rewrap")
      .option("--push", "push the tag to its registry (credentials from the Docker config); a multi-platform source is rewrapped registry to registry, every platform")
      .option("--platform <list>", "with --push: only these platforms, e.g. linux/amd64,linux/arm64 (repeatable)", collect)
      .option("--catalog <file>", "rewrap every server of this catalog, one after the other")
      .option("--affected", "with --catalog: only the servers scan flags")
      .option("--prefix <repo>", "with --catalog: tag each image <repo>/<server>:<tag> (default mcp-rewrap)")
      .option("--json", "print the result as JSON"),
  ).action(async (image: string | undefined, o) => {
    const platforms = o.platform ? (o.platform as string[]).flatMap((p) => p.split(",")).map((p) => p.trim()).filter(Boolean) : undefined;
    if (o.catalog) {
      if (image) throw new UsageError("give either an image or --catalog, not both");
      const { batchCommand, formatBatch } = await import("./commands/batch.js");
      const results = await batchCommand(o.catalog, { ...o, mounts: o.mount, platforms, progress: progressFor(o) });
      if (o.json) printJson(results);
      else process.stdout.write(formatBatch(results));
      process.exitCode = results.some((r) => r.status === "failed") ? EXIT.runtime : EXIT.ok;
      return;
    }
    if (!image) throw new UsageError("build: give an image, or --catalog CATALOG.yaml");
    if (o.affected || o.prefix) throw new UsageError("--affected and --prefix go with --catalog");
    if (platforms && !o.push) throw new UsageError("--platform goes with --push (the registry-to-registry rewrap)");
    if (o.push) {
      const { pushCommand } = await import("./commands/push.js");
      const r = await pushCommand(image, { ...o, mounts: o.mount, platforms, progress: progressFor(o) });
      if (o.json) {
        printJson({ image: r.tag, digest: r.digest, upToDate: r.upToDate, route: r.route, base: r.sourceDigest, platforms: r.platforms.map((p) => ({ platform: p.platform, digest: p.digest })) });
      } else process.stdout.write(`${r.tag}@${r.digest}\n`);
      return;
    }
    const { buildCommand } = await import("./commands/build.js");
    const r = await buildCommand(image, { ...o, mounts: o.mount, progress: progressFor(o) });
    if (o.json) {
      printJson({ image: r.tag, id: r.id, upToDate: r.upToDate, dir: r.dir, base: r.plan.source.from, user: r.plan.user, dropTool: r.plan.drop.kind });
    } else process.stdout.write(`${r.tag}\n`);
  });

  program
    .command("images")
    .description("regenerate the committed build contexts under DIR/<server>/ from their recorded facts.json")
    .argument("[dir]", "the directory holding one folder per server", "images")
    .option("--check", "write nothing; exit 1 when a committed file differs from what its facts generate")
    .option("--refresh", "first ask each server's registry for its upstream digest; when it moved, read the new facts from the registry and re-pin")
    .option("--platform <platform>", "with --refresh: the platform whose facts are recorded", "linux/amd64")
    .option("--json", "print the results as JSON")
    .option("-q, --quiet", "no progress on stderr")
    .action(async (dir: string, o) => {
      const { imagesCommand } = await import("./commands/images.js");
      const results = await imagesCommand(dir, { check: o.check, refresh: o.refresh, platform: o.platform, progress: progressFor(o) });
      if (o.json) printJson(results);
      else {
        for (const r of results) {
          const moved = r.upstream ? (r.upstream.moved ? ` upstream moved to ${r.upstream.current}` : " upstream unchanged") : "";
          const state = r.stale.length ? (o.check ? `STALE: ${r.stale.join(", ")}` : `regenerated: ${r.stale.join(", ")}`) : "up to date";
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
    .option("--mount <spec>", "TARGET (a synthetic 0600 file) or HOST:TARGET to mount read-only (repeatable; default /root/.kube/config)", collect)
    .option("--mcp", "also run an MCP initialize + tools/list through the official SDK client")
    .option("--json", "print the verdicts as JSON")
    .option("--timeout <seconds>", "per run", "60")
    .option("--no-pull", "fail instead of pulling an image that is not local")
    .option("-q, --quiet", "no progress on stderr")
    .action(async (image: string, second: string | undefined, o) => {
      const timeout = Number(o.timeout);
      if (!Number.isFinite(timeout) || timeout <= 0) throw new UsageError(`--timeout ${o.timeout}: give a number of seconds`);
      const { verifyCommand } = await import("./commands/verify.js");
      const { DEFAULT_VERIFY_MOUNTS, formatSideBySide, formatVerdict, parseMountSpec } = await import("./core/verdict.js");
      const mounts = o.mount ? (o.mount as string[]).map(parseMountSpec) : DEFAULT_VERIFY_MOUNTS;
      const images = second ? [image, second] : [image];
      const verdicts = await verifyCommand(images, { mounts, mcp: o.mcp, timeoutMs: timeout * 1000, pull: o.pull, progress: progressFor(o) });
      if (o.json) printJson(second ? verdicts : verdicts[0]);
      else if (second) process.stdout.write(formatSideBySide(verdicts[0]!, verdicts[1]!));
      else process.stdout.write(formatVerdict(verdicts[0]!));
      process.exitCode = verdicts[verdicts.length - 1]!.ok ? EXIT.ok : EXIT.problem;
    });

  program
    .command("catalog")
    .description("write a gateway catalog entry that points at the rewrapped image")
    .argument("<image>", "the rewrapped tag (or the original image: its default rewrapped tag is used)")
    .requiredOption("--server <name>", "the server's catalog name (kept, so its config keys still resolve)")
    .option("--from <catalog>", "take the original entry from this catalog or server file")
    .option("--format <format>", "profile (single-server file) or legacy (registry: catalog)", "profile")
    .option("-o, --out <file>", "where to write (default <server>.server.yaml or <server>.catalog.yaml)")
    .option("--json", "print the result as JSON")
    .option("--no-pull", "fail instead of pulling an image that is not local")
    .option("-q, --quiet", "no progress on stderr")
    .action(async (image: string, o) => {
      if (o.format !== "profile" && o.format !== "legacy") throw new UsageError(`--format ${o.format}: use profile or legacy`);
      const { catalogCommand } = await import("./commands/catalog.js");
      const r = await catalogCommand(image, { server: o.server, from: o.from, format: o.format, out: o.out, pull: o.pull, progress: progressFor(o) });
      if (o.json) printJson({ file: r.file, entry: r.entry, commands: r.commands });
      else process.stdout.write(`wrote ${r.file}\n\nuse it with:\n${r.commands.map((c) => `  ${c}`).join("\n")}\n`);
    });

  program
    .command("scan")
    .description("report every catalog server whose mounts its user cannot reach (exit 1 when any)")
    .argument("<catalog...>", "catalog files (legacy registry: catalogs or server files)")
    .option("--pull", "pull images that are not local (default: report them as skipped)")
    .option("--json", "print the results as JSON")
    .option("-q, --quiet", "no progress on stderr")
    .action(async (files: string[], o) => {
      const { scanCommand } = await import("./commands/scan.js");
      const { formatScan } = await import("./core/scan.js");
      const results = await scanCommand(files, { pull: o.pull === true, progress: progressFor(o) });
      if (o.json) printJson(results);
      else process.stdout.write(formatScan(results));
      process.exitCode = results.some((r) => r.status === "affected") ? EXIT.problem : EXIT.ok;
    });

  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = makeProgram();
  try {
    await program.parseAsync(argv, { from: "user" });
    return typeof process.exitCode === "number" ? process.exitCode : EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help") return EXIT.ok;
      return EXIT.usage;
    }
    const err = e as Error & { exitCode?: number };
    process.stderr.write(`mcp-rewrap: ${err.message}\n`);
    if (typeof err.exitCode === "number") return err.exitCode;
    if (process.env.MCP_REWRAP_DEBUG) process.stderr.write(`${err.stack}\n`);
    return EXIT.runtime;
  }
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});

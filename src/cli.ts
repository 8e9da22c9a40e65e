#!/usr/bin/env node
/** Command-line wiring only: parse, call src/app.ts, print, map errors to exit codes. */
import { Command, CommanderError } from "commander";
import { EXIT } from "./errors.js";
import { VERSION } from "./version.js";
import { UsageError } from "./errors.js";

// The commands' modules (dockerode, handlebars, the MCP SDK, …) load only when a command runs,
// so `--version` and `--help` start as fast as node itself allows.
const app = () => import("./app.js");

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
      const { inspectCommand } = await app();
      const { formatDiagnosis } = await import("./diagnose.js");
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
    const { generateCommand } = await app();
    const r = await generateCommand(image, { ...o, mounts: o.mount, progress: progressFor(o) });
    if (o.json) printJson({ dir: r.dir, files: r.files.map((f) => f.path), plan: r.plan });
    else process.stdout.write(`${r.dir}\n`);
  });

  rewrapOptions(
    program
      .command("build")
      .description("generate the context, then build and tag the rewrapped image")
      .argument("<image>", "image reference or ID")
      .option("-o, --out <dir>", "where the context is written (default images/<name>)")
      .option("-t, --tag <ref>", "tag for the new image (default mcp-rewrap/<name>:<tag>)")
      .option("--rebuild", "build even when the tag already holds an identical rewrap")
      .option("--json", "print the result as JSON"),
  ).action(async (image: string, o) => {
    const { buildCommand } = await app();
    const r = await buildCommand(image, { ...o, mounts: o.mount, progress: progressFor(o) });
    if (o.json) {
      printJson({ image: r.tag, id: r.id, upToDate: r.upToDate, dir: r.dir, base: r.plan.source.from, user: r.plan.user, dropTool: r.plan.drop.kind });
    } else process.stdout.write(`${r.tag}\n`);
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
      const { verifyCommand } = await app();
      const { DEFAULT_VERIFY_MOUNTS, formatSideBySide, formatVerdict, parseMountSpec } = await import("./verify.js");
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
      const { catalogCommand } = await app();
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
      const { scanCommand } = await app();
      const { formatScan } = await import("./scan.js");
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

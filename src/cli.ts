#!/usr/bin/env node
/** Command-line wiring only: parse, call src/app.ts, print, map errors to exit codes. */
import { Command, CommanderError } from "commander";
import { EXIT } from "./errors.js";
import { VERSION } from "./version.js";
import { buildCommand, generateCommand, inspectCommand } from "./app.js";
import { formatDiagnosis } from "./diagnose.js";

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
      .option("--json", "print the result as JSON"),
  ).action(async (image: string, o) => {
    const r = await buildCommand(image, { ...o, mounts: o.mount, progress: progressFor(o) });
    if (o.json) {
      printJson({ image: r.tag, id: r.id, dir: r.dir, base: r.plan.source.from, user: r.plan.user, dropTool: r.plan.drop.kind });
    } else process.stdout.write(`${r.tag}\n`);
  });

  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = makeProgram();
  try {
    await program.parseAsync(argv, { from: "user" });
    return EXIT.ok;
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

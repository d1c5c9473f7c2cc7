import { readFileSync } from "node:fs";
import { Command } from "commander";
import { commands } from "./commands/index.js";
import type { CliContext } from "./context.js";

/** The package's version, read from its package.json (two folders up from src/cli and dist/cli). */
export function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

/**
 * The `cairn` command with its global options and every command of commands/index.ts. It never
 * exits: commander's errors are thrown (exitOverride) for main.ts to map to exit codes.
 *
 * @example
 * await buildProgram(processContext()).parseAsync(["ls", "--json"], { from: "user" });
 */
export function buildProgram(context: CliContext): Command {
  const program = new Command("cairn")
    .description("Version control for machine learning: list, inspect, compare and check out the experiments your training scripts record.")
    .option("-R, --repository <url>", "the repository: a folder or file:// URL (default: cairn.yaml, then CAIRN_REPOSITORY, then .cairn/)")
    .version(packageVersion(), "-V, --version", "print the version")
    .helpOption("-h, --help", "show help")
    .helpCommand("help [command]", "show help for a command")
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .configureOutput({
      writeOut: (text) => context.stdout.write(text),
      writeErr: (text) => context.stderr.write(text),
      outputError: (text, write) => write(context.stderr.colors.red(text)),
    })
    .showHelpAfterError("(add --help for usage)")
    .exitOverride();
  for (const register of commands) register(program, context);
  return program;
}

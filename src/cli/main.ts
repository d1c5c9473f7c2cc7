#!/usr/bin/env node
/**
 * The `cairn` executable. The one place that turns errors into exit codes and exits; commands
 * only throw.
 */
import { CommanderError } from "commander";
import { CairnError } from "../errors.js";
import { setDiagnosticSink } from "../repository/diagnostics.js";
import { processContext, type CliContext } from "./context.js";
import { CliError } from "./errors.js";
import { buildProgram } from "./program.js";

/** The exit codes, documented in `cairn --help` (EXIT_CODES_HELP below); keep both in step. */
const EXIT = {
  OK: 0,
  ERROR: 1,
  USAGE: 2,
  NOT_FOUND: 3,
  CONFLICT: 4,
  CORRUPT: 5,
  INTERRUPTED: 130,
} as const;

const EXIT_CODES_HELP = `
Exit codes:
  0    success; ls and ps also exit 0 when some records are unreadable (warnings on stderr)
  1    failure: storage trouble, a repository written by a newer Cairn, push could not
       publish everything, rm was not confirmed, or an unexpected error
  2    usage: unknown command or option, a bad argument, filter, sort or duration, an
       invalid cairn.yaml, a repository URL this version does not support
  3    not found: no experiment or checkpoint with that ID, an ambiguous prefix (the
       candidates are listed), no such file or path in a checkpoint
  4    conflict: checkout would overwrite files that differ (they are listed; nothing is
       written without --force), or init finds a cairn.yaml already there
  5    corrupt: an object or record fails verification, or a stored path is unsafe
  130  interrupted (Ctrl-C)

Environment:
  CAIRN_REPOSITORY  the repository, when there is no -R
  NO_COLOR          no colour even on a terminal (colour is only ever used on a terminal)
  CAIRN_DEBUG=1     print stack traces of unexpected errors

Data goes to stdout (tables for people, --json for scripts), diagnostics to stderr.
`;

/** Maps any error a command throws to its exit code. */
function exitCodeOf(error: unknown): number {
  if (error instanceof CommanderError) {
    return error.code === "commander.helpDisplayed" || error.code === "commander.version" ? EXIT.OK : EXIT.USAGE;
  }
  if (error instanceof CliError) {
    switch (error.code) {
      case "USAGE":
        return EXIT.USAGE;
      case "INTERRUPTED":
        return EXIT.INTERRUPTED;
      case "ABORTED":
      case "FAILED":
        return EXIT.ERROR;
    }
  }
  if (error instanceof CairnError) {
    switch (error.code) {
      case "INVALID_ARGUMENT":
      case "INVALID_FILTER":
      case "CONFIG":
      case "UNSUPPORTED_URL":
        return EXIT.USAGE;
      case "NOT_FOUND":
      case "AMBIGUOUS_ID":
        return EXIT.NOT_FOUND;
      case "CONFLICT":
        return EXIT.CONFLICT;
      case "CORRUPT":
      case "UNSAFE_PATH":
        return EXIT.CORRUPT;
      default:
        // STORAGE, FORMAT_TOO_NEW, and codes added later.
        return EXIT.ERROR;
    }
  }
  return EXIT.ERROR;
}

/** Says what went wrong on stderr (commander has already printed its own errors). */
function report(context: CliContext, error: unknown): void {
  const c = context.stderr.colors;
  if (error instanceof CommanderError) return;
  if (error instanceof CliError) {
    if (error.code === "ABORTED" || error.code === "INTERRUPTED") context.stderr.write(`${error.message}\n`);
    else context.stderr.write(`${c.red("error:")} ${error.message}\n`);
    return;
  }
  if (error instanceof CairnError) {
    context.stderr.write(`${c.red("error:")} ${error.message}\n`);
    return;
  }
  const message = error instanceof Error ? error.message : String(error);
  context.stderr.write(`${c.red("error:")} ${message}\n`);
  if (context.env.CAIRN_DEBUG && error instanceof Error && error.stack) context.stderr.write(`${error.stack}\n`);
  else context.stderr.write(`This looks like a bug in Cairn; run again with CAIRN_DEBUG=1 for details and report it.\n`);
}

/**
 * Runs one command line and returns the exit code.
 *
 * @example
 * const code = await run(["ls", "--json"], processContext());
 */
async function run(argv: string[], context: CliContext): Promise<number> {
  const program = buildProgram(context);
  program.addHelpText("after", EXIT_CODES_HELP);
  try {
    await program.parseAsync(argv, { from: "user" });
    return EXIT.OK;
  } catch (error) {
    report(context, error);
    return exitCodeOf(error);
  }
}

/** Exits once what was written has left the process (a pipe may still hold it). */
function exit(code: number): void {
  process.exitCode = code;
  process.stdout.write("", () => process.stderr.write("", () => process.exit(code)));
}

const context = processContext();
setDiagnosticSink((message) => {
  if (process.env.CAIRN_QUIET !== "1") context.warn(message);
});
process.on("SIGINT", () => {
  // While experiments run in this process (e.g. under _rpc) the library has its own listener,
  // which stops them cleanly first; a second Ctrl-C leaves it and comes back here.
  if (process.listenerCount("SIGINT") > 1) return;
  context.stderr.write("\nInterrupted.\n");
  exit(EXIT.INTERRUPTED);
});
// `cairn ls | head -1`: the reader left; that is not an error.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(EXIT.OK);
  throw error;
});
run(process.argv.slice(2), context).then(exit, (error: unknown) => {
  report(context, error);
  exit(exitCodeOf(error));
});

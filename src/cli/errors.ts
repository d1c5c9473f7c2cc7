/**
 * Errors only the command line has (the library's are CairnErrors). src/cli/main.ts maps their
 * codes, like CairnError codes, to exit codes.
 *
 * @example
 * throw new CliError("USAGE", `cairn rm needs -f/--force when it cannot ask (stdin is not a terminal).`);
 */
export type CliErrorCode =
  | "USAGE" // the command line is wrong in a way commander cannot see
  | "ABORTED" // the user answered no
  | "INTERRUPTED" // Ctrl-C
  | "FAILED"; // the command did its work but some of it failed (e.g. push); details already printed

export class CliError extends Error {
  readonly code: CliErrorCode;

  constructor(code: CliErrorCode, message: string) {
    super(message);
    this.name = "CliError";
    this.code = code;
  }
}

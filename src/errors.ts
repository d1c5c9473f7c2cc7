/**
 * Named errors with a stable `code`. The library throws these; only the CLI's entry point maps
 * them to exit codes. Messages say what to do next.
 *
 * @example
 * try { await cairn.experiments.get("e51") } catch (e) {
 *   if (e instanceof CairnError && e.code === "AMBIGUOUS_ID") console.error(e.message);
 * }
 */
export type CairnErrorCode =
  | "INVALID_ARGUMENT" // a programmer error: wrong type, missing path, bad goal
  | "NOT_FOUND" // no experiment, checkpoint or file by that name
  | "AMBIGUOUS_ID" // an ID prefix matches more than one thing
  | "UNSUPPORTED_URL" // a repository URL scheme this build cannot open
  | "FORMAT_TOO_NEW" // the repository was written by a newer major format
  | "CORRUPT" // an object or record fails verification or parsing
  | "CONFLICT" // checkout would overwrite files that differ
  | "INVALID_FILTER" // a filter or sort expression that does not parse or names unknown fields
  | "UNSAFE_PATH" // a path in a repository that would escape the target folder
  | "STORAGE" // the storage service refused or failed
  | "CONFIG" // cairn.yaml is unreadable or invalid
  | "NOT_LOADED"; // a listed experiment's full checkpoint list was asked for before load()

export class CairnError extends Error {
  readonly code: CairnErrorCode;
  /** Extra facts for scripts, e.g. the candidates of an ambiguous prefix. */
  readonly details: Record<string, unknown>;

  constructor(code: CairnErrorCode, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "CairnError";
    this.code = code;
    this.details = options.details ?? {};
  }
}

/** True when `error` is a CairnError with the given code. */
export function isCairnError(error: unknown, code?: CairnErrorCode): error is CairnError {
  return error instanceof CairnError && (code === undefined || error.code === code);
}

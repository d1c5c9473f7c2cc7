import { CairnError } from "../errors.js";

/** Options for {@link queryError}. */
export interface QueryErrorOptions {
  /** Appended to the first line after the column, e.g. `did you mean "<="?`. */
  hint?: string;
  /** Extra lines after the caret line. */
  footer?: string;
  /** Merged into the error's `details` (which always has filter/position/column). */
  details?: Record<string, unknown>;
}

/**
 * Builds the INVALID_FILTER error for a filter or sort text: quotes the text, names the
 * 1-based column, and draws a caret under it. `details.position` is the 0-based offset into the
 * text (a JavaScript string index) so a UI can highlight it in place.
 *
 * @example
 * throw queryError("filter", "params.lr <", 10, 'expected a value after "<"');
 * // Invalid filter "params.lr <": expected a value after "<" at column 11
 * //   params.lr <
 * //             ^
 */
export function queryError(
  kind: "filter" | "sort",
  source: string,
  position: number,
  problem: string,
  options: QueryErrorOptions = {},
): CairnError {
  const at = Math.max(0, Math.min(position, source.length));
  const column = at + 1;
  const display = source.replace(/[\t\n\r\v\f]/g, " ");
  let message = `Invalid ${kind} ${JSON.stringify(source)}: ${problem} at column ${column}`;
  if (options.hint) message += `; ${options.hint}`;
  message += `\n  ${display}\n  ${" ".repeat(at)}^`;
  if (options.footer) message += `\n${options.footer}`;
  return new CairnError("INVALID_FILTER", message, {
    details: { [kind]: source, position: at, column, ...options.details },
  });
}

/** Quotes a token for a message: `"<"`, or `the end of the filter`. */
export function quoteToken(text: string | undefined): string {
  return text === undefined ? "the end of the filter" : JSON.stringify(text);
}

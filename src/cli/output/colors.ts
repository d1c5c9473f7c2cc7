import pc from "picocolors";

/** The colour functions picocolors makes (identity functions when colour is off). */
export type Colors = ReturnType<typeof pc.createColors>;

/**
 * Whether to colour a stream: only a terminal, and never when NO_COLOR is set to anything
 * non-empty (https://no-color.org).
 *
 * @example
 * wantsColor(process.stdout, process.env); // false when piped or with NO_COLOR=1
 */
export function wantsColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  const noColor = env.NO_COLOR;
  return stream.isTTY === true && (noColor === undefined || noColor === "");
}

/**
 * The colour functions for one stream: real ones on a terminal, identity functions otherwise.
 *
 * @example
 * const c = colorsFor(process.stderr, process.env);
 * process.stderr.write(c.red("error: ") + message);
 */
export function colorsFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): Colors {
  return pc.createColors(wantsColor(stream, env));
}

/** Removes ANSI colour codes, to measure what a person sees. @example visibleLength(c.red("ab")) // 2 */
export function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-9;]*m/g, "");
}

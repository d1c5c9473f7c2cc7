/**
 * The filter tokenizer: turns text into parentheses, operators, bare words, quoted strings and
 * backtick-quoted field names, each with its 0-based offset.
 */
import { queryError } from "./error.js";
import type { ComparisonOperator } from "./types.js";

/** What a token is. Keywords (`and`, `or`, `not`, `true`, ...) are words; the parser decides. */
export type TokenKind = "(" | ")" | "op" | "word" | "string" | "field" | "end";

/** One token. */
export interface Token {
  kind: TokenKind;
  /** The source text of the token, quotes included. Empty for "end". */
  raw: string;
  /** Decoded value: the text of a word, the contents of a string or field, the normalised operator. */
  value: string;
  /** 0-based offset in the source. */
  position: number;
}

const OPERATORS = new Map<string, ComparisonOperator>([
  ["=", "="],
  ["==", "="],
  ["!=", "!="],
  ["<", "<"],
  ["<=", "<="],
  [">", ">"],
  [">=", ">="],
  ["~", "~"],
]);

/** Likely meanings of operators people type from other languages. */
const OPERATOR_HINTS = new Map<string, string>([
  ["=<", "<="],
  ["=>", ">="],
  ["<>", "!="],
  ["=!", "!="],
  ["!", "!="],
  ["===", "="],
  ["!==", "!="],
  ["=~", "~"],
  ["~=", "~"],
]);

const OPERATOR_CHARS = "=!<>~";
const ESCAPES = new Map([
  ["n", "\n"],
  ["t", "\t"],
  ["r", "\r"],
]);

/** The operators in the order messages list them. */
export const OPERATOR_LIST = "=, ==, !=, <, <=, >, >=, ~";

function isSpace(c: string): boolean {
  return /\s/.test(c);
}

function isWordChar(c: string): boolean {
  return !isSpace(c) && c !== "(" && c !== ")" && !OPERATOR_CHARS.includes(c);
}

/**
 * Reads a quoted run starting at `start` (which holds the quote character). Backslash escapes:
 * `\n`, `\t`, `\r`; any other escaped character stands for itself (`\"`, `\'`, `` \` ``, `\\`).
 *
 * @example
 * scanQuoted('"ana smith" rest', 0, "filter"); // { value: "ana smith", end: 11 }
 */
export function scanQuoted(source: string, start: number, kind: "filter" | "sort"): { value: string; end: number } {
  const quote = source[start] ?? '"';
  let value = "";
  let i = start + 1;
  while (i < source.length) {
    const c = source[i] as string;
    if (c === "\\") {
      const next = source[i + 1];
      if (next === undefined) break;
      value += ESCAPES.get(next) ?? next;
      i += 2;
    } else if (c === quote) {
      return { value, end: i + 1 };
    } else {
      value += c;
      i += 1;
    }
  }
  const what = quote === "`" ? "field name" : "string";
  throw queryError(kind, source, start, `unterminated ${what} starting`, {
    hint: `expected a closing ${quote}`,
    details: { expected: quote },
  });
}

/**
 * Splits a filter into tokens; the last one is always `end`. Throws INVALID_FILTER on an
 * unterminated quote or an unknown operator such as `=<`.
 *
 * @example
 * tokenize("lr<=0.1").map((t) => t.value); // ["lr", "<=", "0.1", ""]
 */
export function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i] as string;
    if (isSpace(c)) {
      i += 1;
    } else if (c === "(" || c === ")") {
      tokens.push({ kind: c, raw: c, value: c, position: i });
      i += 1;
    } else if (OPERATOR_CHARS.includes(c)) {
      let end = i;
      while (end < source.length && OPERATOR_CHARS.includes(source[end] as string)) end += 1;
      const raw = source.slice(i, end);
      const op = OPERATORS.get(raw);
      if (op === undefined) {
        const suggestion = OPERATOR_HINTS.get(raw);
        throw queryError("filter", source, i, `unknown operator ${JSON.stringify(raw)}`, {
          hint: suggestion
            ? `did you mean ${JSON.stringify(suggestion)}? Operators: ${OPERATOR_LIST}`
            : `expected one of ${OPERATOR_LIST}`,
          details: { expected: "operator" },
        });
      }
      tokens.push({ kind: "op", raw, value: op, position: i });
      i = end;
    } else if (c === '"' || c === "'" || c === "`") {
      const { value, end } = scanQuoted(source, i, "filter");
      tokens.push({ kind: c === "`" ? "field" : "string", raw: source.slice(i, end), value, position: i });
      i = end;
    } else {
      let end = i;
      while (end < source.length && isWordChar(source[end] as string)) end += 1;
      const raw = source.slice(i, end);
      tokens.push({ kind: "word", raw, value: raw, position: i });
      i = end;
    }
  }
  tokens.push({ kind: "end", raw: "", value: "", position: source.length });
  return tokens;
}

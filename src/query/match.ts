/**
 * Evaluating a parsed filter against one row.
 */
import type { ComparisonNode, FilterExpression, QueryRow } from "./types.js";
import { cell, parseNumber, type Present } from "./value.js";


/**
 * How two present values relate: a sign (-1, 0, 1) when they are ordered, or a boolean
 * "equal?" when only `=` / `!=` make sense (NaN, booleans, values of unrelated types).
 */
type Relation = number | boolean;

function isNaNValue(value: Present): boolean {
  return typeof value === "number" && Number.isNaN(value);
}

function sign(a: number | string, b: number | string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function asBoolean(value: string): boolean | undefined {
  const lower = value.toLowerCase();
  return lower === "true" ? true : lower === "false" ? false : undefined;
}

function relate(actual: Present, literal: Present, literalText: string): Relation {
  if (typeof actual === "boolean" || typeof literal === "boolean") {
    const a = typeof actual === "string" ? asBoolean(actual) : actual;
    const b = typeof literal === "string" ? asBoolean(literal) : literal;
    return typeof a === "boolean" && typeof b === "boolean" && a === b;
  }
  if (typeof actual === "string" && typeof literal === "string") return sign(actual, literal);
  // At least one side is a number; the other a number or a string.
  const a = typeof actual === "number" ? actual : parseNumber(actual);
  const b = typeof literal === "number" ? literal : parseNumber(literal);
  if (isNaNValue(actual) || isNaNValue(literal)) {
    return a !== undefined && b !== undefined && Number.isNaN(a) && Number.isNaN(b);
  }
  if (a !== undefined && b !== undefined) {
    if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
    return sign(a, b);
  }
  // A number against a string that is not numeric: compare as text, the literal as written.
  const aText = typeof actual === "number" ? String(actual) : actual;
  const bText = typeof literal === "number" ? literalText : literal;
  return sign(aText, bText);
}

function textOf(value: Present): string {
  return String(value);
}

function compare(node: ComparisonNode, actual: Present | null): boolean {
  const { op, value: literal } = node;
  if (actual === null) {
    if (literal === null) return op === "=";
    return op === "!=";
  }
  if (literal === null) return op === "!=";
  const literalText = node.text ?? String(literal);
  if (op === "~") {
    if (isNaNValue(actual)) return false;
    const needle = typeof literal === "string" ? literal : literalText;
    return textOf(actual).toLowerCase().includes(needle.toLowerCase());
  }
  const relation = relate(actual, literal, literalText);
  if (typeof relation === "boolean") {
    if (op === "=") return relation;
    if (op === "!=") return !relation;
    return false;
  }
  switch (op) {
    case "=":
      return relation === 0;
    case "!=":
      return relation !== 0;
    case "<":
      return relation < 0;
    case "<=":
      return relation <= 0;
    case ">":
      return relation > 0;
    case ">=":
      return relation >= 0;
  }
}

/**
 * True when `row` matches `expression`. Semantics, per comparison `FIELD OP VALUE`:
 *
 * - Numbers compare numerically. A number against a numeric string (`"0.01"`, `"1e-3"`, `"nan"`)
 *   compares as numbers; against any other string, as text (the literal as written), which is how
 *   `created > 2026` or `created >= 2026-03-01` work.
 * - Two strings: `=` / `!=` exactly (case-sensitive), `<` `<=` `>` `>=` by UTF-16 code units, so
 *   ISO dates and times compare chronologically as plain strings (`created > 2026-01-01`).
 *   A quoted literal is always a string: `params.n > "9"` compares text, `params.n > 9` numbers.
 * - `~` is "contains", case-insensitive, on the text of the value (`String(n)`, `"true"`); a
 *   numeric or keyword literal is matched as written (`id ~ 0303`).
 * - Booleans: only `=` / `!=`, against `true` / `false` (or the strings "true" / "false").
 * - Missing field or null: every comparison is false except `!= <non-null>` and `= null`
 *   (`!= null` is false). A present value: `= null` false, `!= null` true, others with null false.
 * - NaN: `= nan` is true only for NaN, `!= x` is true unless both are NaN; `<`, `>`, `~` and
 *   the rest are false. ±Infinity are ordinary numbers (`= inf`, `> 1e308`).
 * - Values of unrelated types (a boolean against a number): `=` false, `!=` true, the rest false.
 *
 * @example
 * matchesFilter(parseFilter("metrics.loss < 0.5 and status = running"), { status: "running", "metrics.loss": 0.2 }); // true
 * matchesFilter(parseFilter("metrics.loss != 1"), {}); // true: missing is "not 1"
 */
export function matchesFilter(expression: FilterExpression, row: QueryRow): boolean {
  switch (expression.kind) {
    case "compare":
      return compare(expression, cell(row, expression.field));
    case "and":
      return expression.operands.every((operand) => matchesFilter(operand, row));
    case "or":
      return expression.operands.some((operand) => matchesFilter(operand, row));
    case "not":
      return !matchesFilter(expression.operand, row);
  }
}


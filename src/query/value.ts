/**
 * Small value helpers shared by the parser, the matcher and the sorter: reading numbers out of
 * text and reading a cell out of a row.
 */
import type { QueryRow } from "./types.js";

/** A cell that is not missing or null. */
export type Present = string | number | boolean;

/**
 * The value of `field` in `row`, or null when it is missing, null, or not a query value.
 * Only own properties count: a field named `constructor` is not inherited from Object.
 *
 * @example
 * cell({ "params.lr": 0.1 }, "params.lr"); // 0.1
 * cell({}, "toString");                    // null
 */
export function cell(row: QueryRow, field: string): Present | null {
  if (!Object.hasOwn(row, field)) return null;
  const value: unknown = row[field];
  return typeof value === "string" || typeof value === "number" || typeof value === "boolean" ? value : null;
}

const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const SPECIAL = new Map<string, number>([
  ["nan", NaN],
  ["inf", Infinity],
  ["+inf", Infinity],
  ["-inf", -Infinity],
  ["infinity", Infinity],
  ["+infinity", Infinity],
  ["-infinity", -Infinity],
]);

/**
 * The number a text spells, or undefined. Accepts decimal notation (`0.01`, `1e-3`, `-2`, `.5`)
 * and, case-insensitively, `nan`, `inf`, `infinity` with an optional sign. Rejects everything
 * `Number()` would quietly accept but a person would not call a number: `""`, `" "`, `0x10`, `1_000`.
 *
 * @example
 * parseNumber("1e-3"); // 0.001
 * parseNumber("NaN");  // NaN
 * parseNumber("0x10"); // undefined
 */
export function parseNumber(text: string): number | undefined {
  if (DECIMAL.test(text)) return Number(text);
  return SPECIAL.get(text.toLowerCase());
}

/**
 * The shapes the query language works on: flat rows of scalar values, and the parsed filter.
 * Plain data only, so an expression can be sent as JSON to the web UI or the Python binding.
 */

/**
 * One cell of a row. Metric values that are not finite arrive as the numbers NaN / Infinity.
 *
 * @example
 * const v: QueryValue = 0.01;
 */
export type QueryValue = string | number | boolean | null;

/**
 * A flat row: `id`, `status`, `created` (ISO string), `params.lr`, `metrics.loss`, ...
 *
 * @example
 * const row: QueryRow = { id: "e510303", status: "running", "params.lr": 0.01, "metrics.loss": NaN };
 */
export type QueryRow = Record<string, QueryValue>;

/** A comparison operator after parsing (`==` is normalised to `=`). */
export type ComparisonOperator = "=" | "!=" | "<" | "<=" | ">" | ">=" | "~";

/** `FIELD OP VALUE`. */
export interface ComparisonNode {
  kind: "compare";
  field: string;
  op: ComparisonOperator;
  /** The literal: number (incl. NaN/±Infinity), string, boolean or null. */
  value: QueryValue;
  /** The literal as written (decoded, without quotes). Used by `~` and text comparisons. */
  text?: string;
  /** 0-based offset of the field in `source`. */
  position?: number;
  /** The filter text this comparison came from (for error messages). */
  source?: string;
}

/** All operands must match. */
export interface AndNode {
  kind: "and";
  operands: FilterExpression[];
}

/** At least one operand must match. */
export interface OrNode {
  kind: "or";
  operands: FilterExpression[];
}

/** The operand must not match. */
export interface NotNode {
  kind: "not";
  operand: FilterExpression;
}

/**
 * A parsed filter: a tree of comparisons joined by and / or / not.
 *
 * @example
 * const e: FilterExpression = { kind: "compare", field: "status", op: "=", value: "running" };
 */
export type FilterExpression = ComparisonNode | AndNode | OrNode | NotNode;

/**
 * Checking that a filter names only fields that exist, with a "did you mean" for typos.
 */
import { CairnError } from "../errors.js";
import { queryError } from "./error.js";
import { filterFields } from "./parse.js";
import type { ComparisonNode, FilterExpression } from "./types.js";

/** Above this many fields, an error lists only the closest ones. */
const LIST_ALL_UP_TO = 20;
const LIST_CLOSEST = 10;

/**
 * Levenshtein distance (insertions, deletions, substitutions).
 *
 * @example
 * editDistance("params.lrr", "params.lr"); // 1
 */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, (previous[j - 1] as number) + cost);
    }
    previous = current;
  }
  return previous[b.length] as number;
}

/** How far `candidate` is from what the user typed; `loss` is close to `metrics.loss`. */
function distance(typed: string, candidate: string): number {
  const a = typed.toLowerCase();
  const b = candidate.toLowerCase();
  if (a === b) return 0;
  if (b.endsWith(`.${a}`)) return 1;
  return editDistance(a, b);
}

/**
 * The fields closest to `field`, best first (ties alphabetical).
 *
 * @example
 * closestFields("params.lrr", ["id", "params.lr", "params.layers"]); // ["params.lr", "params.layers", "id"]
 */
export function closestFields(field: string, available: Iterable<string>): string[] {
  return [...new Set(available)]
    .map((name) => ({ name, score: distance(field, name) }))
    .sort((x, y) => x.score - y.score || (x.name < y.name ? -1 : x.name > y.name ? 1 : 0))
    .map((entry) => entry.name);
}

function findComparison(expression: FilterExpression, field: string): ComparisonNode | undefined {
  if (expression.kind === "compare") return expression.field === field ? expression : undefined;
  if (expression.kind === "not") return findComparison(expression.operand, field);
  for (const operand of expression.operands) {
    const found = findComparison(operand, field);
    if (found) return found;
  }
  return undefined;
}

/**
 * Throws INVALID_FILTER if the expression names a field that is not in `available` (the
 * fixed fields plus the union of the keys of all rows: `params.*` / `metrics.*` exist only if some
 * row has them). The message names the first unknown field, suggests the closest one ("did you
 * mean params.lr?") and lists the fields that exist: all of them sorted, or, if there are many,
 * the closest first. `details` holds `field`, `unknown` (all unknown fields), `suggestion`,
 * `available` (all, sorted) and, when known, `position` of the field in the filter.
 *
 * @example
 * checkFilterFields(parseFilter("params.lrr < 3"), ["id", "status", "params.lr"]);
 * // throws: Invalid filter "params.lrr < 3": unknown field "params.lrr" at column 1; did you mean params.lr?
 */
export function checkFilterFields(expression: FilterExpression, available: Iterable<string>): void {
  const known = new Set(available);
  const unknown = filterFields(expression).filter((field) => !known.has(field));
  const field = unknown[0];
  if (field === undefined) return;

  const sorted = [...known].sort();
  const closest = closestFields(field, sorted);
  const best = closest[0];
  const threshold = Math.max(2, Math.floor(field.length / 3));
  const suggestion = best !== undefined && distance(field, best) <= threshold ? best : undefined;
  const listed =
    sorted.length <= LIST_ALL_UP_TO
      ? sorted.join(", ")
      : `${closest.slice(0, LIST_CLOSEST).join(", ")} and ${sorted.length - LIST_CLOSEST} more`;
  const footer = sorted.length === 0 ? "There are no fields to filter on yet." : `Fields: ${listed}`;
  const hint = suggestion === undefined ? undefined : `did you mean ${suggestion}?`;
  const details = { field, unknown, suggestion, available: sorted };

  const node = findComparison(expression, field);
  if (node?.source !== undefined && node.position !== undefined) {
    throw queryError("filter", node.source, node.position, `unknown field ${JSON.stringify(field)}`, { hint, footer, details });
  }
  const message = `Invalid filter: unknown field ${JSON.stringify(field)}${hint ? `; ${hint}` : ""}\n${footer}`;
  throw new CairnError("INVALID_FILTER", message, { details });
}

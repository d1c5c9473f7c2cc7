/**
 * The filter language in one import: parse (parse.ts), check fields (fields.ts), match (match.ts).
 *
 * @example
 * import { parseFilters, checkFilterFields, matchesFilter } from "./query/filter.js";
 * const filter = parseFilters(["status = running", "metrics.loss < 0.5"]);
 * if (filter) {
 *   checkFilterFields(filter, new Set([...FIXED_FIELDS, ...rows.flatMap(Object.keys)]));
 *   rows = rows.filter((row) => matchesFilter(filter, row));
 * }
 */
export { filterFields, parseFilter, parseFilters } from "./parse.js";
export { checkFilterFields, closestFields } from "./fields.js";
export { matchesFilter } from "./match.js";
export type { ComparisonNode, ComparisonOperator, FilterExpression, QueryRow, QueryValue } from "./types.js";

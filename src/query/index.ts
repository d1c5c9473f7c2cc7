/**
 * The query language shared by `cairn ls --filter/--sort`, `experiments.list({ filter, sort })`,
 * the Python binding and the web UI.
 *
 * @example
 * import { parseFilters, matchesFilter, parseSort, compareRows, flattenParams } from "./query/index.js";
 * const filter = parseFilters(["status = running", "params.lr < 1e-3"]);
 * const sort = parseSort("metrics.loss:asc");
 * const shown = rows.filter((r) => !filter || matchesFilter(filter, r)).sort((a, b) => compareRows(a, b, sort));
 */
export { checkFilterFields, closestFields, filterFields, matchesFilter, parseFilter, parseFilters } from "./filter.js";
export { compareRows, defaultSortDirection, parseSort } from "./sort.js";
export type { SortDirection, SortSpec } from "./sort.js";
export { flattenParams } from "./flatten.js";
export type {
  AndNode,
  ComparisonNode,
  ComparisonOperator,
  FilterExpression,
  NotNode,
  OrNode,
  QueryRow,
  QueryValue,
} from "./types.js";

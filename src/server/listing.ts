import { selectExperiments } from "../api/repository.js";
import type { Experiment } from "../api/experiment.js";
import { flatParamsOf, metricNamesOf, queryRowOf } from "./rows.js";
import { differingKeys } from "../api/diff.js";
import type { QueryValue } from "../query/index.js";
import type { Snapshot } from "./snapshot.js";
import { jsonNumber } from "./json.js";

/** What the table asks for: the CLI's filter and sort, and a window of rows. */
export interface ListingQuery {
  filter: string[];
  sort: string | undefined;
}

/** The matched experiments of one query, kept while the snapshot lasts so paging is a slice. */
export interface Listing {
  experiments: Experiment[];
  /** `params.*` fields whose values differ between the matched experiments. */
  params: string[];
  /** Metric names any matched experiment has. */
  metrics: string[];
}

/** One row of the experiments table, as JSON. Non-finite metrics are "NaN"/"Infinity" strings. */
export interface TableRow {
  id: string;
  status: string;
  created: string;
  stopped: string | null;
  user: string | null;
  host: string | null;
  checkpoints: number;
  step: number | null;
  primaryMetric: { name: string; goal: string } | null;
  params: Record<string, QueryValue>;
  metrics: Record<string, number | string>;
  latest: Record<string, number | string>;
}

/**
 * The experiments matching a query, through `selectExperiments` (the CLI's filter and sort), plus
 * the columns worth showing: the params that vary and every metric name.
 *
 * @example
 * const listing = buildListing(snapshot, { filter: ["params.lr < 0.01"], sort: "metrics.loss" });
 */
export function buildListing(snapshot: Snapshot, query: ListingQuery): Listing {
  const experiments = selectExperiments(snapshot.experiments, { filter: query.filter, ...(query.sort ? { sort: query.sort } : {}) }, queryRowOf);
  return { experiments, params: varyingParams(experiments), metrics: metricNames(experiments) };
}

/**
 * The `params.*` fields worth a column, as `cairn ls` picks them: the params whose values are not
 * the same in every experiment (`differingKeys` of `flatParams`, so an array is one column), in
 * order of first appearance; with a single experiment, all of its params.
 *
 * @example
 * varyingParams([a, b]); // ["params.lr"]
 */
export function varyingParams(experiments: Experiment[]): string[] {
  const records = experiments.map(flatParamsOf);
  const keys = records.length === 1 ? Object.keys(records[0]!) : differingKeys(records);
  return keys.map((key) => `params.${key}`);
}

function metricNames(experiments: Experiment[]): string[] {
  const names = new Set<string>();
  for (const experiment of experiments) for (const name of metricNamesOf(experiment)) names.add(name);
  return [...names].sort();
}

/**
 * One experiment as a table row: the shown params, the best checkpoint's metrics (the latest's
 * when there is no primary metric, as in `cairn ls`) and the latest's.
 *
 * @example
 * toTableRow(experiment, ["params.lr"]);
 */
export function toTableRow(experiment: Experiment, params: string[]): TableRow {
  const row = queryRowOf(experiment);
  const best = experiment.best() ?? experiment.latest();
  const latest = experiment.latest();
  const shown: Record<string, QueryValue> = {};
  for (const key of params) if (Object.hasOwn(row, key)) shown[key] = jsonValue(row[key]!);
  return {
    id: experiment.id,
    status: experiment.status,
    created: experiment.created.toISOString(),
    stopped: experiment.stopped?.toISOString() ?? null,
    user: experiment.environment?.user ?? null,
    host: experiment.environment?.host ?? null,
    checkpoints: experiment.checkpointCount,
    step: best?.step ?? null,
    primaryMetric: experiment.primaryMetric,
    params: shown,
    metrics: metricsJson(best?.metrics ?? {}),
    latest: metricsJson(latest?.metrics ?? {}),
  };
}

function jsonValue(value: QueryValue): QueryValue {
  return typeof value === "number" ? jsonNumber(value) : value;
}

function metricsJson(metrics: Record<string, number>): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  for (const [name, value] of Object.entries(metrics)) out[name] = jsonNumber(value);
  return out;
}

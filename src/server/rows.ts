import { flatParams } from "../api/diff.js";
import type { Experiment } from "../api/experiment.js";
import { toQueryRow } from "../api/rows.js";
import type { QueryRow, QueryValue } from "../query/index.js";

/**
 * Per-experiment values the listing needs again and again, computed once per Experiment object.
 * The server keeps an unchanged experiment's object from one refresh to the next, so sorting or
 * filtering 10,000 experiments anew rebuilds none of their rows.
 */
const rows = new WeakMap<Experiment, QueryRow>();
const params = new WeakMap<Experiment, Record<string, QueryValue>>();
const metricNames = new WeakMap<Experiment, string[]>();

/** `toQueryRow(experiment)`, cached. @example selectExperiments(experiments, options, queryRowOf) */
export function queryRowOf(experiment: Experiment): QueryRow {
  let row = rows.get(experiment);
  if (!row) rows.set(experiment, (row = toQueryRow(experiment)));
  return row;
}

/** `flatParams(experiment.params)`, cached. @example flatParamsOf(experiment).lr */
export function flatParamsOf(experiment: Experiment): Record<string, QueryValue> {
  let flat = params.get(experiment);
  if (!flat) params.set(experiment, (flat = flatParams(experiment.params)));
  return flat;
}

/** The metric names of the best (else latest) and latest checkpoints, cached. @example metricNamesOf(experiment) // ["loss"] */
export function metricNamesOf(experiment: Experiment): string[] {
  let names = metricNames.get(experiment);
  if (!names) {
    const best = experiment.best() ?? experiment.latest();
    const latest = experiment.latest();
    names = [...new Set([...Object.keys(best?.metrics ?? {}), ...Object.keys(latest?.metrics ?? {})])];
    metricNames.set(experiment, names);
  }
  return names;
}

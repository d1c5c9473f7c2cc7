import type { Experiment } from "../api/experiment.js";

/**
 * An experiment's metrics against step, columnar: one `step` array and, per metric, one array of
 * the same length (null where a checkpoint lacks the metric or its value is not finite). Columns
 * keep 100 experiments × 10,000 checkpoints small on the wire and ready for the chart as is.
 */
export interface Series {
  id: string;
  status: string;
  /** How many checkpoints the experiment has in all. */
  count: number;
  /** The index of the first checkpoint included (`?from=`), for live updates that fetch only new ones. */
  from: number;
  step: number[];
  metrics: Record<string, (number | null)[]>;
  primaryMetric: { name: string; goal: string } | null;
  /** Index (among all checkpoints) of the best one, or null. */
  best: number | null;
}

/**
 * The columnar series of an experiment's checkpoints from index `from` on, values rounded to
 * `digits` significant digits when asked (a chart needs 6, and the answer is half the size).
 *
 * @example
 * seriesOf(experiment, 0); // { step: [0, 1, 2], metrics: { loss: [0.9, 0.5, null] }, … }
 */
export function seriesOf(experiment: Experiment, from = 0, digits?: number): Series {
  const round = digits === undefined ? (v: number) => v : (v: number) => Number(v.toPrecision(digits));
  const checkpoints = experiment.checkpoints.slice(from);
  const names = new Set<string>();
  for (const checkpoint of checkpoints) for (const name of Object.keys(checkpoint.metrics)) names.add(name);
  const metrics: Record<string, (number | null)[]> = {};
  for (const name of [...names].sort()) {
    metrics[name] = checkpoints.map((c) => {
      const value = c.metrics[name];
      return value !== undefined && Number.isFinite(value) ? round(value) : null;
    });
  }
  const best = experiment.best();
  return {
    id: experiment.id,
    status: experiment.status,
    count: experiment.checkpoints.length,
    from: Math.min(from, experiment.checkpoints.length),
    step: checkpoints.map((c) => c.step),
    metrics,
    primaryMetric: experiment.primaryMetric,
    best: best ? experiment.checkpoints.indexOf(best) : null,
  };
}

import type { Series } from "./types.js";

/**
 * Appends the checkpoints of an update fetched with `?from=` to the series at hand (metrics new
 * in the update are padded with nulls before, missing ones after).
 *
 * @example
 * series = mergeSeries(series, await getJson(`/api/experiments/${id}/series?from=${series.count}`));
 */
export function mergeSeries(current: Series, update: Series): Series {
  if (update.from !== current.step.length) return update.from === 0 ? update : current;
  const metrics: Record<string, (number | null)[]> = {};
  for (const name of new Set([...Object.keys(current.metrics), ...Object.keys(update.metrics)])) {
    const before = current.metrics[name] ?? new Array<number | null>(current.step.length).fill(null);
    const after = update.metrics[name] ?? new Array<number | null>(update.step.length).fill(null);
    metrics[name] = before.concat(after);
  }
  return { ...update, from: 0, step: current.step.concat(update.step), metrics };
}

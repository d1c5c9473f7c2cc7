import { bestIndexOf, primaryMetricOf } from "./best.js";
import type { ExperimentRecord, ExperimentSummary } from "./types.js";

/**
 * The summary of a record: everything but the checkpoint list, plus the count, the primary
 * metric, the best and the latest checkpoint. A listing of 10,000 experiments of 100
 * checkpoints reads these (a few kilobytes each) instead of the records (tens of kilobytes each,
 * growing with every checkpoint). Writers publish it right after the record; readers derive it
 * from the record when it is missing (repositories written before format 1.1).
 *
 * @example
 * const summary = summarize(record);
 * summary.best?.checkpoint.metrics.loss; // 0.21
 */
export function summarize(record: ExperimentRecord): ExperimentSummary {
  const { checkpoints, ...rest } = record;
  const bestIndex = bestIndexOf(checkpoints);
  return {
    ...rest,
    checkpointCount: checkpoints.length,
    primaryMetric: primaryMetricOf(checkpoints),
    best: bestIndex === null ? null : { index: bestIndex, checkpoint: checkpoints[bestIndex]! },
    latest: checkpoints.at(-1) ?? null,
  };
}

/**
 * The bytes of `summaries/<id>.json` for a record (compact JSON, the record's fields first).
 *
 * @example
 * await storage.put(summaryKey(record.id), encodeSummary(record));
 */
export function encodeSummary(record: ExperimentRecord): string {
  return JSON.stringify(summarize(record));
}

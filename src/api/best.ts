import type { PrimaryMetric } from "../repository/types.js";

interface Scored {
  metrics: Record<string, number>;
  primaryMetric: PrimaryMetric | null;
}

/**
 * The primary metric in force: the one declared by the most recent checkpoint that declares one.
 *
 * @example
 * primaryMetricOf(checkpoints); // { name: "loss", goal: "minimize" }
 */
export function primaryMetricOf(checkpoints: readonly Scored[]): PrimaryMetric | null {
  for (let i = checkpoints.length - 1; i >= 0; i--) {
    const primary = checkpoints[i]!.primaryMetric;
    if (primary) return primary;
  }
  return null;
}

/**
 * The best checkpoint by the primary metric, skipping non-finite values; the earliest wins a tie.
 * Null when there is no primary metric or no finite value of it.
 *
 * @example
 * bestOf([{ metrics: { loss: 0.3 }, primaryMetric }, { metrics: { loss: NaN }, primaryMetric }]);
 */
export function bestOf<T extends Scored>(checkpoints: readonly T[]): T | null {
  const primary = primaryMetricOf(checkpoints);
  if (!primary) return null;
  let best: T | null = null;
  for (const checkpoint of checkpoints) {
    const value = checkpoint.metrics[primary.name];
    if (value === undefined || !Number.isFinite(value)) continue;
    const current = best?.metrics[primary.name];
    if (best === null || current === undefined || (primary.goal === "minimize" ? value < current : value > current)) best = checkpoint;
  }
  return best;
}

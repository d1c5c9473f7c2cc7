import type { PrimaryMetric, StoredMetric } from "./types.js";

/** A checkpoint as read (numbers) or as stored (non-finite values as strings, never the best). */
interface Scored {
  metrics: Record<string, number | StoredMetric>;
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
  const index = bestIndexOf(checkpoints);
  return index === null ? null : checkpoints[index]!;
}

/** The index of the best checkpoint (see bestOf), or null. */
export function bestIndexOf(checkpoints: readonly Scored[]): number | null {
  const primary = primaryMetricOf(checkpoints);
  if (!primary) return null;
  let best: number | null = null;
  let bestValue = 0;
  for (let i = 0; i < checkpoints.length; i++) {
    const value = checkpoints[i]!.metrics[primary.name];
    if (typeof value !== "number" || !Number.isFinite(value)) continue;
    if (best === null || (primary.goal === "minimize" ? value < bestValue : value > bestValue)) {
      best = i;
      bestValue = value;
    }
  }
  return best;
}

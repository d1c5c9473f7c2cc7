import type { StoredMetric } from "./types.js";

/**
 * JSON has no NaN or infinities, but a diverging run produces them and they must be kept and
 * shown. They are stored as the strings "NaN", "Infinity" and "-Infinity".
 *
 * @example
 * encodeMetric(NaN); // "NaN"
 * decodeMetric("-Infinity"); // -Infinity
 */
export function encodeMetric(value: number): StoredMetric {
  if (Number.isFinite(value)) return value;
  if (Number.isNaN(value)) return "NaN";
  return value > 0 ? "Infinity" : "-Infinity";
}

export function decodeMetric(value: StoredMetric): number {
  if (typeof value === "number") return value;
  if (value === "NaN") return NaN;
  return value === "Infinity" ? Infinity : -Infinity;
}

export function isStoredMetric(value: unknown): value is StoredMetric {
  return (typeof value === "number" && Number.isFinite(value)) || value === "NaN" || value === "Infinity" || value === "-Infinity";
}

export function decodeMetrics(metrics: Record<string, StoredMetric>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, value] of Object.entries(metrics)) out[name] = decodeMetric(value);
  return out;
}

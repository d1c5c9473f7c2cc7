import type { Json } from "../../repository/types.js";

/**
 * A metric value for a table: six significant digits, and `NaN`, `inf`, `-inf` for the values
 * a diverging run produces (never a crash, never "null").
 *
 * @example
 * formatMetric(0.123456789); // "0.123457"
 * formatMetric(-Infinity);   // "-inf"
 */
export function formatMetric(value: number | undefined | null): string {
  if (value === undefined || value === null) return "-";
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "inf";
  if (value === -Infinity) return "-inf";
  if (Number.isInteger(value) && Math.abs(value) < 1e15) return String(value);
  return String(Number(value.toPrecision(6)));
}

/**
 * A param or field value as text: strings as they are, other JSON compactly, `-` for absent.
 * Non-finite numbers read like metrics.
 *
 * @example
 * formatValue([64, 64]); // "[64,64]"
 * formatValue(undefined); // "-"
 */
export function formatValue(value: Json | undefined): string {
  if (value === undefined) return "-";
  if (typeof value === "string") return value;
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : formatMetric(value);
  return JSON.stringify(value);
}

/**
 * A size in bytes, in binary units.
 *
 * @example
 * formatBytes(1536); // "1.5 KiB"
 */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB", "TiB", "PiB"];
  let value = bytes;
  let unit = "B";
  for (const next of units) {
    if (value < 1024) break;
    value /= 1024;
    unit = next;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${unit}`;
}

/** "1 file", "3 files". @example plural(3, "experiment") // "3 experiments" */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

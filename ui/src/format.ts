import type { Value } from "./types.js";

/** The short form of an ID, as in the CLI. @example shortId("e510303c…") // "e510303" */
export function shortId(id: string): string {
  return id.slice(0, 7);
}

/**
 * A metric for a table cell: 4 significant digits, exponent form for very small or large values,
 * NaN and infinities spelled as the CLI does.
 *
 * @example
 * formatMetric(0.123456); // "0.1235"
 */
export function formatMetric(value: number | string | null | undefined): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value === "Infinity" ? "inf" : value === "-Infinity" ? "-inf" : value;
  if (value === 0) return "0";
  const magnitude = Math.abs(value);
  if (magnitude >= 1e6 || magnitude < 1e-4) return value.toExponential(3);
  if (Number.isInteger(value)) return String(value);
  return String(Number(value.toPrecision(4)));
}

/** A param value for a cell. @example formatValue(true) // "true" */
export function formatValue(value: Value | undefined): string {
  if (value === undefined || value === null) return value === null ? "null" : "";
  if (typeof value === "number") return formatMetric(value);
  return String(value);
}

/** "3 minutes ago", from an ISO date. @example relativeTime("2024-01-01T00:00:00Z") */
export function relativeTime(iso: string, now = Date.now()): string {
  const seconds = Math.round((now - Date.parse(iso)) / 1000);
  if (seconds < 45) return "just now";
  const units: [number, string][] = [
    [60, "minute"],
    [3600, "hour"],
    [86400, "day"],
    [86400 * 30, "month"],
    [86400 * 365, "year"],
  ];
  let chosen: [number, string] = units[0]!;
  for (const unit of units) if (seconds >= unit[0]) chosen = unit;
  const count = Math.max(1, Math.round(seconds / chosen[0]));
  return `${count} ${chosen[1]}${count === 1 ? "" : "s"} ago`;
}

/** A date for tooltips and detail pages. @example absoluteTime("2024-01-01T00:00:00Z") */
export function absoluteTime(iso: string): string {
  const date = new Date(iso);
  return `${date.toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" })} ${date.toLocaleTimeString()}`;
}

/** "4m 12s" between two ISO dates (or until now). @example duration(a, b) */
export function duration(from: string, to: string | null, now = Date.now()): string {
  let seconds = Math.max(0, Math.round(((to ? Date.parse(to) : now) - Date.parse(from)) / 1000));
  const hours = Math.floor(seconds / 3600);
  seconds -= hours * 3600;
  const minutes = Math.floor(seconds / 60);
  seconds -= minutes * 60;
  if (hours > 0) return `${hours}h ${minutes}m`;
  if (minutes > 0) return `${minutes}m ${seconds}s`;
  return `${seconds}s`;
}

/** "1.5 MB". @example formatBytes(1536) // "1.5 KB" */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/**
 * Params flattened to dotted keys for display, arrays kept whole (as `cairn ls` shows them).
 *
 * @example
 * flatten({ model: { layers: [64, 64] } }); // { "model.layers": "[64,64]" }
 */
export function flatten(value: unknown, prefix = ""): Record<string, Value> {
  const out: Record<string, Value> = {};
  const visit = (item: unknown, key: string): void => {
    if (item !== null && typeof item === "object" && !Array.isArray(item)) {
      for (const [name, child] of Object.entries(item)) visit(child, key ? `${key}.${name}` : name);
    } else if (key !== "") {
      out[key] = Array.isArray(item) ? JSON.stringify(item) : (item as Value);
    }
  };
  visit(value, prefix);
  return out;
}

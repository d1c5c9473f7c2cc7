const UNITS: [name: string, ms: number][] = [
  ["year", 365 * 24 * 3600_000],
  ["month", 30 * 24 * 3600_000],
  ["week", 7 * 24 * 3600_000],
  ["day", 24 * 3600_000],
  ["hour", 3600_000],
  ["minute", 60_000],
  ["second", 1000],
];

/**
 * A time relative to `now`, the way people say it: "just now", "3 minutes ago", "2 days ago",
 * "in 5 minutes" (a writer's clock ahead of ours).
 *
 * @example
 * relativeTime(new Date(Date.now() - 180_000), new Date()); // "3 minutes ago"
 */
export function relativeTime(time: Date, now: Date): string {
  const delta = now.getTime() - time.getTime();
  if (Number.isNaN(delta)) return "unknown";
  const size = Math.abs(delta);
  if (size < 5000) return "just now";
  for (const [name, ms] of UNITS) {
    if (size >= ms) {
      const count = Math.floor(size / ms);
      const phrase = `${count} ${name}${count === 1 ? "" : "s"}`;
      return delta >= 0 ? `${phrase} ago` : `in ${phrase}`;
    }
  }
  return "just now";
}

/**
 * A timestamp for people: ISO 8601 to the second, in UTC, plus the relative time.
 *
 * @example
 * timestamp(created, now); // "2024-05-01 12:00:03 UTC (3 minutes ago)"
 */
export function timestamp(time: Date, now: Date): string {
  if (Number.isNaN(time.getTime())) return "unknown";
  return `${time.toISOString().slice(0, 19).replace("T", " ")} UTC (${relativeTime(time, now)})`;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3600_000, d: 24 * 3600_000, w: 7 * 24 * 3600_000 };

/**
 * Parses a duration such as "24h", "30m", "2d", "1h30m", "90s", "0"; null when it is not one.
 *
 * @example
 * parseDuration("1h30m"); // 5400000
 */
export function parseDuration(text: string): number | null {
  const trimmed = text.trim().toLowerCase();
  if (trimmed === "0") return 0;
  if (!/^(\d+(\.\d+)?(ms|s|m|h|d|w))+$/.test(trimmed)) return null;
  let total = 0;
  for (const match of trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g)) total += Number(match[1]) * DURATION_UNITS[match[2]!]!;
  return Math.round(total);
}

/**
 * A duration for people, the inverse of parseDuration for whole units.
 *
 * @example
 * formatDuration(86_400_000); // "24h"
 */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  for (const [unit, size] of [["d", 24 * 3600_000], ["h", 3600_000], ["m", 60_000], ["s", 1000]] as const) {
    if (ms % size === 0 && (unit !== "d" || ms / size > 1)) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

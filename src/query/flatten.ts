/**
 * Turning nested parameters into the flat, dotted keys the query language filters on.
 */
import type { QueryValue } from "./types.js";

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object") return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function toJson(value: unknown): string {
  const bigints = (_key: string, item: unknown): unknown => (typeof item === "bigint" ? item.toString() : item);
  try {
    return JSON.stringify(value, bigints) ?? "null";
  } catch {
    // A cycle: cut repeated objects off rather than fail.
    const seen = new WeakSet<object>();
    return JSON.stringify(value, (key, item: unknown) => {
      if (item !== null && typeof item === "object") {
        if (seen.has(item)) return "[Circular]";
        seen.add(item);
      }
      return bigints(key, item);
    }) ?? "null";
  }
}

/**
 * Flattens nested params into dotted keys under `prefix`:
 *
 * - nested objects become dotted keys: `{ model: { layers: 3 } }` → `params.model.layers = 3`;
 * - an array becomes its compact JSON string at its own key (`params.layers = "[64,64]"`) and,
 *   so it can be filtered, its elements at `params.layers.0`, `params.layers.1`, ... (recursively);
 * - strings, numbers (NaN and ±Infinity included), booleans and null stay as they are;
 * - a Date becomes its ISO string, a bigint its decimal string; undefined, functions and symbols
 *   are left out, as are empty objects (they have no keys to filter on);
 * - with `prefix = ""` the keys have no prefix (`model.layers`).
 *
 * A key that itself contains a dot can collide with a nested one (`{"a.b": 1}` vs
 * `{a: {b: 2}}`); the one that comes later wins. Circular references are cut off.
 *
 * @example
 * flattenParams({ lr: 0.01, model: { layers: [64, 64] }, seed: null });
 * // { "params.lr": 0.01, "params.model.layers": "[64,64]",
 * //   "params.model.layers.0": 64, "params.model.layers.1": 64, "params.seed": null }
 */
export function flattenParams(params: unknown, prefix = "params"): Record<string, QueryValue> {
  const out: Record<string, QueryValue> = {};
  const ancestors = new Set<object>();
  const join = (base: string, key: string): string => (base === "" ? key : `${base}.${key}`);

  const visit = (value: unknown, key: string): void => {
    if (value === null || typeof value === "string" || typeof value === "boolean" || typeof value === "number") {
      if (key !== "") out[key] = value;
      return;
    }
    if (typeof value === "bigint") {
      if (key !== "") out[key] = value.toString();
      return;
    }
    if (value instanceof Date) {
      if (key !== "") out[key] = Number.isNaN(value.getTime()) ? null : value.toISOString();
      return;
    }
    if (typeof value !== "object" || ancestors.has(value)) return;
    ancestors.add(value);
    if (Array.isArray(value)) {
      if (key !== "") out[key] = toJson(value);
      value.forEach((item, index) => visit(item, join(key, String(index))));
    } else if (isPlainObject(value)) {
      for (const [name, item] of Object.entries(value)) visit(item, join(key, name));
    }
    ancestors.delete(value);
  };

  visit(params, prefix);
  return out;
}

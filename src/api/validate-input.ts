import { CairnError } from "../errors.js";
import type { Goal, Json, PrimaryMetric } from "../repository/types.js";

/**
 * Checks that `value` is plain JSON (what params are stored as), naming the first offending
 * place: a function, undefined, a symbol, a bigint, NaN or ±Infinity, a Date or Map or class
 * instance, or a cycle.
 *
 * @example
 * checkJson({ lr: 0.01, layers: [64, 64] }, "params"); // ok
 * checkJson({ lr: NaN }, "params"); // throws: params.lr is NaN …
 */
export function checkJson(value: unknown, where: string, seen = new Set<object>()): asserts value is Json {
  const fail = (what: string): never => {
    throw new CairnError("INVALID_ARGUMENT", `${where} is ${what}, which JSON cannot hold. Params must be JSON: numbers, strings, booleans, null, arrays and plain objects.`);
  };
  if (value === null || typeof value === "string" || typeof value === "boolean") return;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) fail(String(value));
    return;
  }
  if (typeof value !== "object") fail(typeof value === "undefined" ? "undefined" : `a ${typeof value}`);
  const object = value as object;
  if (seen.has(object)) fail("a circular reference");
  seen.add(object);
  if (Array.isArray(object)) {
    object.forEach((item, index) => checkJson(item, `${where}[${index}]`, seen));
  } else {
    const prototype = Object.getPrototypeOf(object);
    if (prototype !== Object.prototype && prototype !== null) fail(`a ${object.constructor?.name ?? "non-plain object"} (convert it to a string or a plain object first)`);
    for (const [key, item] of Object.entries(object)) checkJson(item, /^[A-Za-z_$][\w$]*$/.test(key) ? `${where}.${key}` : `${where}[${JSON.stringify(key)}]`, seen);
  }
  seen.delete(object);
}

/**
 * Checks checkpoint metrics: an object of numbers. NaN and ±Infinity are allowed (a diverging
 * run is worth recording); strings, booleans and the like are not.
 *
 * @example
 * checkMetrics({ loss: 0.25, accuracy: 0.9 });
 */
export function checkMetrics(metrics: unknown): Record<string, number> {
  if (metrics === undefined || metrics === null) return {};
  if (typeof metrics !== "object" || Array.isArray(metrics)) {
    throw new CairnError("INVALID_ARGUMENT", `metrics must be an object of numbers, like { loss: 0.25 }; got ${describe(metrics)}.`);
  }
  for (const [name, value] of Object.entries(metrics)) {
    if (typeof value !== "number") {
      throw new CairnError("INVALID_ARGUMENT", `metric "${name}" is ${describe(value)}; metrics must be numbers (convert tensors with .item() or Number(...)).`);
    }
  }
  return metrics as Record<string, number>;
}

/**
 * Checks a primary metric given as ["loss", "minimize"] (or { name, goal }) against the metrics.
 *
 * @example
 * checkPrimaryMetric(["loss", "minimize"], { loss: 0.2 }); // { name: "loss", goal: "minimize" }
 */
export function checkPrimaryMetric(value: unknown, metrics: Record<string, number>): PrimaryMetric | null {
  if (value === undefined || value === null) return null;
  let name: unknown;
  let goal: unknown;
  if (Array.isArray(value) && value.length === 2) [name, goal] = value;
  else if (typeof value === "object" && !Array.isArray(value)) ({ name, goal } = value as { name?: unknown; goal?: unknown });
  else throw new CairnError("INVALID_ARGUMENT", `primaryMetric must be [name, "minimize" | "maximize"], like ["loss", "minimize"]; got ${describe(value)}.`);
  if (typeof name !== "string" || name === "") throw new CairnError("INVALID_ARGUMENT", `primaryMetric's name must be a metric name such as "loss"; got ${describe(name)}.`);
  if (goal !== "minimize" && goal !== "maximize") {
    throw new CairnError("INVALID_ARGUMENT", `primaryMetric's goal must be "minimize" or "maximize"; got ${describe(goal)}.`);
  }
  if (!(name in metrics)) {
    const known = Object.keys(metrics);
    throw new CairnError("INVALID_ARGUMENT", `primaryMetric "${name}" is not among this checkpoint's metrics (${known.length ? known.join(", ") : "none"}). Add it to metrics.`);
  }
  return { name, goal: goal as Goal };
}

/** Checks an explicit step: a non-negative integer. */
export function checkStep(step: unknown): number | undefined {
  if (step === undefined || step === null) return undefined;
  if (typeof step !== "number" || !Number.isSafeInteger(step) || step < 0) {
    throw new CairnError("INVALID_ARGUMENT", `step must be a non-negative integer such as the epoch number; got ${describe(step)}.`);
  }
  return step;
}

function describe(value: unknown): string {
  if (typeof value === "string") return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + "…" : value)}`;
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return `a ${(value as object).constructor?.name ?? "object"}`;
  return `${typeof value} ${String(value)}`;
}

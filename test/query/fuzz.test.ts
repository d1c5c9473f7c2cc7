import { describe, expect, it } from "vitest";
import { CairnError } from "../../src/errors.js";
import { checkFilterFields, filterFields, matchesFilter, parseFilter, parseSort, type QueryRow } from "../../src/query/index.js";
import { random } from "../helpers/random.js";


const TOKENS = [
  "status", "params.lr", "metrics.loss", "`params.learning rate`", "`", "created", "x",
  "=", "==", "!=", "<", "<=", ">", ">=", "~", "=<", "=>", "!", "<>",
  "and", "or", "not", "AND", "Or", "&&", "||",
  "(", ")", "((", "))",
  '"', "'", '"ana smith"', "'x'", '"a\\"b"', "\\", '\\"',
  "0.01", "1e-3", "-2", ".5", "1e", "nan", "inf", "-Infinity", "true", "false", "null",
  "running", "resnet-50", "2026-01-01", "constructor", "__proto__",
];
const CHARS = " \t\n()`'\"\\=!<>~.-_:,/a1é😀\u0000";

const ROW: QueryRow = {
  status: "running",
  "params.lr": 0.01,
  "metrics.loss": NaN,
  created: "2026-02-01T00:00:00.000Z",
  x: true,
  "params.learning rate": 3,
};

const pick = <T>(next: () => number, items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
const FIELDS = ["status", "params.lr", "metrics.loss", "`params.learning rate`", "created", "x", "nope", "toString"];
const OPS = ["=", "==", "!=", "<", "<=", ">", ">=", "~"];
const VALUES = ["0.01", "1e-3", "-2", "nan", "-inf", "true", "false", "null", "running", "resnet-50", "2026-01-01", '"ana smith"', "'it\\'s'", '""'];

/** A valid filter from the grammar. */
function grammarFilter(next: () => number, depth = 0): string {
  const r = next();
  if (depth > 3 || r < 0.4) return `${pick(next, FIELDS)} ${pick(next, OPS)} ${pick(next, VALUES)}`;
  if (r < 0.6) return `${grammarFilter(next, depth + 1)} and ${grammarFilter(next, depth + 1)}`;
  if (r < 0.8) return `${grammarFilter(next, depth + 1)} or ${grammarFilter(next, depth + 1)}`;
  if (r < 0.9) return `not ${grammarFilter(next, depth + 1)}`;
  return `(${grammarFilter(next, depth + 1)})`;
}

/** A grammar filter, sometimes with a character deleted or a token or character inserted. */
function mutatedFilter(next: () => number): string {
  let text = grammarFilter(next);
  const edits = Math.floor(next() * 3);
  for (let i = 0; i < edits; i += 1) {
    const at = Math.floor(next() * (text.length + 1));
    const r = next();
    if (r < 0.4) text = text.slice(0, at) + text.slice(at + 1);
    else if (r < 0.7) text = text.slice(0, at) + pick(next, TOKENS) + text.slice(at);
    else text = text.slice(0, at) + pick(next, [...CHARS]) + text.slice(at);
  }
  return text;
}

/** Random tokens and characters. */
function randomFilter(next: () => number): string {
  const parts: string[] = [];
  const count = Math.floor(next() * 12);
  for (let i = 0; i < count; i += 1) {
    if (next() < 0.8) parts.push(TOKENS[Math.floor(next() * TOKENS.length)] as string);
    else parts.push(CHARS[Math.floor(next() * CHARS.length)] as string);
    if (next() < 0.7) parts.push(" ");
  }
  return parts.join("");
}

describe("fuzz", () => {
  it("parseFilter returns or throws a CairnError on 2,000 random inputs", () => {
    const next = random(20260301);
    let parsed = 0;
    for (let i = 0; i < 2_000; i += 1) {
      const text = next() < 0.5 ? mutatedFilter(next) : randomFilter(next);
      try {
        const expression = parseFilter(text);
        parsed += 1;
        expect(typeof matchesFilter(expression, ROW)).toBe("boolean");
        expect(typeof matchesFilter(expression, {})).toBe("boolean");
        expect(filterFields(expression).length).toBeGreaterThan(0);
        try {
          checkFilterFields(expression, Object.keys(ROW));
        } catch (error) {
          if (!(error instanceof CairnError) || error.code !== "INVALID_FILTER") throw new Error(`checkFilterFields(${JSON.stringify(text)}) threw ${String(error)}`);
        }
      } catch (error) {
        if (!(error instanceof CairnError) || error.code !== "INVALID_FILTER") {
          throw new Error(`parseFilter(${JSON.stringify(text)}) threw ${String(error)}`);
        }
        const position = error.details.position as number;
        expect(position).toBeGreaterThanOrEqual(0);
        expect(position).toBeLessThanOrEqual(text.length);
      }
    }
    // The generator should exercise both outcomes.
    expect(parsed).toBeGreaterThan(200);
    expect(parsed).toBeLessThan(2_000);
  });

  it("parses every filter the grammar generates", () => {
    const next = random(42);
    for (let i = 0; i < 500; i += 1) {
      const text = grammarFilter(next);
      expect(() => parseFilter(text), text).not.toThrow();
    }
  });

  it("parseSort returns or throws a CairnError on random inputs", () => {
    const next = random(7);
    for (let i = 0; i < 500; i += 1) {
      const text = randomFilter(next) + (next() < 0.5 ? ":" + (next() < 0.5 ? "asc" : "desc") : "");
      try {
        const spec = parseSort(text);
        expect(["asc", "desc"]).toContain(spec.direction);
      } catch (error) {
        if (!(error instanceof CairnError) || error.code !== "INVALID_FILTER") throw new Error(`parseSort(${JSON.stringify(text)}) threw ${String(error)}`);
      }
    }
  });
});

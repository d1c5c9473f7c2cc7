import { describe, expect, it } from "vitest";
import { CairnError } from "../../src/errors.js";
import { compareRows, parseSort, type QueryRow, type SortSpec } from "../../src/query/index.js";

function sortError(spec: string): CairnError {
  try {
    parseSort(spec);
  } catch (error) {
    expect(error).toBeInstanceOf(CairnError);
    expect((error as CairnError).code).toBe("INVALID_FILTER");
    return error as CairnError;
  }
  throw new Error(`expected ${JSON.stringify(spec)} to fail`);
}

describe("parseSort", () => {
  it("reads a field and a direction", () => {
    expect(parseSort("metrics.loss:asc")).toEqual({ field: "metrics.loss", direction: "asc" });
    expect(parseSort("metrics.loss:desc")).toEqual({ field: "metrics.loss", direction: "desc" });
    expect(parseSort("metrics.loss:DESC")).toEqual({ field: "metrics.loss", direction: "desc" });
    expect(parseSort("  step : desc  ")).toEqual({ field: "step", direction: "desc" });
    expect(parseSort("`params.learning rate`:desc")).toEqual({ field: "params.learning rate", direction: "desc" });
  });

  it("defaults to desc for created, asc otherwise", () => {
    expect(parseSort("created")).toEqual({ field: "created", direction: "desc" });
    expect(parseSort("created:asc")).toEqual({ field: "created", direction: "asc" });
    expect(parseSort("metrics.loss")).toEqual({ field: "metrics.loss", direction: "asc" });
    expect(parseSort("`x y`")).toEqual({ field: "x y", direction: "asc" });
  });

  it.each([
    ["created:up", 8, 'expected "asc" or "desc" after ":", found "up"'],
    ["created:", 7, 'expected "asc" or "desc" after ":"'],
    ["created:ascending", 8, 'found "ascending"'],
    ["", 0, "expected a field name"],
    [":asc", 0, "expected a field name"],
    ["created desc", 8, 'expected ":" after the field'],
    ["params.a/b", 8, 'unexpected "/"'],
    ["`x", 0, "unterminated field name"],
    ["``", 0, "empty field name"],
  ])("%j fails at %i", (spec, position, fragment) => {
    const e = sortError(spec);
    expect(e.message).toContain(`Invalid sort ${JSON.stringify(spec)}`);
    expect(e.message).toContain(fragment);
    expect(e.message).toContain(`at column ${position + 1}`);
    expect(e.details.position).toBe(position);
    expect(e.message.split("\n")[2]).toBe(`  ${" ".repeat(position)}^`);
  });
});

const ids = (rows: QueryRow[], spec: SortSpec): unknown[] => [...rows].sort((a, b) => compareRows(a, b, spec)).map((r) => r.id);

describe("compareRows", () => {
  const rows: QueryRow[] = [
    { id: "a", loss: 0.5 },
    { id: "b", loss: NaN },
    { id: "c", loss: -Infinity },
    { id: "d" },
    { id: "e", loss: 0.1 },
    { id: "f", loss: null },
    { id: "g", loss: Infinity },
    { id: "h", loss: 2 },
  ];

  it("sorts numbers numerically with NaN and missing last, ascending", () => {
    const sorted = ids(rows, { field: "loss", direction: "asc" });
    expect(sorted.slice(0, 5)).toEqual(["c", "e", "a", "h", "g"]);
    expect(sorted.slice(5).sort()).toEqual(["b", "d", "f"]);
  });

  it("keeps NaN and missing last when descending", () => {
    const sorted = ids(rows, { field: "loss", direction: "desc" });
    expect(sorted.slice(0, 5)).toEqual(["g", "h", "a", "e", "c"]);
    expect(sorted.slice(5).sort()).toEqual(["b", "d", "f"]);
  });

  it("treats NaN, null and missing as equal to each other", () => {
    const spec: SortSpec = { field: "loss", direction: "asc" };
    expect(compareRows({ loss: NaN }, {}, spec)).toBe(0);
    expect(compareRows({ loss: null }, { loss: NaN }, spec)).toBe(0);
    expect(compareRows({ loss: 1 }, { loss: 1 }, { field: "loss", direction: "desc" })).toBe(0);
    expect(compareRows({ loss: 1 }, {}, { field: "loss", direction: "desc" })).toBeLessThan(0);
    expect(compareRows({}, { loss: 1 }, { field: "loss", direction: "desc" })).toBeGreaterThan(0);
  });

  it("sorts strings with numeric collation", () => {
    const named: QueryRow[] = [{ id: "run-10" }, { id: "run-9" }, { id: "Run-1" }, { id: "run-100" }];
    expect(ids(named, { field: "id", direction: "asc" })).toEqual(["Run-1", "run-9", "run-10", "run-100"]);
    expect(ids(named, { field: "id", direction: "desc" })).toEqual(["run-100", "run-10", "run-9", "Run-1"]);
  });

  it("sorts ISO dates chronologically, newest first by default", () => {
    const dated: QueryRow[] = [
      { id: "x", created: "2026-01-02T00:00:00.000Z" },
      { id: "y", created: "2026-03-01T00:00:00.000Z" },
      { id: "z", created: "2025-12-31T23:59:59.000Z" },
    ];
    expect(ids(dated, parseSort("created"))).toEqual(["y", "x", "z"]);
  });

  it("sorts booleans false first and mixed types numbers, strings, booleans", () => {
    const mixed: QueryRow[] = [{ id: "t", v: true }, { id: "s", v: "auto" }, { id: "n", v: 3 }, { id: "f", v: false }, { id: "m" }];
    expect(ids(mixed, { field: "v", direction: "asc" })).toEqual(["n", "s", "f", "t", "m"]);
    expect(ids(mixed, { field: "v", direction: "desc" })).toEqual(["t", "f", "s", "n", "m"]);
  });

  it("does not read inherited properties", () => {
    expect(compareRows({ constructor: 1 }, {}, { field: "constructor", direction: "asc" })).toBeLessThan(0);
  });
});

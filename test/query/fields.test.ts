import { describe, expect, it } from "vitest";
import { CairnError } from "../../src/errors.js";
import { checkFilterFields, closestFields, parseFilter, type FilterExpression } from "../../src/query/index.js";
import { editDistance } from "../../src/query/fields.js";

const FIXED = ["id", "status", "user", "host", "created", "step", "checkpoints"];

function fieldError(expression: FilterExpression, available: Iterable<string>): CairnError {
  try {
    checkFilterFields(expression, available);
  } catch (error) {
    expect(error).toBeInstanceOf(CairnError);
    expect((error as CairnError).code).toBe("INVALID_FILTER");
    return error as CairnError;
  }
  throw new Error("expected an unknown-field error");
}

describe("checkFilterFields", () => {
  it("accepts known fields", () => {
    expect(() => checkFilterFields(parseFilter("status = running and params.lr < 1"), [...FIXED, "params.lr"])).not.toThrow();
    expect(() => checkFilterFields(parseFilter("status = running"), new Set(FIXED))).not.toThrow();
  });

  it("names the unknown field, suggests the closest and lists the fields, sorted", () => {
    const e = fieldError(parseFilter("status = running and params.lrr < 3"), [...FIXED, "params.lr", "metrics.loss"]);
    const lines = e.message.split("\n");
    expect(lines[0]).toBe('Invalid filter "status = running and params.lrr < 3": unknown field "params.lrr" at column 22; did you mean params.lr?');
    expect(lines[2]).toBe(`  ${" ".repeat(21)}^`);
    expect(lines[3]).toBe("Fields: checkpoints, created, host, id, metrics.loss, params.lr, status, step, user");
    expect(e.details).toMatchObject({
      field: "params.lrr",
      unknown: ["params.lrr"],
      suggestion: "params.lr",
      position: 21,
      available: ["checkpoints", "created", "host", "id", "metrics.loss", "params.lr", "status", "step", "user"],
    });
  });

  it("suggests metrics.loss for loss", () => {
    const e = fieldError(parseFilter("loss < 1"), [...FIXED, "metrics.loss", "metrics.accuracy"]);
    expect(e.details.suggestion).toBe("metrics.loss");
    expect(e.message).toContain("did you mean metrics.loss?");
  });

  it("makes no suggestion when nothing is close", () => {
    const e = fieldError(parseFilter("zzzzzzzz = 1"), FIXED);
    expect(e.details.suggestion).toBeUndefined();
    expect(e.message).not.toContain("did you mean");
    expect(e.message).toContain("Fields: checkpoints, created, host, id, status, step, user");
  });

  it("lists the closest fields first when there are many", () => {
    const many = [...FIXED, ...Array.from({ length: 40 }, (_, i) => `params.p${i}`), "metrics.loss", "metrics.losses"];
    const e = fieldError(parseFilter("metrics.los > 1"), many);
    const footer = e.message.split("\n")[3] ?? "";
    expect(footer.startsWith("Fields: metrics.loss, metrics.losses,")).toBe(true);
    expect(footer).toMatch(/and 39 more$/);
    expect((e.details.available as string[]).length).toBe(49);
  });

  it("reports every unknown field in details", () => {
    const e = fieldError(parseFilter("a = 1 or b = 2 or status = x"), FIXED);
    expect(e.details.unknown).toEqual(["a", "b"]);
    expect(e.details.field).toBe("a");
  });

  it("works for a hand-built expression without source", () => {
    const e = fieldError({ kind: "compare", field: "stauts", op: "=", value: "x" }, FIXED);
    expect(e.message).toContain('unknown field "stauts"; did you mean status?');
  });

  it("says when there are no fields at all", () => {
    expect(fieldError(parseFilter("a = 1"), []).message).toContain("no fields");
  });
});

describe("closestFields and editDistance", () => {
  it("orders by distance then name", () => {
    expect(closestFields("params.lrr", ["id", "params.lr", "params.layers"])).toEqual(["params.lr", "params.layers", "id"]);
  });

  it("computes Levenshtein distance", () => {
    expect(editDistance("kitten", "sitting")).toBe(3);
    expect(editDistance("", "abc")).toBe(3);
    expect(editDistance("abc", "abc")).toBe(0);
  });
});

import { describe, expect, it } from "vitest";
import { CairnError } from "../../src/errors.js";
import { filterFields, parseFilter, parseFilters, type FilterExpression } from "../../src/query/index.js";

/** The expression without source/position, for readable comparisons. */
function shape(e: FilterExpression): unknown {
  switch (e.kind) {
    case "compare":
      return [e.field, e.op, e.value];
    case "not":
      return { not: shape(e.operand) };
    default:
      return { [e.kind]: e.operands.map(shape) };
  }
}

const p = (text: string): unknown => shape(parseFilter(text));

function parseError(text: string): CairnError {
  try {
    parseFilter(text);
  } catch (error) {
    expect(error).toBeInstanceOf(CairnError);
    expect((error as CairnError).code).toBe("INVALID_FILTER");
    return error as CairnError;
  }
  throw new Error(`expected ${JSON.stringify(text)} to fail`);
}

describe("parseFilter: comparisons", () => {
  it.each([
    ["=", "="],
    ["==", "="],
    ["!=", "!="],
    ["<", "<"],
    ["<=", "<="],
    [">", ">"],
    [">=", ">="],
    ["~", "~"],
  ])("operator %s", (op, normalised) => {
    expect(p(`params.lr ${op} 0.01`)).toEqual(["params.lr", normalised, 0.01]);
    expect(p(`params.lr${op}0.01`)).toEqual(["params.lr", normalised, 0.01]);
  });

  it("reads numbers", () => {
    expect(p("a = 1e-3")).toEqual(["a", "=", 0.001]);
    expect(p("a = -2")).toEqual(["a", "=", -2]);
    expect(p("a=-2")).toEqual(["a", "=", -2]);
    expect(p("a = .5")).toEqual(["a", "=", 0.5]);
    expect(p("a = +3")).toEqual(["a", "=", 3]);
    expect(p("a = 1E+3")).toEqual(["a", "=", 1000]);
    expect(p("a = nan")).toEqual(["a", "=", NaN]);
    expect(p("a = Infinity")).toEqual(["a", "=", Infinity]);
    expect(p("a = -inf")).toEqual(["a", "=", -Infinity]);
  });

  it("does not read non-decimal text as numbers", () => {
    expect(p("a = 0x10")).toEqual(["a", "=", "0x10"]);
    expect(p("a = 1_000")).toEqual(["a", "=", "1_000"]);
    expect(p("id = e510303")).toEqual(["id", "=", "e510303"]);
  });

  it("reads keywords, case-insensitively", () => {
    expect(p("a = true")).toEqual(["a", "=", true]);
    expect(p("a = FALSE")).toEqual(["a", "=", false]);
    expect(p("a = Null")).toEqual(["a", "=", null]);
  });

  it("reads bare words", () => {
    expect(p("status = running")).toEqual(["status", "=", "running"]);
    expect(p("params.model = resnet-50")).toEqual(["params.model", "=", "resnet-50"]);
    expect(p("created > 2026-01-01")).toEqual(["created", ">", "2026-01-01"]);
    expect(p("created > 2026-01-01T10:00:00Z")).toEqual(["created", ">", "2026-01-01T10:00:00Z"]);
    expect(p("user = o'brien")).toEqual(["user", "=", "o'brien"]);
  });

  it("reads quoted strings with escapes", () => {
    expect(p('user = "ana smith"')).toEqual(["user", "=", "ana smith"]);
    expect(p("user = 'ana smith'")).toEqual(["user", "=", "ana smith"]);
    expect(p(String.raw`a = "say \"hi\""`)).toEqual(["a", "=", 'say "hi"']);
    expect(p(String.raw`a = 'it\'s'`)).toEqual(["a", "=", "it's"]);
    expect(p(String.raw`a = "back\\slash"`)).toEqual(["a", "=", "back\\slash"]);
    expect(p(String.raw`a = "a\nb\tc"`)).toEqual(["a", "=", "a\nb\tc"]);
    expect(p('a = ""')).toEqual(["a", "=", ""]);
    // Quoting keeps a value a string, and allows keywords as values.
    expect(p('a = "1"')).toEqual(["a", "=", "1"]);
    expect(p('a = "true"')).toEqual(["a", "=", "true"]);
    expect(p('a = "and"')).toEqual(["a", "=", "and"]);
    expect(p('a = "x (y) = z"')).toEqual(["a", "=", "x (y) = z"]);
  });

  it("reads field names, plain and in backticks", () => {
    expect(p("params.model.layers >= 3")).toEqual(["params.model.layers", ">=", 3]);
    expect(p("my_field-2 = x")).toEqual(["my_field-2", "=", "x"]);
    expect(p("params.taux_d_apprentissage = 1")).toEqual(["params.taux_d_apprentissage", "=", 1]);
    expect(p("params.größe = 1")).toEqual(["params.größe", "=", 1]);
    expect(p("`params.learning rate` < 3")).toEqual(["params.learning rate", "<", 3]);
    expect(p("`and` = 1")).toEqual(["and", "=", 1]);
    expect(p("`a\\`b` = 1")).toEqual(["a`b", "=", 1]);
  });

  it("records the text and position of each comparison", () => {
    const e = parseFilter("status = running and  id ~ 0303");
    expect(e.kind).toBe("and");
    if (e.kind !== "and") return;
    expect(e.operands[0]).toMatchObject({ field: "status", position: 0, text: "running" });
    expect(e.operands[1]).toMatchObject({ field: "id", op: "~", value: 303, text: "0303", position: 22 });
  });
});

describe("parseFilter: and, or, not, parentheses", () => {
  it("and binds tighter than or", () => {
    expect(p("a = 1 or b = 2 and c = 3")).toEqual({ or: [["a", "=", 1], { and: [["b", "=", 2], ["c", "=", 3]] }] });
    expect(p("a = 1 and b = 2 or c = 3")).toEqual({ or: [{ and: [["a", "=", 1], ["b", "=", 2]] }, ["c", "=", 3]] });
  });

  it("parentheses override precedence", () => {
    expect(p("(a = 1 or b = 2) and c = 3")).toEqual({ and: [{ or: [["a", "=", 1], ["b", "=", 2]] }, ["c", "=", 3]] });
    expect(p("((a = 1))")).toEqual(["a", "=", 1]);
    expect(p("(a=1)and(b=2)")).toEqual({ and: [["a", "=", 1], ["b", "=", 2]] });
  });

  it("chains flatten into one node", () => {
    expect(p("a = 1 or b = 2 or c = 3")).toEqual({ or: [["a", "=", 1], ["b", "=", 2], ["c", "=", 3]] });
  });

  it("not binds tightest", () => {
    expect(p("not a = 1 and b = 2")).toEqual({ and: [{ not: ["a", "=", 1] }, ["b", "=", 2]] });
    expect(p("not (a = 1 or b = 2)")).toEqual({ not: { or: [["a", "=", 1], ["b", "=", 2]] } });
    expect(p("not not a = 1")).toEqual({ not: { not: ["a", "=", 1] } });
  });

  it("keywords are case-insensitive", () => {
    expect(p("a = 1 AND b = 2 Or NOT c = 3")).toEqual({ or: [{ and: [["a", "=", 1], ["b", "=", 2]] }, { not: ["c", "=", 3] }] });
  });

  it("allows any whitespace", () => {
    expect(p("\n\ta = 1\n  and\tb = 2  ")).toEqual({ and: [["a", "=", 1], ["b", "=", 2]] });
  });
});

describe("parseFilter: errors", () => {
  it("matches the documented message", () => {
    const e = parseError("params.lr <");
    expect(e.message.split("\n")).toEqual([
      'Invalid filter "params.lr <": expected a value after "<" at column 11',
      "  params.lr <",
      "            ^",
    ]);
    expect(e.details).toMatchObject({ position: 10, column: 11, filter: "params.lr <", expected: "value" });
  });

  it.each([
    // [filter, position, text in the message]
    ["(a = 1", 0, 'expected ")" to close this "("'],
    ["(a = 1 or (b = 2)", 0, 'expected ")"'],
    ["a = 1)", 5, 'unexpected ")"'],
    ["a = 1 and", 6, 'expected a comparison after "and"'],
    ["a = 1 or", 6, 'expected a comparison after "or"'],
    ["and a = 1", 0, 'expected a comparison, found "and"'],
    ["a = 1 and or b = 2", 10, 'expected a comparison after "and", found "or"'],
    ["a =< 1", 2, 'unknown operator "=<"'],
    ["a => 1", 2, 'did you mean ">="?'],
    ["a <> 1", 2, 'did you mean "!="?'],
    ["a ! 1", 2, 'unknown operator "!"'],
    ["a === 1", 2, 'unknown operator "==="'],
    ['a = "x', 4, "unterminated string"],
    ["a = 'x", 4, "expected a closing '"],
    ['a = "x\\"', 4, "unterminated string"],
    ["`a = 1", 0, "unterminated field name"],
    ["`` = 1", 0, "empty field name"],
    ["", 0, "expected a comparison"],
    ["   ", 0, "expected a comparison"],
    ["a", 0, 'expected an operator (=, ==, !=, <, <=, >, >=, ~) after "a"'],
    ["a b", 2, 'expected an operator (=, ==, !=, <, <=, >, >=, ~) after "a", found "b"'],
    ["a =", 2, 'expected a value after "="'],
    ["a = )", 4, 'expected a value after "=", found ")"'],
    ["a = and b = 1", 4, 'quote it: "and"'],
    ["a = = 1", 4, 'expected a value after "=", found "="'],
    ["a = `x`", 4, "expected a value"],
    ["a = 1 b = 2", 6, 'join comparisons with "and" or "or"'],
    ["user = ana smith", 11, "put values that contain spaces in quotes"],
    ["a = 1 && b = 2", 6, 'write "and"'],
    ["a = 1 || b = 2", 6, 'write "or"'],
    ["(a = 1 b = 2)", 7, 'expected "and", "or" or ")" after "1", found "b"'],
    ["()", 1, 'expected a comparison after "(", found ")"'],
    ["not", 0, 'expected a comparison after "not"'],
    ["= 1", 0, 'expected a comparison, found "="'],
    ["params.a/b = 1", 8, 'unexpected "/" in field name "params.a/b"'],
    ["params.a,b = 1", 8, "put other names in backticks"],
    ["a = 1 and (b = 2", 10, 'expected ")"'],
  ])("%j fails at %i", (text, position, fragment) => {
    const e = parseError(text);
    expect(e.message).toContain(fragment);
    expect(e.details.position).toBe(position);
    expect(e.message).toContain(`at column ${position + 1}`);
    expect(e.message).toContain(`Invalid filter ${JSON.stringify(text)}`);
    // The caret line points at the column.
    const lines = e.message.split("\n");
    expect(lines[2]).toBe(`  ${" ".repeat(position)}^`);
  });

  it("keeps the caret aligned when the filter has tabs or newlines", () => {
    const e = parseError("a = 1\nand\t(");
    expect(e.message.split("\n").slice(1, 3)).toEqual(["  a = 1 and (", "            ^"]);
  });

  it("refuses nesting deep enough to overflow the stack", () => {
    expect(parseError("(".repeat(100_000) + "a = 1" + ")".repeat(100_000)).message).toContain("nested too deeply");
    expect(parseError("not ".repeat(100_000) + "a = 1").message).toContain("nested too deeply");
    expect(p("(".repeat(60) + "a = 1" + ")".repeat(60))).toEqual(["a", "=", 1]);
  });

  it("handles long flat chains without recursion", () => {
    const text = Array.from({ length: 20_000 }, (_, i) => `a = ${i}`).join(" or ");
    const e = parseFilter(text);
    expect(e.kind === "or" && e.operands.length).toBe(20_000);
  });

  it("refuses a non-string", () => {
    expect(() => parseFilter(undefined as unknown as string)).toThrow(CairnError);
  });
});

describe("parseFilters", () => {
  it("combines several filters with and", () => {
    const e = parseFilters(["status = running", "a = 1 and b = 2", "c = 3 or d = 4"]);
    expect(e && shape(e)).toEqual({
      and: [["status", "=", "running"], ["a", "=", 1], ["b", "=", 2], { or: [["c", "=", 3], ["d", "=", 4]] }],
    });
  });

  it("returns one filter as is and none as null", () => {
    expect(shape(parseFilters(["a = 1"]) as FilterExpression)).toEqual(["a", "=", 1]);
    expect(parseFilters([])).toBeNull();
    expect(parseFilters(["", "  "])).toBeNull();
  });

  it("says which filter failed", () => {
    try {
      parseFilters(["a = 1", "b <"]);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(CairnError);
      expect((error as CairnError).details).toMatchObject({ index: 1, position: 2, filter: "b <" });
    }
  });
});

describe("filterFields", () => {
  it("lists each field once, in order", () => {
    expect(filterFields(parseFilter("params.lr < 1 or (status = running and not params.lr > 0) or `x y` = 1"))).toEqual([
      "params.lr",
      "status",
      "x y",
    ]);
  });
});

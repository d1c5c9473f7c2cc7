import { describe, expect, it } from "vitest";
import { matchesFilter, parseFilter, parseFilters, type QueryRow } from "../../src/query/index.js";

const row: QueryRow = {
  id: "e510303",
  status: "running",
  user: "Ana Smith",
  host: "gpu-1",
  created: "2026-03-01T10:00:00.000Z",
  "params.lr": 0.01,
  "params.model": "resnet-50",
  "params.layers": "[64,64]",
  "params.layers.0": 64,
  "params.n": "10",
  "params.flag": true,
  "params.seed": null,
  "metrics.loss": 0.25,
  "metrics.nan": NaN,
  "metrics.inf": Infinity,
  "metrics.ninf": -Infinity,
  step: 100,
  checkpoints: 3,
};

const m = (text: string, r: QueryRow = row): boolean => matchesFilter(parseFilter(text), r);

describe("numbers", () => {
  it.each([
    ["params.lr = 0.01", true],
    ["params.lr == 1e-2", true],
    ["params.lr != 0.01", false],
    ["params.lr < 0.1", true],
    ["params.lr <= 0.01", true],
    ["params.lr > 0.01", false],
    ["params.lr >= 0.01", true],
    ["step > 99", true],
    ["step < -2", false],
    ["step = 100.0", true],
  ])("%s → %s", (text, expected) => expect(m(text)).toBe(expected));

  it("compares a numeric string and a number as numbers, either way round", () => {
    expect(m("params.n > 9")).toBe(true); // "10" vs 9: numerically
    expect(m('params.n > "9"')).toBe(false); // quoted: text, "10" < "9"
    expect(m('params.lr = "0.010"')).toBe(true);
    expect(m('params.lr < "1e-1"')).toBe(true);
    expect(m("id = 303", { id: "0303" })).toBe(true);
  });

  it("compares a number and a non-numeric string as text", () => {
    expect(m("created > 2026")).toBe(true);
    expect(m("created < 2027")).toBe(true);
    expect(m("created = 2026")).toBe(false);
    expect(m("id != 303")).toBe(true);
  });

  it("treats ±Infinity as ordinary numbers", () => {
    expect(m("metrics.inf > 1e308")).toBe(true);
    expect(m("metrics.inf = inf")).toBe(true);
    expect(m("metrics.inf = Infinity")).toBe(true);
    expect(m("metrics.ninf < -1e308")).toBe(true);
    expect(m("metrics.ninf = -inf")).toBe(true);
    expect(m("metrics.inf != inf")).toBe(false);
    expect(m("metrics.inf >= inf")).toBe(true);
    expect(m("metrics.loss < inf")).toBe(true);
  });
});

describe("NaN: false with everything except = NaN and !=", () => {
  it.each([
    ["metrics.nan = nan", true],
    ["metrics.nan = NaN", true],
    ["metrics.nan != nan", false],
    ["metrics.nan != 1", true],
    ["metrics.nan != abc", true],
    ["metrics.nan = 1", false],
    ["metrics.nan < 1", false],
    ["metrics.nan > 1", false],
    ["metrics.nan <= nan", false],
    ["metrics.nan >= nan", false],
    ["metrics.nan < inf", false],
    ["metrics.nan > -inf", false],
    ["metrics.nan < zzz", false],
    ["metrics.nan ~ nan", false],
    ["metrics.nan ~ a", false],
    ["metrics.nan = null", false],
    ["metrics.nan != null", true],
    ["metrics.loss = nan", false],
    ["metrics.loss != nan", true],
    ["metrics.loss < nan", false],
    ["metrics.loss > nan", false],
    ["not metrics.nan < 1", true],
  ])("%s → %s", (text, expected) => expect(m(text)).toBe(expected));

  it("reads numeric strings that spell NaN as NaN", () => {
    expect(m("x = nan", { x: "NaN" })).toBe(true);
    expect(m("x < 1", { x: "nan" })).toBe(false);
    expect(m('x = "nan"', { x: NaN })).toBe(true);
  });

  it("matches the word nan in a text field with ~", () => {
    expect(m("user ~ nan", { user: "Banana" })).toBe(true);
  });
});

describe("missing and null: false except != x and = null", () => {
  it.each([
    ["nope = 1", false],
    ["nope != 1", true],
    ["nope != abc", true],
    ["nope < 1", false],
    ["nope > 1", false],
    ["nope <= 1", false],
    ["nope >= 1", false],
    ["nope ~ a", false],
    ["nope = null", true],
    ["nope != null", false],
    ["nope = nan", false],
    ["nope != nan", true],
    ["params.seed = null", true],
    ["params.seed != null", false],
    ["params.seed = 1", false],
    ["params.seed != 1", true],
    ["params.seed < 1", false],
    ["params.lr = null", false],
    ["params.lr != null", true],
    ["params.lr < null", false],
    ["params.lr ~ null", false],
    ["status = NULL", false],
  ])("%s → %s", (text, expected) => expect(m(text)).toBe(expected));

  it("does not read inherited properties", () => {
    expect(m("constructor = null", {})).toBe(true);
    expect(m("toString != null", {})).toBe(false);
    expect(m("__proto__ = null", {})).toBe(true);
  });

  it("treats values that are not query values as missing", () => {
    expect(m("x = null", { x: undefined } as unknown as QueryRow)).toBe(true);
    expect(m("x != 1", { x: { a: 1 } } as unknown as QueryRow)).toBe(true);
  });
});

describe("strings", () => {
  it("= and != are exact and case-sensitive", () => {
    expect(m("status = running")).toBe(true);
    expect(m("status = Running")).toBe(false);
    expect(m("status != stopped")).toBe(true);
    expect(m('user = "Ana Smith"')).toBe(true);
    expect(m("user = 'ana smith'")).toBe(false);
    expect(m("params.model = resnet-50")).toBe(true);
  });

  it("< and > are lexicographic", () => {
    expect(m("host > gpu-0")).toBe(true);
    expect(m("host < gpu-2")).toBe(true);
    expect(m("host >= gpu-1")).toBe(true);
    expect(m("host <= gpu-0")).toBe(false);
    expect(m("x < b", { x: "B" })).toBe(true); // code units: "B" < "b"
  });

  it("ISO dates compare as strings", () => {
    expect(m("created > 2026-01-01")).toBe(true);
    expect(m("created < 2026-03-01T09:59")).toBe(false);
    expect(m("created >= 2026-03-01")).toBe(true);
    expect(m("created < 2026-03-02")).toBe(true);
    expect(m('created > "2026-03-01T10:00:00"')).toBe(true);
  });
});

describe("~ contains, case-insensitive", () => {
  it.each([
    ["user ~ ana", true],
    ["user ~ SMITH", true],
    ['user ~ "a s"', true],
    ["user ~ bob", false],
    ["params.model ~ net", true],
    ["id ~ 0303", true], // a numeric literal is matched as written
    ["id ~ 303", true],
    ["step ~ 10", true], // the text of a number
    ["params.lr ~ 0.0", true],
    ["params.flag ~ tru", true],
    ["params.layers ~ 64", true],
    ['status ~ ""', true],
  ])("%s → %s", (text, expected) => expect(m(text)).toBe(expected));
});

describe("booleans", () => {
  it.each([
    ["params.flag = true", true],
    ["params.flag = TRUE", true],
    ["params.flag = false", false],
    ["params.flag != false", true],
    ['params.flag = "true"', true],
    ["params.flag = 1", false],
    ["params.flag != 1", true],
    ["params.flag > false", false],
    ["params.flag < true", false],
    ["params.flag = yes", false],
  ])("%s → %s", (text, expected) => expect(m(text)).toBe(expected));

  it("compares the strings true/false in a row with boolean literals", () => {
    expect(m("x = true", { x: "True" })).toBe(true);
    expect(m("x = false", { x: "true" })).toBe(false);
    expect(m("x = true", { x: "yes" })).toBe(false);
  });
});

describe("and, or, not", () => {
  it("evaluates with the right precedence", () => {
    const r = { a: 1, b: 0, c: 0 };
    expect(m("a = 1 or b = 2 and c = 3", r)).toBe(true); // a=1 or (b=2 and c=3)
    expect(m("(a = 1 or b = 2) and c = 3", r)).toBe(false);
    expect(m("not a = 1 or b = 0", r)).toBe(true);
    expect(m("not (a = 1 or b = 0)", r)).toBe(false);
    expect(m("a = 1 and not b = 1 and c = 0", r)).toBe(true);
  });

  it("combines several filters with and", () => {
    const e = parseFilters(["status = running", "metrics.loss < 0.5"]);
    expect(e && matchesFilter(e, row)).toBe(true);
    const f = parseFilters(["status = running", "metrics.loss > 0.5"]);
    expect(f && matchesFilter(f, row)).toBe(false);
  });

  it("filters with backticked fields", () => {
    expect(m("`params.learning rate` < 3", { "params.learning rate": 1 })).toBe(true);
  });

  it("evaluates long chains", () => {
    const text = Array.from({ length: 20_000 }, (_, i) => `a = ${i}`).join(" or ");
    expect(m(text, { a: 19_999 })).toBe(true);
    expect(m(text, { a: -1 })).toBe(false);
  });
});

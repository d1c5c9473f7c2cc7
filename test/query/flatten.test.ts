import { describe, expect, it } from "vitest";
import { flattenParams, matchesFilter, parseFilter } from "../../src/query/index.js";

describe("flattenParams", () => {
  it("flattens nested objects into dotted keys", () => {
    expect(flattenParams({ lr: 0.01, model: { name: "resnet", depth: { blocks: 4 } }, debug: false })).toEqual({
      "params.lr": 0.01,
      "params.model.name": "resnet",
      "params.model.depth.blocks": 4,
      "params.debug": false,
    });
  });

  it("keeps an array as JSON and its elements", () => {
    expect(flattenParams({ layers: [64, 64] })).toEqual({
      "params.layers": "[64,64]",
      "params.layers.0": 64,
      "params.layers.1": 64,
    });
  });

  it("flattens objects and arrays inside arrays", () => {
    expect(flattenParams({ stages: [{ width: 32 }, [1, "a"]], none: [] })).toEqual({
      "params.stages": '[{"width":32},[1,"a"]]',
      "params.stages.0.width": 32,
      "params.stages.1": '[1,"a"]',
      "params.stages.1.0": 1,
      "params.stages.1.1": "a",
      "params.none": "[]",
    });
  });

  it("keeps null and non-finite numbers", () => {
    const flat = flattenParams({ seed: null, a: NaN, b: Infinity });
    expect(flat["params.seed"]).toBeNull();
    expect(flat["params.a"]).toBeNaN();
    expect(flat["params.b"]).toBe(Infinity);
  });

  it("uses another prefix, or none", () => {
    expect(flattenParams({ loss: 1, acc: { top1: 0.9 } }, "metrics")).toEqual({ "metrics.loss": 1, "metrics.acc.top1": 0.9 });
    expect(flattenParams({ a: { b: 1 } }, "")).toEqual({ "a.b": 1 });
  });

  it("handles odd values", () => {
    expect(flattenParams(null)).toEqual({ params: null });
    expect(flattenParams(undefined)).toEqual({});
    expect(flattenParams({})).toEqual({});
    expect(flattenParams({ empty: {}, u: undefined, f: () => 1, big: 10n, when: new Date("2026-01-01T00:00:00Z") })).toEqual({
      "params.big": "10",
      "params.when": "2026-01-01T00:00:00.000Z",
    });
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    cyclic.list = [cyclic];
    expect(flattenParams(cyclic)).toEqual({ "params.a": 1, "params.list": expect.stringContaining("[Circular]") });
    const shared = { x: 1 };
    expect(flattenParams({ p: shared, q: [shared, shared] })).toEqual({
      "params.p.x": 1,
      "params.q": '[{"x":1},{"x":1}]',
      "params.q.0.x": 1,
      "params.q.1.x": 1,
    });
  });

  it("makes array elements filterable", () => {
    const row = { id: "e1", ...flattenParams({ layers: [64, 128], model: { name: "resnet-50" } }) };
    expect(matchesFilter(parseFilter("params.layers.1 >= 128"), row)).toBe(true);
    expect(matchesFilter(parseFilter("params.layers ~ 128"), row)).toBe(true);
    expect(matchesFilter(parseFilter('params.layers = "[64,128]"'), row)).toBe(true);
    expect(matchesFilter(parseFilter("params.model.name = resnet-50"), row)).toBe(true);
  });
});

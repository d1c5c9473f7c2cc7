import { describe, expect, test } from "vitest";
import { parseExperimentSummary, parseExperimentSummaryBytes } from "../../src/repository/validate.js";

// A summary read back is taken as it was parsed when it is already exactly what the checks
// would rebuild from it (the fast way, every summary Cairn writes), and rebuilt otherwise (the
// slow way, which normalises and names problems). The two must never disagree: here every
// field of a real summary is damaged or changed in turn, and each result of the fast way is
// compared with the slow way's on the same summary. The slow way is reached by moving "format"
// to the end: the checks read fields by name, so the order changes nothing but the way taken.

const ID = "000b35b5ab3fa7e6d9d4242f6c6d4e93";
const KEY = `summaries/${ID}.json`;

function checkpoint(id: string, step: number, loss: number): Record<string, unknown> {
  return {
    id,
    step,
    created: "2026-01-01T03:02:31.000Z",
    metrics: { loss, accuracy: 0.99, diverged: "NaN" },
    primaryMetric: { name: "loss", goal: "minimize" },
    path: "model.json",
    tree: { sha256: "30c01deece2d5a1cf4e6902b4f042ba990b07b862a5b57f1b20e0d6a84536aea", files: 1, bytes: 73 },
  };
}

/** A summary as Cairn writes it. */
function written(): Record<string, unknown> {
  return {
    format: 1,
    id: ID,
    created: "2026-01-01T03:01:00.000Z",
    params: { learningRate: 0.003, layers: [64, 64], optimizer: "adam", nested: { a: 1 } },
    path: "/tmp/project/code",
    code: { sha256: "139f1e63d7376a2b08c7f8e350ae65b3d921760f808d07e7b63df1028ae14b23", files: 1, bytes: 34 },
    environment: { user: "root", host: "vm", command: ["node", "train.js"], node: "20.20.2", cpus: 2, gpus: [{ name: "A100", memory: "80 GB", driver: null }], runtimes: { python: "3.11" } },
    git: { commit: "abc", branch: "main", dirty: false, diffBytes: 0, remote: null },
    dependencies: { torch: { source: "pip", declared: "1.13", installed: "1.13.1" } },
    heartbeatIntervalMs: 5000,
    stopped: "2026-01-01T03:02:41.000Z",
    updated: "2026-01-01T03:02:41.000Z",
    checkpointCount: 100,
    primaryMetric: { name: "loss", goal: "minimize" },
    best: { index: 90, checkpoint: checkpoint("7b5f61e6b8fb63174501662f4e64290b", 90, 0.016) },
    latest: checkpoint("c91b2cf30c7d10837fe6eeedfa241543", 99, 0.082),
  };
}

const REPLACEMENTS: unknown[] = [null, "x", "2026-01-01T00:00:00Z", "2026-13-45T99:99:99Z", -1, 0, 1.5, 101, 2, [], {}, true, "NaN", ID];

/** Every variant of `value` with one thing at one place changed: removed, replaced, reordered, or a key added. */
function* variants(value: unknown): Generator<unknown> {
  if (typeof value !== "object" || value === null) return;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      for (const inner of variants(value[i])) yield value.map((item, j) => (j === i ? inner : item));
      for (const replacement of REPLACEMENTS) yield value.map((item, j) => (j === i ? replacement : item));
    }
    return;
  }
  const entries = Object.entries(value);
  yield Object.fromEntries([...entries].reverse());
  yield { ...value, extra: 1 };
  for (const [name, field] of entries) {
    yield Object.fromEntries(entries.filter(([other]) => other !== name));
    for (const replacement of REPLACEMENTS) yield { ...value, [name]: replacement };
    for (const inner of variants(field)) yield { ...value, [name]: inner };
  }
}

type Outcome = { summary: string; exact: boolean } | { error: string };

function outcome(text: string): Outcome {
  try {
    const { summary, exact } = parseExperimentSummaryBytes(text, KEY);
    return { summary: JSON.stringify(summary), exact };
  } catch (error) {
    return { error: `${(error as { code?: string }).code}: ${(error as Error).message}` };
  }
}

/** The same summary with "format" moved to the end: the slow way. */
function slowText(value: unknown): string {
  if (typeof value !== "object" || value === null || Array.isArray(value) || !("format" in value)) return JSON.stringify(value);
  const { format, ...rest } = value as Record<string, unknown>;
  return JSON.stringify({ ...rest, format });
}

describe("summaries read back", () => {
  test("a summary as Cairn writes it is taken as parsed, exactly", () => {
    const text = JSON.stringify(written());
    const { summary, exact } = parseExperimentSummaryBytes(text, KEY);
    expect(exact).toBe(true);
    expect(JSON.stringify(summary)).toBe(text);
    expect(parseExperimentSummary(text, KEY)).toEqual(written());
  });

  test("the fast way and the slow way agree on every damaged or changed summary", () => {
    let compared = 0;
    let fast = 0;
    for (const variant of variants(written())) {
      const text = JSON.stringify(variant);
      const got = outcome(text);
      const slow = outcome(slowText(variant));
      if ("error" in slow) {
        expect(got, text).toEqual(slow);
      } else {
        expect("summary" in got && got.summary, text).toBe(slow.summary);
        // Exact: the bytes give exactly the summary returned.
        expect((got as { exact: boolean }).exact, text).toBe(slow.summary === text);
        if ((got as { exact: boolean }).exact) fast++;
        // What parseExperimentSummary returns is the same summary.
        expect(JSON.stringify(parseExperimentSummary(text, KEY)), text).toBe(slow.summary);
      }
      compared++;
    }
    // Many variants, some of them still exact (a changed param, a different metric value).
    expect(compared).toBeGreaterThan(1000);
    expect(fast).toBeGreaterThan(50);
  });

  test("a damaged summary is reported by name, whichever way it is read", () => {
    const damaged = { ...written(), best: { index: 100, checkpoint: checkpoint("7b5f61e6b8fb63174501662f4e64290b", 90, 0.016) } };
    expect(() => parseExperimentSummaryBytes(JSON.stringify(damaged), KEY)).toThrow(`Experiment summary ${KEY} is corrupt: "best.index" is beyond the last checkpoint`);
    const newer = { ...written(), format: 2 };
    expect(() => parseExperimentSummaryBytes(JSON.stringify(newer), KEY)).toThrow(/newer than this Cairn reads/);
  });
});

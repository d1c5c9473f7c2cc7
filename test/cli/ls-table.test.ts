/**
 * The plain `cairn ls` table is drawn straight from the experiments' summaries; with a filter or
 * a sort it is drawn from the API's Experiments. Both must print the same rows.
 */
import * as fs from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cairn, parseJson } from "../helpers/cli.js";
import { makeProject } from "../helpers/project.js";
import { recordExperiment } from "../helpers/record.js";

let dir: string;
beforeAll(async () => {
  dir = await makeProject({ "train.py": "print(1)\n" });
  await recordExperiment(dir, { params: { lr: 0.1, model: { layers: [64, 64] } }, checkpoints: [{ metrics: { loss: 0.5 } }, { metrics: { loss: 0.25 } }] });
  await recordExperiment(dir, { params: { lr: 0.01, model: { layers: [64, 64] } }, checkpoints: [{ metrics: { loss: NaN } }, { metrics: { loss: Infinity } }] });
  await recordExperiment(dir, { params: { lr: 0.001, model: { layers: [32] }, note: "x".repeat(60) }, checkpoints: [{ metrics: { accuracy: 0.5 }, primaryMetric: ["accuracy", "maximize"] }] });
  await recordExperiment(dir, { params: null, checkpoints: [] });
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe("cairn ls table", () => {
  it("is the same drawn from summaries (plain) as from Experiments (sorted newest first)", async () => {
    for (const extra of [[], ["--all"]]) {
      const plain = await cairn(dir, ["ls", ...extra]);
      const sorted = await cairn(dir, ["ls", ...extra, "--sort", "created:desc"]);
      expect(plain.code).toBe(0);
      expect(plain.stderr).toBe("");
      expect(plain.stdout.split("\n")).toHaveLength(6); // header, 4 rows, final newline
      expect(plain.stdout).toBe(sorted.stdout);
    }
    expect(await cairn(dir, ["ls"])).toMatchObject({ stdout: expect.stringMatching(/loss=inf\n/) });
  });

  it("starts every cell where its header starts, with no trailing spaces, in both layouts", async () => {
    for (const extra of [[], ["--all"]]) {
      const [header, ...rows] = (await cairn(dir, ["ls", ...extra])).stdout.trimEnd().split("\n");
      // Headers are words joined by single spaces ("BEST CHECKPOINT"), columns by two or more.
      const starts = [...header!.matchAll(/\S+(?: \S+)*/g)].map((match) => match.index!);
      expect(starts.length).toBeGreaterThan(5);
      for (const line of [header!, ...rows]) {
        expect(line, line).toBe(line.trimEnd());
        for (const start of starts.slice(1)) {
          expect(line.slice(start - 2, start), `${line} @${start}`).toBe("  ");
          expect(line[start], `${line} @${start}`).toMatch(/\S/);
        }
      }
    }
  });

  it("-q lists the same IDs, in the same order, as --json", async () => {
    const ids = (await cairn(dir, ["ls", "-q"])).stdout.trim().split("\n");
    const listed = parseJson<{ id: string }[]>(await cairn(dir, ["ls", "--json"]));
    expect(ids).toEqual(listed.map((e) => e.id));
  });
});

describe("cairn ls param columns", () => {
  let project: string;
  beforeAll(async () => {
    project = await makeProject({ "train.py": "print(1)\n" });
    await recordExperiment(project, { params: { lr: 0.1, model: { layers: [64, 64], act: "relu", empty: {} }, tags: ["a", { b: 1 }] } });
    // A name with a dot in it can collide with a nested key; it is shown as it is.
    await recordExperiment(project, { params: { lr: 0.2, "opt.name": "adam", model: { act: "gelu" } } });
  });
  afterAll(async () => {
    await fs.rm(project, { recursive: true, force: true });
  });

  it("are the params flattened to dotted keys, arrays whole, in order of first appearance", async () => {
    const result = await cairn(project, ["ls", "--all"]);
    expect(result.code).toBe(0);
    const [header, newer, older] = result.stdout.trimEnd().split("\n").map((line) => line.trim().split(/\s{2,}/));
    expect(header).toEqual(["ID", "STARTED", "STATUS", "USER", "HOST", "lr", "opt.name", "model.act", "model.layers", "tags", "BEST CHECKPOINT", "LATEST CHECKPOINT"]);
    expect(newer!.slice(5, 10)).toEqual(["0.2", "adam", "gelu", "-", "-"]);
    expect(older!.slice(5, 10)).toEqual(["0.1", "-", "relu", "[64,64]", '["a",{"b":1}]']);
    // Without --all the same columns: every one of them differs.
    expect((await cairn(project, ["ls"])).stdout.split("\n")[0]).toMatch(/^ID\s+STARTED\s+STATUS\s+lr\s+opt\.name\s+model\.act\s+model\.layers\s+tags\s+BEST CHECKPOINT\s+LATEST CHECKPOINT$/);
  });
});

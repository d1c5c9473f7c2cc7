import * as fs from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { diffSubjects, differingKeys, flatParams, type DiffSubject, type Differences } from "../../src/index.js";
import { cairn, parseJson } from "../helpers/cli.js";
import { makeProject } from "../helpers/project.js";
import { recordExperiment, type Recorded } from "../helpers/record.js";

const projects: string[] = [];
afterAll(async () => {
  for (const dir of projects) await fs.rm(dir, { recursive: true, force: true });
});

describe("cairn diff", () => {
  let dir: string;
  let a: Recorded, b: Recorded, c: Recorded;

  beforeAll(async () => {
    dir = await makeProject({ "train.py": "v1\n", "util.py": "same\n", "package.json": JSON.stringify({ dependencies: { leftpad: "1.0.0" } }) });
    projects.push(dir);
    a = await recordExperiment(dir, {
      params: { lr: 0.1, seed: 1, layers: [64, 64] },
      runtimes: { python: "3.11.2" },
      checkpoints: [{ metrics: { loss: 0.5, accuracy: 0.7 } }, { metrics: { loss: 0.4, accuracy: 0.75 } }],
    });
    await fs.writeFile(`${dir}/package.json`, JSON.stringify({ dependencies: { leftpad: "2.0.0", yaml: "^2" } }));
    b = await recordExperiment(dir, {
      params: { lr: 0.01, seed: 1, layers: [64, 128] },
      code: { "train.py": "v2\n", "new.py": "added\n" },
      runtimes: { python: "3.12.0" },
      checkpoints: [{ metrics: { loss: 0.3, accuracy: 0.9 } }, { metrics: { loss: NaN, accuracy: 0.1 } }],
    });
    await fs.rm(`${dir}/new.py`);
    c = await recordExperiment(dir, { params: { lr: 0.001, seed: 1, layers: [64, 64] }, runtimes: { python: "3.12.0" } });
  });

  it("prints the params, metrics, environment, dependencies and code files that differ", async () => {
    const result = await cairn(dir, ["diff", a.id.slice(0, 7), b.id.slice(0, 7)]);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe("");
    const out = result.stdout;
    const lines = out.split("\n");
    expect(lines[0]).toMatch(new RegExp(`^\\s+${a.id.slice(0, 7)}\\s+${b.id.slice(0, 7)}$`));
    expect(out).toMatch(/^params$/m);
    expect(out).toMatch(/^\s+lr\s+0\.1\s+0\.01$/m);
    expect(out).toMatch(/^\s+layers\s+\[64,64\]\s+\[64,128\]$/m);
    expect(out).not.toMatch(/seed/);
    // Each experiment's best checkpoint (b's latest is NaN, its best is step 0).
    expect(out).toMatch(new RegExp(`^metrics\\s+best ${a.checkpoints[1]!.slice(0, 7)}, step 1\\s+best ${b.checkpoints[0]!.slice(0, 7)}, step 0$`, "m"));
    expect(out).toMatch(/^\s+loss\s+0\.4\s+0\.3$/m);
    expect(out).toMatch(/^\s+accuracy\s+0\.75\s+0\.9$/m);
    expect(out).toMatch(/^environment$/m);
    expect(out).toMatch(/^\s+runtimes\.python\s+3\.11\.2\s+3\.12\.0$/m);
    expect(out).toMatch(/^dependencies$/m);
    expect(out).toMatch(/^\s+leftpad\s+not installed \(declared 1\.0\.0\)\s+not installed \(declared 2\.0\.0\)$/m);
    expect(out).toMatch(/^\s+yaml\s+-\s+\S+/m);
    expect(out).toMatch(/^code$/m);
    expect(out).toMatch(/^\s+train\.py \(changed\)\s+[0-9a-f]{7} 3 B\s+[0-9a-f]{7} 3 B$/m);
    expect(out).toMatch(/^\s+new\.py \(added\)\s+-\s+[0-9a-f]{7} 6 B$/m);
    expect(out).toMatch(/^\s+package\.json \(changed\)/m);
    expect(out).not.toMatch(/util\.py/);
  });

  it("compares three or more, and a checkpoint's own metrics", async () => {
    const result = await cairn(dir, ["diff", a.id, b.checkpoints[1]!, c.id]);
    expect(result.code).toBe(0);
    expect(result.stdout.split("\n")[0]).toMatch(new RegExp(`${a.id.slice(0, 7)}\\s+${b.checkpoints[1]!.slice(0, 7)} \\(checkpoint\\)\\s+${c.id.slice(0, 7)}`));
    expect(result.stdout).toMatch(/^\s+lr\s+0\.1\s+0\.01\s+0\.001$/m);
    // The checkpoint's loss is NaN; c has no checkpoint at all.
    expect(result.stdout).toMatch(/^\s+loss\s+0\.4\s+NaN\s+-$/m);
    expect(result.stdout).toMatch(/no checkpoint/);
    expect(result.stdout).toMatch(/^\s+new\.py \(added\)\s+-\s+[0-9a-f]{7} 6 B\s+-$/m);
  });

  it("--json prints the differences for scripts", async () => {
    const diff = parseJson<Differences>(await cairn(dir, ["diff", a.id, b.checkpoints[1]!, "--json"]));
    expect(diff.subjects.map((s) => [s.id, s.kind, s.experimentId, s.metricsFrom])).toEqual([
      [a.id, "experiment", a.id, "best"],
      [b.checkpoints[1], "checkpoint", b.id, "checkpoint"],
    ]);
    expect(diff.params).toEqual([
      { key: "lr", values: [0.1, 0.01] },
      { key: "layers", values: ["[64,64]", "[64,128]"] },
    ]);
    expect(diff.metrics).toEqual([
      { key: "accuracy", values: [0.75, 0.1] },
      { key: "loss", values: [0.4, "NaN"] },
    ]);
    expect(diff.environment).toContainEqual({ key: "runtimes.python", values: ["3.11.2", "3.12.0"] });
    expect(diff.code.find((f) => f.path === "new.py")).toMatchObject({ change: "added", sha256: [null, expect.any(String)], size: [null, 6] });
  });

  it("says so when nothing differs", async () => {
    const result = await cairn(dir, ["diff", a.id, a.id]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^No differences in params, metrics, environment, dependencies or code/);
  });

  it("needs two IDs (exit 2) and known ones (exit 3)", async () => {
    const one = await cairn(dir, ["diff", a.id]);
    expect(one.code).toBe(2);
    expect(one.stderr).toMatch(/missing required argument/);
    const ids = [a, b, c].flatMap((r) => [r.id, ...r.checkpoints]);
    const unused = [..."0123456789abcdef"].map((d) => d.repeat(8)).find((p) => !ids.some((id) => id.startsWith(p)))!;
    const unknown = await cairn(dir, ["diff", a.id, unused]);
    expect(unknown.code).toBe(3);
  });
});

describe("diffSubjects (the computation behind cairn diff)", () => {
  const subject = (overrides: Partial<DiffSubject>): DiffSubject => ({
    id: "a".repeat(32),
    kind: "experiment",
    experimentId: "a".repeat(32),
    checkpointId: null,
    metricsFrom: null,
    step: null,
    params: {},
    metrics: {},
    environment: { user: "ana", host: "h", command: ["node", "train.js"], workingDirectory: "/p", node: "v20", os: "linux", arch: "x64", cpu: "c", cpus: 2, memoryBytes: 1, gpus: [], runtimes: {} },
    git: null,
    dependencies: {},
    codeFiles: [],
    ...overrides,
  });

  it("returns only what differs, treating NaN as equal to NaN and a missing key as different", () => {
    const diff = diffSubjects([
      subject({ params: { lr: 0.1, same: "x", only: 1 }, metrics: { loss: NaN, acc: 1 } }),
      subject({ params: { lr: 0.2, same: "x" }, metrics: { loss: NaN, acc: 2 } }),
    ]);
    expect(diff.params).toEqual([
      { key: "lr", values: [0.1, 0.2] },
      { key: "only", values: [1, undefined] },
    ]);
    expect(diff.metrics).toEqual([{ key: "acc", values: [1, 2] }]);
    expect(diff.environment).toEqual([]);
  });

  it("compares code by path and SHA-256: added, removed, changed relative to the first", () => {
    const file = (path: string, sha: string) => ({ path, sha256: sha.repeat(64), size: 1, mode: 0o644 });
    const diff = diffSubjects([
      subject({ codeFiles: [file("same", "a"), file("changed", "b"), file("removed", "c")] }),
      subject({ codeFiles: [file("same", "a"), file("changed", "d"), file("added", "e")] }),
    ]);
    expect(diff.code.map((f) => [f.path, f.change])).toEqual([
      ["added", "added"],
      ["changed", "changed"],
      ["removed", "removed"],
    ]);
  });

  it("flattens params without per-element array keys, and finds differing keys", () => {
    expect(flatParams({ a: { b: [1, 2] }, c: null })).toEqual({ "a.b": "[1,2]", c: null });
    expect(differingKeys([{ x: 1, y: 2 }, { x: 1, y: 3 }, { x: 1 }])).toEqual(["y"]);
  });
});

import * as fs from "node:fs/promises";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cairn, cairnInTerminal, parseJson } from "../helpers/cli.js";
import { makeProject } from "../helpers/project.js";
import { recordExperiment, type Recorded, forgetSummary } from "../helpers/record.js";

const projects: string[] = [];
afterAll(async () => {
  for (const dir of projects) await fs.rm(dir, { recursive: true, force: true });
});

async function project(files: Record<string, string> = { "train.py": "print(1)\n" }): Promise<string> {
  const dir = await makeProject(files);
  projects.push(dir);
  return dir;
}

/** Rows of a table as arrays of cells (columns are separated by two or more spaces). */
function table(stdout: string): string[][] {
  return stdout.trimEnd().split("\n").map((line) => line.trim().split(/\s{2,}/));
}

describe("cairn ls", () => {
  let dir: string;
  let a: Recorded, b: Recorded, c: Recorded;

  beforeAll(async () => {
    dir = await project();
    a = await recordExperiment(dir, {
      params: { lr: 0.1, layers: [64, 64], seed: 1 },
      checkpoints: [{ metrics: { loss: 0.5 }, files: { "w.bin": "a0" } }, { metrics: { loss: 0.3 }, files: { "w.bin": "a1" } }],
    });
    b = await recordExperiment(dir, {
      params: { lr: 0.01, layers: [64, 64], seed: 1 },
      checkpoints: [{ metrics: { loss: 0.2 } }, { metrics: { loss: NaN } }],
    });
    c = await recordExperiment(dir, {
      params: { lr: 0.001, layers: [128, 64], seed: 1 },
      checkpoints: [{ metrics: { loss: Infinity } }, { metrics: { loss: -Infinity } }],
    });
  });

  it("lists one row per experiment, newest first, with the params that differ", async () => {
    const result = await cairn(dir, ["ls"]);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe("");
    const rows = table(result.stdout);
    expect(rows[0]).toEqual(["ID", "STARTED", "STATUS", "lr", "layers", "BEST CHECKPOINT", "LATEST CHECKPOINT"]);
    expect(rows.slice(1).map((r) => r[0])).toEqual([c.id.slice(0, 7), b.id.slice(0, 7), a.id.slice(0, 7)]);
    const byId = new Map(rows.slice(1).map((r) => [r[0], r]));
    const rowA = byId.get(a.id.slice(0, 7))!;
    expect(rowA[1]).toMatch(/^(just now|\d+ seconds? ago)$/);
    expect(rowA[2]).toBe("stopped");
    expect(rowA[3]).toBe("0.1");
    expect(rowA[4]).toBe("[64,64]");
    expect(rowA[5]).toBe(`${a.checkpoints[1]!.slice(0, 7)} (step 1) loss=0.3`);
    expect(rowA[6]).toBe(`${a.checkpoints[1]!.slice(0, 7)} (step 1) loss=0.3`);
    // seed is the same everywhere, and so are user and host: not shown.
    expect(result.stdout).not.toMatch(/seed|USER|HOST/);
  });

  it("shows NaN and infinite metrics as NaN, inf and -inf, never crashing", async () => {
    const rows = new Map(table((await cairn(dir, ["ls"])).stdout).slice(1).map((r) => [r[0], r]));
    const rowB = rows.get(b.id.slice(0, 7))!;
    expect(rowB[5]).toBe(`${b.checkpoints[0]!.slice(0, 7)} (step 0) loss=0.2`);
    expect(rowB[6]).toBe(`${b.checkpoints[1]!.slice(0, 7)} (step 1) loss=NaN`);
    const rowC = rows.get(c.id.slice(0, 7))!;
    // Only non-finite values: there is no best checkpoint.
    expect(rowC[5]).toBe("-");
    expect(rowC[6]).toBe(`${c.checkpoints[1]!.slice(0, 7)} (step 1) loss=-inf`);
    const shown = await cairn(dir, ["show", c.id]);
    expect(shown.stdout).toMatch(/\binf\b/);
    expect(shown.stdout).toMatch(/-inf\b/);
  });

  it("--all shows every param, and USER and HOST", async () => {
    const rows = table((await cairn(dir, ["ls", "--all"])).stdout);
    expect(rows[0]).toEqual(["ID", "STARTED", "STATUS", "USER", "HOST", "lr", "layers", "seed", "BEST CHECKPOINT", "LATEST CHECKPOINT"]);
    expect(rows[1]![7]).toBe("1");
  });

  it("-q prints full IDs only, one per line", async () => {
    const result = await cairn(dir, ["ls", "-q"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${c.id}\n${b.id}\n${a.id}\n`);
  });

  it("--json prints experiment summaries with best and latest, without the checkpoint list", async () => {
    const result = await cairn(dir, ["ls", "--json"]);
    expect(result.code).toBe(0);
    const list = parseJson<Record<string, any>[]>(result);
    expect(list.map((e) => e.id)).toEqual([c.id, b.id, a.id]);
    const [jsonC, jsonB, jsonA] = list;
    expect(jsonA!.params).toEqual({ lr: 0.1, layers: [64, 64], seed: 1 });
    expect(jsonA!.status).toBe("stopped");
    expect(jsonA!.checkpoints).toBeUndefined();
    expect(jsonA!.checkpointCount).toBe(2);
    expect(jsonA!.best.id).toBe(a.checkpoints[1]);
    expect(jsonA!.latest.metrics).toEqual({ loss: 0.3 });
    expect(jsonB!.latest.metrics).toEqual({ loss: "NaN" });
    expect(jsonC!.best).toBeNull();
    expect(jsonC!.latest.metrics).toEqual({ loss: "-Infinity" });
    expect(jsonA!.environment.user).toEqual(expect.any(String));
  });

  it("--filter keeps matching experiments; repeated filters must all match", async () => {
    const one = await cairn(dir, ["ls", "-q", "--filter", "params.lr < 0.05"]);
    expect(one.stdout).toBe(`${c.id}\n${b.id}\n`);
    const two = await cairn(dir, ["ls", "-q", "--filter", "params.lr < 0.05", "--filter", "metrics.loss >= 0.2"]);
    expect(two.stdout).toBe(`${b.id}\n`);
    const or = await cairn(dir, ["ls", "-q", "--filter", "(params.lr = 0.1 or params.lr = 0.001) and status = stopped"]);
    expect(or.stdout).toBe(`${c.id}\n${a.id}\n`);
    const none = await cairn(dir, ["ls", "--filter", "params.lr > 1"]);
    expect(none.code).toBe(0);
    expect(none.stdout).toBe("");
    expect(none.stderr).toMatch(/No experiment matches the filter \(3 in total\)/);
  });

  it("names the fields that exist when a filter names an unknown one (exit 2)", async () => {
    const result = await cairn(dir, ["ls", "--filter", "params.lrr < 0.1"]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/unknown field "params\.lrr"/);
    expect(result.stderr).toMatch(/did you mean params\.lr\?/);
    expect(result.stderr).toMatch(/Fields: .*params\.lr/);
    const syntax = await cairn(dir, ["ls", "--filter", "params.lr <"]);
    expect(syntax.code).toBe(2);
    expect(syntax.stderr).toMatch(/Invalid filter "params\.lr <"/);
  });

  it("--sort FIELD[:asc|desc] orders the rows; a bad sort is exit 2", async () => {
    expect((await cairn(dir, ["ls", "-q", "--sort", "params.lr"])).stdout).toBe(`${c.id}\n${b.id}\n${a.id}\n`);
    expect((await cairn(dir, ["ls", "-q", "--sort", "params.lr:desc"])).stdout).toBe(`${a.id}\n${b.id}\n${c.id}\n`);
    expect((await cairn(dir, ["ls", "-q", "--sort", "created:asc"])).stdout).toBe(`${a.id}\n${b.id}\n${c.id}\n`);
    const direction = await cairn(dir, ["ls", "--sort", "params.lr:up"]);
    expect(direction.code).toBe(2);
    expect(direction.stderr).toMatch(/expected "asc" or "desc"/);
    const unknown = await cairn(dir, ["ls", "--sort", "metrics.los"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown field "metrics\.los".*did you mean metrics\.loss\?/);
  });

  it("refuses -q together with --json (exit 2)", async () => {
    const result = await cairn(dir, ["ls", "-q", "--json"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/cannot be used with/);
  });

  it("writes no colour when stdout is not a terminal, even without NO_COLOR", async () => {
    const result = await cairn(dir, ["ls"], { env: { NO_COLOR: "" } });
    expect(result.stdout).not.toContain("\x1b[");
    expect(result.stdout).toContain("stopped");
  });

  it("colours a terminal, unless NO_COLOR is set", async () => {
    const coloured = await cairnInTerminal(dir, ["ls"]);
    expect(coloured.code).toBe(0);
    expect(coloured.output).toContain("\x1b[");
    const plain = await cairnInTerminal(dir, ["ls"], { env: { NO_COLOR: "1" } });
    expect(plain.code).toBe(0);
    expect(plain.output).not.toContain("\x1b[");
    expect(plain.output).toContain(a.id.slice(0, 7));
  });

  it("shows USER or HOST only when they vary", async () => {
    const other = await project();
    const record = JSON.parse(await fs.readFile(path.join(dir, ".cairn", "experiments", `${a.id}.json`), "utf8"));
    // Copy the repository and give one experiment another host, as if recorded elsewhere.
    await fs.cp(path.join(dir, ".cairn"), path.join(other, ".cairn"), { recursive: true });
    record.environment.host = "gpu-box-2";
    await fs.writeFile(path.join(other, ".cairn", "experiments", `${a.id}.json`), JSON.stringify(record));
    await forgetSummary(path.join(other, ".cairn"), a.id);
    const rows = table((await cairn(other, ["ls"])).stdout);
    expect(rows[0]).toEqual(["ID", "STARTED", "STATUS", "HOST", "lr", "layers", "BEST CHECKPOINT", "LATEST CHECKPOINT"]);
    expect(rows.find((r) => r[0] === a.id.slice(0, 7))![3]).toBe("gpu-box-2");
  });

  it("shows when each experiment started relative to now", async () => {
    const other = await project();
    await fs.cp(path.join(dir, ".cairn"), path.join(other, ".cairn"), { recursive: true });
    const ago = { [a.id]: 3 * 60_000 + 5_000, [b.id]: 2 * 24 * 3600_000 + 60_000, [c.id]: 3600_000 };
    for (const [id, ms] of Object.entries(ago)) {
      const file = path.join(other, ".cairn", "experiments", `${id}.json`);
      const record = JSON.parse(await fs.readFile(file, "utf8"));
      record.created = new Date(Date.now() - ms).toISOString();
      await fs.writeFile(file, JSON.stringify(record));
      await forgetSummary(path.join(other, ".cairn"), id);
    }
    const rows = new Map(table((await cairn(other, ["ls"])).stdout).slice(1).map((r) => [r[0], r[1]]));
    expect(rows.get(a.id.slice(0, 7))).toBe("3 minutes ago");
    expect(rows.get(b.id.slice(0, 7))).toBe("2 days ago");
    expect(rows.get(c.id.slice(0, 7))).toBe("1 hour ago");
  });
});

describe("cairn ls on unusual repositories", () => {
  it("explains how to record an experiment when the repository is empty (exit 0)", async () => {
    const dir = await project();
    const result = await cairn(dir, ["ls"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/No experiments in .*\.cairn yet/);
    expect(result.stderr).toMatch(/cairn\.init\(/);
    expect((await cairn(dir, ["ls", "--json"])).stdout).toBe("[]\n");
    expect((await cairn(dir, ["ls", "-q"])).stdout).toBe("");
  });

  it("lists the healthy experiments and warns on stderr about a corrupt record, exiting 0", async () => {
    const dir = await project();
    const good = await recordExperiment(dir, { params: { lr: 1 }, checkpoints: [{ metrics: { loss: 1 } }] });
    const bad = await recordExperiment(dir, { params: { lr: 2 } });
    await fs.writeFile(path.join(dir, ".cairn", "experiments", `${bad.id}.json`), "this is not JSON {");
    await forgetSummary(path.join(dir, ".cairn"), bad.id);
    const result = await cairn(dir, ["ls"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(good.id.slice(0, 7));
    expect(result.stdout).not.toContain(bad.id.slice(0, 7));
    expect(result.stderr).toMatch(new RegExp(`warning: .*experiments/${bad.id}\\.json is corrupt`));
    expect(result.stderr).toMatch(/1 record\(s\) could not be read/);
    const json = await cairn(dir, ["ls", "--json"]);
    expect(json.code).toBe(0);
    expect(parseJson<{ id: string }[]>(json).map((e) => e.id)).toEqual([good.id]);
    expect(json.stderr).toMatch(/warning:/);
  });
});

describe("cairn ps", () => {
  it("lists running experiments only", async () => {
    const dir = await project();
    const stopped = await recordExperiment(dir, { params: { lr: 1 }, checkpoints: [{ metrics: { loss: 1 } }] });
    const running = await recordExperiment(dir, { params: { lr: 2 }, checkpoints: [{ metrics: { loss: 0.5 } }], running: true });
    try {
      const result = await cairn(dir, ["ps"]);
      expect(result.code).toBe(0);
      const rows = table(result.stdout);
      expect(rows).toHaveLength(2);
      expect(rows[1]![0]).toBe(running.id.slice(0, 7));
      expect(rows[1]![2]).toBe("running");
      expect((await cairn(dir, ["ps", "-q"])).stdout).toBe(`${running.id}\n`);
      const json = parseJson<{ id: string; status: string }[]>(await cairn(dir, ["ps", "--json"]));
      expect(json.map((e) => [e.id, e.status])).toEqual([[running.id, "running"]]);
      expect((await cairn(dir, ["ps", "-q", "--filter", "params.lr = 1"])).stdout).toBe("");
      expect((await cairn(dir, ["ls", "-q"])).stdout).toBe(`${running.id}\n${stopped.id}\n`);
    } finally {
      await running.run.stop();
    }
    const after = await cairn(dir, ["ps"]);
    expect(after.code).toBe(0);
    expect(after.stdout).toBe("");
    expect(after.stderr).toMatch(/No experiment is running \(2 in total/);
  });
});

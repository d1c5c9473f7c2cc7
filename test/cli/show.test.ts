import { execFileSync } from "node:child_process";
import * as fs from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cairn, parseJson } from "../helpers/cli.js";
import { makeProject } from "../helpers/project.js";
import { recordExperiment, sharedPrefix, type Recorded } from "../helpers/record.js";

const projects: string[] = [];
afterAll(async () => {
  for (const dir of projects) await fs.rm(dir, { recursive: true, force: true });
});

function git(cwd: string, ...args: string[]): void {
  execFileSync("git", ["-c", "user.name=Test", "-c", "user.email=test@example.com", ...args], { cwd, stdio: "ignore" });
}

describe("cairn show", () => {
  let dir: string;
  let experiment: Recorded;

  beforeAll(async () => {
    dir = await makeProject({
      "train.py": "print('train')\n",
      "package.json": JSON.stringify({ name: "demo", dependencies: { yaml: "^2.0.0", leftpad: "1.0.0" } }),
    });
    projects.push(dir);
    git(dir, "init", "-q", "-b", "main");
    git(dir, "add", ".");
    git(dir, "commit", "-q", "-m", "first");
    git(dir, "remote", "add", "origin", "https://ana:secret@example.com/ana/demo.git");
    await fs.writeFile(`${dir}/train.py`, "print('changed')\n");
    experiment = await recordExperiment(dir, {
      params: { lr: 0.01, model: { layers: [64, 64] } },
      checkpoints: [
        { metrics: { loss: 0.5, accuracy: 0.7 }, files: { "weights.bin": "0".repeat(2048), "model.json": "{}" } },
        { metrics: { loss: 0.25, accuracy: 0.8 }, files: { "weights.bin": "1".repeat(2048), "model.json": "{}" } },
        { metrics: { loss: NaN, accuracy: 0.1 } },
      ],
    });
  });

  it("shows an experiment: params, environment, git, dependencies, code and checkpoints with the best marked", async () => {
    const result = await cairn(dir, ["show", experiment.id.slice(0, 8)]);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe("");
    const out = result.stdout;
    expect(out).toContain(`experiment ${experiment.id}`);
    expect(out).toMatch(/status\s+stopped/);
    expect(out).toMatch(/primary metric\s+loss \(minimize\)/);
    expect(out).toMatch(/^params\n\s+lr\s+0\.01\n\s+model\.layers\s+\[64,64\]$/m);
    expect(out).toMatch(/^environment$/m);
    expect(out).toMatch(/user\s+\S+/);
    expect(out).toMatch(/node\s+v?\d+\.\d+/);
    expect(out).toMatch(/commit\s+[0-9a-f]{40}/);
    expect(out).toMatch(/branch\s+main/);
    expect(out).toMatch(new RegExp(`dirty\\s+yes \\(.* of uncommitted changes: cairn show ${experiment.id.slice(0, 7)} --diff\\)`));
    expect(out).toMatch(/remote\s+https:\/\/example\.com\/ana\/demo\.git/);
    expect(out).not.toContain("secret");
    expect(out).toMatch(/^dependencies\n\s+2 recorded/m);
    expect(out).toMatch(/code\s+\d+ files?, \d/);
    expect(out).toMatch(/^checkpoints \(3\)$/m);
    const lines = out.split("\n");
    const row = (id: string) => lines.find((line) => line.includes(id.slice(0, 7)) && /\d/.test(line))!;
    expect(row(experiment.checkpoints[1]!)).toMatch(/^\s+\*\s+[0-9a-f]{7}\s+1\s+.*0\.25\s+0\.8$/);
    expect(row(experiment.checkpoints[0]!)).not.toContain("*");
    expect(row(experiment.checkpoints[2]!)).toMatch(/NaN\s+0\.1$/);
    expect(out).toMatch(/\* best by loss \(minimize\)/);
  });

  it("shows a checkpoint: its experiment, step, metrics and files with sizes", async () => {
    const result = await cairn(dir, ["show", experiment.checkpoints[1]!.slice(0, 9)]);
    expect(result.code).toBe(0);
    const out = result.stdout;
    expect(out).toContain(`checkpoint ${experiment.checkpoints[1]}`);
    expect(out).toMatch(new RegExp(`experiment\\s+${experiment.id} \\(stopped\\)`));
    expect(out).toMatch(/step\s+1/);
    expect(out).toMatch(/primary metric\s+loss \(minimize\) = 0\.25, the best of its experiment/);
    expect(out).toMatch(/loss\s+0\.25/);
    expect(out).toMatch(/accuracy\s+0\.8/);
    expect(out).toMatch(/files \(2, 2\.0 KiB\)/);
    expect(out).toMatch(/model\/weights\.bin\s+2\.0 KiB/);
    expect(out).toMatch(/model\/model\.json\s+2 B/);
    const metricsOnly = await cairn(dir, ["show", experiment.checkpoints[2]!]);
    expect(metricsOnly.stdout).toMatch(/loss\s+NaN/);
    expect(metricsOnly.stdout).toMatch(/none \(metrics only\)/);
  });

  it("--json prints an experiment with its checkpoints, or a checkpoint with its files", async () => {
    const shown = parseJson<Record<string, any>>(await cairn(dir, ["show", experiment.id, "--json"]));
    expect(shown.kind).toBe("experiment");
    expect(shown.id).toBe(experiment.id);
    expect(shown.params).toEqual({ lr: 0.01, model: { layers: [64, 64] } });
    expect(shown.checkpoints.map((c: { id: string }) => c.id)).toEqual(experiment.checkpoints);
    expect(shown.checkpoints[2].metrics.loss).toBe("NaN");
    expect(shown.best.id).toBe(experiment.checkpoints[1]);
    expect(shown.git.dirty).toBe(true);
    expect(Object.keys(shown.dependencies).sort()).toEqual(["leftpad", "yaml"]);
    const checkpoint = parseJson<Record<string, any>>(await cairn(dir, ["show", experiment.checkpoints[0]!, "--json"]));
    expect(checkpoint.kind).toBe("checkpoint");
    expect(checkpoint.experimentId).toBe(experiment.id);
    expect(checkpoint.metrics).toEqual({ loss: 0.5, accuracy: 0.7 });
    expect(checkpoint.fileList.map((f: { path: string; size: number }) => [f.path, f.size]).sort()).toEqual([
      ["model/model.json", 2],
      ["model/weights.bin", 2048],
    ]);
  });

  it("--diff prints the uncommitted git diff", async () => {
    const result = await cairn(dir, ["show", experiment.id, "--diff"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("-print('train')");
    expect(result.stdout).toContain("+print('changed')");
    const viaCheckpoint = await cairn(dir, ["show", experiment.checkpoints[0]!, "--diff"]);
    expect(viaCheckpoint.stdout).toBe(result.stdout);
  });

  it("says there is no diff when the project was not a git repository", async () => {
    const plain = await makeProject({ "train.py": "x\n" });
    projects.push(plain);
    const recorded = await recordExperiment(plain, { params: { lr: 1 } });
    const result = await cairn(plain, ["show", recorded.id, "--diff"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/was not in a git repository/);
    expect((await cairn(plain, ["show", recorded.id])).stdout).toMatch(/not a git repository/);
  });

  it("exits 3 for an unknown ID and 2 for something that is not an ID", async () => {
    const ids = [experiment.id, ...experiment.checkpoints];
    const unused = [..."0123456789abcdef"].map((d) => d.repeat(6)).find((p) => !ids.some((id) => id.startsWith(p)))!;
    const unknown = await cairn(dir, ["show", unused]);
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toMatch(/No experiment or checkpoint has an ID starting with/);
    const notHex = await cairn(dir, ["show", "xyz"]);
    expect(notHex.code).toBe(2);
    expect(notHex.stderr).toMatch(/not an ID/);
  });
});

describe("ambiguous prefixes", () => {
  it("lists the candidates and exits 3", async () => {
    const dir = await makeProject({ "train.py": "x\n" });
    projects.push(dir);
    // 17 IDs: two of them must share a first hex digit.
    const recorded = await recordExperiment(dir, { checkpoints: Array.from({ length: 16 }, (_, i) => ({ metrics: { i } })) });
    const ids = [recorded.id, ...recorded.checkpoints];
    const prefix = sharedPrefix(ids)!;
    const candidates = ids.filter((id) => id.startsWith(prefix));
    for (const args of [["show", prefix], ["checkout", prefix, "-o", "out"], ["diff", prefix, recorded.id]]) {
      const result = await cairn(dir, args);
      expect(result.code).toBe(3);
      expect(result.stderr).toMatch(new RegExp(`"${prefix}" matches ${candidates.length} IDs; give more digits`));
      for (const candidate of candidates) expect(result.stderr).toContain(candidate);
    }
  });
});

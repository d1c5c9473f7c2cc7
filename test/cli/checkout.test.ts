import * as fs from "node:fs/promises";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cairn, parseJson } from "../helpers/cli.js";
import { listFiles, makeProject } from "../helpers/project.js";
import { recordExperiment, type Recorded } from "../helpers/record.js";

const projects: string[] = [];
afterAll(async () => {
  for (const dir of projects) await fs.rm(dir, { recursive: true, force: true });
});

async function folder(): Promise<string> {
  const dir = await makeProject();
  projects.push(dir);
  return dir;
}

describe("cairn checkout", () => {
  let dir: string;
  let experiment: Recorded;

  beforeAll(async () => {
    dir = await makeProject({ "train.py": "print('train')\n", "lib/util.py": "x = 1\n" });
    projects.push(dir);
    experiment = await recordExperiment(dir, {
      checkpoints: [
        { metrics: { loss: 0.2 }, files: { "weights.bin": "best", "config.json": "{}" } },
        { metrics: { loss: 0.9 }, files: { "weights.bin": "worse", "config.json": "{}" } },
        { metrics: { loss: 0.95 } },
      ],
    });
  });

  it("writes an experiment's code and best checkpoint into -o DIR, printing each path", async () => {
    const out = path.join(await folder(), "run");
    const result = await cairn(dir, ["checkout", experiment.id.slice(0, 7), "-o", out]);
    expect(result.code).toBe(0);
    expect(await listFiles(out)).toEqual(["lib/util.py", "model/config.json", "model/weights.bin", "train.py"]);
    expect(await fs.readFile(path.join(out, "model/weights.bin"), "utf8")).toBe("best");
    const printed = result.stdout.trimEnd().split("\n").map((p) => path.resolve(dir, p)).sort();
    expect(printed).toEqual(["lib/util.py", "model/config.json", "model/weights.bin", "train.py"].map((p) => path.join(out, p)));
    expect(result.stderr).toMatch(new RegExp(`^Wrote 4 files \\(\\d+ B\\) of experiment ${experiment.id.slice(0, 7)} \\(code \\+ checkpoint ${experiment.checkpoints[0]!.slice(0, 7)}, step 0\\)`));
  });

  it("writes into the current folder by default", async () => {
    const cwd = await folder();
    const result = await cairn(cwd, ["-R", path.join(dir, ".cairn"), "checkout", experiment.checkpoints[1]!]);
    expect(result.code).toBe(0);
    expect(await listFiles(cwd)).toEqual(["model/config.json", "model/weights.bin"]);
    expect(await fs.readFile(path.join(cwd, "model/weights.bin"), "utf8")).toBe("worse");
    expect(result.stdout.split("\n").filter(Boolean).sort()).toEqual(["model/config.json", "model/weights.bin"]);
    expect(result.stderr).toMatch(/of checkpoint [0-9a-f]{7} \(step 1\) of experiment [0-9a-f]{7} to the current folder/);
  });

  it("--path takes one file or folder only", async () => {
    const out = path.join(await folder(), "w");
    const result = await cairn(dir, ["checkout", experiment.checkpoints[0]!, "-o", out, "--path", "model/weights.bin"]);
    expect(result.code).toBe(0);
    expect(await listFiles(out)).toEqual(["model/weights.bin"]);
    const missing = await cairn(dir, ["checkout", experiment.checkpoints[0]!, "-o", out, "--path", "nope"]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/Nothing stored at "nope"/);
  });

  it("refuses to overwrite files that differ, listing them (exit 4), until --force", async () => {
    const out = await folder();
    await fs.mkdir(path.join(out, "model"));
    await fs.writeFile(path.join(out, "model/weights.bin"), "mine");
    await fs.writeFile(path.join(out, "model/config.json"), "{}"); // identical: not a conflict
    const refused = await cairn(dir, ["checkout", experiment.checkpoints[0]!, "-o", out]);
    expect(refused.code).toBe(4);
    expect(refused.stdout).toBe("");
    expect(refused.stderr).toMatch(/1 file\(s\) in .* exist with different contents; nothing was written:\n\s+model\/weights\.bin/);
    expect(refused.stderr).toMatch(/--force/);
    expect(await fs.readFile(path.join(out, "model/weights.bin"), "utf8")).toBe("mine");
    const forced = await cairn(dir, ["checkout", experiment.checkpoints[0]!, "-o", out, "--force"]);
    expect(forced.code).toBe(0);
    expect(forced.stdout.trim()).toBe(path.relative(dir, path.join(out, "model/weights.bin")));
    expect(forced.stderr).toMatch(/Wrote 1 file \(4 B\).*; 1 file already there and identical\./);
    expect(await fs.readFile(path.join(out, "model/weights.bin"), "utf8")).toBe("best");
  });

  it("--json reports what was written", async () => {
    const out = path.join(await folder(), "j");
    const report = parseJson<Record<string, any>>(await cairn(dir, ["checkout", experiment.id, "-o", out, "--json"]));
    expect(report).toMatchObject({ id: experiment.id, kind: "experiment", checkpoint: experiment.checkpoints[0], outputDirectory: out, unchanged: [] });
    expect(report.written.sort()).toEqual(["lib/util.py", "model/config.json", "model/weights.bin", "train.py"]);
  });

  it("says there is nothing to write for a metrics-only checkpoint", async () => {
    const out = await folder();
    const result = await cairn(dir, ["checkout", experiment.checkpoints[2]!, "-o", out]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/Nothing to write: .* records metrics only/);
  });
});

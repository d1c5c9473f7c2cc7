import * as fs from "node:fs/promises";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cairn, parseJson } from "../helpers/cli.js";
import { makeProject, startScript } from "../helpers/project.js";
import { recordExperiment } from "../helpers/record.js";

const projects: string[] = [];
afterAll(async () => {
  for (const dir of projects) await fs.rm(dir, { recursive: true, force: true });
});

async function project(files: Record<string, string> = {}): Promise<string> {
  const dir = await makeProject(files);
  projects.push(dir);
  return dir;
}

describe("cairn init", () => {
  it("writes cairn.yaml with the default repository and a starter .cairnignore", async () => {
    const dir = await project();
    const result = await cairn(dir, ["init"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe("cairn.yaml\n.cairnignore\n");
    expect(result.stderr).toMatch(/Wrote cairn\.yaml \(repository: \.cairn\) and a starter \.cairnignore/);
    expect(await fs.readFile(path.join(dir, "cairn.yaml"), "utf8")).toMatch(/^repository: \.cairn$/m);
    const ignore = await fs.readFile(path.join(dir, ".cairnignore"), "utf8");
    // Only comments: it changes nothing until someone edits it.
    expect(ignore.split("\n").filter((line) => line.trim() !== "" && !line.startsWith("#"))).toEqual([]);
    expect(ignore).toMatch(/# \*\.pth/);
  });

  it("refuses to overwrite cairn.yaml (exit 4) without --force, and keeps an existing .cairnignore", async () => {
    const dir = await project({ "cairn.yaml": "repository: /data/mine\n", ".cairnignore": "data/\n" });
    const refused = await cairn(dir, ["init"]);
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/cairn\.yaml already exists here:\n\s+repository: \/data\/mine\nRun "cairn init --force"/);
    expect(await fs.readFile(path.join(dir, "cairn.yaml"), "utf8")).toBe("repository: /data/mine\n");
    const repository = path.join(dir, "shared-repo");
    const forced = await cairn(dir, ["init", "--force", "--repository", repository]);
    expect(forced.code).toBe(0);
    expect(forced.stdout).toBe("cairn.yaml\n");
    expect(forced.stderr).toMatch(/kept the existing \.cairnignore/);
    expect(await fs.readFile(path.join(dir, "cairn.yaml"), "utf8")).toContain(`repository: ${repository}`);
    expect(await fs.readFile(path.join(dir, ".cairnignore"), "utf8")).toBe("data/\n");
    expect(parseJson(await cairn(dir, ["init", "--force", "-R", "other", "--json"]))).toEqual({ repository: "other", written: ["cairn.yaml"] });
  });

  it("makes later commands use the repository it names", async () => {
    const elsewhere = await project({ "train.py": "x\n" });
    const { id } = await recordExperiment(elsewhere);
    const dir = await project();
    expect((await cairn(dir, ["init", "-R", path.join(elsewhere, ".cairn")])).code).toBe(0);
    await fs.mkdir(path.join(dir, "sub/folder"), { recursive: true });
    expect((await cairn(path.join(dir, "sub/folder"), ["ls", "-q"])).stdout).toBe(`${id}\n`);
  });
});

describe("choosing the repository", () => {
  it("takes -R before or after the command, CAIRN_REPOSITORY, and refuses unsupported URLs (exit 2)", async () => {
    const source = await project({ "train.py": "x\n" });
    const { id } = await recordExperiment(source);
    const dir = await project();
    const repository = path.join(source, ".cairn");
    expect((await cairn(dir, ["-R", repository, "ls", "-q"])).stdout).toBe(`${id}\n`);
    expect((await cairn(dir, ["ls", "-q", "--repository", repository])).stdout).toBe(`${id}\n`);
    expect((await cairn(dir, ["ls", "-q"], { env: { CAIRN_REPOSITORY: repository } })).stdout).toBe(`${id}\n`);
    expect((await cairn(dir, ["ls", "-q", "-R", `file://${repository}`])).stdout).toBe(`${id}\n`);
    const unsupported = await cairn(dir, ["ls", "-R", "ftp://example.com/repo"]);
    expect(unsupported.code).toBe(2);
    expect(unsupported.stderr).toMatch(/ftp:\/\//);
  });

  it("reports an invalid cairn.yaml (exit 2)", async () => {
    const dir = await project({ "cairn.yaml": "repository: [1, 2]\n" });
    const result = await cairn(dir, ["ls"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/"repository" in .*cairn\.yaml must be a non-empty string/);
  });
});

/** Starts a training script that records a checkpoint, then kills itself before stop(). */
async function killedExperiment(dir: string): Promise<string> {
  const { done } = startScript(
    dir,
    `const run = await cairn.init({ path: ".", params: { lr: 0.5 } });
     await run.checkpoint({ metrics: { loss: 0.25 }, primaryMetric: ["loss", "minimize"] });
     process.stdout.write(run.id);
     process.kill(process.pid, "SIGKILL");`,
  );
  const result = await done;
  expect(result.signal).toBe("SIGKILL");
  return result.stdout.trim();
}

describe("cairn push", () => {
  it("publishes what a killed training script left on local disk", async () => {
    const dir = await project({ "train.py": "x\n" });
    const id = await killedExperiment(dir);
    const result = await cairn(dir, ["push"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${id}\n`);
    expect(result.stderr).toMatch(/^Published 1 experiment\.$/m);
    const again = await cairn(dir, ["push", "--json"]);
    expect(parseJson(again)).toEqual({ published: [], live: [], failed: [] });
    const shown = parseJson<{ checkpoints: { metrics: { loss: number } }[] }>(await cairn(dir, ["show", id, "--json"]));
    expect(shown.checkpoints.map((c) => c.metrics.loss)).toEqual([0.25]);
  });

  it("exits 1 when something cannot be published, and keeps it for the next try", async () => {
    const dir = await project({ "train.py": "x\n" });
    const id = await killedExperiment(dir);
    // Make the records folder unusable: a file where the folder should be.
    const experiments = path.join(dir, ".cairn", "experiments");
    await fs.rm(experiments, { recursive: true, force: true });
    await fs.writeFile(experiments, "not a folder");
    const failed = await cairn(dir, ["push"]);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toBe("");
    expect(failed.stderr).toMatch(/could not publish/);
    expect(failed.stderr).toMatch(/1 experiment could not be published; they stay on local disk/);
    await fs.rm(experiments);
    const retried = await cairn(dir, ["push"]);
    expect(retried.code).toBe(0);
    expect(retried.stdout).toBe(`${id}\n`);
  });
});

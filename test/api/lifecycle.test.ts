import * as fs from "node:fs/promises";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openRepository } from "../../src/index.js";
import { makeProject, runScript, startScript, waitFor } from "../helpers/project.js";

const projects: string[] = [];
afterEach(async () => {
  for (const dir of projects.splice(0)) await fs.rm(dir, { recursive: true, force: true });
});

async function project(): Promise<string> {
  const dir = await makeProject({ "train.py": "x = 1\n" });
  projects.push(dir);
  return dir;
}

async function experiments(dir: string) {
  const repository = await openRepository(path.join(dir, ".cairn"), { projectDirectory: dir, recover: false });
  // Listings carry summaries; these tests look at every checkpoint.
  return Promise.all((await repository.experiments.list()).map((e) => e.load()));
}

async function onlyExperiment(dir: string) {
  const repository = await openRepository(path.join(dir, ".cairn"), { projectDirectory: dir });
  const list = await repository.experiments.list();
  expect(list).toHaveLength(1);
  return list[0]!.load();
}

/** A training loop that prints "ready <id>" after its first checkpoint, then keeps going. */
const LONG_TRAINING = `
const fs = await import("node:fs");
const experiment = await cairn.init({ params: { lr: 0.1 } });
let step = 0;
fs.writeFileSync("model.pth", "epoch 0");
await experiment.checkpoint({ path: "model.pth", metrics: { loss: 1 }, primaryMetric: ["loss", "minimize"] });
console.log("ready " + experiment.id);
setInterval(async () => { step++; fs.writeFileSync("model.pth", "epoch " + step); await experiment.checkpoint({ path: "model.pth", metrics: { loss: 1 / (step + 1) } }); }, 20);
`;

describe("the life of an experiment process", () => {
  it("is stopped when the script ends without calling stop()", async () => {
    const dir = await project();
    const result = await runScript(dir, `
      const experiment = await cairn.init({ params: { a: 1 } });
      for (let i = 0; i < 50; i++) await experiment.checkpoint({ metrics: { loss: i } });
    `);
    expect(result.code).toBe(0);
    const experiment = await onlyExperiment(dir);
    expect(experiment.status).toBe("stopped");
    expect(experiment.checkpoints).toHaveLength(50);
  });

  it("is stopped after process.exit(), once the next process publishes the journal", async () => {
    const dir = await project();
    const result = await runScript(dir, `
      const experiment = await cairn.init();
      await experiment.checkpoint({ metrics: { loss: 1 } });
      await experiment.checkpoint({ metrics: { loss: 2 } });
      process.exit(3);
    `);
    expect(result.code).toBe(3);
    const experiment = await onlyExperiment(dir);
    expect(experiment.status).toBe("stopped");
    expect(experiment.checkpoints).toHaveLength(2);
  });

  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    it(`finishes writes and is stopped after ${signal}`, async () => {
      const dir = await project();
      const { child, done } = startScript(dir, LONG_TRAINING);
      let output = "";
      child.stdout!.on("data", (d) => (output += d));
      await waitFor(() => output.includes("ready"), 20_000, "the first checkpoint");
      await new Promise((r) => setTimeout(r, 300));
      child.kill(signal);
      const result = await done;
      expect(result.signal).toBe(signal);
      const experiment = await onlyExperiment(dir);
      expect(experiment.status).toBe("stopped");
      expect(experiment.checkpoints.length).toBeGreaterThan(1);
      // Every checkpoint is complete: its file reads back and verifies.
      for (const checkpoint of experiment.checkpoints) expect((await checkpoint.read("model.pth")).toString()).toMatch(/^epoch \d+$/);
    });
  }

  it("shows running while alive; after SIGKILL it is crashed and keeps every returned checkpoint", async () => {
    const dir = await project();
    const { child, done } = startScript(dir, LONG_TRAINING + `\nsetInterval(() => console.log("count " + 0), 1000);`);
    let output = "";
    child.stdout!.on("data", (d) => (output += d));
    await waitFor(() => output.includes("ready"), 20_000, "the first checkpoint");
    await waitFor(async () => ((await experiments(dir))[0]?.checkpoints.length ?? 0) >= 3, 20_000, "published checkpoints");
    expect((await onlyExperiment(dir)).status).toBe("running");
    child.kill("SIGKILL");
    await done;
    // The journal holds what checkpoint() had returned; opening the repository publishes it.
    const journal = await fs.readFile(path.join(dir, ".cairn", "local", "spool", output.split("ready ")[1]!.trim().slice(0, 32), "journal.jsonl"), "utf8");
    const journaled = journal.split("\n").filter((l) => l.includes('"type":"checkpoint"')).length;
    await waitFor(async () => (await onlyExperiment(dir)).status === "crashed", 20_000, "crashed status");
    const experiment = await onlyExperiment(dir);
    expect(experiment.checkpoints.length).toBeGreaterThanOrEqual(journaled);
    for (const checkpoint of experiment.checkpoints) expect((await checkpoint.read("model.pth")).toString()).toMatch(/^epoch \d+$/);
    // The spool was published and removed.
    expect(await fs.readdir(path.join(dir, ".cairn", "local", "spool"))).toEqual([]);
  });

  it("lets several processes record into one repository at once", async () => {
    const dir = await project();
    const results = await Promise.all(
      Array.from({ length: 4 }, (_, i) =>
        runScript(dir, `
          const fs = await import("node:fs");
          const experiment = await cairn.init({ params: { worker: ${i} } });
          for (let s = 0; s < 10; s++) {
            fs.writeFileSync("w${i}.bin", "worker ${i} step " + s);
            await experiment.checkpoint({ path: "w${i}.bin", metrics: { s } });
          }
          await experiment.stop();
        `),
      ),
    );
    expect(results.map((r) => r.code)).toEqual([0, 0, 0, 0]);
    const repository = await openRepository(path.join(dir, ".cairn"), { projectDirectory: dir });
    const list = await repository.experiments.list({ sort: "params.worker" });
    expect(list.map((e) => e.params)).toEqual([{ worker: 0 }, { worker: 1 }, { worker: 2 }, { worker: 3 }]);
    for (const [i, experiment] of list.entries()) {
      expect(experiment.checkpointCount).toBe(10);
      expect((await experiment.load()).checkpoints).toHaveLength(10);
      expect((await experiment.latest()!.read(`w${i}.bin`)).toString()).toBe(`worker ${i} step 9`);
    }
  });
});

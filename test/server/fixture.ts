import { execFileSync } from "node:child_process";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { openRepository, type Repository, type Run } from "../../src/index.js";
import { makeProject } from "../helpers/project.js";

export interface Fixture {
  dir: string;
  repository: Repository;
  /** Stopped experiments, oldest first: lr 0.1 (3 checkpoints), lr 0.01 (3), lr 0.001 (2). */
  ids: string[];
  /** A running experiment, left running (stop it in the test's cleanup). */
  running: Run;
  cleanup(): Promise<void>;
}

function git(cwd: string, ...args: string[]): void {
  execFileSync("git", args, { cwd, env: { ...process.env, LC_ALL: "C" }, stdio: "ignore" });
}

/**
 * A project under git with a dirty tree, a repository with three stopped experiments (with model
 * files, a primary metric, two metrics) and one running one, all recorded through the public API.
 *
 * @example
 * const fixture = await makeFixture();
 */
export async function makeFixture(): Promise<Fixture> {
  const dir = await makeProject({
    "train.py": "for epoch in range(3):\n    train()\n",
    "lib/util.py": "def train():\n    pass\n",
    "README.md": "# demo\n",
    ".gitignore": "model/\n.cairn/\n",
  });
  git(dir, "init", "-q");
  git(dir, "config", "user.name", "Cairn Test");
  git(dir, "config", "user.email", "test@example.com");
  git(dir, "config", "commit.gpgsign", "false");
  git(dir, "add", ".");
  git(dir, "commit", "-q", "-m", "first");
  await fs.writeFile(path.join(dir, "train.py"), "for epoch in range(10):\n    train()\n");

  const repository = await openRepository(path.join(dir, ".cairn"), { projectDirectory: dir });
  const ids: string[] = [];
  const losses: Record<string, number[]> = { "0.1": [0.9, 0.5, 0.6], "0.01": [0.8, 0.4, 0.3], "0.001": [0.95, 0.7] };
  for (const [lr, series] of Object.entries(losses)) {
    const run = await repository.init({ params: { lr: Number(lr), layers: [64, 64], seed: 1 }, heartbeatInterval: 0.2 });
    for (const [step, loss] of series.entries()) {
      await fs.mkdir(path.join(dir, "model"), { recursive: true });
      await fs.writeFile(path.join(dir, "model", "weights.bin"), Buffer.from(`weights of ${lr} at ${step}`));
      await fs.writeFile(path.join(dir, "model", "config.json"), JSON.stringify({ lr }));
      await run.checkpoint({ path: "model", step, metrics: { loss, accuracy: 1 - loss }, primaryMetric: ["loss", "minimize"] });
    }
    await run.stop();
    ids.push(run.id);
  }
  const running = await repository.init({ params: { lr: 0.5, layers: [32], seed: 2 }, heartbeatInterval: 0.2 });
  await running.checkpoint({ step: 0, metrics: { loss: 1.5 } });
  return {
    dir,
    repository,
    ids,
    running,
    async cleanup() {
      await running.stop();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

/** Waits for a running experiment's records to reach the repository. */
export async function settle(ms = 600): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

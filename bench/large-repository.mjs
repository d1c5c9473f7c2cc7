/**
 * A large repository for the web UI's benchmarks: one experiment recorded through the public API
 * (so code snapshot, environment and objects are real), then its record copied many times with new
 * IDs, params and metric curves. Records are plain JSON in the documented format (docs/FORMAT.md),
 * so this is how a busy team's repository looks to a reader, made in seconds instead of hours.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs/promises";
import * as path from "node:path";

/**
 * Makes `<directory>/project/.cairn` with `experiments` experiments of `checkpoints` metric-only
 * checkpoints each (loss and accuracy curves that depend on the params). Returns its path.
 *
 * @example
 * const repository = await makeLargeRepository({ directory, dist, experiments: 10_000, checkpoints: 20 });
 */
export async function makeLargeRepository({ directory, dist, experiments, checkpoints, running = 0 }) {
  const cairn = await import(dist);
  const { encodeSummary } = await import(new URL("repository/summary.js", dist).href);
  const project = path.join(directory, "project");
  await fs.mkdir(project, { recursive: true });
  await fs.writeFile(path.join(project, "train.py"), "print('training')\n");
  const repositoryPath = path.join(project, ".cairn");
  const repository = await cairn.openRepository(repositoryPath, { projectDirectory: project });
  const run = await repository.init({ params: { lr: 0.01 } });
  await run.checkpoint({ metrics: { loss: 1 }, primaryMetric: ["loss", "minimize"] });
  await run.stop();
  const template = JSON.parse(await fs.readFile(path.join(repositoryPath, "experiments", `${run.id}.json`), "utf8"));

  const start = Date.parse("2024-01-01T00:00:00Z");
  const optimizers = ["adam", "sgd", "adamw"];
  const users = ["ana", "bo", "chen"];
  const writes = [];
  for (let i = 0; i < experiments; i++) {
    const id = randomBytes(16).toString("hex");
    const created = new Date(start + i * 60_000);
    const lr = [0.1, 0.03, 0.01, 0.003, 0.001][i % 5];
    const params = { lr, batch_size: [32, 64, 128][i % 3], optimizer: optimizers[i % 3], seed: i, model: { layers: [64, (i % 4) * 32 + 32] } };
    const floor = 0.05 + ((i * 7919) % 1000) / 4000;
    const records = [];
    for (let step = 0; step < checkpoints; step++) {
      const loss = floor + (1 - floor) * Math.exp((-step * lr * 30) / Math.max(1, checkpoints / 20)) + 0.01 * Math.sin(step + i);
      records.push({
        id: randomBytes(16).toString("hex"),
        step,
        created: new Date(created.getTime() + step * 1000).toISOString(),
        metrics: { loss, accuracy: 1 - loss / 2 },
        primaryMetric: { name: "loss", goal: "minimize" },
        path: null,
        tree: null,
      });
    }
    const isRunning = i >= experiments - running;
    const record = {
      ...template,
      id,
      created: created.toISOString(),
      params,
      environment: { ...template.environment, user: users[i % 3] },
      checkpoints: records,
      stopped: isRunning ? null : new Date(created.getTime() + checkpoints * 1000).toISOString(),
      updated: isRunning ? new Date().toISOString() : new Date(created.getTime() + checkpoints * 1000).toISOString(),
    };
    // As the writer does: the record, then its summary (docs/FORMAT.md).
    writes.push(
      fs.writeFile(path.join(repositoryPath, "experiments", `${id}.json`), JSON.stringify(record)).then(() =>
        fs.writeFile(path.join(repositoryPath, "summaries", `${id}.json`), encodeSummary(record)),
      ),
    );
    if (writes.length >= 256) await Promise.all(writes.splice(0));
  }
  await Promise.all(writes);
  await fs.rm(path.join(repositoryPath, "experiments", `${run.id}.json`));
  await fs.rm(path.join(repositoryPath, "summaries", `${run.id}.json`));
  return repositoryPath;
}

/**
 * `cairn ls` wall time over 1,000 experiments of 100 checkpoints each in a local repository
 * (issue 2: under 1 s), as the CLI in a subprocess and as `experiments.list()` in-process.
 * Baseline (not a target): reading and JSON-parsing every record file in-process, the floor
 * for any reader of this format.
 *
 * The repository is made in two steps, because 1,000 experiments through the public API take
 * about a minute on two cores (init() snapshots code and queries git and the environment):
 *   1. a few real experiments through the public API (init, 100 checkpoints each with a small
 *      model file, stop), so every record and object is exactly what the writer produces;
 *   2. the rest are copies of those records written straight into the documented layout
 *      (experiments/<id>.json, heartbeats/<id>), each with fresh experiment and checkpoint IDs,
 *      its own creation time, params and metric values; their trees point at the real objects.
 * Then the harness checks that the API lists all of them and reports no problem.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { formatSeconds, median, run, spread, time } from "../lib.mjs";

export default {
  name: "ls-local",
  target: "< 1 s",
  async run({ quick, runs, directory, dist, cli, log }) {
    const cairn = await import(dist);
    const experimentCount = quick ? 100 : 1000;
    const checkpointCount = 100;
    const count = runs ?? 5;
    const project = path.join(directory, "project");
    const repositoryFolder = path.join(project, ".cairn");

    log(`making ${experimentCount} experiments of ${checkpointCount} checkpoints`);
    const generation = await time(() => makeRepository({ cairn, project, repositoryFolder, experimentCount, checkpointCount, templates: quick ? 2 : 4 }));
    const repository = await cairn.openRepository(repositoryFolder, { projectDirectory: project });
    const { experiments, problems } = await repository.load();
    if (experiments.length !== experimentCount || problems.length) {
      throw new Error(`expected ${experimentCount} experiments and no problems, got ${experiments.length} and ${JSON.stringify(problems.slice(0, 3))}`);
    }
    log(`made in ${formatSeconds(generation)}`);

    // Reference points, measured in the same run.
    const floor = [];
    const api = [];
    const first = await time(() => cairn.openRepository(repositoryFolder, { projectDirectory: project }).then((r) => r.listExperiments()));
    const cliTimes = [];
    const startup = [];
    let rows = 0;
    for (let i = 0; i < count; i++) {
      floor.push(await time(() => readAllRecords(repositoryFolder)));
      api.push(
        await time(async () => {
          const listed = await (await cairn.openRepository(repositoryFolder, { projectDirectory: project })).listExperiments();
          if (listed.length !== experimentCount) throw new Error(`experiments.list() returned ${listed.length}`);
        }),
      );
      const result = await run(process.execPath, [cli, "ls"], { cwd: project, env: { ...process.env, NO_COLOR: "1", CAIRN_REPOSITORY: "" } });
      cliTimes.push(result.seconds);
      rows = result.stdout.trim().split("\n").length;
      startup.push((await run(process.execPath, [cli, "--version"], { cwd: project })).seconds);
    }
    const size = await folderBytes(path.join(repositoryFolder, "experiments"));
    const scale = `${experimentCount.toLocaleString("en")} experiments × ${checkpointCount} checkpoints`;
    return [
      {
        label: `cairn ls (CLI), ${scale}`,
        value: median(cliTimes),
        unit: "s",
        baseline: { label: "read+parse records", value: median(floor) },
        limit: { max: 1 },
        note:
          `${spread(cliTimes)}, printed ${rows} lines; \`cairn --version\` alone (Node start + CLI import) takes ${formatSeconds(median(startup))}. ` +
          `Records: ${(size / 2 ** 20).toFixed(1)} MiB of JSON. Generated in ${formatSeconds(generation)} (see bench/cases/ls-local.mjs). Page cache warm (we cannot drop it here).`,
      },
      {
        label: `experiments.list() in-process, ${scale}`,
        value: median(api),
        unit: "s",
        baseline: { label: "read+parse records", value: median(floor) },
        limit: { max: 1 },
        note: `${spread(api)}, first call in the process ${formatSeconds(first)}; the baseline reads and JSON.parses every experiments/*.json, ${spread(floor)}.`,
      },
    ];
  },
};

async function makeRepository({ cairn, project, repositoryFolder, experimentCount, checkpointCount, templates }) {
  await fs.mkdir(path.join(project, "code"), { recursive: true });
  await fs.writeFile(path.join(project, "code", "train.py"), "for epoch in range(100):\n    pass\n");
  const repository = await cairn.openRepository(repositoryFolder, { projectDirectory: project });
  const ids = [];
  for (let t = 0; t < templates; t++) {
    const experiment = await repository.init({ path: "code", params: { learningRate: 0.01 * (t + 1), layers: [64, 64], optimizer: "adam", batchSize: 32 } });
    for (let step = 0; step < checkpointCount; step++) {
      await fs.writeFile(path.join(project, "model.json"), JSON.stringify({ template: t, step, weights: [Math.random(), Math.random()] }));
      const loss = 1 / (step + 1) + 0.1 * Math.random();
      await experiment.checkpoint({ path: "model.json", step, metrics: { loss, accuracy: 1 - loss / 2 }, primaryMetric: ["loss", "minimize"] });
    }
    await experiment.stop();
    ids.push(experiment.id);
  }
  const records = await Promise.all(ids.map(async (id) => JSON.parse(await fs.readFile(path.join(repositoryFolder, "experiments", `${id}.json`), "utf8"))));
  const heartbeat = await fs.readFile(path.join(repositoryFolder, "heartbeats", ids[0]));

  const start = Date.parse("2026-01-01T00:00:00Z");
  const copies = [];
  for (let k = 0; k < experimentCount - templates; k++) copies.push(k);
  const write = async (k) => {
    const record = structuredClone(records[k % records.length]);
    const id = randomBytes(16).toString("hex");
    const created = start + k * 60_000;
    record.id = id;
    record.created = new Date(created).toISOString();
    record.params = { ...record.params, learningRate: [0.001, 0.003, 0.01, 0.03][k % 4], units: [16, 32, 64][k % 3], seed: k };
    record.checkpoints.forEach((checkpoint, step) => {
      checkpoint.id = randomBytes(16).toString("hex");
      checkpoint.created = new Date(created + (step + 1) * 1000).toISOString();
      const loss = 1 / (step + 1) + 0.1 * Math.random();
      checkpoint.metrics = { loss, accuracy: 1 - loss / 2 };
    });
    record.updated = record.stopped = new Date(created + (checkpointCount + 1) * 1000).toISOString();
    await fs.writeFile(path.join(repositoryFolder, "experiments", `${id}.json`), JSON.stringify(record));
    await fs.writeFile(path.join(repositoryFolder, "heartbeats", id), heartbeat);
  };
  // A few writes in flight at once: enough to hide latency, few enough to keep file handles low.
  for (let i = 0; i < copies.length; i += 32) await Promise.all(copies.slice(i, i + 32).map(write));
}

async function readAllRecords(repositoryFolder) {
  const folder = path.join(repositoryFolder, "experiments");
  const names = await fs.readdir(folder);
  let total = 0;
  for (let i = 0; i < names.length; i += 32) {
    const parsed = await Promise.all(names.slice(i, i + 32).map(async (name) => JSON.parse(await fs.readFile(path.join(folder, name), "utf8"))));
    total += parsed.length;
  }
  return total;
}

async function folderBytes(folder) {
  let bytes = 0;
  for (const name of await fs.readdir(folder)) bytes += (await fs.stat(path.join(folder, name))).size;
  return bytes;
}

/**
 * `cairn ls` over 10,000 experiments of 100 checkpoints each in a local repository (issue 7: at
 * most 1 s cold and 0.3 s warm; issue 2 asked under 1 s for 1,000), as the CLI in a subprocess
 * and as `experiments.list()` in-process: cold (a new Repository object, nothing read yet) and
 * warm (the same object again, nothing changed). Baseline (not a target): reading and
 * JSON-parsing every record file, what any reader of the records must do; listings read the
 * small summaries instead (docs/FORMAT.md).
 *
 * The repository is made in two steps, because 10,000 experiments through the public API would
 * take ten minutes on two cores (init() snapshots code and queries git and the environment):
 *   1. a few real experiments through the public API (init, 100 checkpoints each with a small
 *      model file, stop), so every record, summary and object is exactly what the writer produces;
 *   2. the rest are copies of those records written straight into the documented layout
 *      (experiments/<id>.json, then summaries/<id>.json, heartbeats/<id>), each with fresh
 *      experiment and checkpoint IDs, its own creation time, params and metric values; their
 *      trees point at the real objects.
 * Then the harness checks that the API lists all of them and reports no problem.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { folderBytes, formatSeconds, median, run, spread, time } from "../lib.mjs";

export default {
  name: "ls-local",
  target: "≤ 1 s cold, ≤ 0.3 s warm",
  async run({ quick, runs, directory, dist, cli, log }) {
    const cairn = await import(dist);
    const { encodeSummary } = await import(new URL("repository/summary.js", dist).href);
    const experimentCount = quick ? 200 : 10_000;
    const checkpointCount = 100;
    const count = runs ?? 5;
    const project = path.join(directory, "project");
    const repositoryFolder = path.join(project, ".cairn");

    log(`making ${experimentCount} experiments of ${checkpointCount} checkpoints`);
    const generation = await time(() => makeRepository({ cairn, encodeSummary, project, repositoryFolder, experimentCount, checkpointCount, templates: quick ? 2 : 4 }));
    const repository = await cairn.openRepository(repositoryFolder, { projectDirectory: project });
    const { experiments, problems } = await repository.load();
    if (experiments.length !== experimentCount || problems.length) {
      throw new Error(`expected ${experimentCount} experiments and no problems, got ${experiments.length} and ${JSON.stringify(problems.slice(0, 3))}`);
    }
    log(`made in ${formatSeconds(generation)}`);

    // Listings keep what they read in local/records/summaries.json; removing it makes a listing
    // cold (as the first `cairn ls` after copying a repository, or after `cairn cache clear`).
    const listingCache = path.join(repositoryFolder, "local", "records");
    const forget = () => fs.rm(listingCache, { recursive: true, force: true });
    const env = { ...process.env, NO_COLOR: "1", CAIRN_REPOSITORY: "" };
    const check = (listed) => {
      if (listed.length !== experimentCount) throw new Error(`experiments.list() returned ${listed.length}`);
    };
    const floor = [];
    const cold = [];
    const warm = [];
    const cliCold = [];
    const cliWarm = [];
    const cliChanged = [];
    const startup = [];
    const names = (await fs.readdir(path.join(repositoryFolder, "summaries"))).sort();
    let rows = 0;
    for (let i = 0; i < count; i++) {
      floor.push(await time(() => readAllRecords(repositoryFolder)));
      await forget();
      const fresh = await cairn.openRepository(repositoryFolder, { projectDirectory: project });
      cold.push(await time(async () => check(await fresh.listExperiments())));
      warm.push(await time(async () => check(await fresh.listExperiments())));
      await forget();
      const first = await run(process.execPath, [cli, "ls"], { cwd: project, env });
      cliCold.push(first.seconds);
      rows = first.stdout.trim().split("\n").length;
      const again = await run(process.execPath, [cli, "ls"], { cwd: project, env });
      cliWarm.push(again.seconds);
      // What every `cairn ls` meets while a training run checkpoints: one experiment's record
      // and summary replaced since the last listing, as the writer replaces them.
      await republish(repositoryFolder, names[i % names.length].replace(/\.json$/, ""));
      cliChanged.push((await run(process.execPath, [cli, "ls"], { cwd: project, env })).seconds);
      startup.push((await run(process.execPath, [cli, "--version"], { cwd: project })).seconds);
    }
    const records = await folderBytes(path.join(repositoryFolder, "experiments"));
    const summaries = await folderBytes(path.join(repositoryFolder, "summaries"));
    const scale = `${experimentCount.toLocaleString("en")} experiments × ${checkpointCount} checkpoints`;
    const baseline = { label: "read+parse records", value: median(floor) };
    const start = { label: "cairn --version", value: median(startup) };
    return [
      {
        label: `cairn ls (CLI), cold: no listing cache, ${scale}`,
        value: median(cliCold),
        unit: "s",
        baseline,
        limit: { max: 1 },
        note:
          `${spread(cliCold)}, printed ${rows} lines; \`cairn --version\` alone (Node start + CLI import) takes ${formatSeconds(median(startup))}. ` +
          `Summaries: ${(summaries / 2 ** 20).toFixed(1)} MiB of JSON; records ${(records / 2 ** 20).toFixed(1)} MiB, read and parsed by the baseline (${spread(floor)}), which is what listing cost before summaries. ` +
          `Generated in ${formatSeconds(generation)} (see bench/cases/ls-local.mjs). Page cache warm (we cannot drop it here).`,
      },
      {
        label: `cairn ls (CLI), warm: nothing changed since the last ls, ${scale}`,
        value: median(cliWarm),
        unit: "s",
        baseline: start,
        limit: { max: 0.3 },
        note: `${spread(cliWarm)}; reads the table the first \`cairn ls\` kept (local/records/ls-table.json: each row's columns after STATUS already laid out, so only ID, STARTED and STATUS are made), trusted whole because \`experiments/\` and \`summaries/\` have the same change time as when they were written (no stat and no summary read). \`cairn --version\` (Node start + CLI import) alone takes ${formatSeconds(median(startup))} here.`,
      },
      {
        label: `cairn ls (CLI), one experiment changed since the last ls, ${scale}`,
        value: median(cliChanged),
        unit: "s",
        baseline,
        limit: null,
        note: `Information (no target: the issue's warm bound is for nothing changed): ${spread(cliChanged)}; one experiment's record and summary replaced (written and renamed into place, as the writer does) after a warm \`cairn ls\`, which a training run does at every checkpoint. Reads the listing cache (local/records/summaries.json), stats every summary to find the changed one, reads it, and lays the table out again.`,
      },
      {
        label: `experiments.list() cold (new Repository, no listing cache), ${scale}`,
        value: median(cold),
        unit: "s",
        baseline,
        limit: { max: 1 },
        note: `${spread(cold)}; lists the three folders and reads every summary.`,
      },
      {
        label: `experiments.list() warm (same Repository, nothing changed), ${scale}`,
        value: median(warm),
        unit: "s",
        baseline,
        limit: { max: 0.3 },
        note: `${spread(warm)}; two stats of the folders show nothing was added, replaced or removed, so the summaries already read are the listing.`,
      },
    ];
  },
};

export async function makeRepository({ cairn, encodeSummary, project, repositoryFolder, experimentCount, checkpointCount, templates }) {
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
    // As the writer does: the record, then its summary (docs/FORMAT.md).
    await fs.writeFile(path.join(repositoryFolder, "experiments", `${id}.json`), JSON.stringify(record));
    await fs.writeFile(path.join(repositoryFolder, "summaries", `${id}.json`), encodeSummary(record));
    await fs.writeFile(path.join(repositoryFolder, "heartbeats", id), heartbeat);
  };
  // A few writes in flight at once: enough to hide latency, few enough to keep file handles low.
  for (let i = 0; i < copies.length; i += 32) await Promise.all(copies.slice(i, i + 32).map(write));
}

/** Replaces experiment `id`'s record and then its summary with the same bytes, each written to a temporary file and renamed into place, as the writer does. */
async function republish(repositoryFolder, id) {
  for (const folder of ["experiments", "summaries"]) {
    const file = path.join(repositoryFolder, folder, `${id}.json`);
    const temporary = `${file}.tmp-bench`;
    await fs.copyFile(file, temporary);
    await fs.rename(temporary, file);
  }
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


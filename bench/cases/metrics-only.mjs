/**
 * Metrics-only checkpoint() (issue 7, target 6): median blocking time at most 50 µs over 10,000
 * calls, and the training loop never waits for storage.
 *
 * In-process, through the public API as a training script calls it: `cairn.init()` with a
 * repository in the scratch folder, then `await experiment.checkpoint({ metrics, step })` 10,000
 * times in a row, each timed on its own (process.hrtime, from the call to the end of the await).
 * Baselines in the same run, timed the same way: `await` of an empty async function (the floor of
 * any promise-returning call) and JSON.stringify of the same metrics (the floor of writing them
 * down in any text form). Every call is counted, the first ones included.
 */
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { formatSeconds, median, time } from "../lib.mjs";

export default {
  name: "metrics-only",
  target: "median ≤ 50 µs",
  async run({ quick, directory, dist, log }) {
    const cairn = await import(dist);
    const calls = quick ? 1_000 : 10_000;
    const project = path.join(directory, "project");
    await fs.mkdir(path.join(project, "code"), { recursive: true });
    await fs.writeFile(path.join(project, "code", "train.py"), "print('training')\n");
    const repositoryFolder = path.join(directory, "repository");
    const cwd = process.cwd();
    process.chdir(project); // the project is the scratch folder, not whatever the bench runs from
    let experiment;
    try {
      experiment = await cairn.init({ path: "code", repository: repositoryFolder, params: { bench: "metrics-only" } });
    } finally {
      process.chdir(cwd);
    }
    const metricsAt = (step) => ({ loss: 1 / (step + 1), accuracy: step / calls, learningRate: 0.001, gradNorm: 0.5 + (step % 7) / 10 });

    const empty = async () => {};
    const sides = {
      checkpoint: new Float64Array(calls),
      emptyAsync: new Float64Array(calls),
      stringify: new Float64Array(calls),
    };
    let sink = 0;
    log(`${calls} metrics-only checkpoints`);
    for (let step = 0; step < calls; step++) {
      const metrics = metricsAt(step);
      let start = process.hrtime.bigint();
      await experiment.checkpoint({ metrics, step });
      sides.checkpoint[step] = Number(process.hrtime.bigint() - start) / 1e9;
      start = process.hrtime.bigint();
      await empty();
      sides.emptyAsync[step] = Number(process.hrtime.bigint() - start) / 1e9;
      start = process.hrtime.bigint();
      sink += JSON.stringify(metrics).length;
      sides.stringify[step] = Number(process.hrtime.bigint() - start) / 1e9;
    }
    const stop = await time(() => experiment.stop());
    const recorded = (await (await cairn.openRepository(repositoryFolder)).getExperiment(experiment.id)).checkpoints.length;
    if (recorded !== calls) throw new Error(`the experiment holds ${recorded} checkpoints, expected ${calls}`);
    if (sink === 0) throw new Error("unreachable");

    const stats = (values) => {
      const sorted = Float64Array.from(values).sort();
      return { median: median(sorted), p99: sorted[Math.floor(0.99 * (sorted.length - 1))], max: sorted[sorted.length - 1] };
    };
    const cairnStats = stats(sides.checkpoint);
    const emptyStats = stats(sides.emptyAsync);
    const jsonStats = stats(sides.stringify);
    const describe = (s) => `median ${formatSeconds(s.median)}, p99 ${formatSeconds(s.p99)}, max ${formatSeconds(s.max)}`;
    const baselines = `Baselines in the same loop: await of an empty async function ${describe(emptyStats)}; JSON.stringify of the same metrics ${describe(jsonStats)}.`;
    return [
      {
        label: `metrics-only checkpoint() blocking, median of ${calls.toLocaleString("en")} calls`,
        value: cairnStats.median,
        unit: "s",
        baseline: { label: "await empty async fn", value: emptyStats.median },
        limit: { max: 50e-6 },
        note: `checkpoint(): ${describe(cairnStats)}. ${baselines} All ${calls} checkpoints were in the record after stop(), which took ${formatSeconds(stop)}.`,
      },
      {
        label: `metrics-only checkpoint() blocking, 99th percentile`,
        value: cairnStats.p99,
        unit: "s",
        baseline: { label: "JSON.stringify(metrics)", value: jsonStats.p99 },
        limit: null,
        note: `Information. The slowest call took ${formatSeconds(cairnStats.max)} (garbage collection and the background writes of the record share the thread).`,
      },
    ];
  },
};

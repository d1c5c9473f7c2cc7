/**
 * File-level dedup (issue 7, target 4): 50 checkpoints of a 10-file model folder in which one
 * file changes each time. Repository bytes at most 1.05x the unique bytes: the folder once, then
 * each new version of the file that changed. The original product stores the folder whole in
 * every checkpoint (a tar.gz each); one such archive is made with `tar czf` and counted 50 times
 * (the folder keeps its size, so every archive weighs the same).
 *
 * The folder is what a model folder holds: a weights file large enough to be stored as chunks
 * (FORMAT.md: from 8 MiB), a few shards and optimizer states, small tensors, a tokenizer and a
 * config. Step k (from 1) rewrites file k mod 10 with new random bytes, so every file changes in
 * turn, the large one included. Repository bytes are everything under the repository folder but
 * `local/` (this machine's caches and spool): objects, trees, records, summaries, heartbeats.
 */
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { folderBytes, formatBytes, formatSeconds, KiB, makeRandomFile, MiB, run, time } from "../lib.mjs";

const CHECKPOINTS = 50;

/** The model folder: name and size of each of its 10 files (full size; quick runs divide by 8). */
const FILES = [
  ["weights.bin", 12 * MiB],
  ["shard-1.bin", 2 * MiB],
  ["shard-2.bin", 2 * MiB],
  ["optimizer.pt", 2 * MiB],
  ["embeddings.bin", 512 * KiB],
  ["head.bin", 512 * KiB],
  ["norms.bin", 512 * KiB],
  ["scheduler.pt", 512 * KiB],
  ["tokenizer.json", 16 * KiB],
  ["config.json", 1 * KiB],
];

export default {
  name: "file-dedup",
  // The limit is on the first row only; the other is the reference point.
  target: "",
  async run({ quick, directory, dist, log }) {
    const cairn = await import(dist);
    const files = FILES.map(([name, size]) => ({ name, size: quick && size > 64 * KiB ? size / 8 : size }));
    const project = path.join(directory, "project");
    const folder = path.join(project, "model");
    await fs.mkdir(path.join(project, "code"), { recursive: true });
    await fs.mkdir(folder);
    await fs.writeFile(path.join(project, "code", "train.py"), "print('training')\n");
    for (const file of files) await makeRandomFile(path.join(folder, file.name), file.size);
    const folderSize = files.reduce((sum, file) => sum + file.size, 0);

    const repositoryFolder = path.join(directory, "repository");
    const repository = await cairn.openRepository(repositoryFolder, { projectDirectory: project });
    const experiment = await repository.init({ path: "code", params: { bench: "file-dedup" } });
    let unique = folderSize;
    const seconds = await time(async () => {
      for (let step = 0; step < CHECKPOINTS; step++) {
        if (step > 0) {
          const changed = files[step % files.length];
          await makeRandomFile(path.join(folder, changed.name), changed.size);
          unique += changed.size;
        }
        await experiment.checkpoint({ path: "model", step, metrics: { loss: 1 / (step + 1) }, primaryMetric: ["loss", "minimize"] });
        if (step % 10 === 9) log(`${step + 1}/${CHECKPOINTS} checkpoints`);
      }
      await experiment.stop();
    });

    // Every checkpoint lists the whole folder, as it was at its step.
    const checkpoints = (await repository.getExperiment(experiment.id)).checkpoints;
    if (checkpoints.length !== CHECKPOINTS) throw new Error(`the experiment holds ${checkpoints.length} checkpoints, expected ${CHECKPOINTS}`);
    const lastFiles = await checkpoints.at(-1).files();
    if (lastFiles.length !== files.length) throw new Error(`the last checkpoint lists ${lastFiles.length} files, expected ${files.length}`);

    const repositoryBytes = await folderBytes(repositoryFolder, ["local"]);
    const objectBytes = await folderBytes(path.join(repositoryFolder, "objects"));
    const archive = path.join(directory, "checkpoint.tar.gz");
    const tar = await run("tar", ["czf", archive, "-C", project, "model"]);
    const archiveBytes = (await fs.stat(archive)).size;
    await fs.rm(archive);

    const uniqueBaseline = { label: "unique bytes", value: unique };
    return [
      {
        label: `repository bytes, ${CHECKPOINTS} checkpoints of a ${files.length}-file folder (${formatBytes(folderSize)}), one file changed each time`,
        value: repositoryBytes,
        unit: "bytes",
        baseline: uniqueBaseline,
        limit: { maxRatio: 1.05 },
        note:
          `Unique bytes: the folder once, then each changed file's new version (${formatBytes(unique)}). ` +
          `Objects (file contents and trees) ${formatBytes(objectBytes)}; records, summaries and heartbeats ${formatBytes(repositoryBytes - objectBytes)}. ` +
          `The ${CHECKPOINTS} checkpoint() calls and stop() took ${formatSeconds(seconds)}.`,
      },
      {
        label: `original product's method: a tar.gz of the folder per checkpoint, ${CHECKPOINTS} checkpoints`,
        value: archiveBytes * CHECKPOINTS,
        unit: "bytes",
        baseline: uniqueBaseline,
        note: `\`tar czf\` of the folder: ${formatBytes(archiveBytes)} (in ${formatSeconds(tar.seconds)}; random bytes do not compress), counted ${CHECKPOINTS} times.`,
      },
    ];
  },
};

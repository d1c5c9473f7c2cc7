import type { Experiment, Repository } from "../../../src/index.js";
import { configOf, SHARED_FILE, weightsOf } from "./training.js";

export interface VisibleCounts {
  experiments: number;
  checkpoints: number;
  files: number;
  bytes: number;
}

/**
 * Reads back every file of every visible checkpoint of the training script's experiments and
 * compares it with what the script wrote for that seed and step. Any difference, missing file
 * or unreadable record throws, naming the experiment and checkpoint.
 *
 * @example
 * const counts = await checkEveryVisibleCheckpoint(repository, 512);
 */
export async function checkEveryVisibleCheckpoint(repository: Repository, maxKiB: number, only?: (e: Experiment) => boolean): Promise<VisibleCounts> {
  const list = await repository.experiments.list();
  if (list.problems.length > 0) throw new Error(`unreadable records: ${list.problems.map((p) => p.message).join("; ")}`);
  const counts: VisibleCounts = { experiments: 0, checkpoints: 0, files: 0, bytes: 0 };
  for (const listed of list) {
    if (only && !only(listed)) continue;
    const experiment = await listed.load();
    checkSummaryAgrees(listed, experiment);
    counts.experiments += 1;
    const seed = (experiment.params as { seed?: string } | null)?.seed;
    if (typeof seed !== "string") throw new Error(`experiment ${experiment.id} has params ${JSON.stringify(experiment.params)}`);
    for (const checkpoint of experiment.checkpoints) {
      counts.checkpoints += 1;
      const where = `checkpoint ${checkpoint.id} (step ${checkpoint.step}) of experiment ${experiment.id}`;
      if (checkpoint.tree === null) {
        if (checkpoint.metrics.lr !== 0.1) throw new Error(`${where}: metrics ${JSON.stringify(checkpoint.metrics)}`);
        continue;
      }
      const files = (await checkpoint.files()).map((f) => f.path).sort();
      if (files.join() !== "model/config.json,model/shared.txt,model/weights.bin") throw new Error(`${where} lists ${files.join(", ")}`);
      const expected: Record<string, Buffer> = {
        "model/weights.bin": weightsOf(seed, checkpoint.step, maxKiB),
        "model/config.json": Buffer.from(configOf(seed, checkpoint.step)),
        "model/shared.txt": Buffer.from(SHARED_FILE),
      };
      for (const [file, bytes] of Object.entries(expected)) {
        const read = await checkpoint.read(file); // verified against its SHA-256 as it is read
        if (!read.equals(bytes)) throw new Error(`${where}: ${file} holds other bytes than the script wrote (${read.length} vs ${bytes.length})`);
        counts.files += 1;
        counts.bytes += read.length;
      }
    }
  }
  return counts;
}

/**
 * A listed experiment (from its summary) must agree with its record read in full: the summary
 * is written after the record, so the record may be ahead, never behind.
 */
function checkSummaryAgrees(listed: Experiment, full: Experiment): void {
  const where = `experiment ${listed.id}`;
  if (listed.checkpointCount > full.checkpointCount) throw new Error(`${where}: the summary lists ${listed.checkpointCount} checkpoints, the record ${full.checkpointCount}`);
  const ids = new Set(full.checkpoints.map((c) => c.id));
  for (const checkpoint of [listed.best(), listed.latest()]) {
    if (checkpoint && !ids.has(checkpoint.id)) throw new Error(`${where}: the summary names checkpoint ${checkpoint.id}, which the record lacks`);
  }
  if (listed.checkpointCount === full.checkpointCount && listed.best()?.id !== full.best()?.id) throw new Error(`${where}: the summary's best checkpoint differs from the record's`);
}

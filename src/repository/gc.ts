import { CairnError } from "../errors.js";
import type { Storage } from "../storage/storage.js";
import { EXPERIMENTS_PREFIX, heartbeatIdOfKey, HEARTBEATS_PREFIX, objectHashOfKey, OBJECTS_PREFIX } from "./layout.js";
import { loadExperiments, mapLimit } from "./load.js";
import { readTree } from "./objects.js";
import { listSpools, ExperimentSpool } from "./spool.js";

export interface GcOptions {
  /** Objects younger than this are kept even when unreferenced: a writer may be mid-checkpoint. */
  gracePeriodMs?: number;
  /** Only report what would be removed. */
  dryRun?: boolean;
}

export interface GcReport {
  /** Keys removed (or that would be, with dryRun). */
  removed: string[];
  bytes: number;
  /** Unreferenced keys kept because they are younger than the grace period. */
  keptYoung: number;
}

export const DEFAULT_GC_GRACE_MS = 24 * 3600_000;

/**
 * Deletes objects that no record refers to and that are older than the grace period, plus
 * heartbeats of removed experiments. Refuses to run when any record is unreadable: its
 * references are unknown, and deleting them could destroy a checkpoint.
 *
 * @example
 * const { removed, bytes } = await collectGarbage(storage, { gracePeriodMs: 3600_000 });
 */
export async function collectGarbage(storage: Storage, options: GcOptions = {}): Promise<GcReport> {
  const grace = options.gracePeriodMs ?? DEFAULT_GC_GRACE_MS;
  const now = Date.now();
  const { experiments, problems } = await loadExperiments(storage);
  const corrupt = problems.filter((p) => p.key.startsWith(EXPERIMENTS_PREFIX));
  if (corrupt.length > 0) {
    throw new CairnError("CORRUPT", `gc stopped: ${corrupt.length} record(s) cannot be read, so what they refer to is unknown:\n${corrupt.map((p) => `  ${p.message}`).join("\n")}\nRepair or remove them ("cairn rm"), then run gc again.`);
  }
  const referenced = new Set<string>();
  const trees: { sha256: string; context: string }[] = [];
  const live = new Set<string>();
  for (const { record } of experiments) {
    live.add(record.id);
    if (record.code) trees.push({ sha256: record.code.sha256, context: `the code of experiment ${record.id.slice(0, 7)}` });
    if (record.git?.diff) referenced.add(record.git.diff);
    for (const checkpoint of record.checkpoints) {
      if (checkpoint.tree) trees.push({ sha256: checkpoint.tree.sha256, context: `checkpoint ${checkpoint.id.slice(0, 7)}` });
    }
  }
  // Experiments still being written on this machine, and not yet published, need their objects too.
  for (const directory of await listSpools(storage.localStateDirectory())) {
    const state = await ExperimentSpool.open(directory).readJournal();
    if (!state) continue;
    live.add(state.record.id);
    for (const [sha256, tree] of state.trees) {
      referenced.add(sha256);
      for (const file of tree.files) {
        referenced.add(file.sha256);
        for (const chunk of file.chunks ?? []) referenced.add(chunk.sha256);
      }
    }
    for (const sha256 of state.objects) referenced.add(sha256);
  }
  await mapLimit(trees, 16, async ({ sha256, context }) => {
    if (referenced.has(sha256)) return;
    referenced.add(sha256);
    // An unreadable tree stops gc: its files' objects must not be taken for garbage.
    const tree = await readTree(storage, sha256, context);
    for (const file of tree.files) {
      referenced.add(file.sha256);
      for (const chunk of file.chunks ?? []) referenced.add(chunk.sha256);
    }
  });

  const report: GcReport = { removed: [], bytes: 0, keptYoung: 0 };
  const candidates: { key: string; size: number }[] = [];
  for await (const info of storage.list(OBJECTS_PREFIX)) {
    const sha256 = objectHashOfKey(info.key);
    if (sha256 !== null && referenced.has(sha256)) continue;
    if (now - info.modified.getTime() < grace) report.keptYoung += 1;
    else candidates.push({ key: info.key, size: info.size });
  }
  for await (const info of storage.list(HEARTBEATS_PREFIX)) {
    const id = heartbeatIdOfKey(info.key);
    if (id !== null && live.has(id)) continue;
    if (now - info.modified.getTime() < grace) report.keptYoung += 1;
    else candidates.push({ key: info.key, size: info.size });
  }
  for (const candidate of candidates) {
    if (!options.dryRun) await storage.delete(candidate.key);
    report.removed.push(candidate.key);
    report.bytes += candidate.size;
  }
  return report;
}

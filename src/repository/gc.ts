import { CairnError } from "../errors.js";
import type { Storage } from "../storage/storage.js";
import { EXPERIMENTS_PREFIX, heartbeatIdOfKey, HEARTBEATS_PREFIX, objectHashOfKey, OBJECTS_PREFIX } from "./layout.js";
import { loadExperiments, mapLimit } from "./load.js";
import { readTree } from "./objects.js";
import { chunkObject } from "./packs.js";
import { staleAfterMs } from "./status.js";
import { spoolChunkHashes } from "./chunk-lists.js";
import { listSpools } from "./spool-folders.js";

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
  /**
   * Unreferenced objects kept, whatever the grace period, because a writer that is running now
   * may still need them: uploaded since it started, for checkpoints its record does not show yet.
   */
  keptForLiveWriters?: number;
}

export const DEFAULT_GC_GRACE_MS = 24 * 3600_000;
/** Slack for the difference between a writer's clock (a record's `created`) and the storage's. */
const CLOCK_SKEW_MS = 3600_000;
/** How long a writer that has shown no sign of life may still be alive (starved, not dead). */
const STARTING_WRITER_MS = 10 * 60_000;

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
  const referenced = new Set<string>();
  const live = new Set<string>();
  // A first look at the records, only to pass over what they clearly refer to while listing.
  await addReferences(storage, referenced, live);

  const report: GcReport = { removed: [], bytes: 0, keptYoung: 0, keptForLiveWriters: 0 };
  let candidates: { key: string; size: number; modified: number }[] = [];
  for await (const info of storage.list(OBJECTS_PREFIX)) {
    const sha256 = objectHashOfKey(info.key);
    if (sha256 !== null && referenced.has(sha256)) continue;
    if (now - info.modified.getTime() < grace) report.keptYoung += 1;
    else candidates.push({ key: info.key, size: info.size, modified: info.modified.getTime() });
  }
  // Listed after the objects, so it holds the heartbeat of every writer whose upload was listed
  // (a writer makes its heartbeat durable first): the second look below uses it too.
  const withoutRecord: { id: string; modified: number }[] = [];
  for await (const info of storage.list(HEARTBEATS_PREFIX)) {
    const id = heartbeatIdOfKey(info.key);
    if (id !== null && live.has(id)) continue;
    if (id !== null) withoutRecord.push({ id, modified: info.modified.getTime() });
    // A young heartbeat with no record is a writer publishing its first record: what protects
    // its uploads (below) must not be deleted under it, whatever the grace period.
    if (now - info.modified.getTime() < Math.max(grace, STARTING_WRITER_MS)) report.keptYoung += 1;
    else candidates.push({ key: info.key, size: info.size, modified: info.modified.getTime() });
  }
  if (candidates.length === 0) return report;

  // The second look, taken after the listing, decides. A writer makes its heartbeat durable
  // before it uploads anything, so the writer of any object listed above shows here: by a
  // record that refers to the object, by one that is still running (its uploads are kept), or
  // by a heartbeat with no record yet. Taken before the listing (as it once was), it missed a
  // writer that started in between, and deleted its first checkpoint's files.
  const { experiments } = await addReferences(storage, referenced, live);
  const keepAfter = keepUploadsAfter(experiments, withoutRecord.filter(({ id }) => !live.has(id)), grace);
  candidates = candidates.filter(({ key, modified }) => {
    const name = objectHashOfKey(key) ?? heartbeatIdOfKey(key);
    if (name !== null && (referenced.has(name) || live.has(name))) return false;
    if (objectHashOfKey(key) !== null && modified > keepAfter) {
      report.keptForLiveWriters! += 1;
      return false;
    }
    return true;
  });
  for (const candidate of candidates) {
    if (!options.dryRun) await storage.delete(candidate.key);
    report.removed.push(candidate.key);
    report.bytes += candidate.size;
  }
  return report;
}

/**
 * The time after which an unreferenced object may belong to a writer that is running now: a
 * running writer uploads contents before the record that names them, on another machine
 * perhaps (its spool is not visible here), so whatever is younger than the oldest running
 * experiment may be its and stays, however short the grace period. "Running" generously: a
 * writer starved of CPU or network misses heartbeats for a while without having died. A young
 * heartbeat with no record (`heartbeats`: those whose experiment has none) is a writer publishing
 * its first record: then the default grace period applies.
 */
function keepUploadsAfter(experiments: Awaited<ReturnType<typeof loadExperiments>>["experiments"], heartbeats: { modified: number }[], grace: number): number {
  const now = Date.now();
  let keepAfter = now - grace;
  for (const { record, lastHeartbeat } of experiments) {
    const lastSign = Math.max(lastHeartbeat?.getTime() ?? 0, Date.parse(record.updated) || 0);
    const alive = record.stopped === null && now - lastSign < Math.max(staleAfterMs(record), STARTING_WRITER_MS);
    if (alive) keepAfter = Math.min(keepAfter, Date.parse(record.created) - CLOCK_SKEW_MS);
  }
  for (const { modified } of heartbeats) {
    if (now - modified < STARTING_WRITER_MS) keepAfter = Math.min(keepAfter, now - DEFAULT_GC_GRACE_MS);
  }
  return keepAfter;
}

/**
 * Adds to `referenced` every object the readable records and this machine's spools refer to,
 * and to `live` every experiment they hold. Throws when a record or tree is unreadable.
 */
async function addReferences(storage: Storage, referenced: Set<string>, live: Set<string>): Promise<Awaited<ReturnType<typeof loadExperiments>>> {
  const loaded = await loadExperiments(storage);
  const { experiments, problems } = loaded;
  const corrupt = problems.filter((p) => p.key.startsWith(EXPERIMENTS_PREFIX));
  if (corrupt.length > 0) {
    throw new CairnError("CORRUPT", `gc stopped: ${corrupt.length} record(s) cannot be read, so what they refer to is unknown:\n${corrupt.map((p) => `  ${p.message}`).join("\n")}\nRepair or remove them ("cairn rm"), then run gc again.`);
  }
  const trees: { sha256: string; context: string }[] = [];
  for (const { record } of experiments) {
    live.add(record.id);
    if (record.code) trees.push({ sha256: record.code.sha256, context: `the code of experiment ${record.id.slice(0, 7)}` });
    if (record.git?.diff) referenced.add(record.git.diff);
    for (const checkpoint of record.checkpoints) {
      if (checkpoint.tree) trees.push({ sha256: checkpoint.tree.sha256, context: `checkpoint ${checkpoint.id.slice(0, 7)}` });
    }
  }
  // Experiments still being written on this machine, and not yet published, need their objects too.
  // (The spool code is loaded only here: `cairn gc`'s registration reads this module's default.)
  const { ExperimentSpool } = await import("./spool.js");
  for (const directory of await listSpools(storage.localStateDirectory())) {
    const state = await ExperimentSpool.open(directory).readJournal();
    if (!state) continue;
    live.add(state.record.id);
    for (const [sha256, tree] of state.trees) {
      referenced.add(sha256);
      for (const file of tree.files) {
        referenced.add(file.sha256);
        for (const chunk of file.chunks ?? []) referenced.add(chunkObject(chunk));
      }
    }
    for (const sha256 of state.objects) referenced.add(sha256);
    // Chunks of large files published from this spool, whose trees may not be published yet.
    for (const sha256 of await spoolChunkHashes(directory)) referenced.add(sha256);
  }
  await mapLimit(trees, 16, async ({ sha256, context }) => {
    if (referenced.has(sha256)) return;
    referenced.add(sha256);
    // An unreadable tree stops gc: its files' objects must not be taken for garbage.
    const tree = await readTree(storage, sha256, context);
    for (const file of tree.files) {
      referenced.add(file.sha256);
      for (const chunk of file.chunks ?? []) referenced.add(chunkObject(chunk));
    }
  });

  return loaded;
}

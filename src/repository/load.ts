import { CairnError, isCairnError } from "../errors.js";
import type { Storage } from "../storage/storage.js";
import { EXPERIMENTS_PREFIX, experimentIdOfKey, experimentKey, heartbeatIdOfKey, heartbeatKey, HEARTBEATS_PREFIX } from "./layout.js";
import { statusOf } from "./status.js";
import { parseExperimentRecord } from "./validate.js";
import type { ExperimentRecord, ExperimentStatus } from "./types.js";

/** An experiment as read: its record plus what only the reader knows. */
export interface LoadedExperiment {
  record: ExperimentRecord;
  status: ExperimentStatus;
  lastHeartbeat: Date | null;
}

/** Something unreadable in a repository: listed beside the healthy experiments, never fatal. */
export interface RepositoryProblem {
  key: string;
  experimentId: string | null;
  message: string;
}

/** Runs `work` over `items` with at most `limit` in flight. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * Records already parsed, by key, with the listing's etag they were read at. A long-lived reader
 * (the web UI's server) passes the same cache to every `loadExperiments` call so a refresh reads
 * and parses only the records that changed. Rebuildable from the repository at any time.
 */
export type RecordCache = Map<string, { etag: string; record: ExperimentRecord }>;

/**
 * Every experiment of a repository, with status. A corrupt record becomes a problem in the
 * result, so one bad experiment never hides the others. With a `cache`, records whose etag is
 * unchanged since the last call are not read again.
 *
 * @example
 * const { experiments, problems } = await loadExperiments(storage);
 */
export async function loadExperiments(storage: Storage, now = new Date(), cache?: RecordCache): Promise<{ experiments: LoadedExperiment[]; problems: RepositoryProblem[] }> {
  const keys: string[] = [];
  const etags = new Map<string, string>();
  const problems: RepositoryProblem[] = [];
  const heartbeats = new Map<string, Date>();
  await Promise.all([
    (async () => {
      for await (const info of storage.list(EXPERIMENTS_PREFIX)) {
        if (experimentIdOfKey(info.key)) {
          keys.push(info.key);
          etags.set(info.key, info.etag);
        }
        else problems.push({ key: info.key, experimentId: null, message: `unexpected object ${info.key} in experiments/` });
      }
    })(),
    (async () => {
      for await (const info of storage.list(HEARTBEATS_PREFIX)) {
        const id = heartbeatIdOfKey(info.key);
        if (id) heartbeats.set(id, info.modified);
      }
    })(),
  ]);
  const loaded = await mapLimit(keys, 32, async (key) => {
    const id = experimentIdOfKey(key)!;
    try {
      const etag = etags.get(key)!;
      const cached = cache?.get(key);
      let record: ExperimentRecord;
      if (cached && cached.etag === etag) {
        record = cached.record;
      } else {
        const bytes = await storage.get(key);
        if (bytes === null) return null; // removed while we listed
        record = parseExperimentRecord(bytes, key);
        cache?.set(key, { etag, record });
      }
      const lastHeartbeat = heartbeats.get(id) ?? null;
      return { record, lastHeartbeat, status: statusOf(record, lastHeartbeat, now) };
    } catch (error) {
      if (!isCairnError(error, "CORRUPT")) throw error;
      problems.push({ key, experimentId: id, message: error.message });
      return null;
    }
  });
  if (cache) for (const key of [...cache.keys()]) if (!etags.has(key)) cache.delete(key);
  const experiments = loaded.filter((e): e is LoadedExperiment => e !== null);
  experiments.sort((a, b) => (a.record.created < b.record.created ? 1 : a.record.created > b.record.created ? -1 : 0));
  return { experiments, problems };
}

/**
 * One experiment by full ID; null when absent.
 *
 * @example
 * const experiment = await loadExperiment(storage, "e510303c…");
 */
export async function loadExperiment(storage: Storage, id: string, now = new Date()): Promise<LoadedExperiment | null> {
  const [bytes, heartbeat] = await Promise.all([storage.get(experimentKey(id)), storage.stat(heartbeatKey(id))]);
  if (bytes === null) return null;
  const record = parseExperimentRecord(bytes, experimentKey(id));
  const lastHeartbeat = heartbeat?.modified ?? null;
  return { record, lastHeartbeat, status: statusOf(record, lastHeartbeat, now) };
}

/** What an ID prefix resolved to. */
export type Resolved =
  | { kind: "experiment"; experiment: LoadedExperiment }
  | { kind: "checkpoint"; experiment: LoadedExperiment; checkpointIndex: number };

/**
 * Resolves an experiment or checkpoint ID, or any unique prefix of one. An ambiguous prefix is
 * an error listing the candidates.
 *
 * @example
 * const found = resolveId(experiments, "e5103", ["experiment", "checkpoint"]);
 */
export function resolveId(experiments: LoadedExperiment[], prefix: string, kinds: ("experiment" | "checkpoint")[]): Resolved {
  const wanted = checkPrefix(prefix);
  const matches: Resolved[] = [];
  for (const experiment of experiments) {
    if (kinds.includes("experiment") && experiment.record.id.startsWith(wanted)) matches.push({ kind: "experiment", experiment });
    if (kinds.includes("checkpoint")) {
      experiment.record.checkpoints.forEach((checkpoint, checkpointIndex) => {
        if (checkpoint.id.startsWith(wanted)) matches.push({ kind: "checkpoint", experiment, checkpointIndex });
      });
    }
  }
  const what = kinds.length === 2 ? "experiment or checkpoint" : kinds[0]!;
  return pickUnique(matches, prefix, what, (m) => ({ kind: m.kind, id: idOf(m), experiment: m.experiment.record.id }));
}

/**
 * Resolves an experiment ID or unique prefix among listed experiments (summaries), with the
 * same errors as `resolveId`.
 *
 * @example
 * const listed = resolveExperimentId(experiments, "e5103");
 */
export function resolveExperimentId<T extends { summary: { id: string } }>(experiments: T[], prefix: string): T {
  const wanted = checkPrefix(prefix);
  const matches = experiments.filter((e) => e.summary.id.startsWith(wanted));
  return pickUnique(matches, prefix, "experiment", (e) => ({ kind: "experiment", id: e.summary.id, experiment: e.summary.id }));
}

function checkPrefix(prefix: string): string {
  const wanted = prefix.trim().toLowerCase();
  if (!/^[0-9a-f]+$/.test(wanted)) {
    throw new CairnError("INVALID_ARGUMENT", `"${prefix}" is not an ID: IDs are hexadecimal, like e510303. Run "cairn ls" to see them.`);
  }
  return wanted;
}

/** The one match (an exact ID wins over longer ones), or NOT_FOUND / AMBIGUOUS_ID listing the candidates. */
function pickUnique<T>(matches: T[], prefix: string, what: string, describe: (match: T) => { kind: string; id: string; experiment: string }): T {
  const wanted = prefix.trim().toLowerCase();
  const exact = matches.filter((m) => describe(m).id === wanted);
  const chosen = exact.length === 1 ? exact : matches;
  if (chosen.length === 0) {
    throw new CairnError("NOT_FOUND", `No ${what} has an ID starting with "${prefix}". Run "cairn ls" to see the experiments.`, { details: { prefix } });
  }
  if (chosen.length > 1) {
    const candidates = chosen.map(describe);
    const lines = candidates.slice(0, 20).map((c) => `  ${c.kind} ${c.id}${c.kind === "checkpoint" ? ` (experiment ${c.experiment.slice(0, 7)})` : ""}`);
    throw new CairnError(
      "AMBIGUOUS_ID",
      `"${prefix}" matches ${chosen.length} IDs; give more digits:\n${lines.join("\n")}${candidates.length > 20 ? `\n  … and ${candidates.length - 20} more` : ""}`,
      { details: { prefix, candidates } },
    );
  }
  return chosen[0]!;
}

function idOf(resolved: Resolved): string {
  return resolved.kind === "experiment" ? resolved.experiment.record.id : resolved.experiment.record.checkpoints[resolved.checkpointIndex]!.id;
}

import * as fs from "node:fs/promises";
import * as path from "node:path";
import { randomBytes } from "node:crypto";
import type { Repository } from "../../api/repository.js";
import { heartbeatsOf, LISTED_FOLDERS } from "../../repository/list-summaries.js";
import type { RepositoryProblem } from "../../repository/load.js";
import { statusOf } from "../../repository/status.js";
import type { ExperimentSummary, Json, PrimaryMetric } from "../../repository/types.js";
import type { CheckpointFacts } from "../output/describe.js";
import { fromSummary, type TableExperiment } from "./listing-rows.js";

/** Bumped when the file's shape changes; a file of another version is ignored (and rewritten). */
const FILE_VERSION = 1;

/** A row as kept on disk: what the table shows, plus what its status is computed from. */
interface StoredRow {
  id: string;
  created: string;
  stopped: string | null;
  updated: string;
  heartbeatIntervalMs: number;
  user: string | null;
  host: string | null;
  params: Json;
  primaryMetric: PrimaryMetric | null;
  best: CheckpointFacts | null;
  latest: CheckpointFacts | null;
}

/**
 * The rows of the plain `cairn ls` table (no filter, no sort), newest first. In a local folder
 * they are kept in `local/records/ls-table.json` with the folders' version
 * (Storage.folderVersion) taken before the listing they came from; while the version is the
 * same, nothing was added, replaced or removed in `experiments/` or `summaries/`, and the rows
 * are read from that file: a third of the bytes of the full summaries, which is what a second
 * `cairn ls` of 10,000 experiments spends most of its time parsing. Statuses are computed again
 * every time (they depend on the clock and on the heartbeats of experiments not stopped).
 * Elsewhere, or when the folders changed, the summaries are listed as usual.
 *
 * @example
 * const { rows, problems } = await plainListingRows(repository);
 */
export async function plainListingRows(repository: Repository): Promise<{ rows: TableExperiment[]; problems: RepositoryProblem[] }> {
  const storage = repository.storage;
  // Taken before listing, as listSummaries does: a change made meanwhile gives another version.
  const version = storage.folderVersion?.(LISTED_FOLDERS) ?? null;
  const file = path.join(storage.localStateDirectory(), "records", "ls-table.json");
  if (version !== null) {
    const stored = await readRows(file, version);
    if (stored !== null) {
      const now = new Date();
      const heartbeats = await heartbeatsOf(storage, stored.filter((row) => row.stopped === null).map((row) => row.id));
      return { rows: stored.map((row) => tableRow(row, statusOf(row, heartbeats.get(row.id) ?? null, now))), problems: [] };
    }
  }
  const listed = await repository.listSummaries();
  // A listing with problems is not kept: they are found, and reported, by listing again.
  if (version !== null && listed.problems.length === 0) {
    await writeRows(file, version, listed.experiments.map(({ summary }) => storedRow(summary))).catch(() => {
      // A read-only folder only makes the next listing slower.
    });
  }
  return { rows: listed.experiments.map(fromSummary), problems: listed.problems };
}

function storedRow(summary: ExperimentSummary): StoredRow {
  return {
    id: summary.id,
    created: summary.created,
    stopped: summary.stopped,
    updated: summary.updated,
    heartbeatIntervalMs: summary.heartbeatIntervalMs,
    user: summary.environment?.user ?? null,
    host: summary.environment?.host ?? null,
    params: summary.params,
    primaryMetric: summary.primaryMetric,
    best: summary.best === null ? null : facts(summary.best.checkpoint),
    latest: summary.latest === null ? null : facts(summary.latest),
  };
}

function facts(checkpoint: CheckpointFacts): CheckpointFacts {
  return { id: checkpoint.id, step: checkpoint.step, metrics: checkpoint.metrics };
}

function tableRow(row: StoredRow, status: TableExperiment["status"]): TableExperiment {
  return { id: row.id, created: new Date(row.created), status, user: row.user, host: row.host, params: row.params, primaryMetric: row.primaryMetric, best: row.best, latest: row.latest };
}

/** The rows kept for `version`, or null when there are none (missing, torn, another version). */
async function readRows(file: string, version: string): Promise<StoredRow[] | null> {
  try {
    const stored = JSON.parse((await fs.readFile(file)).toString("utf8")) as { version?: unknown; folderVersion?: unknown; rows?: unknown };
    // Trusted no further than its shape: the file is ours, on our disk.
    return stored.version === FILE_VERSION && stored.folderVersion === version && Array.isArray(stored.rows) ? (stored.rows as StoredRow[]) : null;
  } catch {
    return null;
  }
}

async function writeRows(file: string, version: string, rows: StoredRow[]): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const temporary = `${file}.tmp-${randomBytes(4).toString("hex")}`;
  await fs.writeFile(temporary, JSON.stringify({ version: FILE_VERSION, folderVersion: version, rows }));
  await fs.rename(temporary, file);
}

import * as fs from "node:fs/promises";
import * as path from "node:path";
import { randomBytes } from "node:crypto";
import type { Repository } from "../../api/repository.js";
import { heartbeatsOf, LISTED_FOLDERS } from "../../repository/list-summaries.js";
import type { RepositoryProblem } from "../../repository/load.js";
import { statusOf } from "../../repository/status.js";
import type { ExperimentSummary, Json, StoredMetric } from "../../repository/types.js";
import { shortId, type CheckpointFacts } from "../output/describe.js";
import { fromSummary, type TableExperiment } from "./listing-rows.js";

/** Bumped when the file's shape changes; a file of another version is ignored (and rewritten). */
const FILE_VERSION = 2;

/**
 * A row as kept on disk: only what the table shows, plus what its status is computed from, as
 * an array (no key names to parse 10,000 times):
 * `[id, created (ms), liveness, user, host, params, primary metric name, best, latest]`, where
 * liveness is null for a stopped experiment, else `[updated, heartbeatIntervalMs]`, and a
 * checkpoint is `[short id, step, value of the primary metric or null]` or null.
 */
type StoredRow = [
  id: string,
  created: number,
  liveness: [updated: string, heartbeatIntervalMs: number] | null,
  user: string | null,
  host: string | null,
  params: Json,
  primary: string | null,
  best: StoredCheckpoint | null,
  latest: StoredCheckpoint | null,
];
type StoredCheckpoint = [id: string, step: number, value: StoredMetric | null];

/**
 * The rows of the plain `cairn ls` table (no filter, no sort), newest first. In a local folder
 * they are kept in `local/records/ls-table.json` with the folders' version
 * (Storage.folderVersion) taken before the listing they came from; while the version is the
 * same, nothing was added, replaced or removed in `experiments/` or `summaries/`, and the rows
 * are read from that file: a sixth of the bytes of the full summaries, which is what a second
 * `cairn ls` of 10,000 experiments spent most of its time parsing. Statuses are computed again
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
      const heartbeats = await heartbeatsOf(storage, stored.filter((row) => row[2] !== null).map((row) => row[0]));
      return { rows: stored.map((row) => tableRow(row, heartbeats.get(row[0]) ?? null, now)), problems: [] };
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
  const primary = summary.primaryMetric?.name ?? null;
  const checkpoint = (facts: CheckpointFacts | null): StoredCheckpoint | null =>
    facts === null ? null : [shortId(facts.id), facts.step, primary !== null && primary in facts.metrics ? facts.metrics[primary]! : null];
  return [
    summary.id,
    Date.parse(summary.created),
    summary.stopped === null ? [summary.updated, summary.heartbeatIntervalMs] : null,
    summary.environment?.user ?? null,
    summary.environment?.host ?? null,
    summary.params,
    primary,
    checkpoint(summary.best?.checkpoint ?? null),
    checkpoint(summary.latest),
  ];
}

function tableRow([id, created, liveness, user, host, params, primary, best, latest]: StoredRow, heartbeat: Date | null, now: Date): TableExperiment {
  const status = liveness === null ? "stopped" : statusOf({ stopped: null, updated: liveness[0], heartbeatIntervalMs: liveness[1] }, heartbeat, now);
  const primaryMetric = primary === null ? null : { name: primary };
  const checkpoint = (stored: StoredCheckpoint | null): CheckpointFacts | null =>
    stored === null ? null : { id: stored[0], step: stored[1], metrics: primary === null || stored[2] === null ? {} : { [primary]: stored[2] } };
  return { id, created: new Date(created), status, user, host, params, primaryMetric, best: checkpoint(best), latest: checkpoint(latest) };
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

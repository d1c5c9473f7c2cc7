import * as fs from "node:fs/promises";
import * as path from "node:path";
import { randomBytes } from "node:crypto";
import type { Repository } from "../../api/repository.js";
import { heartbeatsOf, LISTED_FOLDERS, listFolders, listingDigest } from "../../repository/list-summaries.js";
import { isRemoteUrl } from "../../storage/cache-directory.js";
import type { RepositoryProblem } from "../../repository/load.js";
import { statusOf } from "../../repository/status.js";
import type { ExperimentStatus, ExperimentSummary } from "../../repository/types.js";
import { packageVersion } from "../program.js";
import { fromSummary } from "./listing-rows.js";
import { listingTable, type ListingLayout, type ListingTable } from "./listing-table.js";

/**
 * Bumped when the file's shape changes, or what a cell shows (listing-table.ts and the
 * formatting it uses): a file of another version is ignored (and rewritten). Files are also
 * tied to the Cairn version that wrote them, so an upgrade never shows an older formatting.
 */
const FILE_VERSION = 3;

/** What a row's status is computed from: null for a stopped experiment, else `[updated, heartbeatIntervalMs]`. */
type Liveness = [updated: string, heartbeatIntervalMs: number] | null;

/** The file: the table (laid out in both layouts) and each row's liveness. */
interface StoredTable {
  version: number;
  cairn: string;
  folderVersion: string;
  table: ListingTable;
  liveness: Liveness[];
}

/** The plain `cairn ls` listing: IDs, the table (laid out when first asked for), each row's status, and the problems met listing it. */
export interface PlainListing {
  ids: string[];
  table: () => ListingTable;
  statuses: ExperimentStatus[];
  problems: RepositoryProblem[];
}

/**
 * The plain `cairn ls` table (no filter, no sort), newest first. It is kept in
 * `records/ls-table.json` of the repository's local state folder with a version of the listing
 * it came from: in a local folder, the folders' version (Storage.folderVersion) taken before
 * the listing; in a bucket, the digest of the listing's keys and etags (listingDigest, after
 * the LIST requests a listing sends anyway). While the version is the same, nothing was added,
 * replaced or removed in `experiments/` or `summaries/`, and the table is read from that file
 * with its rows already laid out after STATUS (a second `cairn ls` of 10,000 experiments spent
 * most of its time parsing summaries and formatting cells: in a bucket, parsing the 15 MB of
 * kept summaries alone took a quarter of a second). Statuses are computed again every time (they
 * depend on the clock and on the heartbeats of experiments not stopped), and STARTED is made
 * when shown. When the version changed, the summaries are listed as usual (a bucket's from the
 * listing already taken).
 *
 * @example
 * const { ids, table, statuses, problems } = await plainListing(repository);
 */
export async function plainListing(repository: Repository): Promise<PlainListing> {
  const storage = repository.storage;
  // A local folder's version is taken before listing, as listSummaries does: a change made
  // meanwhile gives another version. A bucket has none without listing: its version is the
  // digest of the listing itself, which then feeds the listing of summaries if it changed.
  const local = storage.folderVersion?.(LISTED_FOLDERS) ?? null;
  const listing = local === null && isRemoteUrl(storage.url) ? await listFolders(storage) : undefined;
  const version = local ?? (listing ? `listing:${listingDigest(listing)}` : null);
  const file = path.join(storage.localStateDirectory(), "records", "ls-table.json");
  if (version !== null) {
    const stored = await readTable(file, version);
    if (stored !== null) {
      const now = new Date();
      const ids = stored.table.ids;
      const live: string[] = [];
      for (let row = 0; row < ids.length; row++) if (stored.liveness[row] !== null) live.push(ids[row]!);
      const heartbeats = await heartbeatsOf(storage, live);
      const statuses = stored.liveness.map((liveness, row): ExperimentStatus =>
        liveness === null ? "stopped" : statusOf({ stopped: null, updated: liveness[0], heartbeatIntervalMs: liveness[1] }, heartbeats.get(ids[row]!) ?? null, now),
      );
      return { ids, table: () => stored.table, statuses, problems: [] };
    }
  }
  const listed = await repository.listSummaries({ listing });
  const rows = listed.experiments.map(fromSummary);
  // Laid out only when printed or kept: `cairn ls -q` of a bucket prints IDs only, and laying
  // out 10,000 rows in both layouts took most of a warm listing's time there.
  let laidOut: ListingTable | null = null;
  const table = (): ListingTable => (laidOut ??= listingTable(rows));
  // A listing with problems is not kept: they are found, and reported, by listing again.
  if (version !== null && listed.problems.length === 0) {
    const liveness = listed.experiments.map(({ summary }) => livenessOf(summary));
    await writeTable(file, { version: FILE_VERSION, cairn: packageVersion(), folderVersion: version, table: table(), liveness }).catch(() => {
      // A read-only folder only makes the next listing slower.
    });
  }
  return { ids: rows.map((row) => row.id), table, statuses: rows.map((row) => row.status), problems: listed.problems };
}

function livenessOf(summary: ExperimentSummary): Liveness {
  return summary.stopped === null ? [summary.updated, summary.heartbeatIntervalMs] : null;
}

/** The table kept for `version`, or null when there is none (missing, torn, another version or Cairn). */
async function readTable(file: string, version: string): Promise<StoredTable | null> {
  try {
    const stored = JSON.parse((await fs.readFile(file)).toString("utf8")) as Partial<StoredTable>;
    if (stored.version !== FILE_VERSION || stored.cairn !== packageVersion() || stored.folderVersion !== version) return null;
    // Trusted no further than its shape: the file is ours, on our disk.
    const { table, liveness } = stored;
    const rows = Array.isArray(table?.ids) ? table.ids.length : -1;
    const laidOut = (layout: ListingLayout | undefined): boolean =>
      Array.isArray(layout?.headers) && Array.isArray(layout.widths) && layout.widths.length === layout.headers.length && Array.isArray(layout.tails) && layout.tails.length === rows;
    const whole = rows >= 0 && Array.isArray(table!.created) && table!.created.length === rows && Array.isArray(liveness) && liveness.length === rows && laidOut(table!.plain) && laidOut(table!.all);
    return whole ? (stored as StoredTable) : null;
  } catch {
    return null;
  }
}

async function writeTable(file: string, stored: StoredTable): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const temporary = `${file}.tmp-${randomBytes(4).toString("hex")}`;
  await fs.writeFile(temporary, JSON.stringify(stored));
  await fs.rename(temporary, file);
}

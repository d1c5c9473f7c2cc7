import { createHash } from "node:crypto";
import { isCairnError } from "../errors.js";
import type { ObjectInfo, Storage } from "../storage/storage.js";
import {
  EXPERIMENTS_PREFIX,
  experimentIdOfKey,
  experimentKey,
  heartbeatIdOfKey,
  heartbeatKey,
  HEARTBEATS_PREFIX,
  SUMMARIES_PREFIX,
  summaryIdOfKey,
  summaryKey,
} from "./layout.js";
import { mapLimit, type RepositoryProblem } from "./load.js";
import { statusOf } from "./status.js";
import { summarize } from "./summary.js";
import { parseExperimentRecord, parseExperimentSummaryBytes } from "./validate.js";
import type { ExperimentStatus, ExperimentSummary } from "./types.js";

/** An experiment as a listing reads it: its summary plus what only the reader knows. */
export interface ListedExperiment {
  summary: ExperimentSummary;
  status: ExperimentStatus;
  lastHeartbeat: Date | null;
}

/**
 * Summaries already read, by the key they came from (`summaries/<id>.json`, or the record's key
 * for an experiment without a usable summary), with that object's etag. A long-lived reader
 * passes the same cache to every call; repositories also keep it on local disk (see
 * summary-cache-store.ts). Rebuildable from the repository at any time.
 *
 * `folderVersion` is the storage's token for `experiments/` and `summaries/` taken before the
 * listing that left exactly these entries (with no problem): while the folders still have that
 * token, nothing was added, replaced or removed there, and the entries are the listing.
 *
 * An entry may carry `text`: the bytes (or string) its summary was parsed from, when they give
 * exactly that summary (parseExperimentSummaryBytes), so that a store can write them instead of
 * serialising the summary again.
 */
export interface SummaryCache extends Map<string, SummaryCacheEntry> {
  folderVersion?: string;
}

/** A summary read, by the etag of the object it came from. */
export interface SummaryCacheEntry {
  etag: string;
  summary: ExperimentSummary;
  text?: Buffer | string;
}

/**
 * The folders whose contents make a listing, as Storage.folderVersion takes them: a cache of
 * anything derived from a listing is valid while their version is unchanged.
 */
export const LISTED_FOLDERS: readonly string[] = [EXPERIMENTS_PREFIX, SUMMARIES_PREFIX];

/**
 * What a remote repository's listing is made of: every object in `experiments/` and in
 * `summaries/`, with its etag (one LIST per 1,000 keys, sharded: listSharded). Taken once, it
 * both tells whether anything changed (listingDigest) and feeds the listing (listSummaries).
 */
export interface FolderListing {
  records: ObjectInfo[];
  summaries: ObjectInfo[];
}

/**
 * Lists `experiments/` and `summaries/` of a storage with no cheap local walk (a bucket).
 *
 * @example
 * const listing = await listFolders(storage); // { records: [...], summaries: [...] }
 */
export async function listFolders(storage: Storage): Promise<FolderListing> {
  const [records, summaries] = await Promise.all([collectSharded(storage, EXPERIMENTS_PREFIX), collectSharded(storage, SUMMARIES_PREFIX)]);
  return { records, summaries };
}

/**
 * A token for a listing: the SHA-256 of every key with its etag. Equal tokens mean no record or
 * summary was added, replaced or removed between the two listings (an object's etag changes with
 * its contents), so anything derived from the one listing stands for the other: what
 * Storage.folderVersion gives a local folder without listing, a bucket gives for a listing.
 *
 * @example
 * if (listingDigest(await listFolders(storage)) === kept.version) { … the kept table is current … }
 */
export function listingDigest(listing: FolderListing): string {
  const lines = [...listing.records, ...listing.summaries].map((info) => `${info.key} ${info.etag}`).sort();
  return createHash("sha256").update(lines.join("\n")).digest("hex");
}

/**
 * Every experiment of a repository as summaries, newest first: what `cairn ls`, `cairn ps`,
 * `experiments.list()` and the web UI's table read. An experiment whose summary is missing
 * (written before format 1.1), older than its record (its writer died between the two writes)
 * or corrupt is summarised from its record instead. A corrupt record becomes a problem in the
 * result, so one bad experiment never hides the others. With a `cache`, objects whose etag is
 * unchanged since the last call are not read again: an unchanged repository costs only the
 * listings of records and summaries, plus the heartbeats of experiments not stopped; in a local
 * folder whose `experiments/` and `summaries/` have had nothing added, replaced or removed since
 * the cache's listing (Storage.folderVersion), not even the listings.
 *
 * @example
 * const { experiments, problems } = await listSummaries(storage);
 * experiments[0].summary.best?.checkpoint.metrics; // { loss: 0.21 }
 */
export async function listSummaries(storage: Storage, now = new Date(), cache?: SummaryCache, listing?: FolderListing): Promise<{ experiments: ListedExperiment[]; problems: RepositoryProblem[] }> {
  // Taken before listing: a change made while we list gives the folders another token, so the
  // next call lists again rather than trusting a listing that may have missed it.
  const version = cache && storage.folderVersion ? storage.folderVersion(LISTED_FOLDERS) : null;
  if (cache && version !== null && cache.folderVersion === version) {
    return withStatus(storage, [...cache.values()].map((entry) => entry.summary), [], now);
  }
  const listed = await readSummaries(storage, cache, listing);
  if (cache) {
    // A listing with problems is not kept as a whole: they are found again by listing.
    if (version !== null && listed.problems.length === 0) cache.folderVersion = version;
    else delete cache.folderVersion;
  }
  return withStatus(storage, listed.found, listed.problems, now);
}

/**
 * The summary of every experiment, read from the listed folders: unchanged ones (same etag)
 * from `cache`, the others from storage. Leaves in `cache` exactly the entries this listing used.
 */
async function readSummaries(storage: Storage, cache?: SummaryCache, listing?: FolderListing): Promise<{ found: ExperimentSummary[]; problems: RepositoryProblem[] }> {
  // Where listing keys alone is much cheaper (a local folder: no stat per file), records are
  // listed by name, and a record is stat-ed only when it must be read.
  const namesOnly = storage.listKeys !== undefined && listing === undefined;
  // Summaries too, when nothing is cached (the first listing, or one after copying a
  // repository): no etag is compared, and each one's comes from reading it (getWithInfo), which
  // spares a stat per summary.
  const summariesByName = namesOnly && (cache === undefined || (cache.size === 0 && storage.getWithInfo !== undefined));
  const records = new Map<string, ObjectInfo | null>();
  /** Listed summaries by experiment ID; null when listed by name only. */
  const summaries = new Map<string, ObjectInfo | null>();
  const problems: RepositoryProblem[] = [];
  await Promise.all([
    (async () => {
      const add = (id: string | null, key: string, info: ObjectInfo | null): void => {
        if (id) records.set(id, info);
        else problems.push({ key, experimentId: null, message: `unexpected object ${key} in experiments/` });
      };
      if (namesOnly) for await (const key of storage.listKeys!(EXPERIMENTS_PREFIX)) add(experimentIdOfKey(key), key, null);
      else for (const info of listing?.records ?? (await collectSharded(storage, EXPERIMENTS_PREFIX))) add(experimentIdOfKey(info.key), info.key, info);
    })(),
    (async () => {
      const add = (id: string | null, info: ObjectInfo | null): void => {
        if (id) summaries.set(id, info);
      };
      if (summariesByName) for await (const key of storage.listKeys!(SUMMARIES_PREFIX)) add(summaryIdOfKey(key), null);
      else for (const info of listing?.summaries ?? (await collectSharded(storage, SUMMARIES_PREFIX))) add(summaryIdOfKey(info.key), info);
    })(),
  ]);

  const used = new Set<string>();
  /**
   * Reads `key` unless the cache has it with this etag (null: not known before reading); null
   * when it was removed since the listing.
   */
  const read = async (key: string, etag: string | null, parse: (bytes: Buffer) => { summary: ExperimentSummary; text?: Buffer }): Promise<ExperimentSummary | null> => {
    const cached = cache?.get(key);
    if (cached && cached.etag === etag) {
      used.add(key);
      return cached.summary;
    }
    let bytes: Buffer | null;
    if (etag === null && cache && storage.getWithInfo) {
      const got = await storage.getWithInfo(key);
      bytes = got?.body ?? null;
      etag = got?.info.etag ?? null;
    } else {
      bytes = await storage.get(key);
    }
    if (bytes === null) return null; // removed since the listing
    const { summary, text } = parse(bytes);
    // An etag not known (no cache to keep it in) is not needed.
    if (cache && etag !== null) cache.set(key, text === undefined ? { etag, summary } : { etag, summary, text });
    used.add(key);
    return summary;
  };

  // Summaries unchanged since the last call are taken synchronously: a promise per experiment
  // costs more than the lookup when 10,000 are unchanged.
  const slow: string[] = [];
  const found: ExperimentSummary[] = [];
  for (const [id, recordInfo] of records) {
    const summaryInfo = summaries.get(id);
    const cached = summaryInfo && cache?.get(summaryInfo.key);
    if (!summaryInfo || !isFresh(summaryInfo, recordInfo) || !cached || cached.etag !== summaryInfo.etag) {
      slow.push(id);
      continue;
    }
    used.add(summaryInfo.key);
    found.push(cached.summary);
  }

  // A first listing of a local folder reads every summary: all at once, on two threads, each
  // batch parsed as it arrives (readInBulk). What is left (no summary, or a damaged one) is
  // read one by one below.
  const bulk = summariesByName && storage.getManyWithInfo ? await readInBulk(storage, slow, summaries, cache, used) : null;

  // Those read in bulk are taken here, synchronously: a promise each cost more than the rest.
  const rest: string[] = [];
  for (const id of slow) {
    const early = bulk?.get(id);
    if (early) found.push(early);
    else rest.push(id);
  }
  const readSlowly = await mapLimit(rest, 64, async (id): Promise<ExperimentSummary | null> => {
    const early = bulk?.get(id);
    const recordKey = experimentKey(id);
    const recordInfo = records.get(id) ?? null;
    let summary: ExperimentSummary | null = null;
    const summaryInfo = summaries.get(id);
    // (A summary read in bulk and not usable, early === null, is not read again.)
    if (early === undefined && summaryInfo !== undefined && isFresh(summaryInfo, recordInfo)) {
      const key = summaryKey(id);
      try {
        summary = await read(key, summaryInfo?.etag ?? null, (bytes) => parseSummary(bytes, key));
      } catch (error) {
        if (!isCairnError(error, "CORRUPT")) throw error;
        // The record is the truth; a damaged summary only costs reading it.
      }
    }
    if (summary === null) {
      try {
        const info = recordInfo ?? (await storage.stat(recordKey));
        if (info === null) return null; // removed since the listing
        summary = await read(recordKey, info.etag, (bytes) => ({ summary: summarize(parseExperimentRecord(bytes, recordKey)) }));
      } catch (error) {
        if (!isCairnError(error, "CORRUPT")) throw error;
        problems.push({ key: recordKey, experimentId: id, message: error.message });
        return null;
      }
      if (summary === null) return null; // removed since the listing
    }
    return summary;
  });
  for (const summary of readSlowly) if (summary !== null) found.push(summary);
  if (cache) for (const key of [...cache.keys()]) if (!used.has(key)) cache.delete(key);
  return { found, problems };
}

/**
 * The summaries of `ids` that are listed in `summaries` (by name: a local folder's first
 * listing), read with Storage.getManyWithInfo and parsed as each batch arrives, by experiment
 * ID; like `read` in readSummaries, each goes into `cache` (with its bytes, when they give
 * exactly that summary) and into `used`. A summary removed since the listing or damaged is null,
 * for the caller to summarise the record instead.
 */
async function readInBulk(storage: Storage, ids: string[], summaries: Map<string, ObjectInfo | null>, cache: SummaryCache | undefined, used: Set<string>): Promise<Map<string, ExperimentSummary | null>> {
  const read = new Map<string, ExperimentSummary | null>();
  const keys: string[] = [];
  const idOfKey = new Map<string, string>();
  for (const id of ids) {
    if (!summaries.has(id)) continue;
    const key = summaryKey(id);
    keys.push(key);
    idOfKey.set(key, id);
  }
  for await (const batch of storage.getManyWithInfo!(keys)) {
    for (const { key, object } of batch) {
      read.set(idOfKey.get(key)!, null);
      if (object === null) continue; // removed since the listing
      try {
        const { summary, text } = parseSummary(object.body, key);
        if (cache) cache.set(key, text === undefined ? { etag: object.info.etag, summary } : { etag: object.info.etag, summary, text });
        used.add(key);
        read.set(idOfKey.get(key)!, summary);
      } catch (error) {
        if (!isCairnError(error, "CORRUPT")) throw error;
        // The record is the truth; a damaged summary only costs reading it.
      }
    }
  }
  return read;
}

/** A summary parsed and checked, with its bytes when they give exactly that summary (what a cache keeps as its text). */
function parseSummary(bytes: Buffer, key: string): { summary: ExperimentSummary; text?: Buffer } {
  const { summary, exact } = parseExperimentSummaryBytes(bytes, key);
  return exact ? { summary, text: bytes } : { summary };
}

/** Listed experiments with their status, newest first: heartbeats are asked for those not stopped. */
async function withStatus(storage: Storage, found: ExperimentSummary[], problems: RepositoryProblem[], now: Date): Promise<{ experiments: ListedExperiment[]; problems: RepositoryProblem[] }> {
  const heartbeats = await heartbeatsOf(storage, found.filter((summary) => summary.stopped === null).map((summary) => summary.id));
  const experiments = found.map((summary): ListedExperiment => {
    const lastHeartbeat = heartbeats.get(summary.id) ?? null;
    return { summary, lastHeartbeat, status: statusOf(summary, lastHeartbeat, now) };
  });
  experiments.sort((a, b) => (a.summary.created < b.summary.created ? 1 : a.summary.created > b.summary.created ? -1 : 0));
  return { experiments, problems };
}

/**
 * Whether a listed summary may stand for its record. The writer puts the summary after the
 * record, so an older summary missed the last write (its writer died in between, on a machine
 * that may never come back). Without the record's time (a local folder, listed by name only),
 * the next Cairn process on the writer's machine has already replayed its spool, which rewrites
 * both.
 */
function isFresh(summary: ObjectInfo | null, record: ObjectInfo | null): boolean {
  // A summary listed by name only has no time: then neither has its record (a local folder).
  return record === null || summary === null || summary.modified.getTime() >= record.modified.getTime();
}

/**
 * The storage times of the heartbeats of `ids` (experiments not stopped: a stopped one's status
 * does not depend on it). Asked one by one when they are few, which spares a bucket's listing of
 * every heartbeat; listed when they are many.
 *
 * @example
 * const times = await heartbeatsOf(storage, ["e510303c2a9f4d0b8e7f1a2b3c4d5e6f"]);
 */
export async function heartbeatsOf(storage: Storage, ids: string[]): Promise<Map<string, Date>> {
  const times = new Map<string, Date>();
  if (ids.length > 64 && storage.listKeys === undefined) {
    const wanted = new Set(ids);
    for await (const info of listSharded(storage, HEARTBEATS_PREFIX)) {
      const id = heartbeatIdOfKey(info.key);
      if (id && wanted.has(id)) times.set(id, info.modified);
    }
    return times;
  }
  await mapLimit(ids, 16, async (id) => {
    const info = await storage.stat(heartbeatKey(id));
    if (info) times.set(id, info.modified);
  });
  return times;
}

/**
 * Every object under `prefix`, listed as 16 listings in parallel, one per first hex digit of the
 * IDs that follow it (and one for anything else), when the storage has no cheap local walk. A
 * bucket returns at most 1,000 keys per request, one page after the other: 10,000 experiments
 * would be 10 round trips in a row per prefix; split, about one.
 */
async function* listSharded(storage: Storage, prefix: string): AsyncIterable<ObjectInfo> {
  if (storage.listKeys !== undefined) {
    yield* storage.list(prefix);
    return;
  }
  // Keys that do not start with a hex digit are no experiment's and are not listed here
  // (`cairn verify` reports them).
  const shards = [..."0123456789abcdef"].map((digit) => collect(storage.list(`${prefix}${digit}`)));
  for (const shard of await Promise.all(shards)) yield* shard;
}

/** listSharded, collected. */
function collectSharded(storage: Storage, prefix: string): Promise<ObjectInfo[]> {
  return collect(listSharded(storage, prefix));
}

/** Every item of an async iterable, in order (Array.fromAsync arrives with Node 22). */
async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const found: T[] = [];
  for await (const item of items) found.push(item);
  return found;
}

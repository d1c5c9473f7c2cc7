import { createHash } from "node:crypto";
import { isCairnError } from "../errors.js";
import type { Storage } from "../storage/storage.js";
import { checkFormat } from "./format.js";
import { shortId } from "./ids.js";
import { EXPERIMENTS_PREFIX, experimentIdOfKey, experimentKey, objectHashOfKey, objectKey, OBJECTS_PREFIX, SUMMARIES_PREFIX, summaryIdOfKey } from "./layout.js";
import { summarize } from "./summary.js";
import { mapLimit } from "./load.js";
import { hashBytes } from "./hash.js";
import { parseExperimentRecord, parseExperimentSummary, parseTree } from "./validate.js";
import { openFileStream } from "./objects.js";
import { chunkObject } from "./packs.js";
import type { ExperimentRecord, ExperimentSummary, Tree, TreeEntry, TreeRef } from "./types.js";

/**
 * `cairn verify`: checks a whole repository, the way a reader with only `sha256sum` and `jq`
 * would (docs/FORMAT.md): the format marker, every record, every tree, and the bytes of every
 * object, referenced or not. It never stops at the first problem: each one is reported, naming
 * the object and the experiment it damages, so the user can tell which runs are affected.
 */
export type VerifyProblemKind =
  | "format" // cairn.json is unreadable, or missing while records exist
  | "record" // an experiment record is not valid JSON, has wrong types, or disagrees with itself
  | "summary" // an experiment's summary is damaged, or disagrees with its record (listings then read the record)
  | "tree" // a tree object does not parse, or disagrees with the record's totals
  | "missing" // a referenced object is absent
  | "corrupt" // an object's bytes do not hash to its name, or have another size than declared
  | "stray"; // a key that does not belong where it is (a badly named object, a stray record)

export interface VerifyProblem {
  kind: VerifyProblemKind;
  /** The damaged object or record, e.g. "objects/ab/ab12…" or "experiments/e510….json". */
  key: string;
  /** The experiment it damages; null for unreferenced objects and repository-wide problems. */
  experimentId: string | null;
  /** The first damaged checkpoint of that experiment; null for its code, diff or record. */
  checkpointId: string | null;
  message: string;
}

export interface VerifyReport {
  url: string;
  experiments: number;
  checkpoints: number;
  /** Distinct objects read and hashed (trees included). */
  objects: number;
  bytes: number;
  /** Objects no record refers to (gc removes them after its grace period); not a problem. */
  unreferenced: number;
  problems: VerifyProblem[];
}

export interface VerifyOptions {
  /** Hash the contents of every object (default). False checks presence and sizes only. */
  contents?: boolean;
  /** Requests in flight at once (8 by default). */
  concurrency?: number;
}

/** One place an object is used, for messages. */
interface Use {
  experimentId: string;
  checkpointId: string | null;
  /** "model.pth of checkpoint 3ccb2f1", "the code snapshot", "the git diff"… */
  what: string;
  /** Declared size, when the use declares one (file entries and chunks). */
  size: number | null;
}

interface ObjectResult {
  state: "ok" | "missing" | "corrupt";
  detail: string;
}

/**
 * Verifies a repository and returns every problem found (an empty list means healthy).
 *
 * @example
 * const report = await verifyRepository(storage);
 * for (const problem of report.problems) console.log(problem.message);
 */
export async function verifyRepository(storage: Storage, options: VerifyOptions = {}): Promise<VerifyReport> {
  const concurrency = options.concurrency ?? 8;
  const hashContents = options.contents !== false;
  const problems: VerifyProblem[] = [];
  const report: VerifyReport = { url: storage.url, experiments: 0, checkpoints: 0, objects: 0, bytes: 0, unreferenced: 0, problems };
  const problem = (kind: VerifyProblemKind, key: string, experimentId: string | null, checkpointId: string | null, message: string): void => {
    // One line each, whatever a parser put in its message.
    problems.push({ kind, key, experimentId, checkpointId, message: message.replace(/\s+/g, " ").trim() });
  };

  // 1. The marker. A newer major format cannot be checked by this build: say so and stop.
  let marker = null;
  try {
    marker = await checkFormat(storage);
  } catch (error) {
    if (isCairnError(error, "FORMAT_TOO_NEW")) {
      problem("format", "cairn.json", null, null, error.message);
      return report;
    }
    if (!isCairnError(error, "CORRUPT")) throw error;
    problem("format", "cairn.json", null, null, error.message);
  }

  // 2. What is stored: every object (name → size) and every record key.
  const stored = new Map<string, number>();
  for await (const info of storage.list(OBJECTS_PREFIX)) {
    const sha256 = objectHashOfKey(info.key);
    if (sha256 === null) problem("stray", info.key, null, null, `${info.key} is not named objects/<first two hex digits>/<SHA-256>; no reader can use it. Delete it.`);
    else stored.set(sha256, info.size);
  }
  const recordKeys: string[] = [];
  for await (const info of storage.list(EXPERIMENTS_PREFIX)) {
    if (experimentIdOfKey(info.key)) recordKeys.push(info.key);
    else problem("stray", info.key, null, null, `${info.key} is not an experiment record (experiments/<32 hex digits>.json); readers ignore it.`);
  }
  recordKeys.sort();
  if (marker === null && recordKeys.length > 0 && !problems.some((p) => p.kind === "format")) {
    problem("format", "cairn.json", null, null, `cairn.json is missing although the repository holds ${recordKeys.length} record(s); readers treat it as empty. Restore it: {"format":"cairn","version":"1.0"}.`);
  }

  // 3. Records: parse each; collect where every tree and object is used.
  const records = (
    await mapLimit(recordKeys, concurrency, async (key): Promise<ExperimentRecord | null> => {
      const id = experimentIdOfKey(key)!;
      try {
        const bytes = await storage.get(key);
        if (bytes === null) return null; // removed while we listed
        return parseExperimentRecord(bytes, key);
      } catch (error) {
        if (!isCairnError(error, "CORRUPT")) throw error;
        problem("record", key, id, null, `${error.message.replace(/ Run "cairn verify".*$/, "")} Experiment ${shortId(id)} cannot be listed, and gc refuses to run until the record is repaired or deleted.`);
        return null;
      }
    })
  ).filter((r): r is ExperimentRecord => r !== null);
  report.experiments = records.length;

  await checkSummaries(storage, records, concurrency, problem);

  const treeUses = new Map<string, { use: Use; ref: TreeRef }[]>();
  const objectUses = new Map<string, Use[]>();
  const addUse = (map: Map<string, Use[]>, sha256: string, use: Use): void => {
    const list = map.get(sha256);
    if (list) list.push(use);
    else map.set(sha256, [use]);
  };
  for (const record of records) {
    const key = `experiments/${record.id}.json`;
    report.checkpoints += record.checkpoints.length;
    if (record.code) {
      const list = treeUses.get(record.code.sha256) ?? [];
      list.push({ use: { experimentId: record.id, checkpointId: null, what: "the code snapshot's file list", size: null }, ref: record.code });
      treeUses.set(record.code.sha256, list);
    }
    if (record.git?.diff) {
      if (typeof record.git.diff !== "string" || objectHashOfKey(objectKey(record.git.diff)) === null) {
        problem("record", key, record.id, null, `Experiment record ${key} is corrupt: git.diff is not a SHA-256.`);
      } else addUse(objectUses, record.git.diff, { experimentId: record.id, checkpointId: null, what: "the git diff", size: null });
    }
    const seen = new Set<string>();
    for (const checkpoint of record.checkpoints) {
      if (seen.has(checkpoint.id)) problem("record", key, record.id, checkpoint.id, `Experiment record ${key} is corrupt: checkpoint ${checkpoint.id} appears twice.`);
      seen.add(checkpoint.id);
      if (!checkpoint.tree) continue;
      const list = treeUses.get(checkpoint.tree.sha256) ?? [];
      list.push({ use: { experimentId: record.id, checkpointId: checkpoint.id, what: `the file list of checkpoint ${shortId(checkpoint.id)}`, size: null }, ref: checkpoint.tree });
      treeUses.set(checkpoint.tree.sha256, list);
    }
  }

  // 4. Trees: read, verify, parse; their entries are uses of file objects (and chunks).
  const results = new Map<string, ObjectResult>();
  const chunked = new Map<string, { entry: TreeEntry; use: Use }>();
  await mapLimit([...treeUses.keys()], concurrency, async (sha256) => {
    const uses = treeUses.get(sha256)!;
    const key = objectKey(sha256);
    const bytes = await storage.get(key);
    if (bytes === null) {
      results.set(sha256, { state: "missing", detail: "is missing from the repository" });
      return;
    }
    report.objects += 1;
    report.bytes += bytes.length;
    const actual = hashBytes(bytes);
    if (actual !== sha256) {
      results.set(sha256, { state: "corrupt", detail: describeMismatch(actual, bytes.length, null) });
      return;
    }
    results.set(sha256, { state: "ok", detail: "" });
    await storage.confirmObjects?.([sha256]);
    let tree: Tree;
    try {
      tree = parseTree(bytes, key);
    } catch (error) {
      if (!isCairnError(error, "CORRUPT")) throw error;
      for (const use of firstPerExperiment(uses.map((u) => u.use))) {
        problem("tree", key, use.experimentId, use.checkpointId, `${error.message} It is ${use.what} of experiment ${shortId(use.experimentId)}.`);
      }
      return;
    }
    const bytesTotal = tree.files.reduce((sum, f) => sum + f.size, 0);
    for (const { use, ref } of uses) {
      if (ref.files !== tree.files.length || ref.bytes !== bytesTotal) {
        problem(
          "tree",
          `experiments/${use.experimentId}.json`,
          use.experimentId,
          use.checkpointId,
          `Experiment record experiments/${use.experimentId}.json says ${use.what} (${key}) has ${ref.files} file(s) and ${ref.bytes} bytes; it has ${tree.files.length} and ${bytesTotal}.`,
        );
      }
      const where = use.checkpointId ? `checkpoint ${shortId(use.checkpointId)}` : "the code snapshot";
      for (const file of tree.files) {
        if (file.chunks) {
          chunked.set(file.sha256, { entry: file, use: { experimentId: use.experimentId, checkpointId: use.checkpointId, what: `${file.path} of ${where}`, size: file.size } });
          // A pack's size is not recorded (only where each chunk is in it): its hash is its check.
          file.chunks.forEach((chunk, index) =>
            chunk.pack === undefined
              ? addUse(objectUses, chunk.sha256, { experimentId: use.experimentId, checkpointId: use.checkpointId, what: `chunk ${index + 1} of ${file.path} of ${where}`, size: chunk.size })
              : addUse(objectUses, chunk.pack, { experimentId: use.experimentId, checkpointId: use.checkpointId, what: `the pack holding chunk ${index + 1} of ${file.path} of ${where}`, size: null }),
          );
        } else addUse(objectUses, file.sha256, { experimentId: use.experimentId, checkpointId: use.checkpointId, what: `${file.path} of ${where}`, size: file.size });
      }
    }
  });

  // 5. Every stored object that is not a tree: hashed (or sized), referenced or not.
  const toCheck = new Set<string>([...stored.keys(), ...objectUses.keys()]);
  for (const sha256 of treeUses.keys()) toCheck.delete(sha256);
  await mapLimit([...toCheck], concurrency, async (sha256) => {
    const listedSize = stored.get(sha256);
    if (listedSize === undefined) {
      // Not in the listing: perhaps written since (a live writer). Look once more.
      const info = await storage.stat(objectKey(sha256));
      if (info === null) {
        results.set(sha256, { state: "missing", detail: "is missing from the repository" });
        return;
      }
    }
    const declared = objectUses.get(sha256)?.find((u) => u.size !== null)?.size ?? null;
    const result = hashContents ? await hashObject(storage, sha256, declared) : await sizeObject(storage, sha256, declared);
    if (result.bytes !== null) {
      report.objects += 1;
      report.bytes += result.bytes;
    }
    results.set(sha256, result);
    if (!objectUses.has(sha256)) report.unreferenced += 1;
  });

  // 6. A chunked file whose chunks are all sound must still hash, whole, to its SHA-256.
  if (hashContents) {
    await mapLimit([...chunked.values()], concurrency, async ({ entry, use }) => {
      if (entry.chunks!.some((c) => results.get(chunkObject(c))?.state !== "ok")) return;
      try {
        for await (const _ of await openFileStream(storage, entry, use.what, { ignoreStamps: true })) void _;
      } catch (error) {
        if (!isCairnError(error, "CORRUPT")) throw error;
        problem("corrupt", objectKey(chunkObject(entry.chunks![0]!)), use.experimentId, use.checkpointId, `${use.what} of experiment ${shortId(use.experimentId)}: its chunks are each intact but together do not hash to ${entry.sha256}.`);
      }
    });
  }

  // 7. Bad objects become problems: one per experiment they damage (or one when unreferenced).
  for (const [sha256, result] of results) {
    if (result.state === "ok") continue;
    const key = objectKey(sha256);
    const uses = [...(treeUses.get(sha256)?.map((u) => u.use) ?? []), ...(objectUses.get(sha256) ?? [])];
    if (uses.length === 0) {
      problem("corrupt", key, null, null, `Object ${key} (not referenced by any experiment) ${result.detail}. A later checkpoint with the same contents would reuse it: delete it (or run "cairn gc").`);
      continue;
    }
    const byExperiment = new Map<string, Use[]>();
    for (const use of uses) byExperiment.set(use.experimentId, [...(byExperiment.get(use.experimentId) ?? []), use]);
    for (const [experimentId, list] of byExperiment) {
      const first = list[0]!;
      const more = list.length > 1 ? `, and ${list.length - 1} more use(s)` : "";
      problem(result.state, key, experimentId, first.checkpointId, `Object ${key} (${first.what} of experiment ${shortId(experimentId)}${more}) ${result.detail}.`);
    }
  }

  problems.sort((a, b) => order(a).localeCompare(order(b)));
  return report;
}

function order(p: VerifyProblem): string {
  return `${p.experimentId ?? "~"} ${p.key} ${p.checkpointId ?? ""}`;
}

function firstPerExperiment(uses: Use[]): Use[] {
  const seen = new Set<string>();
  return uses.filter((u) => (seen.has(u.experimentId) ? false : (seen.add(u.experimentId), true)));
}

function describeMismatch(actual: string, size: number, declared: number | null): string {
  if (declared !== null && size < declared) return `is truncated: ${size} of ${declared} bytes are there (they hash to ${actual})`;
  if (declared !== null && size > declared) return `is corrupt: ${size} bytes where ${declared} were recorded (they hash to ${actual})`;
  return `is corrupt: its ${size} bytes hash to ${actual}`;
}

/** Streams an object through SHA-256 (memory stays flat). */
async function hashObject(storage: Storage, sha256: string, declared: number | null): Promise<ObjectResult & { bytes: number | null }> {
  const stream = await storage.getStream(objectKey(sha256));
  if (stream === null) return { state: "missing", detail: "is missing from the repository", bytes: null };
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  const actual = hash.digest("hex");
  if (actual !== sha256) return { state: "corrupt", detail: describeMismatch(actual, size, declared), bytes: size };
  if (declared !== null && size !== declared) {
    return { state: "corrupt", detail: `is intact but ${size} bytes long, while its file list says ${declared}`, bytes: size };
  }
  return { state: "ok", detail: "", bytes: size };
}

async function sizeObject(storage: Storage, sha256: string, declared: number | null): Promise<ObjectResult & { bytes: number | null }> {
  const info = await storage.stat(objectKey(sha256));
  if (info === null) return { state: "missing", detail: "is missing from the repository", bytes: null };
  if (declared !== null && info.size !== declared) {
    const detail = info.size < declared ? `is truncated: ${info.size} of ${declared} bytes are there` : `has ${info.size} bytes where ${declared} were recorded`;
    return { state: "corrupt", detail, bytes: info.size };
  }
  return { state: "ok", detail: "", bytes: info.size };
}

/** How long a summary that disagrees with its record is given to catch up (its writer's next put). */
const SUMMARY_SETTLE_MS = 3000;
const SUMMARY_POLL_MS = 250;

/** A summary, parsed; null when it is gone or damaged (reported). */
async function readSummary(
  storage: Storage,
  key: string,
  id: string,
  problem: (kind: VerifyProblemKind, key: string, experimentId: string | null, checkpointId: string | null, message: string) => void,
): Promise<ExperimentSummary | null> {
  const bytes = await storage.get(key);
  if (bytes === null) return null;
  try {
    return parseExperimentSummary(bytes, key);
  } catch (error) {
    if (!isCairnError(error, "CORRUPT")) throw error;
    problem("summary", key, id, null, `${error.message.replace(/ Run "cairn verify".*$/, "")} Listings read the record instead; delete the summary to silence this.`);
    return null;
  }
}

/**
 * Whether a summary says something else than its record. One behind a running experiment's
 * record is not (the writer puts the summary right after the record).
 */
function disagrees(record: ExperimentRecord, summary: ExperimentSummary): boolean {
  const settled = record.stopped !== null || summary.checkpointCount > record.checkpoints.length;
  return settled && JSON.stringify(summary) !== JSON.stringify(summarize(record));
}

/**
 * Summaries are derived from records (docs/FORMAT.md): one that is damaged or says something else
 * than its record is reported, as listings show the summary. Deleting it is always safe.
 */
async function checkSummaries(
  storage: Storage,
  records: ExperimentRecord[],
  concurrency: number,
  problem: (kind: VerifyProblemKind, key: string, experimentId: string | null, checkpointId: string | null, message: string) => void,
): Promise<void> {
  const byId = new Map(records.map((r) => [r.id, r]));
  const keys: string[] = [];
  for await (const info of storage.list(SUMMARIES_PREFIX)) keys.push(info.key);
  keys.sort();
  await mapLimit(keys, concurrency, async (key) => {
    const id = summaryIdOfKey(key);
    if (id === null) {
      problem("stray", key, null, null, `${key} is not an experiment summary (summaries/<32 hex digits>.json); readers ignore it.`);
      return;
    }
    let record = byId.get(id);
    if (record === undefined) return; // its record is missing or damaged (reported above), or removed since
    let summary = await readSummary(storage, key, id, problem);
    // The writer puts the record, then the summary: between the two, the summary is one write
    // behind, a stopped record's too (its last write may add many checkpoints). So a summary
    // that disagrees is read again, with its record, until they agree or SUMMARY_SETTLE_MS pass;
    // one left behind for good (its writer died between the two writes) is reported.
    for (let waited = 0; summary !== null && disagrees(record, summary) && waited < SUMMARY_SETTLE_MS; waited += SUMMARY_POLL_MS) {
      await new Promise((resolve) => setTimeout(resolve, SUMMARY_POLL_MS));
      const bytes = await storage.get(experimentKey(id));
      if (bytes === null) return; // removed meanwhile
      try {
        record = parseExperimentRecord(bytes, experimentKey(id));
      } catch (error) {
        if (!isCairnError(error, "CORRUPT")) throw error;
        return; // damaged since it was read: a later verify reports the record
      }
      summary = await readSummary(storage, key, id, problem);
    }
    if (summary !== null && disagrees(record, summary)) {
      problem("summary", key, id, null, `The summary ${key} disagrees with its record (${summary.checkpointCount} checkpoints listed, ${record.checkpoints.length} recorded): listings show the summary. Delete it; listings then read the record.`);
    }
  });
}

import * as fs from "node:fs/promises";
import { CairnError } from "../errors.js";
import { isRemoteUrl } from "../storage/cache-directory.js";
import { putFileRangeAsObject } from "../storage/file-range.js";
import type { Storage } from "../storage/storage.js";
import { loadChunkList, saveChunkList, type ChunkRef } from "./chunk-lists.js";
import { chunkAndHashFile, type LocatedChunk } from "./chunk-worker.js";
import { hashBytes } from "./hash.js";
import { encodeTree } from "./objects.js";
import { endsPack } from "./packs.js";
import { currentTokens, saveStamp } from "./read-stamps.js";
import { experimentKey, objectKey, summaryKey } from "./layout.js";
import { encodeSummary } from "./summary.js";
import type { ExperimentSpool } from "./spool.js";
import type { ExperimentRecord, Tree, TreeRef } from "./types.js";

/**
 * Files at least this large are stored as content-defined chunks (see chunker.ts), so that a
 * checkpoint which changes part of a large file stores only about that part again. Smaller files
 * are stored whole: one object each is cheaper than a chunk list, and they dedup as files.
 */
export const CHUNK_THRESHOLD_BYTES = 8 * 1024 * 1024;

/**
 * How far one publish round has got: the bytes and files it has to send, and how many are done
 * (sent, or found in the repository already). Trees and the record are not counted: they are
 * small and come last.
 */
export interface PublishProgress {
  bytesDone: number;
  bytesTotal: number;
  filesDone: number;
  filesTotal: number;
}

/** The rounds running now in this process, for progress while a script or `cairn push` waits. */
const activeRounds = new Set<PublishProgress>();
/** What rounds that ended in this process did, for a total across several (`cairn push`). */
const ended = { bytes: 0, files: 0 };

/**
 * What every publish round running in this process has done and has left, added up (zeros when
 * none runs), and what the rounds that ended before did (`endedBytes`, `endedFiles`). Exit
 * handling and `cairn push` poll it to show progress.
 *
 * @example
 * const { bytesDone, bytesTotal } = publishingProgress(); // e.g. 312 MiB of 1 GiB
 */
export function publishingProgress(): PublishProgress & { rounds: number; endedBytes: number; endedFiles: number } {
  const sum = { bytesDone: 0, bytesTotal: 0, filesDone: 0, filesTotal: 0, rounds: activeRounds.size, endedBytes: ended.bytes, endedFiles: ended.files };
  for (const round of activeRounds) {
    sum.bytesDone += round.bytesDone;
    sum.bytesTotal += round.bytesTotal;
    sum.filesDone += round.filesDone;
    sum.filesTotal += round.filesTotal;
  }
  return sum;
}

/**
 * Publishes what a spool holds, in the commit order that keeps readers safe: file contents
 * first, then the trees that list them, then the record that points at the trees. Every step is
 * idempotent (objects are content-addressed and written only when absent), so a publish that is
 * interrupted and redone, by this process or a later one, does no harm.
 *
 * Large files are chunked here, in the background, not when captured: `checkpoint()` only copies
 * them into the spool. Their tree entries gain a `chunks` list, which changes the tree's bytes
 * and so its hash: the journal keeps the trees as captured (whole files), and the record that is
 * published points at the chunked trees instead. Chunking is deterministic, so a publish redone
 * after a crash arrives at the same trees.
 */
export class SpoolPublisher {
  /** Objects known to be in the repository already, to skip repeat work. */
  private readonly published = new Set<string>();
  /**
   * Chunks this publisher stored or found stored, by their SHA-256, with where they are: a later
   * version of a file refers to the chunks it shares with an earlier one (sub-file dedup) without
   * asking the repository.
   */
  private readonly located = new Map<string, ChunkRef>();
  /** Large files' chunk lists by whole-file hash, for this round; null for one stored whole (by an older writer). */
  private readonly chunkLists = new Map<string, ChunkRef[] | null>();
  /** Published trees: the hash of a tree as captured → the hash of the tree as published. */
  private readonly publishedTrees = new Map<string, string>();
  /** Whether to ask if each pack exists before writing it: always on a local disk, where asking is cheap. */
  private readonly probeFirst: boolean;
  /** Packs this publisher wrote itself (not found there), for read stamps (see chunkFile). */
  private readonly writtenHere = new Set<string>();
  /** Whether the pack last stored was in the repository already (see uploadPack). */
  private lastPackExisted = true;
  /** The counters of the round in progress (null between rounds). */
  private round: PublishProgress | null = null;

  /** Uploads (objects, or packs of a large file) in flight at once. */
  private readonly concurrency: number;
  /** Whether this publishes in the background (a running experiment's writer): see uploadChunks. */
  private readonly background: boolean;

  constructor(
    private readonly storage: Storage,
    private readonly spool: ExperimentSpool,
    options: { concurrency?: number; background?: boolean } = {},
  ) {
    this.probeFirst = !isRemoteUrl(storage.url);
    this.concurrency = options.concurrency ?? 8;
    this.background = options.background === true;
  }

  /**
   * What the publish round in progress has done and has left; null when none runs.
   *
   * @example
   * const progress = publisher.progress; // { bytesDone: 3145728, bytesTotal: 1073741824, filesDone: 0, filesTotal: 1 }
   */
  get progress(): PublishProgress | null {
    return this.round === null ? null : { ...this.round };
  }

  /**
   * Uploads the objects the trees need, then the trees, then the record.
   *
   * @example
   * await publisher.publish(record, trees, [diffSha]);
   */
  async publish(record: ExperimentRecord, trees: Map<string, Tree>, extraObjects: string[]): Promise<void> {
    // What is published is what exists now: a checkpoint added while this runs waits for the
    // next round, so no tree can be written before its files, nor a record before its trees.
    const snapshot = { ...record, checkpoints: record.checkpoints.slice() };
    const pendingTrees = [...trees].filter(([sha256]) => !this.publishedTrees.has(sha256));

    const whole = new Set(extraObjects);
    const large = new Map<string, number>();
    for (const [, tree] of pendingTrees) {
      for (const file of tree.files) {
        if (file.chunks) continue; // already chunked by whoever built the tree
        if (file.size >= CHUNK_THRESHOLD_BYTES) large.set(file.sha256, file.size);
        else whole.add(file.sha256);
      }
    }
    const wholeToSend = [...whole].filter((sha) => !this.published.has(sha));
    const round: PublishProgress = { bytesDone: 0, bytesTotal: 0, filesDone: 0, filesTotal: wholeToSend.length + large.size };
    for (const size of large.values()) round.bytesTotal += size;
    this.round = round;
    activeRounds.add(round);
    try {
      await Promise.all([this.uploadObjects(wholeToSend), this.chunkFiles([...large])]);
    } finally {
      activeRounds.delete(round);
      ended.bytes += round.bytesDone;
      ended.files += round.filesDone;
      this.round = null;
    }

    for (const [sha256, tree] of pendingTrees) {
      const files = tree.files.map((file) => {
        const chunks = file.chunks ? undefined : this.chunkLists.get(file.sha256);
        return chunks ? { ...file, chunks } : file;
      });
      const bytes = encodeTree({ files });
      const publishedSha = hashBytes(bytes);
      if (!this.published.has(publishedSha)) {
        await this.storage.putIfAbsent(objectKey(publishedSha), bytes);
        this.published.add(publishedSha);
      }
      this.publishedTrees.set(sha256, publishedSha);
    }
    // Lists are needed only until their trees are out (a long run makes many); the spool keeps
    // each on disk should the same file come again.
    this.chunkLists.clear();

    const published: ExperimentRecord = {
      ...snapshot,
      code: this.publishedRef(snapshot.code),
      checkpoints: snapshot.checkpoints.map((checkpoint) => (checkpoint.tree ? { ...checkpoint, tree: this.publishedRef(checkpoint.tree) } : checkpoint)),
    };
    await this.storage.put(experimentKey(record.id), JSON.stringify(published));
    // After the record, never before: a summary must not name a checkpoint the record lacks.
    // A crash between the two leaves the summary one write behind until the spool is replayed.
    await this.storage.put(summaryKey(record.id), encodeSummary(published));
  }

  /** A record's reference to a tree as captured, turned into one to the tree as published. */
  private publishedRef<T extends TreeRef | null>(ref: T): T {
    if (ref === null) return ref;
    const sha256 = this.publishedTrees.get(ref.sha256);
    return sha256 === undefined || sha256 === ref.sha256 ? ref : { ...ref, sha256 };
  }

  private async uploadObjects(hashes: string[]): Promise<void> {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < hashes.length) {
        const sha256 = hashes[next++]!;
        const local = this.spool.objectPath(sha256);
        let handle;
        try {
          handle = await fs.open(local, "r");
        } catch (error) {
          // Published earlier (by us before a restart, or by a later capture of equal bytes).
          if ((error as NodeJS.ErrnoException).code === "ENOENT" && (await this.storage.stat(objectKey(sha256)))) {
            this.published.add(sha256);
            this.count(0, 0, 1);
            continue;
          }
          throw new CairnError("CORRUPT", `Captured object ${sha256} is missing from the spool ${this.spool.directory} and from the repository.`, { cause: error });
        }
        // Durable locally before the repository may refer to it.
        let size = 0;
        try {
          size = (await handle.stat()).size;
          this.count(0, size, 0);
          await handle.sync();
        } finally {
          await handle.close();
        }
        await this.storage.putFileIfAbsent(objectKey(sha256), local);
        await fs.rm(local, { force: true });
        this.published.add(sha256);
        this.count(size, 0, 1);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, hashes.length) }, worker));
  }

  /** Adds to the counters of the round in progress (whole objects' sizes are learnt as they are opened). */
  private count(bytesDone: number, bytesTotal: number, filesDone: number): void {
    if (this.round === null) return;
    this.round.bytesDone += bytesDone;
    this.round.bytesTotal += bytesTotal;
    this.round.filesDone += filesDone;
  }

  /** Chunks large files one after the other (each one's chunks upload in parallel). */
  private async chunkFiles(files: [string, number][]): Promise<void> {
    for (const [sha256, size] of files) {
      this.chunkLists.set(sha256, await this.chunkFile(sha256, size));
      this.count(0, 0, 1);
    }
  }

  /**
   * A large file's chunks, all in the repository when this returns. In order of preference: the
   * list saved by an earlier publish of this spool; the captured copy, cut and uploaded now; the
   * whole file as an older writer stored it.
   */
  private async chunkFile(sha256: string, size: number): Promise<ChunkRef[] | null> {
    const saved = await loadChunkList(this.spool.directory, sha256);
    if (saved && saved.reduce((sum, chunk) => sum + chunk.size, 0) === size) {
      for (const chunk of saved) this.located.set(chunk.sha256, chunk);
      this.count(size, 0, 0);
      return saved;
    }
    const local = this.spool.objectPath(sha256);
    let chunks: ChunkRef[];
    try {
      chunks = await this.uploadChunks(local);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      if (await this.storage.stat(objectKey(sha256))) {
        this.count(size, 0, 0);
        return null;
      }
      throw new CairnError("CORRUPT", `Captured object ${sha256} is missing from the spool ${this.spool.directory} and from the repository.`, { cause: error });
    }
    const total = chunks.reduce((sum, chunk) => sum + chunk.size, 0);
    if (total !== size) {
      throw new CairnError("CORRUPT", `Captured object ${sha256} in ${this.spool.directory} holds ${total} bytes, but ${size} were captured.`);
    }
    // The list must outlive the captured copy, for a publish redone after a crash.
    await saveChunkList(this.spool.directory, sha256, chunks);
    await fs.rm(local, { force: true });
    for (const chunk of chunks) this.located.set(chunk.sha256, chunk);
    // Every pack hashed and written by this publisher (now, or for an earlier version of the
    // file): a local checkout of the file need not hash it again (read-stamps.ts). A pack that
    // was there before is someone else's bytes.
    if (chunks.every((chunk) => chunk.pack !== undefined && this.writtenHere.has(chunk.pack))) {
      const file = { sha256, size, chunks };
      await saveStamp(this.storage, file, currentTokens(this.storage, file));
    }
    return chunks;
  }

  /**
   * Cuts a captured file on the chunk worker and stores the chunks the repository lacks, in
   * packs (packs.ts), while the rest is still being cut. A chunk this publisher stored before (an
   * earlier checkpoint of the file) is referred to where it is; each run of new chunks is packed
   * and uploaded as soon as the pack is full. Each upload reads its pack from the captured copy
   * (one buffer of at most the largest pack per upload in flight, reused: see
   * putFileRangeAsObject) and hashes it to name it; for a local folder that is one write of the
   * pack into `objects/`, and no other copy; for a running experiment, the read, the hash and the
   * upload are all on the background worker. Resolves to the file's chunk list.
   */
  private async uploadChunks(local: string): Promise<ChunkRef[]> {
    const queue: OpenPack[] = [];
    const waiting: (() => void)[] = [];
    /** New chunks of this file: the pack each is in, and where. */
    const placed = new Map<string, { pack: OpenPack; offset: number }>();
    let open: OpenPack | null = null;
    let cutting = true;
    let failure: unknown = null;
    const uploader = async (): Promise<void> => {
      for (;;) {
        const pack = queue.shift();
        if (pack) await this.uploadPack(local, pack);
        else if (!cutting) return;
        else await new Promise<void>((resolve) => waiting.push(resolve));
      }
    };
    const close = (): void => {
      if (open === null) return;
      if (!failure) queue.push(open);
      open = null;
      waiting.shift()?.();
    };
    const uploaders = Array.from({ length: this.concurrency }, () =>
      uploader().catch((error: unknown) => {
        // The first failure stops the uploads; the worker still finishes cutting its file.
        failure ??= error;
        queue.length = 0;
      }),
    );
    let located: LocatedChunk[];
    try {
      // In the background the chunking worker must not keep the process alive either: exit
      // handling, when the script ends, waits for it (see ExperimentWriter).
      const onChunk = (chunk: LocatedChunk): void => {
        if (this.located.has(chunk.sha256) || placed.has(chunk.sha256)) {
          // Stored already: a run of new chunks ends here (a pack holds consecutive bytes).
          close();
          this.count(chunk.size, 0, 0);
          return;
        }
        open ??= { offset: chunk.offset, size: 0, sha256: null };
        placed.set(chunk.sha256, { pack: open, offset: open.size });
        open.size += chunk.size;
        if (endsPack(open.size, chunk.sha256)) close();
      };
      located = await chunkAndHashFile(local, onChunk, undefined, { keepAlive: !this.background });
      close();
    } finally {
      cutting = false;
      for (const wake of waiting.splice(0)) wake();
      await Promise.all(uploaders);
    }
    if (failure) throw failure;
    return located.map(({ sha256, size }): ChunkRef => {
      const known = this.located.get(sha256);
      if (known) return known.pack === undefined ? { sha256, size } : { sha256, size, pack: known.pack, offset: known.offset! };
      const { pack, offset } = placed.get(sha256)!;
      return { sha256, size, pack: pack.sha256!, offset };
    });
  }

  /** Stores one pack (a range of the captured file) as an object, and names it. */
  private async uploadPack(local: string, pack: OpenPack): Promise<void> {
    // Most packs of a changed file's new chunks are new. Those of a file stored before (two
    // experiments saving the same base model) come in runs. Asking first (a stat: a HEAD request
    // on a remote store) saves uploading a pack that is there; on a remote store it is skipped
    // while the packs before were new, so a new file costs one request per pack and a file
    // stored before at most one wasted upload (a conditional PUT then finds it present).
    const stored = await putFileRangeAsObject(this.storage, local, pack, this.probeFirst || this.lastPackExisted);
    pack.sha256 = stored.sha256;
    if (stored.written) this.writtenHere.add(stored.sha256);
    this.lastPackExisted = !stored.written;
    this.count(pack.size, 0, 0);
  }
}

/** A pack being filled or uploaded: a range of the captured file, named once uploaded. */
interface OpenPack {
  offset: number;
  size: number;
  sha256: string | null;
}

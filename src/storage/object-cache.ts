import { createHash, randomBytes } from "node:crypto";
import { createReadStream, utimesSync } from "node:fs";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { PassThrough, type Readable, type Writable } from "node:stream";
import { OBJECTS_PREFIX, objectHashOfKey } from "../repository/layout.js";
import { createFileWriteStream, writePieces } from "./file-writes.js";
import { storagePieces, type Storage } from "./storage.js";

export const DEFAULT_CACHE_BYTES = 10 * 1024 ** 3;

/**
 * At most this many bytes read whole are held for copies still being written: a read beyond it
 * waits for earlier copies to reach the disk. Without a bound, a reader faster than the cache's
 * disk (a fast network, a slow disk, a reader that keeps the bytes in memory) would hold every
 * pack it had read until the disk caught up: gigabytes for a large file. Copies normally finish
 * long before (a pack is a few MiB, written in a few writev calls), so a read rarely waits.
 */
const MAX_COPYING_BYTES = 64 * 1024 * 1024;

export interface ObjectCacheOptions {
  /** The cache's size bound in bytes (default: CAIRN_CACHE_SIZE, else 10 GiB). */
  maxBytes?: number;
  /** Bytes held for copies being written before reads wait for them (default 64 MiB). */
  maxCopyingBytes?: number;
}

/** Unconfirmed copies older than this are left-overs (see `pending`): a read takes minutes at most. */
const STALE_TEMPORARY_MS = 60 * 60 * 1000;

/**
 * Wraps a remote storage so whole-object reads of `objects/…` are kept on local disk: a second
 * `open()` of the same checkpoint reads from disk. Objects are immutable and named by their
 * hash, so one cache serves every repository; an entry is kept only when its bytes hash to its
 * name (a streamed object is hashed here; one read whole waits for its reader to confirm it).
 * The cache is bounded (`CAIRN_CACHE_SIZE` bytes, 10 GiB by default): the least recently used
 * entries go first. Copies are written behind the reader's back, but a read waits while more
 * than 64 MiB are held for copies not yet on disk, so memory stays bounded whatever the disk.
 *
 * @example
 * const storage = withObjectCache(await openStorage("s3://bucket/prefix"), "/home/ana/.cache/cairn/objects");
 */
export function withObjectCache(inner: Storage, directory: string, options: ObjectCacheOptions = {}): Storage {
  const maxBytes = options.maxBytes ?? cacheLimit();
  const maxCopyingBytes = options.maxCopyingBytes ?? MAX_COPYING_BYTES;
  const fileOf = (sha256: string) => path.join(directory, sha256.slice(0, 2), sha256);
  let trimming: Promise<void> | null = null;
  // A scan stats every cached file, so it runs only when the cache may be over its bound, or
  // after a sixteenth of the bound was added (other processes share the folder): not after each
  // object, which made reading a chunked file (hundreds of objects) scan hundreds of times.
  let scannedTotal: number | null = null;
  let addedSinceScan = 0;
  const added = (bytes: number): void => {
    addedSinceScan += bytes;
    if (scannedTotal === null || scannedTotal + addedSinceScan > maxBytes || addedSinceScan > maxBytes / 16) {
      trimming ??= trim().finally(() => (trimming = null));
    }
  };

  /** Subfolders known to exist: a mkdir per cached object cost a syscall for nothing. */
  const folders = new Set<string>();
  async function ensureFolder(folder: string): Promise<void> {
    if (folders.has(folder)) return;
    await fs.mkdir(folder, { recursive: true });
    folders.add(folder);
  }

  /**
   * Downloaded objects written to the cache under temporary names, waiting for the reader to
   * confirm their bytes hash right (confirmObjects): the reader hashes them anyway (a chunked
   * file's whole SHA-256, a tree's own), and hashing them here as well cost about 0.8 s of CPU
   * per GiB read, on the cores the download needs. Unconfirmed copies (a read that failed or was
   * abandoned) are never used and are removed by the next trim.
   */
  const pending = new Map<string, Promise<string | null>[]>();

  /** Bytes held for copies being written, and the reads waiting for them to drop under the bound. */
  let copyingBytes = 0;
  const waitingForRoom: (() => void)[] = [];
  const copied = (size: number): void => {
    copyingBytes -= size;
    while (waitingForRoom.length > 0 && copyingBytes <= maxCopyingBytes) waitingForRoom.shift()!();
  };

  /**
   * Writes a copy of bytes read whole, in the background (the reader has its bytes at once);
   * pieces are written in order without joining them. Resolves at once, or, while more than
   * maxCopyingBytes are held for copies, once earlier copies are written.
   */
  function keep(bytes: Buffer | Buffer[], sha256: string): Promise<void> {
    const size = Array.isArray(bytes) ? bytes.reduce((sum, piece) => sum + piece.length, 0) : bytes.length;
    copyingBytes += size;
    const file = fileOf(sha256);
    const temporary = `${file}.tmp-${randomBytes(6).toString("hex")}`;
    const written = (async (): Promise<string | null> => {
      try {
        await ensureFolder(path.dirname(file));
        await writeWhole(temporary, bytes).catch(async (error: NodeJS.ErrnoException) => {
          // The folder went away (`cairn cache clear` in another process): make it again, once.
          if (error.code !== "ENOENT") throw error;
          folders.delete(path.dirname(file));
          await ensureFolder(path.dirname(file));
          await writeWhole(temporary, bytes);
        });
        return temporary;
      } catch {
        // No copy: a full disk, a cleared cache. Only a later read pays.
        await fs.rm(temporary, { force: true }).catch(() => {});
        return null;
      } finally {
        copied(size);
      }
    })();
    pending.set(sha256, [...(pending.get(sha256) ?? []), written]);
    return copyingBytes <= maxCopyingBytes ? Promise.resolve() : new Promise((resolve) => waitingForRoom.push(resolve));
  }

  /** Moves confirmed copies into place. */
  async function promote(sha256: string, copies: Promise<string | null>[]): Promise<void> {
    for (const copy of copies) {
      const temporary = await copy;
      if (temporary === null) continue;
      try {
        const { size } = await fs.stat(temporary);
        await fs.rename(temporary, fileOf(sha256));
        added(size);
      } catch {
        await fs.rm(temporary, { force: true }).catch(() => {});
      }
    }
  }

  async function hit(sha256: string): Promise<string | null> {
    const file = fileOf(sha256);
    try {
      const now = new Date();
      // Recency for eviction. Synchronous: a checkout asks this of every pack it reads, and
      // nearly all miss; a failed promise's error cost the main thread 0.5 ms each (75 ms per GiB
      // in a profile), a failed system call here a few microseconds.
      utimesSync(file, now, now);
      return file;
    } catch {
      return null;
    }
  }

  /**
   * Streams from the inner storage while writing a copy into the cache, with backpressure from
   * both the reader and the disk (memory stays flat). The copy is kept only if it hashes right.
   */
  async function teeIntoCache(source: Readable, sha256: string): Promise<Readable> {
    const temporary = `${fileOf(sha256)}.tmp-${randomBytes(6).toString("hex")}`;
    let file: Writable | null = null;
    // The download may fail while the folder is made (a connection dropped mid-body): with no
    // listener yet that error would be lost and the reader left waiting for bytes forever.
    let early: Error | null = null;
    const onEarly = (error: Error): void => void (early = error);
    source.on("error", onEarly);
    try {
      await ensureFolder(path.dirname(temporary));
      file = createFileWriteStream(temporary, { highWaterMark: 1024 * 1024 });
    } catch {
      // No cache today (read-only home, full disk): just read through.
    } finally {
      source.off("error", onEarly);
    }
    if (early !== null || source.destroyed) {
      file?.destroy();
      if (file) void fs.rm(temporary, { force: true });
      throw early ?? new Error("the download ended early");
    }
    if (file === null) return source;
    const output = new PassThrough({ highWaterMark: 1024 * 1024 });
    const hash = createHash("sha256");
    let received = 0;
    let fileFailed = false;
    file.on("error", () => {
      fileFailed = true;
      // Perhaps the folder went away (`cairn cache clear` elsewhere): make it again next time.
      folders.delete(path.dirname(temporary));
    });
    source.on("data", (chunk: Buffer) => {
      hash.update(chunk);
      received += chunk.length;
      const waits: Promise<void>[] = [];
      if (!fileFailed && !file!.write(chunk)) waits.push(new Promise((resolve) => file!.once("drain", resolve)));
      if (!output.write(chunk)) waits.push(new Promise((resolve) => output.once("drain", resolve)));
      if (waits.length > 0) {
        source.pause();
        void Promise.all(waits).then(() => source.resume());
      }
    });
    source.on("error", (error) => {
      output.destroy(error);
      file!.destroy();
      void fs.rm(temporary, { force: true });
    });
    output.on("close", () => {
      // The reader gave up early: stop downloading.
      if (!source.readableEnded) source.destroy();
    });
    source.on("end", () => {
      // The copy is put in place before the reader sees the end, so that a process which calls
      // process.exit() as soon as it has read the file still leaves it for the next one.
      file!.end(() => {
        void (async () => {
          if (!fileFailed && hash.digest("hex") === sha256) {
            await fs.rename(temporary, fileOf(sha256)).catch(() => {});
            added(received);
          } else await fs.rm(temporary, { force: true });
        })().finally(() => output.end());
      });
    });
    return output;
  }

  /** Evicts least recently used entries until the cache fits its bound. */
  async function trim(): Promise<void> {
    addedSinceScan = 0;
    const entries: { file: string; size: number; used: number }[] = [];
    const stale = Date.now() - STALE_TEMPORARY_MS;
    for (const folder of await fs.readdir(directory).catch(() => [] as string[])) {
      for (const name of await fs.readdir(path.join(directory, folder)).catch(() => [] as string[])) {
        const file = path.join(directory, folder, name);
        const stats = await fs.stat(file).catch(() => null);
        // A copy never confirmed (its read failed, or its process died): not an entry.
        if (stats?.isFile() && name.includes(".tmp-") && stats.mtimeMs < stale) await fs.rm(file, { force: true });
        else if (stats?.isFile()) entries.push({ file, size: stats.size, used: stats.mtimeMs });
      }
    }
    let total = entries.reduce((sum, e) => sum + e.size, 0);
    entries.sort((a, b) => a.used - b.used);
    for (const entry of entries) {
      if (total <= maxBytes) break;
      await fs.rm(entry.file, { force: true });
      total -= entry.size;
    }
    scannedTotal = total;
  }

  return {
    ...inner,
    async get(key, options) {
      const sha256 = key.startsWith(OBJECTS_PREFIX) ? objectHashOfKey(key) : null;
      if (sha256 === null) return inner.get(key);
      const file = await hit(sha256);
      if (file) return fs.readFile(file);
      // Whole small objects (packs, chunks, trees): read whole, then copied into the cache
      // behind the reader's back; no stream to tee (a chunked file is hundreds of these).
      const bytes = await inner.get(key);
      if (bytes !== null && options?.keepCopy !== false) await keep(bytes, sha256);
      return bytes;
    },
    async getPieces(key, options) {
      const sha256 = key.startsWith(OBJECTS_PREFIX) ? objectHashOfKey(key) : null;
      if (sha256 === null) return storagePieces(inner, key, options);
      const file = await hit(sha256);
      if (file) return [await fs.readFile(file)];
      const pieces = await storagePieces(inner, key, options);
      if (pieces !== null && options?.keepCopy !== false) await keep(pieces, sha256);
      return pieces;
    },
    async confirmObjects(sha256s) {
      const promoted: Promise<void>[] = [];
      for (const sha256 of sha256s) {
        const copies = pending.get(sha256);
        if (copies === undefined) continue;
        pending.delete(sha256);
        promoted.push(promote(sha256, copies));
      }
      await Promise.all(promoted);
    },
    async getStream(key, range, options) {
      const sha256 = key.startsWith(OBJECTS_PREFIX) ? objectHashOfKey(key) : null;
      if (sha256 === null) return inner.getStream(key, range);
      const file = await hit(sha256);
      if (file) return createReadStream(file, { start: range?.start, end: range?.end, highWaterMark: 1024 * 1024 });
      if (range || options?.keepCopy === false) return inner.getStream(key, range);
      const source = await inner.getStream(key);
      return source === null ? null : teeIntoCache(source, sha256);
    },
  };
}

/**
 * Writes a new file of bytes, or of pieces in order, with writev calls of FILE_WRITE_BYTES
 * (fs.writeFile would make a write per piece: a pack in a socket's 64 KiB pieces is about a
 * hundred; one writev of a whole pack costs more: see file-writes.ts).
 */
async function writeWhole(file: string, bytes: Buffer | Buffer[]): Promise<void> {
  const handle = await fs.open(file, "w");
  try {
    await writePieces(handle, Array.isArray(bytes) ? bytes : [bytes]);
  } finally {
    await handle.close();
  }
}

function cacheLimit(): number {
  const configured = Number(process.env.CAIRN_CACHE_SIZE);
  return Number.isFinite(configured) && configured > 0 ? configured : DEFAULT_CACHE_BYTES;
}

/**
 * Empties the object cache; returns the bytes freed.
 *
 * @example
 * const freed = await clearObjectCache("/home/ana/.cache/cairn/objects");
 */
export async function clearObjectCache(directory: string): Promise<number> {
  let freed = 0;
  for (const folder of await fs.readdir(directory).catch(() => [] as string[])) {
    for (const name of await fs.readdir(path.join(directory, folder)).catch(() => [] as string[])) {
      const stats = await fs.stat(path.join(directory, folder, name)).catch(() => null);
      freed += stats?.size ?? 0;
    }
  }
  await fs.rm(directory, { recursive: true, force: true });
  return freed;
}

import { createHash } from "node:crypto";
import { Transform, type Readable, type TransformCallback, type Writable } from "node:stream";
import { CairnError } from "../errors.js";
import { isRemoteUrl } from "../storage/cache-directory.js";
import { lendInViews } from "../storage/buffer-pool.js";
import { READ_PIECE_BYTES } from "../storage/file-writes.js";
import { storagePieces, type ReadOptions, type Storage } from "../storage/storage.js";
import { hashBytes } from "./hash.js";
import { objectKey } from "./layout.js";
import { currentTokens, isStamped, saveStamp, type ObjectTokens } from "./read-stamps.js";
import { parseTree } from "./validate.js";
import { readSegments, type ReadSegment } from "./packs.js";
import type { ChunkRef, Tree, TreeEntry } from "./types.js";

/**
 * Content-addressed objects: bytes stored under the SHA-256 of themselves, verified on every read.
 */

/** Where an object is used, for error messages ("… of checkpoint 3ccb2f1 of experiment e510303"). */
export type ObjectContext = string;

/**
 * Reads a small object whole and checks its hash.
 *
 * @example
 * const bytes = await readObject(storage, sha, "the code tree of experiment e510303");
 */
export async function readObject(storage: Storage, sha256: string, context: ObjectContext): Promise<Buffer> {
  const key = objectKey(sha256);
  const bytes = await storage.get(key);
  if (bytes === null) throw new CairnError("CORRUPT", `Object ${key} (${context}) is missing from the repository.`, { details: { key } });
  const actual = hashBytes(bytes);
  if (actual !== sha256) {
    throw new CairnError("CORRUPT", `Object ${key} (${context}) is corrupt: its contents hash to ${actual}.`, { details: { key } });
  }
  await storage.confirmObjects?.([sha256]);
  return bytes;
}

/**
 * Stores bytes as an object if absent and returns their hash.
 *
 * @example
 * const sha = await writeObject(storage, Buffer.from("diff --git …"));
 */
export async function writeObject(storage: Storage, bytes: Buffer | string): Promise<string> {
  const sha256 = hashBytes(bytes);
  await storage.putIfAbsent(objectKey(sha256), bytes);
  return sha256;
}

/** The canonical bytes of a tree: files sorted by path, fixed key order, so equal trees share a hash. */
export function encodeTree(tree: Tree): Buffer {
  const files = [...tree.files]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((f) => (f.chunks ? { path: f.path, size: f.size, sha256: f.sha256, mode: f.mode, chunks: f.chunks.map(encodeChunk) } : { path: f.path, size: f.size, sha256: f.sha256, mode: f.mode }));
  return Buffer.from(JSON.stringify({ files }));
}

/**
 * A chunk's fields in their fixed order (a chunk stored alone has no pack or offset), as trees
 * and spools' chunk lists write them.
 *
 * @example
 * JSON.stringify(chunks.map(encodeChunk));
 */
export function encodeChunk(chunk: ChunkRef): ChunkRef {
  return chunk.pack === undefined ? { sha256: chunk.sha256, size: chunk.size } : { sha256: chunk.sha256, size: chunk.size, pack: chunk.pack, offset: chunk.offset ?? 0 };
}

export async function readTree(storage: Storage, sha256: string, context: ObjectContext): Promise<Tree> {
  const bytes = await readObject(storage, sha256, context);
  try {
    return parseTree(bytes, objectKey(sha256));
  } catch (error) {
    // Say whose file list it is, as for a missing or corrupt object.
    if (!(error instanceof CairnError)) throw error;
    throw new CairnError(error.code, `${error.message.replace(/\.$/, "")} (${context}).`, { cause: error, details: error.details });
  }
}

/** How a read checks the bytes it delivers. */
export interface OpenFileOptions {
  /**
   * Hash the file even when a read stamp says it was verified before and is unchanged since
   * (read-stamps.ts): what `cairn verify` does.
   */
  ignoreStamps?: boolean;
  /**
   * false: a caching layer keeps no copy of what is read (ReadOptions.keepCopy): what a
   * checkout does, which writes the file to disk itself.
   */
  keepCopy?: boolean;
  /**
   * false: a chunked file read from a bucket comes in the pieces the network delivered (64 KiB
   * or less), for a reader that gathers its writes itself (a checkout's file stream, with a
   * large buffer, writes them with writev). By default each read is joined into one buffer (a
   * pack, about 6 MiB), handed on in views of READ_PIECE_BYTES, so that a reader writing each
   * piece it gets makes few writes of a good size (a body S3 delivers in one buffer is not
   * copied); the join copies every byte (measured: 0.6 s of CPU and a third of the garbage
   * collection of a 1 GiB checkout from radosgw, which skips it).
   */
  joinPieces?: boolean;
  /**
   * true: the reader writes every piece it gets and gives each back with returnViews
   * (buffer-pool.ts) once written, so that a bucket's packs may be read into pooled buffers
   * (ReadOptions.borrowBuffers): what a checkout does. Only with `joinPieces: false` and
   * `keepCopy: false`.
   */
  borrowBuffers?: boolean;
}

/**
 * A stream of one file's contents, verified against its SHA-256 and size as it flows: a mismatch
 * fails the stream at the end (before it ends) with an error naming the object.
 *
 * On a local disk, a file Cairn has verified before (or written from bytes it hashed) whose
 * objects are unchanged since is not hashed again (read-stamps.ts); a read that verified the
 * file stamps it.
 *
 * @example
 * const stream = await openFileStream(storage, entry, "model.pth of checkpoint 3ccb2f1");
 */
export async function openFileStream(storage: Storage, entry: TreeEntry, context: ObjectContext, options: OpenFileOptions = {}): Promise<Readable> {
  const tokens = options.ignoreStamps ? null : currentTokens(storage, entry);
  const check: Check = (await isStamped(storage, entry, tokens)) ? "none" : "whole";
  const stampAfter = check === "whole" ? tokens : null;
  // Never lent where a caching layer keeps a copy: it writes the bytes after handing them out.
  const borrowBuffers = options.borrowBuffers === true && options.joinPieces === false && options.keepCopy === false;
  const read: ReadOptions = { keepCopy: options.keepCopy, borrowBuffers };
  return entry.chunks ? openChunkedStream(storage, entry, context, check, stampAfter, read, options.joinPieces !== false) : openWholeStream(storage, entry, context, check, stampAfter, read);
}

/** "whole": the file's SHA-256 over all its bytes, and its size; "none": its size only (a valid read stamp). */
type Check = "whole" | "none";

/** A file stored as one object, streamed. With `stampAfter`, a read that verified saves a stamp. */
async function openWholeStream(storage: Storage, entry: TreeEntry, context: ObjectContext, check: Check, stampAfter: ObjectTokens, read: ReadOptions): Promise<Readable> {
  const key = objectKey(entry.sha256);
  const source = await storage.getStream(key, undefined, read).catch((error: Error) => {
    throw interrupted(error, key, context);
  });
  if (source === null) throw new CairnError("CORRUPT", `Object ${key} (${context}) is missing from the repository.`, { details: { key } });
  const checked = checkedPassThrough(check, async (actual, size) => {
    if (size !== entry.size || (actual !== null && actual !== entry.sha256)) {
      return new CairnError("CORRUPT", `Object ${key} (${context}) is corrupt: expected ${entry.size} bytes with SHA-256 ${entry.sha256}, read ${size} bytes${actual === null ? "" : ` hashing to ${actual}`}.`, { details: { key } });
    }
    if (stampAfter !== null) await saveStamp(storage, entry, stampAfter);
    return null;
  });
  source.on("error", (error) => checked.destroy(interrupted(error, key, context)));
  return source.pipe(checked);
}

/**
 * A pass-through that counts the bytes flowing (and hashes them when `check` is "whole"), then,
 * before it ends, asks `finish` with the hash (null when not hashed) and the count: an error
 * fails the stream instead of ending it, so a reader never sees a bad file end normally.
 *
 * It hands on pieces of at most READ_PIECE_BYTES (views of what it got, not copies): a reader
 * that writes each piece to a file, as `fs.createWriteStream` does, then makes writes of that
 * size; a pack read whole (4 to 12 MiB) written in one call costs several times the system time
 * here (file-writes.ts). `open()` of 1 GiB from radosgw piped into `fs.createWriteStream` took
 * 3.76-3.89 s handing on whole packs, 3.22-3.31 s in pieces (bench, one run each).
 */
function checkedPassThrough(check: Check, finish: (actual: string | null, size: number) => Promise<Error | null>): Transform {
  const hash = check === "whole" ? createHash("sha256") : null;
  let size = 0;
  return new Transform({
    transform(piece: Buffer, _encoding, callback: TransformCallback) {
      hash?.update(piece);
      size += piece.length;
      let at = 0;
      for (; piece.length - at > READ_PIECE_BYTES; at += READ_PIECE_BYTES) this.push(piece.subarray(at, at + READ_PIECE_BYTES));
      callback(null, at === 0 ? piece : piece.subarray(at));
    },
    flush(callback: TransformCallback) {
      finish(hash === null ? null : hash.digest("hex"), size).then((error) => callback(error), (error: Error) => callback(error));
    },
  });
}

/**
 * A read that failed underneath (a connection dropped mid-body: the SDK says only "aborted") as
 * an error that names the object and says what to do; CairnErrors pass as they are.
 */
function interrupted(error: Error, key: string, context: ObjectContext): Error {
  if (error instanceof CairnError) return error;
  return new CairnError("STORAGE", `Reading object ${key} (${context}) failed: ${error.message}. Try again.`, { cause: error, details: { key } });
}

/**
 * How much of a chunked file is read ahead from a remote store: fetched in parallel while the
 * earlier parts are consumed. At most READ_AHEAD_READS reads (a pack, about 6 MiB, or a chunk
 * stored alone, about 1.35 MiB) and about READ_AHEAD_BYTES of the file. More was measured and
 * not taken: alternating 1 GiB checkouts from radosgw took the same time with 48 MiB / 12 reads
 * (median 5.58 s against 5.51 s) and 96 MiB / 16 reads, for more memory held.
 */
const READ_AHEAD_READS = 8;
const READ_AHEAD_BYTES = 24 * 1024 * 1024;

/**
 * Chunked files: the chunks in order, verified as the whole file's SHA-256 and size, like a file
 * stored whole. Consecutive chunks of one pack are read with one request (packs.ts), and several
 * reads are in flight at once (remote stores answer each request after a round trip). From a
 * remote store a pack is read whole (it is at most 12 MiB): an object read whole is what the
 * object cache keeps, and a file rarely uses part of a pack (only where a later version of it
 * changed). It arrives as the network's pieces (Storage.getPieces), passed on as they are or
 * joined per read (OpenFileOptions.joinPieces). A local folder's are streamed instead
 * (streamLocalSegments).
 *
 * What is verified, and why that is enough (FORMAT.md, "Chunked files"): each read's size as it
 * arrives, and the whole file's SHA-256 and size at the end, before the stream ends; a mismatch
 * fails the stream instead of ending it (checkout writes under a temporary name and renames only
 * a file whose stream ended). The whole-file hash covers every byte of every chunk, in order, so
 * a damaged, missing or misplaced chunk cannot pass it; hashing each chunk as well would prove
 * nothing more about the bytes delivered and would double the CPU a read costs (measured: 1.3 s
 * more per GiB). So a chunk's own hash is computed only when the whole does not match, to name
 * the damaged object.
 *
 * The hash runs on this thread. A version that hashed on a worker thread (the bytes copied
 * there, since a buffer storage hands out may be held elsewhere too: the object cache writes it
 * to disk after handing it out) was measured against this one in alternating runs of a 1 GiB
 * checkout on the 2-core benchmark machine: 0.4 s more CPU per GiB and slower (medians 2.65 s
 * against 2.25 s under load), so it was dropped. SHA-256 is sequential: one file's hash cannot
 * be spread over cores.
 */
async function openChunkedStream(storage: Storage, entry: TreeEntry, context: ObjectContext, check: Check, stampAfter: ObjectTokens, readOptions: ReadOptions, joinPieces: boolean): Promise<Readable> {
  const chunks = entry.chunks ?? [];
  // Objects this read used every byte of: once the whole file verifies, they are known good.
  const usedWhole = new Set<string>();
  const whole = checkedPassThrough(check, async (actual, size) => {
    if (size !== entry.size || (actual !== null && actual !== entry.sha256)) {
      const damaged = await findDamagedChunk(storage, chunks, context);
      return damaged ?? new CairnError("CORRUPT", `File ${entry.path} (${context}) is corrupt: its chunks are intact but together ${actual === null ? `hold ${size} bytes, not ${entry.size}` : `hash to ${actual}, not ${entry.sha256}`}.`);
    }
    // The object cache may keep the copies it wrote of objects verified whole (in place before
    // the stream ends, so that a process that calls process.exit() then still leaves them).
    if (actual !== null) await storage.confirmObjects?.([...usedWhole]);
    if (stampAfter !== null) await saveStamp(storage, entry, stampAfter);
    return null;
  });
  const segments = readSegments(chunks);
  if (storage.localPath !== undefined && !isRemoteUrl(storage.url)) {
    streamLocalSegments(storage, segments, context, whole).catch((error) => whole.destroy(error));
    return whole;
  }
  let next = 0;
  let bytesInFlight = 0;
  const inFlight: { read: Promise<Buffer[]>; size: number }[] = [];
  const fill = (): void => {
    while (next < segments.length && !whole.destroyed && inFlight.length < READ_AHEAD_READS) {
      const segment = segments[next]!;
      if (inFlight.length > 0 && bytesInFlight + segment.size > READ_AHEAD_BYTES) return;
      next++;
      const read = readSegment(storage, segment, context, usedWhole, readOptions, joinPieces);
      read.catch(() => {}); // handled when its turn comes; until then it must not count as unhandled
      inFlight.push({ read, size: segment.size });
      bytesInFlight += segment.size;
    }
  };
  (async () => {
    fill();
    while (inFlight.length > 0) {
      const { read, size } = inFlight.shift()!;
      const pieces = await read;
      bytesInFlight -= size;
      fill();
      if (whole.destroyed) return; // the reader gave up: stop fetching
      // The pack is in memory already: hand all of it on, then wait for the reader once.
      for (const piece of pieces) whole.write(piece);
      if (whole.writableNeedDrain) await drained(whole);
    }
    whole.end();
  })().catch((error) => whole.destroy(error));
  return whole;
}

/**
 * A local folder's segments, streamed in order in 1 MiB pieces (the storage's file streams):
 * the disk needs no reading ahead, and memory stays at a few pieces whatever the pack sizes (the
 * Python binding's test allows its core half of a 128 MB file, and packs read whole, a few at
 * a time, with the garbage they leave, went past that). Each segment must deliver its size.
 */
async function streamLocalSegments(storage: Storage, segments: ReadSegment[], context: ObjectContext, whole: Writable): Promise<void> {
  for (const segment of segments) {
    const key = objectKey(segment.object);
    const what = describeSegment(segment, context);
    let source: Readable | null;
    try {
      source = await storage.getStream(key, { start: segment.offset, end: segment.offset + segment.size - 1 });
    } catch (error) {
      throw interrupted(error as Error, key, context);
    }
    if (source === null) throw new CairnError("CORRUPT", `Object ${key} (${what}) is missing from the repository.`, { details: { key } });
    let size = 0;
    try {
      for await (const piece of source as AsyncIterable<Buffer>) {
        size += piece.length;
        if (whole.destroyed) return; // the reader gave up
        if (!whole.write(piece)) await drained(whole);
      }
    } finally {
      source.destroy();
    }
    if (size !== segment.size) {
      throw new CairnError("CORRUPT", `Object ${key} (${what}) is corrupt: expected ${segment.packed ? `at least ${segment.offset + segment.size} bytes (where its chunks end)` : `${segment.size} bytes`}, read ${segment.offset + size}.`, { details: { key } });
    }
  }
  whole.end();
}

/** "chunk 3 of …" or "chunks 3-7 of …": what a segment is, for messages. */
function describeSegment(segment: ReadSegment, context: ObjectContext): string {
  return `${segment.chunks === 1 ? `chunk ${segment.firstChunk + 1}` : `chunks ${segment.firstChunk + 1}-${segment.firstChunk + segment.chunks}`} of ${context}`;
}

/**
 * The first chunk whose contents do not hash to its name, as an error naming the object that
 * holds it; null if none. Each read (a pack's run of chunks, or a chunk alone) is fetched once.
 */
async function findDamagedChunk(storage: Storage, chunks: ChunkRef[], context: ObjectContext): Promise<CairnError | null> {
  for (const segment of readSegments(chunks)) {
    const bytes = (await readSegment(storage, segment, context, new Set()))[0]!; // read joined: one piece
    let offset = 0;
    for (let index = segment.firstChunk; index < segment.firstChunk + segment.chunks; index++) {
      const chunk = chunks[index]!;
      const actual = hashBytes(bytes.subarray(offset, offset + chunk.size));
      offset += chunk.size;
      if (actual === chunk.sha256) continue;
      const key = objectKey(segment.object);
      const what = chunk.pack === undefined ? `a chunk of ${context}` : `the pack holding chunk ${index + 1} of ${context}, at offset ${chunk.offset}`;
      return new CairnError("CORRUPT", `Object ${key} (${what}) is corrupt: the chunk's ${chunk.size} bytes hash to ${actual}, not ${chunk.sha256}.`, { details: { key } });
    }
  }
  return null;
}

/** Resolves when a writable wants more, or is gone. */
function drained(stream: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off("drain", done);
      stream.off("close", done);
      resolve();
    };
    stream.on("drain", done);
    stream.on("close", done);
  });
}

/**
 * The bytes of one read of a chunked file: its object read whole (so that reading ahead really
 * fetches it), then the segment's part of it. `joined`: as one buffer (what the object cache
 * keeps a copy of as well, so open() joins each pack once); else as the pieces the storage
 * delivered (Storage.getPieces: no joining copy). Checked against the sizes the tree gives (the
 * hashes are checked with the whole file's); errors name the object. An object whose every byte
 * the segment uses is added to `usedWhole`.
 */
async function readSegment(storage: Storage, segment: ReadSegment, context: ObjectContext, usedWhole: Set<string>, options: ReadOptions = {}, joined = true): Promise<Buffer[]> {
  const key = objectKey(segment.object);
  let pieces: Buffer[] | null;
  try {
    if (joined) {
      const bytes = await storage.get(key, options);
      pieces = bytes === null ? null : [bytes];
    } else pieces = await storagePieces(storage, key, options);
  } catch (error) {
    throw interrupted(error as Error, key, context);
  }
  const what = describeSegment(segment, context);
  if (pieces === null) throw new CairnError("CORRUPT", `Object ${key} (${what}) is missing from the repository.`, { details: { key } });
  let length = 0;
  for (const piece of pieces) length += piece.length;
  if (segment.packed ? length < segment.offset + segment.size : length !== segment.size) {
    const expected = segment.packed ? `at least ${segment.offset + segment.size} bytes (where its chunks end)` : `${segment.size} bytes`;
    throw new CairnError("CORRUPT", `Object ${key} (${what}) is corrupt: expected ${expected}, read ${length}.`, { details: { key } });
  }
  let handed = pieces;
  if (segment.offset === 0 && length === segment.size) usedWhole.add(segment.object);
  else handed = slicePieces(pieces, segment.offset, segment.size);
  // Exactly what goes on to the reader, so a pooled buffer returns once the reader has given
  // back every byte of it (a pack used in part is never returned: it is left to the collector).
  if (options.borrowBuffers) lendInViews(handed);
  return handed;
}

/** The `size` bytes from `offset` of pieces laid end to end, as views of them (no copy). */
function slicePieces(pieces: Buffer[], offset: number, size: number): Buffer[] {
  const sliced: Buffer[] = [];
  let start = 0;
  const end = offset + size;
  for (const piece of pieces) {
    const pieceEnd = start + piece.length;
    if (pieceEnd > offset && start < end) sliced.push(piece.subarray(Math.max(offset - start, 0), Math.min(end, pieceEnd) - start));
    start = pieceEnd;
    if (start >= end) break;
  }
  return sliced;
}

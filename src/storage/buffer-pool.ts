/**
 * Reusable buffers for uploads that read a piece of a file (see file-range.ts). An upload of a
 * 1 GiB file is about 780 chunks; a fresh Buffer for each is 1 GiB of ArrayBuffers allocated and
 * dropped, and V8 answers that much external memory with a full mark-compact every few dozen
 * chunks (about 70 per GiB, measured with --trace-gc on the background worker): over a second
 * of CPU on a machine that the server and the chunker share. A few buffers used again and
 * again cost none of that. (Uploads are now packs of several chunks, a few MiB each: the same
 * holds per pack.)
 *
 * Downloads too: a checkout from a bucket reads each pack into a pooled buffer (the S3 lean
 * path's GETs with `borrow`), hands it on in views, and each view comes back once written to
 * the file (lendInViews, returnViews); the last one returns the buffer. Fresh memory for every
 * pack cost a 1 GiB checkout from radosgw about 1 s more CPU and a fifth more time (two sets of
 * 5 runs alternated with the build before: medians 3.75 and 3.71 s against 2.99 and 2.94 s).
 */
import { PACK_MAX_BYTES } from "../repository/packs.js";

/** Pooled buffers are this large: the largest pack; larger pieces get one of their own. */
export const POOLED_BYTES = PACK_MAX_BYTES;
/** At most this many are kept (as many as the uploads a publisher has in flight at once). */
const MAX_KEPT = 8;
/** Kept buffers are dropped after this long unused, so an idle training process does not hold them. */
const IDLE_MS = 5_000;

const kept: Buffer[] = [];
let idleTimer: NodeJS.Timeout | null = null;
/** The memory of every buffer borrowBuffer made: only those are ever lent and returned. */
const pooled = new WeakSet<ArrayBufferLike>();
/** Of each pooled buffer lent in views, how many of the views' bytes have yet to come back. */
const outstanding = new WeakMap<ArrayBufferLike, number>();

/**
 * A buffer of exactly `size` bytes (uninitialised), pooled when it fits; give it back with
 * releaseBuffer once nothing refers to it any more.
 *
 * @example
 * const bytes = borrowBuffer(chunk.size);
 * try { await upload(bytes); } finally { releaseBuffer(bytes); }
 */
export function borrowBuffer(size: number): Buffer {
  if (size > POOLED_BYTES) return Buffer.allocUnsafeSlow(size);
  // Slow (unpooled) memory of its own: Node's small-buffer pool would share it with others.
  let whole = kept.pop();
  if (whole === undefined) {
    whole = Buffer.allocUnsafeSlow(POOLED_BYTES);
    pooled.add(whole.buffer);
  }
  return whole.subarray(0, size);
}

/**
 * Says that `views` of pooled buffers (from borrowBuffer) are handed on, to come back through
 * returnViews once their bytes are no longer needed: when every byte lent of a buffer has come
 * back, it returns to the pool. Views of other memory are ignored (it is the garbage
 * collector's). Lend exactly what will come back: a buffer whose views do not all return is
 * simply never reused, but one returned too early would be overwritten under its reader.
 *
 * @example
 * lendInViews(pieces); // each piece handed to the file's write stream
 */
export function lendInViews(views: readonly Buffer[]): void {
  for (const view of views) {
    if (view.length === 0 || !pooled.has(view.buffer)) continue;
    outstanding.set(view.buffer, (outstanding.get(view.buffer) ?? 0) + view.length);
  }
}

/**
 * Views lent with lendInViews (or any part of them, in any pieces) whose bytes are no longer
 * needed: a buffer all of whose lent bytes have come back returns to the pool.
 *
 * @example
 * writeStream = createFileWriteStream(file, { written: returnViews });
 */
export function returnViews(views: readonly Buffer[]): void {
  for (const view of views) {
    const left = outstanding.get(view.buffer);
    if (left === undefined) continue;
    if (left > view.length) outstanding.set(view.buffer, left - view.length);
    else {
      outstanding.delete(view.buffer);
      releaseBuffer(Buffer.from(view.buffer, 0, POOLED_BYTES));
    }
  }
}

/**
 * Returns a buffer from borrowBuffer to the pool (others are left to the garbage collector).
 *
 * @example
 * releaseBuffer(bytes);
 */
export function releaseBuffer(bytes: Buffer): void {
  if (bytes.buffer.byteLength !== POOLED_BYTES || bytes.byteOffset !== 0 || kept.length >= MAX_KEPT) return;
  kept.push(Buffer.from(bytes.buffer, 0, POOLED_BYTES));
  if (idleTimer === null) {
    idleTimer = setTimeout(() => {
      kept.length = 0;
      idleTimer = null;
    }, IDLE_MS);
    idleTimer.unref();
  } else idleTimer.refresh();
}

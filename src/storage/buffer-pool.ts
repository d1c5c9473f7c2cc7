/**
 * Reusable buffers for uploads that read a piece of a file (see file-range.ts). An upload of a
 * 1 GiB file is about 780 chunks; a fresh Buffer for each is 1 GiB of ArrayBuffers allocated and
 * dropped, and V8 answers that much external memory with a full mark-compact every few dozen
 * chunks (about 70 per GiB, measured with --trace-gc on the background worker): over a second
 * of CPU on a machine that the server and the chunker share. A few buffers used again and
 * again cost none of that. (Uploads are now packs of several chunks, a few MiB each: the same
 * holds per pack.)
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
  const whole = kept.pop() ?? Buffer.allocUnsafeSlow(POOLED_BYTES);
  return whole.subarray(0, size);
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

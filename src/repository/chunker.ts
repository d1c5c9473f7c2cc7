import { createHash } from "node:crypto";
import * as fs from "node:fs/promises";

/**
 * Content-defined chunking (FastCDC: a gear rolling hash with normalized chunking, Xia et al.,
 * USENIX ATC 2016). Cut points depend only on the bytes near them, so an edit in the middle of a
 * file moves the boundaries next to the edit and no others: the unchanged rest of the file cuts
 * into the same chunks as before and is stored once.
 *
 * The parameters and the gear table are part of what makes two writers' chunks match (dedup),
 * not of the format: readers only follow a file's chunk list. Changing them keeps every
 * repository readable but stops new chunks from matching old ones, so treat them as fixed.
 */

export interface ChunkParameters {
  /** No cut before this many bytes from the chunk's start (those bytes are not even hashed). */
  min: number;
  /** The "normal" size: below it the cut condition is harder (more mask bits), above it easier. */
  avg: number;
  /** A chunk ends here whatever the contents. */
  max: number;
}

/**
 * Writers' parameters. A contiguous edit costs about the edited bytes plus one to two chunks on
 * each side, so the chunks must be small against the edits we dedup (a layer: tens of MiB), and
 * large enough that an object store is not flooded with requests (a 1 GiB file is ~850 objects).
 * A minimum of half the normal size makes the gear loop skip half the bytes and keeps sizes in a
 * narrow band (most chunks are 1 to 1.5 MiB; measured mean 1.2 MiB on random data).
 */
export const CHUNK_PARAMETERS: Readonly<ChunkParameters> = Object.freeze({ min: 512 * 1024, avg: 1024 * 1024, max: 4 * 1024 * 1024 });

/** Normalized chunking level: the mask has log2(avg)+2 bits before `avg` and log2(avg)-2 after. */
const NORMALIZATION = 2;

/**
 * The gear table: 256 pseudo-random 32-bit values, entry i being the first four bytes (big-endian)
 * of SHA-256 of the single byte i. Derived rather than pasted so it is reproducible from the docs.
 */
const GEAR: Uint32Array = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) table[i] = createHash("sha256").update(Uint8Array.of(i)).digest().readUInt32BE(0);
  return table;
})();

/** The top `bits` bits of a 32-bit word: with a left-shifting gear hash they depend on the most bytes. */
function topBits(bits: number): number {
  return bits <= 0 ? 0 : (0xffffffff << (32 - bits)) | 0;
}

function checkParameters(p: ChunkParameters): void {
  const ok = Number.isSafeInteger(p.min) && Number.isSafeInteger(p.avg) && Number.isSafeInteger(p.max) && p.min > 0 && p.min <= p.avg && p.avg <= p.max && Math.log2(p.avg) % 1 === 0;
  if (!ok) throw new RangeError(`chunk parameters must satisfy 0 < min ≤ avg ≤ max with avg a power of two; got ${JSON.stringify(p)}`);
}

/**
 * Where the chunk that starts at `start` ends: an offset in (start, end]. `end` is where the
 * known bytes stop; pass a range of at least `max` bytes unless the file ends sooner, or the
 * cut may differ from the one the whole file would give.
 *
 * @example
 * const next = findCut(bytes, 0, bytes.length, CHUNK_PARAMETERS); // bytes [0, next) are a chunk
 */
export function findCut(bytes: Uint8Array, start: number, end: number, parameters: ChunkParameters = CHUNK_PARAMETERS): number {
  const available = end - start;
  if (available <= parameters.min) return end;
  const bits = Math.log2(parameters.avg);
  const hardMask = topBits(bits + NORMALIZATION);
  const easyMask = topBits(bits - NORMALIZATION);
  const limit = start + Math.min(available, parameters.max);
  const normal = Math.min(start + parameters.avg, limit);
  const gear = GEAR;
  let hash = 0;
  let i = start + parameters.min;
  // Two tight loops (not one with a branch on the mask): this is where the time goes.
  for (; i < normal; i++) {
    hash = ((hash << 1) + gear[bytes[i]!]!) | 0;
    if ((hash & hardMask) === 0) return i + 1;
  }
  for (; i < limit; i++) {
    hash = ((hash << 1) + gear[bytes[i]!]!) | 0;
    if ((hash & easyMask) === 0) return i + 1;
  }
  return limit;
}

export interface Chunk {
  /** Offset of the chunk in the file. */
  offset: number;
  size: number;
  /**
   * The chunk's bytes: a view into the chunker's buffer, valid only until the next chunk is
   * asked for. Hash it, or copy it (Buffer.from) to keep it.
   */
  bytes: Buffer;
}

/**
 * Cuts a file into content-defined chunks, streaming: memory stays at one read buffer (about
 * 32 MiB) whatever the file's size. The same bytes always give the same chunks, so a crash and
 * a redo produce the same list.
 *
 * @example
 * for await (const chunk of chunkFile("model.pth")) console.log(chunk.offset, chunk.size);
 */
export async function* chunkFile(file: string, parameters: ChunkParameters = CHUNK_PARAMETERS): AsyncGenerator<Chunk> {
  checkParameters(parameters);
  const capacity = Math.max(READ_BYTES, 2 * parameters.max);
  const buffer = Buffer.allocUnsafeSlow(capacity);
  const handle = await fs.open(file, "r");
  try {
    let filled = 0; // bytes of `buffer` holding file data
    let start = 0; // where the current chunk starts in `buffer`
    let offset = 0; // where it starts in the file
    let position = 0; // next file offset to read
    let ended = false;
    for (;;) {
      if (filled - start < parameters.max && !ended) {
        // Keep the current chunk's bytes, read more behind them.
        if (start > 0) {
          buffer.copyWithin(0, start, filled);
          filled -= start;
          start = 0;
        }
        while (filled < capacity && !ended) {
          const { bytesRead } = await handle.read(buffer, filled, capacity - filled, position);
          if (bytesRead === 0) ended = true;
          filled += bytesRead;
          position += bytesRead;
        }
      }
      if (filled === start) return;
      const cut = findCut(buffer, start, filled, parameters);
      yield { offset, size: cut - start, bytes: buffer.subarray(start, cut) };
      offset += cut - start;
      start = cut;
    }
  } finally {
    await handle.close();
  }
}

const READ_BYTES = 32 * 1024 * 1024;

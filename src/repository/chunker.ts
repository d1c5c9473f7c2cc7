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
 * Writers' parameters. A contiguous edit costs the edited bytes plus about 1.5 mean chunks
 * (the chunk it starts in, and the cut points after it that must fall back into step), so chunks
 * must be small against the edits we dedup (a layer: tens of MiB), yet large enough that an
 * object store is not flooded with requests (each chunk is one request to write and to read).
 * With these, chunks average about 1.35 MiB (750 to 800 objects per GiB) and a contiguous edit
 * costs about 2 MiB more than its own size (simulated on random data over 30 edits: mean 2.0
 * MiB, worst 3.9 MiB; bench/cases/subfile-dedup.mjs measures 1.9 MiB). A minimum of half the
 * normal size lets the gear loop skip about 40% of the bytes.
 */
export const CHUNK_PARAMETERS: Readonly<ChunkParameters> = Object.freeze({ min: 512 * 1024, avg: 1024 * 1024, max: 4 * 1024 * 1024 });

/**
 * Normalized chunking level: the mask has log2(avg)+1 bits before `avg` and log2(avg)-1 after,
 * which narrows the spread of sizes. Level 2 (the paper's choice) narrows it more but falls back
 * into step after an edit much later: only cut points that meet the harder mask (one per 4 MiB)
 * are sure to be cuts in both versions. Simulated: level 2 cost 3.7 MiB per edit (worst 18.6),
 * level 1 cost 2.0 (worst 3.9).
 */
const NORMALIZATION = 1;

/**
 * The gear table: 256 pseudo-random 32-bit values, entry i being the first four bytes (big-endian)
 * of SHA-256 of the single byte i. Derived rather than pasted so it is reproducible from the docs;
 * derived on first use, so that processes that never chunk (`cairn ls`) do not pay for it.
 */
let GEAR: Int32Array | undefined;
const gearTable = (): Int32Array => (GEAR ??= (() => {
  // Int32 rather than Uint32: the same bits, and V8 keeps the hash loop in 32-bit integers.
  const table = new Int32Array(256);
  for (let i = 0; i < 256; i++) table[i] = createHash("sha256").update(Uint8Array.of(i)).digest().readInt32BE(0);
  return table;
})());

/** The top `bits` bits of a 32-bit word: with a left-shifting gear hash they depend on the most bytes. */
function topBits(bits: number): number {
  return bits <= 0 ? 0 : (0xffffffff << (32 - bits)) | 0;
}

/** What the inner loop needs, worked out once per parameter set. */
export interface CutPlan {
  min: number;
  avg: number;
  max: number;
  hardMask: number;
  easyMask: number;
  gear: Int32Array;
}

/**
 * Checks the parameters and works out the masks.
 *
 * @example
 * const plan = cutPlan(CHUNK_PARAMETERS);
 */
export function cutPlan(p: ChunkParameters = CHUNK_PARAMETERS): CutPlan {
  const ok = Number.isSafeInteger(p.min) && Number.isSafeInteger(p.avg) && Number.isSafeInteger(p.max) && p.min > 0 && p.min <= p.avg && p.avg <= p.max && Math.log2(p.avg) % 1 === 0;
  if (!ok) throw new RangeError(`chunk parameters must satisfy 0 < min ≤ avg ≤ max with avg a power of two; got ${JSON.stringify(p)}`);
  const bits = Math.log2(p.avg);
  return { min: p.min, avg: p.avg, max: p.max, hardMask: topBits(bits + NORMALIZATION), easyMask: topBits(bits - NORMALIZATION), gear: gearTable() };
}

/**
 * The FastCDC cut: where the chunk that starts at `start` ends, an offset in (start, end].
 * Self-contained (it refers to nothing outside itself) because the chunk worker runs its source.
 */
export function cutWithPlan(bytes: Uint8Array, start: number, end: number, plan: CutPlan): number {
  const available = end - start;
  if (available <= plan.min) return end;
  const limit = start + (available < plan.max ? available : plan.max);
  const normal = start + plan.avg < limit ? start + plan.avg : limit;
  const gear = plan.gear;
  const hardMask = plan.hardMask;
  const easyMask = plan.easyMask;
  let hash = 0;
  let i = start + plan.min;
  // Two tight loops (not one with a branch on the mask): this is where the time goes. The first
  // `min` bytes are skipped, not hashed: no cut may fall there anyway. Each loop is unrolled four
  // times (the same test at every byte, so the same cuts): measured 1.5x faster under V8 than
  // one byte per turn (bench/cases/hashing.mjs, the chunk worker's row).
  for (const normal4 = normal - 3; i < normal4; i += 4) {
    hash = ((hash << 1) + gear[bytes[i]!]!) | 0;
    if ((hash & hardMask) === 0) return i + 1;
    hash = ((hash << 1) + gear[bytes[i + 1]!]!) | 0;
    if ((hash & hardMask) === 0) return i + 2;
    hash = ((hash << 1) + gear[bytes[i + 2]!]!) | 0;
    if ((hash & hardMask) === 0) return i + 3;
    hash = ((hash << 1) + gear[bytes[i + 3]!]!) | 0;
    if ((hash & hardMask) === 0) return i + 4;
  }
  for (; i < normal; i++) {
    hash = ((hash << 1) + gear[bytes[i]!]!) | 0;
    if ((hash & hardMask) === 0) return i + 1;
  }
  for (const limit4 = limit - 3; i < limit4; i += 4) {
    hash = ((hash << 1) + gear[bytes[i]!]!) | 0;
    if ((hash & easyMask) === 0) return i + 1;
    hash = ((hash << 1) + gear[bytes[i + 1]!]!) | 0;
    if ((hash & easyMask) === 0) return i + 2;
    hash = ((hash << 1) + gear[bytes[i + 2]!]!) | 0;
    if ((hash & easyMask) === 0) return i + 3;
    hash = ((hash << 1) + gear[bytes[i + 3]!]!) | 0;
    if ((hash & easyMask) === 0) return i + 4;
  }
  for (; i < limit; i++) {
    hash = ((hash << 1) + gear[bytes[i]!]!) | 0;
    if ((hash & easyMask) === 0) return i + 1;
  }
  return limit;
}

/**
 * Where the chunk that starts at `start` ends: an offset in (start, end]. `end` is where the
 * known bytes stop; pass a range of at least `max` bytes unless the file ends sooner, or the
 * cut may differ from the one the whole file would give.
 *
 * @example
 * const next = findCut(bytes, 0, bytes.length); // bytes [0, next) are the first chunk
 */
export function findCut(bytes: Uint8Array, start: number, end: number, parameters: ChunkParameters = CHUNK_PARAMETERS): number {
  return cutWithPlan(bytes, start, end, cutPlan(parameters));
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
  const plan = cutPlan(parameters);
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
      const cut = cutWithPlan(buffer, start, filled, plan);
      yield { offset, size: cut - start, bytes: buffer.subarray(start, cut) };
      offset += cut - start;
      start = cut;
    }
  } finally {
    await handle.close();
  }
}

/** Read size of the streaming chunker (and of the chunk worker). */
export const READ_BYTES = 32 * 1024 * 1024;

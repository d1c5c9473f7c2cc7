import { Readable } from "node:stream";
import { sliceStream } from "./slice.js";
import type { ByteRange } from "./storage.js";

/** Each ranged request asks for this many bytes: large enough that request overhead is small. */
export const DOWNLOAD_PART_BYTES = 8 * 1024 * 1024;
/** Ranges in flight at once for one object (each buffers at most one part: 4 × 8 MiB). */
export const DOWNLOAD_CONCURRENCY = 4;
/** Attempts at one part whose body breaks off (the SDKs retry the request, not a broken body). */
const PART_ATTEMPTS = 3;

/** What a driver's ranged GET answered. */
export interface RangeAnswer {
  body: Readable;
  /** The object's size, from Content-Range; null when the server did not say (a 200 answer). */
  objectSize: number | null;
  /** The server ignored the range and sent the whole object (HTTP allows it). */
  whole: boolean;
}

/** A ranged GET of one object: bytes `start`..`end` inclusive; null when the object is missing. */
export type FetchRange = (start: number, end: number) => Promise<RangeAnswer | null>;

/**
 * Streams an object (or a range of it) as parallel ranged requests, in order, with bounded
 * memory: the first request asks for the first part and learns the object's size from
 * Content-Range, so a small object costs one request as before; a larger one streams its first
 * part straight through while the next parts (`concurrency` at a time) are fetched into memory.
 * Nothing is verified here: the caller hashes what it reads, as for any stream.
 *
 * @example
 * const stream = await downloadInParts((start, end) => getRange(key, start, end), range);
 */
export async function downloadInParts(
  fetchRange: FetchRange,
  range?: ByteRange,
  options: { partBytes?: number; concurrency?: number } = {},
): Promise<Readable | null> {
  const partBytes = options.partBytes ?? DOWNLOAD_PART_BYTES;
  const concurrency = options.concurrency ?? DOWNLOAD_CONCURRENCY;
  const start = range?.start ?? 0;
  const askedEnd = range?.end ?? Number.POSITIVE_INFINITY;
  if (askedEnd < start) return Readable.from([]);
  const firstEnd = Math.min(start + partBytes - 1, askedEnd);
  const first = await fetchRange(start, firstEnd);
  if (first === null) return null;
  // A server that sent everything: cut the asked bytes out of it, as a single stream.
  if (first.whole) return range ? sliceStream(first.body, start, range.end) : first.body;
  const end = first.objectSize === null ? firstEnd : Math.min(askedEnd, first.objectSize - 1);
  if (end <= firstEnd) return first.body;

  // The first body is read only once the consumer starts reading: until then an error on it
  // (a dropped connection) must not count as unhandled; the reading still sees it.
  first.body.on("error", () => {});
  const parts: { start: number; end: number }[] = [];
  for (let from = firstEnd + 1; from <= end; from += partBytes) parts.push({ start: from, end: Math.min(from + partBytes - 1, end) });
  return Readable.from(inOrder(first.body, parts, fetchRange, concurrency), { objectMode: false, highWaterMark: 1024 * 1024 });
}

/**
 * Yields the first body as it arrives, then each later part once fetched; at most `concurrency`
 * later parts are requested or held at once, and a reader that stops reading stops the
 * fetching (the generator pauses at its yield). An abandoned read cancels what is in flight.
 */
async function* inOrder(first: Readable, parts: { start: number; end: number }[], fetchRange: FetchRange, concurrency: number): AsyncGenerator<Buffer> {
  const inFlight: Promise<Buffer>[] = [];
  const bodies = new Set<Readable>();
  let next = 0;
  let closed = false;
  const startNext = (): void => {
    while (inFlight.length < concurrency && next < parts.length) {
      const part = parts[next++]!;
      const fetched = fetchPart(part, fetchRange, bodies, () => closed);
      // Failures are raised in order, when the part's turn comes; until then they must not
      // count as unhandled.
      fetched.catch(() => {});
      inFlight.push(fetched);
    }
  };
  try {
    startNext();
    bodies.add(first);
    for await (const chunk of first) yield chunk as Buffer;
    bodies.delete(first);
    while (inFlight.length > 0) {
      const part = await inFlight.shift()!;
      startNext();
      yield part;
    }
  } finally {
    closed = true;
    for (const body of bodies) body.destroy();
  }
}

/** One part, read whole into memory, retried when its body breaks off. */
async function fetchPart(part: { start: number; end: number }, fetchRange: FetchRange, bodies: Set<Readable>, closed: () => boolean): Promise<Buffer> {
  const expected = part.end - part.start + 1;
  let lastError: unknown = null;
  for (let attempt = 1; attempt <= PART_ATTEMPTS; attempt++) {
    if (closed()) throw new Error("the download was abandoned");
    const answer = await fetchRange(part.start, part.end);
    if (answer !== null && closed()) {
      // The reader left while this request was out: drop the answer unread.
      answer.body.destroy();
      throw new Error("the download was abandoned");
    }
    if (answer === null) throw new Error(`the object disappeared while it was read (bytes ${part.start}-${part.end})`);
    if (answer.whole) {
      answer.body.destroy();
      throw new Error(`the server ignored the range ${part.start}-${part.end} after honouring the first one`);
    }
    bodies.add(answer.body);
    try {
      const chunks: Buffer[] = [];
      let length = 0;
      for await (const chunk of answer.body) {
        chunks.push(chunk as Buffer);
        length += (chunk as Buffer).length;
      }
      // A short part means the object changed or the server cut it: let the caller's hash say
      // which object; here only the length is known, and it must be right.
      if (length !== expected) throw new Error(`bytes ${part.start}-${part.end}: got ${length} bytes instead of ${expected}`);
      return Buffer.concat(chunks, length);
    } catch (error) {
      lastError = error;
      if (closed() || (error as Error).message?.startsWith("bytes ")) throw error;
    } finally {
      bodies.delete(answer.body);
    }
  }
  throw lastError;
}

/**
 * The object size in a Content-Range header ("bytes 0-8388607/1073741824"); null when absent
 * or "*".
 *
 * @example
 * objectSizeOf("bytes 0-99/1234"); // 1234
 */
export function objectSizeOf(contentRange: string | undefined | null): number | null {
  const match = /\/(\d+)\s*$/.exec(contentRange ?? "");
  return match ? Number(match[1]) : null;
}

import type { Readable } from "node:stream";

/**
 * Reads a response body whole into one buffer. With the length the server announced, the bytes
 * go straight into a buffer of that size: no list of pieces to join, and no second copy (the
 * SDK's transformToByteArray() joins them, and Buffer.from() of its result copies them again;
 * a chunked file is hundreds of such reads). A body longer or shorter than announced is
 * returned as it came: the caller checks sizes and hashes.
 *
 * @example
 * const bytes = await readBody(response.Body as Readable, response.ContentLength);
 */
export async function readBody(body: Readable, length?: number): Promise<Buffer> {
  if (length === undefined || !Number.isSafeInteger(length) || length < 0) {
    const pieces: Buffer[] = [];
    for await (const piece of body) pieces.push(piece as Buffer);
    return Buffer.concat(pieces);
  }
  const bytes = Buffer.allocUnsafe(length);
  let filled = 0;
  let overflow: Buffer[] | null = null;
  for await (const piece of body as AsyncIterable<Buffer>) {
    if (overflow === null && filled + piece.length <= length) {
      piece.copy(bytes, filled);
      filled += piece.length;
    } else {
      overflow ??= [bytes.subarray(0, filled)];
      overflow.push(piece);
    }
  }
  if (overflow !== null) return Buffer.concat(overflow);
  return filled === length ? bytes : bytes.subarray(0, filled);
}

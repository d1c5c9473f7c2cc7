import type { ChunkRef } from "./types.js";

/**
 * Packs: a run of a file's new chunks, consecutive in the file, stored as one object (named, as
 * every object, by the SHA-256 of its bytes), so that reading or writing them costs one request
 * instead of one per chunk. Chunks stay the unit of dedup: a tree lists each chunk with its pack
 * and offset, and a later version of the file refers to the chunks it shares wherever they are.
 *
 * Why: chunks average about 1.35 MiB, so a 1 GiB file is about 780 objects. Measured on the
 * benchmark machine against radosgw, `aws s3 cp` itself downloads 1 GiB in 5.4-5.8 s with
 * 1.35 MB parts and in 3.4-3.7 s with 8 MB parts: the requests, not the bytes, were the cost of
 * Cairn's read-back. Locally, copying 780 files costs a third more system time than one.
 */

/** A pack ends after a chunk that brings it to at least this many bytes, whatever the chunk. */
export const PACK_FULL_BYTES = 8 * 1024 * 1024;
/** A pack may end (by content, below) once it holds this many bytes. */
export const PACK_MIN_BYTES = 4 * 1024 * 1024;
/** The largest pack: just under PACK_FULL_BYTES plus the largest chunk (4 MiB). */
export const PACK_MAX_BYTES = PACK_FULL_BYTES + 4 * 1024 * 1024;

/**
 * Whether a pack of `packBytes` bytes (the chunk just added included) ends after the chunk
 * `chunkSha256`. Between PACK_MIN_BYTES and PACK_FULL_BYTES, it ends after a chunk whose hash
 * starts with a multiple of four: the same chunks always fall into the same packs, so two
 * writers storing the same file (two experiments saving the same base model) make the same
 * packs, and the second finds them stored. Packs then average about 6 MiB.
 *
 * @example
 * if (endsPack(pack.size, chunk.sha256)) closePack();
 */
export function endsPack(packBytes: number, chunkSha256: string): boolean {
  if (packBytes >= PACK_FULL_BYTES) return true;
  return packBytes >= PACK_MIN_BYTES && Number.parseInt(chunkSha256.slice(0, 8), 16) % 4 === 0;
}

/**
 * A piece of a chunked file read with one request: `size` bytes from `offset` of the object
 * `object` (a pack, or a chunk stored alone), covering `chunks` consecutive chunks of the file
 * from `firstChunk`.
 */
export interface ReadSegment {
  object: string;
  /** Whether `object` is a pack (else a chunk stored alone, which must be exactly `size` bytes). */
  packed: boolean;
  offset: number;
  size: number;
  firstChunk: number;
  chunks: number;
}

/**
 * The reads that deliver a chunked file: consecutive chunks at consecutive offsets of one pack
 * are read together; a chunk stored alone is a read of its own.
 *
 * @example
 * readSegments([{ sha256: a, size: 5, pack: p, offset: 0 }, { sha256: b, size: 3, pack: p, offset: 5 }]);
 * // [{ object: p, packed: true, offset: 0, size: 8, firstChunk: 0, chunks: 2 }]
 */
export function readSegments(chunks: readonly ChunkRef[]): ReadSegment[] {
  const segments: ReadSegment[] = [];
  chunks.forEach((chunk, index) => {
    const last = segments.at(-1);
    if (chunk.pack !== undefined && last !== undefined && last.object === chunk.pack && last.offset + last.size === chunk.offset) {
      last.size += chunk.size;
      last.chunks += 1;
      return;
    }
    segments.push({ object: chunkObject(chunk), packed: chunk.pack !== undefined, offset: chunk.offset ?? 0, size: chunk.size, firstChunk: index, chunks: 1 });
  });
  return segments;
}

/**
 * The object that holds a chunk's bytes: its pack, or (format 1.1) the chunk itself.
 *
 * @example
 * objectKey(chunkObject(entry.chunks[3]));
 */
export function chunkObject(chunk: ChunkRef): string {
  return chunk.pack ?? chunk.sha256;
}

/**
 * The objects that hold a chunked file's bytes, each once, in the order first used.
 *
 * @example
 * chunkObjects(entry.chunks); // [packA, packB]
 */
export function chunkObjects(chunks: readonly ChunkRef[]): string[] {
  return [...new Set(chunks.map(chunkObject))];
}

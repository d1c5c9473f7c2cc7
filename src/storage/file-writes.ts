import type { FileHandle } from "node:fs/promises";
import * as fs from "node:fs/promises";
import { Writable } from "node:stream";

/**
 * The most one write system call puts into a file. On Linux 6.18/ext4 a write of 2 MiB or more
 * lets the page cache take large folios, and on the benchmark machine such writes of 1 GiB cost
 * 0.3 to 3.9 s of system time from one run to the next, where writes of 128 KiB to 1 MiB cost
 * 0.25 to 0.36 s every time (`dd bs=…`, and Node writing one 6 MiB buffer whole or in 1 MiB
 * slices, alternated; docs/BENCHMARKS.md). A pack arrives as one buffer of 4 to 12 MiB, and a
 * stream may hold several: written whole, a 1 GiB checkout from radosgw spent 50% of its samples
 * copying into the page cache against 4% for rclone's. Smaller, and the calls add up.
 */
export const FILE_WRITE_BYTES = 512 * 1024;

/**
 * The largest piece a read hands to its reader (views of what it read, not copies): a reader
 * that writes each piece to a file, as `fs.createWriteStream` does, then stays clear of the
 * slow sizes (2 MiB and more) with as few calls as that allows. Halving it to FILE_WRITE_BYTES
 * made a local `open()` of 1 GiB piped into a file slower (0.92-0.99 s against 0.76-0.89 s,
 * alternated): such a writer waits for each write before the next.
 */
export const READ_PIECE_BYTES = 1024 * 1024;

/** More buffers than this in one writev are refused by the kernel (IOV_MAX on Linux). */
const MAX_PIECES_PER_WRITE = 1024;

/**
 * Writes `pieces` in order at the file's current position, with writev calls of at most
 * FILE_WRITE_BYTES each (a short write is continued where it stopped).
 *
 * @example
 * const handle = await fs.open("pack.bin", "w");
 * await writePieces(handle, [header, body]);
 * await handle.close();
 */
export async function writePieces(handle: FileHandle, pieces: readonly Buffer[]): Promise<void> {
  let index = 0; // the first byte not yet written is pieces[index][offset]
  let offset = 0;
  for (;;) {
    while (index < pieces.length && offset === pieces[index]!.length) {
      index += 1;
      offset = 0;
    }
    if (index === pieces.length) return;
    const group: Buffer[] = [];
    let bytes = 0;
    for (let i = index, from = offset; i < pieces.length && bytes < FILE_WRITE_BYTES && group.length < MAX_PIECES_PER_WRITE; i++, from = 0) {
      const take = Math.min(pieces[i]!.length - from, FILE_WRITE_BYTES - bytes);
      if (take > 0) group.push(pieces[i]!.subarray(from, from + take));
      bytes += take;
    }
    let { bytesWritten } = await handle.writev(group);
    if (bytesWritten === 0) throw Object.assign(new Error("A write to a file made no progress."), { code: "EIO" });
    while (bytesWritten > 0) {
      const left = pieces[index]!.length - offset;
      const step = Math.min(left, bytesWritten);
      offset += step;
      bytesWritten -= step;
      if (offset === pieces[index]!.length) {
        index += 1;
        offset = 0;
      }
    }
  }
}

/**
 * A writable stream into a new file, as `fs.createWriteStream` makes, whose system calls each
 * write at most FILE_WRITE_BYTES (see there): what it holds (up to `highWaterMark`) goes out as
 * writev calls of that size. `flags` and `mode` as for `fs.open` ("w" and 0o666 by default);
 * `written` is told of the pieces each writev took, once they are in the file (a checkout gives
 * pooled read buffers back with it: buffer-pool.ts).
 *
 * @example
 * await pipeline(source, createFileWriteStream(temporary, { flags: "wx", mode: 0o644, highWaterMark: 8 * 1024 * 1024 }));
 */
export function createFileWriteStream(file: string, options: { flags?: string; mode?: number; highWaterMark?: number; written?: (pieces: readonly Buffer[]) => void } = {}): Writable {
  let handle: FileHandle | null = null;
  const close = async (): Promise<void> => {
    const open = handle;
    handle = null;
    await open?.close();
  };
  return new Writable({
    highWaterMark: options.highWaterMark,
    construct(callback) {
      fs.open(file, options.flags ?? "w", options.mode).then(
        (opened) => {
          handle = opened;
          callback();
        },
        (error: Error) => callback(error),
      );
    },
    writev(chunks, callback) {
      const pieces = chunks.map(({ chunk }) => chunk as Buffer);
      writePieces(handle!, pieces).then(
        () => {
          options.written?.(pieces);
          callback();
        },
        (error: Error) => callback(error),
      );
    },
    final(callback) {
      close().then(() => callback(), (error: Error) => callback(error));
    },
    destroy(error, callback) {
      close().then(
        () => callback(error),
        () => callback(error),
      );
    },
  });
}

import { createHash } from "node:crypto";
import * as fs from "node:fs/promises";
import { FILE_WRITE_BYTES } from "../storage/file-writes.js";

/**
 * SHA-256 of a file, read in 4 MiB pieces (memory stays flat whatever the size), each hashed
 * while the next is read. Two buffers, used in turn: a read stream would allocate a new buffer
 * per read, and V8 answers 1 GiB of buffers allocated and dropped with a full garbage
 * collection every few of them (about 25 per GiB, with --trace-gc). Node's crypto is OpenSSL,
 * which uses the CPU's SHA instructions.
 *
 * @example
 * const digest = await hashFile("model.pth"); // "9f86d0…"
 */
export async function hashFile(file: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash("sha256");
  const handle = await fs.open(file, "r");
  try {
    const buffers = [Buffer.allocUnsafeSlow(HASH_READ_BYTES), Buffer.allocUnsafeSlow(HASH_READ_BYTES)];
    let size = 0;
    let pending = settled(handle.read(buffers[0]!, 0, HASH_READ_BYTES, 0));
    try {
      for (let turn = 0; ; turn++) {
        const { bytesRead } = await pending;
        if (bytesRead === 0) break;
        // The other buffer was hashed last turn: free for the next read.
        pending = settled(handle.read(buffers[(turn + 1) % 2]!, 0, HASH_READ_BYTES, size + bytesRead));
        hash.update(buffers[turn % 2]!.subarray(0, bytesRead));
        size += bytesRead;
      }
    } finally {
      // On an error, let the read still in flight finish before the file is closed.
      await Promise.allSettled([pending]);
    }
    return { sha256: hash.digest("hex"), size };
  } finally {
    await handle.close();
  }
}

/** Read size of hashFile: large enough that reads cost little beside the hashing. */
const HASH_READ_BYTES = 4 * 1024 * 1024;

/** SHA-256 of bytes in memory. */
export function hashBytes(bytes: Buffer | string): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * Copies `source` to `destination` and hashes the bytes copied, in one pass: while one chunk is
 * hashed, the next is being read and the previous one written. The hash is of exactly the bytes
 * written, even if another process rewrites the source meanwhile (hashing the source and copying
 * it separately could pair one version's hash with another version's bytes).
 *
 * @example
 * const { sha256, size } = await copyAndHash("model.pth", "/repo/local/spool/tmp-1");
 */
export async function copyAndHash(source: string, destination: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash("sha256");
  const input = await fs.open(source, "r");
  try {
    const output = await fs.open(destination, "wx");
    try {
      // Three buffers: chunk t is hashed while t+1 is read and t-1 written.
      const buffers = [0, 1, 2].map(() => Buffer.allocUnsafeSlow(COPY_CHUNK_BYTES));
      let position = 0;
      let pendingWrite: Promise<unknown> = Promise.resolve();
      let pendingRead = settled(input.read(buffers[0]!, 0, COPY_CHUNK_BYTES, 0));
      try {
        for (let turn = 0; ; turn++) {
          const buffer = buffers[turn % 3]!;
          const { bytesRead } = await pendingRead;
          if (bytesRead === 0) break;
          // The buffer read into next was last written at turn-2, awaited at turn-1.
          pendingRead = settled(input.read(buffers[(turn + 1) % 3]!, 0, COPY_CHUNK_BYTES, position + bytesRead));
          hash.update(buffer.subarray(0, bytesRead));
          await pendingWrite;
          pendingWrite = settled(writeFully(output, buffer, bytesRead, position));
          position += bytesRead;
        }
        await pendingWrite;
      } finally {
        // On an error, let the operation still in flight finish before the files are closed.
        await Promise.allSettled([pendingRead, pendingWrite]);
      }
      return { sha256: hash.digest("hex"), size: position };
    } finally {
      await output.close();
    }
  } finally {
    await input.close();
  }
}

/** What each read and write of the copy moves: see FILE_WRITE_BYTES. */
const COPY_CHUNK_BYTES = FILE_WRITE_BYTES;

/** The same promise, marked as handled so a failure while another await is pending is not "unhandled". */
function settled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

async function writeFully(output: fs.FileHandle, buffer: Buffer, length: number, position: number): Promise<void> {
  let written = 0;
  while (written < length) {
    const { bytesWritten } = await output.write(buffer, written, length - written, position + written);
    written += bytesWritten;
  }
}

import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import * as fs from "node:fs/promises";
import { Transform, type TransformCallback } from "node:stream";

/**
 * SHA-256 of a file, streamed (memory stays flat whatever the size). Node's crypto is OpenSSL,
 * which uses the CPU's SHA instructions.
 *
 * @example
 * const digest = await hashFile("model.pth"); // "9f86d0…"
 */
export async function hashFile(file: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 4 * 1024 * 1024 })) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest("hex"), size };
}

/** SHA-256 of bytes in memory. */
export function hashBytes(bytes: Buffer | string): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * Copies `source` to `destination` and hashes the bytes copied, in one pass: each chunk is read,
 * hashed, and written while the next one is read. The hash is of exactly the bytes written, even
 * if another process rewrites the source meanwhile (hashing the source and copying it separately
 * could pair one version's hash with another version's bytes).
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
      // Two buffers: one being written while the other is read and hashed.
      const buffers = [Buffer.allocUnsafe(COPY_CHUNK_BYTES), Buffer.allocUnsafe(COPY_CHUNK_BYTES)];
      let position = 0;
      let pendingWrite: Promise<unknown> = Promise.resolve();
      for (let turn = 0; ; turn++) {
        const buffer = buffers[turn % 2]!;
        const { bytesRead } = await input.read(buffer, 0, buffer.length, position);
        if (bytesRead === 0) break;
        hash.update(buffer.subarray(0, bytesRead));
        await pendingWrite;
        pendingWrite = writeFully(output, buffer, bytesRead, position);
        position += bytesRead;
      }
      await pendingWrite;
      return { sha256: hash.digest("hex"), size: position };
    } finally {
      await output.close();
    }
  } finally {
    await input.close();
  }
}

const COPY_CHUNK_BYTES = 8 * 1024 * 1024;

async function writeFully(output: fs.FileHandle, buffer: Buffer, length: number, position: number): Promise<void> {
  let written = 0;
  while (written < length) {
    const { bytesWritten } = await output.write(buffer, written, length - written, position + written);
    written += bytesWritten;
  }
}

/**
 * A pass-through stream that checks the bytes against an expected SHA-256 and size, and fails
 * at the end (before signalling completion) when they differ.
 *
 * @example
 * stream.pipe(verifyingStream(entry.sha256, entry.size, () => new Error("bad object")));
 */
export function verifyingStream(expectedSha256: string, expectedSize: number | null, onMismatch: (actual: string, size: number) => Error): Transform {
  const hash = createHash("sha256");
  let size = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      hash.update(chunk);
      size += chunk.length;
      callback(null, chunk);
    },
    flush(callback: TransformCallback) {
      const actual = hash.digest("hex");
      if (actual !== expectedSha256 || (expectedSize !== null && size !== expectedSize)) callback(onMismatch(actual, size));
      else callback();
    },
  });
}

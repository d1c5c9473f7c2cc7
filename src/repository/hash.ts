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
 * Copies `source` to `destination` and hashes it. The kernel copies (copy_file_range, reflinks
 * where the file system has them) while this thread hashes the source from the page cache, so
 * the whole costs about one copy rather than a copy plus a read.
 *
 * @example
 * const { sha256, size } = await copyAndHash("model.pth", "/repo/local/spool/tmp-1");
 */
export async function copyAndHash(source: string, destination: string): Promise<{ sha256: string; size: number }> {
  const [digest] = await Promise.all([hashFile(source), fs.copyFile(source, destination, fs.constants.COPYFILE_EXCL)]);
  const copied = await fs.stat(destination);
  if (copied.size !== digest.size) {
    // The file changed while we copied it: hash what we kept, which is what will be stored.
    return hashFile(destination);
  }
  return digest;
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

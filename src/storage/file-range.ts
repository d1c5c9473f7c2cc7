import * as fs from "node:fs/promises";
import { CairnError } from "../errors.js";
import { borrowBuffer, releaseBuffer } from "./buffer-pool.js";
import type { Storage } from "./storage.js";

/** A piece of a local file: `size` bytes from `offset`. */
export interface FileRange {
  offset: number;
  size: number;
}

/**
 * Stores a piece of a local file (a chunk of a captured checkpoint) under `key`, only when
 * absent; false when it was there already. Through the storage's own putFileRangeIfAbsent where
 * it has one (the background worker's: the piece is read on the worker, next to the upload),
 * else read here into a pooled buffer (buffer-pool.ts) and handed to putIfAbsent. The buffer is
 * reused once the call is answered: storages do not keep a body past their answer, and a server
 * that answered before reading the whole body has refused it (and S3 checks each body against
 * its signed SHA-256 in any case).
 *
 * @example
 * const stored = await putFileRangeIfAbsent(storage, objectKey(chunk.sha256), "/spool/objects/9f86…", { offset: 0, size: 1_412_345 });
 */
export async function putFileRangeIfAbsent(storage: Storage, key: string, localPath: string, range: FileRange): Promise<boolean> {
  if (storage.putFileRangeIfAbsent) return storage.putFileRangeIfAbsent(key, localPath, range);
  const bytes = borrowBuffer(range.size);
  try {
    await readRange(localPath, range, bytes);
    return await storage.putIfAbsent(key, bytes);
  } finally {
    releaseBuffer(bytes);
  }
}

/** Fills `bytes` with the range; a file that ends before the range does is damage (CORRUPT). */
async function readRange(localPath: string, range: FileRange, bytes: Buffer): Promise<void> {
  const handle = await fs.open(localPath, "r");
  try {
    let done = 0;
    while (done < range.size) {
      const { bytesRead } = await handle.read(bytes, done, range.size - done, range.offset + done);
      if (bytesRead === 0) throw new CairnError("CORRUPT", `The local file ${localPath} ended before its piece at offset ${range.offset} (${range.size} bytes).`);
      done += bytesRead;
    }
  } finally {
    await handle.close();
  }
}

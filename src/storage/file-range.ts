import * as fs from "node:fs/promises";
import { CairnError } from "../errors.js";
import { borrowBuffer, releaseBuffer } from "./buffer-pool.js";
import { hashBytes } from "../repository/hash.js";
import { objectKey } from "../repository/layout.js";
import type { Storage } from "./storage.js";

/** A piece of a local file: `size` bytes from `offset`. */
export interface FileRange {
  offset: number;
  size: number;
}

/** What putFileRangeAsObject did: the object's name, and whether this call stored it. */
export interface StoredRange {
  sha256: string;
  written: boolean;
}

/**
 * Stores a piece of a local file (a pack of chunks: repository/packs.ts) as an object named by
 * the SHA-256 of its bytes, only when absent. With `probe`, asks first whether the object exists
 * (a stat: a HEAD request on a remote store) and sends nothing when it does. Through the
 * storage's own putFileRangeAsObject where it has one (the background worker's: the piece is
 * read and hashed there), else read here into a pooled buffer (buffer-pool.ts) and handed to
 * putIfAbsent. The buffer is reused once the call is answered: storages do not keep a body past
 * their answer, and a server that answered before reading the whole body has refused it (and S3
 * checks each body against its signed SHA-256 in any case).
 *
 * @example
 * const { sha256, written } = await putFileRangeAsObject(storage, "/spool/objects/9f86…", { offset: 0, size: 6_291_456 }, true);
 */
export async function putFileRangeAsObject(storage: Storage, localPath: string, range: FileRange, probe: boolean): Promise<StoredRange> {
  if (storage.putFileRangeAsObject) return storage.putFileRangeAsObject(localPath, range, probe);
  const bytes = borrowBuffer(range.size);
  try {
    await readRange(localPath, range, bytes);
    const sha256 = hashBytes(bytes);
    const key = objectKey(sha256);
    if (probe && (await storage.stat(key))) return { sha256, written: false };
    return { sha256, written: await storage.putIfAbsent(key, bytes) };
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

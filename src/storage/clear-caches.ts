import * as fs from "node:fs/promises";
import * as path from "node:path";
import { cacheDirectory } from "./cache-directory.js";
import { clearObjectCache } from "./object-cache.js";

export interface ClearedCaches {
  directory: string;
  /** Bytes freed from the object cache. */
  objectBytes: number;
  /** Record caches removed (one per remote repository). */
  recordCaches: number;
}

/**
 * Empties Cairn's local caches: downloaded objects and the record copies of remote
 * repositories. Never touches spools, which hold checkpoints not yet uploaded.
 *
 * @example
 * const { objectBytes } = await clearCaches();
 */
export async function clearCaches(directory = cacheDirectory()): Promise<ClearedCaches> {
  const objectBytes = await clearObjectCache(path.join(directory, "objects"));
  let recordCaches = 0;
  const repositories = path.join(directory, "repositories");
  for (const name of await fs.readdir(repositories).catch(() => [] as string[])) {
    const records = path.join(repositories, name, "records");
    if (await fs.stat(records).catch(() => null)) {
      await fs.rm(records, { recursive: true, force: true });
      recordCaches += 1;
    }
  }
  return { directory, objectBytes, recordCaches };
}

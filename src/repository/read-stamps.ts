import { randomBytes } from "node:crypto";
import { statSync, type BigIntStats } from "node:fs";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { isRemoteUrl } from "../storage/cache-directory.js";
import type { Storage } from "../storage/storage.js";
import { hashBytes } from "./hash.js";
import { objectKey } from "./layout.js";
import { chunkObjects } from "./packs.js";
import type { TreeEntry } from "./types.js";

/**
 * Read stamps: which stored files of a repository on this machine's disk Cairn has already
 * verified, so that reading them again (checkout, open()) need not hash every byte again.
 *
 * A stamp says "the objects holding file F hashed right while their files had these stat
 * tokens" (inode, size, modification and change times in nanoseconds).
 * Any write to an object file changes its change time, which programs cannot set (utimes sets
 * only the other two), and any replacement changes its inode; so an object whose token is unchanged holds the bytes that were
 * verified. Like git's index, this trusts the file system to report changes; `cairn verify`
 * never uses stamps and hashes everything.
 *
 * Stamps are written by whoever verified a file: a reader that checked the whole file's hash, or
 * the publisher for a file whose chunks it has just cut, hashed and written itself. They live in
 * `local/verified/<aa>/<sha256>` (local state, not part of the format): deleting them only makes
 * the next read hash again. Remote repositories have none: their bytes cross a network, and
 * asking for each object's etag would cost a request per chunk.
 */

/** What a stamp needs of a stored file: its hash, size and chunks (a tree entry will do). */
export type StoredFile = Pick<TreeEntry, "sha256" | "size" | "chunks">;

/** The tokens of a file's objects, in order, as found now; null when stamps do not apply. */
export type ObjectTokens = string[] | null;

interface StampFile {
  size: number;
  /** [object SHA-256, token] in the file's order. */
  objects: [string, string][];
  /** Where each chunk is (layoutOf): a tree that lists the same packs in another order or place is another file. */
  layout?: string;
}

/**
 * A digest of where a file's bytes are: every chunk's hash, size, pack and offset in order ("whole"
 * for a file stored whole). The objects' tokens alone do not pin it: chunks of one pack listed in
 * another order are the same objects, unchanged, but other bytes.
 *
 * @example
 * layoutOf(entry); // "5f1c…"
 */
function layoutOf(entry: StoredFile): string {
  if (!entry.chunks) return "whole";
  return hashBytes(JSON.stringify(entry.chunks.map((chunk) => [chunk.sha256, chunk.size, chunk.pack ?? null, chunk.offset ?? null])));
}

/**
 * The object hashes that hold a stored file, each once, in the order first used: its packs or
 * chunks (packs.ts), or its one object.
 *
 * @example
 * objectsOf({ sha256, size, chunks: [{ sha256: a, size: 1 }] }); // [a]
 */
export function objectsOf(entry: StoredFile): string[] {
  return entry.chunks ? chunkObjects(entry.chunks) : [entry.sha256];
}

function stampPath(storage: Storage, sha256: string): string {
  return path.join(storage.localStateDirectory(), "verified", sha256.slice(0, 2), sha256);
}

/**
 * The current tokens of a file's objects, or null when the repository is not a local folder or an
 * object is missing (then the read reports it). Taken before reading: a stamp saved after
 * verification records these, so an object changed while it was read is hashed again next time.
 * Synchronous stats: hundreds of them (one per chunk) from the inode cache cost less than the
 * promises of asynchronous ones.
 *
 * @example
 * const tokens = currentTokens(storage, entry);
 */
export function currentTokens(storage: Storage, entry: StoredFile): ObjectTokens {
  if (storage.localPath === undefined || isRemoteUrl(storage.url)) return null;
  const tokens: string[] = [];
  for (const sha256 of objectsOf(entry)) {
    let stats: BigIntStats;
    try {
      stats = statSync(storage.localPath(objectKey(sha256)), { bigint: true });
    } catch {
      return null;
    }
    if (!stats.isFile()) return null;
    tokens.push(`${stats.mtimeNs}-${stats.ctimeNs}-${stats.size}-${stats.ino}`);
  }
  return tokens;
}

/**
 * True when a stamp says the file was verified and every object's token is still the same.
 *
 * @example
 * if (await isStamped(storage, entry, currentTokens(storage, entry))) { … no hashing … }
 */
export async function isStamped(storage: Storage, entry: StoredFile, tokens: ObjectTokens): Promise<boolean> {
  if (tokens === null) return false;
  let stamp: StampFile;
  try {
    stamp = JSON.parse(await fs.readFile(stampPath(storage, entry.sha256), "utf8")) as StampFile;
  } catch {
    return false; // none, or torn by a crash: hash again
  }
  const objects = objectsOf(entry);
  if (stamp.size !== entry.size || stamp.layout !== layoutOf(entry) || !Array.isArray(stamp.objects) || stamp.objects.length !== objects.length) return false;
  return objects.every((sha256, i) => stamp.objects[i]?.[0] === sha256 && stamp.objects[i]?.[1] === tokens[i]);
}

/**
 * Records that a file's objects, with these tokens, were verified. Best effort: a stamp that
 * cannot be written only means hashing again next time.
 *
 * @example
 * await saveStamp(storage, entry, tokens); // after every object hashed right
 */
export async function saveStamp(storage: Storage, entry: StoredFile, tokens: ObjectTokens): Promise<void> {
  if (tokens === null) return;
  const file = stampPath(storage, entry.sha256);
  const stamp: StampFile = { size: entry.size, objects: objectsOf(entry).map((sha256, i) => [sha256, tokens[i]!]), layout: layoutOf(entry) };
  const temporary = `${file}.tmp-${randomBytes(6).toString("hex")}`;
  try {
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(temporary, JSON.stringify(stamp));
    await fs.rename(temporary, file);
  } catch {
    await fs.rm(temporary, { force: true }).catch(() => {});
  }
}

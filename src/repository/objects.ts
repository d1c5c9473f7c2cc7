import type { Readable } from "node:stream";
import { CairnError } from "../errors.js";
import type { Storage } from "../storage/storage.js";
import { hashBytes, verifyingStream } from "./hash.js";
import { objectKey } from "./layout.js";
import { parseTree } from "./validate.js";
import type { Tree, TreeEntry } from "./types.js";

/**
 * Content-addressed objects: bytes stored under the SHA-256 of themselves, verified on every read.
 */

/** Where an object is used, for error messages ("… of checkpoint 3ccb2f1 of experiment e510303"). */
export type ObjectContext = string;

/**
 * Reads a small object whole and checks its hash.
 *
 * @example
 * const bytes = await readObject(storage, sha, "the code tree of experiment e510303");
 */
export async function readObject(storage: Storage, sha256: string, context: ObjectContext): Promise<Buffer> {
  const key = objectKey(sha256);
  const bytes = await storage.get(key);
  if (bytes === null) throw new CairnError("CORRUPT", `Object ${key} (${context}) is missing from the repository.`, { details: { key } });
  const actual = hashBytes(bytes);
  if (actual !== sha256) {
    throw new CairnError("CORRUPT", `Object ${key} (${context}) is corrupt: its contents hash to ${actual}.`, { details: { key } });
  }
  return bytes;
}

/**
 * Stores bytes as an object if absent and returns their hash.
 *
 * @example
 * const sha = await writeObject(storage, Buffer.from("diff --git …"));
 */
export async function writeObject(storage: Storage, bytes: Buffer | string): Promise<string> {
  const sha256 = hashBytes(bytes);
  await storage.putIfAbsent(objectKey(sha256), bytes);
  return sha256;
}

/** The canonical bytes of a tree: files sorted by path, fixed key order, so equal trees share a hash. */
export function encodeTree(tree: Tree): Buffer {
  const files = [...tree.files]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((f) => (f.chunks ? { path: f.path, size: f.size, sha256: f.sha256, mode: f.mode, chunks: f.chunks } : { path: f.path, size: f.size, sha256: f.sha256, mode: f.mode }));
  return Buffer.from(JSON.stringify({ files }));
}

export async function readTree(storage: Storage, sha256: string, context: ObjectContext): Promise<Tree> {
  return parseTree(await readObject(storage, sha256, context), objectKey(sha256));
}

/**
 * A stream of one file's contents, verified against its SHA-256 and size as it flows: a mismatch
 * fails the stream at the end with an error naming the object.
 *
 * @example
 * const stream = await openFileStream(storage, entry, "model.pth of checkpoint 3ccb2f1");
 */
export async function openFileStream(storage: Storage, entry: TreeEntry, context: ObjectContext): Promise<Readable> {
  if (entry.chunks) return openChunkedStream(storage, entry, context);
  const key = objectKey(entry.sha256);
  const source = await storage.getStream(key);
  if (source === null) throw new CairnError("CORRUPT", `Object ${key} (${context}) is missing from the repository.`, { details: { key } });
  const check = verifyingStream(entry.sha256, entry.size, (actual, size) =>
    new CairnError("CORRUPT", `Object ${key} (${context}) is corrupt: expected ${entry.size} bytes with SHA-256 ${entry.sha256}, read ${size} bytes hashing to ${actual}.`, { details: { key } }),
  );
  source.on("error", (error) => check.destroy(error));
  return source.pipe(check);
}

/** Chunked files: the chunks in order, each verified, and the whole verified too. */
async function openChunkedStream(storage: Storage, entry: TreeEntry, context: ObjectContext): Promise<Readable> {
  const chunks = entry.chunks ?? [];
  const whole = verifyingStream(entry.sha256, entry.size, (actual) =>
    new CairnError("CORRUPT", `File ${entry.path} (${context}) is corrupt: its chunks hash to ${actual}, not ${entry.sha256}.`),
  );
  (async () => {
    for (const chunk of chunks) {
      const part = await openFileStream(storage, { path: entry.path, size: chunk.size, sha256: chunk.sha256, mode: entry.mode }, context);
      for await (const piece of part) {
        if (!whole.write(piece)) await new Promise((resolve) => whole.once("drain", resolve));
      }
    }
    whole.end();
  })().catch((error) => whole.destroy(error));
  return whole;
}

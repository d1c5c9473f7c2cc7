import * as fs from "node:fs/promises";
import * as path from "node:path";
import { randomBytes } from "node:crypto";
import { pipeline } from "node:stream/promises";
import type { Checkpoint } from "../api/checkpoint.js";
import { CairnError } from "../errors.js";
import { createFileWriteStream } from "../storage/file-writes.js";
import { cacheDirectory } from "../storage/cache-directory.js";

/** Where a file handed to the binding was written. */
export interface HandedOverFile {
  /** An absolute path the binding opens and then deletes (it owns the file from now on). */
  path: string;
  size: number;
}

/** A handed-over file still there after a day belongs to a process that died before taking it. */
const STALE_MS = 24 * 3600_000;

/** The default folder: `open/` in Cairn's cache folder (on disk; /tmp is often memory). */
export function handOverDirectory(): string {
  return path.join(cacheDirectory(), "open");
}

/**
 * Streams one file of a checkpoint, verified against its SHA-256, into `directory`, and returns
 * where. This is how `checkpoint.open()` in Python gets a real, seekable file without either
 * process holding the contents in memory: the bytes flow from storage to disk in chunks. The
 * file appears under its final name only once completely written and verified, so the binding
 * never opens a partial or corrupt file; on failure nothing is left behind.
 *
 * @example
 * const { path } = await handOverFile(checkpoint, "model.pth");
 */
export async function handOverFile(checkpoint: Checkpoint, file: string, directory = handOverDirectory()): Promise<HandedOverFile> {
  if (typeof file !== "string" || file === "") throw new CairnError("INVALID_ARGUMENT", `open() needs the path of a file in the checkpoint, like "model.pth".`);
  if (typeof directory !== "string" || !path.isAbsolute(directory)) throw new CairnError("INVALID_ARGUMENT", `open() needs an absolute folder to write into.`);
  await fs.mkdir(directory, { recursive: true });
  await sweep(directory);
  // Nothing may be awaited between opening the stream and piping it: an error it emitted in
  // between (a corrupt object) would have no listener and bring the whole process down.
  const stream = await checkpoint.open(file);
  const name = `${randomBytes(8).toString("hex")}-${path.posix.basename(file).replace(/[^\w.-]/g, "_")}`;
  const partial = path.join(directory, `.${name}.part`);
  const final = path.join(directory, name);
  try {
    await pipeline(stream, createFileWriteStream(partial, { flags: "wx", mode: 0o600, highWaterMark: 1024 * 1024 }));
    await fs.rename(partial, final);
  } catch (error) {
    await fs.rm(partial, { force: true });
    throw error;
  }
  const stats = await fs.stat(final);
  return { path: final, size: stats.size };
}

/** Removes what a process that died between the core's write and its own open left behind. */
async function sweep(directory: string): Promise<void> {
  const cutoff = Date.now() - STALE_MS;
  for (const name of await fs.readdir(directory).catch(() => [] as string[])) {
    const full = path.join(directory, name);
    const stats = await fs.lstat(full).catch(() => null);
    if (stats?.isFile() && stats.mtimeMs < cutoff) await fs.rm(full, { force: true });
  }
}

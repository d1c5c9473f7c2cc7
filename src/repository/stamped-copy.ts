import { spawn } from "node:child_process";
import * as fs from "node:fs/promises";
import { constants } from "node:fs";
import type { Storage } from "../storage/storage.js";
import { objectKey } from "./layout.js";
import { readSegments } from "./packs.js";
import type { ChunkRef } from "./types.js";
import { currentTokens, isStamped, objectsOf, type StoredFile } from "./read-stamps.js";

/**
 * How many chunk paths one `cat` is given: far below the system's argument limit (2 MiB of
 * arguments on Linux; a path here is about 100 bytes), so a file of up to about 5 GiB takes one
 * `cat` (each costs a process start, 5-10 ms).
 */
const BATCH_FILES = 4000;

/** How often the output's size is reported as progress while `cat` runs. */
const PROGRESS_INTERVAL_MS = 100;

/**
 * Copies a stored file of a local repository into a new file `target` without passing its bytes
 * through this process, when a read stamp shows its objects were verified and are unchanged
 * (read-stamps.ts); false when that does not apply (nothing is then left at `target`), and the
 * caller reads the file the usual, verifying way.
 *
 * Why: a copy through JavaScript buffers costs about twice what `cp` does (measured on the
 * benchmark machine: 0.8-1.2 s of CPU per GiB against 0.45-0.75 s), because every byte is copied
 * from the page cache into the process and back; the kernel can copy between files directly
 * (copy_file_range). Node offers that only for whole files (`fs.copyFile`, used for a file
 * stored whole); for the packs (or chunks) of a chunked file, GNU `cat` (coreutils 9 and later) does it,
 * appending each object in order to the same open file. If `cat` is missing or fails, the
 * ordinary read is used.
 *
 * The objects' tokens are checked again after copying: an object changed meanwhile makes this
 * return false, and the caller's read then hashes it.
 *
 * @example
 * if (!(await copyStampedFile(storage, entry, temporary, entry.mode, onBytes))) { … stream and verify … }
 */
export async function copyStampedFile(storage: Storage, entry: StoredFile, target: string, mode: number, onBytes?: (bytes: number) => void): Promise<boolean> {
  if (storage.localPath === undefined || process.platform !== "linux") return false;
  const tokens = currentTokens(storage, entry);
  if (!(await isStamped(storage, entry, tokens))) return false;
  const files = objectsOf(entry).map((sha256) => storage.localPath!(objectKey(sha256)));
  if (entry.chunks && !(await readsWholeObjects(entry.chunks, files))) return false;
  let copied = false;
  try {
    if (entry.chunks) copied = await concatenate(files, target, mode, onBytes);
    else {
      await fs.copyFile(files[0]!, target, constants.COPYFILE_EXCL);
      await fs.chmod(target, mode);
      onBytes?.(entry.size);
      copied = true;
    }
    if (copied) {
      const after = currentTokens(storage, entry);
      const size = (await fs.stat(target)).size;
      copied = size === entry.size && after !== null && after.every((token, i) => token === tokens![i]);
    }
  } finally {
    if (!copied) await fs.rm(target, { force: true });
  }
  return copied;
}

/**
 * Whether a chunked file is exactly its objects (`files`, each once, in order) end to end: each
 * pack used whole, once (a first version of a file). A later version that uses parts of packs is
 * read the ordinary way (`cat` copies whole files only); a stamp spares it the hashing still.
 */
async function readsWholeObjects(chunks: readonly ChunkRef[], files: string[]): Promise<boolean> {
  const segments = readSegments(chunks);
  if (segments.length !== files.length) return false;
  for (const [index, segment] of segments.entries()) {
    if (segment.offset !== 0) return false;
    const size = await fs.stat(files[index]!).then((stats) => stats.size, () => -1);
    if (size !== segment.size) return false;
  }
  return true;
}

/**
 * Appends `files` in order to a new file `target` with `cat`, in batches; false if `cat` could
 * not. Progress is the output's size, looked at every PROGRESS_INTERVAL_MS.
 */
async function concatenate(files: string[], target: string, mode: number, onBytes?: (bytes: number) => void): Promise<boolean> {
  const output = await fs.open(target, "wx", mode);
  let reported = 0;
  const report = async (): Promise<void> => {
    const size = (await output.stat()).size;
    if (size > reported) onBytes?.(size - reported);
    reported = Math.max(reported, size);
  };
  const timer = onBytes ? setInterval(() => void report().catch(() => {}), PROGRESS_INTERVAL_MS) : null;
  timer?.unref();
  try {
    for (let start = 0; start < files.length; start += BATCH_FILES) {
      if (!(await cat(files.slice(start, start + BATCH_FILES), output.fd))) return false;
    }
    if (timer) await report();
    return true;
  } finally {
    if (timer) clearInterval(timer);
    await output.close();
  }
}

/** Runs `/bin/cat -- files…` writing to `fd` (at its current offset, which it advances). */
function cat(files: string[], fd: number): Promise<boolean> {
  return new Promise((resolve) => {
    // By absolute path: a different `cat` earlier on PATH must not write the file.
    const child = spawn("/bin/cat", ["--", ...files], { stdio: ["ignore", fd, "ignore"] });
    child.on("error", () => resolve(false));
    child.on("close", (code) => resolve(code === 0));
  });
}

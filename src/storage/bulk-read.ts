import * as fs from "node:fs";
import { Worker } from "node:worker_threads";
import type * as Fs from "node:fs";
import type * as Threads from "node:worker_threads";

/**
 * What reading one batch of files gave: their bytes back to back, and for each file where its
 * bytes end and what fstat said of it. Plain arrays of numbers and one buffer, so that a worker
 * hands a batch over by transferring it rather than cloning 256 objects.
 */
export interface FileBatch {
  /** Index, in the list of files asked for, of the batch's first file. */
  first: number;
  /** Every file's bytes, back to back. */
  bytes: Uint8Array;
  /** Per file: the offset in `bytes` where its bytes end. */
  ends: Int32Array;
  /** Per file, FIELDS values (see FileState): state, size, mtimeMs, mtimeNs, ctimeNs, ino. */
  stats: BigInt64Array;
}

/** How many numbers `FileBatch.stats` holds per file. */
export const FIELDS = 6;

/**
 * `FileBatch.stats[i * FIELDS]`: what became of file i. Read: its bytes are in the batch;
 * Missing: ENOENT or ENOTDIR (removed since it was listed); NotAFile: there, but not a regular
 * file; Failed: any other error, which the caller gets by reading that file again on its own.
 * (readBatch spells these as literals: it runs as source text in the worker.)
 */
export const FileState = { Read: 0n, Missing: 1n, NotAFile: 2n, Failed: 3n } as const;

/** Files per batch: about 5 ms of reading summaries, small enough to share out evenly. */
const BATCH_FILES = 256;
/** Fewer files than this are read on the calling thread alone: a worker takes 35–60 ms to start. */
const WORKER_MIN_FILES = 1024;

/**
 * Reads `count` files of `files` from `first` on, each whole, with one open, fstat, read and
 * close per file, synchronously. Runs on both threads (the worker gets it as source text), so
 * it refers to nothing outside itself: `fs` comes in as an argument.
 */
function readBatch(fsModule: typeof Fs, files: readonly string[], first: number, count: number): FileBatch {
  const buffers: Buffer[] = [];
  const ends = new Int32Array(count);
  const stats = new BigInt64Array(count * 6); // FIELDS
  let total = 0;
  for (let i = 0; i < count; i++) {
    const at = i * 6;
    let fd = -1;
    try {
      fd = fsModule.openSync(files[first + i]!, "r");
      const stat = fsModule.fstatSync(fd, { bigint: true });
      if (!stat.isFile()) {
        stats[at] = 2n; // FileState.NotAFile
      } else {
        const size = Number(stat.size);
        const buffer = Buffer.allocUnsafe(size);
        let read = 0;
        while (read < size) {
          const n = fsModule.readSync(fd, buffer, read, size - read, read);
          if (n === 0) break; // truncated under us: what is there, as a single read would give
          read += n;
        }
        buffers.push(read === size ? buffer : buffer.subarray(0, read));
        total += read;
        stats[at + 1] = stat.size;
        stats[at + 2] = stat.mtimeMs;
        stats[at + 3] = stat.mtimeNs;
        stats[at + 4] = stat.ctimeNs;
        stats[at + 5] = BigInt.asIntN(64, stat.ino);
      }
    } catch (error) {
      const code = (error as { code?: string }).code;
      stats[at] = code === "ENOENT" || code === "ENOTDIR" ? 1n : 3n; // FileState.Missing, FileState.Failed
    } finally {
      if (fd >= 0) fsModule.closeSync(fd);
    }
    ends[i] = total;
  }
  // One buffer of its own (not Buffer's shared pool), so the worker can transfer it.
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const buffer of buffers) {
    bytes.set(buffer, offset);
    offset += buffer.length;
  }
  return { first, bytes, ends, stats };
}

/**
 * The worker's program: claims batches from the shared counter and posts each one read,
 * transferring its arrays, until none is left. Source text for `eval`, like chunk-worker.ts's.
 */
function workerProgram(threads: typeof Threads, fsModule: typeof Fs, read: typeof readBatch): void {
  const { files, claims, batchFiles } = threads.workerData as { files: string[]; claims: Int32Array; batchFiles: number };
  for (;;) {
    const first = Atomics.add(claims, 0, 1) * batchFiles;
    if (first >= files.length) break;
    const batch = read(fsModule, files, first, Math.min(batchFiles, files.length - first));
    threads.parentPort!.postMessage(batch, [batch.bytes.buffer as ArrayBuffer, batch.ends.buffer as ArrayBuffer, batch.stats.buffer as ArrayBuffer]);
  }
  threads.parentPort!.postMessage("done");
}

/**
 * Reads many small files whole (a listing's 10,000 summaries), in batches, as fast as two
 * threads can: a worker thread and the calling thread take batches from one shared counter, and
 * the caller reads a batch itself only when no batch the worker read is waiting. So the caller's
 * thread mostly parses what the worker read (the open, fstat, read and close of each file were a
 * fifth of a cold `cairn ls`), and nothing waits for the worker to start. Batches come in no
 * fixed order; `first` says where each belongs. Fewer than 1,024 files are read on the calling
 * thread only. A file that cannot be read is reported in its batch (FileState), never thrown.
 *
 * @example
 * for await (const batch of readFilesInBulk(paths)) {
 *   for (let i = 0; i < batch.ends.length; i++) {
 *     const text = batch.bytes.subarray(i === 0 ? 0 : batch.ends[i - 1], batch.ends[i]);
 *     … paths[batch.first + i] …
 *   }
 * }
 */
export async function* readFilesInBulk(files: readonly string[]): AsyncGenerator<FileBatch> {
  const claims = new Int32Array(new SharedArrayBuffer(4));
  const batches = Math.ceil(files.length / BATCH_FILES);
  const arrived: FileBatch[] = [];
  let workerDone = true;
  /** A batch the worker claimed and never posted (it failed): this thread reads it instead. */
  const lostBatch = (delivered: Set<number>): number => {
    for (let first = 0; first < files.length; first += BATCH_FILES) if (!delivered.has(first)) return first;
    return -1;
  };
  let wake: (() => void) | null = null;
  let worker: Worker | null = null;
  if (files.length >= WORKER_MIN_FILES) {
    workerDone = false;
    const source =
      `var __name = (f) => f;\n` +
      `Promise.all([import("node:worker_threads"), import("node:fs")]).then(([threads, fs]) =>\n` +
      `  (${workerProgram.toString()})(threads, fs, ${readBatch.toString()}));\n`;
    try {
      // Not unref()'d: this thread may be waiting for nothing but the worker's last batch. A
      // caller that stops early ends it (finally, below); one that never asks for the rest lets
      // it finish reading and exit.
      worker = new Worker(source, { eval: true, workerData: { files, claims, batchFiles: BATCH_FILES } });
      const settle = (): void => {
        workerDone = true;
        wake?.();
      };
      worker.on("message", (message: FileBatch | "done") => {
        if (message === "done") settle();
        else {
          arrived.push(message);
          wake?.();
        }
      });
      // A worker that fails (out of memory, say) leaves its batches to this thread.
      worker.on("error", settle);
      worker.on("exit", settle);
    } catch {
      // No worker threads here (a restricted runtime): this thread reads everything.
      workerDone = true;
    }
  }
  try {
    const delivered = new Set<number>();
    while (delivered.size < batches) {
      if (arrived.length === 0) {
        // Let the worker's messages in: they arrive only between macrotasks.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      let batch = arrived.shift();
      if (batch === undefined) {
        const claimed = Atomics.add(claims, 0, 1) * BATCH_FILES;
        const first = claimed < files.length ? claimed : workerDone ? lostBatch(delivered) : -1;
        if (first === -1) {
          await new Promise<void>((resolve) => (wake = resolve));
          wake = null;
          continue;
        }
        batch = readBatch(fs, files, first, Math.min(BATCH_FILES, files.length - first));
      }
      if (delivered.has(batch.first)) continue;
      delivered.add(batch.first);
      yield batch;
    }
  } finally {
    if (worker) void worker.terminate();
  }
}

import { createHash } from "node:crypto";
import { Worker } from "node:worker_threads";
import type * as Crypto from "node:crypto";
import type * as Fs from "node:fs";
import type * as Threads from "node:worker_threads";
import { CHUNK_PARAMETERS, chunkFile, cutPlan, cutWithPlan, READ_BYTES, type ChunkParameters, type CutPlan } from "./chunker.js";

/** A chunk of a file as the publisher needs it: where it is, how long, and its SHA-256. */
export interface LocatedChunk {
  offset: number;
  size: number;
  sha256: string;
}

interface Request {
  id: number;
  file: string;
  plan: CutPlan;
  readBytes: number;
}

type Reply = { id: number; chunk: LocatedChunk } | { id: number; done: true } | { id: number; error: string; code?: string };

/**
 * The worker's program. It runs from source text (`eval`), so that it works the same from the
 * compiled package, from a bundle and from the TypeScript sources under the test runner; hence
 * it refers to nothing outside itself: its modules and the cut function come in as arguments.
 * It reads the file in large blocks (memory stays at one block), cuts it, hashes each chunk and
 * posts it at once, so the publisher can upload while the rest is still being cut.
 */
function workerProgram(threads: typeof Threads, fs: typeof Fs, crypto: typeof Crypto, cut: (bytes: Uint8Array, start: number, end: number, plan: CutPlan) => number): void {
  const port = threads.parentPort!;
  let buffer: Buffer | null = null;
  port.on("message", (request: Request) => {
    const { id, file, plan } = request;
    let fd = -1;
    try {
      const capacity = Math.max(request.readBytes, 2 * plan.max);
      if (buffer === null || buffer.length !== capacity) buffer = Buffer.allocUnsafeSlow(capacity);
      fd = fs.openSync(file, "r");
      let filled = 0;
      let start = 0;
      let offset = 0;
      let position = 0;
      let ended = false;
      for (;;) {
        if (filled - start < plan.max && !ended) {
          if (start > 0) {
            buffer.copyWithin(0, start, filled);
            filled -= start;
            start = 0;
          }
          while (filled < capacity && !ended) {
            const bytesRead = fs.readSync(fd, buffer, filled, capacity - filled, position);
            if (bytesRead === 0) ended = true;
            filled += bytesRead;
            position += bytesRead;
          }
        }
        if (filled === start) break;
        const end = cut(buffer, start, filled, plan);
        const sha256 = crypto.createHash("sha256").update(buffer.subarray(start, end)).digest("hex");
        port.postMessage({ id, chunk: { offset, size: end - start, sha256 } });
        offset += end - start;
        start = end;
      }
      port.postMessage({ id, done: true });
    } catch (error) {
      port.postMessage({ id, error: error instanceof Error ? error.message : String(error), code: (error as { code?: string }).code });
    } finally {
      if (fd >= 0) fs.closeSync(fd);
    }
  });
}

interface Pending {
  /** The worker doing it: a worker that dies fails only its own requests. */
  worker: Worker;
  /** Whether this request keeps the process alive (false for background publishing). */
  keepAlive: boolean;
  chunks: LocatedChunk[];
  onChunk: (chunk: LocatedChunk) => void;
  resolve: (chunks: LocatedChunk[]) => void;
  reject: (error: Error) => void;
}

/** One worker for the process, started on demand and ended after a while without work. */
let worker: Worker | null = null;
let nextId = 0;
const pending = new Map<number, Pending>();
let idleTimer: NodeJS.Timeout | null = null;
const IDLE_MS = 10_000;

function startWorker(): Worker {
  // Dynamic import() works whether the worker's code is taken as CommonJS or as a module (it
  // inherits `--input-type=module` from a parent run that way). `__name`: some TypeScript
  // transforms (esbuild's keepNames) wrap inner functions with it.
  const source =
    `var __name = (f) => f;\n` +
    `Promise.all([import("node:worker_threads"), import("node:fs"), import("node:crypto")]).then(([threads, fs, crypto]) =>\n` +
    `  (${workerProgram.toString()})(threads, fs, crypto, ${cutWithPlan.toString()}));\n`;
  const started = new Worker(source, { eval: true });
  started.on("message", (reply: Reply) => {
    const request = pending.get(reply.id);
    if (!request) return;
    if ("chunk" in reply) {
      request.chunks.push(reply.chunk);
      try {
        request.onChunk(reply.chunk);
      } catch (error) {
        pending.delete(reply.id);
        idle();
        request.reject(error as Error);
      }
    } else {
      pending.delete(reply.id);
      idle();
      if ("done" in reply) request.resolve(request.chunks);
      else request.reject(Object.assign(new Error(reply.error), { code: reply.code }));
    }
  });
  const fail = (cause: Error): void => {
    const error = new WorkerFailure(cause.message, { cause });
    if (worker === started) worker = null;
    for (const [id, request] of pending) {
      if (request.worker !== started) continue;
      pending.delete(id);
      request.reject(error);
    }
  };
  started.on("error", fail);
  started.on("exit", (code) => fail(new Error(`the chunking worker stopped (exit code ${code})`)));
  return started;
}

/**
 * While work that keeps the process alive is pending, the worker does; otherwise it does not,
 * and once idle it ends soon.
 */
function idle(): void {
  if (worker === null) return;
  const mine = [...pending.values()].filter((request) => request.worker === worker);
  if (mine.some((request) => request.keepAlive)) return;
  worker.unref();
  if (mine.length > 0) return;
  const current = worker;
  if (idleTimer) clearTimeout(idleTimer);
  idleTimer = setTimeout(() => {
    if (worker === current && pending.size === 0) {
      worker = null;
      void current.terminate();
    }
  }, IDLE_MS);
  idleTimer.unref();
}

/** The worker itself failed (could not start, or died), as opposed to reading the file. */
class WorkerFailure extends Error {}

/** Set once a worker could not run here: chunk on the main thread from then on. */
let workersUnavailable = false;

/**
 * Cuts a file into content-defined chunks and hashes each, on a worker thread (the training
 * loop's thread stays free). `onChunk` sees each chunk as soon as it is hashed, in order; the
 * promise resolves with all of them. Where a worker cannot run, the same is done on this thread
 * (`onChunk` may then see the first chunks twice). With `keepAlive: false` (background work)
 * the worker does not keep the process alive while it cuts.
 *
 * @example
 * const chunks = await chunkAndHashFile("/spool/objects/9f86…", (chunk) => upload(chunk));
 */
export async function chunkAndHashFile(
  file: string,
  onChunk: (chunk: LocatedChunk) => void = () => {},
  parameters: ChunkParameters = CHUNK_PARAMETERS,
  options: { keepAlive?: boolean } = {},
): Promise<LocatedChunk[]> {
  if (!workersUnavailable) {
    try {
      return await chunkFileInWorker(file, onChunk, parameters, options);
    } catch (error) {
      if (!(error instanceof WorkerFailure)) throw error;
      workersUnavailable = true;
    }
  }
  const chunks: LocatedChunk[] = [];
  for await (const { offset, size, bytes } of chunkFile(file, parameters)) {
    const chunk = { offset, size, sha256: createHash("sha256").update(bytes).digest("hex") };
    chunks.push(chunk);
    onChunk(chunk);
  }
  return chunks;
}

/**
 * The same as chunkAndHashFile, always on the worker thread (exported for tests).
 *
 * @example
 * const chunks = await chunkFileInWorker("/spool/objects/9f86…");
 */
export function chunkFileInWorker(
  file: string,
  onChunk: (chunk: LocatedChunk) => void = () => {},
  parameters: ChunkParameters = CHUNK_PARAMETERS,
  options: { keepAlive?: boolean } = {},
): Promise<LocatedChunk[]> {
  const plan = cutPlan(parameters);
  if (idleTimer) clearTimeout(idleTimer);
  idleTimer = null;
  const current = (worker ??= startWorker());
  const keepAlive = options.keepAlive !== false;
  if (keepAlive) current.ref();
  else if (![...pending.values()].some((request) => request.worker === current && request.keepAlive)) current.unref();
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { worker: current, keepAlive, chunks: [], onChunk, resolve, reject });
    current.postMessage({ id, file, plan, readBytes: READ_BYTES } satisfies Request);
  });
}

import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { Storage } from "./storage.js";
import { recipeFor, type StorageRecipe } from "./worker-recipe.js";
import { fromWireError, type StorageCall, type WorkerReply, type WorkerRequest } from "./worker-wire.js";

/**
 * Why the background publisher's storage calls run on a worker thread: a script that ends
 * without stop() must be stopped by exit handling (exit-hooks.ts), which Node starts only once
 * the script's event loop is empty ('beforeExit'). Uploads made on the main thread keep it busy
 * until they are all done (sockets, and the SDKs' own timers, which cannot be unref'd), so
 * nothing could say what the process was waiting for. On an unref'd worker they do not: the
 * loop empties when the script is done, exit handling starts, and shows progress while it
 * waits. Whoever waits for the uploads in the foreground (init(), stop(), exit handling, all
 * through ExperimentWriter.flush) holds the process alive itself.
 */

/** Where the worker's program is: next to this file once compiled. */
const ENTRY = new URL("./worker-thread.js", import.meta.url);

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

/** One worker for the process, started on first use; never ref'd (see above). */
let worker: Worker | null = null;
/** Set once the worker could not run here (or died): the main thread makes the calls from then on. */
let unavailable = false;
let nextId = 0;
const pending = new Map<number, Pending>();

/** The worker itself failed, as opposed to the storage call it was making. */
class WorkerFailure extends Error {}

/** Byte bodies at least this large are transferred to the worker; smaller ones are copied (cheaper than a transfer, and safe for pooled Buffers). */
const TRANSFER_BYTES = 64 * 1024;

/**
 * The storage for background publishing: the same storage, but its writes, stats and reads of
 * whole objects are made on a worker thread that does not keep the process alive. Streams,
 * listings and the local state folder stay with `storage`. Where no worker can run (a storage
 * not opened by openStorage, the TypeScript sources under a test runner, a worker that died),
 * the calls go to `storage` itself: everything works, only the script's end is seen later.
 *
 * A Buffer body of 64 KiB or more is transferred, not copied: the caller must not use it after
 * the call (the publisher reads each chunk into a buffer of its own, used once).
 *
 * @example
 * const background = backgroundStorage(storage);
 * await background.putIfAbsent(objectKey(sha256), bytes); // `bytes` is gone from this thread
 */
export function backgroundStorage(storage: Storage): Storage {
  const recipe = recipeFor(storage.url);
  if (recipe === null || !existsSync(fileURLToPath(ENTRY))) return storage;
  const call = async <T>(request: StorageCall, direct: () => Promise<T>, given = false): Promise<T> => {
    if (unavailable) return direct();
    try {
      return (await callWorker(recipe, request)) as T;
    } catch (error) {
      if (!(error instanceof WorkerFailure)) throw error;
      // Storage calls are idempotent: one the worker could not make is made here instead, unless
      // its bytes were given to the worker. Then it fails like any storage error: the writer
      // retries the publish, which reads them again from the spool.
      if (given) throw new Error(`${error.message}; the upload is retried`, { cause: error });
      return direct();
    }
  };
  return {
    url: storage.url,
    get: (key) => call({ op: "get", key }, () => storage.get(key)).then((bytes) => (bytes === null ? null : toBuffer(bytes))),
    getStream: (key, range) => storage.getStream(key, range),
    stat: (key) => call({ op: "stat", key }, () => storage.stat(key)),
    put: (key, body) => {
      const wire = wireBody(body);
      return call({ op: "put", key, body: wire }, () => storage.put(key, body), isGiven(body, wire));
    },
    putIfAbsent: (key, body) => {
      const wire = wireBody(body);
      return call({ op: "putIfAbsent", key, body: wire }, () => storage.putIfAbsent(key, body), isGiven(body, wire));
    },
    putFileIfAbsent: (key, localPath) => call({ op: "putFileIfAbsent", key, localPath }, () => storage.putFileIfAbsent(key, localPath)),
    list: (prefix) => storage.list(prefix),
    ...(storage.listKeys ? { listKeys: (prefix: string) => storage.listKeys!(prefix) } : {}),
    delete: (key) => call({ op: "delete", key }, () => storage.delete(key)),
    localStateDirectory: () => storage.localStateDirectory(),
  };
}

function callWorker(recipe: StorageRecipe, call: StorageCall): Promise<unknown> {
  let current: Worker;
  try {
    current = worker ??= startWorker();
  } catch (error) {
    unavailable = true;
    return Promise.reject(new WorkerFailure(String(error)));
  }
  const id = nextId++;
  const transfer = "body" in call && typeof call.body === "object" ? [call.body.buffer as ArrayBuffer] : [];
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    try {
      current.postMessage({ id, recipe, call } satisfies WorkerRequest, transfer);
    } catch (error) {
      pending.delete(id);
      reject(new WorkerFailure(String(error)));
    }
  });
}

function startWorker(): Worker {
  // None of the script's own Node options: `--input-type` (a script run with -e) makes a worker
  // started from a file fail, and loaders (tsx, ts-node) have nothing to do in compiled code.
  const started = new Worker(ENTRY, { execArgv: [] });
  started.on("message", (reply: WorkerReply) => {
    const request = pending.get(reply.id);
    if (!request) return;
    pending.delete(reply.id);
    if ("error" in reply) request.reject(fromWireError(reply.error));
    else request.resolve(reply.value);
  });
  const fail = (cause: Error): void => {
    if (worker !== started) return;
    worker = null;
    unavailable = true;
    const error = new WorkerFailure(`the storage worker stopped: ${cause.message}`, { cause });
    for (const [id, request] of pending) {
      pending.delete(id);
      request.reject(error);
    }
  };
  started.on("error", fail);
  started.on("exit", (code) => fail(new Error(`exit code ${code}`)));
  // Background work must not keep a finished script alive: exit handling, once it runs, waits
  // for the uploads (and keeps the process alive while it does). After the listeners: adding
  // a 'message' listener refs the worker's port again.
  started.unref();
  return started;
}

/** Whether the body sent is the caller's own memory, which the call gives to the worker. */
function isGiven(body: Buffer | string, wire: Uint8Array | string): boolean {
  return typeof body !== "string" && typeof wire !== "string" && wire.buffer === body.buffer;
}

/** A body as it goes to the worker: large bytes by transfer (the caller's buffer is given up), the rest copied. */
function wireBody(body: Buffer | string): Uint8Array | string {
  if (typeof body === "string") return body;
  const own = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength;
  if (own && body.byteLength >= TRANSFER_BYTES) return new Uint8Array(body.buffer, 0, body.byteLength);
  // A copy of exactly these bytes: posting a view would copy (or give away) all the memory behind it.
  return new Uint8Array(body);
}

function toBuffer(bytes: unknown): Buffer {
  const view = bytes as Uint8Array;
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}

import { putFileRangeAsObject } from "./file-range.js";
import type { Storage } from "./storage.js";
import { callWorker, WorkerFailure, workerAvailable } from "./worker-client.js";
import { recipeFor } from "./worker-recipe.js";
import type { StorageCall } from "./worker-wire.js";

/** Byte bodies at least this large are transferred to the worker; smaller ones are copied (cheaper than a transfer, and safe for pooled Buffers). */
const TRANSFER_BYTES = 64 * 1024;

/**
 * The storage for background publishing: the same storage, but its writes, stats and reads of
 * whole objects are made on a worker thread that does not keep the process alive (see
 * worker-client.ts for why). Streams, listings and the local state folder stay with `storage`.
 * Where no worker can run (a storage not opened by openStorage, the TypeScript sources under a
 * test runner, a worker that died), the calls go to `storage` itself: everything works, only
 * the script's end is seen later.
 *
 * A Buffer body of 64 KiB or more is transferred, not copied: the caller must not use it after
 * the call. The packs of large files do not cross at all: putFileRangeAsObject has the worker
 * read each one itself, into a buffer it reuses (see buffer-pool.ts).
 *
 * @example
 * const background = backgroundStorage(storage);
 * await background.putIfAbsent(objectKey(sha256), bytes); // `bytes` is gone from this thread
 */
export function backgroundStorage(storage: Storage): Storage {
  const recipe = recipeFor(storage.url);
  if (recipe === null || !workerAvailable()) return storage;
  const call = async <T>(request: StorageCall, direct: () => Promise<T>, given = false): Promise<T> => {
    if (!workerAvailable()) return direct();
    const transfer = "body" in request && typeof request.body === "object" ? [request.body.buffer as ArrayBuffer] : [];
    try {
      return (await callWorker(request, { recipe, transfer })) as T;
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
    putFileRangeAsObject: (localPath, range, probe) =>
      call({ op: "putFileRangeAsObject", localPath, offset: range.offset, size: range.size, probe }, () => putFileRangeAsObject(storage, localPath, range, probe)),
    list: (prefix) => storage.list(prefix),
    ...(storage.listKeys ? { listKeys: (prefix: string) => storage.listKeys!(prefix) } : {}),
    delete: (key) => call({ op: "delete", key }, () => storage.delete(key)),
    ...(storage.localPath ? { localPath: (key: string) => storage.localPath!(key) } : {}),
    localStateDirectory: () => storage.localStateDirectory(),
  };
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

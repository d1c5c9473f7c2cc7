/**
 * The storage worker's program (started by worker-storage.ts): opens each storage it is asked
 * about with openStorage, as the main thread did, and answers one call per message. Nothing
 * else runs here, so the uploads' sockets and SDK timers live on this thread's event loop, not
 * on the training script's.
 */
import { parentPort } from "node:worker_threads";
import { openStorage } from "./open.js";
import type { Storage } from "./storage.js";
import type { StorageRecipe } from "./worker-recipe.js";
import { toWireError, type StorageCall, type WorkerRequest } from "./worker-wire.js";

const port = parentPort;
if (port === null) throw new Error("worker-thread.js runs only as a worker thread (see worker-storage.ts).");

const opened = new Map<string, Promise<Storage>>();

function storageFor(recipe: StorageRecipe): Promise<Storage> {
  const key = JSON.stringify(recipe);
  let storage = opened.get(key);
  if (!storage) {
    storage = openStorage(recipe.url, { settings: recipe.settings });
    // A failure to open (credentials not found yet) is retried by the next call, not remembered.
    storage.catch(() => opened.delete(key));
    opened.set(key, storage);
  }
  return storage;
}

async function perform(storage: Storage, call: StorageCall): Promise<unknown> {
  switch (call.op) {
    case "get":
      return storage.get(call.key);
    case "stat":
      return storage.stat(call.key);
    case "put":
      return storage.put(call.key, asBody(call.body));
    case "putIfAbsent":
      return storage.putIfAbsent(call.key, asBody(call.body));
    case "putFileIfAbsent":
      return storage.putFileIfAbsent(call.key, call.localPath);
    case "delete":
      return storage.delete(call.key);
  }
}

/** Bytes arrive as a Uint8Array over the transferred memory: a Buffer view of it, no copy. */
function asBody(body: Uint8Array | string): Buffer | string {
  return typeof body === "string" ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

port.on("message", ({ id, recipe, call }: WorkerRequest) => {
  void storageFor(recipe)
    .then((storage) => perform(storage, call))
    .then(
      (value) => {
        // A read's bytes (small objects: the writer reads none today) go back as a copy of their own.
        if (Buffer.isBuffer(value)) {
          const sent = new Uint8Array(value);
          port.postMessage({ id, value: sent }, [sent.buffer]);
        } else {
          port.postMessage({ id, value: value === undefined ? null : value });
        }
      },
      (error: unknown) => port.postMessage({ id, error: toWireError(error) }),
    );
});

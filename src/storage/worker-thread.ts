/**
 * The background worker's program (started by worker-client.ts): opens each storage it is
 * asked about with openStorage, as the main thread did, and answers one call per message: a
 * storage call, or hashing a file. So the uploads' sockets and SDK timers, and the reads of
 * files being hashed, live on this thread's event loop, not on the training script's.
 */
import { parentPort } from "node:worker_threads";
import { hashFile } from "../repository/hash.js";
import { putFileRangeAsObject } from "./file-range.js";
import { openStorage } from "./open.js";
import type { Storage } from "./storage.js";
import type { StorageRecipe } from "./worker-recipe.js";
import { toWireError, type WorkerCall, type WorkerRequest } from "./worker-wire.js";

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

async function perform(recipe: StorageRecipe | null, call: WorkerCall): Promise<unknown> {
  if (call.op === "hashFile") return hashFile(call.localPath);
  if (recipe === null) throw new Error(`the storage call "${call.op}" came without its storage`);
  const storage = await storageFor(recipe);
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
    case "putFileRangeAsObject":
      // Read and hashed here, into a buffer this thread reuses: no bytes cross threads, none are allocated per pack.
      return putFileRangeAsObject(storage, call.localPath, { offset: call.offset, size: call.size }, call.probe);
    case "delete":
      return storage.delete(call.key);
  }
}

/** Bytes arrive as a Uint8Array over the transferred memory: a Buffer view of it, no copy. */
function asBody(body: Uint8Array | string): Buffer | string {
  return typeof body === "string" ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

port.on("message", ({ id, recipe, call }: WorkerRequest) => {
  void perform(recipe, call).then(
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

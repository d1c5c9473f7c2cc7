import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { fromWireError, type WorkerCall, type WorkerReply, type WorkerRequest } from "./worker-wire.js";

/**
 * The main thread's end of the background worker (worker-thread.ts), which makes the storage
 * calls and hashes the files of a running experiment's publishing.
 *
 * Why a worker: a script that ends without stop() must be stopped by exit handling
 * (exit-hooks.ts), which Node starts only once the script's event loop is empty
 * ('beforeExit'). Uploads made on the main thread keep it busy until they are all done
 * (sockets, and the SDKs' own timers, which cannot be unref'd), so nothing could say what the
 * process was waiting for. On an unref'd worker they do not: the loop empties when the script is
 * done, exit handling starts, and shows progress while it waits. Whoever waits for background
 * work in the foreground (init(), stop(), exit handling, all through ExperimentWriter.flush)
 * holds the process alive itself; a call made with `keepAlive` (recovery, `cairn push`) refs
 * the worker until it is answered.
 */

/**
 * Where the worker's program is: next to this file once compiled (dist/storage/). Named through
 * the parent folder so that it resolves the same from the CLI's bundle in dist/cli/
 * (scripts/bundle-cli.mjs), which holds a copy of this module.
 */
const ENTRY = new URL("../storage/worker-thread.js", import.meta.url);

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

/** One worker for the process, started on first use. */
let worker: Worker | null = null;
/** Set once the worker could not run here (or died): callers do the work on this thread from then on. */
let unavailable = false;
let nextId = 0;
const pending = new Map<number, Pending>();
/** Calls in flight whose caller keeps the process alive: the worker is ref'd while there are any. */
let holding = 0;

/** The worker itself failed, as opposed to the call it was making. */
export class WorkerFailure extends Error {}

/**
 * Whether calls can go to the worker: false when its program is missing (the TypeScript sources
 * under a test runner) or it has failed once in this process.
 *
 * @example
 * if (!workerAvailable()) return hashFile(file);
 */
export function workerAvailable(): boolean {
  entryExists ??= existsSync(fileURLToPath(ENTRY));
  return entryExists && !unavailable;
}

let entryExists: boolean | null = null;

/**
 * Makes one call on the worker. Rejects with the call's own error (rebuilt: same class, code and
 * message), or with a WorkerFailure when the worker could not run or died.
 *
 * @example
 * const info = await callWorker({ op: "stat", key: "experiments/e510….json" }, { recipe });
 */
export function callWorker(call: WorkerCall, options: { recipe?: WorkerRequest["recipe"]; keepAlive?: boolean; transfer?: ArrayBuffer[] } = {}): Promise<unknown> {
  let current: Worker;
  try {
    current = worker ??= startWorker();
  } catch (error) {
    unavailable = true;
    return Promise.reject(new WorkerFailure(String(error)));
  }
  const id = nextId++;
  const keepAlive = options.keepAlive === true;
  if (keepAlive && holding++ === 0) current.ref();
  const release = (): void => {
    if (keepAlive && --holding === 0) worker?.unref();
  };
  return new Promise((resolve, reject) => {
    pending.set(id, {
      resolve: (value) => {
        release();
        resolve(value);
      },
      reject: (error) => {
        release();
        reject(error);
      },
    });
    try {
      current.postMessage({ id, recipe: options.recipe ?? null, call } satisfies WorkerRequest, options.transfer ?? []);
    } catch (error) {
      pending.get(id)?.reject(new WorkerFailure(String(error)));
      pending.delete(id);
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
    const error = new WorkerFailure(`the background worker stopped: ${cause.message}`, { cause });
    for (const [id, request] of pending) {
      pending.delete(id);
      request.reject(error);
    }
  };
  started.on("error", fail);
  started.on("exit", (code) => fail(new Error(`exit code ${code}`)));
  // Background work must not keep a finished script alive (see above). After the listeners:
  // adding a 'message' listener refs the worker's port again.
  started.unref();
  return started;
}

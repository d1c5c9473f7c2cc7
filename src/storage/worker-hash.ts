import { hashFile } from "../repository/hash.js";
import { callWorker, WorkerFailure, workerAvailable } from "./worker-client.js";

/**
 * A file's SHA-256 and size, read and hashed on the background worker (worker-client.ts): off
 * the training script's thread, and, unless `keepAlive`, without keeping the process alive, so
 * that a script which ends while a large checkpoint is being hashed is seen to end, and exit
 * handling reports the wait. Recovery and `cairn push` pass `keepAlive: true`: nothing else
 * holds their process alive while they wait. Where no worker can run, hashed on this thread.
 * Errors are the file's own (ENOENT for a missing file).
 *
 * @example
 * const { sha256, size } = await hashFileOffThread("/spool/objects/.cap-1f3a…", { keepAlive: false });
 */
export async function hashFileOffThread(file: string, options: { keepAlive: boolean }): Promise<{ sha256: string; size: number }> {
  if (workerAvailable()) {
    try {
      return (await callWorker({ op: "hashFile", localPath: file }, { keepAlive: options.keepAlive })) as { sha256: string; size: number };
    } catch (error) {
      if (!(error instanceof WorkerFailure)) throw error;
    }
  }
  return hashFile(file);
}

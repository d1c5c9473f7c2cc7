import { CairnError, type CairnErrorCode } from "../errors.js";
import type { StorageRecipe } from "./worker-recipe.js";

/**
 * The messages between the main thread and the storage worker (worker-storage.ts,
 * worker-thread.ts): one storage call each way, numbered. Bodies travel as bytes or text;
 * large byte bodies are transferred, not copied.
 */
export type StorageCall =
  | { op: "get"; key: string }
  | { op: "stat"; key: string }
  | { op: "put"; key: string; body: Uint8Array | string }
  | { op: "putIfAbsent"; key: string; body: Uint8Array | string }
  | { op: "putFileIfAbsent"; key: string; localPath: string }
  | { op: "delete"; key: string };

export interface WorkerRequest {
  id: number;
  /** The storage to call, opened by the worker on first use. */
  recipe: StorageRecipe;
  call: StorageCall;
}

export type WorkerReply = { id: number; value: unknown } | { id: number; error: WireError };

/** An error as it crosses threads: a CairnError keeps its code and details, a system error its errno code. */
export interface WireError {
  message: string;
  cairnCode?: CairnErrorCode;
  details?: Record<string, unknown>;
  code?: string;
}

/**
 * An error thrown by a storage call, in a form that can be posted to another thread.
 *
 * @example
 * port.postMessage({ id, error: toWireError(error) });
 */
export function toWireError(error: unknown): WireError {
  if (error instanceof CairnError) {
    let details: Record<string, unknown> | undefined;
    try {
      details = structuredClone(error.details);
    } catch {
      details = undefined;
    }
    return { message: error.message, cairnCode: error.code, details };
  }
  if (error instanceof Error) return { message: error.message, code: (error as NodeJS.ErrnoException).code };
  return { message: String(error) };
}

/**
 * The error a storage call threw in the worker, rebuilt on this thread: the same class, code
 * and message, so callers (retry messages, "not found" checks) cannot tell the difference.
 *
 * @example
 * throw fromWireError(reply.error);
 */
export function fromWireError(wire: WireError): Error {
  if (wire.cairnCode !== undefined) return new CairnError(wire.cairnCode, wire.message, { details: wire.details });
  return Object.assign(new Error(wire.message), wire.code === undefined ? {} : { code: wire.code });
}

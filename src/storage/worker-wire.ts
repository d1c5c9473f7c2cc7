import { CairnError, type CairnErrorCode } from "../errors.js";
import type { StorageRecipe } from "./worker-recipe.js";

/**
 * The messages between the main thread and the background worker (worker-client.ts,
 * worker-thread.ts): one call each way, numbered. Bodies travel as bytes or text; large byte
 * bodies are transferred, not copied.
 */
export type StorageCall =
  | { op: "get"; key: string }
  | { op: "stat"; key: string }
  | { op: "put"; key: string; body: Uint8Array | string }
  | { op: "putIfAbsent"; key: string; body: Uint8Array | string }
  | { op: "putFileIfAbsent"; key: string; localPath: string }
  | { op: "putFileRangeAsObject"; localPath: string; offset: number; size: number; probe: boolean }
  | { op: "delete"; key: string };

/** A file's SHA-256 and size, read on the worker. */
export type HashCall = { op: "hashFile"; localPath: string };

export type WorkerCall = StorageCall | HashCall;

export interface WorkerRequest {
  id: number;
  /** The storage a storage call is for, opened by the worker on first use. */
  recipe: StorageRecipe | null;
  call: WorkerCall;
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
 * An error thrown by a call, in a form that can be posted to another thread.
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
 * The error a call threw in the worker, rebuilt on this thread: the same class, code
 * and message, so callers (retry messages, "not found" checks) cannot tell the difference.
 *
 * @example
 * throw fromWireError(reply.error);
 */
export function fromWireError(wire: WireError): Error {
  if (wire.cairnCode !== undefined) return new CairnError(wire.cairnCode, wire.message, { details: wire.details });
  return Object.assign(new Error(wire.message), wire.code === undefined ? {} : { code: wire.code });
}

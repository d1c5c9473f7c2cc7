import * as readline from "node:readline";
import type { Readable, Writable } from "node:stream";
import { reportWhileWaiting } from "../api/wait-progress.js";
import { CairnError } from "../errors.js";
import { ProtocolError, type RpcSession } from "./session.js";
import { decodeLine, encodeLine, parseRequest, type RequestId, type RpcError } from "./wire.js";

export interface ServeOptions {
  /** Requests, one JSON object per line (the binding writes to the core's stdin). */
  input: Readable;
  /** Responses, one per line, in the order they complete (the core's stdout). */
  output: Writable;
  session: RpcSession;
  /** Include stack traces of unexpected errors (CAIRN_DEBUG). */
  debug?: boolean;
}

/**
 * Serves the Python binding's protocol until the input ends: each request runs as soon as it
 * arrives (a slow one does not hold up the others), its response carries its `id`. When the
 * input ends (the binding closed it, or its process died), the requests in flight finish and
 * every experiment still running is stopped (published) before this resolves.
 *
 * @example
 * await serveRpc({ input: process.stdin, output: process.stdout, session: new RpcSession("0.1.0") });
 */
export async function serveRpc(options: ServeOptions): Promise<void> {
  const { input, output, session } = options;
  const inFlight = new Set<Promise<void>>();
  let writable = true;
  output.on("error", () => {
    // The binding is gone (EPIPE): nobody is left to answer, but experiments still get stopped.
    writable = false;
  });
  const send = (value: unknown): void => {
    if (writable) output.write(encodeLine(value));
  };

  const handle = async (line: string): Promise<void> => {
    let id: RequestId | null = null;
    try {
      let decoded: unknown;
      try {
        decoded = decodeLine(line);
      } catch (error) {
        throw new ProtocolError(`a request is not valid JSON (${(error as Error).message})`);
      }
      const request = parseRequest(decoded);
      if (typeof request === "string") {
        const maybeId = (decoded as { id?: unknown } | null)?.id;
        if (typeof maybeId === "number" || typeof maybeId === "string") id = maybeId;
        throw new ProtocolError(request);
      }
      id = request.id;
      const result = await session.call(request.method, request.params);
      send({ id, result: result === undefined ? null : result });
    } catch (error) {
      send({ id, error: toRpcError(error, options.debug === true) });
    }
  };

  const lines = readline.createInterface({ input, crlfDelay: Infinity });
  for await (const line of lines) {
    if (line.trim() === "") continue;
    const task = handle(line).finally(() => inFlight.delete(task));
    inFlight.add(task);
  }
  await Promise.allSettled([...inFlight]);
  // The binding closes the input as its script exits and prints nothing of its own while it
  // waits: the one announcement is this one, worded for it (Ctrl-C reaches Python only).
  await reportWhileWaiting([], session.stopAll(), { exiting: true, secondCtrlC: BINDING_SECOND_CTRL_C });
}

/** What a second Ctrl-C does while the Python binding waits for its core at exit (python/cairn/_lifecycle.py). */
const BINDING_SECOND_CTRL_C = "press Ctrl-C again to leave now; Cairn's core goes on publishing in the background";

/**
 * An error as the binding receives it: CairnErrors keep their code, message and details (the
 * binding raises the matching Python exception); anything else is INTERNAL, a bug to report.
 *
 * @example
 * toRpcError(new CairnError("NOT_FOUND", "No experiment e51"), false); // { code: "NOT_FOUND", message: "No experiment e51" }
 */
export function toRpcError(error: unknown, debug: boolean): RpcError {
  if (error instanceof CairnError) return { code: error.code, message: error.message, ...(Object.keys(error.details).length > 0 ? { details: error.details } : {}) };
  if (error instanceof ProtocolError) return { code: "PROTOCOL", message: error.message };
  const message = error instanceof Error ? error.message : String(error);
  const stack = debug && error instanceof Error && error.stack ? { details: { stack: error.stack } } : {};
  return { code: "INTERNAL", message, ...stack };
}

/**
 * The framing of the Python binding's protocol (docs/PYTHON-PROTOCOL.md): one JSON value per
 * line. JSON has no NaN or infinities, yet metrics may be any of them, so on the wire every
 * non-finite number, in either direction, is the object {"$number": "NaN" | "Infinity" | "-Infinity"}.
 */

/** The protocol's version; `hello` returns it and the binding refuses one it does not know. */
export const PROTOCOL_VERSION = 2;

export type RequestId = number | string;

export interface RpcRequest {
  id: RequestId;
  method: string;
  params: Record<string, unknown>;
}

/** Error codes beyond CairnError's: a malformed request, or a bug in the core. */
export type ProtocolErrorCode = "PROTOCOL" | "INTERNAL";

export interface RpcError {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

export type RpcResponse = { id: RequestId | null; result: unknown } | { id: RequestId | null; error: RpcError };

const TAG = "$number";
const SPECIAL = new Map<string, number>([
  ["NaN", NaN],
  ["Infinity", Infinity],
  ["-Infinity", -Infinity],
]);

/**
 * One response as a line of JSON, non-finite numbers tagged.
 *
 * @example
 * encodeLine({ id: 1, result: { loss: NaN } }); // '{"id":1,"result":{"loss":{"$number":"NaN"}}}\n'
 */
export function encodeLine(value: unknown): string {
  return (
    JSON.stringify(value, (_key, item: unknown) => {
      if (typeof item === "number" && !Number.isFinite(item)) return { [TAG]: Number.isNaN(item) ? "NaN" : item > 0 ? "Infinity" : "-Infinity" };
      return item;
    }) + "\n"
  );
}

/**
 * Parses one line of JSON, turning tagged numbers back into numbers. Throws SyntaxError on
 * malformed JSON.
 *
 * @example
 * decodeLine('{"loss":{"$number":"-Infinity"}}'); // { loss: -Infinity }
 */
export function decodeLine(line: string): unknown {
  return JSON.parse(line, (_key, item: unknown) => {
    if (item !== null && typeof item === "object" && !Array.isArray(item)) {
      const keys = Object.keys(item);
      const tagged = (item as Record<string, unknown>)[TAG];
      if (keys.length === 1 && typeof tagged === "string" && SPECIAL.has(tagged)) return SPECIAL.get(tagged);
    }
    return item;
  });
}

/**
 * Checks the shape of a decoded request; returns a message saying what is wrong, or the request.
 *
 * @example
 * parseRequest({ id: 1, method: "hello", params: {} }); // { id: 1, method: "hello", params: {} }
 */
export function parseRequest(value: unknown): RpcRequest | string {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return "a request must be a JSON object {id, method, params}";
  const { id, method, params } = value as Record<string, unknown>;
  if (typeof id !== "number" && typeof id !== "string") return `a request needs an "id" (a number or a string)`;
  if (typeof method !== "string") return `a request needs a "method" (a string)`;
  if (params !== undefined && (params === null || typeof params !== "object" || Array.isArray(params))) return `"params" must be a JSON object`;
  return { id, method, params: (params ?? {}) as Record<string, unknown> };
}

import { gzip } from "node:zlib";
import { promisify } from "node:util";
import { isCairnError, type CairnErrorCode } from "../errors.js";

const gzipAsync = promisify(gzip);

/** Headers every API answer carries: no caching of repository data, no sniffing. */
export const API_HEADERS: Record<string, string> = {
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
};

/** Bodies above this size are gzipped when the client accepts it (metric series compress ~4×). */
const COMPRESS_ABOVE = 16 * 1024;

/**
 * A JSON response, gzipped when large and the request accepts gzip.
 *
 * @example
 * return json(request, { experiments: [] });
 */
export async function json(request: Request, body: unknown, status = 200): Promise<Response> {
  const text = JSON.stringify(body);
  const headers: Record<string, string> = { ...API_HEADERS, "content-type": "application/json; charset=utf-8" };
  if (text.length > COMPRESS_ABOVE && /\bgzip\b/.test(request.headers.get("accept-encoding") ?? "")) {
    headers["content-encoding"] = "gzip";
    headers["vary"] = "accept-encoding";
    // Level 1: most of the size gain for a fraction of the time; the client is usually this machine.
    return new Response(await gzipAsync(text, { level: 1 }), { status, headers });
  }
  return new Response(text, { status, headers });
}

/** The HTTP status for each error code; anything unexpected is a 500. */
const STATUS: Partial<Record<CairnErrorCode, number>> = {
  INVALID_ARGUMENT: 400,
  INVALID_FILTER: 400,
  UNSAFE_PATH: 400,
  NOT_FOUND: 404,
  AMBIGUOUS_ID: 409,
  CORRUPT: 500,
  FORMAT_TOO_NEW: 500,
  STORAGE: 502,
};

/** The JSON shape of every error answer. */
export interface ErrorBody {
  error: { code: string; message: string; details: Record<string, unknown> };
}

/**
 * An error as a JSON response: `{ error: { code, message, details } }`. A CairnError keeps its
 * code and details (an invalid filter's `details.position` lets the page point at the mistake).
 *
 * @example
 * return errorResponse(new CairnError("NOT_FOUND", "No experiment …"));
 */
export function errorResponse(error: unknown): Response {
  const body: ErrorBody = isCairnError(error)
    ? { error: { code: error.code, message: error.message, details: error.details } }
    : { error: { code: "INTERNAL", message: `The server failed: ${(error as Error)?.message ?? String(error)}`, details: {} } };
  const status = isCairnError(error) ? (STATUS[error.code] ?? 500) : 500;
  return new Response(JSON.stringify(body), { status, headers: { ...API_HEADERS, "content-type": "application/json; charset=utf-8" } });
}

/**
 * A plain error answer for requests the API refuses before reaching the library (401, 403, 405).
 *
 * @example
 * return httpError(401, "UNAUTHORIZED", "Open the URL printed by cairn ui, with its ?token=…");
 */
export function httpError(status: number, code: string, message: string): Response {
  const body: ErrorBody = { error: { code, message, details: {} } };
  return new Response(JSON.stringify(body), { status, headers: { ...API_HEADERS, "content-type": "application/json; charset=utf-8" } });
}

/** A number JSON can carry: NaN and ±Infinity become the strings the repository format uses. @example jsonNumber(NaN) // "NaN" */
export function jsonNumber(value: number): number | string {
  return Number.isFinite(value) ? value : String(value);
}

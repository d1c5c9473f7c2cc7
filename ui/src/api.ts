/**
 * Talking to the server's JSON API (docs/HTTP-API.md). When the page was opened with
 * `?token=…` (a server listening beyond loopback), every request carries it in a header, and
 * download links carry it in their query.
 */

const token = new URLSearchParams(location.search).get("token");

/** An error answer of the API: `{ error: { code, message, details } }`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown>,
  ) {
    super(message);
  }
}

/**
 * GETs an API path and parses its JSON; an error answer becomes an ApiError.
 *
 * @example
 * const listing = await getJson<Listing>("/api/experiments?limit=100");
 */
export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  const response = await fetch(path, { headers: token ? { "x-cairn-token": token } : {}, signal: signal ?? null });
  return parse<T>(response);
}

/** GETs an API path as bytes (code files). @example const bytes = await getBytes("/api/experiments/e51/code/train.py") */
export async function getBytes(path: string): Promise<ArrayBuffer> {
  const response = await fetch(path, { headers: token ? { "x-cairn-token": token } : {} });
  if (!response.ok) await parse(response);
  return response.arrayBuffer();
}

async function parse<T>(response: Response): Promise<T> {
  const body = (await response.json().catch(() => null)) as { error?: { code: string; message: string; details?: Record<string, unknown> } } | null;
  if (!response.ok || body === null) {
    const error = body?.error;
    throw new ApiError(response.status, error?.code ?? "HTTP", error?.message ?? `The server answered ${response.status}.`, error?.details ?? {});
  }
  return body as T;
}

/** A link a browser follows itself (downloads): the token goes in the query. @example link("/api/checkpoints/3cc/files/model.pth") */
export function link(path: string): string {
  return token ? `${path}${path.includes("?") ? "&" : "?"}token=${encodeURIComponent(token)}` : path;
}

/** An ID as a path segment. @example segment("e510303") // "e510303" */
export function segment(value: string): string {
  return encodeURIComponent(value);
}

/** A file path as URL path segments (slashes kept). @example filePath("model/a b.bin") // "model/a%20b.bin" */
export function filePath(value: string): string {
  return value.split("/").map(encodeURIComponent).join("/");
}

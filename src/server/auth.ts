import { randomBytes, timingSafeEqual } from "node:crypto";
import { isIP } from "node:net";
import { httpError } from "./json.js";

/** The header the page sets from the `?token=` of its URL. */
export const TOKEN_HEADER = "x-cairn-token";

/**
 * True for host names and addresses that only this machine can reach.
 *
 * @example
 * isLoopback("127.0.0.1"); // true
 * isLoopback("0.0.0.0");   // false
 */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  if (bare === "localhost" || bare.endsWith(".localhost")) return true;
  if (isIP(bare) === 4) return bare.startsWith("127.");
  if (isIP(bare) === 6) return bare === "::1" || bare === "0:0:0:0:0:0:0:1" || /^::ffff:127\./.test(bare);
  return false;
}

/** A new random token: 128 bits, URL-safe. @example newToken() // "Jq0v…" */
export function newToken(): string {
  return randomBytes(16).toString("base64url");
}

/**
 * Refuses API requests that may not read the repository, or returns null to let them through.
 *
 * - With a token (the server listens beyond loopback): the request must carry it, in the
 *   `X-Cairn-Token` header or, for plain links such as downloads, a `token` query parameter.
 * - Without one (loopback only): the Host must be a loopback name, so a web page elsewhere cannot
 *   reach the server by pointing its own domain at 127.0.0.1 (DNS rebinding).
 *
 * @example
 * const refused = checkAccess(request, token);
 * if (refused) return refused;
 */
export function checkAccess(request: Request, token: string | null): Response | null {
  const url = new URL(request.url);
  if (token === null) {
    if (isLoopback(url.hostname)) return null;
    return httpError(403, "FORBIDDEN", `This server answers only to loopback names (localhost, 127.0.0.1, [::1]), not "${url.hostname}": open the URL that cairn ui printed.`);
  }
  const given = request.headers.get(TOKEN_HEADER) ?? url.searchParams.get("token");
  if (given !== null && sameSecret(given, token)) return null;
  return httpError(401, "UNAUTHORIZED", "This server needs the token that cairn ui printed: open the URL it printed, which ends in ?token=….");
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

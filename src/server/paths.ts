import { CairnError } from "../errors.js";

/**
 * Checks a file path taken from a request URL before it is looked up: relative, "/"-separated,
 * no "." or ".." segments, no backslashes or NUL. The lookup itself only ever matches paths
 * listed in a stored tree, so this is a second wall, and it makes a hostile request fail loudly
 * (400) instead of quietly (404).
 *
 * @example
 * safeRequestPath("model/weights.bin"); // "model/weights.bin"
 * safeRequestPath("../cairn.json");     // throws UNSAFE_PATH
 */
export function safeRequestPath(raw: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    throw new CairnError("UNSAFE_PATH", `The file path "${raw}" is not valid URL encoding.`);
  }
  const segments = decoded.split("/");
  if (
    decoded === "" ||
    decoded.startsWith("/") ||
    /[\\\0]/.test(decoded) ||
    segments.some((s) => s === "" || s === "." || s === "..")
  ) {
    throw new CairnError("UNSAFE_PATH", `Refusing the file path "${decoded}": give a path relative to the snapshot or checkpoint, without "." or ".." parts.`, { details: { path: decoded } });
  }
  return decoded;
}

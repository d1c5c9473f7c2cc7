import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { CairnError } from "../errors.js";
import { createFileStorage } from "./fs.js";
import type { Storage } from "./storage.js";

/**
 * Opens the storage a repository URL names. A plain path or `file://` URL is a local folder
 * (relative paths resolve against `baseDirectory`); other schemes load their driver lazily, so a
 * script on local disk never pays for a cloud SDK.
 *
 * @example
 * const storage = await openStorage(".cairn", { baseDirectory: process.cwd() });
 */
export async function openStorage(url: string, options: { baseDirectory?: string } = {}): Promise<Storage> {
  const base = options.baseDirectory ?? process.cwd();
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(url)?.[1]?.toLowerCase();
  if (scheme === undefined) return createFileStorage(path.resolve(base, url));
  if (scheme === "file") return createFileStorage(fileURLToPath(url));
  throw new CairnError(
    "UNSUPPORTED_URL",
    `Repository URL "${url}" uses "${scheme}://", which this version of Cairn does not support yet. ` +
      `Use a local path or a file:// URL.`,
  );
}

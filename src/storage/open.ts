import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { CairnError } from "../errors.js";
import { createFileStorage } from "./fs.js";
import { parseStorageSettings } from "./settings.js";
import type { Storage } from "./storage.js";
import { rememberRecipe } from "./worker-recipe.js";

export interface OpenStorageOptions {
  /** Where a relative path resolves (the project directory); the working directory by default. */
  baseDirectory?: string;
  /** The `storage:` mapping of cairn.yaml (endpoint, region, forcePathStyle, ...), unchecked. */
  settings?: unknown;
}

/**
 * Opens the storage a repository URL names: a plain path or `file://` URL is a local folder
 * (relative paths resolve against `baseDirectory`); `s3://bucket/prefix`,
 * `gs://bucket/prefix` and `azure://account/container/prefix` load their driver, and its SDK,
 * only when used, so a script on local disk never pays for a cloud SDK.
 *
 * @example
 * const storage = await openStorage(".cairn", { baseDirectory: process.cwd() });
 * const bucket = await openStorage("s3://models/team-a", { settings: { region: "eu-west-1" } });
 */
export async function openStorage(url: string, options: OpenStorageOptions = {}): Promise<Storage> {
  const storage = await openDriver(url, options);
  // So that the background publisher's worker thread can open the same storage (worker-storage.ts).
  rememberRecipe({ url: storage.url, settings: options.settings });
  return storage;
}

async function openDriver(url: string, options: OpenStorageOptions): Promise<Storage> {
  const base = options.baseDirectory ?? process.cwd();
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(url)?.[1]?.toLowerCase();
  if (scheme === undefined) return createFileStorage(path.resolve(base, url));
  if (scheme === "file") return createFileStorage(fileURLToPath(url));
  const settings = parseStorageSettings(options.settings);
  switch (scheme) {
    case "s3":
      return (await import("./s3.js")).createS3Storage(url, settings);
    case "gs":
      return (await import("./gcs.js")).createGcsStorage(url, settings);
    case "azure":
      return (await import("./azure.js")).createAzureStorage(url, settings);
    default:
      throw new CairnError(
        "UNSUPPORTED_URL",
        `Repository URL "${url}" uses "${scheme}://", which Cairn does not support. Use a local path, file://, s3://BUCKET/PREFIX, gs://BUCKET/PREFIX or azure://ACCOUNT/CONTAINER/PREFIX.`,
      );
  }
}

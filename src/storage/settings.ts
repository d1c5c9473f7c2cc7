import { createHash } from "node:crypto";
import * as path from "node:path";
import { CairnError } from "../errors.js";
import { cacheDirectory } from "./cache-directory.js";

/**
 * The `storage:` settings of cairn.yaml. Nothing secret belongs here: credentials come from each
 * SDK's own default chain. docs/STORAGE.md lists them per service.
 */
export interface StorageSettings {
  /** S3-compatible endpoint (s3://), API endpoint or emulator (gs://), account URL (azure://). */
  endpoint?: string;
  /** S3 region (else the AWS SDK's chain: AWS_REGION, the profile; else us-east-1). */
  region?: string;
  /** S3 path-style addressing (http://host/bucket/key); on by default with a custom endpoint. */
  forcePathStyle?: boolean;
  /** GCS project (else the one application default credentials name). */
  projectId?: string;
  /** Size of each part/block of a large upload, and of each ranged request of a large download, in MiB (8 by default). */
  partSizeMiB?: number;
  /** Parts/blocks of one file uploaded at once (4 by default). */
  uploadConcurrency?: number;
  /** Attempts per request, first one included, before an error is reported (5 by default). */
  maxAttempts?: number;
}

export const DEFAULT_PART_SIZE_MIB = 8;
export const DEFAULT_UPLOAD_CONCURRENCY = 4;
export const DEFAULT_MAX_ATTEMPTS = 5;

const KINDS: Record<keyof StorageSettings, "string" | "boolean" | "number"> = {
  endpoint: "string",
  region: "string",
  forcePathStyle: "boolean",
  projectId: "string",
  partSizeMiB: "number",
  uploadConcurrency: "number",
  maxAttempts: "number",
};

/** Keys people may be tempted to write into cairn.yaml, with where the secret goes instead. */
const SECRET_KEYS = /^(access.?key.?id|secret.?access.?key|secret|session.?token|account.?key|key|password|token|credentials?|connection.?string|sas)$/i;

/**
 * Checks the `storage:` mapping of cairn.yaml: known keys, right types, no secrets.
 *
 * @example
 * parseStorageSettings({ endpoint: "http://127.0.0.1:7480", forcePathStyle: true }); // typed
 */
export function parseStorageSettings(raw: unknown): StorageSettings {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== "object" || Array.isArray(raw)) {
    throw new CairnError("CONFIG", `"storage" in cairn.yaml must be a mapping such as "storage: { endpoint: http://127.0.0.1:9000 }".`);
  }
  const settings: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    if (SECRET_KEYS.test(key)) {
      throw new CairnError(
        "CONFIG",
        `"storage.${key}" does not belong in cairn.yaml: credentials come from the environment (AWS_ACCESS_KEY_ID/AWS_PROFILE, GOOGLE_APPLICATION_CREDENTIALS, AZURE_STORAGE_CONNECTION_STRING/AZURE_STORAGE_KEY); see docs/STORAGE.md.`,
      );
    }
    const kind = KINDS[key as keyof StorageSettings];
    if (kind === undefined) {
      throw new CairnError("CONFIG", `Unknown setting "storage.${key}" in cairn.yaml; the known ones are ${Object.keys(KINDS).join(", ")}.`);
    }
    if (value === undefined || value === null) continue;
    if (typeof value !== kind) throw new CairnError("CONFIG", `"storage.${key}" in cairn.yaml must be a ${kind}; got ${JSON.stringify(value)}.`);
    settings[key] = value;
  }
  const s = settings as StorageSettings;
  if (s.endpoint !== undefined && !/^https?:\/\/[^/]/i.test(s.endpoint)) {
    throw new CairnError("CONFIG", `"storage.endpoint" must be an http:// or https:// URL such as "http://127.0.0.1:9000"; got "${s.endpoint}".`);
  }
  checkRange(s.partSizeMiB, "partSizeMiB", 5, 4096);
  checkRange(s.uploadConcurrency, "uploadConcurrency", 1, 64);
  checkRange(s.maxAttempts, "maxAttempts", 1, 20);
  return s;
}

function checkRange(value: number | undefined, name: string, min: number, max: number): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new CairnError("CONFIG", `"storage.${name}" in cairn.yaml must be a whole number from ${min} to ${max}; got ${value}.`);
  }
}

/** A bucket-style URL taken apart: `s3://bucket/some/prefix` → bucket "bucket", prefix "some/prefix". */
export interface BucketLocation {
  scheme: string;
  bucket: string;
  /** "" or a prefix without leading or trailing "/". */
  prefix: string;
  /** The URL rebuilt in its normal form, for messages and the local state folder. */
  url: string;
}

/**
 * Splits `scheme://bucket/prefix` (the prefix is taken literally, not percent-decoded).
 *
 * @example
 * parseBucketUrl("s3://models/team-a/"); // { bucket: "models", prefix: "team-a", url: "s3://models/team-a" }
 */
export function parseBucketUrl(url: string, example: string): BucketLocation {
  const match = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]+)(?:\/(.*))?$/i.exec(url.trim());
  if (!match) throw new CairnError("INVALID_ARGUMENT", `Repository URL "${url}" is not of the form ${example}.`);
  const scheme = match[1]!.toLowerCase();
  const bucket = match[2]!;
  const prefix = (match[3] ?? "").replace(/^\/+|\/+$/g, "");
  if (prefix !== "" && (/[?#]/.test(prefix) || prefix.split("/").some((s) => s === "" || s === "." || s === ".."))) {
    throw new CairnError("INVALID_ARGUMENT", `Repository URL "${url}" has an unusable prefix: use "/"-separated names without empty, "." or ".." parts, like ${example}.`);
  }
  return { scheme, bucket, prefix, url: `${scheme}://${bucket}${prefix ? `/${prefix}` : ""}` };
}

/** The storage key of a repository key under the location's prefix. */
export function fullKey(location: BucketLocation, key: string): string {
  return location.prefix === "" ? key : `${location.prefix}/${key}`;
}

/** The repository key of a storage key found under the location's prefix. */
export function repositoryKey(location: BucketLocation, storageKey: string): string {
  return location.prefix === "" ? storageKey : storageKey.slice(location.prefix.length + 1);
}

/**
 * The local folder for a remote repository's spool and caches on this machine:
 * `<cache>/repositories/<first 16 hex digits of SHA-256>`, where `<cache>` is CAIRN_CACHE_DIR,
 * else `$XDG_CACHE_HOME/cairn`, else `~/.cache/cairn` (see cacheDirectory()); hashed
 * over the URL, and the endpoint too when one is set (the same bucket name on two servers is two
 * repositories).
 *
 * @example
 * remoteStateDirectory("s3://models/team-a"); // "/home/ana/.cache/cairn/repositories/3f2a9c0d1b7e4a55"
 */
export function remoteStateDirectory(url: string, endpoint?: string): string {
  const base = cacheDirectory();
  const identity = endpoint ? `${url} ${endpoint}` : url;
  const digest = createHash("sha256").update(identity).digest("hex").slice(0, 16);
  return path.join(base, "repositories", digest);
}

import type { File, StorageOptions } from "@google-cloud/storage";
import { stat as statFile } from "node:fs/promises";
import { Readable } from "node:stream";
import { CairnError } from "../errors.js";
import { downloadInParts, objectSizeOf, type RangeAnswer } from "./parallel-download.js";
import { networkCode, oneLine, storageFailure, type FailureContext, type StorageFailureKind } from "./failure.js";
import {
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_PART_SIZE_MIB,
  fullKey,
  parseBucketUrl,
  remoteStateDirectory,
  repositoryKey,
  type StorageSettings,
} from "./settings.js";
import type { ByteRange, ObjectInfo, Storage } from "./storage.js";
import { requireCommonJs } from "./require-commonjs.js";

const { IdempotencyStrategy, Storage: GoogleStorage } = requireCommonJs<typeof import("@google-cloud/storage")>("@google-cloud/storage");

const CREDENTIAL_HINT = "Google application default credentials (GOOGLE_APPLICATION_CREDENTIALS, `gcloud auth application-default login`, or the machine's service account)";

/**
 * The Google Cloud Storage driver: `gs://bucket/prefix`, credentials from application default
 * credentials. The endpoint is the `endpoint` setting, else STORAGE_EMULATOR_HOST, else Google's;
 * a plain-http endpoint is taken for an emulator and gets no credentials. Conditional writes use
 * `ifGenerationMatch: 0` (the firebase-tools emulator ignores it; real GCS honours it). Large
 * files go up as one resumable upload that the SDK resumes after a dropped connection.
 *
 * @example
 * const storage = await createGcsStorage("gs://models/team-a");
 */
export async function createGcsStorage(url: string, settings: StorageSettings = {}): Promise<Storage> {
  const location = parseBucketUrl(url, "gs://bucket/prefix");
  // The SDK itself sends JSON API requests to STORAGE_EMULATOR_HOST when it is set, whatever
  // the options say: so it comes first here too.
  const endpoint = emulatorHost() ?? settings.endpoint;
  const resumableThreshold = (settings.partSizeMiB ?? DEFAULT_PART_SIZE_MIB) * 1024 * 1024;
  const maxAttempts = settings.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  const options: StorageOptions = {
    projectId: settings.projectId,
    retryOptions: {
      // (The SDK reads maxRetries: 0 as "the default", hence autoRetry for a single attempt.)
      autoRetry: maxAttempts > 1,
      maxRetries: Math.max(maxAttempts - 1, 1),
      retryDelayMultiplier: 2,
      // Waits of 1, 2, 4, 8, 8... s: about 15 s before an unreachable endpoint is reported.
      maxRetryDelay: 8,
      totalTimeout: 300,
      // Every write here is idempotent or conditional, so retrying any of them is safe.
      idempotencyStrategy: IdempotencyStrategy.RetryAlways,
    },
  };
  if (endpoint) {
    // Credentials travel only over https: a plain-http endpoint is an emulator.
    options.apiEndpoint = endpoint;
    options.useAuthWithCustomEndpoint = endpoint.startsWith("https:");
  }
  const client = new GoogleStorage(options);
  const bucket = client.bucket(location.bucket);
  const endpointForMessages = endpoint ?? "https://storage.googleapis.com";
  let bucketVerified = false;

  const context = (operation: string, error: unknown): FailureContext => ({
    noun: "bucket",
    bucket: location.bucket,
    url: location.url,
    endpoint: endpointForMessages,
    operation,
    vendor: vendorOf(error),
    credentialHint: CREDENTIAL_HINT,
  });
  const fail = (error: unknown, operation: string): Error => storageFailure(classify(error), context(operation, error), error);
  const file = (key: string): File => bucket.file(fullKey(location, key));

  /**
   * GCS answers 404 alike for a missing object and a missing bucket: on the first 404, list
   * (which needs only the permission listing needs anyway) to tell them apart.
   */
  async function missing(error: unknown, operation: string): Promise<boolean> {
    if (statusOf(error) !== 404) return false;
    if (bucketVerified) return true;
    try {
      await bucket.getFiles({ maxResults: 1, autoPaginate: false, prefix: fullKey(location, "cairn.json") });
    } catch (listError) {
      if (statusOf(listError) === 404) throw storageFailure("missing-bucket", context(operation, listError), listError);
      throw fail(listError, operation);
    }
    bucketVerified = true;
    return true;
  }

  async function head(key: string): Promise<ObjectInfo | null> {
    try {
      const [metadata] = await file(key).getMetadata();
      return infoOf(key, metadata);
    } catch (error) {
      if (await missing(error, `look up "${key}"`)) return null;
      throw fail(error, `look up "${key}"`);
    }
  }

  /** One ranged read, for downloadInParts: its size from Content-Range, or a 200 for the whole. */
  async function getRange(key: string, start: number, end: number): Promise<RangeAnswer | null> {
    // Cairn checks every object's SHA-256 itself; the SDK's CRC check would be redundant.
    const stream = file(key).createReadStream({ start, end, validation: false });
    try {
      // The request starts on the first read, and a missing object arrives as an error event
      // after the response: start it, and wait for a good response or the error.
      const response = await new Promise<{ status: number; headers: Record<string, string | string[] | undefined> }>((resolve, reject) => {
        // Every answer is watched, not only the first: the SDK retries a failed request on the
        // same stream, and the answer that counts is the one after the retries.
        const done = (): void => {
          stream.off("error", onError);
          stream.off("response", onResponse);
          stream.off("close", onClose);
        };
        const onError = (error: unknown): void => {
          done();
          reject(error);
        };
        const onResponse = (answer: { statusCode?: number; status?: number; headers?: Record<string, string | string[] | undefined> }): void => {
          const status = answer?.statusCode ?? answer?.status ?? 200;
          if (status >= 300) return; // an error event follows (or a retry's answer)
          done();
          resolve({ status, headers: answer?.headers ?? {} });
        };
        const onClose = (): void => {
          done();
          reject(new Error("the download ended before the server answered"));
        };
        stream.on("error", onError);
        stream.on("response", onResponse);
        stream.on("close", onClose);
        stream.read(0);
      });
      // HTTP lets a server ignore a Range header and send everything (the emulator does for a
      // range past the end): the caller cuts the asked bytes out of the whole object then.
      const contentRange = response.headers["content-range"];
      const whole = response.status === 200;
      const length = Number(response.headers["content-length"]);
      return {
        body: stream,
        objectSize: whole ? (Number.isFinite(length) ? length : null) : objectSizeOf(Array.isArray(contentRange) ? contentRange[0] : contentRange),
        whole,
      };
    } catch (error) {
      stream.destroy();
      if (await missing(error, `read "${key}"`)) return null;
      if (statusOf(error) === 416) return { body: Readable.from([]), objectSize: null, whole: true };
      throw fail(error, `read "${key}"`);
    }
  }

  async function putConditional(key: string, body: Buffer | string): Promise<boolean> {
    try {
      await file(key).save(Buffer.from(body), { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } });
      return true;
    } catch (error) {
      if (statusOf(error) === 412) return false;
      throw fail(error, `write "${key}"`);
    }
  }

  return {
    url: location.url,
    async get(key) {
      try {
        const [bytes] = await file(key).download({ validation: false });
        return bytes;
      } catch (error) {
        if (await missing(error, `read "${key}"`)) return null;
        throw fail(error, `read "${key}"`);
      }
    },
    // Large objects come as parallel ranged reads (see parallel-download.ts); small ones in one.
    getStream: (key: string, range?: ByteRange): Promise<Readable | null> => downloadInParts((start, end) => getRange(key, start, end), range, { partBytes: resumableThreshold }),
    stat: head,
    async put(key, body) {
      try {
        await file(key).save(Buffer.from(body), { resumable: false });
      } catch (error) {
        throw fail(error, `write "${key}"`);
      }
    },
    putIfAbsent: putConditional,
    async putFileIfAbsent(key, localPath) {
      const { size } = await statFile(localPath);
      const large = size >= resumableThreshold;
      // Large: skip the upload when the contents are there already.
      if (large && (await head(key))) return false;
      try {
        await bucket.upload(localPath, { destination: fullKey(location, key), resumable: large, preconditionOpts: { ifGenerationMatch: 0 } });
        return true;
      } catch (error) {
        if (statusOf(error) === 412) return false;
        throw fail(error, `upload "${key}"`);
      }
    },
    list(prefix) {
      return (async function* () {
        let pageToken: string | undefined;
        do {
          let files: File[];
          let next: { pageToken?: string } | null | undefined;
          try {
            [files, next] = (await bucket.getFiles({ prefix: fullKey(location, prefix), autoPaginate: false, maxResults: 1000, pageToken })) as unknown as [File[], { pageToken?: string } | null];
          } catch (error) {
            throw fail(error, `list "${prefix}"`);
          }
          for (const f of files) yield infoOf(repositoryKey(location, f.name), f.metadata);
          pageToken = next?.pageToken;
        } while (pageToken);
      })();
    },
    async delete(key) {
      try {
        await file(key).delete();
      } catch (error) {
        if (await missing(error, `delete "${key}"`)) return;
        throw fail(error, `delete "${key}"`);
      }
    },
    localStateDirectory: () => remoteStateDirectory(location.url, endpoint),
  };
}

function emulatorHost(): string | undefined {
  const host = process.env.STORAGE_EMULATOR_HOST;
  if (!host) return undefined;
  if (!/^https?:\/\/[^/]/.test(host)) {
    // The SDK uses it verbatim as the base of request URLs: a bare host:port fails obscurely.
    throw new CairnError("CONFIG", `STORAGE_EMULATOR_HOST must be a URL such as "http://${host}"; got "${host}".`);
  }
  return host.replace(/\/+$/, "");
}

function infoOf(key: string, metadata: { size?: string | number; updated?: string; generation?: string | number; etag?: string }): ObjectInfo {
  return {
    key,
    size: Number(metadata.size ?? 0),
    modified: new Date(metadata.updated ?? 0),
    etag: String(metadata.generation ?? metadata.etag ?? ""),
  };
}

function statusOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown })?.code;
  return typeof code === "number" ? code : undefined;
}

function vendorOf(error: unknown): string {
  const network = networkCode(error);
  if (network) return network;
  const status = statusOf(error);
  const reason = (error as { errors?: { reason?: string }[] })?.errors?.[0]?.reason;
  if (status !== undefined) return `${reason ?? "HTTP"} ${status}`;
  // Errors raised before any request (no credentials found) carry only a message.
  return oneLine((error as Error)?.message ?? String(error)).slice(0, 200);
}

function classify(error: unknown): StorageFailureKind {
  const status = statusOf(error);
  if (networkCode(error)) return "unreachable";
  if (status === 401) return "bad-credentials";
  if (status === 403) return "access-denied";
  if (status === 429 || (status !== undefined && status >= 500)) return "unavailable";
  return "failed";
}

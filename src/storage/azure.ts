import {
  BlobServiceClient,
  StorageSharedKeyCredential,
  type ContainerClient,
  type StoragePipelineOptions,
} from "@azure/storage-blob";
import { readFile, stat as statFile } from "node:fs/promises";
import { Readable } from "node:stream";
import { CairnError } from "../errors.js";
import { plainEtag } from "./etag.js";
import { networkCode, oneLine, storageFailure, type FailureContext, type StorageFailureKind } from "./failure.js";
import { downloadInParts, objectSizeOf, type RangeAnswer } from "./parallel-download.js";
import {
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_PART_SIZE_MIB,
  DEFAULT_UPLOAD_CONCURRENCY,
  fullKey,
  remoteStateDirectory,
  repositoryKey,
  type BucketLocation,
  type StorageSettings,
} from "./settings.js";
import { joinPieces, type ByteRange, type ObjectInfo, type Storage } from "./storage.js";

const CREDENTIAL_HINT =
  "AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_KEY, or the identity DefaultAzureCredential finds (az login, a managed identity, AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET)";

/**
 * Splits `azure://account/container/prefix`.
 *
 * @example
 * parseAzureUrl("azure://acme/models/team-a"); // { account: "acme", bucket: "models", prefix: "team-a", ... }
 */
export function parseAzureUrl(url: string): BucketLocation & { account: string } {
  const match = /^azure:\/\/([^/?#]+)\/([^/?#]+)(?:\/(.*))?$/i.exec(url.trim());
  if (!match) throw new CairnError("INVALID_ARGUMENT", `Repository URL "${url}" is not of the form azure://ACCOUNT/CONTAINER/PREFIX.`);
  const [, account, container] = match as unknown as [string, string, string];
  const prefix = (match[3] ?? "").replace(/^\/+|\/+$/g, "");
  if (prefix !== "" && (/[?#]/.test(prefix) || prefix.split("/").some((s) => s === "" || s === "." || s === ".."))) {
    throw new CairnError("INVALID_ARGUMENT", `Repository URL "${url}" has an unusable prefix: use "/"-separated names without empty, "." or ".." parts.`);
  }
  return { scheme: "azure", account, bucket: container, prefix, url: `azure://${account}/${container}${prefix ? `/${prefix}` : ""}` };
}

/**
 * The Azure Blob driver: `azure://account/container/prefix`. Credentials, in this order:
 * AZURE_STORAGE_CONNECTION_STRING (which also names the endpoint), AZURE_STORAGE_KEY (the
 * account's shared key), else DefaultAzureCredential from @azure/identity. The account URL is
 * `https://ACCOUNT.blob.core.windows.net` unless the `endpoint` setting names another (Azurite,
 * sovereign clouds). Conditional writes use `If-None-Match: *`.
 *
 * @example
 * const storage = await createAzureStorage("azure://acme/models/team-a");
 */
export async function createAzureStorage(url: string, settings: StorageSettings = {}): Promise<Storage> {
  const location = parseAzureUrl(url);
  const blockSize = (settings.partSizeMiB ?? DEFAULT_PART_SIZE_MIB) * 1024 * 1024;
  const concurrency = settings.uploadConcurrency ?? DEFAULT_UPLOAD_CONCURRENCY;
  const options: StoragePipelineOptions = {
    // Bounded exponential retries: throttling (503/500), timeouts, dropped connections.
    retryOptions: { maxTries: settings.maxAttempts ?? DEFAULT_MAX_ATTEMPTS, retryDelayInMs: 500, maxRetryDelayInMs: 10_000 },
    userAgentOptions: { userAgentPrefix: "cairn" },
  };
  const service = await serviceClient(location, settings, options);
  const container = service.getContainerClient(location.bucket);
  const endpoint = service.url.replace(/\/$/, "");
  let containerVerified = false;

  const context = (operation: string, error: unknown): FailureContext => ({
    noun: "container",
    bucket: location.bucket,
    url: location.url,
    endpoint,
    operation,
    vendor: vendorOf(error),
    credentialHint: CREDENTIAL_HINT,
  });
  const fail = (error: unknown, operation: string): Error => storageFailure(classify(error), context(operation, error), error);
  const blob = (key: string) => container.getBlockBlobClient(fullKey(location, key));

  /** A 404 on a HEAD names the missing thing in x-ms-error-code; trust it, but check once. */
  async function missing(error: unknown, operation: string): Promise<boolean> {
    if (statusOf(error) !== 404) return false;
    if (codeOf(error) === "ContainerNotFound") throw fail(error, operation);
    if (codeOf(error) === "BlobNotFound" || containerVerified) return true;
    if (!(await container.exists().catch((e: unknown) => Promise.reject(fail(e, operation))))) {
      throw storageFailure("missing-bucket", context(operation, "ContainerNotFound 404"), error);
    }
    containerVerified = true;
    return true;
  }

  async function head(key: string): Promise<ObjectInfo | null> {
    try {
      const p = await blob(key).getProperties();
      return { key, size: p.contentLength ?? 0, modified: p.lastModified ?? new Date(0), etag: plainEtag(p.etag) };
    } catch (error) {
      if (await missing(error, `look up "${key}"`)) return null;
      throw fail(error, `look up "${key}"`);
    }
  }

  /** One ranged download, for downloadInParts: its size from Content-Range, or a 200 for the whole. */
  async function getRange(key: string, start: number, end: number): Promise<RangeAnswer | null> {
    try {
      // maxRetryRequests: a dropped connection resumes from where it stopped.
      const response = await blob(key).download(start, end - start + 1, { maxRetryRequests: 5 });
      const body = (response.readableStreamBody as Readable | undefined) ?? Readable.from([]);
      const whole = response.contentRange === undefined;
      return { body, objectSize: whole ? (response.contentLength ?? null) : objectSizeOf(response.contentRange), whole };
    } catch (error) {
      if (await missing(error, `read "${key}"`)) return null;
      // A range that starts at or past the end (also any range of an empty blob): no bytes.
      if (statusOf(error) === 416) return { body: Readable.from([]), objectSize: null, whole: true };
      throw fail(error, `read "${key}"`);
    }
  }

  async function putConditional(key: string, body: Buffer): Promise<boolean> {
    try {
      await blob(key).upload(body, body.length, { conditions: { ifNoneMatch: "*" } });
      return true;
    } catch (error) {
      if (isAlreadyThere(error)) return false;
      throw fail(error, `write "${key}"`);
    }
  }

  /** A whole blob as the pieces it arrived in; null when absent. */
  async function downloadPieces(key: string): Promise<Buffer[] | null> {
    try {
      const response = await blob(key).download(0, undefined, { maxRetryRequests: 5 });
      return await readPieces(response.readableStreamBody);
    } catch (error) {
      if (await missing(error, `read "${key}"`)) return null;
      throw fail(error, `read "${key}"`);
    }
  }

  return {
    url: location.url,
    async get(key) {
      const pieces = await downloadPieces(key);
      return pieces === null ? null : joinPieces(pieces);
    },
    // Without joining them (Storage.getPieces: what a checkout of a chunked file reads).
    getPieces: downloadPieces,
    // Large blobs come as parallel ranged downloads (see parallel-download.ts); small ones in one.
    getStream: (key: string, range?: ByteRange): Promise<Readable | null> => downloadInParts((start, end) => getRange(key, start, end), range, { partBytes: blockSize }),
    stat: head,
    async put(key, body) {
      const bytes = Buffer.from(body);
      try {
        await blob(key).upload(bytes, bytes.length);
      } catch (error) {
        throw fail(error, `write "${key}"`);
      }
    },
    putIfAbsent: (key, body) => putConditional(key, Buffer.from(body)),
    async putFileIfAbsent(key, localPath) {
      const { size } = await statFile(localPath);
      if (size < blockSize) return putConditional(key, await readFile(localPath));
      // Large: skip it when present, else stage blocks in parallel (each read from the file,
      // so memory stays flat) and commit the list only if the blob is still absent.
      if (await head(key)) return false;
      try {
        await blob(key).uploadFile(localPath, { blockSize, concurrency, maxSingleShotSize: blockSize, conditions: { ifNoneMatch: "*" } });
        return true;
      } catch (error) {
        if (isAlreadyThere(error)) return false;
        throw fail(error, `upload "${key}"`);
      }
    },
    list(prefix) {
      return (async function* () {
        const pages = container.listBlobsFlat({ prefix: fullKey(location, prefix) }).byPage({ maxPageSize: 1000 });
        for (;;) {
          let page;
          try {
            page = await pages.next();
          } catch (error) {
            throw fail(error, `list "${prefix}"`);
          }
          if (page.done) return;
          for (const item of page.value.segment.blobItems) {
            yield {
              key: repositoryKey(location, item.name),
              size: item.properties.contentLength ?? 0,
              modified: item.properties.lastModified,
              etag: plainEtag(item.properties.etag),
            };
          }
        }
      })();
    },
    async delete(key) {
      try {
        await blob(key).delete();
      } catch (error) {
        if (await missing(error, `delete "${key}"`)) return;
        throw fail(error, `delete "${key}"`);
      }
    },
    // The endpoint counts only when it is not the account's usual one (Azurite, a connection string's).
    localStateDirectory: () => remoteStateDirectory(location.url, endpoint === `https://${location.account}.blob.core.windows.net` ? undefined : endpoint),
  };
}

async function serviceClient(location: BucketLocation & { account: string }, settings: StorageSettings, options: StoragePipelineOptions): Promise<BlobServiceClient> {
  const connectionString = process.env.AZURE_STORAGE_CONNECTION_STRING;
  if (connectionString) {
    const named = /(?:^|;)\s*AccountName=([^;]+)/i.exec(connectionString)?.[1];
    if (named && named !== location.account) {
      throw new CairnError(
        "CONFIG",
        `AZURE_STORAGE_CONNECTION_STRING is for the account "${named}", but the repository ${location.url} is in "${location.account}". Unset it, or use the matching account.`,
      );
    }
    return BlobServiceClient.fromConnectionString(connectionString, options);
  }
  const accountUrl = settings.endpoint ?? `https://${location.account}.blob.core.windows.net`;
  const key = process.env.AZURE_STORAGE_KEY;
  if (key) return new BlobServiceClient(accountUrl, new StorageSharedKeyCredential(location.account, key), options);
  const { DefaultAzureCredential } = await import("@azure/identity");
  return new BlobServiceClient(accountUrl, new DefaultAzureCredential(), options);
}

/** A download's body as the pieces it arrived in. */
async function readPieces(stream: NodeJS.ReadableStream | undefined): Promise<Buffer[]> {
  const pieces: Buffer[] = [];
  if (!stream) return pieces;
  for await (const piece of stream) pieces.push(Buffer.isBuffer(piece) ? piece : Buffer.from(piece));
  return pieces;
}

function statusOf(error: unknown): number | undefined {
  return (error as { statusCode?: number })?.statusCode;
}

/** The storage error code (x-ms-error-code), e.g. "ContainerNotFound". */
function codeOf(error: unknown): string | undefined {
  const e = error as { code?: string; details?: { errorCode?: string } };
  return e?.details?.errorCode ?? e?.code;
}

function vendorOf(error: unknown): string {
  if (typeof error === "string") return error;
  const network = networkCode(error);
  if (network) return network;
  const status = statusOf(error);
  const code = codeOf(error);
  if (status === undefined && (code === undefined || code === "REQUEST_SEND_ERROR")) {
    // Raised before any answer (e.g. a credential that refuses plain http): only the message says.
    return oneLine((error as Error)?.message ?? String(error)).slice(0, 200);
  }
  return `${code ?? (error as Error)?.name ?? "Error"}${status ? ` ${status}` : ""}`;
}

function isAlreadyThere(error: unknown): boolean {
  const status = statusOf(error);
  return status === 412 || (status === 409 && codeOf(error) === "BlobAlreadyExists");
}

function classify(error: unknown): StorageFailureKind {
  const name = (error as Error)?.name;
  const code = codeOf(error);
  const status = statusOf(error);
  if (name === "CredentialUnavailableError" || name === "AggregateAuthenticationError" || name === "AuthenticationRequiredError") return "no-credentials";
  if (networkCode(error)) return "unreachable";
  if (code === "ContainerNotFound") return "missing-bucket";
  if (code === "AuthenticationFailed" || code === "InvalidAuthenticationInfo" || status === 401) return "bad-credentials";
  // AuthorizationFailure is also what Azurite answers for a wrong key: it may be either cause.
  if (status === 403) return code === "AuthorizationPermissionMismatch" || code === "AuthorizationSourceIPMismatch" || code === "AuthorizationProtocolMismatch" ? "access-denied" : "refused";
  if (status === 429 || (status !== undefined && status >= 500)) return "unavailable";
  return "failed";
}

import type { PutObjectCommand, S3Client, S3ClientConfig } from "@aws-sdk/client-s3";
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile, stat as statFile } from "node:fs/promises";
import * as http from "node:http";
import * as https from "node:https";
import { Readable } from "node:stream";
import { objectHashOfKey } from "../repository/layout.js";
import { plainEtag } from "./etag.js";
import { networkCode, storageFailure, type StorageFailureKind } from "./failure.js";
import { downloadInParts, objectSizeOf, type RangeAnswer } from "./parallel-download.js";
import { createLeanS3, type LeanS3 } from "./s3-lean.js";
import type { ListPage } from "./s3-xml.js";
import {
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_PART_SIZE_MIB,
  DEFAULT_UPLOAD_CONCURRENCY,
  fullKey,
  parseBucketUrl,
  remoteStateDirectory,
  repositoryKey,
  type BucketLocation,
  type StorageSettings,
} from "./settings.js";
import { requireCommonJs } from "./require-commonjs.js";
import { joinPieces, type ByteRange, type ObjectInfo, type ReadOptions, type Storage } from "./storage.js";

const { DeleteObjectCommand, GetObjectCommand, HeadBucketCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand: PutObject, S3Client: Client } =
  requireCommonJs<typeof import("@aws-sdk/client-s3")>("@aws-sdk/client-s3");

const CREDENTIAL_HINT = "the credentials the AWS SDK finds (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, SSO, or the machine's role)";
const BAD_CREDENTIALS = new Set(["InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken", "TokenRefreshRequired", "InvalidClientTokenId", "ExpiredTokenException"]);
/** S3 caps a multipart upload at 10,000 parts: larger files get larger parts. */
const MAX_PARTS = 10_000;
const CONNECTION_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 120_000;

/** Where the S3 endpoint comes from: cairn.yaml, then the AWS SDK's own environment variables. */
function endpointOf(settings: StorageSettings): string | undefined {
  return settings.endpoint ?? process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL ?? undefined;
}

/**
 * The S3 driver, for AWS and S3-compatible stores (Ceph, MinIO, R2, ...): `s3://bucket/prefix`.
 * Credentials come only from the AWS SDK's default chain. With a custom endpoint (the
 * `endpoint` setting, AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL) path-style addressing is the
 * default. Writes that must not replace use `If-None-Match: *`; a server that answers 501 to it
 * gets a HEAD before the PUT instead (objects are content-addressed, so that race is harmless).
 * Whole-object reads and listings, which a listing sends by the thousand, and HEADs and single
 * PUTs, which an upload sends by the thousand (one per chunk), skip the SDK's per-request
 * machinery (s3-lean.ts) but use what the client resolved: endpoint, addressing, region,
 * credentials chain; multipart uploads, ranged reads and deletes stay on the SDK.
 *
 * @example
 * const storage = await createS3Storage("s3://models/team-a", { region: "eu-west-1" });
 */
export async function createS3Storage(url: string, settings: StorageSettings = {}): Promise<Storage> {
  const location = parseBucketUrl(url, "s3://bucket/prefix");
  const endpoint = endpointOf(settings);
  const partSize = (settings.partSizeMiB ?? DEFAULT_PART_SIZE_MIB) * 1024 * 1024;
  const queueSize = settings.uploadConcurrency ?? DEFAULT_UPLOAD_CONCURRENCY;
  // The SDK warns on stderr about its future Node requirement; a library must not print.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const maxAttempts = settings.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  // One pair of keep-alive agents for the SDK and the lean requests (s3-lean.ts) alike.
  const agents = { http: new http.Agent({ keepAlive: true, maxSockets: 64 }), https: new https.Agent({ keepAlive: true, maxSockets: 64 }) };

  const makeClient = (region: string | undefined): S3Client => {
    const config: S3ClientConfig = {
      region,
      endpoint,
      forcePathStyle: settings.forcePathStyle ?? endpoint !== undefined,
      // Bounded retries with exponential backoff and jitter: throttling, 5xx, dropped connections.
      maxAttempts,
      retryMode: "standard",
      requestHandler: {
        connectionTimeout: CONNECTION_TIMEOUT_MS,
        requestTimeout: REQUEST_TIMEOUT_MS,
        // Without it the SDK only logs a warning when a request stalls past requestTimeout, and
        // the request hangs on (seen with a radosgw that ran out of space): fail it, so it is retried.
        throwOnRequestTimeout: true,
        httpAgent: agents.http,
        httpsAgent: agents.https,
      },
    };
    // Checksums other than MD5 are an AWS extension that S3-compatible servers may refuse.
    if (endpoint !== undefined) {
      config.requestChecksumCalculation = "WHEN_REQUIRED";
      config.responseChecksumValidation = "WHEN_REQUIRED";
    }
    return new Client(config);
  };
  // Region: the setting, else the SDK's chain (AWS_REGION, the profile), else us-east-1.
  let client = makeClient(settings.region);
  if (settings.region === undefined && (await client.config.region().catch(() => undefined)) === undefined) {
    client.destroy();
    client = makeClient("us-east-1");
  }
  const region = await client.config.region();
  const endpointForMessages = endpoint ?? `https://s3.${region}.amazonaws.com`;
  const bucket = location.bucket;
  let bucketVerified = false;
  let conditionalWrites = true;

  const fail = (error: unknown, operation: string): Error => s3Failure(error, location, endpointForMessages, region, operation);

  // Whole-object reads, listings, HEADs and single PUTs go the lean way (s3-lean.ts) where the
  // bucket allows it: decided on the first such request (endpoint rules, once per storage).
  let lean: Promise<LeanS3 | null> | undefined;
  const leanPath = (): Promise<LeanS3 | null> =>
    (lean ??= createLeanS3(client, bucket, { agents, maxAttempts, connectionTimeoutMs: CONNECTION_TIMEOUT_MS, requestTimeoutMs: REQUEST_TIMEOUT_MS }));

  async function listPage(prefix: string, token: string | undefined): Promise<ListPage> {
    const fast = await leanPath();
    if (fast) return fast.listObjects(prefix, token);
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    return {
      objects: (page.Contents ?? []).flatMap((item) =>
        item.Key === undefined ? [] : [{ key: item.Key, size: item.Size ?? 0, modified: item.LastModified ?? new Date(0), etag: item.ETag ?? "" }],
      ),
      isTruncated: page.IsTruncated === true,
      nextToken: page.NextContinuationToken,
    };
  }

  /** A 404 without a body (HEAD) does not say whether the key or the bucket is missing. */
  async function verifyBucket(operation: string): Promise<void> {
    if (bucketVerified) return;
    try {
      await client.send(new HeadBucketCommand({ Bucket: bucket }));
      bucketVerified = true;
    } catch (error) {
      if (statusOf(error) === 404) throw storageFailure("missing-bucket", failureContext(location, endpointForMessages, region, operation, error), error);
      throw fail(error, operation);
    }
  }

  async function head(key: string): Promise<ObjectInfo | null> {
    try {
      const fast = await leanPath();
      if (fast) {
        const out = await fast.headObject(fullKey(location, key));
        return { key, size: out.size, modified: out.modified, etag: plainEtag(out.etag) };
      }
      const out = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: fullKey(location, key) }));
      return { key, size: out.ContentLength ?? 0, modified: out.LastModified ?? new Date(0), etag: plainEtag(out.ETag) };
    } catch (error) {
      if (statusOf(error) === 404) {
        await verifyBucket(`look up "${key}"`);
        return null;
      }
      if (statusOf(error) === 403 && !BAD_CREDENTIALS.has(nameOf(error)) && nameOf(error) !== "AccessDenied") {
        throw await explainRefusal(key, error);
      }
      throw fail(error, `look up "${key}"`);
    }
  }

  /**
   * A HEAD answered 403 carries no error code, so "wrong credentials" and "no permission" look
   * alike. A one-byte GET of the same key gets the code in its body.
   */
  async function explainRefusal(key: string, headError: unknown): Promise<Error> {
    try {
      await client.send(new GetObjectCommand({ Bucket: bucket, Key: fullKey(location, key), Range: "bytes=0-0" }));
    } catch (error) {
      if (statusOf(error) === 403) return fail(error, `look up "${key}"`);
    }
    return fail(headError, `look up "${key}"`);
  }

  /** PUT with If-None-Match: *; false when the object exists (412, or 409 from a racing write). */
  async function putConditional(key: string, body: Buffer | string): Promise<boolean> {
    if (!conditionalWrites) {
      if (await head(key)) return false;
      await put(key, body);
      return true;
    }
    try {
      await sendPut(key, body, true);
      return true;
    } catch (error) {
      if (isPreconditionFailure(error)) return false;
      if (isNotImplemented(error)) {
        conditionalWrites = false;
        return putConditional(key, body);
      }
      throw fail(error, `write "${key}"`);
    }
  }

  async function put(key: string, body: Buffer | string): Promise<void> {
    try {
      await sendPut(key, body, false);
    } catch (error) {
      throw fail(error, `write "${key}"`);
    }
  }

  /**
   * One PutObject, the lean way where the bucket allows it (an upload of 1 GiB is about 780 of
   * these), else the SDK's; signed with the body's SHA-256 either way. A conditional write of a
   * content object takes its name as that hash (withPayloadHash); any other body is hashed here,
   * once, as the SDK would hash it: a plain put() stores whatever it is given, even under a
   * content key (repairs and tests replace objects that way).
   */
  async function sendPut(key: string, body: Buffer | string, ifNoneMatch: boolean): Promise<void> {
    const sha256 = ifNoneMatch ? objectHashOfKey(key) : null;
    const fast = await leanPath();
    if (fast) {
      const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : body;
      await fast.putObject(fullKey(location, key), bytes, sha256 ?? createHash("sha256").update(bytes).digest("hex"), ifNoneMatch);
      return;
    }
    const command = new PutObject({ Bucket: bucket, Key: fullKey(location, key), Body: body, ...(ifNoneMatch ? { IfNoneMatch: "*" } : {}) });
    await client.send(withPayloadHash(command, sha256));
  }

  async function uploadLarge(key: string, localPath: string, size: number): Promise<boolean> {
    // Loaded here, not with the driver: reading a repository (cairn ls) never uploads.
    const { Upload } = requireCommonJs<typeof import("@aws-sdk/lib-storage")>("@aws-sdk/lib-storage");
    const upload = new Upload({
      client,
      params: {
        Bucket: bucket,
        Key: fullKey(location, key),
        Body: createReadStream(localPath, { highWaterMark: 1024 * 1024 }),
        ContentLength: size,
        ...(conditionalWrites ? { IfNoneMatch: "*" } : {}),
      },
      partSize: Math.max(partSize, Math.ceil(size / MAX_PARTS)),
      queueSize,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
      return true;
    } catch (error) {
      if (isPreconditionFailure(error)) return false;
      if (isNotImplemented(error) && conditionalWrites) {
        // A server that refuses the condition on the completion: upload again without it.
        conditionalWrites = false;
        return uploadLarge(key, localPath, size);
      }
      throw fail(error, `upload "${key}"`);
    }
  }

  /** One ranged GET, for downloadInParts: its size from Content-Range, or a 200 for the whole. */
  async function getRange(key: string, start: number, end: number): Promise<RangeAnswer | null> {
    try {
      const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: fullKey(location, key), Range: `bytes=${start}-${end}` }));
      const whole = out.ContentRange === undefined;
      return { body: out.Body as Readable, objectSize: whole ? (out.ContentLength ?? null) : objectSizeOf(out.ContentRange), whole };
    } catch (error) {
      if (isMissingKey(error)) return null;
      // A range that starts at or past the end (also any range of an empty object): no bytes.
      if (statusOf(error) === 416) return { body: Readable.from([]), objectSize: null, whole: true };
      throw fail(error, `read "${key}"`);
    }
  }

  /** A whole object as the pieces it arrived in (Storage.getPieces); null when absent. */
  async function getPieces(key: string, options?: ReadOptions): Promise<Buffer[] | null> {
    try {
      const fast = await leanPath();
      if (fast) return await fast.getObjectPieces(fullKey(location, key), { borrow: options?.borrowBuffers === true });
      const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: fullKey(location, key) }));
      const pieces: Buffer[] = [];
      for await (const piece of out.Body as AsyncIterable<Buffer>) pieces.push(piece);
      return pieces;
    } catch (error) {
      if (isMissingKey(error)) return null;
      throw fail(error, `read "${key}"`);
    }
  }

  /** Large objects come as parallel ranged GETs (see parallel-download.ts); small ones in one. */
  function getStream(key: string, range?: ByteRange): Promise<Readable | null> {
    return downloadInParts((start, end) => getRange(key, start, end), range, { partBytes: partSize });
  }

  return {
    url: location.url,
    async get(key) {
      const pieces = await getPieces(key);
      return pieces === null ? null : joinPieces(pieces);
    },
    getPieces,
    getStream,
    stat: head,
    put,
    putIfAbsent: putConditional,
    async putFileIfAbsent(key, localPath) {
      const { size } = await statFile(localPath);
      if (size < partSize) return putConditional(key, await readFile(localPath));
      // Large: skip the upload when the contents are there already, then send the parts in
      // parallel. The completion is conditional too where the server supports it; where it does
      // not, a racing writer can only replace the object with the same bytes.
      if (await head(key)) return false;
      return uploadLarge(key, localPath, size);
    },
    list(prefix) {
      return (async function* () {
        let token: string | undefined;
        do {
          let page;
          try {
            page = await listPage(fullKey(location, prefix), token);
          } catch (error) {
            throw fail(error, `list "${prefix}"`);
          }
          for (const item of page.objects) {
            yield { key: repositoryKey(location, item.key), size: item.size, modified: item.modified, etag: plainEtag(item.etag) };
          }
          if (page.isTruncated && !page.nextToken) {
            // A listing that stops early would hide experiments: fail instead.
            throw storageFailure("failed", failureContext(location, endpointForMessages, region, `list "${prefix}"`, "a truncated listing without a continuation token"), null);
          }
          token = page.isTruncated ? page.nextToken : undefined;
        } while (token);
      })();
    },
    async delete(key) {
      try {
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: fullKey(location, key) }));
      } catch (error) {
        if (statusOf(error) === 404 && nameOf(error) !== "NoSuchBucket") return;
        throw fail(error, `delete "${key}"`);
      }
    },
    localStateDirectory: () => remoteStateDirectory(location.url, endpoint),
    async close() {
      client.destroy();
      (await lean?.catch(() => null))?.close();
    },
  };
}

/**
 * Content is stored under the SHA-256 of its bytes (objects/aa/<sha256>), which is exactly the
 * payload hash a SigV4 signature needs: handing it over spares the SDK hashing every upload
 * again on the main thread (about 1.5 s of CPU per GiB), and the server still checks the body
 * against it (a body that does not match is refused, never stored). Other keys: unchanged.
 *
 * @example
 * await client.send(withPayloadHash(new PutObjectCommand({ ... }), objectHashOfKey(key)));
 */
export function withPayloadHash<C extends PutObjectCommand>(command: C, sha256: string | null): C {
  if (sha256 === null) return command;
  command.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { headers?: Record<string, string> };
      if (request.headers) request.headers["x-amz-content-sha256"] = sha256;
      return next(args);
    },
    { step: "build", name: "cairnKnownPayloadHash" },
  );
  return command;
}

function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

function nameOf(error: unknown): string {
  const e = error as { name?: string; Code?: string };
  return e?.Code ?? e?.name ?? "Error";
}

function isMissingKey(error: unknown): boolean {
  return nameOf(error) === "NoSuchKey" || (statusOf(error) === 404 && nameOf(error) === "NotFound");
}

function isPreconditionFailure(error: unknown): boolean {
  const status = statusOf(error);
  return status === 412 || (status === 409 && nameOf(error) === "ConditionalRequestConflict");
}

function isNotImplemented(error: unknown): boolean {
  return statusOf(error) === 501 || nameOf(error) === "NotImplemented";
}

function failureContext(location: BucketLocation, endpoint: string, region: string, operation: string, error: unknown) {
  const status = statusOf(error);
  // Errors of HEAD requests have no body, hence no name: say "HTTP 403" rather than "Unknown".
  const name = nameOf(error) === "Unknown" ? "HTTP" : nameOf(error);
  const vendor = typeof error === "string" ? error : `${name}${status ? ` ${status}` : ""}`;
  return { noun: "bucket", bucket: location.bucket, url: location.url, endpoint, operation, vendor, credentialHint: CREDENTIAL_HINT, requestRegion: region };
}

/**
 * Maps an AWS SDK error to a one-line CairnError("STORAGE"), by error name and HTTP status.
 *
 * @example
 * throw s3Failure(error, location, "https://s3.us-east-1.amazonaws.com", "us-east-1", 'read "cairn.json"');
 */
export function s3Failure(error: unknown, location: BucketLocation, endpoint: string, region: string, operation: string): Error {
  const context = failureContext(location, endpoint, region, operation, error);
  const name = nameOf(error);
  const status = statusOf(error);
  const network = networkCode(error);
  let kind: StorageFailureKind = "failed";
  if (name === "CredentialsProviderError") kind = "no-credentials";
  else if (network || name === "TimeoutError") {
    kind = "unreachable";
    context.vendor = network ?? name;
  } else if (name === "NoSuchBucket") kind = "missing-bucket";
  else if (status === 301 || name === "PermanentRedirect" || name === "AuthorizationHeaderMalformed" || name === "IllegalLocationConstraintException") {
    kind = "wrong-region";
    const e = error as { Region?: string; $response?: { headers?: Record<string, string> } };
    (context as { bucketRegion?: string }).bucketRegion = e.$response?.headers?.["x-amz-bucket-region"] ?? e.Region;
  } else if (BAD_CREDENTIALS.has(name)) kind = "bad-credentials";
  else if (status === 403) kind = name === "AccessDenied" ? "access-denied" : "refused";
  else if (status === 429 || (status !== undefined && status >= 500) || name === "SlowDown" || name === "Throttling") kind = "unavailable";
  return storageFailure(kind, context, error);
}

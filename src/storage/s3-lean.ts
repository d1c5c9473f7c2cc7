import type { S3Client } from "@aws-sdk/client-s3";
import type * as http from "node:http";
import type * as https from "node:https";
import { createSigV4Sender, encodeRfc3986 } from "./s3-send.js";
import { createSigV4Signer, type Credentials } from "./s3-sign.js";
import { resolveS3Target } from "./s3-target.js";
import { parseListPage, type ListPage } from "./s3-xml.js";

/**
 * The requests Cairn makes by the thousand, without the AWS SDK's per-request machinery: for a
 * listing, a whole small object and a page of ListObjectsV2; for an upload, which stores a large
 * file as chunks of about 1.3 MiB, a HEAD and a single PUT per chunk. The SDK spends 1.1 to 1.6 ms
 * of CPU on each request (middleware, endpoint rules, signing, deserializing), which for the
 * 10,000 summaries of a cold `cairn ls` is over 10 s of one core, and for the 780 to 1,560
 * requests of a 1 GiB checkpoint 1 to 2.5 s on the training machine; these take a small part of
 * that. Keys are the bucket's full keys. Errors are thrown shaped like the SDK's (see
 * S3ServiceError), so the driver's error handling is the same for both paths. What the SDK does
 * that this does not:
 * - on AWS, check a response against a CRC checksum the object may carry, and send one with a
 *   PUT (flexible checksums). Cairn checks what it reads itself: content objects against their
 *   SHA-256 name, records and summaries by strict parsing (a damaged summary is read from its
 *   record instead); and a PUT here is signed with its body's SHA-256, which the server checks.
 * - send `Expect: 100-continue` with a body of 2 MiB or more (chunks average 1.3 MiB; at most
 *   4 MiB). The answers are the same; a PUT the server refuses has sent its body first.
 */
export interface LeanS3 {
  /**
   * GetObject of a whole object, over the sender's own connections: a body of known length in
   * one buffer, a chunked one in the pieces it arrived in (S3Answer.pieces).
   */
  getObjectPieces(key: string, options?: { borrow?: boolean }): Promise<Buffer[]>;
  /** One page of ListObjectsV2 under `prefix`, from `token` (undefined for the first page). */
  listObjects(prefix: string, token: string | undefined): Promise<ListPage>;
  /** HeadObject: a missing key throws a 404 "NotFound", as the SDK's does. */
  headObject(key: string): Promise<ObjectHead>;
  /**
   * PutObject of `body` in one request, signed with `sha256` (its SHA-256 in hex) as the payload
   * hash, so the server refuses a body that does not match; with `ifNoneMatch` it sends
   * If-None-Match: * (an existing object answers 412, thrown as the SDK would).
   */
  putObject(key: string, body: Buffer, sha256: string, ifNoneMatch: boolean): Promise<void>;
  /** Ends the connections kept for GETs (the agents are the client's to destroy). */
  close(): void;
}

/** What a HEAD says of an object, from its headers. */
export interface ObjectHead {
  size: number;
  modified: Date;
  /** As sent, quoted. */
  etag: string;
}

export interface LeanS3Options {
  agents: { http: http.Agent; https: https.Agent };
  maxAttempts: number;
  connectionTimeoutMs: number;
  requestTimeoutMs: number;
}

/**
 * The lean requests for `bucket`, addressed, signed and retried with what `client` has resolved
 * (endpoint rules, region, credentials chain, clock correction); null when the bucket needs
 * something only the SDK does (see resolveS3Target), and every request stays on the SDK.
 *
 * @example
 * const lean = await createLeanS3(client, "models", { agents, maxAttempts: 5, connectionTimeoutMs: 10_000, requestTimeoutMs: 120_000 });
 * const pieces = await lean?.getObjectPieces("team-a/summaries/e510303c2a9f4d0b8e7f1a2b3c4d5e6f.json");
 */
export async function createLeanS3(client: S3Client, bucket: string, options: LeanS3Options): Promise<LeanS3 | null> {
  let target;
  try {
    target = await resolveS3Target(client, bucket);
  } catch {
    // The SDK would fail the same way on its own requests, with its own message: let it.
    return null;
  }
  if (target === null) return null;
  const config = client.config as unknown as { credentials(): Promise<Credentials>; systemClockOffset?: number };
  // The client's credentials provider: the SDK's default chain, cached, refreshed before expiry.
  const sign = createSigV4Signer(() => config.credentials(), target.signingRegion, target.signingName);
  const send = createSigV4Sender({ ...options, target, sign, clock: config });
  const root = target.basePath;
  return {
    async getObjectPieces(key, options) {
      return (await send(`${root}/${encodeKey(key)}`, {}, options?.borrow ? BORROWING_GET : undefined)).pieces;
    },
    async listObjects(prefix, token) {
      const query: Record<string, string> = { "list-type": "2", prefix };
      if (token !== undefined) query["continuation-token"] = token;
      // As the SDK sends it: the bucket's root, with a trailing slash.
      const answer = await send(`${root}/`, query);
      return parseListPage(answer.body.toString("utf8"));
    },
    async headObject(key) {
      const { headers } = await send(`${root}/${encodeKey(key)}`, {}, HEAD);
      const modified = headers["last-modified"] === undefined ? NaN : Date.parse(headers["last-modified"]);
      return { size: Number(headers["content-length"] ?? 0), modified: new Date(Number.isNaN(modified) ? 0 : modified), etag: headers.etag ?? "" };
    },
    async putObject(key, body, sha256, ifNoneMatch) {
      await send(`${root}/${encodeKey(key)}`, {}, { method: "PUT", body, payloadHash: sha256, headers: ifNoneMatch ? IF_NONE_MATCH : undefined });
    },
    close: () => send.close(),
  };
}

const HEAD = { method: "HEAD" } as const;
const BORROWING_GET = { method: "GET", borrow: true } as const;
const IF_NONE_MATCH = { "if-none-match": "*" };

/**
 * A key as a URI path, the way the SDK serializes S3's greedy `{Key+}` label: each "/"-separated
 * segment RFC 3986-encoded, the slashes kept. The S3 signer signs the path as sent.
 *
 * @example
 * encodeKey("odd/with space/a+b~c"); // "odd/with%20space/a%2Bb~c"
 */
export function encodeKey(key: string): string {
  return encodeRfc3986(key).replace(/%2F/g, "/");
}

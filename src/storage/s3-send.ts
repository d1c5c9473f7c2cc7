import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import * as http from "node:http";
import * as https from "node:https";
import { createHttpGetter } from "./http-get.js";
import type { SigV4Signer } from "./s3-sign.js";
import { joinPieces } from "./storage.js";
import { parseErrorBody } from "./s3-xml.js";
import type { S3Target } from "./s3-target.js";

export interface SenderOptions {
  target: S3Target;
  sign: SigV4Signer;
  /** The client's clock correction in ms (config.systemClockOffset), read and updated as the SDK does. */
  clock: { systemClockOffset?: number };
  agents: { http: http.Agent; https: https.Agent };
  /** Attempts per request, the first included (the driver's maxAttempts). */
  maxAttempts: number;
  connectionTimeoutMs: number;
  requestTimeoutMs: number;
}

/** What a request sends besides its path and query: a GET without a body when left out. */
export interface LeanRequest {
  method: "GET" | "HEAD" | "PUT";
  /** Further headers, lowercase (content-length is set from the body). */
  headers?: Record<string, string>;
  /** Sent whole on every attempt, so a retry sends the same bytes. */
  body?: Buffer;
  /** The body's SHA-256 in hex, signed as x-amz-content-sha256 (the server checks the body against it). */
  payloadHash?: string;
  /** A GET's body may be read into a pooled buffer, which the caller gives back (ReadOptions.borrowBuffers). */
  borrow?: boolean;
}

const BODYLESS_GET: LeanRequest = { method: "GET" };

/** A 2xx answer, its body read whole (empty for a HEAD). */
export interface S3Answer {
  status: number;
  headers: IncomingHttpHeaders;
  /**
   * The body as it was read, not joined: one buffer for a GET of known length (http-get.ts), the
   * socket's pieces (64 KiB or less each) otherwise. Joining a pack's pieces cost a 1 GiB read
   * 0.6 s of copying and most of its garbage collection (measured).
   */
  pieces: Buffer[];
  /** The body joined into one buffer (joined on first use). */
  readonly body: Buffer;
}

/**
 * An error answer, shaped like the AWS SDK's service exceptions (`name` is the S3 error code,
 * `$metadata.httpStatusCode` the status, `$response.headers` the headers, `Region` from the body),
 * so the driver maps it to the same CairnError as an error the SDK threw.
 */
export class S3ServiceError extends Error {
  readonly Code: string;
  readonly Region: string | undefined;
  readonly $metadata: { httpStatusCode: number; attempts: number; clockSkewCorrected?: boolean };
  readonly $response: { statusCode: number; headers: IncomingHttpHeaders };
  constructor(status: number, headers: IncomingHttpHeaders, body: Buffer, attempts: number) {
    const parsed = parseErrorBody(body.toString("utf8"));
    // As the SDK names them: the code in the body; "NotFound" for a 404 without one.
    const name = parsed.code ?? (status === 404 ? "NotFound" : "Unknown");
    super(parsed.message ?? name);
    this.name = name;
    this.Code = name;
    this.Region = parsed.region;
    this.$metadata = { httpStatusCode: status, attempts };
    this.$response = { statusCode: status, headers };
  }
}

/** What the SDK's standard retry strategy retries (@smithy/core/retry), for the lean path. */
const THROTTLING = new Set(["SlowDown", "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottled", "RequestThrottledException", "TooManyRequestsException", "RequestLimitExceeded", "BandwidthLimitExceeded", "PriorRequestNotComplete", "ProvisionedThroughputExceededException", "LimitExceededException", "EC2ThrottledException", "TransactionInProgressException"]);
/**
 * Not every 5xx: the SDK's standard mode leaves other server errors alone, and so must this.
 * A 501 in particular is how a server refuses If-None-Match, which the driver answers at once.
 */
const TRANSIENT_STATUSES = new Set([500, 502, 503, 504]);
const TRANSIENT_NAMES = new Set(["TimeoutError", "RequestTimeout", "RequestTimeoutException"]);
const RETRIED_SOCKET_CODES = new Set(["ECONNRESET", "ECONNREFUSED", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN"]);
const CLOCK_SKEW = new Set(["RequestTimeTooSkewed", "RequestExpired", "RequestInTheFuture", "SignatureDoesNotMatch", "InvalidSignatureException", "AuthFailure"]);
/** The SDK's backoff (2026 defaults): full jitter over 50 ms × 2^retry, 1 s × 2^retry when throttled, at most 20 s. */
const DELAY_BASE_MS = 50;
const THROTTLING_DELAY_BASE_MS = 1_000;
const MAX_DELAY_MS = 20_000;
/** The SDK corrects its clock when the server's differs by this much (SigV4 allows 15 minutes). */
const SKEW_THRESHOLD_MS = 240_000;

/**
 * Sends signed requests to one bucket without the AWS SDK's middleware stack: signed with the
 * client's credentials (its chain, session tokens and refresh apply; see s3-sign.ts), sent
 * (HEADs and PUTs) through the SDK's keep-alive agents or (GETs) over connections of the
 * sender's own (http-get.ts), retried like the SDK's standard mode (500, 502, 503, 504,
 * throttling, timeouts, dropped connections, a clock the server says is off), each answer's body
 * read whole. `close()` ends the GETs' connections.
 * A non-2xx final answer is thrown as an S3ServiceError; a socket error as itself. A PUT is
 * retried like any request, as the SDK retries it: a retried conditional PUT whose first attempt
 * landed gets 412, which the caller reads as "already there" (true of content-addressed keys).
 *
 * @example
 * const send = createSigV4Sender({ target, sign, clock: client.config, agents, maxAttempts: 5, connectionTimeoutMs: 10_000, requestTimeoutMs: 120_000 });
 * const answer = await send("/models/cairn.json", {});
 * await send("/models/notes.txt", {}, { method: "PUT", body: Buffer.from("hi"), payloadHash: createHash("sha256").update("hi").digest("hex") });
 */
export function createSigV4Sender(options: SenderOptions): SigV4Sender {
  const { target, sign, clock, maxAttempts } = options;
  const agent = target.protocol === "https:" ? options.agents.https : options.agents.http;
  const transport = target.protocol === "https:" ? https : http;
  // An IPv6 literal is bracketed in URLs and Host headers, not in what the socket connects to.
  const connectTo = target.hostname.replace(/^\[(.*)\]$/, "$1");

  // GETs (every object read whole, every listing page) go through connections of their own
  // that read into a buffer they keep (http-get.ts); HEADs and PUTs through node:http.
  const getter = createHttpGetter({
    protocol: target.protocol,
    host: connectTo,
    port: target.port ?? (target.protocol === "https:" ? 443 : 80),
    connectionTimeoutMs: options.connectionTimeoutMs,
    requestTimeoutMs: options.requestTimeoutMs,
  });

  async function once(path: string, query: Record<string, string>, what: LeanRequest): Promise<{ status: number; headers: IncomingHttpHeaders; pieces: Buffer[]; sentAt: number }> {
    const search = queryString(query);
    const extra = what.body === undefined ? what.headers : { ...what.headers, "content-length": String(what.body.length) };
    // Signed afresh for every attempt: the date is part of the signature.
    const headers = await sign(
      { method: what.method, host: target.host, path, query: search, payloadHash: what.payloadHash, headers: extra },
      new Date(Date.now() + (clock.systemClockOffset ?? 0)),
    );
    const sentAt = Date.now();
    if (what.method === "GET" && what.body === undefined) {
      const answer = await getter.get(search ? `${path}?${search}` : path, headers, { borrow: what.borrow === true });
      return { ...answer, sentAt };
    }
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      const request = transport.request({ agent, method: what.method, host: connectTo, port: target.port, path: search ? `${path}?${search}` : path, headers }, resolve);
      request.on("error", reject);
      request.setTimeout(options.requestTimeoutMs, () => request.destroy(timeoutError(`no answer within ${options.requestTimeoutMs} ms`)));
      request.on("socket", (socket) => {
        if (!socket.connecting) return;
        const timer = setTimeout(() => request.destroy(timeoutError(`no connection within ${options.connectionTimeoutMs} ms`)), options.connectionTimeoutMs);
        socket.once("connect", () => clearTimeout(timer));
        socket.once("close", () => clearTimeout(timer));
      });
      request.end(what.body);
    });
    // A HEAD's Content-Length is the object's, not that of a body (it has none).
    const pieces = await readAnswer(response, what.method !== "HEAD");
    return { status: response.statusCode ?? 0, headers: response.headers, pieces, sentAt };
  }

  const send = async (path: string, query: Record<string, string>, request: LeanRequest = BODYLESS_GET): Promise<S3Answer> => {
    for (let attempt = 1; ; attempt++) {
      let failure: unknown;
      let throttled = false;
      try {
        const answer = await once(path, query, request);
        if (answer.status >= 200 && answer.status < 300) return withJoinedBody(answer);
        const error = new S3ServiceError(answer.status, answer.headers, joinPieces(answer.pieces), attempt);
        if (CLOCK_SKEW.has(error.name) && correctClock(clock, answer.headers.date, answer.sentAt)) error.$metadata.clockSkewCorrected = true;
        if (!isRetried(error)) throw error;
        throttled = answer.status === 429 || THROTTLING.has(error.name);
        failure = error;
      } catch (error) {
        if (error instanceof S3ServiceError || !isRetried(error)) throw error;
        failure = error;
      }
      if (attempt >= maxAttempts) throw failure;
      const base = throttled ? THROTTLING_DELAY_BASE_MS : DELAY_BASE_MS;
      await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * Math.min(base * 2 ** (attempt - 1), MAX_DELAY_MS))));
    }
  };
  return Object.assign(send, { close: () => getter.close() });
}

/** Sends one request (see createSigV4Sender); `close()` ends the connections kept for GETs. */
export interface SigV4Sender {
  (path: string, query: Record<string, string>, request?: LeanRequest): Promise<S3Answer>;
  close(): void;
}

/** An answer whose `body` joins its pieces when first asked for. */
function withJoinedBody(answer: { status: number; headers: IncomingHttpHeaders; pieces: Buffer[] }): S3Answer {
  let joined: Buffer | null = null;
  return {
    status: answer.status,
    headers: answer.headers,
    pieces: answer.pieces,
    get body() {
      return (joined ??= joinPieces(answer.pieces));
    },
  };
}

/**
 * A response body, whole, as the pieces it came in. With events rather than an async iterator:
 * for the small bodies read by the thousand, the iterator's promises cost more than the read.
 * A body that ends short of its Content-Length, or not at all, fails as a dropped connection
 * (retried).
 */
function readAnswer(response: IncomingMessage, counted: boolean): Promise<Buffer[]> {
  const header = response.headers["content-length"];
  const announced = header === undefined || !counted ? undefined : Number(header);
  return new Promise((resolve, reject) => {
    const pieces: Buffer[] = [];
    let length = 0;
    let ended = false;
    response.on("data", (piece: Buffer) => {
      pieces.push(piece);
      length += piece.length;
    });
    response.on("error", reject);
    response.on("end", () => {
      ended = true;
      if (announced !== undefined && length !== announced) {
        reject(Object.assign(new Error(`the answer ended after ${length} of ${announced} bytes`), { code: "ECONNRESET" }));
      } else resolve(pieces);
    });
    response.on("close", () => {
      if (!ended) reject(Object.assign(new Error(`the connection closed after ${length} bytes of the answer`), { code: "ECONNRESET" }));
    });
  });
}

function isRetried(error: unknown): boolean {
  if (error instanceof S3ServiceError) {
    const status = error.$metadata.httpStatusCode;
    return TRANSIENT_STATUSES.has(status) || status === 429 || THROTTLING.has(error.name) || TRANSIENT_NAMES.has(error.name) || error.$metadata.clockSkewCorrected === true;
  }
  for (let e = error as { code?: unknown; name?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 6; depth++, e = e.cause as typeof e) {
    if (typeof e.code === "string" && RETRIED_SOCKET_CODES.has(e.code)) return true;
    if (typeof e.name === "string" && TRANSIENT_NAMES.has(e.name)) return true;
  }
  return false;
}

/**
 * After a clock-skew error, takes the server's clock from its Date header as the SDK does;
 * true when the correction is large enough that a retry, signed with it, can succeed.
 */
function correctClock(clock: { systemClockOffset?: number }, date: string | undefined, sentAt: number): boolean {
  const serverTime = date === undefined ? NaN : Date.parse(date);
  if (Number.isNaN(serverTime) || Date.now() - sentAt > 900_000) return false;
  const offset = serverTime - Date.now();
  const previous = clock.systemClockOffset ?? 0;
  clock.systemClockOffset = offset;
  return Math.abs(offset) >= SKEW_THRESHOLD_MS && offset !== previous;
}

function timeoutError(message: string): Error {
  const error = new Error(message);
  error.name = "TimeoutError";
  return error;
}

/**
 * A query string encoded as SigV4's canonical query is (RFC 3986: only A-Z a-z 0-9 - _ . ~ left
 * as they are), so what is sent is exactly what was signed.
 *
 * @example
 * queryString({ "list-type": "2", prefix: "a b/" }); // "list-type=2&prefix=a%20b%2F"
 */
export function queryString(query: Record<string, string>): string {
  return Object.keys(query)
    .sort()
    .map((name) => `${encodeRfc3986(name)}=${encodeRfc3986(query[name]!)}`)
    .join("&");
}

/**
 * encodeURIComponent, plus the five characters it leaves that SigV4 wants encoded.
 *
 * @example
 * encodeRfc3986("it's (a) key!*"); // "it%27s%20%28a%29%20key%21%2A"
 */
export function encodeRfc3986(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

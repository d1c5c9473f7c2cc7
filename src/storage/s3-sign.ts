import { createHash, createHmac } from "node:crypto";

/** What the S3 client's credentials provider gives (AwsCredentialIdentity). */
export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** A request to sign: `path` as sent (URI-encoded), `query` the canonical query string. */
export interface RequestToSign {
  method: string;
  /** The Host header: hostname, and ":port" when the endpoint names one. */
  host: string;
  path: string;
  query: string;
  /** The body's SHA-256 in hex; the empty body's when absent. */
  payloadHash?: string;
  /** Further headers to send and sign (lowercase names), e.g. content-length, if-none-match. */
  headers?: Record<string, string>;
}

/** SHA-256 of the empty body. */
export const EMPTY_BODY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/**
 * AWS Signature Version 4, as the AWS SDK's S3 signer computes it (S3 rules: the path is signed
 * as sent, not encoded twice; the payload hash is sent as x-amz-content-sha256, and for a body
 * it is the caller's: hashing is left to whoever already knows the hash), with node:crypto and a signing key kept per day. The SDK's own signer
 * gives the same signature (test/storage/s3-sign.test.ts) but spends about 150 µs per request,
 * most of it hashing the secret again to look its key up; this spends about 15 µs.
 * `credentials` is called for every request: pass the client's provider, which caches them and
 * refreshes them before they expire.
 *
 * @example
 * const sign = createSigV4Signer(() => client.config.credentials(), "us-east-1", "s3");
 * const headers = await sign({ method: "GET", host: "127.0.0.1:7480", path: "/models/cairn.json", query: "" }, new Date());
 * // { host, "x-amz-date", "x-amz-content-sha256", authorization, ("x-amz-security-token") }
 */
export function createSigV4Signer(credentials: () => Promise<Credentials>, region: string, service: string) {
  let cached: { secret: string; day: string; key: Buffer } | null = null;
  const signingKey = (secret: string, day: string): Buffer => {
    if (cached?.secret === secret && cached.day === day) return cached.key;
    const hmac = (key: string | Buffer, data: string): Buffer => createHmac("sha256", key).update(data, "utf8").digest();
    const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, day), region), service), "aws4_request");
    cached = { secret, day, key };
    return key;
  };

  return async function sign(request: RequestToSign, date: Date): Promise<Record<string, string>> {
    const identity = await credentials();
    const longDate = date.toISOString().replace(/[-:]|\.\d{3}/g, ""); // 20261128T100000Z
    const day = longDate.slice(0, 8);
    const scope = `${day}/${region}/${service}/aws4_request`;
    const payloadHash = request.payloadHash ?? EMPTY_BODY_SHA256;
    const headers: Record<string, string> = { ...request.headers, host: request.host, "x-amz-content-sha256": payloadHash, "x-amz-date": longDate };
    if (identity.sessionToken) headers["x-amz-security-token"] = identity.sessionToken;
    // Canonical headers: lowercase names in order, values trimmed with inner runs of spaces
    // collapsed (none of these values has any, but a session token is the caller's).
    // Every header sent is signed, as the SDK signs all but a fixed few (none of which is sent here).
    const names = Object.keys(headers).sort();
    const canonicalHeaders = names.map((name) => `${name}:${headers[name]!.trim().replace(/\s+/g, " ")}\n`).join("");
    const signedHeaders = names.join(";");
    const canonicalRequest = `${request.method}\n${request.path}\n${request.query}\n${canonicalHeaders}\n${signedHeaders}\n${payloadHash}`;
    const stringToSign = `AWS4-HMAC-SHA256\n${longDate}\n${scope}\n${createHash("sha256").update(canonicalRequest, "utf8").digest("hex")}`;
    const signature = createHmac("sha256", signingKey(identity.secretAccessKey, day)).update(stringToSign, "utf8").digest("hex");
    headers.authorization = `AWS4-HMAC-SHA256 Credential=${identity.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
    return headers;
  };
}

export type SigV4Signer = ReturnType<typeof createSigV4Signer>;

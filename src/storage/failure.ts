import { CairnError } from "../errors.js";

/** What went wrong with a storage request, as far as the driver can tell from status and name. */
export type StorageFailureKind =
  | "missing-bucket"
  | "wrong-region"
  | "bad-credentials"
  | "no-credentials"
  | "access-denied"
  | "refused"
  | "unreachable"
  | "unavailable"
  | "failed";

/** The facts a message needs: which bucket, where, and what the service said. */
export interface FailureContext {
  /** "bucket", or "container" on Azure. */
  noun: string;
  bucket: string;
  /** The repository URL, e.g. s3://models/team-a. */
  url: string;
  /** The endpoint requests went to, e.g. https://s3.us-east-1.amazonaws.com. */
  endpoint: string;
  /** What the request did, e.g. `read "cairn.json"`. */
  operation: string;
  /** The vendor's error name/code and HTTP status, e.g. "NoSuchBucket (404)". */
  vendor: string;
  /** Where credentials come from for this service, for the "refused credentials" hint. */
  credentialHint: string;
  /** For wrong-region: the region the bucket is in, and the one requests used. */
  bucketRegion?: string;
  requestRegion?: string;
}

/**
 * One line that names the bucket and says what to do, as a CairnError("STORAGE"). The kind is
 * decided by each driver from status codes and error names, never from message text.
 *
 * @example
 * throw storageFailure("missing-bucket", { noun: "bucket", bucket: "models", ... }, error);
 */
export function storageFailure(kind: StorageFailureKind, c: FailureContext, cause: unknown): CairnError {
  const target = `${c.noun} "${c.bucket}"`;
  let message: string;
  switch (kind) {
    case "missing-bucket":
      message = `The ${target} does not exist at ${c.endpoint} (repository ${c.url}). Create it, or correct the repository URL or endpoint.`;
      break;
    case "wrong-region":
      message = c.bucketRegion
        ? `The ${target} is in region ${c.bucketRegion}, not ${c.requestRegion ?? "the one configured"}. Set AWS_REGION=${c.bucketRegion}, or "region: ${c.bucketRegion}" under "storage:" in cairn.yaml.`
        : `The ${target} is in another region than ${c.requestRegion ?? "the one configured"}. Set AWS_REGION, or "region:" under "storage:" in cairn.yaml, to the bucket's region.`;
      break;
    case "bad-credentials":
      message = `The storage service refused the credentials for the ${target} (${c.vendor}). Check ${c.credentialHint}.`;
      break;
    case "no-credentials":
      message = `No credentials were found for the ${target}. Provide them through ${c.credentialHint}.`;
      break;
    case "access-denied":
      message = `Access to the ${target} was denied when trying to ${c.operation} (${c.vendor}). Grant the permissions listed in docs/STORAGE.md to these credentials.`;
      break;
    case "refused":
      // A 403 without an error code (HEAD requests carry no body): either cause is possible.
      message = `The storage service refused to ${c.operation} in the ${target} (${c.vendor}): the credentials are wrong, or lack the permissions listed in docs/STORAGE.md. Check ${c.credentialHint}.`;
      break;
    case "unreachable":
      message = `Cannot reach the storage endpoint ${c.endpoint} for the ${target} (${c.vendor}). Check the endpoint setting, the network and any proxy.`;
      break;
    case "unavailable":
      message = `The storage service kept failing for the ${target} (${c.vendor}) after several attempts to ${c.operation}. Try again later.`;
      break;
    default:
      message = `Could not ${c.operation} in the ${target} at ${c.endpoint}: ${c.vendor.replace(/\.+$/, "")}.`;
  }
  return new CairnError("STORAGE", oneLine(message), {
    cause,
    details: { kind, bucket: c.bucket, url: c.url, endpoint: c.endpoint, vendor: c.vendor },
  });
}

/** Collapses whitespace so a message is one line whatever a vendor put in it. */
export function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

/** Socket-level error codes that mean "could not talk to the server at all". */
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ETIMEDOUT",
  "ECONNRESET",
  "EPIPE",
  "ECONNABORTED",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_SOCKET",
]);

/**
 * The socket error code somewhere in an error's cause chain (SDKs wrap them differently), or null.
 *
 * @example
 * networkCode(error); // "ECONNREFUSED"
 */
export function networkCode(error: unknown): string | null {
  for (let e = error as { code?: unknown; cause?: unknown; errors?: unknown } | undefined, depth = 0; e && depth < 6; depth++) {
    if (typeof e.code === "string" && NETWORK_CODES.has(e.code)) return e.code;
    // AggregateError (happy eyeballs) keeps the per-address errors in `errors`.
    if (Array.isArray(e.errors)) {
      for (const inner of e.errors) {
        const code = networkCode(inner);
        if (code) return code;
      }
    }
    e = e.cause as typeof e;
  }
  return null;
}

import type { S3Client } from "@aws-sdk/client-s3";
import { requireCommonJs } from "./require-commonjs.js";

const { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } = requireCommonJs<typeof import("@aws-sdk/client-s3")>("@aws-sdk/client-s3");
const { getEndpointFromInstructions } = requireCommonJs<typeof import("@smithy/core/endpoints")>("@smithy/core/endpoints");

/**
 * Where and how the lean S3 requests (s3-lean.ts) go: the URL the AWS SDK itself would send a
 * bucket's requests to, and the name and region they are signed for.
 */
export interface S3Target {
  protocol: "http:" | "https:";
  hostname: string;
  /** Only when the endpoint names one; else the protocol's default. */
  port: number | undefined;
  /** The Host header the SDK would send (with the port when the endpoint names one). */
  host: string;
  /** The path before the key: "/bucket" with path-style addressing, "" with virtual-hosted. */
  basePath: string;
  signingName: string;
  signingRegion: string;
}

/**
 * Asks the client's own endpoint rules where requests for `bucket` go (custom endpoint or AWS,
 * path-style or virtual-hosted, FIPS, dual-stack, access points), so the lean path addresses
 * the bucket exactly as the SDK does, for each operation the lean path sends. Null when the answer is anything the lean path does not
 * do itself (another signing scheme such as S3 Express sessions or SigV4a, extra headers, a
 * query string): those buckets keep every request on the SDK.
 *
 * @example
 * const target = await resolveS3Target(client, "models");
 * // { protocol: "http:", hostname: "127.0.0.1", port: 7480, host: "127.0.0.1:7480", basePath: "/models", signingName: "s3", signingRegion: "us-east-1" }
 */
export async function resolveS3Target(client: S3Client, bucket: string): Promise<S3Target | null> {
  const config = { ...client.config } as unknown as Record<string, unknown>;
  // Every lean request uses the one answer, so every operation it stands in for must agree.
  const answers = await Promise.all([
    getEndpointFromInstructions({ Bucket: bucket, Key: "cairn.json" }, GetObjectCommand, config),
    getEndpointFromInstructions({ Bucket: bucket }, ListObjectsV2Command, config),
    getEndpointFromInstructions({ Bucket: bucket, Key: "cairn.json" }, HeadObjectCommand, config),
    getEndpointFromInstructions({ Bucket: bucket, Key: "cairn.json" }, PutObjectCommand, config),
  ]);
  const targets = answers.map(targetOf);
  const first = targets[0]!;
  if (first === null || targets.some((t) => t === null || JSON.stringify(t) !== JSON.stringify(first))) return null;
  return first;
}

interface EndpointAnswer {
  url: URL;
  headers?: Record<string, string[]>;
  properties?: { authSchemes?: { name?: string; signingName?: string; signingRegion?: string }[] };
}

function targetOf(endpoint: EndpointAnswer): S3Target | null {
  const { url } = endpoint;
  const scheme = endpoint.properties?.authSchemes?.[0];
  if (scheme?.name !== "sigv4" || !scheme.signingName || !scheme.signingRegion) return null;
  if (endpoint.headers && Object.keys(endpoint.headers).length > 0) return null;
  if (url.search !== "" || (url.protocol !== "http:" && url.protocol !== "https:")) return null;
  return {
    protocol: url.protocol,
    hostname: url.hostname,
    port: url.port === "" ? undefined : Number(url.port),
    host: url.host,
    basePath: url.pathname.replace(/\/+$/, ""),
    signingName: scheme.signingName,
    signingRegion: scheme.signingRegion,
  };
}

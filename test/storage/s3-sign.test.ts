/**
 * The lean S3 path signs its requests itself (src/storage/s3-sign.ts): the same signatures as the
 * AWS SDK's own S3 signer, for the same request, time and credentials.
 */
import { S3Client } from "@aws-sdk/client-s3";
import { createHash } from "node:crypto";
import { describe, expect, test } from "vitest";
import { encodeKey } from "../../src/storage/s3-lean.js";
import { queryString } from "../../src/storage/s3-send.js";
import { createSigV4Signer, type Credentials } from "../../src/storage/s3-sign.js";

interface SdkSigner {
  sign(request: object, options: { signingDate: Date; signingRegion: string; signingService: string }): Promise<{ headers: Record<string, string> }>;
}

async function sdkSignature(
  credentials: Credentials,
  region: string,
  host: string,
  path: string,
  query: Record<string, string>,
  date: Date,
  request: { method: string; headers: Record<string, string>; body?: Buffer } = { method: "GET", headers: {} },
): Promise<Record<string, string>> {
  const client = new S3Client({ region, credentials, endpoint: `http://${host}`, forcePathStyle: true });
  try {
    const config = client.config as unknown as { signer(scheme: object): Promise<SdkSigner> };
    const signer = await config.signer({ name: "sigv4", signingName: "s3", signingRegion: region, properties: {} });
    const [hostname, port] = host.split(":");
    const signed = await signer.sign(
      { method: request.method, protocol: "http:", hostname, port: port ? Number(port) : undefined, path, query, headers: { ...request.headers, host }, body: request.body },
      { signingDate: date, signingRegion: region, signingService: "s3" },
    );
    return signed.headers;
  } finally {
    client.destroy();
  }
}

const date = new Date("2026-11-28T10:11:12.345Z");
const keys = ["summaries/e510303c2a9f4d0b8e7f1a2b3c4d5e6f.json", "odd/with space/and  two", "odd/ünïcødé/€uro/日本語", "odd/plus+percent%20amp&eq=semi;comma,", "odd/tilde~star*bang!quote'paren()", "/lead//double/"];

describe("SigV4 signatures of the lean path", () => {
  for (const sessionToken of [undefined, "FwoGZXIvYXdzEJr//////////session+token/="]) {
    test(`equal the SDK's for reads and listings${sessionToken ? ", with a session token" : ""}`, async () => {
      const credentials: Credentials = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", sessionToken };
      const sign = createSigV4Signer(async () => credentials, "eu-west-1", "s3");
      const requests: [string, Record<string, string>][] = [
        ...keys.map((key): [string, Record<string, string>] => [`/models/${encodeKey(key)}`, {}]),
        ["/models/", { "list-type": "2", prefix: "team a/summaries/+~" }],
        ["/models/", { "list-type": "2", prefix: "experiments/", "continuation-token": "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=" }],
      ];
      for (const [path, query] of requests) {
        const ours = await sign({ method: "GET", host: "127.0.0.1:7480", path, query: queryString(query) }, date);
        const sdk = await sdkSignature(credentials, "eu-west-1", "127.0.0.1:7480", path, query, date);
        expect(ours.authorization).toBe(sdk.authorization);
        expect(ours["x-amz-date"]).toBe(sdk["x-amz-date"]);
        expect(ours["x-amz-content-sha256"]).toBe(sdk["x-amz-content-sha256"]);
        expect(ours["x-amz-security-token"]).toBe(sdk["x-amz-security-token"]);
      }
    });
  }

  for (const sessionToken of [undefined, "FwoGZXIvYXdzEJr//////////session+token/="]) {
    test(`equal the SDK's for PUTs signed with their body's SHA-256, conditional or not, and HEADs${sessionToken ? ", with a session token" : ""}`, async () => {
      const credentials: Credentials = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", sessionToken };
      const sign = createSigV4Signer(async () => credentials, "eu-west-1", "s3");
      const body = Buffer.from("a chunk of weights");
      const payloadHash = createHash("sha256").update(body).digest("hex");
      for (const key of keys) {
        const path = `/models/${encodeKey(key)}`;
        for (const conditional of [false, true]) {
          const headers: Record<string, string> = { "content-length": String(body.length), ...(conditional ? { "if-none-match": "*" } : {}) };
          const ours = await sign({ method: "PUT", host: "127.0.0.1:7480", path, query: "", payloadHash, headers }, date);
          // The SDK takes a payload hash it is given in x-amz-content-sha256 as it is (withPayloadHash in s3.ts).
          const sdk = await sdkSignature(credentials, "eu-west-1", "127.0.0.1:7480", path, {}, date, { method: "PUT", headers: { ...headers, "x-amz-content-sha256": payloadHash }, body });
          expect(ours.authorization).toBe(sdk.authorization);
          expect(ours["x-amz-content-sha256"]).toBe(payloadHash);
          expect(ours["content-length"]).toBe(String(body.length));
        }
        const head = await sign({ method: "HEAD", host: "127.0.0.1:7480", path, query: "" }, date);
        expect(head.authorization).toBe((await sdkSignature(credentials, "eu-west-1", "127.0.0.1:7480", path, {}, date, { method: "HEAD", headers: {} })).authorization);
      }
    });
  }

  test("asks for credentials on every request, so refreshed ones are used at once", async () => {
    let credentials: Credentials = { accessKeyId: "OLD", secretAccessKey: "old-secret" };
    const sign = createSigV4Signer(async () => credentials, "us-east-1", "s3");
    const request = { method: "GET", host: "s3.us-east-1.amazonaws.com", path: "/models/cairn.json", query: "" };
    expect((await sign(request, date)).authorization).toContain("Credential=OLD/20261128/us-east-1/s3/aws4_request");
    credentials = { accessKeyId: "NEW", secretAccessKey: "new-secret", sessionToken: "token" };
    const headers = await sign(request, date);
    expect(headers.authorization).toContain("Credential=NEW/20261128/us-east-1/s3/aws4_request");
    expect(headers.authorization).toBe((await sdkSignature(credentials, "us-east-1", "s3.us-east-1.amazonaws.com", "/models/cairn.json", {}, date)).authorization);
  });
});

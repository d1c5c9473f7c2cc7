/**
 * Set-up shared by the tests of the S3 driver's lean requests (s3-lean*.test.ts): the test
 * radosgw's keys in the environment (and no endpoint from it: each storage names its own), a
 * fault proxy in front of radosgw that passes everything unless a test plans otherwise, and
 * fresh prefixes in the test bucket, closed after each test.
 */
import { afterAll, afterEach, beforeAll, expect } from "vitest";
import { CairnError } from "../../src/errors.js";
import { openStorage } from "../../src/storage/open.js";
import type { Storage } from "../../src/storage/storage.js";
import { startFaultProxy, type FaultPlan, type FaultProxy } from "../reliability/fault-proxy.js";
import { randomName } from "../helpers/unreachable.js";
import { testServers } from "../servers/context.js";

const pass: FaultPlan = () => ({ kind: "pass" });

/**
 * Registers the proxy's hooks for the calling test file and returns what its tests use.
 *
 * @example
 * const s3 = s3ThroughProxy("lean");
 * const storage = await s3.fresh();
 * s3.proxy.setPlan((request) => ({ kind: "status", status: 503 }));
 */
export function s3ThroughProxy(prefixName: string): {
  readonly proxy: FaultProxy;
  bucket: string;
  fresh(settings?: Record<string, unknown>, endpoint?: string): Promise<Storage>;
  closeAfterTest(storage: Storage): void;
} {
  const { s3 } = testServers();
  process.env.AWS_ACCESS_KEY_ID = s3.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = s3.secretAccessKey;
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_ENDPOINT_URL;
  delete process.env.AWS_ENDPOINT_URL_S3;

  let proxy: FaultProxy | null = null;
  const opened: Storage[] = [];
  beforeAll(async () => {
    proxy = await startFaultProxy(s3.endpoint, pass);
  });
  afterAll(async () => {
    await proxy?.close();
  });
  afterEach(async () => {
    proxy?.setPlan(pass);
    await Promise.all(opened.splice(0).map((s) => s.close?.()));
  });

  return {
    get proxy(): FaultProxy {
      if (proxy === null) throw new Error("the fault proxy starts in beforeAll");
      return proxy;
    },
    bucket: s3.bucket,
    /** A fresh prefix in the test bucket, through `endpoint` (the fault proxy unless told). */
    async fresh(settings = {}, endpoint) {
      const storage = await openStorage(`s3://${s3.bucket}/${prefixName}-${randomName()}`, {
        settings: { endpoint: endpoint ?? this.proxy.endpoint, forcePathStyle: true, region: s3.region, ...settings },
      });
      opened.push(storage);
      return storage;
    },
    closeAfterTest(storage) {
      opened.push(storage);
    },
  };
}

/**
 * The CairnError a promise rejects with (failing the test if it resolves or throws anything else).
 *
 * @example
 * expect((await failureOf(storage.get("x"))).code).toBe("STORAGE");
 */
export async function failureOf(promise: Promise<unknown>): Promise<CairnError> {
  const error = await promise.then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(CairnError);
  return error as CairnError;
}

import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { CairnError } from "../../src/errors.js";
import { openStorage } from "../../src/storage/open.js";
import type { Storage } from "../../src/storage/storage.js";
import { randomName, unreachableEndpoint } from "../helpers/unreachable.js";
import { testServers } from "../servers/context.js";
import { storageConformance } from "./conformance.js";

const { s3 } = testServers();
// Credentials reach the driver the way they reach users: through the AWS SDK's default chain.
process.env.AWS_ACCESS_KEY_ID = s3.accessKeyId;
process.env.AWS_SECRET_ACCESS_KEY = s3.secretAccessKey;
delete process.env.AWS_ENDPOINT_URL;
delete process.env.AWS_ENDPOINT_URL_S3;
const settings = { endpoint: s3.endpoint, forcePathStyle: true, region: s3.region };

storageConformance({
  name: "s3 (Ceph radosgw)",
  conditionalWrites: true,
  create: () => openStorage(`s3://${s3.bucket}/conformance-${randomName()}`, { settings }),
  retries: {
    target: s3.endpoint,
    open: (endpoint) => openStorage(`s3://${s3.bucket}/retries-${randomName()}`, { settings: { ...settings, endpoint } }),
  },
  failures: {
    bucket: s3.bucket,
    missingBucket: (() => {
      const name = `cairn-missing-${randomName()}`;
      return { name, open: () => openStorage(`s3://${name}/repository`, { settings }) };
    })(),
    unreachable: async () => openStorage(`s3://${s3.bucket}/repository`, { settings: { ...settings, endpoint: await unreachableEndpoint(), maxAttempts: 2 } }),
    async withBadCredentials(use) {
      const saved = process.env.AWS_SECRET_ACCESS_KEY;
      process.env.AWS_SECRET_ACCESS_KEY = "not-the-secret";
      try {
        return await use(await openStorage(`s3://${s3.bucket}/repository`, { settings }));
      } finally {
        process.env.AWS_SECRET_ACCESS_KEY = saved;
      }
    },
  },
});

describe("s3 driver specifics", () => {
  test("the endpoint may come from AWS_ENDPOINT_URL_S3 (path-style by default)", async () => {
    process.env.AWS_ENDPOINT_URL_S3 = s3.endpoint;
    try {
      const storage = await openStorage(`s3://${s3.bucket}/env-${randomName()}`, { settings: { region: s3.region } });
      await storage.put("hello", "world");
      expect((await storage.get("hello"))!.toString()).toBe("world");
      await storage.close?.();
    } finally {
      delete process.env.AWS_ENDPOINT_URL_S3;
    }
  });

  test("a 20 MB upload in 5 MiB parts, three at a time", async () => {
    // The completion is sent with If-None-Match: * (radosgw 16 ignores it there; AWS honours it).
    const storage = await openStorage(`s3://${s3.bucket}/parts-${randomName()}`, { settings: { ...settings, partSizeMiB: 5, uploadConcurrency: 3 } });
    const { writeFile, mkdtemp, rm } = await import("node:fs/promises");
    const os = await import("node:os");
    const path = await import("node:path");
    const { randomBytes, createHash } = await import("node:crypto");
    const folder = await mkdtemp(path.join(os.tmpdir(), "cairn-s3-parts-"));
    try {
      const bytes = randomBytes(20 * 1024 * 1024 + 1);
      await writeFile(path.join(folder, "big"), bytes);
      expect(await storage.putFileIfAbsent("objects/big", path.join(folder, "big"))).toBe(true);
      // Compare digests: a failing toEqual on 20 MB would print (and allocate) forever.
      const back = await storage.get("objects/big");
      expect(back!.length).toBe(bytes.length);
      expect(createHash("sha256").update(back!).digest("hex")).toBe(createHash("sha256").update(bytes).digest("hex"));
    } finally {
      await rm(folder, { recursive: true, force: true });
      await storage.close?.();
    }
  });

  describe("a bucket in another region", () => {
    // What AWS answers when the request's region is not the bucket's: 301 and the right region
    // in a header (HEAD) or the body (GET). radosgw has one region, so a tiny server plays AWS.
    let server: http.Server;
    let endpoint: string;
    let storage: Storage;
    beforeAll(async () => {
      server = http.createServer((request, response) => {
        response.writeHead(301, { "x-amz-bucket-region": "eu-west-1", "content-type": "application/xml" });
        if (request.method === "HEAD") return response.end();
        response.end(
          `<?xml version="1.0" encoding="UTF-8"?><Error><Code>PermanentRedirect</Code><Message>The bucket you are attempting to access must be addressed using the specified endpoint.</Message><Endpoint>s3.eu-west-1.amazonaws.com</Endpoint><Bucket>models</Bucket></Error>`,
        );
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      storage = await openStorage("s3://models/team-a", { settings: { endpoint, region: "us-east-1" } });
    });
    afterAll(async () => {
      await storage.close?.();
      await new Promise((resolve) => server.close(resolve));
    });

    test("reads and lookups say which region to set", async () => {
      for (const attempt of [() => storage.get("cairn.json"), () => storage.stat("cairn.json")]) {
        const error = await attempt().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(CairnError);
        expect((error as CairnError).code).toBe("STORAGE");
        expect((error as CairnError).message).toBe(
          `The bucket "models" is in region eu-west-1, not us-east-1. Set AWS_REGION=eu-west-1, or "region: eu-west-1" under "storage:" in cairn.yaml.`,
        );
      }
    });
  });
});

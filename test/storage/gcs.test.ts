import { describe, expect, test } from "vitest";
import { openStorage } from "../../src/storage/open.js";
import { randomName, unreachableEndpoint } from "../helpers/unreachable.js";
import { testServers } from "../servers/context.js";
import { storageConformance } from "./conformance.js";

const { gcs } = testServers();
delete process.env.STORAGE_EMULATOR_HOST;
const settings = { endpoint: gcs.endpoint, projectId: gcs.projectId };

// The firebase-tools emulator creates buckets on first use and checks no credentials, so the
// missing-bucket and refused-credentials cases cannot be shown against it; it also ignores
// ifGenerationMatch (conditionalWrites: false).
storageConformance({
  name: "gcs (firebase-tools emulator)",
  conditionalWrites: false,
  create: () => openStorage(`gs://${gcs.bucket}/conformance-${randomName()}`, { settings }),
  retries: {
    target: gcs.endpoint,
    open: (endpoint) => openStorage(`gs://${gcs.bucket}/retries-${randomName()}`, { settings: { ...settings, endpoint } }),
  },
  failures: {
    bucket: gcs.bucket,
    unreachable: async () => openStorage(`gs://${gcs.bucket}/repository`, { settings: { ...settings, endpoint: await unreachableEndpoint(), maxAttempts: 2 } }),
  },
});

describe("gcs driver specifics", () => {
  test("the endpoint may come from STORAGE_EMULATOR_HOST", async () => {
    process.env.STORAGE_EMULATOR_HOST = gcs.endpoint;
    try {
      const storage = await openStorage(`gs://${gcs.bucket}/emulator-host-${randomName()}`, { settings: { projectId: gcs.projectId } });
      await storage.put("hello", "world");
      expect((await storage.get("hello"))!.toString()).toBe("world");
    } finally {
      delete process.env.STORAGE_EMULATOR_HOST;
    }
  });
});

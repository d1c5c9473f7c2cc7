import { afterEach, describe, expect, test } from "vitest";
import { CairnError } from "../../src/errors.js";
import { openStorage } from "../../src/storage/open.js";
import { randomName, unreachableEndpoint } from "../helpers/unreachable.js";
import { testServers } from "../servers/context.js";
import { storageConformance } from "./conformance.js";

const { azure } = testServers();
// The account key from the environment, the account URL from cairn.yaml's storage.endpoint:
// the documented Azurite set-up.
process.env.AZURE_STORAGE_KEY = azure.accountKey;
delete process.env.AZURE_STORAGE_CONNECTION_STRING;
const settings = { endpoint: azure.accountUrl };
const base = `azure://${azure.account}/${azure.container}`;

storageConformance({
  name: "azure (Azurite)",
  conditionalWrites: true,
  create: () => openStorage(`${base}/conformance-${randomName()}`, { settings }),
  retries: {
    target: azure.accountUrl.replace(/\/[^/]+$/, ""),
    open: (endpoint) => openStorage(`${base}/retries-${randomName()}`, { settings: { endpoint: `${endpoint}/${azure.account}` } }),
  },
  failures: {
    bucket: azure.container,
    missingBucket: (() => {
      const name = `cairn-missing-${randomName()}`;
      return { name, open: () => openStorage(`azure://${azure.account}/${name}/repository`, { settings }) };
    })(),
    unreachable: async () =>
      openStorage(`${base}/repository`, { settings: { endpoint: `${await unreachableEndpoint()}/${azure.account}`, maxAttempts: 2 } }),
    async withBadCredentials(use) {
      const saved = process.env.AZURE_STORAGE_KEY;
      process.env.AZURE_STORAGE_KEY = Buffer.from("not the account key, but valid base64").toString("base64");
      try {
        return await use(await openStorage(`${base}/repository`, { settings }));
      } finally {
        process.env.AZURE_STORAGE_KEY = saved;
      }
    },
  },
});

describe("azure driver specifics", () => {
  afterEach(() => {
    delete process.env.AZURE_STORAGE_CONNECTION_STRING;
  });

  test("AZURE_STORAGE_CONNECTION_STRING names the endpoint and the key", async () => {
    process.env.AZURE_STORAGE_CONNECTION_STRING = azure.connectionString;
    const storage = await openStorage(`${base}/connection-string-${randomName()}`);
    await storage.put("hello", "world");
    expect((await storage.get("hello"))!.toString()).toBe("world");
  });

  test("a connection string for another account is refused before any request", async () => {
    process.env.AZURE_STORAGE_CONNECTION_STRING = azure.connectionString;
    const error = await openStorage(`azure://someotheraccount/${azure.container}/x`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CairnError);
    expect((error as CairnError).code).toBe("CONFIG");
    expect((error as CairnError).message).toContain(`"${azure.account}"`);
  });
});

/**
 * S3 uploads of content objects sign their name as the payload hash (withPayloadHash in
 * src/storage/s3.ts): the server stores the bytes that match it and refuses bytes that do not.
 */
import { createHash } from "node:crypto";
import { describe, expect, test } from "vitest";
import { objectKey } from "../../src/repository/layout.js";
import { openStorage } from "../../src/storage/open.js";
import { randomName } from "../helpers/unreachable.js";
import { testServers } from "../servers/context.js";

const { s3 } = testServers();
process.env.AWS_ACCESS_KEY_ID = s3.accessKeyId;
process.env.AWS_SECRET_ACCESS_KEY = s3.secretAccessKey;
const settings = { endpoint: s3.endpoint, forcePathStyle: true, region: s3.region };

describe("S3 content uploads signed with their own hash", () => {
  test("bytes that hash to their name are stored; bytes that do not are refused, not stored", async () => {
    const storage = await openStorage(`s3://${s3.bucket}/payload-hash-${randomName()}`, { settings });
    const bytes = Buffer.from("the weights of a small model");
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    expect(await storage.putIfAbsent(objectKey(sha256), bytes)).toBe(true);
    expect((await storage.get(objectKey(sha256)))!.equals(bytes)).toBe(true);

    const other = createHash("sha256").update("something else").digest("hex");
    await expect(storage.putIfAbsent(objectKey(other), bytes)).rejects.toMatchObject({ code: "STORAGE" });
    expect(await storage.stat(objectKey(other))).toBeNull();
    // Keys that are not content objects are signed as before.
    expect(await storage.putIfAbsent("objects/not-a-hash", bytes)).toBe(true);
  });
});

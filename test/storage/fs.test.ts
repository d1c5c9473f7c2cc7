import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { openStorage } from "../../src/storage/open.js";
import { storageConformance } from "./conformance.js";

const folders: string[] = [];
afterAll(async () => {
  await Promise.all(folders.map((f) => rm(f, { recursive: true, force: true })));
});

storageConformance({
  name: "fs (local folder)",
  conditionalWrites: true,
  async create() {
    const folder = await mkdtemp(path.join(os.tmpdir(), "cairn-fs-storage-"));
    folders.push(folder);
    return openStorage(path.join(folder, "repository"));
  },
});

// Only the local driver has getWithInfo (listings of a local folder read each summary with the
// info of the same open file, instead of a stat per summary).
describe("fs (local folder): getWithInfo", () => {
  test("reads the bytes with the info stat gives of them", async () => {
    const folder = await mkdtemp(path.join(os.tmpdir(), "cairn-fs-storage-"));
    folders.push(folder);
    const storage = await openStorage(path.join(folder, "repository"));
    expect(storage.getWithInfo).toBeTypeOf("function");
    expect(await storage.getWithInfo!("absent/key")).toBeNull();
    await storage.put("records/with-info.json", "first");
    const first = await storage.getWithInfo!("records/with-info.json");
    expect(first!.body.toString()).toBe("first");
    expect(first!.info).toEqual(await storage.stat("records/with-info.json"));
    await storage.put("records/with-info.json", "second, longer");
    const second = await storage.getWithInfo!("records/with-info.json");
    expect(second!.body.toString()).toBe("second, longer");
    expect(second!.info).toEqual(await storage.stat("records/with-info.json"));
    expect(second!.info.etag).not.toBe(first!.info.etag);
    // Past the size read in one go on the event loop.
    const large = randomBytes(300 * 1024);
    await storage.put("records/large", large);
    const read = await storage.getWithInfo!("records/large");
    expect(read!.body).toEqual(large);
    expect(read!.info).toEqual(await storage.stat("records/large"));
  });
});

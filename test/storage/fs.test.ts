import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, symlink } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { openStorage } from "../../src/storage/open.js";
import type { ManyRead, Storage } from "../../src/storage/storage.js";
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

// Only the local driver has getManyWithInfo: a listing's first read of every summary.
describe("fs (local folder): getManyWithInfo", () => {
  async function readAll(storage: Storage, keys: string[]): Promise<Map<string, ManyRead["object"]>> {
    const read = new Map<string, ManyRead["object"]>();
    for await (const batch of storage.getManyWithInfo!(keys)) for (const { key, object } of batch) read.set(key, object);
    return read;
  }

  test.each([
    ["on this thread alone", 40],
    ["on a worker thread and this one", 1_500],
  ])("reads each file with the info getWithInfo gives of it, %s", async (_how, count) => {
    const folder = await mkdtemp(path.join(os.tmpdir(), "cairn-fs-storage-"));
    folders.push(folder);
    const storage = await openStorage(path.join(folder, "repository"));
    const keys: string[] = [];
    for (let i = 0; i < count; i++) {
      const key = `summaries/${String(i).padStart(5, "0")}.json`;
      // Sizes from 0 bytes up, so that empty files sit between others in a batch.
      await storage.put(key, randomBytes(i % 97));
      keys.push(key);
    }
    await mkdir(path.join(folder, "repository", "summaries", "folder.json"));
    await symlink("loop.json", path.join(folder, "repository", "summaries", "loop.json"));
    keys.splice(7, 0, "summaries/absent.json", "summaries/folder.json");

    const read = await readAll(storage, keys);
    expect([...read.keys()].sort()).toEqual([...keys].sort());
    for (const key of keys) expect(read.get(key), key).toEqual(await storage.getWithInfo!(key));
    expect(read.get("summaries/absent.json")).toBeNull();
    expect(read.get("summaries/folder.json")).toBeNull();
    // Any other error is the one getWithInfo throws.
    await expect(readAll(storage, [...keys, "summaries/loop.json"])).rejects.toMatchObject({ code: "ELOOP" });
  });
});


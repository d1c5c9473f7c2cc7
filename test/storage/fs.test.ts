import { mkdtemp, rm } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll } from "vitest";
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

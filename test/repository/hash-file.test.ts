/**
 * hashFile, which names every captured file (on the background worker) and checks files a
 * checkout would keep: it reads in 4 MiB pieces into two buffers used in turn, so sizes at and
 * around the piece size, and the empty file, must hash as the bytes do.
 */
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, expect, test } from "vitest";
import { hashFile } from "../../src/repository/hash.js";

const MiB = 1024 * 1024;
let folder: string | null = null;
afterAll(async () => {
  if (folder) await fs.rm(folder, { recursive: true, force: true });
});

test.each([0, 1, 4 * MiB - 1, 4 * MiB, 4 * MiB + 1, 8 * MiB, 13 * MiB + 12_345])("a file of %i bytes hashes as its bytes do", async (size) => {
  folder ??= await fs.mkdtemp(path.join(os.tmpdir(), "cairn-hash-file-"));
  const file = path.join(folder, `f-${size}`);
  const bytes = randomBytes(size);
  await fs.writeFile(file, bytes);
  expect(await hashFile(file)).toEqual({ sha256: createHash("sha256").update(bytes).digest("hex"), size });
});

test("a missing file fails with ENOENT, as callers expect", async () => {
  const error = await hashFile(path.join(os.tmpdir(), `cairn-no-such-file-${randomBytes(6).toString("hex")}`)).catch((e: unknown) => e);
  expect((error as NodeJS.ErrnoException).code).toBe("ENOENT");
});

/**
 * Pieces of a local file stored as objects named by their hash (putFileRangeAsObject,
 * src/storage/file-range.ts), which is how the packs of a large checkpoint are uploaded: each
 * read into a buffer that is reused for the next (buffer-pool.ts) and hashed. On the real
 * radosgw and on a local folder, many pieces at once (eight in flight, as the publisher sends
 * them, so buffers are reused while others are sent) must each arrive as exactly their own bytes
 * under their own hash; and a training process (the built package, whose uploads run on its
 * background worker) must store a chunked checkpoint that reads back identical.
 */
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { CairnError } from "../../src/errors.js";
import { openRepository } from "../../src/index.js";
import { objectKey } from "../../src/repository/layout.js";
import { putFileRangeAsObject, type FileRange, type StoredRange } from "../../src/storage/file-range.js";
import { openStorage } from "../../src/storage/open.js";
import type { Storage } from "../../src/storage/storage.js";
import { makeProject, runScript } from "../helpers/project.js";
import { s3Environment, s3RepositoryUrl } from "../helpers/repositories.js";

const MiB = 1024 * 1024;
const folders: string[] = [];
afterAll(async () => {
  for (const folder of folders) await fs.rm(folder, { recursive: true, force: true });
});

async function tempFolder(): Promise<string> {
  const folder = await fs.mkdtemp(path.join(os.tmpdir(), "cairn-file-range-"));
  folders.push(folder);
  return folder;
}

/** Pieces covering `bytes` end to end: 40 of 0.5 to 1 MiB, then one larger than a pooled buffer (12 MiB). */
function piecesOf(bytes: Buffer): FileRange[] {
  const pieces: FileRange[] = [];
  let offset = 0;
  for (let i = 0; i < 40; i++) {
    const size = MiB / 2 + ((i * 97_331) % (MiB / 2));
    pieces.push({ offset, size });
    offset += size;
  }
  pieces.push({ offset, size: bytes.length - offset });
  return pieces;
}

/** Stores every piece, eight at a time as the publisher does: each buffer is reused while other pieces are in flight. */
async function storeAll(storage: Storage, file: string, pieces: FileRange[], probe: boolean): Promise<StoredRange[]> {
  const results: StoredRange[] = [];
  let next = 0;
  const uploader = async (): Promise<void> => {
    while (next < pieces.length) {
      const index = next++;
      results[index] = await putFileRangeAsObject(storage, file, pieces[index]!, probe);
    }
  };
  await Promise.all(Array.from({ length: 8 }, uploader));
  return results;
}

const hashOf = (bytes: Buffer, piece: FileRange): string => createHash("sha256").update(bytes.subarray(piece.offset, piece.offset + piece.size)).digest("hex");

const kinds: { name: string; open: () => Promise<Storage> }[] = [
  { name: "radosgw", open: () => openStorage(s3RepositoryUrl()) },
  { name: "local folder", open: async () => openStorage(await tempFolder()) },
];

describe.each(kinds)("putFileRangeAsObject ($name)", ({ open }) => {
  test("pieces sent eight at a time each arrive as exactly their bytes, named by their hash; a second time they are found present, asked first or not", async () => {
    s3Environment();
    const storage = await open();
    try {
      const file = path.join(await tempFolder(), "weights.bin");
      const bytes = randomBytes(30 * MiB + 13 * MiB);
      await fs.writeFile(file, bytes);
      const pieces = piecesOf(bytes);
      expect(pieces.at(-1)!.size).toBeGreaterThan(12 * MiB);
      const names = pieces.map((piece) => hashOf(bytes, piece));
      expect(await storeAll(storage, file, pieces, false)).toEqual(names.map((sha256) => ({ sha256, written: true })));
      for (const [index, piece] of pieces.entries()) {
        expect((await storage.get(objectKey(names[index]!)))!.equals(bytes.subarray(piece.offset, piece.offset + piece.size))).toBe(true);
      }
      expect(await storeAll(storage, file, pieces, false)).toEqual(names.map((sha256) => ({ sha256, written: false })));
      expect(await storeAll(storage, file, pieces, true)).toEqual(names.map((sha256) => ({ sha256, written: false })));
    } finally {
      await storage.close?.();
    }
  });

  test("a piece that runs past the end of the file is damage, and nothing is stored", async () => {
    s3Environment();
    const storage = await open();
    try {
      const file = path.join(await tempFolder(), "short.bin");
      await fs.writeFile(file, randomBytes(MiB));
      const error = await putFileRangeAsObject(storage, file, { offset: MiB / 2, size: MiB }, false).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CairnError);
      expect((error as CairnError).code).toBe("CORRUPT");
      expect((error as CairnError).message).toContain(file);
      const stored = [];
      for await (const info of storage.list("objects/")) stored.push(info.key);
      expect(stored).toEqual([]);
    } finally {
      await storage.close?.();
    }
  });
});

test("a training process stores a chunked checkpoint on S3 that reads back identical (packs read, hashed and uploaded on its background worker)", async () => {
  const env = s3Environment();
  const weights = randomBytes(30 * MiB);
  const project = await makeProject({ "code/train.py": "x = 1\n", "weights.bin": weights });
  folders.push(project);
  const url = s3RepositoryUrl();
  const result = await runScript(
    project,
    `const repository = await cairn.openRepository(${JSON.stringify(url)}, { projectDirectory: process.cwd() });
const run = await repository.init({ path: "code" });
const checkpoint = await run.checkpoint({ path: "weights.bin" });
await run.stop();
process.stdout.write(checkpoint.id);`,
    env,
  );
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  const repository = await openRepository(url);
  try {
    const checkpoint = await repository.getCheckpoint(result.stdout);
    const [file] = await checkpoint.files();
    expect(file!.chunks!.length).toBeGreaterThan(10);
    // Its chunks are in packs of several: fewer objects than chunks, each a pack object in the bucket.
    const packs = new Set(file!.chunks!.map((chunk) => chunk.pack));
    expect(packs.has(undefined)).toBe(false);
    expect(packs.size).toBeLessThan(file!.chunks!.length / 2);
    for (const pack of packs) expect(await repository.storage.stat(objectKey(pack!))).not.toBeNull();
    expect((await checkpoint.read("weights.bin")).equals(weights)).toBe(true);
  } finally {
    await repository.storage.close?.();
  }
});

/**
 * Pieces of a local file stored under their own keys (putFileRangeIfAbsent, src/storage/file-range.ts),
 * which is how the chunks of a large checkpoint are uploaded: each read into a buffer that is
 * reused for the next (buffer-pool.ts). On the real radosgw and on a local folder, many pieces at
 * once (eight in flight, as the publisher sends them, so buffers are reused while others are sent) must each arrive as exactly their own bytes; and a training
 * process (the built package, whose uploads run on its background worker) must store a chunked
 * checkpoint that reads back identical.
 */
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { CairnError } from "../../src/errors.js";
import { openRepository } from "../../src/index.js";
import { objectKey } from "../../src/repository/layout.js";
import { putFileRangeIfAbsent, type FileRange } from "../../src/storage/file-range.js";
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

/** Pieces covering `bytes` end to end: 40 of 0.5 to 1 MiB, then one larger than a pooled buffer (4 MiB). */
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
async function storeAll(storage: Storage, file: string, bytes: Buffer, pieces: FileRange[]): Promise<boolean[]> {
  const results: boolean[] = [];
  let next = 0;
  const uploader = async (): Promise<void> => {
    while (next < pieces.length) {
      const index = next++;
      results[index] = await putFileRangeIfAbsent(storage, keyOf(bytes, pieces[index]!), file, pieces[index]!);
    }
  };
  await Promise.all(Array.from({ length: 8 }, uploader));
  return results;
}

const keyOf = (bytes: Buffer, piece: FileRange): string => objectKey(createHash("sha256").update(bytes.subarray(piece.offset, piece.offset + piece.size)).digest("hex"));

const kinds: { name: string; open: () => Promise<Storage> }[] = [
  { name: "radosgw", open: () => openStorage(s3RepositoryUrl()) },
  { name: "local folder", open: async () => openStorage(await tempFolder()) },
];

describe.each(kinds)("putFileRangeIfAbsent ($name)", ({ open }) => {
  test("pieces sent eight at a time each arrive as exactly their bytes; a second time they are found present", async () => {
    s3Environment();
    const storage = await open();
    try {
      const file = path.join(await tempFolder(), "weights.bin");
      const bytes = randomBytes(30 * MiB + 5 * MiB);
      await fs.writeFile(file, bytes);
      const pieces = piecesOf(bytes);
      expect(pieces.at(-1)!.size).toBeGreaterThan(4 * MiB);
      expect(await storeAll(storage, file, bytes, pieces)).toEqual(pieces.map(() => true));
      for (const piece of pieces) {
        expect((await storage.get(keyOf(bytes, piece)))!.equals(bytes.subarray(piece.offset, piece.offset + piece.size))).toBe(true);
      }
      expect(await storeAll(storage, file, bytes, pieces)).toEqual(pieces.map(() => false));
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
      const key = objectKey("ab".repeat(32));
      const error = await putFileRangeIfAbsent(storage, key, file, { offset: MiB / 2, size: MiB }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CairnError);
      expect((error as CairnError).code).toBe("CORRUPT");
      expect((error as CairnError).message).toContain(file);
      expect(await storage.stat(key)).toBeNull();
    } finally {
      await storage.close?.();
    }
  });
});

test("a training process stores a chunked checkpoint on S3 that reads back identical (chunks read and uploaded on its background worker)", async () => {
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
    expect((await checkpoint.read("weights.bin")).equals(weights)).toBe(true);
  } finally {
    await repository.storage.close?.();
  }
});

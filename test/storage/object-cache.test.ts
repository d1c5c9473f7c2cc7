/**
 * The object cache of a remote repository (src/storage/object-cache.ts): a chunked file read from
 * S3 is kept on local disk only once the reader has verified it whole, so each byte is hashed
 * once, and a damaged chunk never becomes a cache entry. Real radosgw (and Azurite for a read
 * that arrives in pieces), real cache folder.
 */
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import * as cairn from "../../src/index.js";
import { hashBytes } from "../../src/repository/hash.js";
import { objectKey } from "../../src/repository/layout.js";
import { chunkObject, chunkObjects } from "../../src/repository/packs.js";
import { withObjectCache } from "../../src/storage/object-cache.js";
import { openStorage } from "../../src/storage/open.js";
import { makeProject } from "../helpers/project.js";
import { s3Environment, s3RepositoryUrl } from "../helpers/repositories.js";
import { pseudoRandomBytes } from "../helpers/random.js";
import { randomName } from "../helpers/unreachable.js";
import { testServers } from "../servers/context.js";
import type { Storage } from "../../src/storage/storage.js";

const MiB = 1024 * 1024;
const projects: string[] = [];
afterEach(async () => {
  for (const dir of projects.splice(0)) await fs.rm(dir, { recursive: true, force: true });
});

/** The cache's files, by name: entries (`<sha256>`) and copies not yet confirmed (`.tmp-`). */
async function cacheFiles(): Promise<{ entries: string[]; unconfirmed: string[] }> {
  const root = path.join(process.env.CAIRN_CACHE_DIR!, "objects");
  const names: string[] = [];
  for (const folder of await fs.readdir(root).catch(() => [] as string[])) names.push(...(await fs.readdir(path.join(root, folder))));
  return { entries: names.filter((n) => !n.includes(".tmp-")), unconfirmed: names.filter((n) => n.includes(".tmp-")) };
}

/** A fresh repository folder in Azurite's container, opened as azure.test.ts does (account key from the environment). */
function openAzure(): Promise<Storage> {
  s3Environment(); // CAIRN_CACHE_DIR
  const { azure } = testServers();
  process.env.AZURE_STORAGE_KEY = azure.accountKey;
  delete process.env.AZURE_STORAGE_CONNECTION_STRING;
  return openStorage(`azure://${azure.account}/${azure.container}/object-cache-${randomName()}`, { settings: { endpoint: azure.accountUrl } });
}

/** Waits until `check` passes (the cache moves confirmed copies into place in the background). */
async function eventually(check: () => Promise<void>): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      return await check();
    } catch (error) {
      if (i >= 50) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/**
 * `bytes` as weights.bin of a checkpoint in a fresh S3 repository, and that checkpoint as a new
 * reader sees it, with the object cache emptied (the writer's reads of trees filled it).
 */
async function recordOnS3(bytes: Buffer): Promise<{ url: string; checkpoint: cairn.Checkpoint }> {
  s3Environment();
  const dir = await makeProject({ "code/train.py": "x = 1\n", "weights.bin": bytes });
  projects.push(dir);
  const url = s3RepositoryUrl();
  const repository = await cairn.openRepository(url, { projectDirectory: dir });
  const run = await repository.init({ path: "code" });
  await run.checkpoint({ path: "weights.bin" });
  await run.stop();
  await fs.rm(path.join(process.env.CAIRN_CACHE_DIR!, "objects"), { recursive: true, force: true });
  return { url, checkpoint: (await (await cairn.openRepository(url)).getExperiment(run.id)).latest()! };
}

describe("the object cache of an S3 repository", () => {
  it("keeps a chunked file's packs once the file is verified whole, then reads them from disk", async () => {
    const bytes = pseudoRandomBytes(11 * MiB, "kept once verified");
    const { url, checkpoint } = await recordOnS3(bytes);
    const [entry] = await checkpoint.files();
    expect(entry!.chunks!.length).toBeGreaterThan(3);
    const objects = chunkObjects(entry!.chunks!);

    expect((await checkpoint.read("weights.bin")).equals(bytes)).toBe(true);
    await eventually(async () => {
      const { entries, unconfirmed } = await cacheFiles();
      expect(entries).toEqual(expect.arrayContaining(objects));
      expect(unconfirmed).toEqual([]);
    });

    // The bucket's copy of a pack damaged: the cached, verified copy is what is read now.
    const storage = await openStorage(url);
    const good = (await storage.get(objectKey(objects.at(-1)!)))!;
    await storage.put(objectKey(objects.at(-1)!), Buffer.alloc(good.length, 1));
    expect((await checkpoint.read("weights.bin")).equals(bytes)).toBe(true);
    await storage.close?.();
  });

  it("keeps nothing of a file that does not verify (its packs are confirmed together), and reads them again next time", async () => {
    const bytes = pseudoRandomBytes(10 * MiB, "damaged in the bucket");
    const { url, checkpoint } = await recordOnS3(bytes);
    const [entry] = await checkpoint.files();
    const victim = entry!.chunks![2]!;
    const victimKey = objectKey(chunkObject(victim));
    const storage = await openStorage(url);
    const good = await storage.get(victimKey);
    // Same size, other bytes: only a hash tells.
    await storage.put(victimKey, Buffer.from(good!.map((b) => b ^ 0xff)));

    for (let attempt = 0; attempt < 2; attempt++) {
      const error = await checkpoint.read("weights.bin").then(() => null, (e: unknown) => e);
      expect(error).toBeInstanceOf(cairn.CairnError);
      expect((error as cairn.CairnError).code).toBe("CORRUPT");
      expect((error as cairn.CairnError).message).toContain(victimKey);
      const { entries } = await cacheFiles();
      expect(entries.filter((name) => chunkObjects(entry!.chunks!).includes(name))).toEqual([]);
    }

    await storage.put(victimKey, good!);
    expect((await checkpoint.read("weights.bin")).equals(bytes)).toBe(true);
    await storage.close?.();
  });

  // S3 delivers a body of known length in one buffer (src/storage/http-get.ts); Azure as the
  // pieces its connection delivered, which the cache writes in order without joining them.
  it.each([
    ["S3: one buffer", "s3", (count: number) => expect(count).toBe(1)],
    ["Azure: the socket's pieces", "azure", (count: number) => expect(count).toBeGreaterThan(1)],
  ])("keeps an object read whole (%s) once confirmed, and reads it from disk after", async (_name, kind, checkPieces) => {
    const bytes = pseudoRandomBytes(3 * MiB + 12_345, "read as pieces");
    const sha256 = hashBytes(bytes);
    const inner = kind === "s3" ? await openStorage(s3RepositoryUrl()) : await openAzure();
    await inner.putIfAbsent(objectKey(sha256), bytes);
    const cached = withObjectCache(inner, path.join(process.env.CAIRN_CACHE_DIR!, "objects"));

    const pieces = (await cached.getPieces!(objectKey(sha256)))!;
    checkPieces(pieces.length);
    expect(Buffer.concat(pieces).equals(bytes)).toBe(true);
    await cached.confirmObjects!([sha256]);
    const kept = path.join(process.env.CAIRN_CACHE_DIR!, "objects", sha256.slice(0, 2), sha256);
    expect((await fs.readFile(kept)).equals(bytes)).toBe(true);

    // The bucket's copy replaced: the kept copy is what is read now.
    await inner.put(objectKey(sha256), Buffer.alloc(bytes.length, 1));
    expect(Buffer.concat((await cached.getPieces!(objectKey(sha256)))!).equals(bytes)).toBe(true);
    await fs.rm(kept);
    await inner.close?.();
  });

  it("makes a read wait while more than maxCopyingBytes are held for copies not yet written (memory stays bounded on a slow disk)", async () => {
    s3Environment();
    const inner = await openStorage(s3RepositoryUrl());
    const objects = [0, 1, 2].map((i) => pseudoRandomBytes(2 * MiB + i, `copy bound ${i}`));
    for (const bytes of objects) await inner.putIfAbsent(objectKey(hashBytes(bytes)), bytes);
    // Bound below one object: each read returns only once its own copy is written whole.
    const root = path.join(process.env.CAIRN_CACHE_DIR!, "bounded-copies");
    const cached = withObjectCache(inner, root, { maxCopyingBytes: MiB });
    const copySizes = async (): Promise<number[]> => {
      const sizes: number[] = [];
      for (const folder of await fs.readdir(root)) {
        for (const name of await fs.readdir(path.join(root, folder))) if (name.includes(".tmp-")) sizes.push((await fs.stat(path.join(root, folder, name))).size);
      }
      return sizes.sort((a, b) => a - b);
    };
    const read: number[] = [];
    for (const [index, bytes] of objects.entries()) {
      const got = index % 2 === 0 ? await cached.get(objectKey(hashBytes(bytes))) : Buffer.concat((await cached.getPieces!(objectKey(hashBytes(bytes))))!);
      expect(got!.equals(bytes)).toBe(true);
      read.push(bytes.length);
      expect(await copySizes()).toEqual([...read].sort((a, b) => a - b));
    }
    await inner.close?.();
  });
});

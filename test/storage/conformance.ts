/**
 * The storage conformance suite: every driver (local folder, S3, Azure Blob, GCS) runs these
 * same tests against a real server speaking its protocol. A new driver is a new file plus one
 * test file that calls `storageConformance` with a factory.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile, readFile } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import type { Readable } from "node:stream";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { CairnError } from "../../src/errors.js";
import { storagePieces, type ObjectInfo, type Storage } from "../../src/storage/storage.js";
import { startFaultProxy } from "../reliability/fault-proxy.js";

export interface ConformanceTarget {
  name: string;
  /** A fresh, empty storage (its own prefix or folder) for one test. */
  create(): Promise<Storage>;
  /**
   * False where the server ignores conditional writes (the firebase-tools GCS emulator ignores
   * `ifGenerationMatch`): there a second putIfAbsent of a small object replaces it.
   */
  conditionalWrites: boolean;
  /** Remote drivers: storages that must fail with one clear line naming the bucket. */
  failures?: {
    /** The test bucket (or container): the unreachable and credential messages must name it. */
    bucket: string;
    /** A storage in a bucket that does not exist, and that bucket's name. */
    missingBucket?: { name: string; open(): Promise<Storage> };
    unreachable(): Promise<Storage>;
    /** Runs `use` with a storage whose credentials the server refuses. */
    withBadCredentials?<T>(use: (storage: Storage) => Promise<T>): Promise<T>;
  };
  /** Remote drivers: the server's endpoint, and a fresh storage that talks to `endpoint` instead. */
  retries?: { target: string; open(endpoint: string): Promise<Storage> };
}

const MiB = 1024 * 1024;
/** More than one page of every service's listing (1,000 keys a page). */
const PAGINATION_KEYS = 1_100;
/** Keys with characters that URLs, XML and file systems each treat specially. */
const ODD_KEYS = [
  "odd/with space/and  two",
  "odd/ünïcødé/€uro/日本語",
  "odd/plus+percent%20amp&eq=semi;comma,",
  "odd/quote'dq\"paren()brackets[]braces{}",
  "odd/hash#question?star*tilde~bang!at@dollar$caret^back`tick",
  "odd/trailing.dot./-dash_underscore",
];

async function collect(iterable: AsyncIterable<ObjectInfo>): Promise<ObjectInfo[]> {
  const items: ObjectInfo[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

async function readStream(stream: Readable | null): Promise<Buffer | null> {
  if (stream === null) return null;
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}

function sha256(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Runs `worker` over `items`, `limit` at a time. */
async function inParallel<T>(items: T[], limit: number, worker: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await worker(items[next++]!);
    }),
  );
}

/** Asserts a STORAGE CairnError whose message is one line naming `bucket`; returns the message. */
async function expectStorageError(promise: Promise<unknown>, bucket: string): Promise<string> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error, "the call should have failed").toBeInstanceOf(CairnError);
  const cairnError = error as CairnError;
  expect(cairnError.code).toBe("STORAGE");
  expect(cairnError.message).not.toContain("\n");
  expect(cairnError.message).toContain(`"${bucket}"`);
  return cairnError.message;
}

/**
 * Declares the conformance tests for one driver.
 *
 * @example
 * storageConformance({ name: "fs", conditionalWrites: true, create: async () => createFileStorage(await mkdtemp(...)) });
 */
export function storageConformance(target: ConformanceTarget): void {
  describe(`storage conformance: ${target.name}`, () => {
    let storage: Storage;
    let scratch: string;
    const opened: Storage[] = [];

    beforeAll(async () => {
      scratch = await mkdtemp(path.join(os.tmpdir(), "cairn-conformance-"));
    });
    afterAll(async () => {
      await rm(scratch, { recursive: true, force: true });
    });
    const fresh = async (): Promise<Storage> => {
      const s = await target.create();
      opened.push(s);
      return s;
    };
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((s) => s.close?.()));
    });

    describe("reading and writing", () => {
      beforeAll(async () => {
        storage = await target.create();
      });
      afterAll(async () => {
        await storage.close?.();
      });

      test("absent keys read as null, never as an error", async () => {
        expect(await storage.get("absent/key")).toBeNull();
        expect(await storage.stat("absent/key")).toBeNull();
        expect(await storage.getStream("absent/key")).toBeNull();
        expect(await storage.getStream("absent/key", { start: 0, end: 3 })).toBeNull();
      });

      test("put writes, get reads back the same bytes, put replaces", async () => {
        const bytes = randomBytes(1000);
        await storage.put("records/one.json", bytes);
        expect(await storage.get("records/one.json")).toEqual(bytes);
        const first = await storage.stat("records/one.json");
        expect(first).toMatchObject({ key: "records/one.json", size: 1000 });
        expect(first!.etag).not.toBe("");
        expect(first!.modified).toBeInstanceOf(Date);
        expect(Math.abs(first!.modified.getTime() - Date.now())).toBeLessThan(24 * 3600_000);

        await storage.put("records/one.json", "a string body");
        expect((await storage.get("records/one.json"))!.toString()).toBe("a string body");
        const second = await storage.stat("records/one.json");
        expect(second!.size).toBe("a string body".length);
        expect(second!.etag).not.toBe(first!.etag);
      });

      test("empty objects round-trip", async () => {
        await storage.put("records/empty", Buffer.alloc(0));
        expect(await storage.get("records/empty")).toEqual(Buffer.alloc(0));
        expect((await storage.stat("records/empty"))!.size).toBe(0);
        expect(await readStream(await storage.getStream("records/empty"))).toEqual(Buffer.alloc(0));
      });

      test("an object read as pieces (getPieces where the driver has it, else get) is its bytes in order", async () => {
        const bytes = randomBytes(3 * 1024 * 1024 + 17);
        await storage.put("objects/ee/pieces", bytes);
        expect(Buffer.concat((await storagePieces(storage, "objects/ee/pieces"))!).equals(bytes)).toBe(true);
        await storage.put("objects/ee/empty", Buffer.alloc(0));
        expect(Buffer.concat((await storagePieces(storage, "objects/ee/empty"))!).length).toBe(0);
        expect(await storagePieces(storage, "absent/key")).toBeNull();
      });

      test("putIfAbsent writes once; a second one returns false and does not replace", async () => {
        expect(await storage.putIfAbsent("objects/aa/first", "original")).toBe(true);
        expect((await storage.get("objects/aa/first"))!.toString()).toBe("original");
        const second = await storage.putIfAbsent("objects/aa/first", "replacement");
        if (target.conditionalWrites) {
          expect(second).toBe(false);
          expect((await storage.get("objects/aa/first"))!.toString()).toBe("original");
        } else {
          // The GCS emulator ignores ifGenerationMatch: it accepts and replaces. Real GCS
          // answers 412 and the driver returns false (see docs/STORAGE.md).
          expect(second).toBe(true);
          expect((await storage.get("objects/aa/first"))!.toString()).toBe("replacement");
        }
      });

      // Only where the server honours conditional writes (not the GCS emulator).
      if (target.conditionalWrites) {
        test("racing putIfAbsent calls: exactly one wins, and its bytes stay", async () => {
          const bodies = Array.from({ length: 6 }, (_, i) => `writer ${i}`);
          const results = await Promise.all(bodies.map((body) => storage.putIfAbsent("objects/bb/race", body)));
          expect(results.filter(Boolean)).toHaveLength(1);
          const winner = bodies[results.indexOf(true)]!;
          expect((await storage.get("objects/bb/race"))!.toString()).toBe(winner);
        });
      }

      test("putFileIfAbsent stores a small file once and leaves the local file in place", async () => {
        const local = path.join(scratch, "small.bin");
        const bytes = randomBytes(3000);
        await writeFile(local, bytes);
        expect(await storage.putFileIfAbsent("objects/cc/small", local)).toBe(true);
        expect(await storage.get("objects/cc/small")).toEqual(bytes);
        expect(await readFile(local)).toEqual(bytes);
        const other = path.join(scratch, "small-other.bin");
        await writeFile(other, randomBytes(3000));
        const second = await storage.putFileIfAbsent("objects/cc/small", other);
        if (target.conditionalWrites) {
          expect(second).toBe(false);
          expect(await storage.get("objects/cc/small")).toEqual(bytes);
        }
      });

      test("putFileIfAbsent stores a 20 MB file (the multipart/block path), once", async () => {
        const local = path.join(scratch, "large.bin");
        const bytes = randomBytes(20 * MiB + 12345);
        await writeFile(local, bytes);
        expect(await storage.putFileIfAbsent("objects/dd/large", local)).toBe(true);
        expect((await storage.stat("objects/dd/large"))!.size).toBe(bytes.length);
        const back = await readStream(await storage.getStream("objects/dd/large"));
        expect(back!.length).toBe(bytes.length);
        expect(sha256(back!)).toBe(sha256(bytes));
        // Across the first part boundary (8 MiB parts by default).
        const start = 8 * MiB - 100;
        const slice = await readStream(await storage.getStream("objects/dd/large", { start, end: start + 199 }));
        expect(slice!.equals(bytes.subarray(start, start + 200))).toBe(true);
        // Present already: nothing is uploaded and nothing replaced, on every server.
        const other = path.join(scratch, "large-other.bin");
        await writeFile(other, randomBytes(20 * MiB + 12345));
        expect(await storage.putFileIfAbsent("objects/dd/large", other)).toBe(false);
        expect(sha256((await storage.get("objects/dd/large"))!)).toBe(sha256(bytes));
      });

      test("ranged reads: inclusive ends, open ends, single bytes, past the end", async () => {
        const bytes = Buffer.from("0123456789abcdefghij");
        await storage.put("ranges/object", bytes);
        const read = async (start: number, end?: number) => (await readStream(await storage.getStream("ranges/object", { start, end })))!.toString();
        expect(await read(0, 3)).toBe("0123");
        expect(await read(5)).toBe("56789abcdefghij");
        expect(await read(10, 10)).toBe("a");
        expect(await read(19, 19)).toBe("j");
        expect(await read(15, 100)).toBe("fghij");
        expect(await read(20)).toBe("");
        expect((await readStream(await storage.getStream("ranges/object")))!).toEqual(bytes);
      });

      test("delete removes; deleting an absent key is fine", async () => {
        await storage.put("trash/one", "x");
        await storage.delete("trash/one");
        expect(await storage.get("trash/one")).toBeNull();
        expect(await storage.stat("trash/one")).toBeNull();
        await storage.delete("trash/one");
        await storage.delete("trash/never-was");
      });

      test("keys with odd characters round-trip through put, get, stat, list and delete", async () => {
        for (const key of ODD_KEYS) await storage.put(key, `body of ${key}`);
        for (const key of ODD_KEYS) {
          expect((await storage.get(key))!.toString()).toBe(`body of ${key}`);
          expect((await storage.stat(key))!.key).toBe(key);
        }
        const listed = (await collect(storage.list("odd/"))).map((i) => i.key).sort();
        expect(listed).toEqual([...ODD_KEYS].sort());
        for (const key of ODD_KEYS) await storage.delete(key);
        expect(await collect(storage.list("odd/"))).toEqual([]);
      });

      test("the local state folder is an absolute path", () => {
        expect(path.isAbsolute(storage.localStateDirectory())).toBe(true);
      });
    });

    describe("listing", () => {
      test("lists by raw prefix, recursively, with size, etag and server time", async () => {
        const s = await fresh();
        const keys = ["a/1", "a/2", "a/b/3", "ab/4", "b/5", "top"];
        for (const key of keys) await s.put(key, `contents of ${key}`);
        const keysOf = async (prefix: string) => (await collect(s.list(prefix))).map((i) => i.key).sort();
        expect(await keysOf("")).toEqual([...keys].sort());
        expect(await keysOf("a/")).toEqual(["a/1", "a/2", "a/b/3"]);
        expect(await keysOf("a/b/")).toEqual(["a/b/3"]);
        expect(await keysOf("a")).toEqual(["a/1", "a/2", "a/b/3", "ab/4"]);
        expect(await keysOf("nothing/")).toEqual([]);
        const [info] = await collect(s.list("a/b/"));
        expect(info).toMatchObject({ key: "a/b/3", size: "contents of a/b/3".length });
        expect(info!.modified).toBeInstanceOf(Date);
        expect(info!.etag).toBe((await s.stat("a/b/3"))!.etag);
      });

      test(`pages through more than one page (${PAGINATION_KEYS} keys)`, async () => {
        const s = await fresh();
        const keys = Array.from({ length: PAGINATION_KEYS }, (_, i) => `many/${String(i).padStart(5, "0")}`);
        await inParallel(keys, 32, (key) => s.put(key, key));
        await s.put("other/outside", "x");
        const listed = (await collect(s.list("many/"))).map((i) => i.key).sort();
        expect(listed).toHaveLength(PAGINATION_KEYS);
        expect(listed).toEqual(keys);
      });

      test("two storages with different prefixes do not see each other's keys", async () => {
        const [one, two] = [await fresh(), await fresh()];
        await one.put("shared/name", "one");
        expect(await two.get("shared/name")).toBeNull();
        expect(await collect(two.list(""))).toEqual([]);
        expect((await collect(one.list(""))).map((i) => i.key)).toEqual(["shared/name"]);
      });
    });

    const retries = target.retries;
    if (retries) {
      test("retries 503s, 500s and dropped connections, then succeeds", async () => {
        // Each request is answered 503 (or 500), its retry loses its connection, and the next
        // attempt gets through: every call below needs three attempts.
        const proxy = await startFaultProxy(retries.target, ({ index }) =>
          index % 3 === 0 ? { kind: "status", status: index % 2 === 0 ? 503 : 500 } : index % 3 === 1 ? { kind: "reset" } : { kind: "pass" },
        );
        try {
          const s = await retries.open(proxy.endpoint);
          opened.push(s);
          await s.put("retried/one", "survives");
          expect((await s.get("retried/one"))!.toString()).toBe("survives");
          expect((await s.stat("retried/one"))!.size).toBe("survives".length);
          expect((await collect(s.list("retried/"))).map((i) => i.key)).toEqual(["retried/one"]);
          expect(proxy.log.filter((e) => e.action === "status").length).toBeGreaterThanOrEqual(4);
          expect(proxy.log.filter((e) => e.action === "reset").length).toBeGreaterThanOrEqual(4);
        } finally {
          await proxy.close();
        }
      });
    }

    const failures = target.failures;
    if (failures) {
      describe("failures: one line that names the bucket", () => {
        if (failures.missingBucket) {
          const missingBucket = failures.missingBucket;
          test("a missing bucket", async () => {
            const s = await missingBucket.open();
            opened.push(s);
            for (const attempt of [() => s.get("cairn.json"), () => s.stat("cairn.json"), () => collect(s.list("experiments/")), () => s.put("x", "y")]) {
              expect(await expectStorageError(attempt(), missingBucket.name)).toMatch(/does not exist/);
            }
          });
        }

        test("an unreachable endpoint", async () => {
          const s = await failures.unreachable();
          opened.push(s);
          const message = await expectStorageError(s.get("cairn.json"), failures.bucket);
          expect(message).toMatch(/Cannot reach/);
          await expectStorageError(collect(s.list("")), failures.bucket);
        });

        if (failures.withBadCredentials) {
          const withBadCredentials = failures.withBadCredentials;
          test("credentials the server refuses", async () => {
            await withBadCredentials(async (s) => {
              opened.push(s);
              expect(await expectStorageError(s.get("cairn.json"), failures.bucket)).toMatch(/credentials/);
              expect(await expectStorageError(s.stat("cairn.json"), failures.bucket)).toMatch(/credentials/);
              expect(await expectStorageError(s.put("x", "y"), failures.bucket)).toMatch(/credentials/);
            });
          });
        }
      });
    }
  });
}

/**
 * gc against writers that start while it runs. gc reads the records, lists the bucket and
 * deletes; a writer that starts in between uploads its first files before its first record
 * names them. These tests put the writer's steps at the worst point of gc's run, through a
 * storage that does them when gc lists `objects/` (the race the concurrency test hit by chance
 * in CI: a new experiment's first weights deleted by a gc with no grace period).
 */
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, expect, test } from "vitest";
import { collectGarbage } from "../../src/repository/gc.js";
import { heartbeatKey, objectKey, OBJECTS_PREFIX } from "../../src/repository/layout.js";
import { openStorage } from "../../src/storage/open.js";
import type { Storage } from "../../src/storage/storage.js";

const folders: string[] = [];
afterEach(async () => {
  for (const folder of folders.splice(0)) await fs.rm(folder, { recursive: true, force: true });
});

async function localStorage(): Promise<{ storage: Storage; root: string }> {
  const folder = await fs.mkdtemp(path.join(os.tmpdir(), "cairn-gc-races-"));
  folders.push(folder);
  const root = path.join(folder, "repository");
  return { storage: await openStorage(root), root };
}

/** `storage`, but `before` runs once, just before the first listing of `objects/` begins. */
function beforeObjectListing(storage: Storage, before: () => Promise<void>): Storage {
  let done = false;
  return new Proxy(storage, {
    get(target, property, receiver) {
      if (property !== "list") return Reflect.get(target, property, receiver);
      return (prefix: string) => {
        if (prefix !== OBJECTS_PREFIX || done) return target.list(prefix);
        done = true;
        return (async function* () {
          await before();
          yield* target.list(prefix);
        })();
      };
    },
  });
}

function newObject(): { key: string; body: Buffer } {
  const body = randomBytes(1000);
  return { key: objectKey(createHash("sha256").update(body).digest("hex")), body };
}

test("an upload by a writer that started during gc (its heartbeat, no record yet) survives gc with no grace period", async () => {
  const { storage, root } = await localStorage();
  const writer = randomBytes(16).toString("hex");
  const weights = newObject();
  const racing = beforeObjectListing(storage, async () => {
    // The writer's order: heartbeat durable, then its first files; its record comes later.
    await storage.put(heartbeatKey(writer), JSON.stringify({ time: new Date().toISOString(), pid: 1 }));
    await storage.put(weights.key, weights.body);
    // Stores give times in whole seconds (S3's Last-Modified): an upload made in the second gc
    // started looks older than gc's start.
    const second = new Date(Math.floor(Date.now() / 1000) * 1000 - 1000);
    await fs.utimes(path.join(root, weights.key), second, second);
  });
  const report = await collectGarbage(racing, { gracePeriodMs: 0 });
  expect(report.removed).toEqual([]);
  expect(report.keptForLiveWriters).toBe(1);
  expect(await storage.get(weights.key)).toEqual(weights.body);
  expect(await storage.stat(heartbeatKey(writer))).not.toBeNull();
});

test("a young heartbeat with no record is never deleted (it is what protects its writer's uploads); an old one and its leftovers are", async () => {
  const { storage, root } = await localStorage();
  const starting = randomBytes(16).toString("hex");
  const dead = randomBytes(16).toString("hex");
  const leftover = newObject();
  await storage.put(heartbeatKey(dead), "{}");
  await storage.put(leftover.key, leftover.body);
  const old = new Date(Date.now() - 11 * 60_000);
  for (const key of [heartbeatKey(dead), leftover.key]) await fs.utimes(path.join(root, key), old, old);
  await storage.put(heartbeatKey(starting), "{}");

  // With a writer starting, the old leftover may be a file it found already there: kept.
  const whileStarting = await collectGarbage(storage, { gracePeriodMs: 0 });
  expect(whileStarting.removed).toEqual([heartbeatKey(dead)]);
  expect(await storage.stat(heartbeatKey(starting))).not.toBeNull();

  // Once nothing is starting, gc with no grace period takes what is left over.
  await fs.utimes(path.join(root, heartbeatKey(starting)), old, old);
  const after = await collectGarbage(storage, { gracePeriodMs: 0 });
  expect(after.removed.sort()).toEqual([heartbeatKey(starting), leftover.key].sort());
});

/**
 * The S3 driver's lean requests (src/storage/s3-lean.ts): whole-object reads and listings sent
 * without the AWS SDK's middleware, against radosgw through the fault proxy, which also shows
 * they are the lean ones (the SDK adds `x-id=GetObject` to its reads; the lean path does not).
 */
import { describe, expect, test } from "vitest";
import { hashBytes } from "../../src/repository/hash.js";
import { objectKey } from "../../src/repository/layout.js";
import { openStorage } from "../../src/storage/open.js";
import type { ObjectInfo, Storage } from "../../src/storage/storage.js";
import { failureOf, s3ThroughProxy } from "./s3-through-proxy.js";
import { randomName } from "../helpers/unreachable.js";
import { testServers } from "../servers/context.js";

const { s3 } = testServers();
const lean = s3ThroughProxy("lean");
const fresh = (settings?: Record<string, unknown>, endpoint?: string): Promise<Storage> => lean.fresh(settings, endpoint);

async function keysOf(storage: Storage, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of storage.list(prefix)) keys.push(info.key);
  return keys.sort();
}


/** The proxy's log from `from` on, as "METHOD path?query" with the bucket's prefix removed. */
function requestsSince(from: number): { method: string; url: string; status: number | null; action: string }[] {
  return lean.proxy.log.slice(from).map((entry) => ({ method: entry.method, url: entry.url, status: entry.status, action: entry.action }));
}

describe("whole-object reads and listings go the lean way", () => {
  test("keys with spaces, unicode, '+', '~' and reserved characters read and list back", async () => {
    const storage = await fresh();
    const keys = ["k/with space/and  two", "k/ünïcødé/日本語/€", "k/a+b=c&d;e,f", "k/tilde~star*bang!quote'paren()", "k/percent%20not-a-space", "k/xml<&>\"chars"];
    for (const key of keys) await storage.put(key, `body of ${key}`);
    const from = lean.proxy.log.length;
    for (const key of keys) expect((await storage.get(key))!.toString()).toBe(`body of ${key}`);
    expect(await keysOf(storage, "k/")).toEqual([...keys].sort());
    const sent = requestsSince(from);
    expect(sent.filter((r) => r.method === "GET")).toHaveLength(keys.length + 1);
    // The SDK names its operation in the query; the lean requests do not.
    expect(sent.filter((r) => r.url.includes("x-id="))).toEqual([]);
  });

  test("a listing of more than 1,000 keys follows continuation tokens, with sizes, times and etags", async () => {
    const storage = await fresh();
    const keys = Array.from({ length: 1_234 }, (_, i) => `many/${String(i).padStart(5, "0")}`);
    let next = 0;
    await Promise.all(Array.from({ length: 32 }, async () => {
      while (next < keys.length) {
        const key = keys[next++]!;
        await storage.put(key, key.repeat(2));
      }
    }));
    const from = lean.proxy.log.length;
    const infos: ObjectInfo[] = [];
    for await (const info of storage.list("many/")) infos.push(info);
    expect(infos.map((i) => i.key).sort()).toEqual(keys);
    expect(requestsSince(from).filter((r) => r.url.includes("continuation-token="))).toHaveLength(1);
    const stat = (await storage.stat("many/01233"))!;
    const listed = infos.find((i) => i.key === "many/01233")!;
    expect(listed).toMatchObject({ key: "many/01233", size: "many/01233".length * 2, etag: stat.etag });
    // A listing gives milliseconds, a HEAD's Last-Modified whole seconds.
    expect(Math.floor(listed.modified.getTime() / 1000) * 1000).toBe(stat.modified.getTime());
  });

  test("whole objects come in one buffer over Cairn's own connections, summaries as well as packs", async () => {
    const storage = await fresh();
    const bytes = Buffer.alloc(300 * 1024, 7);
    const object = objectKey(hashBytes(bytes));
    await storage.put(object, bytes);
    await storage.put("summaries/e510303c2a9f4d0b8e7f1a2b3c4d5e6f.json", bytes);
    const objectPieces = (await storage.getPieces!(object))!;
    const summaryPieces = (await storage.getPieces!("summaries/e510303c2a9f4d0b8e7f1a2b3c4d5e6f.json"))!;
    expect(Buffer.concat(objectPieces).equals(bytes) && Buffer.concat(summaryPieces).equals(bytes)).toBe(true);
    // http-get.ts: a body of known length in one buffer (node:http gives the socket's pieces).
    expect(objectPieces).toHaveLength(1);
    expect(summaryPieces).toHaveLength(1);
  });

  test("a missing object reads as null, and a missing prefix lists nothing", async () => {
    const storage = await fresh();
    expect(await storage.get("summaries/absent.json")).toBeNull();
    expect(await keysOf(storage, "nothing/")).toEqual([]);
  });
});

describe("failures say what is wrong, in one line", () => {
  test("refused credentials", async () => {
    const saved = process.env.AWS_SECRET_ACCESS_KEY;
    process.env.AWS_SECRET_ACCESS_KEY = "not-the-secret";
    try {
      const storage = await fresh();
      for (const attempt of [() => storage.get("cairn.json"), () => keysOf(storage, "experiments/")]) {
        const error = await failureOf(attempt());
        expect(error.code).toBe("STORAGE");
        expect(error.message).toMatch(/^The storage service refused the credentials for the bucket "[^"]+" \((SignatureDoesNotMatch|InvalidAccessKeyId) 403\)\. Check /);
      }
    } finally {
      process.env.AWS_SECRET_ACCESS_KEY = saved;
    }
  });

  test("a missing bucket", async () => {
    const name = `cairn-missing-${randomName()}`;
    const storage = await openStorage(`s3://${name}/repository`, { settings: { endpoint: lean.proxy.endpoint, forcePathStyle: true, region: s3.region } });
    lean.closeAfterTest(storage);
    for (const attempt of [() => storage.get("cairn.json"), () => keysOf(storage, "experiments/")]) {
      expect((await failureOf(attempt())).message).toBe(
        `The bucket "${name}" does not exist at ${lean.proxy.endpoint} (repository s3://${name}/repository). Create it, or correct the repository URL or endpoint.`,
      );
    }
  });
});

describe("retries", () => {
  test("a 503 SlowDown, then a dropped connection, then the answer: reads and listings succeed", async () => {
    const storage = await fresh();
    await storage.put("retried/one", "survives");
    const from = lean.proxy.log.length;
    // Each request's first attempt gets 503, its second loses its connection, the third passes.
    const attempts = new Map<string, number>();
    lean.proxy.setPlan(({ url }) => {
      const n = (attempts.get(url) ?? 0) + 1;
      attempts.set(url, n);
      return n === 1 ? { kind: "status", status: 503 } : n === 2 ? { kind: "reset" } : { kind: "pass" };
    });
    expect((await storage.get("retried/one"))!.toString()).toBe("survives");
    expect(await keysOf(storage, "retried/")).toEqual(["retried/one"]);
    expect(requestsSince(from).map((r) => r.action)).toEqual(["status", "reset", "pass", "status", "reset", "pass"]);
  });

  test("an answer cut off halfway is read again", async () => {
    const storage = await fresh();
    const body = Buffer.alloc(200_000, "x");
    await storage.put("cut/one", body);
    let cut = false;
    lean.proxy.setPlan(() => (cut ? { kind: "pass" } : ((cut = true), { kind: "reset-response" })));
    expect((await storage.get("cut/one"))!.equals(body)).toBe(true);
    // Read as pieces (what a checkout does): none of the cut-off answer's pieces are kept.
    cut = false;
    expect(Buffer.concat((await storage.getPieces!("cut/one"))!).equals(body)).toBe(true);
  });

  test("a server that keeps answering 503 is given up on after maxAttempts, with a clear message", async () => {
    const storage = await fresh({ maxAttempts: 3 });
    const from = lean.proxy.log.length;
    lean.proxy.setPlan(() => ({ kind: "status", status: 503 }));
    const error = await failureOf(storage.get("cairn.json"));
    expect(error.message).toMatch(/^The storage service kept failing for the bucket "[^"]+" \(SlowDown 503\) after several attempts to read "cairn\.json"\. Try again later\.$/);
    expect(requestsSince(from)).toHaveLength(3);
  });
});

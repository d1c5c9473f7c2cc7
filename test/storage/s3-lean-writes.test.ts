/**
 * The S3 driver's lean HEADs and single PUTs (src/storage/s3-lean.ts), which an upload sends once
 * per chunk: against radosgw through the fault proxy, which also shows they are the lean ones
 * (the SDK adds `x-id=PutObject` to its PUTs; the lean path does not).
 */
import { createHash } from "node:crypto";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, test } from "vitest";
import { objectKey } from "../../src/repository/layout.js";
import { openStorage } from "../../src/storage/open.js";
import type { Storage } from "../../src/storage/storage.js";
import { failureOf, s3ThroughProxy } from "./s3-through-proxy.js";
import { randomName } from "../helpers/unreachable.js";
import { testServers } from "../servers/context.js";

const { s3 } = testServers();
const lean = s3ThroughProxy("lean-put");
const fresh = (settings?: Record<string, unknown>, endpoint?: string): Promise<Storage> => lean.fresh(settings, endpoint);

function requestsSince(from: number): { method: string; url: string; action: string }[] {
  return lean.proxy.log.slice(from).map((entry) => ({ method: entry.method, url: entry.url, action: entry.action }));
}

/** A content object: its key is the SHA-256 of its bytes, which is what its PUT is signed with. */
function contentObject(text: string): { key: string; bytes: Buffer } {
  const bytes = Buffer.from(text);
  return { key: objectKey(createHash("sha256").update(bytes).digest("hex")), bytes };
}

describe("HEADs and single PUTs go the lean way", () => {
  test("stat of a present and an absent key", async () => {
    const storage = await fresh();
    await storage.put("records/one.json", "{\"a\":1}");
    const info = (await storage.stat("records/one.json"))!;
    expect(info).toMatchObject({ key: "records/one.json", size: 7 });
    expect(info.etag).toMatch(/^[0-9a-f]{32}$/);
    expect(Math.abs(info.modified.getTime() - Date.now())).toBeLessThan(3_600_000);
    expect(await storage.stat("records/absent.json")).toBeNull();
  });

  test("put of strings, Buffers and empty bodies reads back, under keys that need encoding", async () => {
    const storage = await fresh();
    const from = lean.proxy.log.length;
    const bodies: [string, string | Buffer][] = [
      ["k/with space/ünï€/a+b~c!'()*", "text with ünïcødé"],
      ["k/binary", Buffer.from([0, 1, 2, 255, 254])],
      ["k/empty", Buffer.alloc(0)],
      ["k/empty-string", ""],
    ];
    for (const [key, body] of bodies) await storage.put(key, body);
    for (const [key, body] of bodies) expect((await storage.get(key))!.equals(Buffer.from(body))).toBe(true);
    expect((await storage.stat("k/empty"))!.size).toBe(0);
    const puts = requestsSince(from).filter((r) => r.method === "PUT");
    expect(puts).toHaveLength(bodies.length);
    // The SDK names its operation in the query; the lean requests do not.
    expect(puts.filter((r) => r.url.includes("x-id="))).toEqual([]);
  });

  test("putIfAbsent: absent → true, present → false and the first bytes stay", async () => {
    const storage = await fresh();
    const { key, bytes } = contentObject("a chunk of weights");
    expect(await storage.putIfAbsent(key, bytes)).toBe(true);
    expect(await storage.putIfAbsent(key, bytes)).toBe(false);
    expect(await storage.putIfAbsent("records/run.json", "first")).toBe(true);
    expect(await storage.putIfAbsent("records/run.json", "second")).toBe(false);
    expect((await storage.get("records/run.json"))!.toString()).toBe("first");
    expect((await storage.get(key))!.equals(bytes)).toBe(true);
  });

  test("concurrent writers of the same key: exactly one gets true", async () => {
    const storage = await fresh();
    const { key, bytes } = contentObject("written by eight at once");
    const results = await Promise.all(Array.from({ length: 8 }, () => storage.putIfAbsent(key, bytes)));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect((await storage.get(key))!.equals(bytes)).toBe(true);
  });
});

describe("retries", () => {
  test("a 503 SlowDown, then a dropped connection, then the answer: stat, put and putIfAbsent succeed", async () => {
    const storage = await fresh();
    await storage.put("retried/present", "here");
    const { key, bytes } = contentObject("retried chunk");
    const from = lean.proxy.log.length;
    const attempts = new Map<string, number>();
    lean.proxy.setPlan(({ method, url }) => {
      const n = (attempts.get(method + url) ?? 0) + 1;
      attempts.set(method + url, n);
      return n === 1 ? { kind: "status", status: 503 } : n === 2 ? { kind: "reset" } : { kind: "pass" };
    });
    expect((await storage.stat("retried/present"))!.size).toBe(4);
    await storage.put("retried/put", "put after two failures");
    expect(await storage.putIfAbsent(key, bytes)).toBe(true);
    expect(requestsSince(from).map((r) => `${r.method} ${r.action}`)).toEqual(["HEAD", "PUT", "PUT"].flatMap((m) => [`${m} status`, `${m} reset`, `${m} pass`]));
    lean.proxy.setPlan(() => ({ kind: "pass" }));
    expect((await storage.get("retried/put"))!.toString()).toBe("put after two failures");
    expect((await storage.get(key))!.equals(bytes)).toBe(true);
  });

  test("a conditional PUT that landed but lost its answer is retried and answers 'already there'", async () => {
    const storage = await fresh();
    const { key, bytes } = contentObject("landed, answer lost");
    const from = lean.proxy.log.length;
    let cut = false;
    lean.proxy.setPlan(({ method }) => (method === "PUT" && !cut ? ((cut = true), { kind: "reset-response" }) : { kind: "pass" }));
    // The first attempt stored the object; the retry finds it (412). The key names the bytes,
    // so "already there" is the truth that matters: the object is whole and the same.
    expect(await storage.putIfAbsent(key, bytes)).toBe(false);
    expect(requestsSince(from).filter((r) => r.method === "PUT").map((r) => r.action)).toEqual(["reset-response", "pass"]);
    expect((await storage.get(key))!.equals(bytes)).toBe(true);
  });

  test("a server that keeps answering 503 to PUTs is given up on after maxAttempts, with a clear message", async () => {
    const storage = await fresh({ maxAttempts: 3 });
    const from = lean.proxy.log.length;
    lean.proxy.setPlan(() => ({ kind: "status", status: 503 }));
    const error = await failureOf(storage.put("records/never.json", "{}"));
    expect(error.message).toMatch(/^The storage service kept failing for the bucket "[^"]+" \(SlowDown 503\) after several attempts to write "records\/never\.json"\. Try again later\.$/);
    expect(requestsSince(from)).toHaveLength(3);
  });
});

describe("failures say what is wrong, in one line", () => {
  test("refused credentials", async () => {
    const saved = process.env.AWS_SECRET_ACCESS_KEY;
    process.env.AWS_SECRET_ACCESS_KEY = "not-the-secret";
    try {
      const storage = await fresh();
      for (const attempt of [() => storage.stat("cairn.json"), () => storage.put("records/a.json", "{}"), () => storage.putIfAbsent("records/b.json", "{}")]) {
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
    for (const attempt of [() => storage.stat("cairn.json"), () => storage.put("records/a.json", "{}"), () => storage.putIfAbsent("records/b.json", "{}")]) {
      expect((await failureOf(attempt())).message).toBe(
        `The bucket "${name}" does not exist at ${lean.proxy.endpoint} (repository s3://${name}/repository). Create it, or correct the repository URL or endpoint.`,
      );
    }
  });
});

describe("a server that refuses If-None-Match (501)", () => {
  /** Forwards to radosgw, but answers 501 NotImplemented to any PUT with If-None-Match. */
  async function refusingConditions(): Promise<{ endpoint: string; conditional: () => number; close: () => Promise<void> }> {
    const upstream = new URL(s3.endpoint);
    let conditional = 0;
    const agent = new http.Agent({ keepAlive: true });
    const server = http.createServer((request, response) => {
      if (request.method === "PUT" && request.headers["if-none-match"] !== undefined) {
        conditional++;
        request.resume();
        const body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NotImplemented</Code><Message>no conditional writes here</Message></Error>`;
        response.writeHead(501, { "content-type": "application/xml", "content-length": Buffer.byteLength(body) });
        return void response.end(body);
      }
      const outgoing = http.request({ host: upstream.hostname, port: upstream.port, method: request.method, path: request.url, headers: request.headers, agent }, (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      });
      outgoing.on("error", () => request.socket.destroy());
      request.pipe(outgoing);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return {
      endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      conditional: () => conditional,
      close: async () => {
        server.closeAllConnections();
        agent.destroy();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      },
    };
  }

  test("gets a HEAD before a plain PUT instead, from then on", async () => {
    const refusing = await refusingConditions();
    try {
      const storage = await fresh({}, refusing.endpoint);
      const { key, bytes } = contentObject("no conditions");
      expect(await storage.putIfAbsent(key, bytes)).toBe(true);
      expect(await storage.putIfAbsent(key, bytes)).toBe(false);
      expect(await storage.putIfAbsent("records/r.json", "first")).toBe(true);
      expect(await storage.putIfAbsent("records/r.json", "second")).toBe(false);
      expect((await storage.get("records/r.json"))!.toString()).toBe("first");
      // Refused once, then not asked again.
      expect(refusing.conditional()).toBe(1);
    } finally {
      await refusing.close();
    }
  });
});

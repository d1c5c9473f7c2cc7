/**
 * The lean S3 path's GET client (src/storage/http-get.ts) against servers that answer with
 * crafted bytes, each answer sent one byte per write as well as whole, so that every boundary
 * falls inside a read somewhere: how an answer is framed (Content-Length, chunked, the
 * connection's end), 1xx answers, keep-alive reuse, and each way an answer can fail. Against a
 * real S3 server it is covered by the S3 suites (every lean GET goes through it).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as tls from "node:tls";
import { afterAll, describe, expect, test } from "vitest";
import { createHttpGetter, type HttpGetterOptions } from "../../src/storage/http-get.js";

interface Crafted {
  port: number;
  /** Connections accepted so far. */
  connections: number;
  /** Requests' first lines, in order. */
  requests: string[];
  close(): Promise<void>;
}

const servers: Crafted[] = [];
afterAll(async () => {
  for (const server of servers) await server.close();
});

/**
 * A server that answers each request on a connection with the next of `answers` (raw bytes, or
 * a function of the request number deciding what to do with the socket), written byte by byte
 * when `dribble`.
 */
async function crafted(answers: (string | Buffer | ((socket: net.Socket) => void))[], dribble: boolean, secure?: { key: Buffer; cert: Buffer }): Promise<Crafted> {
  const state = { connections: 0, requests: [] as string[] };
  let next = 0;
  const handle = (socket: net.Socket): void => {
    state.connections++;
    let pending = "";
    socket.on("error", () => {});
    socket.on("data", async (data) => {
      pending += data.toString("latin1");
      while (pending.includes("\r\n\r\n")) {
        const end = pending.indexOf("\r\n\r\n");
        state.requests.push(pending.slice(0, pending.indexOf("\r\n")));
        pending = pending.slice(end + 4);
        const answer = answers[next++ % answers.length]!;
        if (typeof answer === "function") {
          answer(socket);
          continue;
        }
        const bytes = Buffer.from(answer as string, "latin1");
        if (!dribble) socket.write(bytes);
        else for (let i = 0; i < bytes.length; i++) await new Promise<void>((resolve) => socket.write(bytes.subarray(i, i + 1), () => resolve()));
      }
    });
  };
  const server = secure ? tls.createServer(secure, handle) : net.createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const result: Crafted = {
    port: (server.address() as net.AddressInfo).port,
    get connections() {
      return state.connections;
    },
    requests: state.requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  servers.push(result);
  return result;
}

function getterFor(server: Crafted, extra: Partial<HttpGetterOptions> = {}) {
  return createHttpGetter({ protocol: "http:", host: "127.0.0.1", port: server.port, connectionTimeoutMs: 2_000, requestTimeoutMs: 2_000, ...extra });
}

const text = (pieces: Buffer[]): string => Buffer.concat(pieces).toString("latin1");

describe.each([
  ["whole", false],
  ["one byte per write", true],
])("answers sent %s", (_how, dribble) => {
  test("Content-Length: the body in one buffer, the connection kept for the next request", async () => {
    const server = await crafted(["HTTP/1.1 200 OK\r\nContent-Length: 11\r\nETag: \"abc\"\r\nX-Twice: a\r\nX-Twice: b\r\n\r\nhello world", "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"], dribble);
    const getter = getterFor(server);
    const first = await getter.get("/bucket/key?x=1", { host: "example", authorization: "signed" });
    expect(first.status).toBe(200);
    expect(first.pieces).toHaveLength(1);
    expect(text(first.pieces)).toBe("hello world");
    expect(first.headers).toMatchObject({ "content-length": "11", etag: '"abc"', "x-twice": "a, b" });
    const second = await getter.get("/bucket/other", { host: "example" });
    expect([second.status, text(second.pieces)]).toEqual([404, ""]);
    expect(server.connections).toBe(1);
    expect(server.requests).toEqual(["GET /bucket/key?x=1 HTTP/1.1", "GET /bucket/other HTTP/1.1"]);
    getter.close();
  });

  test("chunked, with extensions and trailers; and a 100 Continue before the answer", async () => {
    const server = await crafted(
      ["HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\n<Erro\r\n0b\r\nr>Denied</E\r\n0\r\nX-Trailer: t\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"],
      dribble,
    );
    const getter = getterFor(server);
    const answer = await getter.get("/a", {});
    expect([answer.status, text(answer.pieces)]).toEqual([403, "<Error>Denied</E"]);
    expect(text((await getter.get("/b", {})).pieces)).toBe("ok");
    expect(server.connections).toBe(1);
    getter.close();
  });

  test("framed by the connection's end (no length, HTTP/1.0 or Connection: close): not reused", async () => {
    const server = await crafted(
      [
        (socket) => socket.end("HTTP/1.0 200 OK\r\n\r\nuntil the end"),
        "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 4\r\n\r\ndone",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nagain",
      ],
      dribble,
    );
    const getter = getterFor(server);
    expect(text((await getter.get("/1", {})).pieces)).toBe("until the end");
    expect(text((await getter.get("/2", {})).pieces)).toBe("done");
    expect(text((await getter.get("/3", {})).pieces)).toBe("again");
    expect(server.connections).toBe(3);
    getter.close();
  });
});

test("an answer split in two reads at every offset reads the same", async () => {
  const answers = ["HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhe\r\n3;x=y\r\nllo\r\n0\r\nT: 1\r\n\r\n"];
  for (const answer of answers) {
    let split = 1;
    const server = await crafted(
      [
        (socket) => {
          socket.setNoDelay(true);
          socket.write(answer.slice(0, split));
          // Long enough apart that the client reads the two parts separately.
          setTimeout(() => socket.write(answer.slice(split++)), 3);
        },
      ],
      false,
    );
    const getter = getterFor(server);
    for (let i = 1; i < answer.length; i++) {
      const got = await getter.get("/", {});
      expect([got.status, text(got.pieces)], `split at ${i}`).toEqual([200, "hello"]);
    }
    expect(server.connections).toBe(1);
    getter.close();
  }
});

test("requests beyond maxSockets wait for a connection to come free, and take it", async () => {
  const server = await crafted(["HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"], false);
  const getter = getterFor(server, { maxSockets: 2 });
  const answers = await Promise.all(Array.from({ length: 7 }, (_, i) => getter.get(`/${i}`, {})));
  expect(answers.map((answer) => text(answer.pieces))).toEqual(Array(7).fill("ok"));
  expect(server.connections).toBe(2);
  getter.close();
});

describe("failures", () => {
  test("an answer cut short, or a connection dropped before any answer: ECONNRESET (the sender retries it)", async () => {
    const server = await crafted([(socket) => socket.end("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"), (socket) => socket.destroy(), "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"], false);
    const getter = getterFor(server);
    await expect(getter.get("/1", {})).rejects.toMatchObject({ code: "ECONNRESET" });
    await expect(getter.get("/2", {})).rejects.toMatchObject({ code: "ECONNRESET" });
    // Its connection is then closed by the server's next answer being nothing at all.
    const stalled = getterFor(server, { requestTimeoutMs: 300 });
    await expect(stalled.get("/3", {})).rejects.toMatchObject({ name: "TimeoutError" });
    getter.close();
    stalled.close();
  });

  test("silence: TimeoutError; no server: ECONNREFUSED", async () => {
    const server = await crafted([() => {}], false);
    const getter = getterFor(server, { requestTimeoutMs: 300 });
    await expect(getter.get("/", {})).rejects.toMatchObject({ name: "TimeoutError" });
    const port = server.port;
    await server.close();
    servers.splice(servers.indexOf(server), 1);
    await expect(createHttpGetter({ protocol: "http:", host: "127.0.0.1", port, connectionTimeoutMs: 2_000, requestTimeoutMs: 2_000 }).get("/", {})).rejects.toMatchObject({ code: "ECONNREFUSED" });
  });

  test("what is not HTTP, or framed wrongly, is refused in one line", async () => {
    const server = await crafted(
      [
        "SSH-2.0-OpenSSH\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
      ],
      false,
    );
    const getter = getterFor(server);
    await expect(getter.get("/", {})).rejects.toThrow(/^Bad answer from the server: not an HTTP\/1\.x answer: "SSH-2\.0-OpenSSH"\.$/);
    await expect(getter.get("/", {})).rejects.toThrow(/Content-Length "x"/);
    await expect(getter.get("/", {})).rejects.toThrow(/bad chunk size: "zz"/);
    await expect(getter.get("/", {})).rejects.toThrow(/a chunk of a chunked answer is longer than its size/);
    await expect(getter.get("/", {})).rejects.toThrow(/transfer coding "gzip"/);
    getter.close();
  });

  test("a server that closes an idle kept connection: the next request opens another", async () => {
    const server = await crafted([(socket) => socket.end("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na"), "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb"], false);
    const getter = getterFor(server);
    expect(text((await getter.get("/", {})).pieces)).toBe("a");
    await new Promise((resolve) => setTimeout(resolve, 100)); // the close reaches the client
    expect(text((await getter.get("/", {})).pieces)).toBe("b");
    expect(server.connections).toBe(2);
    getter.close();
  });
});

test("over TLS, the body large enough to take many reads", async () => {
  const folder = mkdtempSync(path.join(os.tmpdir(), "cairn-http-get-"));
  try {
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost", "-days", "1", "-keyout", path.join(folder, "key.pem"), "-out", path.join(folder, "cert.pem")], { stdio: "ignore" });
    const key = readFileSync(path.join(folder, "key.pem"));
    const cert = readFileSync(path.join(folder, "cert.pem"));
    const body = Buffer.alloc(3 * 1024 * 1024 + 17, "z");
    const server = await crafted([Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`), body])], false, { key, cert });
    const getter = createHttpGetter({ protocol: "https:", host: "localhost", port: server.port, connectionTimeoutMs: 2_000, requestTimeoutMs: 5_000, tls: { ca: cert } });
    const answer = await getter.get("/big", { host: "localhost" });
    expect(answer.pieces).toHaveLength(1);
    expect(answer.pieces[0]!.equals(body)).toBe(true);
    // The system's CAs do not know this one.
    const untrusting = createHttpGetter({ protocol: "https:", host: "localhost", port: server.port, connectionTimeoutMs: 2_000, requestTimeoutMs: 5_000 });
    await expect(untrusting.get("/big", {})).rejects.toMatchObject({ code: "DEPTH_ZERO_SELF_SIGNED_CERT" });
    getter.close();
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
});

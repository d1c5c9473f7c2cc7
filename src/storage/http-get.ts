import type { IncomingHttpHeaders } from "node:http";
import * as net from "node:net";
import * as tls from "node:tls";
import { borrowBuffer, POOLED_BYTES } from "./buffer-pool.js";

/** Where a getter connects, and how long it waits. */
export interface HttpGetterOptions {
  protocol: "http:" | "https:";
  /** The host to connect to (an IPv6 literal without brackets). */
  host: string;
  port: number;
  connectionTimeoutMs: number;
  /** A request fails when the socket stays silent this long while its answer is awaited. */
  requestTimeoutMs: number;
  /** Connections open at once, as the keep-alive agents allow (64); further requests wait. */
  maxSockets?: number;
  /** More options for TLS connections (a private CA, say); the system's CAs otherwise, as https.Agent. */
  tls?: tls.ConnectionOptions;
}

/** An answer, its body read whole: one piece for a body of known length, more for a chunked one. */
export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  pieces: Buffer[];
}

/** Bodies smaller than this are never read into a pooled buffer (one is PACK_MAX_BYTES). */
const MIN_BORROWED_BYTES = 1024 * 1024;
/** Bytes each connection reads into, reused for its whole life (see createHttpGetter). */
const READ_BUFFER_BYTES = 256 * 1024;
/** A head longer than this is not an HTTP answer worth waiting for (Node's own limit is 16 KiB). */
const MAX_HEAD_BYTES = 64 * 1024;
const CRLF_CRLF = Buffer.from("\r\n\r\n");

/**
 * GET requests over HTTP/1.1 keep-alive connections of its own, for the lean S3 path (s3-send.ts):
 * every object read whole and every listing page (a checkout or `open()` reads each pack with it).
 * Each connection reads into one buffer it keeps (the `onread` option of net and tls sockets)
 * and a body of known length is copied from it straight into one buffer of that length.
 * Through node:http every 64 KiB read of the socket was a new buffer handed to a stream: a 1 GiB checkout from radosgw spent 0.7–0.8 s
 * more CPU in the process and 0.3–2 s more system time (the allocator returning and faulting in
 * that memory), measured with the same requests, 8 in flight, on the 2-core benchmark machine.
 * Answers are framed by Content-Length, chunked transfer coding or the connection's end; 1xx
 * answers are skipped. A dropped connection or an answer cut short fails with code ECONNRESET,
 * silence with a TimeoutError, as node:http's requests fail (the sender retries both). With
 * `borrow`, a body of 1 MiB or more goes into a pooled buffer (buffer-pool.ts) that the caller
 * gives back once it no longer needs the bytes (ReadOptions.borrowBuffers).
 *
 * @example
 * const getter = createHttpGetter({ protocol: "http:", host: "127.0.0.1", port: 7480, connectionTimeoutMs: 10_000, requestTimeoutMs: 120_000 });
 * const answer = await getter.get("/models/cairn.json", { host: "127.0.0.1:7480", authorization: "…" });
 * answer.status; // 200
 */
export function createHttpGetter(options: HttpGetterOptions): { get(path: string, headers: Record<string, string>, request?: { borrow?: boolean }): Promise<HttpAnswer>; close(): void } {
  const idle: Connection[] = [];
  const waiting: (() => void)[] = [];
  const maxSockets = options.maxSockets ?? 64;
  let open = 0;

  const release = (connection: Connection, reusable: boolean): void => {
    if (reusable && !connection.socket.destroyed) {
      connection.socket.unref(); // an idle connection does not keep the process alive
      idle.push(connection);
      waiting.shift()?.(); // a request waiting for a connection takes this one
    } else {
      connection.socket.destroy();
    }
  };
  const closed = (connection: Connection): void => {
    open--;
    const index = idle.indexOf(connection);
    if (index >= 0) idle.splice(index, 1);
    waiting.shift()?.();
  };

  async function take(): Promise<Connection> {
    for (;;) {
      const reused = idle.pop();
      if (reused) {
        // One the server has just ended (its close not yet seen) is not written to: it is
        // dropped here, and its close event does the counting.
        if (!reused.socket.writable || reused.socket.destroyed) {
          reused.socket.destroy();
          continue;
        }
        reused.socket.ref();
        return reused;
      }
      if (open < maxSockets) {
        open++;
        try {
          return new Connection(options, closed);
        } catch (error) {
          open--; // an option net.connect refuses at once: no socket to close later
          throw error;
        }
      }
      await new Promise<void>((resolve) => waiting.push(resolve));
    }
  }

  return {
    async get(path, headers, request) {
      const connection = await take();
      let head = `GET ${path} HTTP/1.1\r\n`;
      for (const name of Object.keys(headers)) head += `${name}: ${headers[name]}\r\n`;
      const { answer, reusable } = await connection.request(`${head}\r\n`, request?.borrow === true);
      release(connection, reusable);
      return answer;
    },
    close() {
      for (const connection of idle.splice(0)) connection.socket.destroy();
    },
  };
}

/** What is being read of the current answer. */
type Phase = "head" | "fixed" | "chunk-size" | "chunk-data" | "chunk-data-end" | "trailers" | "until-close";

/** One keep-alive connection: a request at a time, its answer parsed as the bytes arrive. */
class Connection {
  readonly socket: net.Socket;
  private pending: { resolve: (result: { answer: HttpAnswer; reusable: boolean }) => void; reject: (error: Error) => void } | null = null;
  private phase: Phase = "head";
  private head: Buffer[] = [];
  private headLength = 0;
  private status = 0;
  private headers: IncomingHttpHeaders = {};
  private keepAlive = true;
  private body: Buffer = Buffer.alloc(0);
  private filled = 0;
  private pieces: Buffer[] = [];
  private chunkLeft = 0;
  private line = "";
  /** Whether the current answer's body may go into a pooled buffer (see get's `borrow`). */
  private borrow = false;

  constructor(
    private readonly options: HttpGetterOptions,
    onClose: (connection: Connection) => void,
  ) {
    const onread = { buffer: Buffer.allocUnsafeSlow(READ_BUFFER_BYTES), callback: (length: number, buffer: Uint8Array) => this.receive(buffer as Buffer, length) };
    const socket =
      options.protocol === "https:"
        ? tls.connect({ ...options.tls, host: options.host, port: options.port, servername: net.isIP(options.host) ? undefined : options.host, onread } as tls.ConnectionOptions)
        : net.connect({ host: options.host, port: options.port, onread });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 1_000);
    const connecting = setTimeout(() => socket.destroy(timeoutError(`no connection within ${options.connectionTimeoutMs} ms`)), options.connectionTimeoutMs);
    socket.once(options.protocol === "https:" ? "secureConnect" : "connect", () => clearTimeout(connecting));
    socket.on("timeout", () => socket.destroy(timeoutError(`no answer within ${options.requestTimeoutMs} ms`)));
    socket.on("error", (error) => this.fail(error));
    socket.on("end", () => this.ended());
    socket.on("close", () => {
      clearTimeout(connecting);
      this.fail(dropped("the connection closed before the answer was whole"));
      onClose(this);
    });
    this.socket = socket;
  }

  request(head: string, borrow: boolean): Promise<{ answer: HttpAnswer; reusable: boolean }> {
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.borrow = borrow;
      this.phase = "head";
      this.head = [];
      this.headLength = 0;
      this.socket.setTimeout(this.options.requestTimeoutMs);
      this.socket.write(head);
    });
  }

  private fail(error: Error): void {
    const pending = this.pending;
    if (pending === null) return;
    this.pending = null;
    this.socket.destroy();
    pending.reject(error);
  }

  /** The server ended the connection: that ends a body framed by it, and fails any other. */
  private ended(): void {
    if (this.pending !== null && this.phase === "until-close") {
      this.keepAlive = false;
      this.finish();
    } else this.fail(dropped("the connection closed before the answer was whole"));
  }

  private finish(): void {
    const pending = this.pending!;
    this.pending = null;
    this.socket.setTimeout(0);
    const answer = { status: this.status, headers: this.headers, pieces: this.pieces };
    this.pieces = [];
    this.body = Buffer.alloc(0);
    pending.resolve({ answer, reusable: this.keepAlive });
  }

  /** Bytes read into the connection's buffer: valid only during this call. */
  private receive(buffer: Buffer, length: number): boolean {
    if (this.pending === null) {
      // Bytes nobody asked for: the connection is out of step, and no longer used.
      this.socket.destroy();
      return false;
    }
    try {
      let at = 0;
      while (at < length && this.pending !== null) at = this.step(buffer, at, length);
      if (at < length && this.pending === null) this.socket.destroy(); // more than the answer held
    } catch (error) {
      this.fail(error as Error);
    }
    return true;
  }

  /** Consumes bytes of the answer from `at`; returns where it stopped. */
  private step(buffer: Buffer, at: number, length: number): number {
    switch (this.phase) {
      case "head": {
        const bytes = buffer.subarray(at, length);
        // The end of the head may straddle two reads: search the last three bytes kept as well.
        const kept = this.headLength;
        this.head.push(Buffer.from(bytes));
        this.headLength += bytes.length;
        const joined = this.head.length === 1 ? this.head[0]! : Buffer.concat(this.head);
        const end = joined.indexOf(CRLF_CRLF, Math.max(0, kept - 3));
        if (end === -1) {
          if (this.headLength > MAX_HEAD_BYTES) throw protocolError(`an answer's head is longer than ${MAX_HEAD_BYTES} bytes`);
          this.head = [joined];
          return length;
        }
        this.head = [];
        this.headLength = 0;
        this.parseHead(joined.toString("latin1", 0, end));
        return at + (end + 4 - kept);
      }
      case "fixed": {
        const take = Math.min(length - at, this.body.length - this.filled);
        buffer.copy(this.body, this.filled, at, at + take);
        this.filled += take;
        if (this.filled === this.body.length) this.finish();
        return at + take;
      }
      case "until-close": {
        this.pieces.push(Buffer.from(buffer.subarray(at, length)));
        return length;
      }
      case "chunk-data": {
        const take = Math.min(length - at, this.chunkLeft);
        this.pieces.push(Buffer.from(buffer.subarray(at, at + take)));
        this.chunkLeft -= take;
        if (this.chunkLeft === 0) this.phase = "chunk-data-end";
        return at + take;
      }
      default: {
        // Line-oriented parts of the chunked coding: a chunk's size, the CRLF after its data,
        // trailers up to an empty line.
        const newline = buffer.indexOf(10, at);
        const stop = newline === -1 || newline >= length ? length : newline + 1;
        this.line += buffer.toString("latin1", at, stop);
        if (this.line.length > MAX_HEAD_BYTES) throw protocolError("a line of a chunked answer is too long");
        if (!this.line.endsWith("\n")) return stop;
        const line = this.line.replace(/\r?\n$/, "");
        this.line = "";
        this.lineDone(line);
        return stop;
      }
    }
  }

  private lineDone(line: string): void {
    if (this.phase === "chunk-data-end") {
      if (line !== "") throw protocolError("a chunk of a chunked answer is longer than its size");
      this.phase = "chunk-size";
    } else if (this.phase === "chunk-size") {
      const size = Number.parseInt(line.split(";")[0]!.trim(), 16);
      if (!Number.isSafeInteger(size) || size < 0 || !/^[0-9a-fA-F]+/.test(line.trim())) throw protocolError(`a chunked answer has a bad chunk size: ${JSON.stringify(line.slice(0, 40))}`);
      if (size === 0) this.phase = "trailers";
      else {
        this.chunkLeft = size;
        this.phase = "chunk-data";
      }
    } else if (line === "") {
      this.finish(); // the empty line after the trailers
    }
  }

  private parseHead(text: string): void {
    const lines = text.split("\r\n");
    const match = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0]!);
    if (match === null) throw protocolError(`not an HTTP/1.x answer: ${JSON.stringify(lines[0]!.slice(0, 40))}`);
    const status = Number(match[2]);
    const headers: IncomingHttpHeaders = {};
    for (let i = 1; i < lines.length; i++) {
      const colon = lines[i]!.indexOf(":");
      if (colon <= 0) continue;
      const name = lines[i]!.slice(0, colon).trim().toLowerCase();
      const value = lines[i]!.slice(colon + 1).trim();
      if (name === "set-cookie") (headers["set-cookie"] ??= []).push(value);
      else headers[name] = headers[name] === undefined ? value : `${headers[name] as string}, ${value}`;
    }
    if (status < 200) {
      this.phase = "head"; // 100 Continue and the like: the real answer follows
      return;
    }
    this.status = status;
    this.headers = headers;
    const connection = String(headers.connection ?? "").toLowerCase();
    this.keepAlive = match[1] === "1" ? !connection.includes("close") : connection.includes("keep-alive");
    this.pieces = [];
    const transfer = String(headers["transfer-encoding"] ?? "").toLowerCase();
    if (status === 204 || status === 304) this.finish();
    else if (transfer !== "" && transfer !== "identity") {
      if (!transfer.endsWith("chunked")) throw protocolError(`an answer in transfer coding "${transfer}"`);
      this.phase = "chunk-size";
    } else if (headers["content-length"] !== undefined) {
      const size = Number(headers["content-length"]);
      if (!Number.isSafeInteger(size) || size < 0) throw protocolError(`an answer with Content-Length ${JSON.stringify(headers["content-length"])}`);
      // A borrower gives the buffer back once it is done with the bytes (buffer-pool.ts), so
      // the next large body reuses memory already faulted in.
      this.body = this.borrow && size >= MIN_BORROWED_BYTES && size <= POOLED_BYTES ? borrowBuffer(size) : Buffer.allocUnsafeSlow(size);
      this.filled = 0;
      this.pieces = [this.body];
      if (size === 0) this.finish();
      else this.phase = "fixed";
    } else {
      this.keepAlive = false;
      this.phase = "until-close";
    }
  }
}

function timeoutError(message: string): Error {
  const error = new Error(message);
  error.name = "TimeoutError";
  return error;
}

/** As node:http fails a request whose connection drops: code ECONNRESET, which is retried. */
function dropped(message: string): Error {
  return Object.assign(new Error(message), { code: "ECONNRESET" });
}

function protocolError(message: string): Error {
  return Object.assign(new Error(`Bad answer from the server: ${message}.`), { code: "HPE_INVALID" });
}

import * as http from "node:http";
import type { AddressInfo, Socket } from "node:net";

/**
 * A fault-injecting HTTP proxy for the reliability tests: it sits between Cairn's S3 driver and
 * the S3 test server on 127.0.0.1 and, request by request, follows a plan: pass the request on,
 * delay it, stall it (no answer, then the connection drops), answer 500 or 503 itself, reset the
 * connection before or in the middle of the answer, or trickle the answer slowly. Headers are
 * passed on unchanged (the Host header too: SigV4 signatures cover it), so the server accepts
 * the signed requests it receives.
 *
 * @example
 * const proxy = await startFaultProxy("http://127.0.0.1:7480", randomFaults(0.1, rng));
 * process.env.AWS_ENDPOINT_URL = proxy.endpoint;
 * ...
 * await proxy.close();
 */
export type FaultAction =
  | { kind: "pass" }
  | { kind: "delay"; ms: number }
  /** Holds the request without an answer for `ms`, then drops the connection. */
  | { kind: "stall"; ms: number }
  /** Answers itself, as S3 does when it is overloaded (SlowDown/ServiceUnavailable, InternalError). */
  | { kind: "status"; status: 500 | 503 }
  /** Drops the connection before the request reaches the server. */
  | { kind: "reset" }
  /** Lets the server do the work, then drops the connection halfway through its answer. */
  | { kind: "reset-response" }
  /** Passes the answer on at `bytesPerSecond`, in small pieces. */
  | { kind: "slow"; bytesPerSecond: number };

export interface ProxiedRequest {
  index: number;
  method: string;
  /** The path and query, e.g. "/cairn-test/prefix/objects/ab/ab12…?x-id=PutObject". */
  url: string;
}

export interface ProxyLogEntry extends ProxiedRequest {
  /** When the request arrived (ms since the epoch). */
  time: number;
  action: FaultAction["kind"];
  /** The status the client got (null when the connection was dropped). */
  status: number | null;
}

export type FaultPlan = (request: ProxiedRequest) => FaultAction;

export interface FaultProxy {
  /** http://127.0.0.1:PORT: give this to the S3 client as its endpoint. */
  endpoint: string;
  log: ProxyLogEntry[];
  /** Changes the plan from the next request on (e.g. the server "goes away"). */
  setPlan(plan: FaultPlan): void;
  close(): Promise<void>;
}

/**
 * Starts the proxy in front of `target` (an http:// endpoint).
 *
 * @example
 * const proxy = await startFaultProxy(s3.endpoint, () => ({ kind: "pass" }));
 */
export async function startFaultProxy(target: string, initialPlan: FaultPlan): Promise<FaultProxy> {
  const upstream = new URL(target);
  let plan = initialPlan;
  let index = 0;
  const log: ProxyLogEntry[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  };
  const agent = new http.Agent({ keepAlive: true, maxSockets: 128 });

  const server = http.createServer((request, response) => {
    const proxied: ProxiedRequest = { index: index++, method: request.method ?? "GET", url: request.url ?? "/" };
    const action = plan(proxied);
    const entry: ProxyLogEntry = { ...proxied, time: Date.now(), action: action.kind, status: null };
    log.push(entry);
    const drop = (): void => {
      request.socket.destroy();
    };
    switch (action.kind) {
      case "reset":
        return drop();
      case "stall":
        request.resume(); // read the body, answer nothing
        return later(action.ms, drop);
      case "status": {
        request.resume();
        const code = action.status === 503 ? "SlowDown" : "InternalError";
        const body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>injected by the fault proxy</Message></Error>`;
        entry.status = action.status;
        response.writeHead(action.status, { "content-type": "application/xml", "content-length": Buffer.byteLength(body) });
        return response.end(body);
      }
      case "delay":
        return later(action.ms, () => forward(request, response, entry, action));
      default:
        return forward(request, response, entry, action);
    }
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });

  function forward(request: http.IncomingMessage, response: http.ServerResponse, entry: ProxyLogEntry, action: FaultAction): void {
    const outgoing = http.request(
      { host: upstream.hostname, port: upstream.port, method: request.method, path: request.url, headers: request.headers, agent },
      (answer) => {
        entry.status = answer.statusCode ?? null;
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        if (action.kind === "reset-response") {
          // Send the head and at most half the body, then cut the connection.
          const length = Number(answer.headers["content-length"] ?? 0);
          let sent = 0;
          answer.on("data", (chunk: Buffer) => {
            const room = Math.floor(length / 2) - sent;
            if (room > 0) response.write(chunk.subarray(0, room));
            sent += chunk.length;
            if (sent >= length / 2) {
              answer.destroy();
              response.socket?.destroy();
            }
          });
          answer.on("end", () => response.socket?.destroy());
          if (length === 0) response.socket?.destroy();
          return;
        }
        if (action.kind === "slow") {
          const piece = Math.max(1, Math.floor(action.bytesPerSecond / 20));
          answer.on("data", (chunk: Buffer) => {
            answer.pause();
            const parts: Buffer[] = [];
            for (let at = 0; at < chunk.length; at += piece) parts.push(chunk.subarray(at, at + piece));
            const step = (): void => {
              const part = parts.shift();
              if (part === undefined) return void answer.resume();
              response.write(part);
              later(50, step);
            };
            step();
          });
          answer.on("end", () => {
            const finish = (): void => (answer.isPaused() ? later(50, finish) : void response.end());
            finish();
          });
          return;
        }
        answer.pipe(response);
      },
    );
    outgoing.on("error", () => request.socket.destroy());
    request.pipe(outgoing);
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    log,
    setPlan(next) {
      plan = next;
    },
    async close() {
      for (const timer of timers) clearTimeout(timer);
      for (const socket of sockets) socket.destroy();
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * A plan that faults a `rate` share of requests, picking the fault at random: resets (before
 * and during the answer), stalls, 500s, 503s and slow answers in equal parts.
 *
 * @example
 * const plan = randomFaults(0.1, random(42));
 */
export function randomFaults(rate: number, rng: () => number, options: { stallMs?: number; bytesPerSecond?: number } = {}): FaultPlan {
  const faults: FaultAction[] = [
    { kind: "reset" },
    { kind: "reset-response" },
    { kind: "stall", ms: options.stallMs ?? 1_500 },
    { kind: "status", status: 500 },
    { kind: "status", status: 503 },
    { kind: "slow", bytesPerSecond: options.bytesPerSecond ?? 256 * 1024 },
  ];
  return () => (rng() < rate ? faults[Math.floor(rng() * faults.length)]! : { kind: "pass" });
}

/** The server is gone: every connection is dropped at once. */
export const serverGone: FaultPlan = () => ({ kind: "reset" });

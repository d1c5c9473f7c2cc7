import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { Readable } from "node:stream";
import type { App } from "./app.js";

/**
 * Puts a fetch-style app on a node:http server: each request becomes a `Request` (GET and HEAD
 * carry no body, and the API takes nothing else), each `Response` is written back with its body
 * streamed and back-pressured. A body that fails half-way (a download whose hash does not match)
 * destroys the connection, so the client sees a failed transfer, never a short "complete" file.
 *
 * @example
 * const server = nodeServer(createApp({ repository }));
 * server.listen(0, "127.0.0.1");
 */
export function nodeServer(app: App): Server {
  return createServer((incoming, outgoing) => {
    handle(app, incoming, outgoing).catch((error: unknown) => outgoing.destroy(error as Error));
  });
}

async function handle(app: App, incoming: IncomingMessage, outgoing: ServerResponse): Promise<void> {
  const controller = new AbortController();
  outgoing.on("close", () => controller.abort());
  const headers = new Headers();
  for (const [name, value] of Object.entries(incoming.headers)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) headers.append(name, item);
  }
  const host = incoming.headers.host ?? "localhost";
  let url: URL;
  try {
    url = new URL(incoming.url ?? "/", `http://${host}`);
  } catch {
    outgoing.writeHead(400, { "content-type": "text/plain" }).end("Bad request URL.\n");
    return;
  }
  const request = new Request(url, { method: incoming.method ?? "GET", headers, signal: controller.signal });
  const response = await app.fetch(request);
  const head: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    head[name] = value;
  });
  outgoing.writeHead(response.status, head);
  if (!response.body || incoming.method === "HEAD") {
    await response.body?.cancel();
    outgoing.end();
    return;
  }
  const body = Readable.fromWeb(response.body as import("node:stream/web").ReadableStream<Uint8Array>);
  body.on("error", (error) => outgoing.destroy(error));
  outgoing.on("close", () => body.destroy());
  body.pipe(outgoing);
}

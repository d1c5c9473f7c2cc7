import { hostname } from "node:os";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Repository } from "../api/repository.js";
import { CairnError } from "../errors.js";
import { createApp } from "./app.js";
import { isLoopback, newToken } from "./auth.js";
import { nodeServer } from "./node.js";

export interface ServeOptions {
  repository: Repository;
  /** 127.0.0.1 by default. Anything but loopback requires a token. */
  host?: string;
  /** 0 (any free port) by default. */
  port?: number;
  /** When `port` is taken, listen on any free port instead of failing (for a default port). */
  anyPortIfTaken?: boolean;
  /** The token to require; a random one is made when the host is not loopback. */
  token?: string;
  uiDirectory?: string;
  ttlMs?: number;
}

/** A listening server. */
export interface RunningServer {
  /** The page's address, with `?token=…` when a token is required: the one to print. */
  url: string;
  host: string;
  port: number;
  token: string | null;
  /** False when the server can be reached from other machines (the CLI warns). */
  loopback: boolean;
  close(): Promise<void>;
}

/**
 * Serves the web UI for a repository. Listens at once: nothing is read from the repository
 * until the page asks. The library does not print: the caller shows `url` (and a warning when
 * `loopback` is false).
 *
 * @example
 * const server = await startServer({ repository, port: 0 });
 * console.log(server.url); // http://127.0.0.1:53817/
 */
export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const host = options.host ?? "127.0.0.1";
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new CairnError("INVALID_ARGUMENT", `--port must be a whole number from 0 to 65535 (0 picks a free one); got ${String(options.port)}.`);
  }
  const loopback = isLoopback(host);
  const token = options.token ?? (loopback ? null : newToken());
  const app = createApp({ repository: options.repository, token, ...(options.uiDirectory ? { uiDirectory: options.uiDirectory } : {}), ...(options.ttlMs !== undefined ? { ttlMs: options.ttlMs } : {}) });
  const server = nodeServer(app);
  try {
    await listen(server, port, host);
  } catch (error) {
    if (!(options.anyPortIfTaken && port !== 0 && (error as NodeJS.ErrnoException).code === "EADDRINUSE")) throw describeListenError(error, host, port);
    await listen(server, 0, host).catch((again: unknown) => {
      throw describeListenError(again, host, 0);
    });
  }
  // Listening first, reading second: the URL is printed at once, and the listing is under way
  // (or done) by the time a browser asks for it.
  app.warm();
  const address = server.address() as AddressInfo;
  const shownHost = host === "0.0.0.0" || host === "::" ? hostname() : address.family === "IPv6" ? `[${address.address}]` : host;
  const url = `http://${shownHost}:${address.port}/${token ? `?token=${token}` : ""}`;
  return {
    url,
    host,
    port: address.port,
    token,
    loopback,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve();
    });
  });
}

function describeListenError(error: unknown, host: string, port: number): CairnError {
  const code = (error as NodeJS.ErrnoException).code;
  const why =
    code === "EADDRINUSE"
      ? `port ${port} is in use; pick another with --port, or --port 0 for any free one`
      : code === "EADDRNOTAVAIL" || code === "ENOTFOUND" || code === "EAI_AGAIN"
        ? `${host} is not an address of this machine`
        : code === "EACCES"
          ? `port ${port} needs privileges; use a port above 1023`
          : (error as Error).message;
  return new CairnError("INVALID_ARGUMENT", `Cannot listen on ${host}:${port}: ${why}.`, { cause: error });
}

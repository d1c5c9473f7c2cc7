// @ts-check
/**
 * TCP ports on 127.0.0.1 for the throwaway servers the tests and the benchmarks start.
 * Plain JavaScript so both can use it: the tests through vitest, the benchmarks with bare node.
 */
import * as net from "node:net";

/**
 * A TCP port on 127.0.0.1 that nothing listens on right now, chosen by the kernel.
 *
 * @example
 * const port = await freePort();
 * @returns {Promise<number>}
 */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = /** @type {net.AddressInfo} */ (server.address()).port;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Waits until something accepts connections on 127.0.0.1:`port`, or fails after `timeoutMs`;
 * fails at once with what `failure()` says when it says something (a daemon that died).
 *
 * @example
 * await waitForPort(7480, 20_000, () => daemon.exitMessage());
 * @param {number} port
 * @param {number} timeoutMs
 * @param {() => string | null} [failure]
 * @returns {Promise<void>}
 */
export async function waitForPort(port, timeoutMs, failure) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const problem = failure?.();
    if (problem) throw new Error(problem);
    if (await canConnect(port)) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** @param {number} port @returns {Promise<boolean>} */
function canConnect(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/**
 * The web UI's server: a fetch-style app (`createApp`) for tests and embedding, and
 * `startServer` for `cairn ui`.
 *
 * @example
 * import { startServer } from "./server/index.js";
 * const server = await startServer({ repository, host: "127.0.0.1", port: 0 });
 */
export { createApp, type App, type AppOptions } from "./app.js";
export { startServer, type RunningServer, type ServeOptions } from "./serve.js";
export { isLoopback, TOKEN_HEADER } from "./auth.js";

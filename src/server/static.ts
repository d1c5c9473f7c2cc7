import { readdir, readFile } from "node:fs/promises";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { httpError } from "./json.js";

/** Where `ui/build.mjs` writes the page: dist/ui, from src/server and dist/server alike. */
export const DEFAULT_UI_DIRECTORY = fileURLToPath(new URL("../../dist/ui/", import.meta.url));

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
};

/** The page may load its own scripts and styles and talk to its own origin; nothing else. */
const PAGE_POLICY = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/**
 * Serves the built page. Only the files found directly in the UI folder are served, by exact
 * name, so no request path can reach anything else on disk.
 *
 * @example
 * const ui = new StaticFiles("/path/to/dist/ui");
 * const response = await ui.respond("/app.js");
 */
export class StaticFiles {
  private names: Promise<Set<string>> | null = null;

  constructor(readonly directory: string = DEFAULT_UI_DIRECTORY) {}

  /** The response for a URL path outside /api/, or a 404. */
  async respond(pathname: string): Promise<Response> {
    const name = pathname === "/" || pathname === "/index.html" ? "index.html" : pathname.slice(1);
    const names = await this.list();
    if (!names.has(name)) {
      if (names.size === 0) {
        this.names = null; // look again next time: the build may be running now
        return httpError(500, "UI_NOT_BUILT", `The web page is not built: run "npm run build" (it writes ${this.directory}).`);
      }
      return httpError(404, "NOT_FOUND", `No page at ${pathname}.`);
    }
    const body = await readFile(path.join(this.directory, name));
    const headers: Record<string, string> = {
      "content-type": TYPES[path.extname(name)] ?? "application/octet-stream",
      "x-content-type-options": "nosniff",
      "cache-control": name === "index.html" ? "no-cache" : "max-age=60",
    };
    if (name === "index.html") {
      headers["content-security-policy"] = PAGE_POLICY;
      headers["referrer-policy"] = "no-referrer"; // the URL may carry the token
    }
    return new Response(body, { headers });
  }

  private list(): Promise<Set<string>> {
    this.names ??= readdir(this.directory, { withFileTypes: true }).then(
      (entries) => new Set(entries.filter((e) => e.isFile()).map((e) => e.name)),
      () => new Set<string>(),
    );
    return this.names;
  }
}

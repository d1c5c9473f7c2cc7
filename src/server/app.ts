import type { Repository } from "../api/repository.js";
import { CairnError } from "../errors.js";
import { checkAccess } from "./auth.js";
import { codeFileResponse, checkpointFileResponse } from "./files.js";
import { errorResponse, httpError, json } from "./json.js";
import { ListingCache } from "./listing-cache.js";
import { toTableRow } from "./listing.js";
import { safeRequestPath } from "./paths.js";
import { compareExperiments } from "./compare.js";
import { seriesOf } from "./series.js";
import { ExperimentSource } from "./snapshot.js";
import { StaticFiles } from "./static.js";

export interface AppOptions {
  repository: Repository;
  /** Required on every API request when set (the server listens beyond loopback). */
  token?: string | null;
  /** The built page (dist/ui by default). */
  uiDirectory?: string;
  /** How long a listing of the repository is reused (2 s by default). */
  ttlMs?: number;
}

/** A request handler in the fetch style: a Request in, a Response out, no socket needed. */
export interface App {
  fetch(request: Request): Promise<Response>;
  /** Starts reading the repository in the background, so the first page view waits less. */
  warm(): void;
}

type Handler = (request: Request, url: URL, match: RegExpExecArray) => Promise<Response>;

const ID = "([^/]+)";
const REST = "(.+)";

/** The most rows one listing request returns. */
const MAX_LIMIT = 1000;
/** The most experiments one compare request takes. */
const MAX_COMPARE = 200;

/**
 * The web UI's server: the JSON API under /api/ (read-only, see docs/HTTP-API.md) and the built
 * page. It reads through the library (selectExperiments, resolveId, Experiment, Checkpoint.open)
 * like the CLI does. Tests call `app.fetch(new Request(...))` without opening a socket;
 * `startServer` puts it on a port.
 *
 * @example
 * const app = createApp({ repository: await cairn.openRepository(".cairn") });
 * const response = await app.fetch(new Request("http://127.0.0.1/api/experiments?sort=metrics.loss"));
 */
export function createApp(options: AppOptions): App {
  const { repository } = options;
  const token = options.token ?? null;
  const source = new ExperimentSource(repository, options.ttlMs === undefined ? {} : { ttlMs: options.ttlMs });
  const listings = new ListingCache();
  const page = new StaticFiles(options.uiDirectory);

  const routes: [RegExp, Handler][] = [
    [/^\/api\/repository$/, async (request) => json(request, { url: repository.url, readOnly: true })],
    [
      /^\/api\/experiments$/,
      async (request, url) => {
        const snapshot = await source.snapshot();
        const filter = url.searchParams.getAll("filter").filter((f) => f.trim() !== "");
        const sort = url.searchParams.get("sort")?.trim() || undefined;
        const offset = integerParam(url, "offset", 0, Number.MAX_SAFE_INTEGER);
        const limit = integerParam(url, "limit", 100, MAX_LIMIT);
        const listing = listings.get(snapshot, { filter, sort });
        const rows = listing.experiments.slice(offset, offset + limit).map((e) => toTableRow(e, listing.params));
        return json(request, {
          total: snapshot.experiments.length,
          matched: listing.experiments.length,
          offset,
          limit,
          columns: { params: listing.params, metrics: listing.metrics },
          rows,
          problems: snapshot.problems,
          loadedAt: new Date(snapshot.loadedAt).toISOString(),
        });
      },
    ],
    [
      new RegExp(`^/api/experiments/${ID}$`),
      async (request, _url, match) => json(request, (await source.experiment(decode(match[1]!))).toJSON()),
    ],
    [
      new RegExp(`^/api/experiments/${ID}/series$`),
      async (request, url, match) => {
        const digits = url.searchParams.has("digits") ? Math.max(1, integerParam(url, "digits", 17, 17)) : undefined;
        return json(request, seriesOf(await source.experiment(decode(match[1]!)), integerParam(url, "from", 0, Number.MAX_SAFE_INTEGER), digits));
      },
    ],
    [
      new RegExp(`^/api/experiments/${ID}/diff$`),
      async (request, _url, match) => {
        const experiment = await source.experiment(decode(match[1]!));
        return json(request, { id: experiment.id, git: experiment.git, diff: await experiment.gitDiff() });
      },
    ],
    [
      new RegExp(`^/api/experiments/${ID}/code$`),
      async (request, _url, match) => {
        const experiment = await source.experiment(decode(match[1]!));
        return json(request, { id: experiment.id, code: experiment.code, files: await experiment.codeFiles() });
      },
    ],
    [
      new RegExp(`^/api/experiments/${ID}/code/${REST}$`),
      async (_request, url, match) => {
        const file = safeRequestPath(match[2]!);
        const experiment = await source.experiment(decode(match[1]!));
        return codeFileResponse(repository.storage, experiment, file, url.searchParams.get("download") === "1");
      },
    ],
    [
      new RegExp(`^/api/checkpoints/${ID}$`),
      async (request, _url, match) => {
        const checkpoint = await source.checkpoint(decode(match[1]!));
        return json(request, { ...checkpoint.toJSON(), fileList: await checkpoint.files() });
      },
    ],
    [
      new RegExp(`^/api/checkpoints/${ID}/files/${REST}$`),
      async (_request, _url, match) => {
        const file = safeRequestPath(match[2]!);
        return checkpointFileResponse(await source.checkpoint(decode(match[1]!)), file);
      },
    ],
    [
      /^\/api\/compare$/,
      async (request, url) => {
        const ids = url.searchParams.getAll("ids").flatMap((v) => v.split(",")).map((v) => v.trim()).filter((v) => v !== "");
        if (ids.length < 1 || ids.length > MAX_COMPARE) {
          throw new CairnError("INVALID_ARGUMENT", `Give between 1 and ${MAX_COMPARE} experiment IDs to compare, as ?ids=ID,ID.`);
        }
        const experiments = await Promise.all(ids.map((id) => source.experiment(id)));
        return json(request, await compareExperiments(repository, experiments));
      },
    ],
  ];

  return {
    warm() {
      // Read every record and build the default listing (and so each experiment's row), so the
      // first page view finds them ready. A failure is reported to the first request instead.
      source.snapshot().then((snapshot) => listings.get(snapshot, { filter: [], sort: undefined })).catch(() => {});
    },
    async fetch(request: Request): Promise<Response> {
      try {
        const url = new URL(request.url);
        if (!url.pathname.startsWith("/api/")) {
          if (request.method !== "GET" && request.method !== "HEAD") return httpError(405, "METHOD_NOT_ALLOWED", "The page is read-only.");
          return await page.respond(url.pathname);
        }
        const refused = checkAccess(request, token);
        if (refused) return refused;
        if (request.method !== "GET" && request.method !== "HEAD") {
          return httpError(405, "METHOD_NOT_ALLOWED", `The API is read-only: ${request.method} is not allowed (only GET).`);
        }
        for (const [pattern, handler] of routes) {
          const match = pattern.exec(url.pathname);
          if (match) return await handler(request, url, match);
        }
        return httpError(404, "NOT_FOUND", `No API endpoint at ${url.pathname}; see docs/HTTP-API.md.`);
      } catch (error) {
        return errorResponse(error);
      }
    },
  };
}

/** A path segment decoded, as IDs may arrive percent-encoded. */
function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new CairnError("INVALID_ARGUMENT", `"${segment}" is not valid URL encoding.`);
  }
}

function integerParam(url: URL, name: string, fallback: number, max: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0) throw new CairnError("INVALID_ARGUMENT", `"${name}" must be a whole number ≥ 0; got "${raw}".`);
  return Math.min(value, max);
}

import * as fs from "node:fs/promises";
import * as path from "node:path";
import { randomBytes } from "node:crypto";
import type { SummaryCache, SummaryCacheEntry } from "./list-summaries.js";
import type { ExperimentSummary } from "./types.js";
import type { FormatMarker } from "./format.js";

/** Bumped when the file's shape changes; a file of another version is ignored (and rebuilt). */
const FILE_VERSION = 2;

/**
 * A reader's local copy of a repository's summaries, kept between processes so a repeated
 * `cairn ls` of an unchanged repository sends only LIST requests: a summary is fetched again only
 * when the listing shows a new ETag (or generation) for it. One file, `<folder>/summaries.json`,
 * read whole and rewritten atomically when something changed: one read of a few megabytes is far
 * cheaper than 10,000 small files. Rebuildable: deleting the folder only costs one slower
 * listing.
 *
 * The file is lines: first `{"version":2,"folderVersion":…}`, then one line per entry, its key,
 * a tab, its etag, a tab, and the summary's JSON. Lines rather than one JSON document, so that
 * each entry keeps the text its summary was parsed from, and rewriting the file after one
 * summary changed copies text instead of serialising 10,000 summaries again (that took a fifth
 * of a second, as long as the rest of such a listing).
 *
 * @example
 * const store = new SummaryCacheStore(path.join(stateDirectory, "records"));
 * const cache = await store.load();
 * await listSummaries(storage, new Date(), cache);
 * await store.save(cache);
 */
export class SummaryCacheStore {
  /** The etag of each entry as last loaded or saved, to know whether saving would change anything. */
  private saved = new Map<string, string>();
  private savedFolderVersion: string | undefined;

  constructor(private readonly folder: string) {}

  private get file(): string {
    return path.join(this.folder, "summaries.json");
  }

  /** The repository's format marker as seen last time, or null. */
  async formatMarker(): Promise<FormatMarker | null> {
    try {
      const marker = JSON.parse(await fs.readFile(path.join(this.folder, "format.json"), "utf8")) as FormatMarker;
      return marker?.format === "cairn" && typeof marker.version === "string" ? marker : null;
    } catch {
      return null;
    }
  }

  async rememberFormat(marker: FormatMarker): Promise<void> {
    await fs.mkdir(this.folder, { recursive: true }).catch(() => {});
    await fs.writeFile(path.join(this.folder, "format.json"), JSON.stringify(marker)).catch(() => {});
  }

  /** The cache as saved last time; empty when there is none or it is unreadable. */
  async load(): Promise<SummaryCache> {
    const cache: SummaryCache = new Map();
    let text: string;
    try {
      // Read as bytes and decoded in one go: readFile's "utf8" decodes chunk by chunk, which
      // costs more than reading a file of 10,000 summaries.
      text = (await fs.readFile(this.file)).toString("utf8");
    } catch {
      return cache; // missing or unreadable: every summary is simply fetched again
    }
    try {
      const headEnd = text.indexOf("\n");
      const head = JSON.parse(headEnd === -1 ? text : text.slice(0, headEnd)) as { version?: unknown; folderVersion?: unknown };
      if (head.version !== FILE_VERSION || headEnd === -1) return cache;
      let lines = 0;
      for (let start = headEnd + 1; start < text.length; ) {
        const end = text.indexOf("\n", start);
        // A line without its newline is torn (the file is renamed into place whole, so only a
        // damaged disk or another program makes one): it and the whole-listing claim are dropped.
        if (end === -1) break;
        lines++;
        const entry = parseLine(text, start, end);
        start = end + 1;
        // Entries are trusted no further than their shape: the file is ours, on our disk.
        if (entry === null) continue;
        cache.set(entry.key, entry.entry);
        this.saved.set(entry.key, entry.entry.etag);
      }
      // Only a file whose every line was kept stands for a whole listing.
      if (typeof head.folderVersion === "string" && cache.size === lines && text.endsWith("\n")) {
        cache.folderVersion = this.savedFolderVersion = head.folderVersion;
      }
    } catch {
      // Torn or foreign: every summary is simply fetched again.
      cache.clear();
      this.saved.clear();
    }
    return cache;
  }

  /**
   * Rewrites the file when an entry was added, changed or dropped since load() or the last
   * save(). Entries that carry the text their summary was read from go into the file as that
   * text; the others are serialised. The texts stay in the cache for its life (about the
   * summaries' size again, 15 MB for 10,000, in a long-lived reader such as the web UI's
   * server), so that every later save is a copy too.
   */
  async save(cache: SummaryCache): Promise<void> {
    const unchanged =
      cache.folderVersion === this.savedFolderVersion && cache.size === this.saved.size && [...cache].every(([key, entry]) => this.saved.get(key) === entry.etag);
    if (unchanged) return;
    await fs.mkdir(this.folder, { recursive: true });
    const temporary = `${this.file}.tmp-${randomBytes(4).toString("hex")}`;
    await fs.writeFile(temporary, encodeFile(cache));
    await fs.rename(temporary, this.file);
    this.saved = new Map([...cache].map(([key, entry]) => [key, entry.etag]));
    this.savedFolderVersion = cache.folderVersion;
  }
}

/** One entry line of the file (`text` from `start` to `end`, the newline excluded), or null when it is not one. */
function parseLine(text: string, start: number, end: number): { key: string; entry: SummaryCacheEntry } | null {
  const keyEnd = text.indexOf("\t", start);
  const etagEnd = keyEnd === -1 || keyEnd > end ? -1 : text.indexOf("\t", keyEnd + 1);
  if (etagEnd === -1 || etagEnd > end) return null;
  const key = text.slice(start, keyEnd);
  const etag = text.slice(keyEnd + 1, etagEnd);
  const json = text.slice(etagEnd + 1, end);
  const summary = JSON.parse(json) as ExperimentSummary | null;
  if (typeof summary?.id !== "string" || !key.includes(summary.id)) return null;
  return { key, entry: { etag, summary, text: json } };
}

/**
 * The file's bytes: the head line, then a line per entry whose key and etag are printable ASCII
 * (all are: keys name experiment IDs, and etags are quoted hex, numbers or timestamps; any
 * other is left out, to be read again). A summary goes in as its `text` when that is one line,
 * else serialised.
 */
function encodeFile(cache: SummaryCache): Buffer {
  // Measured first and copied into one buffer, with one native write per entry for its key and
  // etag (ASCII: a character is a byte) and one copy for its text: 10,000 small buffers and a
  // concatenation of them cost more than the summaries' bytes, and measuring and writing each
  // piece as UTF-8 took a twentieth of a second.
  const head = `${JSON.stringify({ version: FILE_VERSION, folderVersion: cache.folderVersion })}\n`;
  const lines: { start: string; text: string | Buffer }[] = [];
  let size = Buffer.byteLength(head);
  for (const [key, { etag, summary, text }] of cache) {
    if (!PRINTABLE.test(key) || !PRINTABLE.test(etag)) continue;
    const start = `${key}\t${etag}\t`;
    const oneLine = text !== undefined && (typeof text === "string" ? !text.includes("\n") : !text.includes(10));
    const body = oneLine ? text : JSON.stringify(summary);
    lines.push({ start, text: body });
    size += start.length + (typeof body === "string" ? Buffer.byteLength(body) : body.length) + 1;
  }
  const bytes = Buffer.allocUnsafe(size);
  let offset = bytes.write(head);
  for (const { start, text } of lines) {
    offset += bytes.write(start, offset, "latin1");
    offset += typeof text === "string" ? bytes.write(text, offset) : text.copy(bytes, offset);
    bytes[offset++] = 10;
  }
  return bytes;
}

/** Printable ASCII (no tab, no newline): what a key or etag must be to go into the file. */
const PRINTABLE = /^[\x20-\x7e]*$/;

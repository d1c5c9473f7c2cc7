import * as fs from "node:fs/promises";
import * as path from "node:path";
import { randomBytes } from "node:crypto";
import type { SummaryCache } from "./list-summaries.js";
import type { ExperimentSummary } from "./types.js";
import type { FormatMarker } from "./format.js";

/** Bumped when the file's shape changes; a file of another version is ignored (and rebuilt). */
const FILE_VERSION = 1;

/**
 * A reader's local copy of a remote repository's summaries, kept between processes so a repeated
 * `cairn ls` of an unchanged repository sends only LIST requests: a summary is fetched again only
 * when the listing shows a new ETag (or generation) for it. One file, `<folder>/summaries.json`
 * (`{version, entries: {key: {etag, summary}}}`), read whole and rewritten atomically when
 * something changed: one read of a few megabytes is far cheaper than 10,000 small files.
 * Rebuildable: deleting the folder only costs one slower listing.
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
    try {
      // Read as bytes and decoded in one go: readFile's "utf8" decodes chunk by chunk, which
      // costs more than reading a file of 10,000 summaries.
      const file = JSON.parse((await fs.readFile(this.file)).toString("utf8")) as { version?: unknown; folderVersion?: unknown; entries?: Record<string, { etag: string; summary: ExperimentSummary }> };
      if (file.version !== FILE_VERSION || typeof file.entries !== "object" || file.entries === null) return cache;
      for (const [key, entry] of Object.entries(file.entries)) {
        // Entries are trusted no further than their shape: the file is ours, on our disk.
        if (typeof entry?.etag !== "string" || typeof entry.summary?.id !== "string" || !key.includes(entry.summary.id)) continue;
        cache.set(key, entry);
        this.saved.set(key, entry.etag);
      }
      // Only a file whose every entry was kept stands for a whole listing.
      if (typeof file.folderVersion === "string" && cache.size === Object.keys(file.entries).length) {
        cache.folderVersion = this.savedFolderVersion = file.folderVersion;
      }
    } catch {
      // Missing, torn or foreign: every summary is simply fetched again.
    }
    return cache;
  }

  /**
   * Rewrites the file when an entry was added, changed or dropped since load() or the last
   * save(). Entries that carry the bytes their summary was read from go into the file as those
   * bytes (serialising 10,000 summaries again cost more than reading them); the bytes are then
   * dropped from the cache, which may live long (the web UI's server).
   */
  async save(cache: SummaryCache): Promise<void> {
    try {
      const unchanged =
        cache.folderVersion === this.savedFolderVersion && cache.size === this.saved.size && [...cache].every(([key, entry]) => this.saved.get(key) === entry.etag);
      if (unchanged) return;
      await fs.mkdir(this.folder, { recursive: true });
      const temporary = `${this.file}.tmp-${randomBytes(4).toString("hex")}`;
      await fs.writeFile(temporary, encodeFile(cache));
      await fs.rename(temporary, this.file);
      this.saved = new Map([...cache].map(([key, entry]) => [key, entry.etag]));
      this.savedFolderVersion = cache.folderVersion;
    } finally {
      // Assigned rather than deleted: deleting a property makes 10,000 objects slower to use.
      for (const entry of cache.values()) entry.text = undefined;
    }
  }
}

/**
 * The file's bytes: `{version, folderVersion, entries: {key: {etag, summary}}}`, what
 * JSON.stringify would give of it except that a summary with `text` is those bytes, which
 * parse to exactly that summary.
 */
function encodeFile(cache: SummaryCache): Buffer {
  const head = JSON.stringify({ version: FILE_VERSION, folderVersion: cache.folderVersion });
  // Measured first and copied into one buffer: 10,000 small buffers and a concatenation of them
  // cost more than the summaries' bytes.
  const pieces: (string | Buffer)[] = [`${head.slice(0, -1)},"entries":{`];
  for (const [key, { etag, summary, text }] of cache) {
    pieces.push(`${pieces.length === 1 ? "" : ","}${JSON.stringify(key)}:{"etag":${JSON.stringify(etag)},"summary":`);
    pieces.push(text ?? JSON.stringify(summary), "}");
  }
  pieces.push("}}");
  let size = 0;
  for (const piece of pieces) size += typeof piece === "string" ? Buffer.byteLength(piece) : piece.length;
  const bytes = Buffer.allocUnsafe(size);
  let offset = 0;
  for (const piece of pieces) offset += typeof piece === "string" ? bytes.write(piece, offset) : piece.copy(bytes, offset);
  return bytes;
}

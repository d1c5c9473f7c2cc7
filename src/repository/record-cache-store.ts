import * as fs from "node:fs/promises";
import * as path from "node:path";
import { randomBytes } from "node:crypto";
import { experimentIdOfKey, experimentKey } from "./layout.js";
import { mapLimit, type RecordCache } from "./load.js";
import type { ExperimentRecord } from "./types.js";
import type { FormatMarker } from "./format.js";

/**
 * A reader's local copy of a remote repository's records, kept between processes so a repeated
 * `cairn ls` of an unchanged repository sends only LIST requests: a record is fetched again only
 * when the listing shows a new ETag (or generation) for it. One file per record,
 * `<folder>/<id>.json` holding `{ etag, record }`. Rebuildable: deleting the folder only costs
 * one slower listing.
 *
 * @example
 * const store = new RecordCacheStore(path.join(stateDirectory, "records"));
 * const cache = await store.load();
 * await loadExperiments(storage, new Date(), cache);
 * await store.save(cache);
 */
export class RecordCacheStore {
  private saved = new Map<string, string>();

  constructor(private readonly folder: string) {}

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

  async load(): Promise<RecordCache> {
    const cache: RecordCache = new Map();
    const names = await fs.readdir(this.folder).catch(() => [] as string[]);
    await mapLimit(names.filter((n) => n.endsWith(".json")), 64, async (name) => {
      try {
        const entry = JSON.parse(await fs.readFile(path.join(this.folder, name), "utf8")) as { etag: string; record: ExperimentRecord };
        const key = experimentKey(name.slice(0, -5));
        if (typeof entry.etag === "string" && entry.record?.id === name.slice(0, -5)) {
          cache.set(key, entry);
          this.saved.set(key, entry.etag);
        }
      } catch {
        // A torn or foreign file: the record is simply fetched again.
      }
    });
    return cache;
  }

  /** Writes the entries that changed since load() and drops those no longer listed. */
  async save(cache: RecordCache): Promise<void> {
    await fs.mkdir(this.folder, { recursive: true });
    const changed = [...cache].filter(([key, entry]) => this.saved.get(key) !== entry.etag);
    await mapLimit(changed, 16, async ([key, entry]) => {
      const id = experimentIdOfKey(key);
      if (!id) return;
      const file = path.join(this.folder, `${id}.json`);
      const temporary = `${file}.tmp-${randomBytes(4).toString("hex")}`;
      await fs.writeFile(temporary, JSON.stringify(entry));
      await fs.rename(temporary, file);
      this.saved.set(key, entry.etag);
    });
    for (const key of [...this.saved.keys()]) {
      if (cache.has(key)) continue;
      const id = experimentIdOfKey(key);
      if (id) await fs.rm(path.join(this.folder, `${id}.json`), { force: true });
      this.saved.delete(key);
    }
  }
}

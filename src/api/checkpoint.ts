import type { Readable } from "node:stream";
import { CairnError } from "../errors.js";
import { shortId } from "../repository/ids.js";
import { decodeMetrics } from "../repository/metrics.js";
import { openFileStream, readTree } from "../repository/objects.js";
import type { CheckpointRecord, PrimaryMetric, TreeEntry, TreeRef } from "../repository/types.js";
import type { Storage } from "../storage/storage.js";
import { checkoutEntries, selectEntries, type CheckoutOptions, type CheckoutResult } from "./checkout.js";

/**
 * A recorded checkpoint: its metrics, and its files to open or check out.
 *
 * @example
 * const checkpoint = await cairn.checkpoints.get("3ccb2f1");
 * const stream = await checkpoint.open("model.pth");
 */
export class Checkpoint {
  readonly id: string;
  readonly step: number;
  readonly created: Date;
  /** Metric values; NaN and ±Infinity are kept as such. */
  readonly metrics: Record<string, number>;
  readonly primaryMetric: PrimaryMetric | null;
  /** The path given to checkpoint(), relative to the project; null for a metrics-only checkpoint. */
  readonly path: string | null;
  readonly tree: TreeRef | null;
  readonly experimentId: string;
  private filesCache: Promise<TreeEntry[]> | null = null;

  constructor(
    private readonly storage: Storage,
    record: CheckpointRecord,
    experimentId: string,
  ) {
    this.id = record.id;
    this.step = record.step;
    this.created = new Date(record.created);
    this.metrics = decodeMetrics(record.metrics);
    this.primaryMetric = record.primaryMetric;
    this.path = record.path;
    this.tree = record.tree;
    this.experimentId = experimentId;
  }

  /** "checkpoint 3ccb2f1 of experiment e510303", for messages. */
  get description(): string {
    return `checkpoint ${shortId(this.id)} of experiment ${shortId(this.experimentId)}`;
  }

  /**
   * The stored files (paths relative to the project, sizes, SHA-256).
   *
   * @example
   * for (const file of await checkpoint.files()) console.log(file.path, file.size);
   */
  files(): Promise<TreeEntry[]> {
    if (this.tree === null) return Promise.resolve([]);
    this.filesCache ??= readTree(this.storage, this.tree.sha256, `the file list of ${this.description}`).then((t) => t.files);
    return this.filesCache;
  }

  /** Finds a file by its stored path, or by its path inside the checkpoint's folder. */
  private async entry(file: string): Promise<TreeEntry> {
    const files = await this.files();
    const clean = file.replace(/^\.\/+/, "");
    const found = files.find((f) => f.path === clean) ?? (this.path ? files.find((f) => f.path === `${this.path}/${clean}`) : undefined);
    if (!found) {
      const names = files.slice(0, 10).map((f) => f.path).join(", ");
      throw new CairnError("NOT_FOUND", `${this.description} has no file "${file}".${files.length ? ` It has: ${names}${files.length > 10 ? ", …" : ""}.` : " It records metrics only."}`);
    }
    return found;
  }

  /**
   * A readable stream of one file, verified against its SHA-256 as it is read (a mismatch fails
   * the stream with an error naming the object). Memory stays flat whatever the size.
   *
   * @example
   * (await checkpoint.open("model.pth")).pipe(fs.createWriteStream("/tmp/model.pth"));
   */
  async open(file: string): Promise<Readable> {
    return openFileStream(this.storage, await this.entry(file), `${file} of ${this.description}`);
  }

  /**
   * A whole file's bytes (for small files; use open() for large ones).
   *
   * @example
   * const config = JSON.parse((await checkpoint.read("model/model.json")).toString());
   */
  async read(file: string): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const part of await this.open(file)) parts.push(part as Buffer);
    return Buffer.concat(parts);
  }

  /**
   * Writes this checkpoint's files into a folder (see CheckoutOptions for `force` and `path`).
   *
   * @example
   * await checkpoint.checkout({ outputDirectory: "weights" });
   */
  async checkout(options: CheckoutOptions): Promise<CheckoutResult> {
    const entries = selectEntries(await this.files(), options.path);
    return checkoutEntries(this.storage, entries, options, this.description);
  }

  toJSON(): Record<string, unknown> {
    return {
      id: this.id,
      experimentId: this.experimentId,
      step: this.step,
      created: this.created.toISOString(),
      metrics: Object.fromEntries(Object.entries(this.metrics).map(([k, v]) => [k, Number.isFinite(v) ? v : String(v)])),
      primaryMetric: this.primaryMetric,
      path: this.path,
      files: this.tree?.files ?? 0,
      bytes: this.tree?.bytes ?? 0,
    };
  }
}

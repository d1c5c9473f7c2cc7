import * as fs from "node:fs/promises";
import { CairnError } from "../errors.js";
import type { Storage } from "../storage/storage.js";
import { encodeTree } from "./objects.js";
import { experimentKey, objectKey } from "./layout.js";
import type { ExperimentSpool } from "./spool.js";
import type { ExperimentRecord, Tree } from "./types.js";

/**
 * Publishes what a spool holds, in the commit order that keeps readers safe: file contents
 * first, then the trees that list them, then the record that points at the trees. Every step is
 * idempotent (objects are content-addressed and written only when absent), so a publish that is
 * interrupted and redone, by this process or a later one, does no harm.
 */
export class SpoolPublisher {
  /** Objects and trees known to be in the repository already, to skip repeat work. */
  private readonly published = new Set<string>();

  constructor(
    private readonly storage: Storage,
    private readonly spool: ExperimentSpool,
    private readonly concurrency = 8,
  ) {}

  /**
   * Uploads the objects the trees need, then the trees, then the record.
   *
   * @example
   * await publisher.publish(record, trees, [diffSha]);
   */
  async publish(record: ExperimentRecord, trees: Map<string, Tree>, extraObjects: string[]): Promise<void> {
    const needed = new Set(extraObjects);
    for (const tree of trees.values()) for (const file of tree.files) needed.add(file.sha256);
    await this.uploadObjects([...needed].filter((sha) => !this.published.has(sha)));
    for (const [sha256, tree] of trees) {
      if (this.published.has(sha256)) continue;
      await this.storage.putIfAbsent(objectKey(sha256), encodeTree(tree));
      this.published.add(sha256);
    }
    await this.storage.put(experimentKey(record.id), JSON.stringify(record));
  }

  private async uploadObjects(hashes: string[]): Promise<void> {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < hashes.length) {
        const sha256 = hashes[next++]!;
        const local = this.spool.objectPath(sha256);
        let handle;
        try {
          handle = await fs.open(local, "r");
        } catch (error) {
          // Published earlier (by us before a restart, or by a later capture of equal bytes).
          if ((error as NodeJS.ErrnoException).code === "ENOENT" && (await this.storage.stat(objectKey(sha256)))) {
            this.published.add(sha256);
            continue;
          }
          throw new CairnError("CORRUPT", `Captured object ${sha256} is missing from the spool ${this.spool.directory} and from the repository.`, { cause: error });
        }
        // Durable locally before the repository may refer to it.
        try {
          await handle.sync();
        } finally {
          await handle.close();
        }
        await this.storage.putFileIfAbsent(objectKey(sha256), local);
        await fs.rm(local, { force: true });
        this.published.add(sha256);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, hashes.length) }, worker));
  }
}

import type { Storage } from "../storage/storage.js";
import { diagnose } from "./diagnostics.js";
import { isAlive } from "./process-identity.js";
import { SpoolPublisher } from "./publisher.js";
import { hashCapturedCheckpoints } from "./hash-captures.js";
import { ExperimentSpool } from "./spool.js";
import { listSpools } from "./spool-folders.js";

export interface RecoveryReport {
  /** Experiments whose spool was published and removed. */
  published: string[];
  /** Spools still owned by a live process (left alone). */
  live: string[];
  /** Spools that could not be published (storage trouble); kept for next time. */
  failed: { directory: string; message: string }[];
}

/**
 * Publishes the spools of experiments whose process died (killed, or storage was down when it
 * stopped). Safe to run from several processes at once: every step is idempotent.
 *
 * @example
 * const report = await recoverSpools(storage); // on open, and by `cairn push`
 */
export async function recoverSpools(storage: Storage): Promise<RecoveryReport> {
  const report: RecoveryReport = { published: [], live: [], failed: [] };
  for (const directory of await listSpools(storage.localStateDirectory())) {
    const spool = ExperimentSpool.open(directory);
    const owner = await spool.owner();
    if (owner && isAlive(owner)) {
      report.live.push(directory);
      continue;
    }
    try {
      // A damaged journal is reported like a failed publish: it must not stop the repository opening.
      const state = await spool.readJournal({ settle: true });
      if (state === null) {
        // Died before its first journal line: nothing was promised to anyone.
        await spool.remove();
        continue;
      }
      await hashCapturedCheckpoints(spool, state, { journal: false });
      await new SpoolPublisher(storage, spool).publish(state.record, state.trees, state.objects);
      await spool.remove();
      report.published.push(state.record.id);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      report.failed.push({ directory, message });
      diagnose(`could not publish the left-over experiment in ${directory}: ${message}`);
    }
  }
  return report;
}

import { CairnError } from "../errors.js";
import { hashBytes } from "./hash.js";
import { encodeTree } from "./objects.js";
import type { ExperimentSpool, JournalState } from "./spool.js";
import type { Tree, TreeEntry } from "./types.js";

/**
 * Hashes the checkpoints whose files `checkpoint()` only copied, in the order recorded: each
 * file's SHA-256, its final name in the spool, the checkpoint's tree. The writer does this in
 * the background (journaling each result, so a crash need not redo it); recovery does it for a
 * dead writer. Until a checkpoint is hashed it is not published, nor anything recorded after it.
 *
 * `background` (the writer): the hashing does not keep the process alive (see spool.hashCaptured).
 *
 * @example
 * await hashCapturedCheckpoints(spool, state, { journal: true, background: true });
 */
export async function hashCapturedCheckpoints(spool: ExperimentSpool, state: JournalState, options: { journal: boolean; background?: boolean }): Promise<void> {
  for (const [checkpointId, files] of [...state.unhashed]) {
    const checkpoint = state.record.checkpoints.find((c) => c.id === checkpointId);
    if (!checkpoint) continue;
    const entries: TreeEntry[] = [];
    for (const file of files) {
      const digest = await spool.hashCaptured(file.spool, { background: options.background });
      if (digest === null) {
        throw new CairnError("CORRUPT", `The captured copy of ${file.path} (checkpoint ${checkpointId.slice(0, 7)}) is missing from the spool ${spool.directory}.`);
      }
      entries.push({ path: file.path, size: digest.size, sha256: digest.sha256, mode: file.mode });
    }
    const tree: Tree = { files: entries };
    // Journal first: if the process dies during the renames, replay finishes them.
    if (options.journal) spool.append({ type: "hashed", checkpointId, tree });
    for (const [index, file] of files.entries()) await spool.settleCaptured(file.spool, entries[index]!.sha256);
    const sha256 = hashBytes(encodeTree(tree));
    checkpoint.tree = { sha256, files: entries.length, bytes: entries.reduce((sum, e) => sum + e.size, 0) };
    state.trees.set(sha256, tree);
    state.unhashed.delete(checkpointId);
  }
}

/** The checkpoints that may be published: all of them up to the first one not hashed yet. */
export function publishableCheckpoints(state: JournalState): JournalState["record"]["checkpoints"] {
  const checkpoints = state.record.checkpoints;
  const firstUnhashed = checkpoints.findIndex((c) => state.unhashed.has(c.id));
  return firstUnhashed === -1 ? checkpoints : checkpoints.slice(0, firstUnhashed);
}

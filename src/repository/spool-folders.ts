import * as fs from "node:fs/promises";
import * as path from "node:path";

/**
 * Where spools live under a repository's local state directory: `spool/<id>/`, one per
 * experiment whose writes are not all published yet. Apart from spool.ts so that opening a
 * repository can ask whether there are any without loading the code that publishes them.
 */

/**
 * Folders of every spool under a local state directory.
 *
 * @example
 * if ((await listSpools(storage.localStateDirectory())).length > 0) await recoverSpools(storage);
 */
export async function listSpools(stateDirectory: string): Promise<string[]> {
  try {
    const entries = await fs.readdir(path.join(stateDirectory, "spool"), { withFileTypes: true });
    // Hidden names are spools still being created (see ExperimentSpool.create).
    return entries.filter((e) => e.isDirectory() && !e.name.startsWith(".")).map((e) => path.join(stateDirectory, "spool", e.name));
  } catch {
    return [];
  }
}

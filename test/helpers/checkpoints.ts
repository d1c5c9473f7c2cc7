import * as path from "node:path";
import { openRepository, type Checkpoint, type TreeEntry } from "../../src/index.js";
import { chunkObject } from "../../src/repository/packs.js";
import { makeProject } from "./project.js";

/**
 * A project whose one checkpoint holds `files` under `model/`, recorded and published through
 * the public API into the project's local `.cairn` repository. The caller removes `dir`.
 *
 * @example
 * const { dir, checkpoint, entries } = await checkpointOf({ "weights.bin": bytes });
 */
export async function checkpointOf(files: Record<string, Buffer>): Promise<{ dir: string; checkpoint: Checkpoint; entries: TreeEntry[] }> {
  const dir = await makeProject({ "code/train.py": "x = 1\n", ...Object.fromEntries(Object.entries(files).map(([name, bytes]) => [`model/${name}`, bytes])) });
  const repository = await openRepository(path.join(dir, ".cairn"), { projectDirectory: dir });
  const run = await repository.init({ path: "code" });
  await run.checkpoint({ path: "model", metrics: { loss: 0.1 } });
  await run.stop();
  const checkpoint = (await repository.getExperiment(run.id)).latest()!;
  return { dir, checkpoint, entries: await checkpoint.files() };
}

/** A chunk as a tree lists it. */
export type Chunk = NonNullable<TreeEntry["chunks"]>[number];

/**
 * Where a chunk's bytes are in a local repository: the object holding it (its pack, or the
 * chunk itself when stored alone), as a key and a file, and the chunk's offset in it.
 *
 * @example
 * const { file, offset } = chunkHolder(path.join(dir, ".cairn"), entry.chunks![2]!);
 */
export function chunkHolder(repositoryFolder: string, chunk: Chunk): { sha256: string; key: string; file: string; offset: number } {
  const sha256 = chunkObject(chunk);
  const key = `objects/${sha256.slice(0, 2)}/${sha256}`;
  return { sha256, key, file: path.join(repositoryFolder, key), offset: chunk.offset ?? 0 };
}

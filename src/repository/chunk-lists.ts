import * as fs from "node:fs/promises";
import * as path from "node:path";
import { randomBytes } from "node:crypto";
import { encodeChunk } from "./objects.js";
import { chunkObject } from "./packs.js";
import type { ChunkRef } from "./types.js";
import { parseChunkList } from "./validate.js";

export type { ChunkRef };

/**
 * The chunk lists of a spool: `chunks/<sha256>.json` beside `objects/`, one per large captured
 * file whose chunks are in the repository. Written (durably) before the captured copy is
 * deleted from the spool, so a publish redone after a crash still knows the file's chunks; gc
 * counts them as referenced until the spool is gone. Not part of the repository format.
 */
function listFile(spoolDirectory: string, sha256: string): string {
  return path.join(spoolDirectory, "chunks", `${sha256}.json`);
}

/**
 * Records a file's chunk list in its spool, durably (written, fsynced, renamed into place).
 *
 * @example
 * await saveChunkList(spool.directory, fileSha, [{ sha256: "ab…", size: 1048576 }]);
 */
export async function saveChunkList(spoolDirectory: string, sha256: string, chunks: ChunkRef[]): Promise<void> {
  const file = listFile(spoolDirectory, sha256);
  await fs.mkdir(path.dirname(file), { recursive: true });
  const temporary = `${file}.tmp-${randomBytes(6).toString("hex")}`;
  const handle = await fs.open(temporary, "wx");
  try {
    await handle.writeFile(JSON.stringify(chunks.map(encodeChunk)));
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(temporary, file);
}

/**
 * A file's chunk list from its spool, or null when there is none (or it is unreadable: the
 * file is then chunked again, which gives the same list).
 *
 * @example
 * const chunks = await loadChunkList(spool.directory, fileSha);
 */
export async function loadChunkList(spoolDirectory: string, sha256: string): Promise<ChunkRef[] | null> {
  try {
    return parseList(await fs.readFile(listFile(spoolDirectory, sha256), "utf8"));
  } catch {
    return null;
  }
}

/**
 * Every object that holds a chunk listed in a spool, its pack or the chunk itself (for gc,
 * which must keep them).
 *
 * @example
 * for (const sha of await spoolChunkHashes(directory)) referenced.add(sha);
 */
export async function spoolChunkHashes(spoolDirectory: string): Promise<string[]> {
  const folder = path.join(spoolDirectory, "chunks");
  const names = await fs.readdir(folder).catch(() => [] as string[]);
  const hashes: string[] = [];
  for (const name of names) {
    if (!name.endsWith(".json")) continue;
    const list = await fs.readFile(path.join(folder, name), "utf8").then(parseList, () => null);
    for (const chunk of list ?? []) hashes.push(chunkObject(chunk));
  }
  return hashes;
}

function parseList(text: string): ChunkRef[] | null {
  try {
    return parseChunkList(JSON.parse(text));
  } catch {
    return null; // torn by a crash: chunked again
  }
}

import * as fs from "node:fs/promises";
import * as path from "node:path";
import { CairnError } from "../errors.js";
import { mapLimit } from "../repository/load.js";
import { toPosix } from "../repository/paths.js";
import type { CapturedFile, ExperimentSpool } from "../repository/spool.js";
import type { Tree, TreeEntry, TreeRef } from "../repository/types.js";
import { encodeTree } from "../repository/objects.js";
import { hashBytes } from "../repository/hash.js";

export interface SourceFile {
  /** Stored path: POSIX, relative to the project directory. */
  path: string;
  absolutePath: string;
  mode: number;
}

/**
 * The files under a checkpoint's `path` (a file or a folder, relative to the project). Symbolic
 * links to files are followed (a "latest.pth -> epoch9.pth" link stores the bytes); links to
 * folders are not, so a loop cannot make this run forever.
 *
 * @example
 * const files = await listCheckpointFiles("/home/ana/project", "model");
 */
export async function listCheckpointFiles(projectDirectory: string, relativePath: string): Promise<SourceFile[]> {
  const absolute = path.resolve(projectDirectory, relativePath);
  const relativeToProject = path.relative(projectDirectory, absolute);
  if (relativeToProject === "" || relativeToProject.startsWith("..") || path.isAbsolute(relativeToProject)) {
    throw new CairnError(
      "INVALID_ARGUMENT",
      `checkpoint path "${relativePath}" must name a file or folder inside the project directory ${projectDirectory}.`,
    );
  }
  let stats;
  try {
    stats = await fs.stat(absolute);
  } catch {
    throw new CairnError("INVALID_ARGUMENT", `checkpoint path "${relativePath}" does not exist (looked for ${absolute}). Save the model there before calling checkpoint(), or leave out "path" to record metrics only.`);
  }
  if (stats.isFile()) return [{ path: toPosix(relativeToProject), absolutePath: absolute, mode: modeOf(stats.mode) }];
  if (!stats.isDirectory()) throw new CairnError("INVALID_ARGUMENT", `checkpoint path "${relativePath}" is neither a file nor a folder.`);
  const files: SourceFile[] = [];
  const walk = async (directory: string): Promise<void> => {
    for (const entry of await fs.readdir(directory, { withFileTypes: true })) {
      const full = path.join(directory, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile()) files.push({ path: toPosix(path.relative(projectDirectory, full)), absolutePath: full, mode: modeOf((await fs.stat(full)).mode) });
      else if (entry.isSymbolicLink()) {
        const target = await fs.stat(full).catch(() => null);
        if (target?.isFile()) files.push({ path: toPosix(path.relative(projectDirectory, full)), absolutePath: full, mode: modeOf(target.mode) });
      }
    }
  };
  await walk(absolute);
  files.sort((a, b) => (a.path < b.path ? -1 : 1));
  return files;
}

function modeOf(mode: number): number {
  return mode & 0o111 ? 0o755 : 0o644;
}

/**
 * Copies files into the spool, without hashing them: what `checkpoint()` waits for. The writer
 * hashes them in the background.
 *
 * @example
 * const captured = await captureFiles(spool, files);
 */
export async function captureFiles(spool: ExperimentSpool, files: SourceFile[]): Promise<CapturedFile[]> {
  return mapLimit(files, 4, async (file) => {
    const { spool: name, size } = await spool.captureFile(file.absolutePath);
    return { path: file.path, size, mode: file.mode, spool: name };
  });
}

/**
 * Copies files into the spool (hashing as they go) and returns their tree and its reference:
 * for the code snapshot, whose hash the record needs from the start.
 *
 * @example
 * const { tree, ref } = await captureTree(spool, files);
 */
export async function captureTree(spool: ExperimentSpool, files: SourceFile[]): Promise<{ tree: Tree; ref: TreeRef }> {
  const entries = await mapLimit(files, 4, async (file): Promise<TreeEntry> => {
    const { sha256, size } = await spool.captureAndHashFile(file.absolutePath);
    return { path: file.path, size, sha256, mode: file.mode };
  });
  const tree: Tree = { files: entries };
  const ref: TreeRef = { sha256: hashBytes(encodeTree(tree)), files: entries.length, bytes: entries.reduce((sum, e) => sum + e.size, 0) };
  return { tree, ref };
}

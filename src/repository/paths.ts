import * as fs from "node:fs/promises";
import * as path from "node:path";
import { CairnError } from "../errors.js";

/**
 * Why a path stored in a repository is unsafe to use under a target folder, or null when it is
 * fine. Stored paths are POSIX, relative, with no empty, "." or ".." segment, no backslash and no
 * NUL: a hostile repository must not make checkout write outside the folder it was given.
 *
 * @example
 * checkRelativePath("../etc/passwd"); // 'has a ".." segment'
 */
export function checkRelativePath(value: string): string | null {
  if (value.length === 0) return "is empty";
  if (value.length > 4096) return "is longer than 4096 characters";
  if (value.includes("\0")) return "contains a NUL character";
  if (value.includes("\\")) return "contains a backslash";
  if (value.startsWith("/") || /^[a-zA-Z]:/.test(value)) return "is absolute";
  for (const segment of value.split("/")) {
    if (segment === "") return "has an empty segment";
    if (segment === "." || segment === "..") return `has a "${segment}" segment`;
    // File systems refuse longer names; say so here rather than fail halfway through a checkout.
    if (Buffer.byteLength(segment) > 255) return "has a name longer than 255 bytes";
  }
  return null;
}

/**
 * Resolves a stored relative path under `root` and checks that no existing component of it is a
 * symbolic link (which could point outside), throwing UNSAFE_PATH otherwise.
 *
 * @example
 * const target = await safeJoin("/tmp/out", "model/weights.bin");
 */
export async function safeJoin(root: string, relative: string): Promise<string> {
  const problem = checkRelativePath(relative);
  if (problem) throw new CairnError("UNSAFE_PATH", `Refusing path ${JSON.stringify(relative)}: it ${problem}.`);
  const absoluteRoot = path.resolve(root);
  const target = path.join(absoluteRoot, ...relative.split("/"));
  if (!target.startsWith(absoluteRoot + path.sep)) {
    throw new CairnError("UNSAFE_PATH", `Refusing path ${JSON.stringify(relative)}: it leaves ${absoluteRoot}.`);
  }
  let current = absoluteRoot;
  for (const segment of relative.split("/")) {
    current = path.join(current, segment);
    try {
      const stats = await fs.lstat(current);
      if (stats.isSymbolicLink()) {
        throw new CairnError("UNSAFE_PATH", `Refusing to write through ${current}: it is a symbolic link. Remove it or choose another output folder.`);
      }
      if (current !== target && !stats.isDirectory()) {
        throw new CairnError("UNSAFE_PATH", `Cannot write ${JSON.stringify(relative)}: ${current} exists and is not a folder.`);
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") break;
      throw error;
    }
  }
  return target;
}

/** Converts an OS path relative to a folder into the stored POSIX form. */
export function toPosix(relative: string): string {
  return relative.split(path.sep).join("/");
}

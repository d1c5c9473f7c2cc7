import * as fs from "node:fs";
import * as path from "node:path";

/**
 * A token for the entries of local folders that changes whenever a file is created in one of
 * them, renamed into or out of it, or deleted: built from each folder's change time (ctime),
 * which the kernel sets on every such change and which, unlike the modification time, no
 * program can set back (`touch -d`, `cp -a`, `rsync -t` restore mtimes, not ctimes). Cairn's
 * writers replace every file by renaming a new one into place, so a listing whose folders have
 * the same token as last time can reuse what it read last time without a stat per file.
 *
 * File system clocks are coarse (a few milliseconds, or a second or two on some file systems):
 * a folder changed in the same tick as the token was taken could change again within that tick
 * and keep the same ctime ("racy git"). So the token is only given when every folder's ctime is
 * strictly older than the file system's own clock now, read as the ctime of a file written in
 * `clockFolder` just before: then any later change gets a later ctime. Reading the clock from the
 * file system, not from Date.now(), keeps this right on network file systems whose server's
 * clock differs from ours. Null when the clock file cannot be written (a read-only copy) or a
 * folder is not settled yet; the caller then lists the folders as usual.
 *
 * What it does not see: a file rewritten in place (opened and overwritten, not renamed), which
 * changes the file but not its folder. Cairn never writes that way; docs/FORMAT.md says so.
 *
 * @example
 * const version = folderVersion(["/repo/experiments", "/repo/summaries"], "/repo/local");
 * // ... list both folders ...; later, the same token means nothing was added, replaced or removed
 */
export function folderVersion(folders: string[], clockFolder: string): string | null {
  let now: bigint;
  try {
    now = fileSystemNow(clockFolder);
  } catch {
    return null;
  }
  const parts: string[] = [];
  for (const folder of folders) {
    let stats: fs.BigIntStats;
    try {
      stats = fs.statSync(folder, { bigint: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") return null;
      parts.push("-"); // absent: creating it changes the token
      continue;
    }
    if (!stats.isDirectory() || stats.ctimeNs >= now) return null;
    // The device and inode tell a folder replaced by another (a restored backup) apart.
    parts.push(`${stats.dev}:${stats.ino}:${stats.ctimeNs}:${stats.mtimeNs}`);
  }
  return parts.join(" ");
}

/** The file system's clock: the change time of a small file written now in `folder`. */
function fileSystemNow(folder: string): bigint {
  fs.mkdirSync(folder, { recursive: true });
  const fd = fs.openSync(path.join(folder, "clock"), "w");
  try {
    fs.writeSync(fd, "1");
    return fs.fstatSync(fd, { bigint: true }).ctimeNs;
  } finally {
    fs.closeSync(fd);
  }
}

import { lstat, type Dirent, type Stats } from "node:fs";
import { readFile, readdir, stat } from "node:fs/promises";
import path from "node:path";
import type { Ignore } from "ignore";
import { CairnError } from "../errors.js";

export interface SnapshotFile {
  /** POSIX, relative to the snapshot root. */
  path: string;
  absolutePath: string;
  size: number;
  /** 0o644 or 0o755, from the owner's executable bit (what git keeps, too). */
  mode: number;
}

export interface SnapshotListing {
  /** Sorted by `path` (plain code-unit order, so it is the same on every machine). */
  files: SnapshotFile[];
  totalBytes: number;
  /** The five biggest folders at any depth, root excluded, biggest first. */
  largestFolders: { path: string; bytes: number }[];
}

export interface ListSnapshotOptions {
  /** Name of the per-folder ignore files; ".cairnignore" by default. */
  ignoreFileName?: string;
}

/** Above this size `formatSnapshotWarning` returns a warning for the caller to show. */
export const SNAPSHOT_WARN_BYTES = 100 * 1024 * 1024;

/** Read in every folder of the snapshot; the name the user can put rules in. */
export const DEFAULT_IGNORE_FILE_NAME = ".cairnignore";

/** Never part of a code snapshot, whatever the ignore files say. */
// cairn.yaml is Cairn's configuration, not code, and people put tokens next to its settings.
const ALWAYS_SKIPPED_NAMES = new Set([".git", "node_modules", ".cairn", "__pycache__", "venv", ".venv", ".DS_Store", "cairn.yaml"]);

/** Enough to keep the disk busy without exhausting file descriptors on big trees. */
const FS_CONCURRENCY = 64;

/** Errors that mean "this entry vanished or is unreadable": skip it rather than fail the run. */
const SKIPPABLE_CODES = new Set(["ENOENT", "ENOTDIR", "EACCES", "EPERM", "ELOOP"]);

/**
 * Lists the files of a project folder that make up its code snapshot, honouring `.cairnignore`
 * files (gitignore syntax, in the root and in any subfolder) and always leaving out version
 * control folders, dependencies, caches and virtualenvs.
 *
 * Symlinks are skipped entirely: following them could pull in a whole dataset or loop forever,
 * and a link is not a file of the project. Sockets, FIFOs and devices are skipped too.
 *
 * @example
 * const listing = await listSnapshotFiles("/home/me/project");
 * const warning = formatSnapshotWarning(listing);
 * if (warning) console.warn(warning);
 */
export async function listSnapshotFiles(root: string, options: ListSnapshotOptions = {}): Promise<SnapshotListing> {
  const rootAbsolute = path.resolve(root);
  const ignoreFileName = options.ignoreFileName ?? DEFAULT_IGNORE_FILE_NAME;
  let rootStat;
  try {
    // The root itself may be a symlink the user chose; only links inside it are skipped.
    rootStat = await stat(rootAbsolute);
  } catch (error) {
    throw new CairnError("INVALID_ARGUMENT", `Cannot snapshot ${rootAbsolute}: it does not exist or cannot be read. Pass the project folder as "path".`, { cause: error });
  }
  if (!rootStat.isDirectory()) {
    throw new CairnError("INVALID_ARGUMENT", `Cannot snapshot ${rootAbsolute}: it is not a folder. Pass the project folder as "path".`);
  }

  // Loaded here rather than at the top: the package takes about 50 ms to load, which every
  // `cairn` command paid (through the API's modules) though only a snapshot needs it.
  const { default: ignore } = await import("ignore");
  const limit = createLimiter(FS_CONCURRENCY);
  const files: SnapshotFile[] = [];
  const ignoreCase = process.platform === "darwin" || process.platform === "win32";

  async function walk(directoryAbsolute: string, directoryRelative: string, inherited: Ignore): Promise<void> {
    let entries: Dirent[];
    try {
      entries = await limit(() => readdir(directoryAbsolute, { withFileTypes: true }));
    } catch (error) {
      if (isSkippable(error)) return;
      throw error;
    }
    // A virtualenv can be named anything ("env", "py311"...); pyvenv.cfg is what marks one.
    if (directoryRelative !== "" && entries.some((entry) => entry.name === "pyvenv.cfg")) return;

    let rules = inherited;
    const ignoreFile = entries.find((entry) => entry.name === ignoreFileName && entry.isFile());
    if (ignoreFile) {
      const text = await limit(() => readFile(path.join(directoryAbsolute, ignoreFileName), "utf8")).catch(() => null);
      if (text !== null) {
        // One matcher holding the outer rules, then these: later rules win, as deeper files do
        // in git, and a folder an outer file excludes can be re-included from inside.
        rules = ignore({ ignorecase: ignoreCase }).add(inherited).add(rebaseIgnoreRules(text, directoryRelative));
      }
    }

    const pending: Promise<void>[] = [];
    for (const entry of entries) {
      const name = entry.name;
      if (ALWAYS_SKIPPED_NAMES.has(name) || name.endsWith(".pyc")) continue;
      const relative = directoryRelative === "" ? name : `${directoryRelative}/${name}`;
      const absolute = path.join(directoryAbsolute, name);
      if (entry.isDirectory()) {
        // Excluded folders are never entered, so their contents cannot be re-included (as in git).
        if (!rules.ignores(`${relative}/`)) pending.push(walk(absolute, relative, rules));
      } else if (entry.isFile()) {
        if (!rules.ignores(relative)) pending.push(addFile(absolute, relative));
      }
      // Anything else (symlink, socket, FIFO, device) is not a file of the project.
    }
    await Promise.all(pending);
  }

  async function addFile(absolutePath: string, relative: string): Promise<void> {
    let stats: Stats;
    try {
      stats = await limit(() => lstatFast(absolutePath));
    } catch (error) {
      if (isSkippable(error)) return;
      throw error;
    }
    // It may have been replaced by a link or a folder since readdir.
    if (!stats.isFile()) return;
    files.push({ path: relative, absolutePath, size: stats.size, mode: stats.mode & 0o100 ? 0o755 : 0o644 });
  }

  await walk(rootAbsolute, "", ignore({ ignorecase: ignoreCase }));

  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  let totalBytes = 0;
  const folderBytes = new Map<string, number>();
  for (const file of files) {
    totalBytes += file.size;
    for (let slash = file.path.indexOf("/"); slash !== -1; slash = file.path.indexOf("/", slash + 1)) {
      const folder = file.path.slice(0, slash);
      folderBytes.set(folder, (folderBytes.get(folder) ?? 0) + file.size);
    }
  }
  const largestFolders = [...folderBytes]
    .map(([folderPath, bytes]) => ({ path: folderPath, bytes }))
    .sort((a, b) => b.bytes - a.bytes || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .slice(0, 5);

  return { files, totalBytes, largestFolders };
}

/**
 * A warning for a code snapshot bigger than `thresholdBytes` (100 MB by default), naming the
 * largest folders and suggesting the ignore file; null when the snapshot is small. The library
 * never prints: the caller decides where this goes.
 *
 * @example
 * const warning = formatSnapshotWarning(await listSnapshotFiles("."));
 * // "Code snapshot is 1.2 GB in 20000 files (over 100 MB). Add large folders ... Largest folders:\n  data  1.1 GB\n..."
 */
export function formatSnapshotWarning(
  listing: SnapshotListing,
  options: { thresholdBytes?: number; ignoreFileName?: string } = {},
): string | null {
  const threshold = options.thresholdBytes ?? SNAPSHOT_WARN_BYTES;
  if (listing.totalBytes <= threshold) return null;
  const ignoreFileName = options.ignoreFileName ?? DEFAULT_IGNORE_FILE_NAME;
  const count = listing.files.length;
  let text =
    `Code snapshot is ${formatBytes(listing.totalBytes)} in ${count} file${count === 1 ? "" : "s"} (over ${formatBytes(threshold)}). ` +
    `Add data, outputs and other large folders to ${ignoreFileName} to leave them out.`;
  if (listing.largestFolders.length > 0) {
    const width = Math.max(...listing.largestFolders.map((folder) => folder.path.length + 1));
    text += " Largest folders:";
    for (const folder of listing.largestFolders) {
      text += `\n  ${`${folder.path}/`.padEnd(width)}  ${formatBytes(folder.bytes)}`;
    }
  }
  return text;
}

function formatBytes(bytes: number): string {
  const units = ["bytes", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  if (unit === 0) return `${bytes} bytes`;
  return `${value >= 100 || Number.isInteger(value) ? value.toFixed(0) : value.toFixed(1)} ${units[unit]}`;
}

/**
 * Rewrites the rules of an ignore file in `base` (relative to the root) so they apply from the
 * root with the same meaning: a pattern with a slash before its end is anchored to `base`, one
 * without matches at any depth below `base`. Exported for tests only.
 *
 * @example
 * rebaseIgnoreRules("/cache\n!/keep.csv", "exp"); // ["exp/cache", "!exp/keep.csv"]
 */
export function rebaseIgnoreRules(text: string, base: string): string[] {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  if (base === "") return lines;
  // The folder name is literal text inside a pattern: escape what gitignore would interpret.
  const prefix = base.replace(/[\\*?[\]!#]/g, "\\$&");
  const rebased: string[] = [];
  for (const line of lines) {
    if (line.trim() === "" || line.startsWith("#")) continue;
    const negative = line.startsWith("!");
    const body = negative ? line.slice(1) : line;
    const anchored = body.trimEnd().replace(/\/$/, "").includes("/");
    const relative = anchored ? body.replace(/^\//, "") : `**/${body}`;
    rebased.push(`${negative ? "!" : ""}${prefix}/${relative}`);
  }
  return rebased;
}

/**
 * The callback lstat: on Node 20 the promise version costs about twice as much per call, which
 * is most of the time spent listing a tree of 20,000 files.
 */
function lstatFast(file: string): Promise<Stats> {
  return new Promise((resolve, reject) => lstat(file, (error, stats) => (error ? reject(error) : resolve(stats))));
}

function isSkippable(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return code !== undefined && SKIPPABLE_CODES.has(code);
}

/** Runs at most `concurrency` tasks at once; a finished task hands its slot to the next waiter. */
function createLimiter(concurrency: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  // A queue with a moving head: Array#shift is O(n), and a big tree queues thousands of stats.
  let waiting: (() => void)[] = [];
  let head = 0;
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (active < concurrency) active += 1;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await task();
    } finally {
      if (head < waiting.length) {
        const next = waiting[head]!;
        head += 1;
        if (head === waiting.length) {
          waiting = [];
          head = 0;
        }
        next();
      } else {
        active -= 1;
      }
    }
  };
}

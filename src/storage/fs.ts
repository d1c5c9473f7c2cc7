import * as fs from "node:fs/promises";
import * as fsSync from "node:fs";
import * as path from "node:path";
import type { Readable } from "node:stream";
import { randomBytes } from "node:crypto";
import { CairnError } from "../errors.js";
import { FIELDS, FileState, readFilesInBulk } from "./bulk-read.js";
import { folderVersion } from "./folder-version.js";
import type { ByteRange, ManyRead, ObjectInfo, Storage } from "./storage.js";


/** A key with an empty, "." or ".." segment (so also "", a leading or trailing "/", or "//"). */
const UNSAFE_KEY = /(?:^|\/)\.{0,2}(?:\/|$)/;

/** Files up to this size are read synchronously by `get` (see readWhole): a few milliseconds at most. */
const SMALL_READ_BYTES = 256 * 1024;

/**
 * The local-folder driver: each key is a file under `root`. Writes go to a temporary file that is
 * fsynced and renamed into place, so a reader sees the old object or the new one, never half.
 *
 * @example
 * const storage = createFileStorage("/home/ana/project/.cairn");
 * await storage.put("experiments/abc.json", "{}");
 */
export function createFileStorage(root: string): Storage {
  const absoluteRoot = path.resolve(root);

  // Joined by concatenation where "/" is the separator: a listing maps 10,000 keys, and
  // path.join normalises each one again, which a checked key never needs.
  const rootPrefix = absoluteRoot.endsWith(path.sep) ? absoluteRoot : absoluteRoot + path.sep;

  /** Maps a key to a file path, refusing keys that would leave the root. */
  function fileOf(key: string): string {
    if (UNSAFE_KEY.test(key)) {
      throw new CairnError("UNSAFE_PATH", `Refusing storage key "${key}": keys are relative paths without "." or ".." segments.`);
    }
    return path.sep === "/" ? rootPrefix + key : path.join(absoluteRoot, ...key.split("/"));
  }

  async function writeAtomically(file: string, body: Buffer | string, exclusive: boolean): Promise<boolean> {
    await fs.mkdir(path.dirname(file), { recursive: true });
    const temporary = `${file}.tmp-${randomBytes(6).toString("hex")}`;
    const handle = await fs.open(temporary, "wx");
    try {
      await handle.writeFile(body);
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (exclusive) return linkIntoPlace(temporary, file, true);
    await fs.rename(temporary, file);
    return true;
  }

  /** link() fails with EEXIST instead of replacing: the atomic "create if absent" of POSIX. */
  async function linkIntoPlace(source: string, file: string, removeSource: boolean): Promise<boolean> {
    await fs.mkdir(path.dirname(file), { recursive: true });
    try {
      await fs.link(source, file);
      return true;
    } catch (error) {
      if (code(error) === "EEXIST") return false;
      if (code(error) === "EXDEV" || code(error) === "EPERM" || code(error) === "ENOTSUP") {
        // Another file system (or one without hard links): copy, fsync, then link the copy.
        const copy = `${file}.tmp-${randomBytes(6).toString("hex")}`;
        await fs.copyFile(source, copy);
        const handle = await fs.open(copy, "r+");
        await handle.sync().finally(() => handle.close());
        return linkIntoPlace(copy, file, true);
      }
      throw error;
    } finally {
      if (removeSource) await fs.rm(source, { force: true });
    }
  }

  /**
   * Every file under a folder, recursively, as keys (and infos with `stat`), collected
   * synchronously: a listing of 10,000 experiments walks 30,000 files, and an asynchronous
   * directory walk spends more on promises and thread-pool round trips than on the system calls
   * (a stat from the inode cache takes a few microseconds).
   */
  function collect(directory: string, keyPrefix: string, prefix: string, withInfo: boolean, into: (string | ObjectInfo)[]): void {
    let entries;
    try {
      entries = fsSync.readdirSync(directory, { withFileTypes: true });
    } catch (error) {
      if (code(error) === "ENOENT" || code(error) === "ENOTDIR") return;
      throw error;
    }
    for (const entry of entries) {
      const key = keyPrefix === "" ? entry.name : `${keyPrefix}/${entry.name}`;
      if (entry.isDirectory()) {
        // Only folders that can hold keys with the prefix.
        if (prefix.startsWith(`${key}/`) || key.startsWith(prefix)) collect(childOf(directory, entry.name), key, prefix, withInfo, into);
      } else if (entry.isFile() && !entry.name.includes(".tmp-") && key.startsWith(prefix)) {
        if (!withInfo) into.push(key);
        else {
          const info = statFileNow(childOf(directory, entry.name), key);
          if (info) into.push(info);
        }
      }
    }
  }

  /** The folder to start a walk for `prefix` from, and its key. */
  function startOf(prefix: string): { directory: string; folder: string } {
    const folder = prefix.includes("/") ? prefix.slice(0, prefix.lastIndexOf("/")) : "";
    return { directory: folder === "" ? absoluteRoot : fileOf(folder), folder };
  }

  function infoOf(stats: fsSync.BigIntStats, key: string): ObjectInfo | null {
    if (!stats.isFile()) return null;
    // Nanosecond times: a record rewritten twice within a millisecond, whose new file got the
    // old inode number back, must still get a new etag (readers cache records by etag).
    return infoFromFields(key, stats.size, stats.mtimeMs, stats.mtimeNs, stats.ctimeNs, stats.ino);
  }

  function infoFromFields(key: string, size: bigint, mtimeMs: bigint, mtimeNs: bigint, ctimeNs: bigint, ino: bigint): ObjectInfo {
    return { key, size: Number(size), modified: new Date(Number(mtimeMs)), etag: `${mtimeNs}-${ctimeNs}-${size}-${ino}` };
  }

  async function statFile(file: string, key: string): Promise<ObjectInfo | null> {
    try {
      return infoOf(await fs.stat(file, { bigint: true }), key);
    } catch (error) {
      if (code(error) === "ENOENT" || code(error) === "ENOTDIR") return null;
      throw error;
    }
  }

  function statFileNow(file: string, key: string): ObjectInfo | null {
    try {
      return infoOf(fsSync.statSync(file, { bigint: true }), key);
    } catch (error) {
      if (code(error) === "ENOENT" || code(error) === "ENOTDIR") return null;
      throw error;
    }
  }

  /**
   * A whole file's bytes, with what `describe` makes of the open file (its size and whatever else
   * the caller wants from the same fstat, so they agree; null: not a file to read). Small files
   * (records, summaries, trees: a listing reads 10,000 of them, and four thread-pool round trips
   * each cost more than the reads) are read without leaving the event loop; larger ones (chunks)
   * through the same descriptor on the thread pool, in one read of their size where the kernel
   * allows, rather than reopened by readFile and read in 512 KiB pieces (a local checkout reads
   * hundreds of chunks).
   */
  async function readWhole<T>(file: string, describe: (fd: number) => { size: number; value: T } | null): Promise<{ body: Buffer; value: T } | null> {
    const fd = fsSync.openSync(file, "r");
    let closeNow = true;
    try {
      const described = describe(fd);
      if (described === null) return null;
      const { size, value } = described;
      if (size <= SMALL_READ_BYTES) return { body: readNow(fd, size), value };
      closeNow = false;
      const body = await readLater(fd, size).finally(() => fsSync.close(fd, () => {}));
      return { body, value };
    } finally {
      if (closeNow) fsSync.closeSync(fd);
    }
  }

  function readNow(fd: number, size: number): Buffer {
    const buffer = Buffer.allocUnsafe(size);
    let read = 0;
    while (read < size) {
      const n = fsSync.readSync(fd, buffer, read, size - read, read);
      if (n === 0) break; // truncated under us: return what is there; the hash check decides
      read += n;
    }
    return read === size ? buffer : buffer.subarray(0, read);
  }

  async function readLater(fd: number, size: number): Promise<Buffer> {
    const buffer = Buffer.allocUnsafe(size);
    let read = 0;
    while (read < size) {
      const n = await new Promise<number>((resolve, reject) => fsSync.read(fd, buffer, read, size - read, read, (error, bytes) => (error ? reject(error) : resolve(bytes))));
      if (n === 0) break;
      read += n;
    }
    return read === size ? buffer : buffer.subarray(0, read);
  }

  async function getWithInfo(key: string): Promise<{ body: Buffer; info: ObjectInfo } | null> {
    const file = fileOf(key);
    try {
      const read = await readWhole(file, (fd) => {
        const info = infoOf(fsSync.fstatSync(fd, { bigint: true }), key);
        return info === null ? null : { size: info.size, value: info };
      });
      return read === null ? null : { body: read.body, info: read.value };
    } catch (error) {
      if (code(error) === "ENOENT" || code(error) === "ENOTDIR") return null;
      throw error;
    }
  }

  return {
    url: absoluteRoot,
    async get(key) {
      try {
        return (await readWhole(fileOf(key), (fd) => ({ size: fsSync.fstatSync(fd).size, value: null })))!.body;
      } catch (error) {
        if (code(error) === "ENOENT" || code(error) === "ENOTDIR") return null;
        throw error;
      }
    },
    getWithInfo,
    async *getManyWithInfo(keys: readonly string[]): AsyncIterable<ManyRead[]> {
      for await (const batch of readFilesInBulk(keys.map(fileOf))) {
        const bytes = Buffer.from(batch.bytes.buffer, batch.bytes.byteOffset, batch.bytes.length);
        const reads: ManyRead[] = [];
        let start = 0;
        for (let i = 0; i < batch.ends.length; i++) {
          const key = keys[batch.first + i]!;
          const at = i * FIELDS;
          const state = batch.stats[at];
          const end = batch.ends[i]!;
          if (state === FileState.Read) {
            // The inode number went as a signed 64-bit integer; etags spell it unsigned, as fstat gives it.
            const info = infoFromFields(key, batch.stats[at + 1]!, batch.stats[at + 2]!, batch.stats[at + 3]!, batch.stats[at + 4]!, BigInt.asUintN(64, batch.stats[at + 5]!));
            reads.push({ key, object: { body: bytes.subarray(start, end), info } });
          } else if (state === FileState.Failed) {
            // Read again here, to throw what getWithInfo throws for it (or read it, if that passed).
            reads.push({ key, object: await getWithInfo(key) });
          } else {
            reads.push({ key, object: null });
          }
          start = end;
        }
        yield reads;
      }
    },
    async getStream(key: string, range?: ByteRange): Promise<Readable | null> {
      const file = fileOf(key);
      try {
        const handle = await fs.open(file, "r");
        // The stream owns the handle and closes it when done.
        return handle.createReadStream({ start: range?.start, end: range?.end, highWaterMark: 1024 * 1024 });
      } catch (error) {
        if (code(error) === "ENOENT" || code(error) === "ENOTDIR") return null;
        throw error;
      }
    },
    stat: (key) => statFile(fileOf(key), key),
    async put(key, body) {
      await writeAtomically(fileOf(key), body, false);
    },
    putIfAbsent: (key, body) => writeAtomically(fileOf(key), body, true),
    putFileIfAbsent: (key, localPath) => linkIntoPlace(localPath, fileOf(key), false),
    list(prefix) {
      // Walk only the deepest folder the prefix names, keeping keys with the whole prefix.
      const { directory, folder } = startOf(prefix);
      return iterate(() => {
        const found: ObjectInfo[] = [];
        collect(directory, folder, prefix, true, found as (string | ObjectInfo)[]);
        return found;
      });
    },
    listKeys(prefix) {
      const { directory, folder } = startOf(prefix);
      return iterate(() => {
        const found: string[] = [];
        collect(directory, folder, prefix, false, found as (string | ObjectInfo)[]);
        return found;
      });
    },
    folderVersion(prefixes) {
      // Synchronous: a handful of system calls, cheaper than the promises around them.
      return folderVersion(prefixes.map((prefix) => fileOf(prefix.replace(/\/+$/, ""))), path.join(absoluteRoot, "local"));
    },
    async delete(key) {
      await fs.rm(fileOf(key), { force: true });
    },
    localPath: (key) => fileOf(key),
    localStateDirectory: () => path.join(absoluteRoot, "local"),
  };
}

/** A file in a folder: `path.join` without normalising, which a name read from the folder never needs. */
function childOf(directory: string, name: string): string {
  return directory.endsWith(path.sep) ? directory + name : directory + path.sep + name;
}

/** An async iterable over what `produce` returns, produced when iteration starts (not before). */
function iterate<T>(produce: () => T[]): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator]() {
      const items = produce();
      let index = 0;
      return {
        next: () => Promise.resolve(index < items.length ? { value: items[index++]!, done: false } : { value: undefined, done: true as const }),
      } as AsyncIterator<T>;
    },
  };
}

function code(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

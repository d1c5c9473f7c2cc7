import * as fs from "node:fs/promises";
import * as path from "node:path";
import type { Readable } from "node:stream";
import { randomBytes } from "node:crypto";
import { CairnError } from "../errors.js";
import type { ByteRange, ObjectInfo, Storage } from "./storage.js";

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

  /** Maps a key to a file path, refusing keys that would leave the root. */
  function fileOf(key: string): string {
    if (key === "" || key.startsWith("/") || key.split("/").some((s) => s === ".." || s === "." || s === "")) {
      throw new CairnError("UNSAFE_PATH", `Refusing storage key "${key}": keys are relative paths without "." or ".." segments.`);
    }
    return path.join(absoluteRoot, ...key.split("/"));
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

  async function* walk(directory: string, keyPrefix: string): AsyncIterable<ObjectInfo> {
    let entries;
    try {
      entries = await fs.readdir(directory, { withFileTypes: true });
    } catch (error) {
      if (code(error) === "ENOENT" || code(error) === "ENOTDIR") return;
      throw error;
    }
    for (const entry of entries) {
      const key = keyPrefix === "" ? entry.name : `${keyPrefix}/${entry.name}`;
      const full = path.join(directory, entry.name);
      if (entry.isDirectory()) {
        yield* walk(full, key);
      } else if (entry.isFile() && !entry.name.includes(".tmp-")) {
        const info = await statFile(full, key);
        if (info) yield info;
      }
    }
  }

  async function statFile(file: string, key: string): Promise<ObjectInfo | null> {
    try {
      // Nanosecond times: a record rewritten twice within a millisecond, whose new file got the
      // old inode number back, must still get a new etag (readers cache records by etag).
      const stats = await fs.stat(file, { bigint: true });
      if (!stats.isFile()) return null;
      return { key, size: Number(stats.size), modified: new Date(Number(stats.mtimeMs)), etag: `${stats.mtimeNs}-${stats.ctimeNs}-${stats.size}-${stats.ino}` };
    } catch (error) {
      if (code(error) === "ENOENT" || code(error) === "ENOTDIR") return null;
      throw error;
    }
  }

  return {
    url: absoluteRoot,
    async get(key) {
      try {
        return await fs.readFile(fileOf(key));
      } catch (error) {
        if (code(error) === "ENOENT" || code(error) === "ENOTDIR") return null;
        throw error;
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
      // Walk only the deepest folder the prefix names, then filter by the rest of the prefix.
      const folder = prefix.includes("/") ? prefix.slice(0, prefix.lastIndexOf("/")) : "";
      const directory = folder === "" ? absoluteRoot : fileOf(folder);
      const inner = walk(directory, folder);
      return (async function* () {
        for await (const info of inner) if (info.key.startsWith(prefix)) yield info;
      })();
    },
    async delete(key) {
      await fs.rm(fileOf(key), { force: true });
    },
    localStateDirectory: () => path.join(absoluteRoot, "local"),
  };
}

function code(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

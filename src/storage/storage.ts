import type { Readable } from "node:stream";

/**
 * The one small interface every storage driver implements (local folder, S3, GCS, Azure).
 * Keys are "/"-separated relative paths such as "objects/ab/ab12...". "Not found" is `null`,
 * never an exception; vendor errors are mapped to CairnError("STORAGE") by status or name.
 */
export interface ObjectInfo {
  key: string;
  size: number;
  /** The server's modification time (used for heartbeats: no clock skew between machines). */
  modified: Date;
  /** An ETag, generation or mtime+size token that changes whenever the object does. */
  etag: string;
}

/** One object read by Storage.getManyWithInfo: its bytes and info, or null when it is not there. */
export interface ManyRead {
  key: string;
  object: { body: Buffer; info: ObjectInfo } | null;
}

export interface ByteRange {
  start: number;
  /** Inclusive end offset; to the end when left out. */
  end?: number;
}

/** How a read treats a caching layer (object-cache.ts); storages without one ignore it. */
export interface ReadOptions {
  /**
   * false: keep no copy of what is read, because the caller writes the bytes to disk itself (a
   * checkout): a second copy would double the disk writes (measured: a 1 GiB checkout from
   * radosgw took 1.6x as long with it). Copies kept already are still read.
   */
  keepCopy?: boolean;
  /**
   * true: the caller hands every byte it reads on in views and gives each view back with
   * returnViews (buffer-pool.ts) once written, so large bodies may be read into pooled buffers
   * (what a checkout from a bucket does: the S3 lean path's GETs). Storages without a pool
   * ignore it.
   */
  borrowBuffers?: boolean;
}

export interface Storage {
  /** The URL this storage was opened from, for messages. */
  readonly url: string;
  /** Reads a whole (small) object. */
  get(key: string, options?: ReadOptions): Promise<Buffer | null>;
  /**
   * Reads a whole (small) object with the info of the version read (its etag), where that costs
   * no more than `get` (a local folder: a stat of the file it has open). Optional; callers fall
   * back to `stat` and `get`.
   */
  getWithInfo?(key: string): Promise<{ body: Buffer; info: ObjectInfo } | null>;
  /**
   * Reads many whole (small) objects, each with the info of the version read, in batches as
   * they are read (in no fixed order); an object not there (removed since it was listed) has
   * `object: null`. What a listing's first read of 10,000 summaries uses: a local folder reads
   * them on two threads (bulk-read.ts). Optional; callers fall back to getWithInfo per key.
   */
  getManyWithInfo?(keys: readonly string[]): AsyncIterable<ManyRead[]>;
  /**
   * Reads a whole (small) object as the pieces it arrived in, not joined into one buffer: what
   * a chunked file's read uses for the packs it fetches from a bucket (joining them cost 0.6 s of
   * copying per GiB and most of the read's garbage collection, measured on radosgw). Optional;
   * callers fall back to `get` (storagePieces below).
   */
  getPieces?(key: string, options?: ReadOptions): Promise<Buffer[] | null>;
  /** Streams an object or a byte range of it. */
  getStream(key: string, range?: ByteRange, options?: ReadOptions): Promise<Readable | null>;
  stat(key: string): Promise<ObjectInfo | null>;
  /** Writes an object atomically, replacing any previous version (records, heartbeats). */
  put(key: string, body: Buffer | string): Promise<void>;
  /** Writes only when absent (content-addressed objects); false when it already existed. */
  putIfAbsent(key: string, body: Buffer | string): Promise<boolean>;
  /**
   * Stores a local file under `key` only when absent; false when it already existed. The local
   * file is left in place (a driver may hard-link it). The caller has already made it durable.
   */
  putFileIfAbsent(key: string, localPath: string): Promise<boolean>;
  /**
   * Stores `range.size` bytes of a local file from `range.offset` as the object named by their
   * SHA-256 (`objects/<aa>/<sha256>`), only when absent (with `probe`, after asking whether it
   * exists); resolves to the name and whether this call stored it. Optional: where it is missing,
   * putFileRangeAsObject (file-range.ts) reads and hashes the range here. The background storage
   * has it, so that a pack is read and hashed on the thread that uploads it.
   */
  putFileRangeAsObject?(localPath: string, range: { offset: number; size: number }, probe: boolean): Promise<{ sha256: string; written: boolean }>;
  /** Every object whose key starts with `prefix`, recursively, in no particular order. */
  list(prefix: string): AsyncIterable<ObjectInfo>;
  /**
   * Every key starting with `prefix`, without size, time or etag: only where that is much
   * cheaper than `list` (a local folder, where `list` must stat every file). Optional; callers
   * fall back to `list`.
   */
  listKeys?(prefix: string): AsyncIterable<string>;
  /**
   * A token that changes whenever a key directly under one of the folders `prefixes` (each
   * ending in "/") is added, replaced by a rename or removed; null when there is no cheap way to
   * tell, or when a folder changed too recently for a later change to be told apart. Optional
   * (local folders only); see fs.ts.
   */
  folderVersion?(prefixes: readonly string[]): string | null;
  /** Deletes an object; absent is fine. */
  delete(key: string): Promise<void>;
  /**
   * The file on this machine that holds `key`, for drivers whose objects are plain files (a
   * local folder): lets a checkout copy them in the kernel. Optional; remote drivers have none.
   */
  localPath?(key: string): string;
  /**
   * Tells a caching layer that objects it handed out through `get` were verified by the caller
   * (their bytes hash to their names): the object cache keeps a downloaded object only then, so
   * the reader's hash is the only one. Resolves once the copies are in place (a reader that
   * waits for it before ending leaves them even if its process exits at once). Optional; only
   * the object cache has it.
   */
  confirmObjects?(sha256s: readonly string[]): Promise<void>;
  /** A local folder for this repository's spool and caches, on this machine. */
  localStateDirectory(): string;
  /** Releases connections (remote drivers); the storage is not used afterwards. Optional. */
  close?(): Promise<void>;
}

/**
 * Pieces joined into one buffer (a single piece as it is, without a copy).
 *
 * @example
 * const bytes = joinPieces(await storage.getPieces!(key) ?? []);
 */
export function joinPieces(pieces: readonly Buffer[]): Buffer {
  return pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
}

/**
 * An object's bytes as pieces: `getPieces` where the storage has it, else `get` as one piece.
 *
 * @example
 * const pieces = await storagePieces(storage, "objects/ab/ab12…", { keepCopy: false });
 */
export async function storagePieces(storage: Storage, key: string, options?: ReadOptions): Promise<Buffer[] | null> {
  if (storage.getPieces) return storage.getPieces(key, options);
  const bytes = await storage.get(key, options);
  return bytes === null ? null : [bytes];
}

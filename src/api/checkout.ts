import * as fs from "node:fs/promises";
import * as path from "node:path";
import { randomBytes } from "node:crypto";
import { pipeline } from "node:stream/promises";
import { CairnError } from "../errors.js";
import { hashFile } from "../repository/hash.js";
import { openFileStream } from "../repository/objects.js";
import { safeJoin } from "../repository/paths.js";
import { copyStampedFile } from "../repository/stamped-copy.js";
import type { TreeEntry } from "../repository/types.js";
import { createFileWriteStream } from "../storage/file-writes.js";
import { returnViews } from "../storage/buffer-pool.js";
import type { Storage } from "../storage/storage.js";

/**
 * How much a checkout's file stream buffers before writing: the bytes may arrive in the pieces a
 * socket delivers (64 KiB; Azure), and the stream writes what it holds with writev calls of
 * FILE_WRITE_BYTES (file-writes.ts). With Node's default (16 KiB) each piece was one write, and
 * a 1 GiB checkout from radosgw took 6.5-7 s instead of 4.3-5 s (measured).
 */
const WRITE_BUFFER_BYTES = 8 * 1024 * 1024;

export interface CheckoutOptions {
  outputDirectory: string;
  /** Overwrite files that exist and differ (default: refuse and list them). */
  force?: boolean;
  /** Only files under this stored path (a file or a folder). */
  path?: string;
  /** Called as bytes are written (for progress bars): bytes done so far, and the total to write. */
  onProgress?: (done: number, total: number) => void;
}

export interface CheckoutResult {
  outputDirectory: string;
  /** Stored paths written. */
  written: string[];
  /** Stored paths already present with the same contents. */
  unchanged: string[];
}

/** Keeps the entries at or under `wanted` (a stored file or folder path). */
export function selectEntries(entries: TreeEntry[], wanted: string | undefined): TreeEntry[] {
  if (wanted === undefined) return entries;
  const clean = wanted.replace(/^\.\/+/, "").replace(/\/+$/, "");
  const selected = entries.filter((e) => e.path === clean || e.path.startsWith(clean + "/"));
  if (selected.length === 0) {
    const sample = entries.slice(0, 10).map((e) => `  ${e.path}`).join("\n");
    throw new CairnError("NOT_FOUND", `Nothing stored at "${wanted}". Stored files include:\n${sample}`);
  }
  return selected;
}

/**
 * Writes stored files into a folder, never outside it. Non-destructive: when a file exists with
 * other contents, nothing is written and the error lists every such file, unless `force`.
 * Each file is streamed into a temporary file beside its target, verified, then renamed (or,
 * verified before and unchanged since, copied there by the kernel: stamped-copy.ts).
 *
 * @example
 * await checkoutEntries(storage, tree.files, { outputDirectory: "weights" }, "checkpoint 3ccb2f1");
 */
export async function checkoutEntries(storage: Storage, entries: TreeEntry[], options: CheckoutOptions, context: string): Promise<CheckoutResult> {
  const outputDirectory = path.resolve(options.outputDirectory);
  const byFoldedName = new Map<string, string>();
  for (const entry of entries) {
    // Two names that differ only by case would overwrite each other on macOS and Windows.
    // macOS also equates the composed and decomposed forms of accented letters (NFC, NFD).
    const folded = entry.path.normalize("NFC").toLowerCase();
    const other = byFoldedName.get(folded);
    if (other !== undefined && other !== entry.path) {
      throw new CairnError("UNSAFE_PATH", `Refusing to check out ${context}: "${other}" and "${entry.path}" differ only by case or Unicode form and would collide on a case-insensitive file system.`);
    }
    byFoldedName.set(folded, entry.path);
  }
  const plan: { entry: TreeEntry; target: string }[] = [];
  const unchanged: string[] = [];
  const conflicts: string[] = [];
  for (const entry of entries) {
    const target = await safeJoin(outputDirectory, entry.path);
    const existing = await fs.lstat(target).catch(() => null);
    if (existing === null) plan.push({ entry, target });
    else if (existing.isFile() && existing.size === entry.size && (await hashFile(target)).sha256 === entry.sha256) unchanged.push(entry.path);
    else if (!existing.isFile()) throw new CairnError("CONFLICT", `Cannot write ${target}: something that is not a regular file is there. Move it away or choose another output folder.`);
    else {
      conflicts.push(entry.path);
      plan.push({ entry, target });
    }
  }
  if (conflicts.length > 0 && !options.force) {
    const list = conflicts.slice(0, 20).map((p) => `  ${p}`).join("\n");
    throw new CairnError(
      "CONFLICT",
      `${conflicts.length} file(s) in ${outputDirectory} exist with different contents; nothing was written:\n${list}${conflicts.length > 20 ? `\n  … and ${conflicts.length - 20} more` : ""}\nUse --force (force: true) to overwrite them, or another output folder.`,
      { details: { conflicts } },
    );
  }
  const written: string[] = [];
  const total = plan.reduce((sum, p) => sum + p.entry.size, 0);
  let done = 0;
  options.onProgress?.(0, total);
  for (const { entry, target } of plan) {
    await fs.mkdir(path.dirname(target), { recursive: true });
    // Checked again right before writing: the folder may have changed since the plan.
    await safeJoin(outputDirectory, entry.path);
    const temporary = path.join(path.dirname(target), `.${path.basename(target)}.cairn-${randomBytes(4).toString("hex")}`);
    try {
      const progress = (bytes: number): void => {
        done += bytes;
        options.onProgress?.(done, total);
      };
      // A file of a local repository verified before and unchanged since is copied by the
      // kernel (stamped-copy.ts); anything else is read and verified as it is written.
      let copiedBytes = 0;
      const copied = await copyStampedFile(storage, entry, temporary, entry.mode, (bytes) => {
        copiedBytes += bytes;
        progress(bytes);
      });
      if (!copied) {
        done -= copiedBytes; // a copy given up half-way: its bytes are read again below
        // The file written is this machine's copy: the object cache keeps none of its own. The
        // network's pieces are not joined: the file stream buffers up to WRITE_BUFFER_BYTES of
        // them and writes them with writev calls of FILE_WRITE_BYTES.
        // Each piece, once in the file, is given back: a bucket's packs are read into pooled
        // buffers (buffer-pool.ts), reused as soon as every byte of one is written.
        const source = await openFileStream(storage, entry, `${entry.path} of ${context}`, { keepCopy: false, joinPieces: false, borrowBuffers: true });
        if (options.onProgress) source.on("data", (chunk: Buffer) => progress(chunk.length));
        await pipeline(source, createFileWriteStream(temporary, { flags: "wx", mode: entry.mode, highWaterMark: WRITE_BUFFER_BYTES, written: returnViews }));
      }
      await fs.chmod(temporary, entry.mode);
      await fs.rename(temporary, target);
    } catch (error) {
      await fs.rm(temporary, { force: true });
      throw error;
    }
    written.push(entry.path);
  }
  return { outputDirectory, written, unchanged };
}


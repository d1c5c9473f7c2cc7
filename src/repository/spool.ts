import { closeSync, fsyncSync, openSync, writeSync } from "node:fs";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { randomBytes } from "node:crypto";
import { CairnError } from "../errors.js";
import { hashFileOffThread } from "../storage/worker-hash.js";
import { copyAndHash, hashBytes } from "./hash.js";
import { experimentKey, isSha256, objectKey } from "./layout.js";
import { parseExperimentRecord, parseTree } from "./validate.js";
import { currentProcess, type ProcessIdentity } from "./process-identity.js";
import type { CheckpointRecord, ExperimentRecord, Tree } from "./types.js";
import { encodeTree } from "./objects.js";

/**
 * The spool: what a running experiment has captured but not yet published, on local disk, so a
 * crash loses nothing. One folder per experiment under `<local state>/spool/<id>/`:
 *
 *   owner.json       the writing process (pid, host, start time)
 *   journal.jsonl    one JSON line per event: the experiment, each checkpoint, the stop
 *   objects/<sha>    captured file contents, named by their SHA-256
 *
 * The journal is the truth for an unpublished experiment: replaying it rebuilds the record.
 */
export type JournalEntry =
  | { type: "experiment"; record: ExperimentRecord; codeTree: Tree | null; objects: string[] }
  | { type: "checkpoint"; checkpoint: CheckpointRecord; tree: Tree | null }
  /** A checkpoint whose files are copied into the spool but not hashed yet (tree still null). */
  | { type: "capture"; checkpoint: CheckpointRecord; files: CapturedFile[] }
  /** The files of a captured checkpoint, hashed: its tree. */
  | { type: "hashed"; checkpointId: string; tree: Tree }
  | { type: "stop"; time: string };

/** A file copied into the spool under a temporary name, before it is hashed. */
export interface CapturedFile {
  path: string;
  size: number;
  mode: number;
  /** Its name in the spool's objects/ folder until hashing renames it to its SHA-256. */
  spool: string;
}

export interface JournalState {
  record: ExperimentRecord;
  /** Trees to publish, by hash. */
  trees: Map<string, Tree>;
  /** Objects the experiment itself needs (code snapshot, git diff). */
  objects: string[];
  /** Checkpoints captured but not hashed yet, by ID, in the order recorded. */
  unhashed: Map<string, CapturedFile[]>;
}

export class ExperimentSpool {
  private journalFd: number | null = null;

  private constructor(readonly directory: string) {}

  /**
   * Creates the spool of a new experiment and takes ownership of it.
   *
   * @example
   * const spool = await ExperimentSpool.create(storage.localStateDirectory(), id);
   */
  static async create(stateDirectory: string, experimentId: string): Promise<ExperimentSpool> {
    const spool = new ExperimentSpool(path.join(stateDirectory, "spool", experimentId));
    // Built under a hidden name and renamed into place: another process's recovery must never
    // see the spool before its owner.json, take it for a dead writer's, and delete it.
    const staging = path.join(stateDirectory, "spool", `.new-${experimentId}-${randomBytes(4).toString("hex")}`);
    await fs.mkdir(path.join(staging, "objects"), { recursive: true });
    await fs.writeFile(path.join(staging, "owner.json"), JSON.stringify(currentProcess()));
    await fs.rename(staging, spool.directory);
    spool.journalFd = openSync(path.join(spool.directory, "journal.jsonl"), "a");
    return spool;
  }

  /** Opens an existing spool (for recovery). */
  static open(directory: string): ExperimentSpool {
    return new ExperimentSpool(directory);
  }

  objectPath(sha256: string): string {
    return path.join(this.directory, "objects", sha256);
  }

  /**
   * Appends one event. A plain write() with no fsync: it survives the process being killed (the
   * page cache keeps it), costs microseconds, and the training loop must not wait on a disk.
   */
  append(entry: JournalEntry): void {
    if (this.journalFd === null) throw new Error("spool is closed");
    writeSync(this.journalFd, JSON.stringify(entry) + "\n");
  }

  /** Makes the journal durable (before a record is published from it at stop). */
  syncJournal(): void {
    if (this.journalFd !== null) fsyncSync(this.journalFd);
  }

  close(): void {
    if (this.journalFd !== null) closeSync(this.journalFd);
    this.journalFd = null;
  }

  /**
   * Copies a file into the spool, named by its hash, hashing it on the way (for the code
   * snapshot, whose hashes the record needs at once).
   */
  async captureAndHashFile(source: string): Promise<{ sha256: string; size: number }> {
    const temporary = path.join(this.directory, "objects", `.tmp-${randomBytes(6).toString("hex")}`);
    try {
      const digest = await copyAndHash(source, temporary);
      await fs.rename(temporary, this.objectPath(digest.sha256));
      return digest;
    } catch (error) {
      await fs.rm(temporary, { force: true });
      throw error;
    }
  }

  /**
   * Copies a file into the spool under a temporary name, with the kernel's copy (a reflink
   * where the file system has them), and nothing else: this is all `checkpoint()` waits for.
   * The copy is private to the spool, so hashing it later, in the background, hashes exactly
   * what will be stored; the script may overwrite the original as soon as this returns.
   */
  async captureFile(source: string): Promise<{ spool: string; size: number }> {
    const name = `.cap-${randomBytes(8).toString("hex")}`;
    const temporary = path.join(this.directory, "objects", name);
    try {
      await fs.copyFile(source, temporary, fs.constants.COPYFILE_EXCL | fs.constants.COPYFILE_FICLONE);
      const { size } = await fs.stat(temporary);
      return { spool: name, size };
    } catch (error) {
      await fs.rm(temporary, { force: true });
      throw error;
    }
  }

  /**
   * Hashes a captured file (on the background worker: see hashFileOffThread). Idempotent: when
   * the temporary name is gone (renamed by an earlier attempt that died before journaling it),
   * null. `background` (a running experiment's writer) does not keep the process alive.
   */
  async hashCaptured(name: string, options: { background?: boolean } = {}): Promise<{ sha256: string; size: number } | null> {
    const temporary = path.join(this.directory, "objects", name);
    let digest;
    try {
      digest = await hashFileOffThread(temporary, { keepAlive: options.background !== true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw error;
    }
    return digest;
  }

  /** Gives a hashed captured file its final name (if an earlier attempt has not already). */
  async settleCaptured(name: string, sha256: string): Promise<void> {
    try {
      await fs.rename(path.join(this.directory, "objects", name), this.objectPath(sha256));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
  }

  /** Stores bytes (a git diff) in the spool like a captured file. */
  async captureBytes(bytes: Buffer | string): Promise<string> {
    const sha256 = hashBytes(bytes);
    const temporary = path.join(this.directory, "objects", `.tmp-${randomBytes(6).toString("hex")}`);
    await fs.writeFile(temporary, bytes);
    await fs.rename(temporary, this.objectPath(sha256));
    return sha256;
  }

  async owner(): Promise<ProcessIdentity | null> {
    try {
      return JSON.parse(await fs.readFile(path.join(this.directory, "owner.json"), "utf8")) as ProcessIdentity;
    } catch {
      return null;
    }
  }

  /**
   * Replays the journal. A torn last line (the process died mid-write) is ignored; so is
   * anything after it. A line that is JSON but not a journal entry, or a replay that does not
   * make a valid record, is damage: CairnError("CORRUPT"), so nothing invalid is published.
   * With `settle` (recovery of a dead writer's spool), hashed captures get their final names.
   */
  async readJournal(options: { settle?: boolean } = {}): Promise<JournalState | null> {
    const file = path.join(this.directory, "journal.jsonl");
    let text: string;
    try {
      text = await fs.readFile(file, "utf8");
    } catch {
      return null;
    }
    const damaged = (why: string): never => {
      throw new CairnError("CORRUPT", `The journal ${file} cannot be replayed: ${why}. Nothing of it was published; the spool is left in place.`);
    };
    let state: JournalState | null = null;
    for (const [index, line] of text.split("\n").entries()) {
      if (line === "") continue;
      let entry: JournalEntry;
      try {
        entry = JSON.parse(line) as JournalEntry;
      } catch {
        break;
      }
      const what = `line ${index + 1}`;
      if (typeof entry !== "object" || entry === null) damaged(`${what} is not an object`);
      if (entry.type === "experiment") {
        if (typeof entry.record !== "object" || entry.record === null) damaged(`${what} has no record`);
        const objects = entry.objects ?? [];
        if (!Array.isArray(objects) || !objects.every(isSha256)) damaged(`${what}: "objects" is not a list of SHA-256`);
        state = { record: { ...entry.record, checkpoints: [] }, trees: new Map(), objects, unhashed: new Map() };
        if (entry.codeTree && isSha256(entry.record.code?.sha256)) state.trees.set(entry.record.code.sha256, entry.codeTree);
      } else if (state && entry.type === "checkpoint") {
        if (typeof entry.checkpoint !== "object" || entry.checkpoint === null) damaged(`${what} has no checkpoint`);
        state.record.checkpoints.push(entry.checkpoint);
        if (entry.tree && isSha256(entry.checkpoint.tree?.sha256)) state.trees.set(entry.checkpoint.tree.sha256, entry.tree);
      } else if (state && entry.type === "capture") {
        if (typeof entry.checkpoint !== "object" || entry.checkpoint === null || !Array.isArray(entry.files)) damaged(`${what} is not a capture`);
        state.record.checkpoints.push({ ...entry.checkpoint, tree: null });
        state.unhashed.set(entry.checkpoint.id, entry.files);
      } else if (state && entry.type === "hashed") {
        const checkpoint = state.record.checkpoints.find((c) => c.id === entry.checkpointId);
        const files = state.unhashed.get(entry.checkpointId);
        if (!checkpoint || !files || typeof entry.tree !== "object" || entry.tree === null || !Array.isArray(entry.tree.files)) {
          return damaged(`${what} hashes no captured checkpoint`);
        }
        const bytes = encodeTree(entry.tree);
        const sha256 = hashBytes(bytes);
        checkpoint.tree = { sha256, files: entry.tree.files.length, bytes: entry.tree.files.reduce((sum, f) => sum + f.size, 0) };
        state.trees.set(sha256, entry.tree);
        state.unhashed.delete(entry.checkpointId);
        // Renames the journal promised but a dead writer may not have lived to do (recovery only:
        // a live writer's spool is its own).
        for (const file of options.settle ? files : []) {
          const hashed = entry.tree.files.find((f) => f.path === file.path);
          if (hashed && isSha256(hashed.sha256)) await this.settleCaptured(file.spool, hashed.sha256);
        }
      } else if (state && entry.type === "stop") {
        state.record.stopped = entry.time;
      }
    }
    if (state === null) return null;
    // What is published must be what any reader accepts.
    try {
      state.record = parseExperimentRecord(JSON.stringify(state.record), experimentKey(path.basename(this.directory)));
      for (const [sha256, tree] of state.trees) parseTree(JSON.stringify(tree), objectKey(sha256));
    } catch (error) {
      if (!(error instanceof CairnError)) throw error;
      damaged(error.message.replace(/ Run "cairn verify".*$/, "").replace(/\.$/, ""));
    }
    return state;
  }

  async remove(): Promise<void> {
    this.close();
    await fs.rm(this.directory, { recursive: true, force: true });
  }
}

import type { Storage } from "../storage/storage.js";
import { backgroundStorage } from "../storage/worker-storage.js";
import { diagnose } from "./diagnostics.js";
import { heartbeatKey } from "./layout.js";
import { SpoolPublisher } from "./publisher.js";
import type { CapturedFile, ExperimentSpool, JournalState } from "./spool.js";
import { hashCapturedCheckpoints, publishableCheckpoints } from "./hash-captures.js";
import type { CheckpointRecord, ExperimentRecord, Tree } from "./types.js";

/**
 * The background half of a running experiment. `checkpoint()` hands it a captured checkpoint and
 * returns; this publishes in the background, coalescing bursts into one record write, retrying
 * storage trouble with backoff, and never throwing into the training loop.
 *
 * None of that keeps the process alive: uploads and hashing run on an unref'd worker thread
 * (see worker-client.ts), heartbeats and pauses on unref'd timers, so a script that ends without
 * stop() is seen to end ('beforeExit') and exit handling stops it, showing progress. Whoever
 * waits for the writer (init(), stop(), exit handling) does so through flush(), which holds the
 * process alive until the publish is done or its time is up.
 */
export class ExperimentWriter {
  private readonly record: ExperimentRecord;
  private readonly trees: Map<string, Tree>;
  private readonly objects: string[];
  private readonly journalState: JournalState;
  private readonly publisher: SpoolPublisher;
  /** The storage as the background sees it: its calls on the worker thread. */
  private readonly background: Storage;
  private heartbeat: NodeJS.Timeout | null = null;
  private loop: Promise<void> | null = null;
  private dirty = true;
  private urgent = true;
  private failures = 0;
  private lastError: unknown = null;
  private wake: (() => void) | null = null;
  private stopping = false;
  /** stop() gave up on the storage: no more retries, so the process can end ("cairn push" takes over). */
  private abandoned = false;
  /** Whether a heartbeat is known to be in the repository (see run). */
  private beaten = false;

  constructor(
    private readonly storage: Storage,
    private readonly spool: ExperimentSpool,
    state: JournalState,
    private readonly options: { minRecordIntervalMs?: number } = {},
  ) {
    this.journalState = state;
    this.record = state.record;
    this.trees = state.trees;
    this.objects = state.objects;
    this.background = backgroundStorage(storage);
    this.publisher = new SpoolPublisher(this.background, spool, { background: true });
  }

  get id(): string {
    return this.record.id;
  }

  /** Starts heartbeats and the first publish. */
  start(): void {
    // The first heartbeat is written by the first publish round, before anything it uploads.
    this.heartbeat = setInterval(() => this.beat(), this.record.heartbeatIntervalMs);
    // A heartbeat must not keep a finished script alive; exit handling stops the writer.
    this.heartbeat.unref();
    this.schedule(true);
  }

  /**
   * Records a captured checkpoint: journal first (so a crash cannot lose it), then publish.
   *
   * @example
   * writer.addCheckpoint(checkpointRecord, tree);
   */
  addCheckpoint(checkpoint: CheckpointRecord, tree: Tree | null): void {
    this.spool.append({ type: "checkpoint", checkpoint, tree });
    this.record.checkpoints.push(checkpoint);
    if (tree && checkpoint.tree) this.trees.set(checkpoint.tree.sha256, tree);
    // Files deserve to be visible soon; a burst of metrics-only calls can wait for the next write.
    this.schedule(tree !== null);
  }

  /**
   * Records a checkpoint whose files are copied into the spool but not hashed: journal first,
   * then hashing and publishing in the background.
   *
   * @example
   * writer.addCapturedCheckpoint(checkpointRecord, await captureFiles(spool, files));
   */
  addCapturedCheckpoint(checkpoint: CheckpointRecord, files: CapturedFile[]): void {
    this.spool.append({ type: "capture", checkpoint, files });
    this.record.checkpoints.push(checkpoint);
    this.journalState.unhashed.set(checkpoint.id, files);
    this.schedule(true);
  }

  /** How many checkpoints the record holds (including unpublished ones). */
  get checkpointCount(): number {
    return this.record.checkpoints.length;
  }

  get checkpoints(): readonly CheckpointRecord[] {
    return this.record.checkpoints;
  }

  get state(): ExperimentRecord {
    return this.record;
  }

  /**
   * Marks the experiment stopped, waits for everything to be published, then removes the spool.
   * Resolves false when storage still fails after `timeoutMs`: the spool stays for `cairn push`.
   */
  async stop(options: { timeoutMs?: number; time?: Date } = {}): Promise<boolean> {
    if (this.record.stopped === null) {
      this.record.stopped = (options.time ?? new Date()).toISOString();
      this.spool.append({ type: "stop", time: this.record.stopped });
    }
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    const done = await this.flush(options.timeoutMs ?? stopTimeoutMs());
    if (done) await this.spool.remove();
    else {
      this.spool.close();
      this.abandoned = true;
      this.wake?.();
    }
    return done;
  }

  /** Marks the experiment stopped in the journal only: for process 'exit', where nothing async runs. */
  stopSynchronously(): void {
    if (this.record.stopped !== null) return;
    this.record.stopped = new Date().toISOString();
    this.spool.append({ type: "stop", time: this.record.stopped });
  }

  /**
   * Waits until everything recorded so far is published, or `timeoutMs` passes.
   *
   * @example
   * const complete = await writer.flush(60_000);
   */
  async flush(timeoutMs: number, options: { quiet?: boolean } = {}): Promise<boolean> {
    if (!options.quiet) this.stopping = true;
    this.schedule(true);
    // The deadline's timer is ref'd: it is what keeps the process alive while a caller waits
    // here, since the uploads themselves do not (see the class comment).
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    const expired = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        timedOut = true;
        resolve();
      }, Math.min(timeoutMs, MAX_TIMER_MS));
    });
    try {
      while (this.dirty || this.loop) {
        if (timedOut || this.abandoned) {
          if (options.quiet) return false;
          diagnose(
            `could not publish experiment ${this.record.id.slice(0, 7)} to ${this.storage.url}: ${describe(this.lastError).replace(/\.$/, "")}. ` +
              `Everything is kept on local disk in ${this.spool.directory}; run "cairn push" to publish it later.`,
          );
          return false;
        }
        if (!this.loop) this.schedule(true);
        await Promise.race([this.loop, expired]);
      }
      return true;
    } finally {
      clearTimeout(timer);
    }
  }

  private schedule(urgent: boolean): void {
    this.dirty = true;
    if (urgent) this.urgent = true;
    if (urgent && this.wake) this.wake();
    if (!this.loop) {
      this.loop = this.run().finally(() => {
        this.loop = null;
        // Scheduled after the loop's last look but before it ended: go round again.
        if (this.dirty && !this.abandoned) this.schedule(this.urgent);
      });
    }
  }

  private async run(): Promise<void> {
    while (this.dirty && !this.abandoned) {
      if (!this.urgent) await this.pause(this.options.minRecordIntervalMs ?? 1000);
      this.dirty = false;
      this.urgent = false;
      try {
        this.record.updated = new Date().toISOString();
        // gc keeps an unreferenced upload only for a writer it can see (gc.ts): by a record,
        // or before the first one, by a heartbeat. So one is durable before the first upload;
        // sent alongside it, it lost the race now and then, and gc deleted the first files.
        if (!this.beaten) {
          await this.background.put(heartbeatKey(this.record.id), this.heartbeatBody());
          this.beaten = true;
        }
        // Whether stopped as this round begins: then every checkpoint was journaled before, and
        // is hashed below. Read after the hashing, a stop() that came meanwhile (with more
        // checkpoints captured than this round hashed) was published with the round's shorter
        // list: readers saw a finished run short of its last checkpoints, and gc, taking it for
        // finished, deleted the files uploaded for them (the concurrency test, in CI).
        const stopped = this.record.stopped;
        // Files copied by checkpoint() are hashed here, off the training loop's path.
        await hashCapturedCheckpoints(this.spool, this.journalState, { journal: true, background: true });
        await this.publisher.publish({ ...this.record, stopped, checkpoints: publishableCheckpoints(this.journalState) }, this.trees, this.objects);
        if (this.failures > 0) diagnose(`publishing to ${this.storage.url} works again.`);
        this.failures = 0;
      } catch (error) {
        this.dirty = true;
        this.lastError = error;
        this.failures += 1;
        if (this.failures === 1) diagnose(`publishing to ${this.storage.url} failed (${describe(error)}); retrying in the background.`);
        if (!this.abandoned) await this.pause(Math.min(30_000, 250 * 2 ** Math.min(this.failures, 7)));
      }
    }
  }

  /** Sleeps, but wakes early when something urgent (a file checkpoint, stop) arrives. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      // Waiting between record writes must not keep a finished script alive; once stopping, it must.
      if (!this.stopping) timer.unref();
      const self = this;
      function done(): void {
        clearTimeout(timer);
        self.wake = null;
        resolve();
      }
      this.wake = done;
    });
  }

  private heartbeatBody(): string {
    return JSON.stringify({ time: new Date().toISOString(), pid: process.pid });
  }

  private beat(): void {
    this.background.put(heartbeatKey(this.record.id), this.heartbeatBody()).catch(() => {
      // A missed heartbeat only risks being shown as crashed for a while; publishing reports errors.
    });
  }
}

/** setTimeout's longest delay (about 24.8 days); a longer one would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * How long stop() (and exit handling) waits for storage before giving up and leaving the rest
 * on local disk for `cairn push`: CAIRN_STOP_TIMEOUT seconds, 10 minutes by default.
 */
function stopTimeoutMs(): number {
  const seconds = Number(process.env.CAIRN_STOP_TIMEOUT);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 10 * 60_000;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

import * as path from "node:path";
import { CairnError } from "../errors.js";
import { newId } from "../repository/ids.js";
import { encodeMetric } from "../repository/metrics.js";
import type { ExperimentSpool } from "../repository/spool.js";
import type { CheckpointRecord, PrimaryMetric, StoredMetric } from "../repository/types.js";
import type { ExperimentWriter } from "../repository/writer.js";
import { captureFiles, listCheckpointFiles } from "./capture-files.js";
import { registerForExit, unregisterForExit } from "./exit-hooks.js";
import { reportWhileWaiting } from "./wait-progress.js";
import { checkMetrics, checkPrimaryMetric, checkStep } from "./validate-input.js";

export interface CheckpointOptions {
  /** A file or folder, relative to the project directory; leave out to record metrics only. */
  path?: string;
  /** Counts up from 0 when left out (one more than the previous checkpoint's step). */
  step?: number;
  /** Numbers; NaN and ±Infinity are kept. */
  metrics?: Record<string, number>;
  /** ["loss", "minimize"] or ["accuracy", "maximize"]: what best() ranks by. */
  primaryMetric?: [string, "minimize" | "maximize"] | PrimaryMetric;
}

/** What checkpoint() returns: the recorded checkpoint. */
export interface RecordedCheckpoint {
  id: string;
  step: number;
  created: Date;
  metrics: Record<string, number>;
  primaryMetric: PrimaryMetric | null;
  path: string | null;
}

/**
 * A running experiment: what `cairn.init()` returns to a training script.
 *
 * @example
 * const experiment = await cairn.init({ path: ".", params: { lr: 0.01 } });
 * await experiment.checkpoint({ path: "model", metrics: { loss }, primaryMetric: ["loss", "minimize"] });
 * await experiment.stop();
 */
export class Run {
  private stopped: Promise<void> | null = null;
  private nextStep = 0;
  private interrupted = false;
  /** Captures run one at a time so steps and the journal keep the order of the calls. */
  private captureQueue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly writer: ExperimentWriter,
    private readonly spool: ExperimentSpool,
    private readonly projectDirectory: string,
    private readonly onStopped: (complete: boolean) => void = () => {},
  ) {
    registerForExit(this);
  }

  /** The experiment's full ID. */
  get id(): string {
    return this.writer.id;
  }

  get params(): unknown {
    return this.writer.state.params;
  }

  get created(): Date {
    return new Date(this.writer.state.created);
  }

  /** The project directory: where relative checkpoint paths resolve. */
  get directory(): string {
    return this.projectDirectory;
  }

  /**
   * Records a checkpoint. Files under `path` are copied before this returns, so the script may
   * overwrite them at once; publishing them happens in the background. Wrong arguments throw
   * at once; storage trouble never does (it is retried and reported on stderr).
   *
   * @example
   * await experiment.checkpoint({ path: "model.pth", step: epoch, metrics: { loss }, primaryMetric: ["loss", "minimize"] });
   */
  async checkpoint(options: CheckpointOptions = {}): Promise<RecordedCheckpoint> {
    // Interrupted by a signal: the process is about to end. Pause the training loop here rather
    // than throw into it while pending writes finish.
    if (this.interrupted) return new Promise(() => {});
    if (this.stopped) throw new CairnError("INVALID_ARGUMENT", `experiment ${this.id.slice(0, 7)} is stopped; start a new one with cairn.init() to record more checkpoints.`);
    if (typeof options !== "object" || options === null) throw new CairnError("INVALID_ARGUMENT", `checkpoint() takes an options object such as { path: "model.pth", metrics: { loss } }.`);
    const metrics = checkMetrics(options.metrics);
    const primaryMetric = checkPrimaryMetric(options.primaryMetric, metrics);
    const explicitStep = checkStep(options.step);
    if (options.path !== undefined && (typeof options.path !== "string" || options.path === "")) {
      throw new CairnError("INVALID_ARGUMENT", `checkpoint path must be a non-empty string naming a file or folder, like "model.pth".`);
    }
    const stored: Record<string, StoredMetric> = {};
    for (const [name, value] of Object.entries(metrics)) stored[name] = encodeMetric(value);

    const record = (tree: CheckpointRecord["tree"]): CheckpointRecord => {
      const step = explicitStep ?? this.nextStep;
      this.nextStep = step + 1;
      return { id: newId(), step, created: new Date().toISOString(), metrics: stored, primaryMetric, path: options.path === undefined ? null : this.relativePath(options.path), tree };
    };
    const recorded = (checkpoint: CheckpointRecord): RecordedCheckpoint => ({
      id: checkpoint.id,
      step: checkpoint.step,
      created: new Date(checkpoint.created),
      metrics: { ...metrics },
      primaryMetric,
      path: checkpoint.path,
    });

    if (options.path === undefined) {
      // The hot path for metrics-only calls: one journal line, nothing awaited on storage.
      const checkpoint = record(null);
      this.writer.addCheckpoint(checkpoint, null);
      return recorded(checkpoint);
    }
    const capture = this.captureQueue.then(async () => {
      const files = await listCheckpointFiles(this.projectDirectory, options.path!);
      const captured = await captureFiles(this.spool, files);
      const checkpoint = record(null);
      this.writer.addCapturedCheckpoint(checkpoint, captured);
      return recorded(checkpoint);
    });
    this.captureQueue = capture.catch(() => {});
    return capture;
  }

  /**
   * Marks the experiment stopped and waits until everything is published. Safe to call twice.
   *
   * @example
   * await experiment.stop();
   */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      await this.captureQueue;
      // A slow wait (uploads to a bucket) is reported on stderr; exit handling shares the report.
      const complete = await reportWhileWaiting([this.id], this.writer.stop());
      unregisterForExit(this);
      this.onStopped(complete);
    })();
    return this.stopped;
  }

  private relativePath(given: string): string {
    return path.relative(this.projectDirectory, path.resolve(this.projectDirectory, given)).split(path.sep).join("/");
  }

  /** @internal For SIGINT/SIGTERM: stops, and holds later checkpoint() calls instead of failing them. */
  interrupt(): Promise<void> {
    this.interrupted = true;
    return this.stop();
  }

  /** @internal For process 'exit': records the stop in the journal synchronously. */
  stopSynchronously(): void {
    this.writer.stopSynchronously();
  }
}

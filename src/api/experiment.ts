import { shortId } from "../repository/ids.js";
import type { LoadedExperiment } from "../repository/load.js";
import { readObject, readTree } from "../repository/objects.js";
import type {
  DependencyInfo,
  EnvironmentInfo,
  ExperimentStatus,
  GitInfo,
  Json,
  PrimaryMetric,
  TreeEntry,
  TreeRef,
} from "../repository/types.js";
import type { Storage } from "../storage/storage.js";
import { bestIndexOf, primaryMetricOf } from "./best.js";
import { Checkpoint } from "./checkpoint.js";
import { checkoutEntries, selectEntries, type CheckoutOptions, type CheckoutResult } from "./checkout.js";

/**
 * A recorded experiment, as read from a repository.
 *
 * @example
 * const experiment = await cairn.experiments.get("e510303");
 * const best = experiment.best();
 * console.log(experiment.params, best?.metrics);
 */
export class Experiment {
  readonly id: string;
  readonly created: Date;
  readonly params: Json;
  readonly status: ExperimentStatus;
  readonly stopped: Date | null;
  readonly lastHeartbeat: Date | null;
  readonly path: string;
  readonly code: TreeRef | null;
  readonly environment: EnvironmentInfo;
  readonly git: GitInfo | null;
  readonly dependencies: Record<string, DependencyInfo>;
  private readonly record: LoadedExperiment["record"];
  /** Checkpoint objects built so far, by index; one object per checkpoint, whichever way reached. */
  private readonly built: (Checkpoint | undefined)[] = [];
  private checkpointList: Checkpoint[] | null = null;

  constructor(
    private readonly storage: Storage,
    loaded: LoadedExperiment,
  ) {
    const record = loaded.record;
    this.id = record.id;
    this.created = new Date(record.created);
    this.params = record.params;
    this.status = loaded.status;
    this.stopped = record.stopped ? new Date(record.stopped) : null;
    this.lastHeartbeat = loaded.lastHeartbeat;
    this.path = record.path;
    this.code = record.code;
    this.environment = record.environment;
    this.git = record.git;
    this.dependencies = record.dependencies;
    this.record = record;
  }

  /**
   * The checkpoints, in the order recorded. Built on first use: a listing of thousands of
   * experiments mostly needs only best() and latest().
   */
  get checkpoints(): Checkpoint[] {
    this.checkpointList ??= this.record.checkpoints.map((_, index) => this.checkpointAt(index));
    return this.checkpointList;
  }

  /** How many checkpoints the experiment has (without building them). */
  get checkpointCount(): number {
    return this.record.checkpoints.length;
  }

  private checkpointAt(index: number): Checkpoint {
    return (this.built[index] ??= new Checkpoint(this.storage, this.record.checkpoints[index]!, this.id));
  }

  get description(): string {
    return `experiment ${shortId(this.id)}`;
  }

  /** The primary metric declared by the most recent checkpoint that declares one. */
  get primaryMetric(): PrimaryMetric | null {
    return primaryMetricOf(this.record.checkpoints);
  }

  /**
   * The best checkpoint by the primary metric (non-finite values skipped), or null.
   *
   * @example
   * const model = await experiment.best()?.read("model.json");
   */
  best(): Checkpoint | null {
    const index = bestIndexOf(this.record.checkpoints);
    return index === null ? null : this.checkpointAt(index);
  }

  /** The most recent checkpoint, or null. @example experiment.latest()?.step */
  latest(): Checkpoint | null {
    const count = this.record.checkpoints.length;
    return count === 0 ? null : this.checkpointAt(count - 1);
  }

  /** The files of the code snapshot. @example (await experiment.codeFiles()).length */
  async codeFiles(): Promise<TreeEntry[]> {
    if (this.code === null) return [];
    return (await readTree(this.storage, this.code.sha256, `the code snapshot of ${this.description}`)).files;
  }

  /** The uncommitted diff recorded at init, or null when the tree was clean. */
  async gitDiff(): Promise<string | null> {
    if (!this.git?.diff) return null;
    return (await readObject(this.storage, this.git.diff, `the git diff of ${this.description}`)).toString("utf8");
  }

  /**
   * Writes the code snapshot plus the best checkpoint (else the latest) into a folder.
   *
   * @example
   * await experiment.checkout({ outputDirectory: "run-e510303" });
   */
  async checkout(options: CheckoutOptions): Promise<CheckoutResult & { checkpoint: Checkpoint | null }> {
    const checkpoint = this.best() ?? this.latest();
    const byPath = new Map<string, TreeEntry>();
    for (const entry of await this.codeFiles()) byPath.set(entry.path, entry);
    // The checkpoint's files win over code files of the same name: they are what was asked for.
    for (const entry of (await checkpoint?.files()) ?? []) byPath.set(entry.path, entry);
    const entries = selectEntries([...byPath.values()], options.path);
    const result = await checkoutEntries(this.storage, entries, options, this.description);
    return { ...result, checkpoint };
  }

  toJSON(): Record<string, unknown> {
    const best = this.best();
    const latest = this.latest();
    return {
      id: this.id,
      created: this.created.toISOString(),
      status: this.status,
      stopped: this.stopped?.toISOString() ?? null,
      params: this.params,
      path: this.path,
      code: this.code,
      environment: this.environment,
      git: this.git,
      dependencies: this.dependencies,
      primaryMetric: this.primaryMetric,
      best: best?.toJSON() ?? null,
      latest: latest?.toJSON() ?? null,
      checkpoints: this.checkpoints.map((c) => c.toJSON()),
    };
  }
}

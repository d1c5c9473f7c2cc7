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
import { bestOf, primaryMetricOf } from "./best.js";
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
  readonly checkpoints: Checkpoint[];

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
    this.checkpoints = record.checkpoints.map((c) => new Checkpoint(storage, c, record.id));
  }

  get description(): string {
    return `experiment ${shortId(this.id)}`;
  }

  /** The primary metric declared by the most recent checkpoint that declares one. */
  get primaryMetric(): PrimaryMetric | null {
    return primaryMetricOf(this.checkpoints);
  }

  /**
   * The best checkpoint by the primary metric (non-finite values skipped), or null.
   *
   * @example
   * const model = await experiment.best()?.read("model.json");
   */
  best(): Checkpoint | null {
    return bestOf(this.checkpoints);
  }

  /** The most recent checkpoint, or null. @example experiment.latest()?.step */
  latest(): Checkpoint | null {
    return this.checkpoints.at(-1) ?? null;
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

import { shortId } from "../repository/ids.js";
import { CairnError } from "../errors.js";
import type { ListedExperiment } from "../repository/list-summaries.js";
import { loadExperiment, type LoadedExperiment } from "../repository/load.js";
import { summarize } from "../repository/summary.js";
import { readObject, readTree } from "../repository/objects.js";
import type {
  DependencyInfo,
  EnvironmentInfo,
  ExperimentRecord,
  ExperimentStatus,
  ExperimentSummary,
  GitInfo,
  Json,
  PrimaryMetric,
  TreeEntry,
  TreeRef,
} from "../repository/types.js";
import type { Storage } from "../storage/storage.js";
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
  /** How many checkpoints the experiment has (also on a listed experiment, without loading them). */
  readonly checkpointCount: number;
  /** The whole record when read in full; null for an experiment from a listing (its summary only). */
  private readonly record: ExperimentRecord | null;
  private readonly summary: ExperimentSummary;
  /** Checkpoint objects built so far, by index; one object per checkpoint, whichever way reached. */
  private readonly built: (Checkpoint | undefined)[] = [];
  private checkpointList: Checkpoint[] | null = null;

  /**
   * From a full record (`cairn.experiments.get`) or from a summary (`cairn.experiments.list`,
   * which reads a few kilobytes per experiment instead of every checkpoint).
   */
  constructor(
    private readonly storage: Storage,
    source: LoadedExperiment | ListedExperiment,
  ) {
    this.record = "record" in source ? source.record : null;
    const summary = "summary" in source ? source.summary : summarize(source.record);
    this.summary = summary;
    this.id = summary.id;
    this.created = new Date(summary.created);
    this.params = summary.params;
    this.status = source.status;
    this.stopped = summary.stopped ? new Date(summary.stopped) : null;
    this.lastHeartbeat = source.lastHeartbeat;
    this.path = summary.path;
    this.code = summary.code;
    this.environment = summary.environment;
    this.git = summary.git;
    this.dependencies = summary.dependencies;
    this.checkpointCount = summary.checkpointCount;
  }

  /** Whether every checkpoint is at hand (read with `get`, or after `load()`), not only best and latest. */
  get loaded(): boolean {
    return this.record !== null;
  }

  /**
   * The checkpoints, in the order recorded. Built on first use: a listing of thousands of
   * experiments mostly needs only best() and latest(). An experiment from `list()` carries only
   * its summary: call `await experiment.load()` first (NOT_LOADED otherwise).
   *
   * @example
   * const full = await experiment.load();
   * full.checkpoints.map((c) => c.metrics.loss);
   */
  get checkpoints(): Checkpoint[] {
    const record = this.record;
    if (record === null) {
      throw new CairnError(
        "NOT_LOADED",
        `${this.description} comes from a listing, which reads only each experiment's summary (best and latest checkpoints). ` +
          `For all ${this.checkpointCount} checkpoints use \`await experiment.load()\` or \`cairn.experiments.get("${shortId(this.id)}")\`.`,
      );
    }
    this.checkpointList ??= record.checkpoints.map((_, index) => this.checkpointAt(index));
    return this.checkpointList;
  }

  /**
   * The experiment with every checkpoint: itself when already complete, else read in full now
   * (the record as it is now, so it may have more checkpoints than the listing showed).
   *
   * @example
   * for (const listed of await cairn.experiments.list()) {
   *   const experiment = await listed.load();
   *   console.log(experiment.checkpoints.length);
   * }
   */
  async load(): Promise<Experiment> {
    if (this.record !== null) return this;
    const loaded = await loadExperiment(this.storage, this.id);
    if (loaded === null) throw new CairnError("NOT_FOUND", `${this.description} is no longer in the repository (removed since it was listed).`);
    return new Experiment(this.storage, loaded);
  }

  private checkpointAt(index: number): Checkpoint {
    return (this.built[index] ??= new Checkpoint(this.storage, this.record!.checkpoints[index]!, this.id));
  }

  get description(): string {
    return `experiment ${shortId(this.id)}`;
  }

  /** The primary metric declared by the most recent checkpoint that declares one. */
  get primaryMetric(): PrimaryMetric | null {
    return this.summary.primaryMetric;
  }

  /**
   * The best checkpoint by the primary metric (non-finite values skipped), or null.
   *
   * @example
   * const model = await experiment.best()?.read("model.json");
   */
  best(): Checkpoint | null {
    const best = this.summary.best;
    if (best === null) return null;
    return this.record ? this.checkpointAt(best.index) : (this.built[best.index] ??= new Checkpoint(this.storage, best.checkpoint, this.id));
  }

  /** The most recent checkpoint, or null. @example experiment.latest()?.step */
  latest(): Checkpoint | null {
    const latest = this.summary.latest;
    if (latest === null) return null;
    const index = this.checkpointCount - 1;
    return this.record ? this.checkpointAt(index) : (this.built[index] ??= new Checkpoint(this.storage, latest, this.id));
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
      checkpointCount: this.checkpointCount,
      // A listed experiment has only its summary; its JSON says so by leaving the list out.
      ...(this.record === null ? {} : { checkpoints: this.checkpoints.map((c) => c.toJSON()) }),
    };
  }
}

import { Experiment } from "../api/experiment.js";
import type { Repository } from "../api/repository.js";
import { loadExperiment, resolveId, type LoadedExperiment, type RepositoryProblem } from "../repository/load.js";
import { isCairnError } from "../errors.js";
import type { Checkpoint } from "../api/checkpoint.js";

/** Every experiment of the repository as read at one moment. */
export interface Snapshot {
  /** Counts up with every load, so derived caches know when they are stale. */
  version: number;
  loadedAt: number;
  loaded: LoadedExperiment[];
  /** Newest first, as `Repository.load()` returns them. */
  experiments: Experiment[];
  problems: RepositoryProblem[];
}

export interface SnapshotOptions {
  /** How long a listing is reused before the repository is read again (2 s by default). */
  ttlMs?: number;
}

/**
 * A refresh may take at most this share of the time: with a repository that takes 1 s to list,
 * the listing is refreshed every 5 s at most, however often pages poll.
 */
const MAX_BUSY_SHARE = 0.2;

/**
 * The server's view of a repository. Nothing is read at start-up (so `cairn ui` listens at
 * once); the first request reads every record, later ones get the snapshot at hand while a
 * refresh runs in the background (stale-while-revalidate), so a page that polls never waits for
 * a listing after the first. A refresh re-reads only the records whose etag changed (the
 * `RecordCache` of `loadExperiments`) and runs at most once per TTL, and less often when the
 * repository is slow to list. It reads with the same functions as `Repository.load()` and
 * `Repository.resolve()`; it keeps the loaded records so an ID prefix resolves against the
 * snapshot instead of re-reading every record.
 *
 * @example
 * const source = new ExperimentSource(repository, { ttlMs: 2000 });
 * const { experiments } = await source.snapshot();
 * const experiment = await source.experiment("e5103");
 */
export class ExperimentSource {
  private current: Snapshot | null = null;
  private loading: Promise<Snapshot> | null = null;
  private version = 0;
  private lastLoadMs = 0;
  private readonly ttlMs: number;
  private readonly wrapped = new Map<string, { loaded: LoadedExperiment; experiment: Experiment }>();

  constructor(
    readonly repository: Repository,
    options: SnapshotOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 2000;
  }

  /**
   * The snapshot at hand. When it is older than the TTL a refresh starts; the caller waits for it
   * only with `fresh` or when there is no snapshot yet.
   */
  snapshot(options: { fresh?: boolean } = {}): Promise<Snapshot> {
    const current = this.current;
    const maxAge = Math.max(this.ttlMs, this.lastLoadMs / MAX_BUSY_SHARE);
    if (current && !options.fresh && Date.now() - current.loadedAt < maxAge) return Promise.resolve(current);
    const loading = (this.loading ??= this.load().finally(() => {
      this.loading = null;
    }));
    if (current && !options.fresh && this.ttlMs > 0) {
      loading.catch(() => {}); // a failed background refresh shows up on the next waiting request
      return Promise.resolve(current);
    }
    return loading;
  }

  private async load(): Promise<Snapshot> {
    const started = Date.now();
    const first = this.current === null;
    const { experiments, problems } = await this.repository.loadRecords();
    const snapshot: Snapshot = {
      version: ++this.version,
      loadedAt: Date.now(),
      loaded: experiments,
      experiments: experiments.map((loaded) => this.wrap(loaded)),
      problems,
    };
    const present = new Set(experiments.map((e) => e.record.id));
    for (const id of [...this.wrapped.keys()]) if (!present.has(id)) this.wrapped.delete(id);
    this.current = snapshot;
    // The first read parses every record; later ones only what changed: pace by those.
    if (!first) this.lastLoadMs = Date.now() - started;
    return snapshot;
  }

  /** The Experiment of a loaded record, reused while record, status and heartbeat are unchanged. */
  private wrap(loaded: LoadedExperiment): Experiment {
    const previous = this.wrapped.get(loaded.record.id);
    if (previous && previous.loaded.record === loaded.record && previous.loaded.status === loaded.status && previous.loaded.lastHeartbeat?.getTime() === loaded.lastHeartbeat?.getTime()) {
      return previous.experiment;
    }
    const experiment = new Experiment(this.repository.storage, loaded);
    this.wrapped.set(loaded.record.id, { loaded, experiment });
    return experiment;
  }

  /**
   * An experiment or checkpoint by ID or unique prefix, resolved like `Repository.resolve()`. A
   * prefix the cached listing does not know is tried again on a fresh listing (it may be a new
   * experiment). A running experiment's record is read again, so its page is live.
   *
   * @example
   * const found = await source.resolve("3ccb2f1", ["checkpoint"]);
   */
  async resolve(idOrPrefix: string, kinds: ("experiment" | "checkpoint")[]): Promise<Experiment | Checkpoint> {
    let snapshot = await this.snapshot();
    let found;
    try {
      found = resolveId(snapshot.loaded, idOrPrefix, kinds);
    } catch (error) {
      if (!isCairnError(error, "NOT_FOUND")) throw error;
      snapshot = await this.snapshot({ fresh: true });
      found = resolveId(snapshot.loaded, idOrPrefix, kinds);
    }
    // A running experiment's record is read again (its page is live); any other is taken from the
    // snapshot as it is, Experiment object included (10,000 checkpoints are not rebuilt per request).
    const loaded = found.experiment.status === "running" ? ((await loadExperiment(this.repository.storage, found.experiment.record.id)) ?? found.experiment) : found.experiment;
    const experiment = loaded === found.experiment ? this.wrap(loaded) : new Experiment(this.repository.storage, loaded);
    if (found.kind === "experiment") return experiment;
    const checkpointId = found.experiment.record.checkpoints[found.checkpointIndex]!.id;
    return experiment.checkpoints.find((c) => c.id === checkpointId)!;
  }

  /** An experiment by ID or prefix. @example await source.experiment("e51") */
  async experiment(idOrPrefix: string): Promise<Experiment> {
    return (await this.resolve(idOrPrefix, ["experiment"])) as Experiment;
  }

  /** A checkpoint by its own ID or prefix. @example await source.checkpoint("3cc") */
  async checkpoint(idOrPrefix: string): Promise<Checkpoint> {
    return (await this.resolve(idOrPrefix, ["checkpoint"])) as Checkpoint;
  }
}

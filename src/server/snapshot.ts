import { Experiment } from "../api/experiment.js";
import type { Repository } from "../api/repository.js";
import type { ListedExperiment } from "../repository/list-summaries.js";
import { isId } from "../repository/layout.js";
import { loadExperiment, resolveExperimentId, resolveId, type RepositoryProblem } from "../repository/load.js";
import { CairnError, isCairnError } from "../errors.js";
import type { Checkpoint } from "../api/checkpoint.js";

/** Every experiment of the repository as read at one moment. */
export interface Snapshot {
  /** Counts up with every load, so derived caches know when they are stale. */
  version: number;
  loadedAt: number;
  listed: ListedExperiment[];
  /** Newest first, as `Repository.load()` returns them: from summaries (best and latest checkpoints). */
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
 * once); the first request reads every experiment's summary, later ones get the snapshot at hand
 * while a refresh runs in the background (stale-while-revalidate), so a page that polls never
 * waits for a listing after the first. A refresh re-reads only the summaries whose etag changed
 * (the `SummaryCache` of `listSummaries`) and runs at most once per TTL, and less often when the
 * repository is slow to list. It reads with the same functions as `Repository.load()`; an
 * experiment's page reads that one record in full.
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
  /** Listed experiments wrapped, reused while summary, status and heartbeat are unchanged. */
  private readonly wrapped = new Map<string, { listed: ListedExperiment; experiment: Experiment }>();
  /** Experiments read in full (for their pages), reused while their summary is unchanged. */
  private readonly full = new Map<string, { summary: ListedExperiment["summary"]; experiment: Experiment }>();

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
    const { experiments, problems } = await this.repository.listSummaries();
    const snapshot: Snapshot = {
      version: ++this.version,
      loadedAt: Date.now(),
      listed: experiments,
      experiments: experiments.map((listed) => this.wrap(listed)),
      problems,
    };
    const present = new Set(experiments.map((e) => e.summary.id));
    for (const id of [...this.wrapped.keys()]) if (!present.has(id)) this.wrapped.delete(id);
    for (const id of [...this.full.keys()]) if (!present.has(id)) this.full.delete(id);
    this.current = snapshot;
    // The first read parses every summary; later ones only what changed: pace by those.
    if (!first) this.lastLoadMs = Date.now() - started;
    return snapshot;
  }

  /** The Experiment of a listed summary, reused while summary, status and heartbeat are unchanged. */
  private wrap(listed: ListedExperiment): Experiment {
    const previous = this.wrapped.get(listed.summary.id);
    if (previous && previous.listed.summary === listed.summary && previous.listed.status === listed.status && previous.listed.lastHeartbeat?.getTime() === listed.lastHeartbeat?.getTime()) {
      return previous.experiment;
    }
    const experiment = new Experiment(this.repository.storage, listed);
    this.wrapped.set(listed.summary.id, { listed, experiment });
    return experiment;
  }

  /**
   * An experiment in full by ID or unique prefix, resolved like `Repository.resolve()`. A prefix
   * the cached listing does not know is tried again on a fresh listing (it may be a new
   * experiment). The record is read once and reused while the experiment's summary is unchanged
   * (10,000 checkpoints are not re-read per request); a running experiment's record is read
   * again each time, so its page is live.
   *
   * @example
   * const experiment = await source.experiment("e5103");
   */
  async experiment(idOrPrefix: string): Promise<Experiment> {
    let snapshot = await this.snapshot();
    let listed: ListedExperiment;
    try {
      listed = resolveExperimentId(snapshot.listed, idOrPrefix);
    } catch (error) {
      if (!isCairnError(error, "NOT_FOUND")) throw error;
      snapshot = await this.snapshot({ fresh: true });
      listed = resolveExperimentId(snapshot.listed, idOrPrefix);
    }
    const id = listed.summary.id;
    const known = this.full.get(id);
    if (known && known.summary === listed.summary && listed.status !== "running") return known.experiment;
    const loaded = await loadExperiment(this.repository.storage, id);
    if (loaded === null) throw new CairnError("NOT_FOUND", `Experiment ${id} was removed. Run "cairn ls" to see the experiments.`);
    const experiment = new Experiment(this.repository.storage, loaded);
    this.full.set(id, { summary: listed.summary, experiment });
    return experiment;
  }

  /**
   * A checkpoint by its own ID or unique prefix. A full ID of a checkpoint of an experiment
   * already read is found without reading anything (the pages link by full ID); anything else
   * needs every record, as only records list checkpoint IDs.
   *
   * @example
   * const checkpoint = await source.checkpoint("3ccb2f1");
   */
  async checkpoint(idOrPrefix: string): Promise<Checkpoint> {
    const wanted = idOrPrefix.trim().toLowerCase();
    if (isId(wanted)) {
      for (const { experiment } of this.full.values()) {
        if (experiment.status === "running") continue; // its record may have moved on
        const found = experiment.checkpoints.find((c) => c.id === wanted);
        if (found) return found;
      }
    }
    const { experiments } = await this.repository.loadRecords();
    const found = resolveId(experiments, idOrPrefix, ["checkpoint"]);
    if (found.kind !== "checkpoint") throw new Error("resolveId returned an experiment for a checkpoint ID"); // cannot happen: kinds were ["checkpoint"]
    const experiment = new Experiment(this.repository.storage, found.experiment);
    return experiment.checkpoints[found.checkpointIndex]!;
  }
}

import { CairnError, isCairnError } from "../errors.js";
import { checkFilterFields, closestFields, compareRows, parseFilters, parseSort, matchesFilter } from "../query/index.js";
import { queryError } from "../query/error.js";
import type { QueryRow } from "../query/index.js";
import { checkFormat, ensureFormat } from "../repository/format.js";
import { experimentKey, heartbeatKey, summaryKey } from "../repository/layout.js";
import { listSummaries, type FolderListing, type ListedExperiment, type SummaryCache } from "../repository/list-summaries.js";
import { loadExperiment, loadExperiments, resolveExperimentId, resolveId, type LoadedExperiment, type RecordCache, type RepositoryProblem } from "../repository/load.js";
import { SummaryCacheStore } from "../repository/summary-cache-store.js";
import { cacheDirectory, isRemoteUrl } from "../storage/cache-directory.js";
import { withObjectCache } from "../storage/object-cache.js";
import * as path from "node:path";
import type { RecoveryReport } from "../repository/recover.js";
import type { GcOptions, GcReport } from "../repository/gc.js";
import { listSpools } from "../repository/spool-folders.js";
import type { Storage } from "../storage/storage.js";
import { openStorage } from "../storage/open.js";
import { Checkpoint } from "./checkpoint.js";
import { Experiment } from "./experiment.js";
import type { InitOptions } from "./init.js";
import { FIXED_FIELDS, toQueryRow } from "./rows.js";
import type { Run } from "./run.js";

export interface ListOptions {
  /** One filter or several (combined with "and"), e.g. "params.lr < 0.01 and status = running". */
  filter?: string | string[];
  /** "FIELD[:asc|desc]", e.g. "metrics.loss:asc"; newest first by default. */
  sort?: string;
}

/** A listing: the experiments, plus anything unreadable that was skipped. */
export interface ExperimentList extends Array<Experiment> {
  problems: RepositoryProblem[];
}

/**
 * A repository: where experiments are recorded and read back.
 *
 * @example
 * const repository = await cairn.openRepository("/data/cairn");
 * for (const experiment of await repository.experiments.list({ sort: "metrics.loss:asc" })) {
 *   console.log(experiment.id, experiment.best()?.metrics);
 * }
 */
export class Repository {
  /** `list` and `get`, as on the module: `repository.experiments.get("e510303")`. */
  readonly experiments = {
    list: (options?: ListOptions) => this.listExperiments(options),
    get: (idOrPrefix: string) => this.getExperiment(idOrPrefix),
  };

  /** `repository.checkpoints.get("3ccb2f1")`: a checkpoint by its own ID or prefix. */
  readonly checkpoints = {
    get: (idOrPrefix: string) => this.getCheckpoint(idOrPrefix),
  };

  private constructor(
    readonly storage: Storage,
    /** Where relative checkpoint paths of new experiments resolve. */
    readonly projectDirectory: string,
    /** Remote repositories keep a local copy of their summaries between processes. */
    private readonly summaryStore: SummaryCacheStore | null,
  ) {}

  /** Full records read by this object, reused while their etag is unchanged. */
  private readonly recordCache: RecordCache = new Map();
  private summaryCache: SummaryCache | null = null;
  /** Experiments built from summaries, by ID, reused while unchanged (see wrap). */
  private listedExperiments = new Map<string, { listed: ListedExperiment; experiment: Experiment }>();

  /**
   * Opens a repository by URL or folder. Publishes, first, what experiments on this machine
   * left behind when they were killed (unless `recover: false`).
   *
   * `storage` is the `storage:` mapping of cairn.yaml (endpoint, region, forcePathStyle, ...).
   *
   * @example
   * const repository = await Repository.open(".cairn", { projectDirectory: process.cwd() });
   */
  static async open(url: string, options: { projectDirectory?: string; recover?: boolean; storage?: unknown } = {}): Promise<Repository> {
    const projectDirectory = options.projectDirectory ?? process.cwd();
    const opened = await openStorage(url, { baseDirectory: projectDirectory, settings: options.storage });
    const remote = isRemoteUrl(opened.url);
    // Remote contents are cached on local disk (immutable, so shared by every repository).
    const storage = remote ? withObjectCache(opened, path.join(cacheDirectory(), "objects")) : opened;
    // Summaries already read are kept on local disk between processes: for a bucket, so that a
    // repeated `cairn ls` sends only LIST requests; for a folder (under its local/), so that it
    // reads one file instead of 10,000.
    const summaryStore = new SummaryCacheStore(path.join(storage.localStateDirectory(), "records"));
    const marker = await checkFormat(storage, { remembered: remote ? await summaryStore.formatMarker() : null });
    if (marker && remote) await summaryStore.rememberFormat(marker);
    const repository = new Repository(storage, projectDirectory, summaryStore);
    // Only a machine with left-over spools pays for loading the publishing code here.
    if (options.recover !== false && (await listSpools(storage.localStateDirectory())).length > 0) await repository.push();
    return repository;
  }

  get url(): string {
    return this.storage.url;
  }

  /**
   * Starts recording an experiment into this repository.
   *
   * @example
   * const run = await repository.init({ path: ".", params: { lr: 0.01 } });
   */
  async init(options: InitOptions = {}): Promise<Run> {
    await ensureFormat(this.storage);
    // Loaded when first used: reading scripts and most commands never record (about 100 ms of start-up).
    const { startExperiment } = await import("./init.js");
    return startExperiment(this.storage, this.projectDirectory, options);
  }

  /**
   * Every readable experiment (newest first), from their summaries, and the problems met on the
   * way. The experiments carry best and latest checkpoints; `load()` one for all its checkpoints.
   *
   * @example
   * const { experiments, problems } = await repository.load();
   */
  async load(): Promise<{ experiments: Experiment[]; problems: RepositoryProblem[] }> {
    const { experiments, problems } = await this.listSummaries();
    const previous = this.listedExperiments;
    // Rebuilt each time, so experiments no longer listed are dropped.
    this.listedExperiments = new Map();
    const wrapped = experiments.map((e) => this.wrapListed(e, previous));
    return { experiments: wrapped, problems };
  }

  /**
   * Every experiment's summary, with status: what listings read. Summaries unchanged since this
   * repository's previous listing (same etag) are not read again, so a long-lived reader (the
   * web UI's server) refreshes cheaply; remote repositories also keep them on local disk, so a
   * repeated `cairn ls` of an unchanged bucket sends only LIST requests. `listing`: a bucket's
   * listing the caller has just taken (listFolders), used instead of listing again.
   *
   * @example
   * const { experiments } = await repository.listSummaries(); // ListedExperiment[]
   */
  async listSummaries(options: { listing?: FolderListing } = {}): Promise<Awaited<ReturnType<typeof listSummaries>>> {
    if (this.summaryStore === null) {
      this.summaryCache ??= new Map();
      return listSummaries(this.storage, new Date(), this.summaryCache, options.listing);
    }
    this.summaryCache ??= await this.summaryStore.load();
    const result = await listSummaries(this.storage, new Date(), this.summaryCache, options.listing);
    await this.summaryStore.save(this.summaryCache).catch(() => {
      // A read-only cache folder only makes the next listing slower.
    });
    return result;
  }

  /**
   * Every record in full, with status: what resolving a checkpoint ID needs (a checkpoint's ID
   * is only in its experiment's record). Records unchanged since this object's previous call are
   * not read again.
   *
   * @example
   * const { experiments } = await repository.loadRecords(); // LoadedExperiment[], for resolveId
   */
  async loadRecords(): Promise<Awaited<ReturnType<typeof loadExperiments>>> {
    return loadExperiments(this.storage, new Date(), this.recordCache);
  }

  /**
   * Experiments matching a filter, sorted, each from its summary (best and latest checkpoints
   * at hand; `await experiment.load()` for all of them). Unreadable experiments are skipped and
   * reported in the result's `problems`, never thrown.
   *
   * @example
   * const running = await repository.listExperiments({ filter: "status = running" });
   */
  async listExperiments(options: ListOptions = {}): Promise<ExperimentList> {
    const { experiments, problems } = await this.load();
    const selected = selectExperiments(experiments, options);
    return Object.assign(selected, { problems });
  }

  /** An experiment by ID or unique prefix. @example await repository.getExperiment("e510303") */
  async getExperiment(idOrPrefix: string): Promise<Experiment> {
    const found = await this.resolve(idOrPrefix, ["experiment"]);
    return found as Experiment;
  }

  /** A checkpoint by its own ID or unique prefix. @example await repository.getCheckpoint("3ccb2f1") */
  async getCheckpoint(idOrPrefix: string): Promise<Checkpoint> {
    const found = await this.resolve(idOrPrefix, ["checkpoint"]);
    return found as Checkpoint;
  }

  /**
   * An experiment or a checkpoint: whichever the ID or prefix names (for commands that take
   * either).
   *
   * @example
   * const thing = await repository.resolve("e51");
   */
  async resolve(idOrPrefix: string, kinds: ("experiment" | "checkpoint")[] = ["experiment", "checkpoint"]): Promise<Experiment | Checkpoint> {
    if (typeof idOrPrefix !== "string" || idOrPrefix.trim() === "") {
      throw new CairnError("INVALID_ARGUMENT", `Give an ID or a prefix of one, like "e510303"; got ${JSON.stringify(idOrPrefix)}.`);
    }
    if (!kinds.includes("checkpoint")) {
      // Experiment IDs are in the summaries: read one record, not all of them.
      const { experiments, problems } = await this.listSummaries();
      let listed;
      try {
        listed = resolveExperimentId(experiments, idOrPrefix);
      } catch (error) {
        throw damagedInstead(error, problems, idOrPrefix);
      }
      const loaded = await loadExperiment(this.storage, listed.summary.id);
      if (loaded === null) throw new CairnError("NOT_FOUND", `Experiment ${listed.summary.id} was removed while it was being read.`);
      return this.wrap(loaded);
    }
    const { experiments, problems } = await this.loadRecords();
    let found;
    try {
      found = resolveId(experiments, idOrPrefix, kinds);
    } catch (error) {
      throw damagedInstead(error, problems, idOrPrefix);
    }
    const experiment = this.wrap(found.experiment);
    return found.kind === "experiment" ? experiment : experiment.checkpoints[found.checkpointIndex]!;
  }

  /**
   * Deletes experiments' records (their objects go at the next `gc`), readable or corrupt. A
   * running experiment is refused unless `force`, because its process would write the record again.
   *
   * @example
   * await repository.remove(["e510303"]);
   */
  async remove(ids: string[], options: { force?: boolean } = {}): Promise<{ id: string; readable: boolean }[]> {
    const { experiments, problems } = await this.listSummaries();
    const unreadable = problems.filter((p) => p.experimentId !== null).map((p) => p.experimentId!);
    const targets = ids.map((id) => {
      try {
        return { id: resolveExperimentId(experiments, id).summary.id, readable: true };
      } catch (error) {
        // A corrupt record cannot be parsed, but it can still be removed by its ID.
        const matches = unreadable.filter((candidate) => candidate.startsWith(id.toLowerCase()));
        if (isCairnError(error, "NOT_FOUND") && matches.length === 1) return { id: matches[0]!, readable: false };
        throw error;
      }
    });
    const running = experiments.filter((e) => e.status === "running" && targets.some((t) => t.id === e.summary.id));
    if (running.length > 0 && !options.force) {
      throw new CairnError("INVALID_ARGUMENT", `${running.map((e) => e.summary.id.slice(0, 7)).join(", ")} ${running.length === 1 ? "is" : "are"} running; stop ${running.length === 1 ? "it" : "them"} first, or force the removal.`);
    }
    for (const target of targets) {
      // The summary first: a summary without its record would be ignored anyway, but a record
      // left without its summary (a crash in between) is still listed, from the record.
      await this.storage.delete(summaryKey(target.id));
      await this.storage.delete(experimentKey(target.id));
      await this.storage.delete(heartbeatKey(target.id));
    }
    return targets;
  }

  /**
   * Removes objects no experiment refers to, if older than the grace period.
   *
   * @example
   * const report = await repository.gc({ gracePeriodMs: 24 * 3600_000 });
   */
  async gc(options: GcOptions = {}): Promise<GcReport> {
    const { collectGarbage } = await import("../repository/gc.js");
    return collectGarbage(this.storage, options);
  }

  /**
   * Publishes experiments left on this machine's local disk by processes that died or could not
   * reach the storage.
   *
   * @example
   * const { published } = await repository.push();
   */
  async push(): Promise<RecoveryReport> {
    const { recoverSpools } = await import("../repository/recover.js");
    return recoverSpools(this.storage);
  }

  private wrap(loaded: LoadedExperiment): Experiment {
    return new Experiment(this.storage, loaded);
  }

  /**
   * A listed experiment as an Experiment. A listing again of an unchanged repository gives back
   * the same objects (same summary, status and heartbeat): 10,000 experiments are not rebuilt
   * per call.
   */
  private wrapListed(listed: ListedExperiment, previous: Map<string, { listed: ListedExperiment; experiment: Experiment }>): Experiment {
    const known = previous.get(listed.summary.id);
    const same = known && known.listed.summary === listed.summary && known.listed.status === listed.status && known.listed.lastHeartbeat?.getTime() === listed.lastHeartbeat?.getTime();
    const experiment = same ? known.experiment : new Experiment(this.storage, listed);
    this.listedExperiments.set(listed.summary.id, { listed, experiment });
    return experiment;
  }
}

/**
 * A NOT_FOUND for an ID whose record is there but unreadable becomes that CORRUPT error: "no
 * such experiment" would send the user looking in the wrong place.
 */
function damagedInstead(error: unknown, problems: RepositoryProblem[], idOrPrefix: string): unknown {
  const damaged = problems.find((p) => p.experimentId?.startsWith(idOrPrefix.trim().toLowerCase()));
  if (isCairnError(error, "NOT_FOUND") && damaged) return new CairnError("CORRUPT", damaged.message, { details: { key: damaged.key } });
  return error;
}

/**
 * Applies the filter and sort language to experiments; also used by the CLI and the web UI.
 * `rowOf` gives each experiment's query row (`toQueryRow` by default); a long-lived reader such as
 * the web UI's server passes a cached one so a new sort of 10,000 experiments does not rebuild
 * 10,000 rows.
 *
 * @example
 * selectExperiments(experiments, { filter: "params.lr < 0.01", sort: "metrics.loss" });
 */
export function selectExperiments(experiments: Experiment[], options: ListOptions, rowOf: (experiment: Experiment) => QueryRow = toQueryRow): Experiment[] {
  const filters = options.filter === undefined ? [] : Array.isArray(options.filter) ? options.filter : [options.filter];
  const expression = parseFilters(filters);
  // Rows cost a flattening of every experiment's params: skip them when nothing asks for them.
  if (!expression && !options.sort) return experiments.slice();
  const rows = experiments.map((experiment) => ({ experiment, row: rowOf(experiment) }));
  // With no experiments there is nothing to name a field wrongly against.
  if (expression && rows.length > 0) checkFilterFields(expression, availableFields(rows.map((r) => r.row)));
  let selected = expression ? rows.filter((r) => matchesFilter(expression, r.row)) : rows;
  if (options.sort) {
    const sort = parseSort(options.sort);
    // A misspelt sort field would silently leave the order unchanged; say so instead.
    if (rows.length > 0) checkSortField(options.sort, sort.field, availableFields(rows.map((r) => r.row)));
    selected = [...selected].sort((a, b) => compareRows(a.row, b.row, sort));
  }
  return selected.map((r) => r.experiment);
}

/** The fields a filter may name: the fixed ones plus every params/metrics key seen. */
export function availableFields(rows: QueryRow[]): Set<string> {
  const fields = new Set<string>(FIXED_FIELDS);
  for (const row of rows) for (const key of Object.keys(row)) fields.add(key);
  return fields;
}

/** Throws INVALID_FILTER when a sort names a field no experiment has, suggesting the closest. */
function checkSortField(source: string, field: string, available: Set<string>): void {
  if (available.has(field)) return;
  const sorted = [...available].sort();
  const closest = closestFields(field, sorted);
  const listed = closest.slice(0, 10).join(", ") + (sorted.length > 10 ? ` and ${sorted.length - 10} more` : "");
  throw queryError("sort", source, Math.max(0, source.indexOf(field)), `unknown field ${JSON.stringify(field)}`, {
    hint: closest[0] === undefined ? undefined : `did you mean ${closest[0]}?`,
    footer: `Fields: ${listed}`,
    details: { field, available: sorted },
  });
}

/**
 * Cairn: version control for machine learning.
 *
 * @example
 * import * as cairn from "cairn";
 * const experiment = await cairn.init({ path: ".", params: { lr: 0.01 } });
 * await experiment.checkpoint({ path: "model", metrics: { loss: 0.2 }, primaryMetric: ["loss", "minimize"] });
 * await experiment.stop();
 *
 * const best = (await cairn.experiments.get(experiment.id)).best();
 * await best?.checkout({ outputDirectory: "weights" });
 */
import { resolveProject } from "./config.js";
import type { StorageSettings } from "./storage/settings.js";
import { Repository, type ListOptions, type ExperimentList } from "./api/repository.js";
import type { InitOptions } from "./api/init.js";
import type { Run } from "./api/run.js";
import type { Experiment } from "./api/experiment.js";
import type { Checkpoint } from "./api/checkpoint.js";

export { CairnError, isCairnError, type CairnErrorCode } from "./errors.js";
export { Repository, selectExperiments, type ListOptions, type ExperimentList } from "./api/repository.js";
export { Experiment } from "./api/experiment.js";
export { diffSubjectOf, diffSubjects, differingKeys, flatParams, type DiffSubject, type Differences, type FileDifference, type ValueDifference } from "./api/diff.js";
export { Checkpoint } from "./api/checkpoint.js";
export { Run, type CheckpointOptions, type RecordedCheckpoint } from "./api/run.js";
export type { InitOptions } from "./api/init.js";
export type { CheckoutOptions, CheckoutResult } from "./api/checkout.js";
export { resolveProject, type ResolvedProject } from "./config.js";
export type { StorageSettings } from "./storage/settings.js";
export { setDiagnosticSink } from "./repository/diagnostics.js";
export type * from "./repository/types.js";

/**
 * Opens a repository by URL or folder (a path, `file://…`, `s3://bucket/prefix`,
 * `gs://bucket/prefix`, `azure://account/container/prefix`). `storage` takes the settings
 * cairn.yaml's `storage:` would (endpoint, region, forcePathStyle, ...; see docs/STORAGE.md).
 *
 * @example
 * const repository = await cairn.openRepository("/data/cairn");
 * const experiments = await repository.experiments.list();
 * const minio = await cairn.openRepository("s3://models/team-a", { storage: { endpoint: "http://127.0.0.1:9000" } });
 */
export function openRepository(url: string, options: { projectDirectory?: string; recover?: boolean; storage?: StorageSettings } = {}): Promise<Repository> {
  return Repository.open(url, options);
}

/** The repository the current directory belongs to (cairn.yaml, CAIRN_REPOSITORY, or .cairn/). */
async function defaultRepository(repository?: string): Promise<Repository> {
  const project = resolveProject({ repository });
  return Repository.open(project.repository, { projectDirectory: project.directory, storage: project.config.storage });
}

/**
 * Starts recording an experiment: params, the code snapshot of `path`, the environment and git
 * state. Returns the running experiment, whose `checkpoint()` records model files and metrics.
 *
 * @example
 * const experiment = await cairn.init({ path: ".", params: { learningRate: 0.01, layers: [64, 64] } });
 */
export async function init(options: InitOptions = {}): Promise<Run> {
  const project = resolveProject({ repository: options?.repository });
  const repository = await Repository.open(project.repository, { projectDirectory: project.directory, storage: project.config.storage });
  return repository.init(options);
}

/** Experiments of the default repository. */
export const experiments = {
  /**
   * Lists experiments, newest first, optionally filtered and sorted with the CLI's language.
   *
   * @example
   * const good = await cairn.experiments.list({ filter: "metrics.loss < 0.2", sort: "metrics.loss" });
   */
  async list(options: ListOptions & { repository?: string } = {}): Promise<ExperimentList> {
    return (await defaultRepository(options.repository)).listExperiments(options);
  },
  /**
   * An experiment by ID or unique prefix.
   *
   * @example
   * const best = (await cairn.experiments.get("e510303")).best();
   */
  async get(idOrPrefix: string, options: { repository?: string } = {}): Promise<Experiment> {
    return (await defaultRepository(options.repository)).getExperiment(idOrPrefix);
  },
};

/** Checkpoints of the default repository, by their own IDs. */
export const checkpoints = {
  /**
   * A checkpoint by ID or unique prefix.
   *
   * @example
   * const stream = await (await cairn.checkpoints.get("3ccb2f1")).open("model.pth");
   */
  async get(idOrPrefix: string, options: { repository?: string } = {}): Promise<Checkpoint> {
    return (await defaultRepository(options.repository)).getCheckpoint(idOrPrefix);
  },
};

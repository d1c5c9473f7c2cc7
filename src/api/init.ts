import * as path from "node:path";
import { captureDependencies, captureEnvironment, captureGit, formatSnapshotWarning, listSnapshotFiles } from "../capture/index.js";
import { diagnose } from "../repository/diagnostics.js";
import { newId } from "../repository/ids.js";
import { ExperimentSpool } from "../repository/spool.js";
import type { DependencyInfo, ExperimentRecord, Json } from "../repository/types.js";
import { ExperimentWriter } from "../repository/writer.js";
import type { Storage } from "../storage/storage.js";
import { isRemoteUrl } from "../storage/cache-directory.js";
import { CairnError } from "../errors.js";
import { captureTree, type SourceFile } from "./capture-files.js";
import { Run } from "./run.js";
import { checkJson } from "./validate-input.js";

export interface InitOptions {
  /** The folder whose code is snapshotted, relative to the project directory ("." by default). */
  path?: string;
  /** Hyperparameters: any JSON value. */
  params?: unknown;
  /** An explicit repository URL or folder (else cairn.yaml, CAIRN_REPOSITORY or .cairn/). */
  repository?: string;
  /** Seconds between heartbeats (5 by default; CAIRN_HEARTBEAT_INTERVAL overrides). */
  heartbeatInterval?: number;
  /** Runtimes a binding adds to the environment, e.g. { python: "3.11.2" }. */
  runtimes?: Record<string, string>;
  /** Dependencies a binding adds, e.g. the Python packages the script imported. */
  dependencies?: Record<string, DependencyInfo>;
  /** A binding's command line (e.g. ["python3", "train.py", "--lr", "0.01"]), recorded instead of Node's. */
  command?: string[];
  /** A binding's working directory, recorded instead of this process's. */
  workingDirectory?: string;
}

/**
 * Starts an experiment in an open repository: snapshots the code, records the environment, and
 * returns the running experiment. Used by `cairn.init()` and `Repository.init()`.
 *
 * @example
 * const run = await startExperiment(storage, "/home/ana/project", { params: { lr: 0.01 } });
 */
export async function startExperiment(storage: Storage, projectDirectory: string, options: InitOptions): Promise<Run> {
  if (typeof options !== "object" || options === null) throw new CairnError("INVALID_ARGUMENT", `init() takes an options object such as { path: ".", params: { lr: 0.01 } }.`);
  const params = options.params === undefined ? null : options.params;
  checkJson(params, "params");
  const codeDirectory = path.resolve(projectDirectory, options.path ?? ".");
  const interval = heartbeatIntervalMs(options.heartbeatInterval);

  const listing = await listSnapshotFiles(codeDirectory).catch((error: unknown) => {
    throw new CairnError("INVALID_ARGUMENT", `init path "${options.path ?? "."}" cannot be read (${(error as Error).message}). Pass the folder of your training code, like path: ".".`, { cause: error });
  });
  // A local repository inside the project (other than .cairn/) must not be snapshotted into itself.
  const repositoryFolder = isRemoteUrl(storage.url) ? null : path.resolve(storage.url) + path.sep;
  const files: SourceFile[] = listing.files
    .filter((f) => repositoryFolder === null || !f.absolutePath.startsWith(repositoryFolder))
    .map((f) => ({ path: f.path, absolutePath: f.absolutePath, mode: f.mode }));
  const warning = formatSnapshotWarning(listing);
  if (warning) diagnose(warning);

  const id = newId();
  const spool = await ExperimentSpool.create(storage.localStateDirectory(), id);
  try {
    const [environment, git, dependencies, code] = await Promise.all([
      captureEnvironment({ runtimes: options.runtimes ?? {}, command: options.command, workingDirectory: options.workingDirectory }),
      captureGit(codeDirectory),
      captureDependencies(codeDirectory),
      captureTree(spool, files),
    ]);
    const objects: string[] = [];
    if (git?.diff) {
      git.info.diff = await spool.captureBytes(git.diff);
      objects.push(git.info.diff);
    }
    const now = new Date().toISOString();
    const record: ExperimentRecord = {
      format: 1,
      id,
      created: now,
      params: params as Json,
      path: codeDirectory,
      code: code.ref,
      environment,
      git: git?.info ?? null,
      dependencies: { ...dependencies, ...(options.dependencies ?? {}) },
      heartbeatIntervalMs: interval,
      checkpoints: [],
      stopped: null,
      updated: now,
    };
    spool.append({ type: "experiment", record, codeTree: code.tree, objects });
    const trees = new Map([[code.ref.sha256, code.tree]]);
    const writer = new ExperimentWriter(storage, spool, { record: { ...record, checkpoints: [] }, trees, objects, unhashed: new Map() });
    writer.start();
    // The Run (and with it the SIGINT/SIGTERM handling) exists before the first record can be
    // published: a signal from here on stops the experiment instead of leaving it "crashed".
    const run = new Run(writer, spool, projectDirectory);
    // Visible to `cairn ps` when init() returns, unless storage is slow: then it goes on in the
    // background rather than hold up the training script.
    await writer.flush(5_000, { quiet: true });
    return run;
  } catch (error) {
    await spool.remove();
    throw error;
  }
}

function heartbeatIntervalMs(seconds: number | undefined): number {
  const fromEnvironment = process.env.CAIRN_HEARTBEAT_INTERVAL;
  const value = seconds ?? (fromEnvironment ? Number(fromEnvironment) : 5);
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new CairnError("INVALID_ARGUMENT", `heartbeat interval must be a positive number of seconds; got ${String(seconds ?? fromEnvironment)}.`);
  }
  return Math.round(value * 1000);
}

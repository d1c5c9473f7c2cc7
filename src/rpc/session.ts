import * as path from "node:path";
import { bestOf, primaryMetricOf } from "../repository/best.js";
import type { Checkpoint } from "../api/checkpoint.js";
import type { Experiment } from "../api/experiment.js";
import { Repository } from "../api/repository.js";
import type { RecordedCheckpoint, Run } from "../api/run.js";
import { resolveProject } from "../config.js";
import { CairnError, isCairnError } from "../errors.js";
import type { DependencyInfo } from "../repository/types.js";
import { handOverFile } from "./open-file.js";
import { checkpointToWire, experimentToWire, recordedToWire, type ExperimentWire } from "./serialize.js";
import { PROTOCOL_VERSION } from "./wire.js";

/**
 * Which repository a request is about, as the binding sees it: the folder to look for
 * cairn.yaml or .cairn/ from (the Python process's working directory, or Project(directory=)),
 * and an explicit repository (Project(repository=) or CAIRN_REPOSITORY), already absolute.
 */
interface ProjectSpec {
  directory: string;
  repository: string | null;
}

interface RunEntry {
  run: Run;
  checkpoints: RecordedCheckpoint[];
  stopped: boolean;
}

type Params = Record<string, unknown>;
type Method = (params: Params) => Promise<unknown>;

/**
 * The state behind one binding connection: open repositories, running experiments, and the
 * experiments and checkpoints already sent (so that opening a file does not read every record
 * again). Every method takes and returns plain JSON; see docs/PYTHON-PROTOCOL.md.
 *
 * @example
 * const session = new RpcSession("0.1.0");
 * const result = await session.call("experiments.list", { project: { directory: "/home/ana/project", repository: null } });
 */
export class RpcSession {
  private readonly repositories = new Map<string, Promise<Repository>>();
  private readonly runs = new Map<string, RunEntry>();
  private readonly experiments = new Map<string, Experiment>();
  private readonly checkpoints = new Map<string, Checkpoint>();

  private readonly methods: Record<string, Method> = {
    hello: async () => ({ protocol: PROTOCOL_VERSION, version: this.version, node: process.versions.node, pid: process.pid }),

    init: async (p) => {
      const repository = await this.repository(p);
      const run = await repository.init({
        path: p.path === undefined || p.path === null ? undefined : (p.path as string),
        params: p.params,
        runtimes: stringRecord(p.runtimes),
        dependencies: p.dependencies as Record<string, DependencyInfo> | undefined,
        command: Array.isArray(p.command) ? p.command.map(String) : undefined,
        workingDirectory: typeof p.workingDirectory === "string" ? p.workingDirectory : undefined,
      });
      const entry: RunEntry = { run, checkpoints: [], stopped: false };
      this.runs.set(run.id, entry);
      return runToWire(entry);
    },

    "run.checkpoint": async (p) => {
      const entry = this.run(p.run);
      const recorded = await entry.run.checkpoint({
        path: optional(p.path) as string | undefined,
        step: optional(p.step) as number | undefined,
        metrics: optional(p.metrics) as Record<string, number> | undefined,
        primaryMetric: optional(p.primaryMetric) as [string, "minimize" | "maximize"] | undefined,
      });
      entry.checkpoints.push(recorded);
      return recordedToWire(recorded, entry.run.id);
    },

    "run.get": async (p) => runToWire(this.run(p.run)),

    "run.stop": async (p) => {
      const entry = this.run(p.run);
      await entry.run.stop();
      entry.stopped = true;
      return runToWire(entry);
    },

    "experiments.list": async (p) => {
      const repository = await this.repository(p);
      const list = await repository.listExperiments({ filter: optional(p.filter) as string | string[] | undefined, sort: optional(p.sort) as string | undefined });
      // From summaries, as in TypeScript: the binding fetches an experiment's checkpoints
      // (experiments.get) only when its code first asks for them.
      return { experiments: list.map((e) => this.remember(repository, e)), problems: list.problems };
    },

    "experiments.get": async (p) => {
      const repository = await this.repository(p);
      return this.remember(repository, await repository.getExperiment(p.id as string));
    },

    "checkpoints.get": async (p) => {
      const repository = await this.repository(p);
      const checkpoint = await repository.getCheckpoint(p.id as string);
      this.checkpoints.set(handleKey(repository, checkpoint.id), checkpoint);
      return checkpointToWire(checkpoint);
    },

    "checkpoint.files": async (p) => (await this.checkpoint(p)).files(),

    "checkpoint.open": async (p) => handOverFile(await this.checkpoint(p), p.file as string, typeof p.directory === "string" ? p.directory : undefined),

    "checkpoint.checkout": async (p) => (await this.checkpoint(p)).checkout(checkoutOptions(p)),

    "experiment.checkout": async (p) => {
      const repository = await this.repository(p);
      const id = p.experiment as string;
      const experiment = this.experiments.get(handleKey(repository, id)) ?? (await repository.getExperiment(id));
      const result = await experiment.checkout(checkoutOptions(p));
      return { outputDirectory: result.outputDirectory, written: result.written, unchanged: result.unchanged, checkpoint: result.checkpoint?.id ?? null };
    },

    shutdown: async () => ({ stopped: await this.stopAll() }),
  };

  constructor(private readonly version: string) {}

  /**
   * Runs one method. Unknown methods are a PROTOCOL error; the core's own errors pass through.
   *
   * @example
   * await session.call("hello", {}); // { protocol: 1, version: "0.1.0", … }
   */
  call(method: string, params: Params): Promise<unknown> {
    const handler = Object.prototype.hasOwnProperty.call(this.methods, method) ? this.methods[method] : undefined;
    if (!handler) return Promise.reject(new ProtocolError(`unknown method "${method}"; this core speaks protocol ${PROTOCOL_VERSION}. Is the binding newer than the core?`));
    return handler(params);
  }

  /**
   * Stops every experiment still running and waits until each is published (or kept on local
   * disk for `cairn push` when storage keeps failing). Returns their IDs.
   *
   * @example
   * await session.stopAll(); // at the end of input, or on "shutdown"
   */
  async stopAll(): Promise<string[]> {
    const running = [...this.runs.values()].filter((entry) => !entry.stopped);
    await Promise.all(
      running.map(async (entry) => {
        await entry.run.stop();
        entry.stopped = true;
      }),
    );
    return running.map((entry) => entry.run.id);
  }

  private async repository(p: Params): Promise<Repository> {
    const project = projectOf(p.project);
    const resolved = resolveProject({ start: project.directory, repository: project.repository ?? undefined });
    const key = `${resolved.repository}\0${resolved.directory}`;
    let opening = this.repositories.get(key);
    if (!opening) {
      opening = Repository.open(resolved.repository, { projectDirectory: resolved.directory, storage: resolved.config.storage });
      this.repositories.set(key, opening);
      // A failed open (a typo in the URL, storage down) must not be remembered.
      opening.catch(() => this.repositories.delete(key));
    }
    return opening;
  }

  private run(id: unknown): RunEntry {
    const entry = typeof id === "string" ? this.runs.get(id) : undefined;
    if (!entry) throw new ProtocolError(`no running experiment ${JSON.stringify(id)} in this session`);
    return entry;
  }

  private async checkpoint(p: Params): Promise<Checkpoint> {
    const repository = await this.repository(p);
    const id = p.checkpoint as string;
    const known = this.checkpoints.get(handleKey(repository, id));
    if (known) return known;
    const checkpoint = await repository.getCheckpoint(id);
    this.checkpoints.set(handleKey(repository, checkpoint.id), checkpoint);
    return checkpoint;
  }

  private remember(repository: Repository, experiment: Experiment): ExperimentWire {
    this.experiments.set(handleKey(repository, experiment.id), experiment);
    const known = experiment.loaded ? experiment.checkpoints : [experiment.best(), experiment.latest()];
    for (const checkpoint of known) if (checkpoint) this.checkpoints.set(handleKey(repository, checkpoint.id), checkpoint);
    return experimentToWire(experiment);
  }
}

/** A request the core cannot make sense of: a bug in the binding, or a binding/core mismatch. */
export class ProtocolError extends Error {
  readonly code = "PROTOCOL";
}

function runToWire(entry: RunEntry): ExperimentWire {
  const { run, checkpoints } = entry;
  const best = bestOf(checkpoints);
  const latest = checkpoints.at(-1);
  return {
    id: run.id,
    created: run.created.toISOString(),
    status: entry.stopped ? "stopped" : "running",
    stopped: null,
    lastHeartbeat: null,
    params: run.params,
    path: null,
    environment: null,
    git: null,
    dependencies: null,
    code: null,
    primaryMetric: primaryMetricOf(checkpoints),
    best: best ? best.id : null,
    latest: latest ? latest.id : null,
    checkpoints: checkpoints.map((c) => recordedToWire(c, run.id)),
    checkpointCount: checkpoints.length,
    bestCheckpoint: best ? recordedToWire(best, run.id) : null,
    latestCheckpoint: latest ? recordedToWire(latest, run.id) : null,
  };
}

function projectOf(value: unknown): ProjectSpec {
  const project = value as Partial<ProjectSpec> | undefined;
  if (!project || typeof project.directory !== "string" || !path.isAbsolute(project.directory)) {
    throw new ProtocolError(`"project" must be {directory: an absolute path, repository: a URL, an absolute path or null}`);
  }
  if (project.repository !== null && project.repository !== undefined && typeof project.repository !== "string") {
    throw new ProtocolError(`"project.repository" must be a string or null`);
  }
  return { directory: project.directory, repository: project.repository ?? null };
}

function checkoutOptions(p: Params): { outputDirectory: string; force: boolean; path?: string } {
  if (typeof p.outputDirectory !== "string" || p.outputDirectory === "") {
    throw new CairnError("INVALID_ARGUMENT", `checkout() needs output_directory, the folder to write the files into, like output_directory="weights".`);
  }
  return { outputDirectory: p.outputDirectory, force: p.force === true, ...(typeof p.path === "string" ? { path: p.path } : {}) };
}

function handleKey(repository: Repository, id: string): string {
  return `${repository.url}\0${id}`;
}

function optional(value: unknown): unknown {
  return value === null ? undefined : value;
}

function stringRecord(value: unknown): Record<string, string> | undefined {
  if (value === null || typeof value !== "object") return undefined;
  return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
}

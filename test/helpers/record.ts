import * as fs from "node:fs/promises";
import * as path from "node:path";
import { openRepository, type Repository, type Run } from "../../src/index.js";
import { waitFor } from "./project.js";

/** One checkpoint to record: metrics, and files written to `model/` in the project first. */
export interface CheckpointSpec {
  metrics?: Record<string, number>;
  /** Files (relative to `model/`) saved as the checkpoint; none: a metrics-only checkpoint. */
  files?: Record<string, string>;
  /** Default: ["loss", "minimize"] when the metrics have a loss. */
  primaryMetric?: [string, "minimize" | "maximize"] | null;
  step?: number;
}

export interface ExperimentSpec {
  params?: unknown;
  /** Code files written into the project before init (so snapshots differ). */
  code?: Record<string, string>;
  checkpoints?: CheckpointSpec[];
  /** Leave it running (heartbeating from this process); stop it with `run.stop()`. */
  running?: boolean;
  runtimes?: Record<string, string>;
}

export interface Recorded {
  id: string;
  checkpoints: string[];
  run: Run;
}

/** The project's default repository (`.cairn/` in it). @example const repository = await repositoryOf(project); */
export function repositoryOf(project: string): Promise<Repository> {
  return openRepository(path.join(project, ".cairn"), { projectDirectory: project });
}

/**
 * Records an experiment in the project's `.cairn/` through the API, and waits until a reader
 * can see it with all its checkpoints (stopped ones are published by stop()).
 *
 * @example
 * const { id, checkpoints } = await recordExperiment(project, { params: { lr: 0.1 }, checkpoints: [{ metrics: { loss: 0.5 } }] });
 */
export async function recordExperiment(project: string, spec: ExperimentSpec = {}): Promise<Recorded> {
  for (const [name, contents] of Object.entries(spec.code ?? {})) {
    await fs.mkdir(path.dirname(path.join(project, name)), { recursive: true });
    await fs.writeFile(path.join(project, name), contents);
  }
  const repository = await repositoryOf(project);
  const run = await repository.init({ path: ".", params: spec.params, heartbeatInterval: 0.2, runtimes: spec.runtimes });
  const checkpoints: string[] = [];
  for (const checkpoint of spec.checkpoints ?? []) {
    const metrics = checkpoint.metrics ?? {};
    const primaryMetric = checkpoint.primaryMetric === undefined ? ("loss" in metrics ? (["loss", "minimize"] as [string, "minimize"]) : undefined) : (checkpoint.primaryMetric ?? undefined);
    let modelPath: string | undefined;
    if (checkpoint.files) {
      modelPath = "model";
      await fs.rm(path.join(project, modelPath), { recursive: true, force: true });
      for (const [name, contents] of Object.entries(checkpoint.files)) {
        await fs.mkdir(path.dirname(path.join(project, modelPath, name)), { recursive: true });
        await fs.writeFile(path.join(project, modelPath, name), contents);
      }
    }
    const recorded = await run.checkpoint({ path: modelPath, metrics, primaryMetric, step: checkpoint.step });
    checkpoints.push(recorded.id);
  }
  if (spec.running) {
    const want = checkpoints.length;
    await waitFor(async () => {
      const experiment = await repository.getExperiment(run.id).catch(() => null);
      return experiment !== null && experiment.checkpoints.length === want;
    }, 20_000, `experiment ${run.id} to be published`);
  } else {
    await run.stop();
  }
  return { id: run.id, checkpoints, run };
}

/**
 * The shortest prefix shared by two or more of `ids`, or null (then add more IDs).
 *
 * @example
 * sharedPrefix(["abc1", "abd2", "f00"]); // "ab"
 */
export function sharedPrefix(ids: string[]): string | null {
  for (let length = 1; length <= 32; length++) {
    const seen = new Set<string>();
    for (const id of ids) {
      const prefix = id.slice(0, length);
      if (seen.has(prefix)) return prefix;
      seen.add(prefix);
    }
  }
  return null;
}

/**
 * Removes an experiment's summary (`summaries/<id>.json`), as anyone who edits a record by hand
 * must (FORMAT.md): listings read summaries, so an edited record is only seen once its summary,
 * derived from the record as it was, is gone. Also what a repository written before format 1.1
 * looks like.
 *
 * @example
 * await fs.writeFile(recordFile, "garbage");
 * await forgetSummary(path.join(dir, ".cairn"), id);
 */
export async function forgetSummary(repositoryRoot: string, id: string): Promise<void> {
  await fs.rm(path.join(repositoryRoot, "summaries", `${id}.json`), { force: true });
}

import type { Checkpoint } from "../api/checkpoint.js";
import type { Experiment } from "../api/experiment.js";
import type { RecordedCheckpoint } from "../api/run.js";
import type { PrimaryMetric } from "../repository/types.js";

/**
 * What the binding receives for experiments and checkpoints: plain JSON with ISO dates and
 * metrics as numbers (non-finite ones are tagged by wire.ts). `best` and `latest` are
 * checkpoint IDs, chosen here so the binding never re-implements the ranking.
 */
export interface CheckpointWire {
  id: string;
  experimentId: string;
  step: number;
  created: string;
  metrics: Record<string, number>;
  primaryMetric: PrimaryMetric | null;
  path: string | null;
  files: number | null;
  bytes: number | null;
}

export interface ExperimentWire {
  id: string;
  created: string;
  status: string;
  stopped: string | null;
  lastHeartbeat: string | null;
  params: unknown;
  path: string | null;
  environment: unknown;
  git: unknown;
  dependencies: unknown;
  code: unknown;
  primaryMetric: PrimaryMetric | null;
  best: string | null;
  latest: string | null;
  /**
   * Every checkpoint, or null for an experiment from a listing (read from its summary): the
   * binding fetches them with experiments.get when first asked. Best and latest are always here.
   */
  checkpoints: CheckpointWire[] | null;
  checkpointCount: number;
  bestCheckpoint: CheckpointWire | null;
  latestCheckpoint: CheckpointWire | null;
}

/** @example checkpointToWire(experiment.best()!) */
export function checkpointToWire(checkpoint: Checkpoint): CheckpointWire {
  return {
    id: checkpoint.id,
    experimentId: checkpoint.experimentId,
    step: checkpoint.step,
    created: checkpoint.created.toISOString(),
    metrics: { ...checkpoint.metrics },
    primaryMetric: checkpoint.primaryMetric,
    path: checkpoint.path,
    files: checkpoint.tree?.files ?? 0,
    bytes: checkpoint.tree?.bytes ?? 0,
  };
}

/**
 * A checkpoint a running experiment has just recorded: its file totals are not known here
 * (they are once it is read back from the repository).
 *
 * @example
 * recordedToWire(await run.checkpoint({ metrics: { loss } }), run.id);
 */
export function recordedToWire(checkpoint: RecordedCheckpoint, experimentId: string): CheckpointWire {
  return {
    id: checkpoint.id,
    experimentId,
    step: checkpoint.step,
    created: checkpoint.created.toISOString(),
    metrics: { ...checkpoint.metrics },
    primaryMetric: checkpoint.primaryMetric,
    path: checkpoint.path,
    files: null,
    bytes: null,
  };
}

/** @example experimentToWire(await repository.getExperiment("e510303")) */
export function experimentToWire(experiment: Experiment): ExperimentWire {
  const best = experiment.best();
  const latest = experiment.latest();
  return {
    id: experiment.id,
    created: experiment.created.toISOString(),
    status: experiment.status,
    stopped: experiment.stopped?.toISOString() ?? null,
    lastHeartbeat: experiment.lastHeartbeat?.toISOString() ?? null,
    params: experiment.params,
    path: experiment.path,
    environment: experiment.environment,
    git: experiment.git,
    dependencies: experiment.dependencies,
    code: experiment.code,
    primaryMetric: experiment.primaryMetric,
    best: best?.id ?? null,
    latest: latest?.id ?? null,
    checkpoints: experiment.loaded ? experiment.checkpoints.map(checkpointToWire) : null,
    checkpointCount: experiment.checkpointCount,
    bestCheckpoint: best ? checkpointToWire(best) : null,
    latestCheckpoint: latest ? checkpointToWire(latest) : null,
  };
}

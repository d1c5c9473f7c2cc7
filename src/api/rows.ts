import { flattenParams } from "../query/index.js";
import type { QueryRow } from "../query/index.js";
import type { Experiment } from "./experiment.js";

/** The fields every experiment row has, whatever its params and metrics. */
export const FIXED_FIELDS = ["id", "status", "user", "host", "created", "stopped", "checkpoints", "step", "command", "git.commit", "git.branch", "git.dirty"] as const;

/**
 * The flat row the filter and sort language works on. `metrics.X` is the best checkpoint's value
 * (the latest's when there is no primary metric); `latest.X` is always the latest's; `step` is
 * the step of the checkpoint `metrics.X` comes from.
 *
 * @example
 * toQueryRow(experiment); // { id: "e51…", status: "running", "params.lr": 0.01, "metrics.loss": 0.2, … }
 */
export function toQueryRow(experiment: Experiment): QueryRow {
  const best = experiment.best() ?? experiment.latest();
  const latest = experiment.latest();
  const row: QueryRow = {
    id: experiment.id,
    status: experiment.status,
    user: experiment.environment?.user ?? null,
    host: experiment.environment?.host ?? null,
    created: experiment.created.toISOString(),
    stopped: experiment.stopped?.toISOString() ?? null,
    checkpoints: experiment.checkpointCount,
    step: best?.step ?? null,
    command: experiment.environment?.command?.join(" ") ?? null,
    "git.commit": experiment.git?.commit ?? null,
    "git.branch": experiment.git?.branch ?? null,
    "git.dirty": experiment.git?.dirty ?? null,
    ...flattenParams(experiment.params),
  };
  for (const [name, value] of Object.entries(best?.metrics ?? {})) row[`metrics.${name}`] = value;
  for (const [name, value] of Object.entries(latest?.metrics ?? {})) row[`latest.${name}`] = value;
  return row;
}

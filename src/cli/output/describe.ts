import { decodeMetric } from "../../repository/metrics.js";
import type { ExperimentStatus, PrimaryMetric, StoredMetric } from "../../repository/types.js";
import type { Colors } from "./colors.js";
import { formatMetric } from "./format.js";

/** The 7-character form of an ID shown in tables, like git's abbreviated hashes. */
export function shortId(id: string): string {
  return id.slice(0, 7);
}

/**
 * An experiment's status, coloured: running green, crashed red, stopped plain.
 *
 * @example
 * statusText("crashed", colors); // "\x1b[31mcrashed\x1b[39m" on a terminal
 */
export function statusText(status: ExperimentStatus, colors: Colors): string {
  if (status === "running") return colors.green(status);
  if (status === "crashed") return colors.red(status);
  return status;
}

/**
 * A checkpoint in one cell: short ID, step and the primary metric's value.
 *
 * @example
 * checkpointCell(best, { name: "loss", goal: "minimize" }); // "3ccb2f1 (step 4) loss=0.12"
 */
export function checkpointCell(checkpoint: CheckpointFacts | null, primary: Pick<PrimaryMetric, "name"> | null): string {
  if (checkpoint === null) return "-";
  const cell = `${shortId(checkpoint.id)} (step ${checkpoint.step})`;
  if (primary === null || !(primary.name in checkpoint.metrics)) return cell;
  const value = checkpoint.metrics[primary.name];
  return `${cell} ${primary.name}=${formatMetric(value === undefined ? undefined : decodeMetric(value))}`;
}

/**
 * What a checkpoint cell shows: a Checkpoint, or a checkpoint as a record or summary stores it
 * (NaN and infinities as the strings "NaN", "Infinity", "-Infinity").
 */
export interface CheckpointFacts {
  id: string;
  step: number;
  metrics: Record<string, StoredMetric>;
}

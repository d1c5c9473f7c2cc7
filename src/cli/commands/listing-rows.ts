import type { Experiment } from "../../api/experiment.js";
import type { ListedExperiment } from "../../repository/list-summaries.js";
import type { ExperimentStatus, Json, PrimaryMetric } from "../../repository/types.js";
import type { CheckpointFacts } from "../output/describe.js";

/** What a row of the table shows of an experiment, from its summary or from an Experiment. */
export interface TableExperiment {
  id: string;
  created: Date;
  status: ExperimentStatus;
  user: string | null;
  host: string | null;
  params: Json;
  /** The primary metric's name: the value of it is what a checkpoint cell shows. */
  primaryMetric: Pick<PrimaryMetric, "name"> | null;
  best: CheckpointFacts | null;
  latest: CheckpointFacts | null;
}

/**
 * A table row from a listed summary (what the plain `cairn ls` reads).
 *
 * @example
 * const rows = (await repository.listSummaries()).experiments.map(fromSummary);
 */
export function fromSummary({ summary, status }: ListedExperiment): TableExperiment {
  return {
    id: summary.id,
    created: new Date(summary.created),
    status,
    user: summary.environment?.user ?? null,
    host: summary.environment?.host ?? null,
    params: summary.params,
    primaryMetric: summary.primaryMetric,
    best: summary.best?.checkpoint ?? null,
    latest: summary.latest,
  };
}

/**
 * A table row from an Experiment (what a filtered or sorted listing has).
 *
 * @example
 * const rows = (await repository.listExperiments({ sort: "metrics.loss" })).map(fromExperiment);
 */
export function fromExperiment(experiment: Experiment): TableExperiment {
  return {
    id: experiment.id,
    created: experiment.created,
    status: experiment.status,
    user: experiment.environment?.user ?? null,
    host: experiment.environment?.host ?? null,
    params: experiment.params,
    primaryMetric: experiment.primaryMetric,
    best: experiment.best(),
    latest: experiment.latest(),
  };
}


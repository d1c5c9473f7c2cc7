import type { Experiment } from "../api/experiment.js";
import type { Repository } from "../api/repository.js";
import { diffSubjectOf, diffSubjects, type Differences, type ValueDifference } from "../api/diff.js";
import { jsonNumber } from "./json.js";

/** What the compare page shows besides the curves. */
export interface Comparison {
  experiments: { id: string; status: string; created: string; primaryMetric: { name: string; goal: string } | null; best: string | null; checkpoints: number }[];
  /** Exactly what `cairn diff --json` prints, with NaN/±Infinity as strings and absent values as null. */
  differences: Differences;
}

/**
 * What differs between experiments: the same computation as `cairn diff` (`diffSubjectOf` +
 * `diffSubjects` of src/api/diff.ts), plus a summary of each experiment for the legend.
 *
 * @example
 * const { differences } = await compareExperiments(repository, [a, b]);
 * differences.params; // [{ key: "lr", values: [0.1, 0.01] }]
 */
export async function compareExperiments(repository: Repository, experiments: Experiment[]): Promise<Comparison> {
  const subjects = await Promise.all(experiments.map((experiment) => diffSubjectOf(repository, experiment)));
  const differences = diffSubjects(subjects);
  const clean = (items: ValueDifference[]): ValueDifference[] =>
    items.map((item) => ({ key: item.key, values: item.values.map((v) => (v === undefined ? null : typeof v === "number" ? jsonNumber(v) : v)) }));
  return {
    experiments: experiments.map((e) => ({
      id: e.id,
      status: e.status,
      created: e.created.toISOString(),
      primaryMetric: e.primaryMetric,
      best: e.best()?.id ?? null,
      checkpoints: e.checkpointCount,
    })),
    differences: {
      ...differences,
      params: clean(differences.params),
      metrics: clean(differences.metrics),
      environment: clean(differences.environment),
      dependencies: clean(differences.dependencies),
    },
  };
}

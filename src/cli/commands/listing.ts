import type { Command } from "commander";
import type { Experiment } from "../../api/experiment.js";
import { selectExperiments, type Repository } from "../../api/repository.js";
import type { RepositoryProblem } from "../../repository/load.js";
import type { ExperimentStatus } from "../../repository/types.js";
import type { CliContext } from "../context.js";
import { toJsonText } from "../output/json.js";
import { fromExperiment } from "./listing-rows.js";
import { listingTable, renderListingTable, type ListingTable } from "./listing-table.js";
import { plainListing } from "./listing-view-cache.js";
import { warnProblems } from "./problems.js";

export interface ListingOptions {
  filter?: string[];
  sort?: string;
  all?: boolean;
  quiet?: boolean;
  json?: boolean;
}

/**
 * The action of `cairn ls` and `cairn ps`: load, filter, sort, then print a table, IDs or JSON.
 * Unreadable records are reported on stderr after the listing and do not change the exit code.
 */
export async function listExperiments(context: CliContext, command: Command, options: ListingOptions, runningOnly: boolean): Promise<void> {
  const repository = await context.openRepository(command);
  const filter = [...(runningOnly ? ["status = running"] : []), ...(options.filter ?? [])];
  const plain = filter.length === 0 && !options.sort && !options.json;
  const { ids, table, statuses, experiments, problems, total } = plain ? await plainSelection(repository) : await selectedListing(repository, filter, options.sort);

  if (options.json) context.stdout.write(toJsonText(experiments.map(summary)));
  else if (options.quiet) context.stdout.write(ids.map((id) => `${id}\n`).join(""));
  else if (ids.length > 0) context.stdout.write(renderListingTable(table(), statuses, context.now(), context.stdout.colors, options.all === true));

  if (ids.length === 0 && !options.json && !options.quiet) {
    if (total === 0 && problems.length === 0) {
      context.stderr.write(
        `No experiments in ${repository.url} yet. Record one from a training script:\n` +
          `  const experiment = await cairn.init({ path: ".", params: { lr: 0.01 } });\n` +
          `  await experiment.checkpoint({ path: "model", metrics: { loss }, primaryMetric: ["loss", "minimize"] });\n` +
          `  await experiment.stop();\n`,
      );
    } else if (runningOnly && (options.filter ?? []).length === 0) {
      context.stderr.write(`No experiment is running (${total} in total; "cairn ls" lists them).\n`);
    } else if (filter.length > 0) {
      context.stderr.write(`No experiment matches the filter (${total} in total).\n`);
    }
  }
  warnProblems(context, problems);
}

/**
 * What a listing selected: the IDs, the table of them (made only when printed), their
 * statuses, the Experiments when built, problems, and how many there are in all.
 */
interface Selection {
  ids: string[];
  table: () => ListingTable;
  statuses: ExperimentStatus[];
  experiments: Experiment[];
  problems: RepositoryProblem[];
  total: number;
}

/**
 * Every experiment, newest first, drawn from the summaries (or the table kept from them, see
 * listing-view-cache.ts) without building an Experiment and two Checkpoints per row (a tenth of
 * a second for 10,000 experiments).
 */
async function plainSelection(repository: Repository): Promise<Selection> {
  const { ids, table, statuses, problems } = await plainListing(repository);
  return { ids, table, statuses, experiments: [], problems, total: ids.length };
}

/** The experiments a filter or sort selects (they work on Experiments), or all of them for --json. */
async function selectedListing(repository: Repository, filter: string[], sort: string | undefined): Promise<Selection> {
  const loaded = await repository.load();
  const experiments = selectExperiments(loaded.experiments, { filter, sort });
  return {
    ids: experiments.map((e) => e.id),
    table: () => listingTable(experiments.map(fromExperiment)),
    statuses: experiments.map((e) => e.status),
    experiments,
    problems: loaded.problems,
    total: loaded.experiments.length,
  };
}

/** An experiment for `ls --json`: its JSON without the checkpoint list (best and latest stay). */
export function summary(experiment: Experiment): Record<string, unknown> {
  const { checkpoints: _checkpoints, ...rest } = experiment.toJSON();
  return rest;
}

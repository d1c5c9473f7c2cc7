import type { Command } from "commander";
import type { Experiment } from "../../api/experiment.js";
import { differingKeys } from "../../api/diff.js";
import { selectExperiments, type Repository } from "../../api/repository.js";
import type { QueryValue } from "../../query/index.js";
import type { RepositoryProblem } from "../../repository/load.js";
import type { CliContext } from "../context.js";
import { checkpointCell, shortId, statusText } from "../output/describe.js";
import { formatValue } from "../output/format.js";
import { tableParams } from "../output/params.js";
import { toJsonText } from "../output/json.js";
import { renderTable, truncate } from "../output/table.js";
import { relativeTime } from "../output/time.js";
import { fromExperiment, type TableExperiment } from "./listing-rows.js";
import { plainListingRows } from "./listing-view-cache.js";
import { warnProblems } from "./problems.js";

export interface ListingOptions {
  filter?: string[];
  sort?: string;
  all?: boolean;
  quiet?: boolean;
  json?: boolean;
}

/** Longest param value shown in a table cell; --json has the whole value. */
const MAX_PARAM_WIDTH = 40;

/**
 * The action of `cairn ls` and `cairn ps`: load, filter, sort, then print a table, IDs or JSON.
 * Unreadable records are reported on stderr after the listing and do not change the exit code.
 */
export async function listExperiments(context: CliContext, command: Command, options: ListingOptions, runningOnly: boolean): Promise<void> {
  const repository = await context.openRepository(command);
  const filter = [...(runningOnly ? ["status = running"] : []), ...(options.filter ?? [])];
  const plain = filter.length === 0 && !options.sort && !options.json;
  const { selected, experiments, problems, total } = plain ? await plainListing(repository) : await selectedListing(repository, filter, options.sort);

  if (options.json) context.stdout.write(toJsonText(experiments.map(summary)));
  else if (options.quiet) context.stdout.write(selected.map((e) => `${e.id}\n`).join(""));
  else if (selected.length > 0) context.stdout.write(experimentTable(selected, context, options.all === true));

  if (selected.length === 0 && !options.json && !options.quiet) {
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

/** What a listing selected: table rows, the Experiments when built, problems, and how many there are in all. */
interface Selection {
  selected: TableExperiment[];
  experiments: Experiment[];
  problems: RepositoryProblem[];
  total: number;
}

/**
 * Every experiment, newest first, drawn from the summaries (or the rows kept from them, see
 * listing-view-cache.ts) without building an Experiment and two Checkpoints per row (a tenth of
 * a second for 10,000 experiments).
 */
async function plainListing(repository: Repository): Promise<Selection> {
  const { rows, problems } = await plainListingRows(repository);
  return { selected: rows, experiments: [], problems, total: rows.length };
}

/** The experiments a filter or sort selects (they work on Experiments), or all of them for --json. */
async function selectedListing(repository: Repository, filter: string[], sort: string | undefined): Promise<Selection> {
  const loaded = await repository.load();
  const experiments = selectExperiments(loaded.experiments, { filter, sort });
  return { selected: experiments.map(fromExperiment), experiments, problems: loaded.problems, total: loaded.experiments.length };
}

/** An experiment for `ls --json`: its JSON without the checkpoint list (best and latest stay). */
export function summary(experiment: Experiment): Record<string, unknown> {
  const { checkpoints: _checkpoints, ...rest } = experiment.toJSON();
  return rest;
}

/**
 * The `ls` table. USER and HOST appear only when they vary across the rows (or with `all`);
 * params only those whose values differ (all of them with `all`).
 */
function experimentTable(experiments: TableExperiment[], context: CliContext, all: boolean): string {
  const c = context.stdout.colors;
  const now = context.now();
  const varies = (values: unknown[]): boolean => new Set(values).size > 1;
  const users = experiments.map((e) => e.user);
  const hosts = experiments.map((e) => e.host);
  const showUser = all || varies(users);
  const showHost = all || varies(hosts);
  const params = experiments.map((e) => tableParams(e.params));
  const paramKeys = all ? unionKeys(params) : differingKeys(params);

  const header = ["ID", "STARTED", "STATUS", ...(showUser ? ["USER"] : []), ...(showHost ? ["HOST"] : []), ...paramKeys, "BEST CHECKPOINT", "LATEST CHECKPOINT"];
  const rows = experiments.map((experiment, index) => {
    const primary = experiment.primaryMetric;
    return [
      c.yellow(shortId(experiment.id)),
      relativeTime(experiment.created, now),
      statusText(experiment.status, c),
      ...(showUser ? [users[index] ?? "-"] : []),
      ...(showHost ? [hosts[index] ?? "-"] : []),
      ...paramKeys.map((key) => truncate(formatValue(params[index]![key] as QueryValue | undefined), MAX_PARAM_WIDTH)),
      checkpointCell(experiment.best, primary),
      checkpointCell(experiment.latest, primary),
    ];
  });
  return renderTable([header.map((h) => c.bold(h)), ...rows]);
}

function unionKeys(records: Record<string, unknown>[]): string[] {
  const keys = new Set<string>();
  for (const record of records) for (const key of Object.keys(record)) keys.add(key);
  return [...keys];
}

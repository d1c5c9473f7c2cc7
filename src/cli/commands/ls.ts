import { Option } from "commander";
import { collect, examples, type RegisterCommand } from "../command.js";
import { listExperiments, type ListingOptions } from "./listing.js";

/** Options shared by `ls` and `ps`. */
export function listingOptions(): Option[] {
  return [
    new Option("--filter <expression>", 'keep experiments matching EXPRESSION, e.g. "params.lr < 0.01" (repeatable; all must match)').argParser(collect),
    new Option("--sort <field[:asc|desc]>", 'order by a field, e.g. "metrics.loss" or "created:asc" (default: newest first)'),
    new Option("--all", "show every param column and USER/HOST, not only those that differ"),
    new Option("-q, --quiet", "print full experiment IDs only, one per line").conflicts("json"),
    new Option("--json", "print a JSON array of experiments (each with best and latest checkpoints)"),
  ];
}

/** The help text about the filter language and warnings, shared by `ls` and `ps`. */
export const LISTING_HELP = `
Filters: FIELD OP VALUE, joined with "and", "or", "not" and parentheses. OP is one of
= != < <= > >= ~ (contains). Fields: id, status, user, host, created, stopped, checkpoints,
step, command, git.commit, git.branch, git.dirty, params.NAME, metrics.NAME (the best
checkpoint's value, else the latest's), latest.NAME (the latest checkpoint's value).

Columns: ID, STARTED, STATUS, USER and HOST (only when they vary), the params whose values
differ between the experiments listed (all params with --all), and the best and latest
checkpoints with the primary metric. NaN and infinite metrics show as NaN, inf, -inf.

Records that cannot be read are reported on stderr as warnings after the listing; the
others are still listed and the exit code stays 0.
`;

export const registerLs: RegisterCommand = (program, context) => {
  const command = program
    .command("ls")
    .description("List experiments, newest first")
    .addHelpText("after", LISTING_HELP + examples([
      "cairn ls",
      "cairn ls --filter 'params.lr < 0.01 and metrics.loss <= 0.2' --sort metrics.loss",
      "cairn ls --filter 'status = crashed' --filter 'user = ana'",
      "cairn ls -q | head -1",
      "cairn ls --json | jq '.[].best.metrics'",
    ]));
  for (const option of listingOptions()) command.addOption(option);
  command.action((options: ListingOptions, cmd) => listExperiments(context, cmd, options, false));
};

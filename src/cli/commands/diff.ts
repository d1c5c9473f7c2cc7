import { diffSubjectOf, diffSubjects, type Differences, type ValueDifference } from "../../api/diff.js";
import type { QueryValue } from "../../query/index.js";
import { examples, type RegisterCommand } from "../command.js";
import type { CliContext } from "../context.js";
import { shortId } from "../output/describe.js";
import { formatBytes, formatMetric, formatValue } from "../output/format.js";
import { toJsonText } from "../output/json.js";
import { renderTable, truncate } from "../output/table.js";

const MAX_VALUE_WIDTH = 50;

export const registerDiff: RegisterCommand = (program, context) => {
  program
    .command("diff")
    .description("Show what differs between two or more experiments or checkpoints")
    .argument("<id>", "an experiment or checkpoint ID (or unique prefix)")
    .argument("<other...>", "one or more IDs to compare with the first")
    .option("--json", "print the differences as JSON")
    .addHelpText(
      "after",
      `
Compares params, metrics, environment (including git), dependencies and code files, and
prints only what differs. An experiment's metrics are those of its best checkpoint (else its
latest); a checkpoint's are its own. Code files are compared by path and SHA-256: "added",
"removed" and "changed" are relative to the first ID.
` + examples(["cairn diff e510303 a1b2c3d", "cairn diff 3ccb2f1 9f8e7d6 --json | jq .metrics"]),
    )
    .action(async (first: string, others: string[], options: { json?: boolean }, command) => {
      const repository = await context.openRepository(command);
      const things = [];
      for (const id of [first, ...others]) things.push(await repository.resolve(id));
      const subjects = await Promise.all(things.map((thing) => diffSubjectOf(repository, thing)));
      const differences = diffSubjects(subjects);
      if (options.json) context.stdout.write(toJsonText(differences));
      else context.stdout.write(renderDifferences(context, differences));
    });
};

function cell(value: QueryValue | undefined, metric: boolean): string {
  if (value === undefined) return "-";
  if (metric && typeof value === "number") return formatMetric(value);
  return truncate(formatValue(value), MAX_VALUE_WIDTH);
}

/** The people's view: one column per ID, one section per kind of difference. */
function renderDifferences(context: CliContext, differences: Differences): string {
  const c = context.stdout.colors;
  const rows: string[][] = [];
  const header = [
    "",
    ...differences.subjects.map((s) => c.yellow(s.kind === "checkpoint" ? `${shortId(s.id)} (checkpoint)` : shortId(s.id))),
  ];
  const section = (title: string, items: ValueDifference[], metric = false): void => {
    if (items.length === 0) return;
    rows.push([c.bold(title)]);
    for (const item of items) rows.push([`  ${item.key}`, ...item.values.map((v) => cell(v, metric))]);
  };
  section("params", differences.params);
  const from = differences.subjects.map((s) => (s.checkpointId ? `${s.metricsFrom} ${shortId(s.checkpointId)}, step ${s.step}` : "no checkpoint"));
  if (differences.metrics.length > 0) {
    rows.push([c.bold("metrics"), ...from.map((f) => c.dim(f))]);
    for (const item of differences.metrics) rows.push([`  ${item.key}`, ...item.values.map((v) => cell(v, true))]);
  }
  section("environment", differences.environment);
  section("dependencies", differences.dependencies);
  if (differences.code.length > 0) {
    rows.push([c.bold("code")]);
    for (const file of differences.code) {
      const values = file.sha256.map((sha, i) => (sha === null ? "-" : `${sha.slice(0, 7)} ${formatBytes(file.size[i]!)}`));
      rows.push([`  ${file.path} (${file.change})`, ...values]);
    }
  }
  if (rows.length === 0) {
    return `No differences in params, metrics, environment, dependencies or code between ${differences.subjects.map((s) => shortId(s.id)).join(", ")}.\n`;
  }
  return renderTable([header, ...rows]);
}

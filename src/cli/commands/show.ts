import { Checkpoint } from "../../api/checkpoint.js";
import type { Experiment } from "../../api/experiment.js";
import { flatParams } from "../../api/diff.js";
import type { Repository } from "../../api/repository.js";
import { examples, type RegisterCommand } from "../command.js";
import type { CliContext } from "../context.js";
import { shortId, statusText } from "../output/describe.js";
import { formatBytes, formatMetric, formatValue, plural } from "../output/format.js";
import { toJsonText } from "../output/json.js";
import { renderFields, renderTable } from "../output/table.js";
import { relativeTime, timestamp } from "../output/time.js";

interface ShowOptions {
  json?: boolean;
  diff?: boolean;
}

export const registerShow: RegisterCommand = (program, context) => {
  program
    .command("show")
    .description("Show an experiment or a checkpoint")
    .argument("<id>", "an experiment or checkpoint ID, or any unique prefix of one")
    .option("--json", "print it as JSON (an experiment with all its checkpoints; a checkpoint with its file list)")
    .option("--diff", "print the uncommitted git diff recorded when the experiment started")
    .addHelpText(
      "after",
      `
An experiment: its status, params, environment, git state, dependencies, code snapshot and
checkpoints (the best one by the primary metric is marked *). A checkpoint: its experiment,
step, metrics and files with their sizes.
` +
        examples(["cairn show e510303", "cairn show 3ccb2f1 --json | jq .metrics", "cairn show e510303 --diff | git apply"]),
    )
    .action(async (id: string, options: ShowOptions, command) => {
      const repository = await context.openRepository(command);
      const thing = await repository.resolve(id);
      if (options.diff) return printDiff(context, repository, thing);
      if (thing instanceof Checkpoint) await showCheckpoint(context, repository, thing, options);
      else await showExperiment(context, thing, options);
    });
};

async function printDiff(context: CliContext, repository: Repository, thing: Experiment | Checkpoint): Promise<void> {
  const experiment = thing instanceof Checkpoint ? await repository.getExperiment(thing.experimentId) : thing;
  const diff = await experiment.gitDiff();
  if (diff === null) {
    const why = experiment.git === null ? "was not in a git repository" : "had no uncommitted changes";
    context.stderr.write(`Experiment ${shortId(experiment.id)} ${why} when it started; there is no diff.\n`);
    return;
  }
  context.stdout.write(diff.endsWith("\n") || diff === "" ? diff : `${diff}\n`);
}

function heading(context: CliContext, text: string): string {
  return `\n${context.stdout.colors.bold(text)}\n`;
}

async function showExperiment(context: CliContext, experiment: Experiment, options: ShowOptions): Promise<void> {
  if (options.json) {
    context.stdout.write(toJsonText({ kind: "experiment", ...experiment.toJSON() }));
    return;
  }
  const c = context.stdout.colors;
  const now = context.now();
  const primary = experiment.primaryMetric;
  const fields: [string, string][] = [
    ["status", statusText(experiment.status, c)],
    ["created", timestamp(experiment.created, now)],
  ];
  if (experiment.stopped) fields.push(["stopped", timestamp(experiment.stopped, now)]);
  else if (experiment.lastHeartbeat) fields.push(["heartbeat", relativeTime(experiment.lastHeartbeat, now)]);
  fields.push(["path", experiment.path]);
  fields.push(["code", experiment.code ? `${plural(experiment.code.files, "file")}, ${formatBytes(experiment.code.bytes)}` : "none"]);
  fields.push(["primary metric", primary ? `${primary.name} (${primary.goal})` : "none"]);
  let out = `${c.bold("experiment")} ${c.yellow(experiment.id)}\n${renderFields(fields)}`;

  const params = Object.entries(flatParams(experiment.params));
  out += heading(context, "params");
  out += params.length === 0 ? "  none\n" : renderFields(params.map(([key, value]) => [key, formatValue(value)]));

  out += heading(context, "environment") + renderFields(environmentFields(experiment));

  out += heading(context, "git");
  const git = experiment.git;
  if (git === null) out += "  not a git repository\n";
  else {
    out += renderFields([
      ["commit", git.commit ?? "none (no commits yet)"],
      ["branch", git.branch ?? "detached"],
      ["dirty", git.dirty ? `yes (${formatBytes(git.diffBytes)} of uncommitted changes: cairn show ${shortId(experiment.id)} --diff)` : "no"],
      ["remote", git.remote ?? "none"],
    ]);
  }

  const dependencies = Object.keys(experiment.dependencies ?? {}).length;
  out += heading(context, "dependencies") + `  ${dependencies} recorded${dependencies > 0 ? " (--json lists them)" : ""}\n`;

  out += heading(context, `checkpoints (${experiment.checkpoints.length})`);
  out += experiment.checkpoints.length === 0 ? "  none yet\n" : checkpointTable(context, experiment);
  context.stdout.write(out);
}

function environmentFields(experiment: Experiment): [string, string][] {
  const e = experiment.environment ?? ({} as Partial<Experiment["environment"]>);
  const gpus = e.gpus ?? [];
  const fields: [string, string][] = [
    ["user", e.user ?? "-"],
    ["host", e.host ?? "-"],
    ["command", e.command?.join(" ") ?? "-"],
    ["directory", e.workingDirectory ?? "-"],
    ["node", e.node ?? "-"],
    ["os", `${e.os ?? "-"} (${e.arch ?? "-"})`],
    ["cpu", `${e.cpu ?? "-"}${e.cpus ? ` × ${e.cpus}` : ""}`],
    ["memory", e.memoryBytes ? formatBytes(e.memoryBytes) : "-"],
    ["gpus", gpus.length === 0 ? "none" : gpus.map((g) => `${g.name}${g.memory ? ` (${g.memory})` : ""}`).join(", ")],
  ];
  for (const [name, version] of Object.entries(e.runtimes ?? {})) fields.push([name, version]);
  return fields;
}

/** Every checkpoint with its step, age and metrics; the best by the primary metric marked *. */
function checkpointTable(context: CliContext, experiment: Experiment): string {
  const c = context.stdout.colors;
  const now = context.now();
  const best = experiment.best();
  const names = [...new Set(experiment.checkpoints.flatMap((checkpoint) => Object.keys(checkpoint.metrics)))];
  const header = ["", "ID", "STEP", "CREATED", "FILES", ...names].map((h) => c.bold(h));
  const rows = experiment.checkpoints.map((checkpoint) => [
    checkpoint === best ? c.green("*") : "",
    c.yellow(shortId(checkpoint.id)),
    String(checkpoint.step),
    relativeTime(checkpoint.created, now),
    checkpoint.tree ? `${checkpoint.tree.files} (${formatBytes(checkpoint.tree.bytes)})` : "-",
    ...names.map((name) => formatMetric(checkpoint.metrics[name])),
  ]);
  const align = ["left", "left", "right", "left", "left", ...names.map(() => "right" as const)] as const;
  const note = best ? `  * best by ${experiment.primaryMetric!.name} (${experiment.primaryMetric!.goal})\n` : "";
  return renderTable([header, ...rows], { indent: "  ", align: [...align] }) + note;
}

async function showCheckpoint(context: CliContext, repository: Repository, checkpoint: Checkpoint, options: ShowOptions): Promise<void> {
  const files = await checkpoint.files();
  if (options.json) {
    const fileList = files.map((f) => ({ path: f.path, size: f.size, sha256: f.sha256 }));
    context.stdout.write(toJsonText({ kind: "checkpoint", ...checkpoint.toJSON(), fileList }));
    return;
  }
  const c = context.stdout.colors;
  const now = context.now();
  const experiment = await repository.getExperiment(checkpoint.experimentId);
  const primary = checkpoint.primaryMetric;
  const isBest = experiment.best()?.id === checkpoint.id;
  const fields: [string, string][] = [
    ["experiment", `${c.yellow(experiment.id)} (${statusText(experiment.status, c)})`],
    ["step", String(checkpoint.step)],
    ["created", timestamp(checkpoint.created, now)],
    ["path", checkpoint.path ?? "none (metrics only)"],
    ["primary metric", primary ? `${primary.name} (${primary.goal}) = ${formatMetric(checkpoint.metrics[primary.name])}${isBest ? ", the best of its experiment" : ""}` : "none"],
  ];
  let out = `${c.bold("checkpoint")} ${c.yellow(checkpoint.id)}\n${renderFields(fields)}`;
  const metrics = Object.entries(checkpoint.metrics);
  out += heading(context, "metrics");
  out += metrics.length === 0 ? "  none\n" : renderTable(metrics.map(([name, value]) => [name, formatMetric(value)]), { indent: "  ", align: ["left", "right"] });
  const total = files.reduce((sum, f) => sum + f.size, 0);
  out += heading(context, `files (${files.length}, ${formatBytes(total)})`);
  out += files.length === 0 ? "  none (metrics only)\n" : renderTable(files.map((f) => [f.path, formatBytes(f.size)]), { indent: "  ", align: ["left", "right"] });
  context.stdout.write(out);
}

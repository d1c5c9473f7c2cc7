import { CairnError } from "../../errors.js";
import type { Experiment } from "../../api/experiment.js";
import type { Repository } from "../../api/repository.js";
import { examples, type RegisterCommand } from "../command.js";
import type { CliContext } from "../context.js";
import { CliError } from "../errors.js";
import { shortId } from "../output/describe.js";
import { plural } from "../output/format.js";
import { toJsonText } from "../output/json.js";
import { relativeTime } from "../output/time.js";

export const registerRm: RegisterCommand = (program, context) => {
  program
    .command("rm")
    .description("Remove experiments (their files are freed by the next gc)")
    .argument("<id...>", "experiment IDs or unique prefixes")
    .option("-f, --force", "do not ask; also removes running experiments")
    .option("--json", "print the removed experiments' IDs as a JSON array")
    .addHelpText(
      "after",
      `
On a terminal, rm lists the experiments and asks for confirmation (y/N, on stderr). Elsewhere
(a script, a pipe) it needs -f/--force. A running experiment is only removed with --force (its
process would otherwise write it again). The removed IDs are printed on stdout.
` + examples(["cairn rm e510303", "cairn rm -f $(cairn ls -q --filter 'status = crashed')"]),
    )
    .action(async (ids: string[], options: { force?: boolean; json?: boolean }, command) => {
      if (!options.force && context.stdin.isTTY !== true) {
        throw new CliError("USAGE", `cairn rm needs -f/--force when it cannot ask for confirmation (stdin is not a terminal). Nothing was removed.`);
      }
      const repository = await context.openRepository(command);
      if (!options.force) await confirmRemoval(context, repository, ids);
      const removed = unique(await repository.remove(ids, { force: options.force === true }));
      if (options.json) context.stdout.write(toJsonText(removed.map((e) => e.id)));
      else context.stdout.write(removed.map((e) => `${e.id}\n`).join(""));
      context.stderr.write(`Removed ${plural(removed.length, "experiment")}; "cairn gc" frees their files once they are older than its grace period.\n`);
    });
};

/** Lists the experiments on stderr and asks; refuses running ones, which need --force. */
async function confirmRemoval(context: CliContext, repository: Repository, ids: string[]): Promise<void> {
  const experiments = unique(await Promise.all(ids.map((id) => repository.getExperiment(id))));
  const running = experiments.filter((e) => e.status === "running");
  if (running.length > 0) {
    const them = running.length === 1 ? "it" : "them";
    throw new CairnError(
      "INVALID_ARGUMENT",
      `${running.map((e) => shortId(e.id)).join(", ")} ${running.length === 1 ? "is" : "are"} running; stop ${them} first, or use rm -f to remove ${them} anyway.`,
    );
  }
  const now = context.now();
  const c = context.stderr.colors;
  for (const e of experiments) {
    context.stderr.write(`  ${c.yellow(shortId(e.id))}  ${e.status}, started ${relativeTime(e.created, now)}, ${plural(e.checkpointCount, "checkpoint")}\n`);
  }
  const yes = await context.confirm(`Remove ${experiments.length === 1 ? "this experiment" : `these ${experiments.length} experiments`}?`);
  if (!yes) throw new CliError("ABORTED", "Nothing was removed.");
}

function unique<T extends { id: string }>(experiments: T[]): T[] {
  return [...new Map(experiments.map((e) => [e.id, e])).values()];
}

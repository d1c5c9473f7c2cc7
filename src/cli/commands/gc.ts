import { InvalidArgumentError } from "commander";
import { DEFAULT_GC_GRACE_MS } from "../../repository/gc.js";
import { examples, type RegisterCommand } from "../command.js";
import { formatBytes, plural } from "../output/format.js";
import { toJsonText } from "../output/json.js";
import { formatDuration, parseDuration } from "../output/time.js";

function gracePeriod(text: string): number {
  const ms = parseDuration(text);
  if (ms === null) throw new InvalidArgumentError(`"${text}" is not a duration; use a number with a unit, like 30m, 1h, 24h, 2d (or 1h30m).`);
  return ms;
}

export const registerGc: RegisterCommand = (program, context) => {
  program
    .command("gc")
    .description("Delete stored files that no experiment refers to any more")
    .option("--grace <duration>", `keep unreferenced objects younger than this (a writer may be mid-checkpoint), e.g. 30m, 1h, 2d`, gracePeriod, DEFAULT_GC_GRACE_MS)
    .option("--dry-run", "only print what would be deleted")
    .option("--json", "print the report as JSON")
    .addHelpText(
      "after",
      `
The default grace period is ${formatDuration(DEFAULT_GC_GRACE_MS)}. gc refuses to run while any experiment record is unreadable,
since what that record refers to is unknown. Deleted keys go to stdout, a summary to stderr.
` + examples(["cairn gc --dry-run", "cairn gc --grace 1h"]),
    )
    .action(async (options: { grace: number; dryRun?: boolean; json?: boolean }, command) => {
      const repository = await context.openRepository(command);
      const report = await repository.gc({ gracePeriodMs: options.grace, dryRun: options.dryRun === true });
      if (options.json) context.stdout.write(toJsonText({ ...report, dryRun: options.dryRun === true, gracePeriodMs: options.grace }));
      else context.stdout.write(report.removed.map((key) => `${key}\n`).join(""));
      const verb = options.dryRun ? "Would delete" : "Deleted";
      const kept = report.keptYoung > 0 ? `; kept ${plural(report.keptYoung, "unreferenced object")} younger than ${formatDuration(options.grace)}` : "";
      context.stderr.write(`${verb} ${plural(report.removed.length, "object")}, ${formatBytes(report.bytes)}${options.dryRun ? " would be freed" : " freed"}${kept}.\n`);
    });
};

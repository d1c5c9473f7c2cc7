import { CliError } from "../errors.js";
import { examples, type RegisterCommand } from "../command.js";
import { plural } from "../output/format.js";
import { toJsonText } from "../output/json.js";

export const registerPush: RegisterCommand = (program, context) => {
  program
    .command("push")
    .description("Publish experiments left on this machine's disk by processes that died or lost the storage")
    .option("--json", "print the report as JSON")
    .addHelpText(
      "after",
      `
Training scripts keep what they have not published yet on local disk. Any cairn command
publishes what dead processes left behind; push does only that, and reports it: published IDs
go to stdout; experiments still being written by a live process, and failures, to stderr. Exits
with code 1 when anything could not be published (it stays on disk for the next try).
` + examples(["cairn push", "cairn -R /mnt/shared/cairn push"]),
    )
    .action(async (options: { json?: boolean }, command) => {
      const repository = await context.openRepository(command, { recover: false });
      const report = await repository.push();
      if (options.json) context.stdout.write(toJsonText(report));
      else context.stdout.write(report.published.map((id) => `${id}\n`).join(""));
      const parts = [`Published ${plural(report.published.length, "experiment")}`];
      if (report.live.length > 0) parts.push(`${report.live.length} still being written by a running process`);
      context.stderr.write(`${parts.join("; ")}.\n`);
      // Each failure was already reported as a warning by the library as it happened.
      if (report.failed.length > 0) {
        throw new CliError("FAILED", `${plural(report.failed.length, "experiment")} could not be published; they stay on local disk. Run "cairn push" again when the storage is reachable.`);
      }
    });
};

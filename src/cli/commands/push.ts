import { CliError } from "../errors.js";
import { examples, type RegisterCommand } from "../command.js";
import { formatBytes, plural } from "../output/format.js";
import { toJsonText } from "../output/json.js";
import { progressBar } from "../output/progress.js";

/** How often the bar reads the publisher's counters. */
const REDRAW_MS = 200;

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
with code 1 when anything could not be published (it stays on disk for the next try). On a
terminal a progress bar shows the bytes sent while it works; a summary follows in any case.
` + examples(["cairn push", "cairn -R /mnt/shared/cairn push"]),
    )
    .action(async (options: { json?: boolean }, command) => {
      const repository = await context.openRepository(command, { recover: false });
      // The publisher is loaded by push alone among the commands (it is most of what push runs).
      const { publishingProgress } = await import("../../repository/publisher.js");
      const start = publishingProgress();
      // Spools are published one after the other, each as a round whose total is known only
      // when it starts: the bar counts what ended rounds did plus the current round's.
      const sent = () => {
        const now = publishingProgress();
        return {
          done: now.endedBytes - start.endedBytes + now.bytesDone,
          total: now.endedBytes - start.endedBytes + now.bytesTotal,
          files: now.endedFiles - start.endedFiles + now.filesDone,
          filesTotal: now.endedFiles - start.endedFiles + now.filesTotal,
        };
      };
      const progress = progressBar(context.stderr, "push");
      const redraw = setInterval(() => {
        const now = sent();
        progress.update(now.done, now.total, `${now.files} of ${plural(now.filesTotal, "file")}`);
      }, REDRAW_MS);
      let report;
      try {
        report = await repository.push();
      } finally {
        clearInterval(redraw);
        progress.stop();
      }
      const total = sent();
      // Counted as sent: contents the repository turned out to have already (nothing to send).
      if (total.files > 0) context.stderr.write(`Sent ${formatBytes(total.done)} in ${plural(total.files, "file")} to ${repository.url}.\n`);
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

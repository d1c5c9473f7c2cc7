import { stat } from "node:fs/promises";
import * as path from "node:path";
import { Checkpoint } from "../../api/checkpoint.js";
import type { CheckoutResult } from "../../api/checkout.js";
import { examples, type RegisterCommand } from "../command.js";
import { shortId } from "../output/describe.js";
import { formatBytes, plural } from "../output/format.js";
import { toJsonText } from "../output/json.js";
import { progressBar } from "../output/progress.js";

interface CheckoutCommandOptions {
  outputDirectory: string;
  path?: string;
  force?: boolean;
  json?: boolean;
}

export const registerCheckout: RegisterCommand = (program, context) => {
  program
    .command("checkout")
    .description("Write an experiment's code and best checkpoint, or a checkpoint's files, into a folder")
    .argument("<id>", "an experiment or checkpoint ID, or any unique prefix of one")
    .option("-o, --output-directory <dir>", "the folder to write into (created if missing)", ".")
    .option("--path <file-or-folder>", "only the stored files at or under this path, e.g. model/weights.bin")
    .option("--force", "overwrite files that exist with different contents")
    .option("--json", "print what was written as JSON")
    .addHelpText(
      "after",
      `
An experiment gives its code snapshot plus its best checkpoint (by the primary metric; else
its latest); a checkpoint gives its own files. Files already there with the same contents are
left alone. When a file exists with other contents nothing at all is written: the files are
listed and the command exits with code 4, unless --force. Nothing is ever written outside the
output folder.

The paths written go to stdout, one per line; a summary goes to stderr.
` + examples(["cairn checkout e510303 -o run-e510303", "cairn checkout 3ccb2f1 -o weights --path model", "cairn checkout e510303 --force"]),
    )
    .action(async (id: string, options: CheckoutCommandOptions, command) => {
      const repository = await context.openRepository(command);
      const thing = await repository.resolve(id);
      const progress = progressBar(context.stderr, "checkout");
      const checkoutOptions = {
        outputDirectory: path.resolve(context.cwd, options.outputDirectory),
        force: options.force === true,
        path: options.path,
        onProgress: progress.update,
      };
      let result: CheckoutResult;
      let checkpoint: Checkpoint | null;
      try {
        if (thing instanceof Checkpoint) {
          result = await thing.checkout(checkoutOptions);
          checkpoint = thing;
        } else {
          const experimentResult = await thing.checkout(checkoutOptions);
          result = experimentResult;
          checkpoint = experimentResult.checkpoint;
        }
      } finally {
        progress.stop();
      }
      const shown = (stored: string): string => path.relative(context.cwd, path.join(result.outputDirectory, stored)) || ".";
      let bytes = 0;
      for (const stored of result.written) bytes += (await stat(path.join(result.outputDirectory, stored))).size;

      if (options.json) {
        context.stdout.write(
          toJsonText({
            id: thing.id,
            kind: thing instanceof Checkpoint ? "checkpoint" : "experiment",
            checkpoint: checkpoint?.id ?? null,
            outputDirectory: result.outputDirectory,
            written: result.written,
            unchanged: result.unchanged,
            bytes,
          }),
        );
      } else {
        context.stdout.write(result.written.map((stored) => `${shown(stored)}\n`).join(""));
      }

      const what =
        thing instanceof Checkpoint
          ? `checkpoint ${shortId(thing.id)} (step ${thing.step}) of experiment ${shortId(thing.experimentId)}`
          : `experiment ${shortId(thing.id)} (code${checkpoint ? ` + checkpoint ${shortId(checkpoint.id)}, step ${checkpoint.step}` : ", no checkpoint"})`;
      const total = result.written.length + result.unchanged.length;
      if (total === 0) {
        context.stderr.write(`Nothing to write: ${what} has no files${thing instanceof Checkpoint ? " (it records metrics only)" : ""}.\n`);
        return;
      }
      const unchanged = result.unchanged.length > 0 ? `; ${plural(result.unchanged.length, "file")} already there and identical` : "";
      context.stderr.write(`Wrote ${plural(result.written.length, "file")} (${formatBytes(bytes)}) of ${what} to ${shown("") === "." ? "the current folder" : shown("")}${unchanged}.\n`);
    });
};

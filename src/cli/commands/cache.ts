import { examples, type RegisterCommand } from "../command.js";
import { formatBytes, plural } from "../output/format.js";
import { toJsonText } from "../output/json.js";
import { cacheDirectory } from "../../storage/cache-directory.js";

export const registerCache: RegisterCommand = (program, context) => {
  const cache = program
    .command("cache")
    .description("Show or clear the local cache of remote repositories' files and records")
    .addHelpText(
      "after",
      `
Files read from a remote repository are kept in a local cache (bounded by CAIRN_CACHE_SIZE
bytes, 10 GiB by default) so that opening them again reads from disk, and the records of each
remote repository are kept so that a repeated "cairn ls" fetches only what changed. The cache
is in CAIRN_CACHE_DIR, else $XDG_CACHE_HOME/cairn, else ~/.cache/cairn. Clearing it is always
safe: checkpoints not yet uploaded live in a separate spool that is never cleared.
` + examples(["cairn cache dir", "cairn cache clear"]),
    );
  cache
    .command("dir")
    .description("Print the cache folder")
    .action(() => context.stdout.write(`${cacheDirectory()}\n`));
  cache
    .command("clear")
    .description("Empty the cache (never the spool of checkpoints not yet uploaded)")
    .option("--json", "print what was cleared as JSON")
    .action(async (options: { json?: boolean }) => {
      const { clearCaches } = await import("../../storage/clear-caches.js"); // only this command needs it
      const cleared = await clearCaches();
      if (options.json) context.stdout.write(toJsonText(cleared));
      context.stderr.write(`Cleared ${formatBytes(cleared.objectBytes)} of cached files and ${plural(cleared.recordCaches, "record cache")} in ${cleared.directory}.\n`);
    });
};

import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { CONFIG_FILE, DEFAULT_REPOSITORY_DIRECTORY } from "../../config.js";
import { CairnError } from "../../errors.js";
import { examples, type RegisterCommand } from "../command.js";
import { toJsonText } from "../output/json.js";

const IGNORE_FILE = ".cairnignore";

/** The starter .cairnignore: only comments, so it changes nothing until someone edits it. */
const IGNORE_STARTER = `# Files Cairn leaves out of an experiment's code snapshot (gitignore syntax).
# Always left out: .git, node_modules, .cairn, virtualenvs, __pycache__.
#
# Examples:
# data/
# *.ckpt
# *.pth
# logs/
# /outputs/
# !data/labels.csv
`;

export const registerInit: RegisterCommand = (program, context) => {
  program
    .command("init")
    .description(`Write ${CONFIG_FILE} in the current folder, naming the repository (and a starter ${IGNORE_FILE})`)
    .option("--force", `overwrite an existing ${CONFIG_FILE}`)
    .option("--json", "print what was written as JSON")
    .addHelpText(
      "after",
      `
The repository is the global -R/--repository URL (also accepted after "init"), else
"${DEFAULT_REPOSITORY_DIRECTORY}" (a folder next to ${CONFIG_FILE}). ${CONFIG_FILE} is not overwritten without --force
(exit code 4). ${IGNORE_FILE} is written only when there is none. The files written go to stdout.
` + examples(["cairn init", "cairn init --repository /mnt/shared/cairn", "cairn init -R s3://bucket/prefix --force"]),
    )
    .action(async (options: { force?: boolean; json?: boolean }, command) => {
      const repository = (command.optsWithGlobals() as { repository?: string }).repository ?? DEFAULT_REPOSITORY_DIRECTORY;
      const configFile = path.join(context.cwd, CONFIG_FILE);
      const ignoreFile = path.join(context.cwd, IGNORE_FILE);
      if (existsSync(configFile) && !options.force) {
        const current = await readFile(configFile, "utf8").catch(() => "");
        throw new CairnError("CONFLICT", `${CONFIG_FILE} already exists here:\n${current.trimEnd().replace(/^/gm, "  ")}\nRun "cairn init --force" to overwrite it.`, {
          details: { conflicts: [CONFIG_FILE] },
        });
      }
      await writeFile(configFile, `# Cairn: where experiments are recorded (CAIRN_REPOSITORY and -R override it).\n${(await import("yaml")).stringify({ repository })}`);
      const written = [CONFIG_FILE];
      if (!existsSync(ignoreFile)) {
        await writeFile(ignoreFile, IGNORE_STARTER, { flag: "wx" });
        written.push(IGNORE_FILE);
      }
      if (options.json) context.stdout.write(toJsonText({ repository, written }));
      else context.stdout.write(written.map((file) => `${file}\n`).join(""));
      context.stderr.write(`Wrote ${CONFIG_FILE} (repository: ${repository})${written.includes(IGNORE_FILE) ? ` and a starter ${IGNORE_FILE}` : `; kept the existing ${IGNORE_FILE}`}.\n`);
      if (repository === DEFAULT_REPOSITORY_DIRECTORY && existsSync(path.join(context.cwd, ".git"))) {
        const gitignore = await readFile(path.join(context.cwd, ".gitignore"), "utf8").catch(() => "");
        if (!/^\/?\.cairn\/?$/m.test(gitignore)) context.stderr.write(`Tip: add ${DEFAULT_REPOSITORY_DIRECTORY}/ to .gitignore so git does not track the repository.\n`);
      }
    });
};

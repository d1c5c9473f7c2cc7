import { resolveProject } from "../../config.js";
import { CairnError } from "../../errors.js";
import { openStorage } from "../../storage/open.js";
import { listSpools } from "../../repository/spool-folders.js";
import { examples, type RegisterCommand } from "../command.js";
import { formatBytes, plural } from "../output/format.js";
import { toJsonText } from "../output/json.js";

export const registerVerify: RegisterCommand = (program, context) => {
  program
    .command("verify")
    .description("Check a whole repository: every record, file list and stored file, and report every problem")
    .option("--quick", "check that every object is present with the right size, without reading its contents")
    .option("--json", "print the report as JSON")
    .addHelpText(
      "after",
      `
verify reads the format marker, every experiment record, every file list, and every stored
object (referenced or not), hashing each with SHA-256 as the format prescribes. It does not
stop at the first problem: each is printed on stdout, naming the object and the experiment it
damages; a summary goes to stderr. It changes nothing (not even publishing what dead processes
left on this machine: "cairn push" does that). Exits with code 5 when any problem is found.
` + examples(["cairn verify", "cairn verify --quick", "cairn verify --json | jq '.problems[].experimentId' | sort -u"]),
    )
    .action(async (options: { quick?: boolean; json?: boolean }, command) => {
      // The storage itself, not the repository's reader: that one answers from the local object
      // cache, and verify must read the bytes the repository holds.
      const project = resolveProject({ repository: (command.optsWithGlobals() as { repository?: string }).repository });
      const storage = await openStorage(project.repository, { baseDirectory: project.directory, settings: project.config.storage });
      let report;
      try {
        // Loaded when used: the checker is large and only this command needs it.
        const { verifyRepository } = await import("../../repository/verify.js");
        report = await verifyRepository(storage, { contents: options.quick !== true });
      } finally {
        await storage.close?.();
      }
      const pending = (await listSpools(storage.localStateDirectory())).length;
      if (options.json) context.stdout.write(toJsonText({ ...report, unpublishedOnThisMachine: pending }));
      else {
        const c = context.stdout.colors;
        context.stdout.write(report.problems.map((p) => `${c.red(p.kind.padEnd(7))}  ${p.message}\n`).join(""));
      }
      const damaged = new Set(report.problems.map((p) => p.experimentId).filter((id) => id !== null)).size;
      context.stderr.write(
        `Checked ${plural(report.experiments, "experiment")}, ${plural(report.checkpoints, "checkpoint")}, ` +
          `${plural(report.objects, "object")} (${formatBytes(report.bytes)}${options.quick ? ", sizes only" : ""})` +
          (report.unreferenced > 0 ? `; ${plural(report.unreferenced, "object")} no experiment refers to (gc removes them)` : "") +
          `.\n`,
      );
      if (pending > 0) context.warn(`${plural(pending, "experiment")} on this machine ${pending === 1 ? "is" : "are"} not published yet (not checked); "cairn push" publishes what dead processes left.`);
      if (report.problems.length > 0) {
        throw new CairnError(
          "CORRUPT",
          `${plural(report.problems.length, "problem")} found${damaged > 0 ? `, damaging ${plural(damaged, "experiment")}` : ""}. The listed objects are missing or do not match their SHA-256: restore them from a copy of the repository, or remove the damaged experiments with "cairn rm".`,
        );
      }
      context.stderr.write(`No problems found.\n`);
    });
};

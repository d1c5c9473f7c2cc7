import type { RepositoryProblem } from "../../repository/load.js";
import type { CliContext } from "../context.js";

/**
 * Reports unreadable records on stderr, after the healthy experiments were listed. They are
 * warnings: one broken record must not hide or fail the rest.
 *
 * @example
 * warnProblems(context, (await repository.load()).problems);
 */
export function warnProblems(context: CliContext, problems: RepositoryProblem[]): void {
  for (const problem of problems) {
    context.warn(problem.message.includes(problem.key) ? problem.message : `${problem.key}: ${problem.message}`);
  }
  if (problems.length > 0) {
    context.warn(`${problems.length} record(s) could not be read and were skipped; the experiments above are unaffected.`);
  }
}

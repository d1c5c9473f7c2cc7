import { examples, type RegisterCommand } from "../command.js";
import { listExperiments, type ListingOptions } from "./listing.js";
import { LISTING_HELP, listingOptions } from "./ls.js";

export const registerPs: RegisterCommand = (program, context) => {
  const command = program
    .command("ps")
    .description("List running experiments (like ls with --filter 'status = running')")
    .addHelpText("after", LISTING_HELP + examples(["cairn ps", "cairn ps --filter 'host = gpu-1' -q"]));
  for (const option of listingOptions()) command.addOption(option);
  command.action((options: ListingOptions, cmd) => listExperiments(context, cmd, options, true));
};

import { Option } from "commander";
import { CliError } from "../errors.js";
import { examples, type RegisterCommand } from "../command.js";

/** The port `cairn ui` tries first, so the page keeps its address between runs. */
export const DEFAULT_UI_PORT = 7007;

function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isInteger(port) || port > 65535) {
    throw new CliError("USAGE", `--port must be a whole number from 0 to 65535 (0 picks any free port); got "${value}".`);
  }
  return port;
}

export const registerUi: RegisterCommand = (program, context) => {
  program
    .command("ui")
    .description("Serve a local web page to browse, compare and plot the experiments")
    .addOption(new Option("--host <address>", "the address to listen on; anything but loopback requires a token").default("127.0.0.1"))
    .addOption(new Option("--port <number>", `the port (default: ${DEFAULT_UI_PORT}, or any free port if that is taken; 0: any free port)`).argParser(parsePort))
    .addHelpText(
      "after",
      `
Prints the page's URL on stdout and serves until interrupted (Ctrl-C). The page lists the
experiments (sort by any column, filter with the language of "cairn ls --filter"), shows each
one (params, environment, git diff, code, checkpoints with downloads, a chart per metric)
and compares several (overlaid curves, what differs). Running experiments update live.
The server is read-only and reads the repository as the other commands do.

On 127.0.0.1 (the default) only this machine can connect. With --host 0.0.0.0 or another
address, the page is reachable from the network: a random token is then required on every
request, and the printed URL carries it (?token=...). Share that URL only with people who
may read the repository; the connection is plain HTTP.
` + examples(["cairn ui", "cairn ui --port 8080", "cairn -R s3://bucket/cairn ui", "cairn ui --host 0.0.0.0 --port 7007"]),
    )
    .action(async (options: { host: string; port?: number }, command) => {
      const repository = await context.openRepository(command);
      // Loaded here, not at start-up of every command: only `ui` needs the server.
      const { startServer } = await import("../../server/index.js");
      const server = await startServer({ repository, host: options.host, port: options.port ?? DEFAULT_UI_PORT, anyPortIfTaken: options.port === undefined });
      context.stdout.write(`${server.url}\n`);
      if (!server.loopback) {
        context.warn(
          `listening on ${options.host}: other machines can reach this page. Every request needs the token in the URL above; share it only with people who may read ${repository.url}. Traffic is not encrypted.`,
        );
      }
      context.stderr.write(`Serving ${repository.url} (read-only). Press Ctrl-C to stop.\n`);
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off("SIGTERM", stop);
          void server.close().finally(resolve);
        };
        process.on("SIGTERM", stop);
      });
    });
};

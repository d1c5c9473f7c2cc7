import { setDiagnosticSink } from "../../repository/diagnostics.js";
import type { RegisterCommand } from "../command.js";
import { packageVersion } from "../program.js";

/**
 * `cairn _rpc`: the core end of the Python binding (docs/PYTHON-PROTOCOL.md). Hidden from
 * --help: people never type it; the binding starts it once per Python process and talks JSON
 * lines over stdin/stdout until it closes stdin.
 *
 * @example
 * // echo '{"id":1,"method":"hello","params":{}}' | cairn _rpc
 */
export const registerRpc: RegisterCommand = (program, context) => {
  program
    .command("_rpc", { hidden: true })
    .description("serve the Python binding's protocol on stdin/stdout (started by the binding)")
    .action(async () => {
      // stdout carries only responses; writer-side messages go to stderr, which the binding
      // forwards to the Python process's own stderr (so a notebook shows them).
      setDiagnosticSink((message) => {
        if (context.env.CAIRN_QUIET !== "1") context.stderr.write(`cairn: ${message}\n`);
      });
      // The CLI's entry exits on EPIPE; here a vanished binding must still let running
      // experiments be stopped and published, so the server handles stdout errors itself.
      process.stdout.removeAllListeners("error");
      // Loaded here, not at the top: every other command would pay for the RPC modules.
      const [{ RpcSession }, { serveRpc }] = await Promise.all([import("../../rpc/session.js"), import("../../rpc/server.js")]);
      await serveRpc({ input: process.stdin, output: process.stdout, session: new RpcSession(packageVersion()), debug: Boolean(context.env.CAIRN_DEBUG) });
    });
};

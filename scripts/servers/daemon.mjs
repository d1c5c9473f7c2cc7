// @ts-check
/**
 * Server processes (Ceph's daemons, Azurite, the GCS emulator) started for the tests and the
 * benchmarks. Plain JavaScript so both can use it.
 */
import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";

/**
 * @typedef {object} Daemon A server process started for the tests or the benchmarks.
 * @property {string} name
 * @property {number} pid
 * @property {() => string | null} exitMessage A line describing how it exited, or null while it runs.
 * @property {() => Promise<void>} stop Kills it (SIGKILL: its state is thrown away anyway) and waits until it is gone.
 */

/**
 * Starts a server process in the foreground as a child of this process, its output into
 * `logFile`. It runs under `setpriv --pdeathsig KILL`, so the kernel kills it if this process
 * dies without tearing down (a crashed or killed run leaves no orphans behind), and as our own
 * child it is reaped when it exits (no zombies, whatever PID 1 does).
 *
 * @example
 * const mon = startDaemon("ceph-mon", "ceph-mon", ["-f", "-i", "a", "-c", conf], { logFile: "/tmp/x/mon.out" });
 * @param {string} name
 * @param {string} command
 * @param {string[]} args
 * @param {{ logFile: string, env?: NodeJS.ProcessEnv, cwd?: string }} options
 * @returns {Daemon}
 */
export function startDaemon(name, command, args, options) {
  const log = openSync(options.logFile, "a");
  /** @type {import("node:child_process").ChildProcess} */
  let child;
  try {
    child = spawn("setpriv", ["--pdeathsig", "KILL", "--", command, ...args], {
      stdio: ["ignore", log, log],
      env: options.env ?? process.env,
      cwd: options.cwd,
    });
  } finally {
    closeSync(log);
  }
  /** @type {string | null} */
  let exit = null;
  const exited = new Promise((resolve) => {
    child.once("exit", (code, signal) => {
      exit = `${name} exited (${signal ?? `code ${code}`}); its output is in ${options.logFile}:\n${tail(options.logFile)}`;
      resolve(undefined);
    });
    child.once("error", (error) => {
      exit = `${name} could not start: ${error.message}`;
      resolve(undefined);
    });
  });
  // The run must not wait for servers to end on their own.
  child.unref();
  return {
    name,
    pid: child.pid ?? -1,
    exitMessage: () => exit,
    async stop() {
      // Hold the event loop open until the exit is seen, so the process is reaped.
      child.ref();
      if (exit === null) child.kill("SIGKILL");
      await exited;
    },
  };
}

/**
 * The last lines of a log file, for failure messages.
 *
 * @example
 * tail("/tmp/x/mon.out", 5);
 * @param {string} file
 * @param {number} [lines]
 * @returns {string}
 */
export function tail(file, lines = 15) {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no output)";
  }
}

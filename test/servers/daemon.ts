import { spawn, type ChildProcess } from "node:child_process";
import { openSync, closeSync, readFileSync } from "node:fs";

/** A server process started for the tests. */
export interface Daemon {
  readonly name: string;
  readonly pid: number;
  /** A line describing how it exited, or null while it runs. */
  exitMessage(): string | null;
  /** Kills it (SIGKILL: its state is thrown away anyway) and waits until it is gone. */
  stop(): Promise<void>;
}

/**
 * Starts a server process in the foreground as a child of this process, its output into
 * `logFile`. It runs under `setpriv --pdeathsig KILL`, so the kernel kills it if this process
 * dies without tearing down (a crashed or killed test run leaves no orphans behind), and as our
 * own child it is reaped when it exits (no zombies, whatever PID 1 does).
 *
 * @example
 * const mon = startDaemon("ceph-mon", ["-f", "-i", "a", "-c", conf], { logFile: "/tmp/x/mon.out" });
 */
export function startDaemon(name: string, command: string, args: string[], options: { logFile: string; env?: NodeJS.ProcessEnv; cwd?: string }): Daemon {
  const log = openSync(options.logFile, "a");
  let child: ChildProcess;
  try {
    child = spawn("setpriv", ["--pdeathsig", "KILL", "--", command, ...args], {
      stdio: ["ignore", log, log],
      env: options.env ?? process.env,
      cwd: options.cwd,
    });
  } finally {
    closeSync(log);
  }
  let exit: string | null = null;
  const exited = new Promise<void>((resolve) => {
    child.once("exit", (code, signal) => {
      exit = `${name} exited (${signal ?? `code ${code}`}); its output is in ${options.logFile}:\n${tail(options.logFile)}`;
      resolve();
    });
    child.once("error", (error) => {
      exit = `${name} could not start: ${error.message}`;
      resolve();
    });
  });
  // The test run must not wait for servers to end on their own.
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

/** The last lines of a log file, for failure messages. */
export function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no output)";
  }
}

/** Server processes for the tests: shared with the benchmarks' servers (scripts/servers/daemon.mjs). */
export { startDaemon, tail } from "../../scripts/servers/daemon.mjs";

/** A server process started for the tests. */
export interface Daemon {
  readonly name: string;
  readonly pid: number;
  /** A line describing how it exited, or null while it runs. */
  exitMessage(): string | null;
  /** Kills it (SIGKILL: its state is thrown away anyway) and waits until it is gone. */
  stop(): Promise<void>;
}

import { diagnose } from "../repository/diagnostics.js";
import { reportWhileWaiting } from "./wait-progress.js";

/** What exit handling needs from a running experiment. */
export interface Stoppable {
  readonly id: string;
  stop(): Promise<void>;
  interrupt(): Promise<void>;
  stopSynchronously(): void;
}

const active = new Set<Stoppable>();
let stopping: Promise<void> | null = null;
let signalsSeen = 0;

/**
 * Normal exit, SIGINT and SIGTERM finish pending writes and mark running experiments stopped.
 * The hooks are installed only while an experiment runs, so a script that has stopped its
 * experiments gets its own signal behaviour back.
 *
 * @example
 * registerForExit(run); // in init()
 * unregisterForExit(run); // in stop()
 */
export function registerForExit(run: Stoppable): void {
  if (active.size === 0) install();
  active.add(run);
}

export function unregisterForExit(run: Stoppable): void {
  active.delete(run);
  if (active.size === 0 && stopping === null) uninstall();
}

function install(): void {
  process.on("beforeExit", onBeforeExit);
  process.on("exit", onExit);
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}

function uninstall(): void {
  process.off("beforeExit", onBeforeExit);
  process.off("exit", onExit);
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
}

/**
 * Stops every running experiment, saying so on stderr when it takes more than a moment, with
 * what is left to upload (see wait-progress.ts).
 */
function stopAll(how: "stop" | "interrupt"): Promise<void> {
  stopping ??= (async () => {
    const runs = [...active];
    const all = Promise.all(runs.map((run) => run[how]().catch((error) => diagnose(`could not stop ${run.id.slice(0, 7)}: ${String(error)}`))));
    try {
      await reportWhileWaiting(
        runs.map((run) => run.id),
        all,
        { exiting: true },
      );
    } finally {
      stopping = null;
    }
  })();
  return stopping;
}

function onBeforeExit(): void {
  // The script's work is done and the event loop is empty: the process "ended normally".
  if (active.size > 0) void stopAll("stop");
}

function onExit(): void {
  // process.exit() was called: nothing asynchronous can run now. The journal records the stop,
  // and the next Cairn process to open the repository publishes it.
  for (const run of active) run.stopSynchronously();
}

function onSignal(signal: NodeJS.Signals): void {
  signalsSeen += 1;
  if (signalsSeen > 1) {
    // Asked twice: leave now. The journal keeps what was captured, for "cairn push".
    for (const run of active) run.stopSynchronously();
    uninstall();
    process.kill(process.pid, signal);
    return;
  }
  void stopAll("interrupt").then(() => {
    uninstall();
    // Re-raise so the process ends as the signal intended (exit code 130/143), unless the
    // script listens for it itself.
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    signalsSeen = 0;
  });
}

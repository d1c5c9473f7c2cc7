import { colorsFor } from "../cli/output/colors.js";
import { formatBytes, plural } from "../cli/output/format.js";
import { progressBar, type Progress } from "../cli/output/progress.js";
import { diagnose } from "../repository/diagnostics.js";
import { publishingProgress } from "../repository/publisher.js";

/** Most stops finish within this: only a longer wait is worth a word. */
const QUIET_MS = 1000;
/** Without a terminal (a log file, a pipe, the Python binding) a line this often shows life without flooding. */
const LINE_EVERY_MS = 5000;
/** How often, without a terminal, it is checked whether a line is due. */
const LINE_CHECK_MS = 250;
/** How often a terminal's bar is redrawn. */
const BAR_EVERY_MS = 200;

interface Waiter {
  ids: string[];
  /** Waiting because the process is ending (exit, a signal), not for an explicit stop(). */
  exiting: boolean;
  /** What a second Ctrl-C does, when not what it does in a Node script (the Python binding's core). */
  secondCtrlC?: string;
}

/** What a second Ctrl-C does while a Node script's exit handling waits (see exit-hooks.ts). */
const SECOND_CTRL_C = `press Ctrl-C again to exit now; "cairn push" publishes the rest later`;

const waiters = new Set<Waiter>();
let reporter: { stop(): void } | null = null;

/**
 * Waits for `work` (a stop that publishes what is pending) and, when that takes more than a
 * second, says so on stderr with what is left to upload: a bar redrawn in place when stderr is
 * a terminal, else a plain line every few seconds. Nested and concurrent waits (exit handling
 * stopping several experiments, each stop()) share one report: the experiments named are all
 * the waits' IDs. Silent with CAIRN_QUIET=1. `secondCtrlC` words the exit announcement for a
 * process whose Ctrl-C is another's (the Python binding's core, in a session of its own).
 *
 * @example
 * await reportWhileWaiting([run.id], writer.stop());                    // an explicit stop()
 * await reportWhileWaiting(ids, stopEverything(), { exiting: true });   // exit, SIGINT, SIGTERM
 */
export async function reportWhileWaiting<T>(ids: string[], work: Promise<T>, options: { exiting?: boolean; secondCtrlC?: string } = {}): Promise<T> {
  const waiter: Waiter = { ids, exiting: options.exiting === true, secondCtrlC: options.secondCtrlC };
  waiters.add(waiter);
  reporter ??= startReporter();
  try {
    return await work;
  } finally {
    waiters.delete(waiter);
    if (waiters.size === 0) {
      reporter?.stop();
      reporter = null;
    }
  }
}

/**
 * "312 MiB of 1.0 GiB uploaded, 0 of 1 file", or null when no publish round runs (hashing,
 * or writing trees and records: nothing worth counting).
 *
 * @example
 * progressText(); // "40 MiB of 1.0 GiB uploaded, 3 of 12 files"
 */
export function progressText(): string | null {
  const now = publishingProgress();
  if (now.rounds === 0) return null;
  return `${formatBytes(now.bytesDone)} of ${formatBytes(now.bytesTotal)} uploaded, ${now.filesDone} of ${plural(now.filesTotal, "file")}`;
}

function announcement(): string {
  const all = [...waiters];
  const ids = [...new Set(all.flatMap((w) => w.ids))].map((id) => id.slice(0, 7)).join(", ");
  const exiting = all.filter((w) => w.exiting);
  if (exiting.length > 0) {
    const secondCtrlC = exiting.find((w) => w.secondCtrlC !== undefined)?.secondCtrlC ?? SECOND_CTRL_C;
    return `finishing writes for ${ids} before exiting (${secondCtrlC})…`;
  }
  return `waiting for ${ids} to finish publishing…`;
}

function startReporter(): { stop(): void } {
  const quiet = (): boolean => process.env.CAIRN_QUIET === "1";
  // A bar only on a terminal; through a pipe (the Python binding forwards the core's stderr
  // line by line) carriage returns would pile up, so plain lines go there instead.
  const terminal = process.stderr.isTTY === true && !quiet();
  let bar: Progress | null = null;
  let repeat: NodeJS.Timeout | null = null;

  // A line as soon as there is something to count (the wait may begin with hashing, or between
  // publish rounds), then one every few seconds.
  let lastLine = 0;
  const line = (): void => {
    const text = progressText();
    if (text === null || (lastLine > 0 && Date.now() - lastLine < LINE_EVERY_MS)) return;
    lastLine = Date.now();
    diagnose(`publishing: ${text}`);
  };
  const redraw = (): void => {
    const now = publishingProgress();
    if (now.rounds > 0) bar?.update(now.bytesDone, now.bytesTotal, `${now.filesDone} of ${plural(now.filesTotal, "file")}`);
  };

  const first = setTimeout(() => {
    diagnose(announcement());
    if (terminal) {
      bar = progressBar({ write: (text) => void process.stderr.write(text), isTTY: true, colors: colorsFor(process.stderr, process.env) }, "uploading", 0);
      redraw();
      repeat = setInterval(redraw, BAR_EVERY_MS);
    } else {
      line();
      repeat = setInterval(line, LINE_CHECK_MS);
    }
    // Whoever waits (ExperimentWriter.flush) keeps the process alive while it must; a report must not.
    repeat.unref();
  }, QUIET_MS);
  first.unref();

  return {
    stop() {
      clearTimeout(first);
      if (repeat) clearInterval(repeat);
      bar?.stop();
    },
  };
}

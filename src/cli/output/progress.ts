import { createRequire } from "node:module";
import type cliProgressModule from "cli-progress";
import { formatBytes } from "./format.js";
import type { Output } from "../context.js";

/** A byte progress reporter: `update(done, total)` and `stop()`. */
export interface Progress {
  /** `detail` is shown after the byte counts, e.g. "3 of 5 files". */
  update(done: number, total: number, detail?: string): void;
  stop(): void;
}

/**
 * A progress bar on stderr for long transfers, shown only when stderr is a terminal (never in
 * pipes, logs or --json runs) and only once a transfer has taken more than a moment. The label
 * is coloured when the stream's colours are on (a terminal without NO_COLOR).
 *
 * @example
 * const progress = progressBar(context.stderr, "checkout");
 * await checkpoint.checkout({ outputDirectory, onProgress: progress.update });
 * progress.stop();
 */
export function progressBar(stderr: Output, label: string, delayMs = 500): Progress {
  if (!stderr.isTTY) return { update() {}, stop() {} };
  const started = Date.now();
  let bar: cliProgressModule.SingleBar | null = null;
  const payload = (done: number, total: number, detail: string | undefined) => ({
    doneText: formatBytes(done),
    totalText: formatBytes(total),
    detail: detail ? `, ${detail}` : "",
  });
  return {
    update(done, total, detail) {
      if (bar === null) {
        if (Date.now() - started < delayMs || total === 0) return;
        // Loaded only when a bar is shown: every other run starts faster without it.
        const cliProgress = createRequire(import.meta.url)("cli-progress") as typeof cliProgressModule;
        bar = new cliProgress.SingleBar(
          {
            format: `${stderr.colors.cyan(label)} [{bar}] {percentage}% {doneText} of {totalText}{detail} {eta_formatted}`,
            stream: process.stderr,
            hideCursor: true,
            clearOnComplete: true,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(total, done, payload(done, total, detail));
      }
      bar.setTotal(total);
      bar.update(done, payload(done, total, detail));
    },
    stop() {
      bar?.stop();
    },
  };
}

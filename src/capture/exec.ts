import { execFile } from "node:child_process";

export interface RunOptions {
  cwd?: string;
  timeoutMs: number;
  maxBuffer?: number;
  env?: NodeJS.ProcessEnv;
}

/**
 * Runs a program and resolves to its stdout, or null when it is missing, fails, or times out.
 * Capture is best effort: a broken tool on the user's machine must never stop a training run,
 * so every failure collapses to null here and callers decide what "unknown" means.
 */
export function runQuietly(file: string, args: string[], options: RunOptions): Promise<string | null> {
  return new Promise((resolve) => {
    let child;
    try {
      child = execFile(
        file,
        args,
        {
          cwd: options.cwd,
          timeout: options.timeoutMs,
          maxBuffer: options.maxBuffer ?? 16 * 1024 * 1024,
          env: options.env,
          encoding: "utf8",
          windowsHide: true,
        },
        (error, stdout) => resolve(error ? null : stdout),
      );
    } catch {
      resolve(null);
      return;
    }
    // Close stdin at once so a tool that unexpectedly waits for input cannot hang the run.
    child.stdin?.on("error", () => {});
    child.stdin?.end();
  });
}

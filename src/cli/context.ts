import type { Command } from "commander";
import { resolveProject } from "../config.js";
import { Repository } from "../api/repository.js";
import { CliError } from "./errors.js";
import { colorsFor, type Colors } from "./output/colors.js";

/** One output stream with the colours that suit it. */
export interface Output {
  write(text: string): void;
  readonly isTTY: boolean;
  readonly colors: Colors;
}

/** What every command gets: streams, the clock, the repository, and a way to ask. */
export interface CliContext {
  /** Data: tables, IDs, JSON. */
  stdout: Output;
  /** Diagnostics: warnings, summaries, prompts, errors. */
  stderr: Output;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  cwd: string;
  now(): Date;
  /**
   * Opens the repository named by -R/--repository, else CAIRN_REPOSITORY, else cairn.yaml, else
   * .cairn/. Opening publishes what dead experiments on this machine left behind, unless
   * `recover: false`.
   */
  openRepository(command: Command, options?: { recover?: boolean }): Promise<Repository>;
  /** Asks a yes/no question on stderr and reads the answer from stdin; "no" unless y/yes. */
  confirm(question: string): Promise<boolean>;
  /** "warning: …" on stderr. */
  warn(message: string): void;
}

function output(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv): Output {
  return { write: (text) => void stream.write(text), isTTY: stream.isTTY === true, colors: colorsFor(stream, env) };
}

/**
 * The context of a real run, on this process's streams.
 *
 * @example
 * const context = processContext();
 * context.stdout.write("hello\n");
 */
export function processContext(): CliContext {
  const env = process.env;
  const stdout = output(process.stdout, env);
  const stderr = output(process.stderr, env);
  return {
    stdout,
    stderr,
    stdin: process.stdin,
    env,
    cwd: process.cwd(),
    now: () => new Date(),
    async openRepository(command, options = {}) {
      const given = (command.optsWithGlobals() as { repository?: string }).repository;
      const project = resolveProject({ repository: given });
      return Repository.open(project.repository, { projectDirectory: project.directory, recover: options.recover, storage: project.config.storage });
    },
    confirm: (question) => ask(question, process.stdin, process.stderr),
    warn: (message) => stderr.write(`${stderr.colors.yellow("warning:")} ${message}\n`),
  };
}

async function ask(question: string, input: NodeJS.ReadableStream, promptTo: NodeJS.WritableStream): Promise<boolean> {
  // Loaded when a command asks, not by every `cairn` run.
  const readline = await import("node:readline");
  return new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input, output: promptTo });
    let settled = false;
    const finish = (answer: boolean | Error): void => {
      if (settled) return;
      settled = true;
      rl.close();
      if (answer instanceof Error) reject(answer);
      else resolve(answer);
    };
    // On a terminal readline catches Ctrl-C itself; treat it as the interrupt it is.
    rl.on("SIGINT", () => {
      promptTo.write("\n");
      finish(new CliError("INTERRUPTED", "Interrupted."));
    });
    rl.on("close", () => finish(false));
    rl.question(`${question} [y/N] `, (answer) => finish(/^\s*y(es)?\s*$/i.test(answer)));
  });
}

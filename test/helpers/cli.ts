import { spawn } from "node:child_process";
import { CLI, childEnvironment } from "./project.js";

/** What one run of the CLI did. */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the built CLI (`node dist/cli/main.js`) in `cwd`, with NO_COLOR=1, no inherited
 * CAIRN_REPOSITORY, and stdin a pipe (so never a terminal) fed with `input`.
 *
 * @example
 * const { code, stdout } = await cairn(project, ["ls", "--json"]);
 */
export function cairn(cwd: string, args: string[], options: { env?: Record<string, string>; input?: string } = {}): Promise<CliResult> {
  // Extra variables go on top, CAIRN_REPOSITORY included (childEnvironment drops the inherited one).
  const env = { ...childEnvironment(), ...options.env };
  const child = spawn(process.execPath, [CLI, ...args], { cwd, env, stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  child.stdin.end(options.input ?? "");
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** The JSON a command printed on stdout, failing with its stderr when there is none. */
export function parseJson<T = unknown>(result: CliResult): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(`expected JSON on stdout (exit ${result.code}); stderr:\n${result.stderr}\nstdout:\n${result.stdout}`);
  }
}

function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * Runs the built CLI on a real pseudo-terminal (util-linux `script`), so stdin, stdout and
 * stderr are all TTYs; the two outputs arrive merged. Colour is allowed (NO_COLOR unset) unless
 * `env` sets it. When `answer` is given it is typed once the output matches `when`.
 *
 * @example
 * const { code, output } = await cairnInTerminal(project, ["rm", id], { when: /\[y\/N\]/, answer: "y\r" });
 */
export function cairnInTerminal(
  cwd: string,
  args: string[],
  options: { env?: Record<string, string>; when?: RegExp; answer?: string } = {},
): Promise<{ code: number | null; output: string }> {
  const env = { ...childEnvironment(), ...options.env };
  if (!options.env || !("NO_COLOR" in options.env)) delete env.NO_COLOR;
  const command = [process.execPath, CLI, ...args].map(shellQuote).join(" ");
  const child = spawn("script", ["-qec", command, "/dev/null"], { cwd, env, stdio: ["pipe", "pipe", "pipe"] });
  let output = "";
  let answered = options.answer === undefined;
  child.stdout.on("data", (d) => {
    output += d;
    if (!answered && (options.when ?? /./).test(output)) {
      answered = true;
      child.stdin.write(options.answer!);
    }
  });
  child.stderr.on("data", (d) => (output += d));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, output }));
  });
}

import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

/** The built package entry and CLI (tests run after `npm run build`). */
export const DIST_INDEX = fileURLToPath(new URL("../../dist/index.js", import.meta.url));
export const CLI = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));

/**
 * A fresh project folder in the system's temp directory, removed by the caller's cleanup.
 *
 * @example
 * const project = await makeProject({ "train.py": "print(1)" });
 */
export async function makeProject(files: Record<string, string | Buffer> = {}): Promise<string> {
  const directory = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), "cairn-test-")));
  for (const [name, contents] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(directory, name)), { recursive: true });
    await fs.writeFile(path.join(directory, name), contents);
  }
  return directory;
}

export interface ScriptResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Environment for child processes: no colour, quick heartbeats, no inherited repository. */
export function childEnvironment(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1", CAIRN_HEARTBEAT_INTERVAL: "0.2" };
  // The test run's own repository setting must not leak in; the caller's `extra` may set one.
  delete env.CAIRN_REPOSITORY;
  return { ...env, ...extra };
}

/**
 * Starts a Node ES module script (its text) in `cwd`, with `cairn` importable as CAIRN.
 * The script sees `const cairn = await import(process.env.CAIRN_INDEX)`.
 */
export function startScript(cwd: string, source: string, env: Record<string, string> = {}): { child: ChildProcess; done: Promise<ScriptResult> } {
  const child = spawn(process.execPath, ["--input-type=module", "-e", `const cairn = await import(${JSON.stringify(DIST_INDEX)});\n${source}`], {
    cwd,
    env: childEnvironment(env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  const done = new Promise<ScriptResult>((resolve) => child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, done };
}

/** Runs a script to completion. */
export function runScript(cwd: string, source: string, env: Record<string, string> = {}): Promise<ScriptResult> {
  return startScript(cwd, source, env).done;
}

/** Runs the built CLI. */
export function runCli(cwd: string, args: string[], env: Record<string, string> = {}): Promise<ScriptResult> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd, env: childEnvironment(env), stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  return new Promise((resolve) => child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })));
}

/** Waits until `predicate` holds, polling; fails after `timeoutMs`. */
export async function waitFor(predicate: () => Promise<boolean> | boolean, timeoutMs = 20_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Every file under a folder, recursively, as paths relative to it. */
export async function listFiles(directory: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else out.push(path.relative(directory, full));
    }
  };
  await walk(directory);
  return out.sort();
}

import os from "node:os";
import path from "node:path";
import type { EnvironmentInfo } from "../repository/types.js";
import { runQuietly } from "./exec.js";

export interface CaptureEnvironmentOptions {
  /** Extra runtimes recorded by bindings, e.g. { python: "3.11.2" }. */
  runtimes?: Record<string, string>;
  /** A binding's own command line (e.g. ["python3", "train.py"]), recorded instead of Node's. */
  command?: string[];
  /** A binding's working directory, recorded instead of this process's. */
  workingDirectory?: string;
}

/** nvidia-smi can stall for seconds on a wedged driver; a run should not wait on it. */
const GPU_QUERY_TIMEOUT_MS = 3000;

/**
 * Describes the machine and process an experiment runs in. Records no environment variables:
 * they routinely hold API keys and tokens, and a repository is shared.
 *
 * `command` is `[basename(process.execPath), ...process.execArgv, ...process.argv.slice(1)]`:
 * the command line as run, Node flags included (e.g. `--import tsx`), but without the absolute
 * path of the Node binary, which says more about the machine than about the run.
 *
 * @example
 * const environment = await captureEnvironment({ runtimes: { python: "3.11.2" } });
 * environment.gpus; // [{ name: "NVIDIA A100-SXM4-40GB", memory: "40960 MiB", driver: "535.54.03" }]
 */
export async function captureEnvironment(options: CaptureEnvironmentOptions = {}): Promise<EnvironmentInfo> {
  const cpus = os.cpus();
  return {
    user: currentUser(),
    host: os.hostname(),
    command: options.command ?? [path.basename(process.execPath), ...process.execArgv, ...process.argv.slice(1)],
    workingDirectory: options.workingDirectory ?? process.cwd(),
    node: process.versions.node,
    os: `${os.platform()} ${os.release()}`,
    arch: os.arch(),
    // os.cpus() is empty in some containers and on some ARM boards.
    cpu: cpus[0]?.model.trim() || "unknown",
    cpus: cpus.length > 0 ? cpus.length : os.availableParallelism(),
    memoryBytes: os.totalmem(),
    gpus: await captureGpus(),
    runtimes: { ...(options.runtimes ?? {}) },
  };
}

/**
 * os.userInfo() throws when the uid has no passwd entry (common in containers run with
 * `--user`); the login name variables are then the best we know, and the uid after that.
 */
function currentUser(): string {
  try {
    const name = os.userInfo().username;
    if (name) return name;
  } catch {
    // fall through
  }
  const fromLogin = process.env.USER || process.env.LOGNAME || process.env.USERNAME;
  if (fromLogin) return fromLogin;
  const uid = typeof process.getuid === "function" ? process.getuid() : undefined;
  return uid === undefined ? "unknown" : `uid ${uid}`;
}

async function captureGpus(): Promise<EnvironmentInfo["gpus"]> {
  const output = await runQuietly("nvidia-smi", ["--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"], {
    timeoutMs: GPU_QUERY_TIMEOUT_MS,
  });
  return output === null ? [] : parseGpuList(output);
}

/**
 * Parses `nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader`.
 * Exported for tests only.
 *
 * @example
 * parseGpuList("Tesla T4, 15360 MiB, 470.82.01\n"); // [{ name: "Tesla T4", memory: "15360 MiB", driver: "470.82.01" }]
 */
export function parseGpuList(output: string): EnvironmentInfo["gpus"] {
  const gpus: EnvironmentInfo["gpus"] = [];
  for (const line of output.split(/\r?\n/)) {
    if (line.trim() === "") continue;
    const fields = line.split(",").map((field) => field.trim());
    // The last two fields are fixed; a name with a comma in it keeps its comma.
    if (fields.length < 3) continue;
    const driver = fields.pop()!;
    const memory = fields.pop()!;
    gpus.push({ name: fields.join(", "), memory: known(memory), driver: known(driver) });
  }
  return gpus;
}

function known(value: string): string | null {
  return value === "" || /^\[?N\/A\]?$/i.test(value) || /^\[Not Supported\]$/i.test(value) ? null : value;
}

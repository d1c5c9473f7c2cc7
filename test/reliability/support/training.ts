import { spawn, type ChildProcess } from "node:child_process";
import * as crypto from "node:crypto";
import { childEnvironment, DIST_INDEX } from "../../helpers/project.js";
import { random } from "../../helpers/random.js";
export { random };

/**
 * The tiny training script the crash, fault and concurrency tests run, and what its files must
 * hold. Every byte a checkpoint stores is a function of (seed, step), so a check can tell a
 * right file from a wrong one for any checkpoint it finds, printed or not.
 */

/**
 * The weights file of a step: 32 KiB to about `maxKiB` KiB of AES-CTR noise keyed by seed and
 * step. Kept as source text: the script evaluates the very same text (a function's toString()
 * would show the test runner's rewritten imports).
 */
const WEIGHTS_SOURCE = `(crypto, seed, step, maxKiB) => {
  const key = crypto.createHash("sha256").update(seed + "/" + step).digest();
  const size = 32 * 1024 + (key.readUInt32BE(0) % Math.max(1, (maxKiB - 32) * 1024));
  const cipher = crypto.createCipheriv("aes-256-ctr", key, Buffer.alloc(16));
  return Buffer.concat([cipher.update(Buffer.alloc(size)), cipher.final()]);
}`;
const weights = new Function(`return ${WEIGHTS_SOURCE}`)() as (c: typeof crypto, seed: string, step: number, maxKiB: number) => Buffer;

export function weightsOf(seed: string, step: number, maxKiB: number): Buffer {
  return weights(crypto, seed, step, maxKiB);
}

/** The small config file beside the weights: names the seed and the step. */
export function configOf(seed: string, step: number): string {
  return JSON.stringify({ seed, step });
}

/** A file every run of every process writes identically: dedup races on one object. */
export const SHARED_FILE = "shared vocabulary v1\n".repeat(200);

export interface TrainingOptions {
  seed: string;
  /** Checkpoints with files (each followed by a metrics-only one). */
  steps: number;
  maxKiB: number;
  /** Milliseconds of "training" between checkpoints. */
  pauseMs?: number;
  /** Call stop() at the end (else the script just ends; exit handling stops it). */
  stop?: boolean;
  /** A metrics-only checkpoint after each one with files (default true). */
  metricsBetween?: boolean;
}

/**
 * The script's source. It prints, with a synchronous write to fd 1 so nothing is left in a
 * buffer when it is killed: `experiment ID` after init() returns, `checkpoint ID STEP` after
 * each checkpoint() returns, `stopping` before stop() and `stopped` after it.
 */
export function trainingSource(options: TrainingOptions): string {
  return `
const fs = await import("node:fs");
const crypto = await import("node:crypto");
const weightsOf = (seed, step, maxKiB) => (${WEIGHTS_SOURCE})(crypto, seed, step, maxKiB);
const say = (line) => fs.writeSync(1, line + (process.env.TRAINING_TRACE ? " " + Date.now() : "") + "\\n");
const seed = ${JSON.stringify(options.seed)};
const experiment = await cairn.init({ path: "code", params: { seed } });
say("experiment " + experiment.id);
for (let step = 0; step < ${options.steps}; step++) {
  fs.mkdirSync("model", { recursive: true });
  fs.writeFileSync("model/weights.bin", weightsOf(seed, step, ${options.maxKiB}));
  fs.writeFileSync("model/config.json", JSON.stringify({ seed, step }));
  fs.writeFileSync("model/shared.txt", ${JSON.stringify(SHARED_FILE)});
  const checkpoint = await experiment.checkpoint({ path: "model", step, metrics: { loss: 1 / (step + 1) }, primaryMetric: ["loss", "minimize"] });
  say("checkpoint " + checkpoint.id + " " + step);
  ${options.metricsBetween === false ? "" : `const metrics = await experiment.checkpoint({ metrics: { lr: 0.1, step } });
  say("checkpoint " + metrics.id + " m" + step);`}
  ${options.pauseMs ? `await new Promise((r) => setTimeout(r, ${options.pauseMs}));` : ""}
}
${options.stop === false ? "" : `say("stopping");\nawait experiment.stop();\nsay("stopped");`}
`;
}

/** What a run printed, parsed. */
export interface RunOutput {
  experimentId: string | null;
  /** Checkpoint IDs whose checkpoint() had returned, with their step ("m3" for metrics only). */
  returned: { id: string; step: string }[];
  stopping: boolean;
  stopped: boolean;
  /** The last thing printed: where the process was when it died. */
  last: string;
}

export function parseOutput(stdout: string): RunOutput {
  const output: RunOutput = { experimentId: null, returned: [], stopping: false, stopped: false, last: "start" };
  for (const line of stdout.split("\n")) {
    const [word, id, step] = line.trim().split(" ");
    if (word === "experiment") output.experimentId = id!;
    else if (word === "checkpoint") output.returned.push({ id: id!, step: step! });
    else if (word === "stopping") output.stopping = true;
    else if (word === "stopped") output.stopped = true;
    else continue;
    output.last = word;
  }
  return output;
}

export interface StartedRun {
  child: ChildProcess;
  /** Resolves when the process has ended (and been reaped). */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
  stdout(): string;
}

/**
 * Starts the training script in `project` with Cairn importable (the built package).
 *
 * @example
 * const run = startTraining(project, trainingSource({ seed: "a", steps: 3, maxKiB: 256 }), { CAIRN_REPOSITORY: url });
 */
export function startTraining(project: string, source: string, env: Record<string, string>): StartedRun {
  const child = spawn(process.execPath, ["--input-type=module", "-e", `const cairn = await import(${JSON.stringify(DIST_INDEX)});\n${source}`], {
    cwd: project,
    env: childEnvironment(env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, done, stdout: () => stdout };
}


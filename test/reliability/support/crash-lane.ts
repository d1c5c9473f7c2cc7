import * as fs from "node:fs/promises";
import * as path from "node:path";
import { openRepository, type Repository } from "../../../src/index.js";
import { spawn } from "node:child_process";
import { childEnvironment, CLI, runCli } from "../../helpers/project.js";
import { checkEveryVisibleCheckpoint } from "./checks.js";
import { openAsAnotherMachine, type RepositoryKind } from "./kinds.js";
import { parseOutput, startTraining, trainingSource, type RunOutput } from "./training.js";

/** Where a kill landed, told from what the script printed and what its spool held. */
export type KillMoment =
  | "before init returned"
  | "mid-capture" // a file was being copied into the spool
  | "mid-upload" // checkpoints journaled but not yet in the published record
  | "between checkpoints" // everything returned so far was published
  | "during training" // (signals) somewhere in the loop: the signal handler stops the experiment
  | "during stop"
  | "after the script ended"; // the kill came too late: a normal end

/** When to kill: `delayMs` after the process started, or after init() returned in it. */
export interface KillTime {
  after: "start" | "init";
  delayMs: number;
}

export interface RunFacts {
  seed: string;
  signal: NodeJS.Signals;
  delayMs: number;
  moment: KillMoment;
  output: RunOutput;
  /** Checkpoints a reader on another machine saw right after the kill, before any recovery. */
  visibleBeforeRecovery: number;
  /** Checkpoints in the repository after recovery. */
  visibleAfterRecovery: number;
  recoveredBy: "cairn push" | "cairn push killed, then cairn push" | "next open" | "nothing to recover";
  filesVerified: number;
}

export interface LaneOptions {
  kind: RepositoryKind;
  project: string;
  url: string;
  steps: number;
  maxKiB: number;
  /** Which recovery to use for the n-th run of the lane. */
  pushEvery: number;
}

/** Opens a repository, uses it, and releases its connections. */
export async function using<T>(url: string, projectDirectory: string, recover: boolean, use: (repository: Repository) => Promise<T>): Promise<T> {
  const repository = await (recover ? openRepository(url, { projectDirectory }) : openAsAnotherMachine(url, projectDirectory));
  try {
    return await use(repository);
  } finally {
    await repository.storage.close?.();
  }
}

/** The spool folder of an experiment of `url` on this machine. */
function spoolOf(url: string, projectDirectory: string, experimentId: string): Promise<string> {
  return using(url, projectDirectory, false, async (repository) => path.join(repository.storage.localStateDirectory(), "spool", experimentId));
}

async function classify(output: RunOutput, spool: string | null, visible: number): Promise<KillMoment> {
  if (output.stopped) return "after the script ended";
  if (output.stopping) return "during stop";
  if (output.experimentId === null) return "before init returned";
  const objects = spool ? await fs.readdir(path.join(spool, "objects")).catch(() => [] as string[]) : [];
  const journal = spool ? await fs.readFile(path.join(spool, "journal.jsonl"), "utf8").catch(() => "") : "";
  const entries = journal.split("\n").flatMap((line) => {
    try {
      return [JSON.parse(line) as { type: string; files?: { spool: string }[] }];
    } catch {
      return [];
    }
  });
  // A copy in the spool that no journal entry names: its checkpoint() had not returned.
  const journaledCopies = new Set(entries.flatMap((e) => (e.type === "capture" ? (e.files ?? []).map((f) => f.spool) : [])));
  if (objects.some((name) => name.startsWith(".") && !journaledCopies.has(name))) return "mid-capture";
  const journaled = entries.filter((e) => e.type === "checkpoint" || e.type === "capture").length;
  if (journaled > visible || objects.length > 0) return "mid-upload";
  return "between checkpoints";
}

/**
 * One run: start the script, kill it after `delayMs` with `signal`, then check the repository
 * as another machine sees it, recover (the next process's open, or `cairn push`), and check
 * again that every checkpoint whose checkpoint() had returned is there with the right bytes.
 * Throws on the first broken promise, with the seed to replay it.
 *
 * @example
 * const facts = await killOnce(lane, "a-1", "SIGKILL", 180, 0);
 */
export async function killOnce(lane: LaneOptions, seed: string, signal: NodeJS.Signals, when: KillTime, index: number): Promise<RunFacts> {
  const env = lane.kind.env(); // the project's cairn.yaml names the repository
  const run = startTraining(lane.project, trainingSource({ seed, steps: lane.steps, maxKiB: lane.maxKiB }), env);
  const delayMs = when.delayMs;
  let timer: NodeJS.Timeout | undefined;
  if (when.after === "start") timer = setTimeout(() => run.child.kill(signal), delayMs);
  else {
    // Counted from init()'s return, so the kill lands in the training loop however loaded the machine is.
    const onData = (): void => {
      if (parseOutput(run.stdout()).experimentId === null) return;
      run.child.stdout!.off("data", onData);
      timer = setTimeout(() => run.child.kill(signal), delayMs);
    };
    run.child.stdout!.on("data", onData);
  }
  // Every case stops by itself: a run that neither ends nor dies is killed and reported.
  const watchdog = setTimeout(() => run.child.kill("SIGKILL"), 60_000);
  const result = await run.done;
  clearTimeout(timer);
  clearTimeout(watchdog);
  const output = parseOutput(result.stdout);
  const fail = (what: string): never => {
    throw new Error(`run ${seed} (${signal} ${delayMs} ms after ${when.after}, last printed "${output.last}"): ${what}\nstderr:\n${result.stderr}`);
  };
  if (result.code !== null && result.code !== 0 && !output.stopped) fail(`the script failed by itself with code ${result.code}`);

  // 1. Another machine reads the repository at once: readable, and what it shows is complete.
  const seedOf = (e: { params: unknown }) => (e.params as { seed?: string } | null)?.seed === seed;
  const before = await using(lane.url, lane.project, false, (reader) => checkEveryVisibleCheckpoint(reader, lane.maxKiB, seedOf)).catch((error: unknown) =>
    fail(`before recovery: ${String(error)}`),
  );
  const spool = output.experimentId ? await spoolOf(lane.url, lane.project, output.experimentId) : null;
  const moment =
    signal === "SIGKILL"
      ? await classify(output, spool, before.checkpoints)
      : output.stopped
        ? "after the script ended"
        : output.stopping
          ? "during stop"
          : output.experimentId
            ? "during training"
            : "before init returned";
  const spoolLeft = spool !== null && (await fs.stat(spool).then(() => true, () => false));

  // 2. Recovery, as a user meets it: `cairn push`, or simply the next process that opens it.
  let recoveredBy: RunFacts["recoveredBy"] = "nothing to recover";
  if (spoolLeft || output.experimentId === null) {
    if (index % lane.pushEvery === 0) {
      recoveredBy = "cairn push";
      if (index % (2 * lane.pushEvery) === 0) {
        // The recovery itself killed halfway: what it leaves must be as safe as what it found.
        recoveredBy = "cairn push killed, then cairn push";
        const first = spawn(process.execPath, [CLI, "push"], { cwd: lane.project, env: childEnvironment(env), stdio: "ignore" });
        const killer = setTimeout(() => first.kill("SIGKILL"), when.delayMs % 500);
        await new Promise((resolve) => first.on("close", resolve));
        clearTimeout(killer);
        await using(lane.url, lane.project, false, (reader) => checkEveryVisibleCheckpoint(reader, lane.maxKiB, seedOf)).catch((error: unknown) =>
          fail(`after a killed cairn push: ${String(error)}`),
        );
      }
      const push = await runCli(lane.project, ["push"], env);
      if (push.code !== 0) fail(`cairn push exited ${push.code}: ${push.stderr}`);
    } else {
      recoveredBy = "next open";
      await using(lane.url, lane.project, true, async () => {});
    }
  }

  // 3. Every returned checkpoint is there, every file right, and nothing is left behind.
  const { counts, mine } = await using(lane.url, lane.project, false, async (after) => ({
    counts: await checkEveryVisibleCheckpoint(after, lane.maxKiB, seedOf),
    mine: await Promise.all((await after.experiments.list()).filter(seedOf).map((e) => e.load())),
  })).catch((error: unknown) => fail(`after recovery: ${String(error)}`));
  if (mine.length > 1) fail(`${mine.length} experiments carry this seed`);
  const experiment = mine[0];
  if (output.experimentId !== null && experiment?.id !== output.experimentId) fail(`experiment ${output.experimentId} is not in the repository`);
  const present = new Set(experiment?.checkpoints.map((c) => c.id) ?? []);
  const lost = output.returned.filter((c) => !present.has(c.id));
  if (lost.length > 0) fail(`${lost.length} checkpoint(s) whose checkpoint() had returned are missing: ${lost.map((c) => `${c.id} (step ${c.step})`).join(", ")}`);
  if (experiment && experiment.checkpoints.length < before.checkpoints) fail(`recovery lost checkpoints: ${before.checkpoints} before, ${experiment.checkpoints.length} after`);
  if (spool !== null && (await fs.stat(spool).then(() => true, () => false))) fail(`the spool ${spool} is still there after recovery`);
  if ((signal === "SIGTERM" || signal === "SIGINT") && experiment !== undefined && experiment.status !== "stopped") {
    fail(`after ${signal} the experiment is ${experiment?.status}, not stopped`);
  }
  return {
    seed,
    signal,
    delayMs,
    moment,
    output,
    visibleBeforeRecovery: before.checkpoints,
    visibleAfterRecovery: experiment?.checkpoints.length ?? 0,
    recoveredBy,
    filesVerified: before.files + counts.files,
  };
}

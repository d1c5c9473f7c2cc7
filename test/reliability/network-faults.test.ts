/**
 * Network faults between Cairn and the S3 server, through test/reliability/fault-proxy.ts:
 * slow uploads, one request in ten reset, stalled, answered 500/503 or slowed for a whole
 * training run, and a server that never comes back. Every checkpoint arrives intact, no call
 * into the training loop throws, retries are bounded, and the final failure says what was kept
 * on local disk and how to push it.
 */
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { CairnError } from "../../src/index.js";
import { verifyRepository, type VerifyProblem } from "../../src/repository/verify.js";
import { runCli } from "../helpers/project.js";
import { testServers } from "../servers/context.js";
import { using } from "./support/crash-lane.js";
import { checkEveryVisibleCheckpoint } from "./support/checks.js";
import { makeTrainingProject, s3Kind, scratchFolder, useKindInThisProcess, type RepositoryKind } from "./support/kinds.js";
import { parseOutput, random, startTraining, trainingSource } from "./support/training.js";
import { randomFaults, serverGone, startFaultProxy, type FaultProxy, type ProxyLogEntry } from "./fault-proxy.js";

const SEED = Number(process.env.RELIABILITY_SEED ?? Math.floor(Math.random() * 2 ** 31));
const MAX_KIB = 256;
const STEPS = 30;

let scratch: string;
let proxy: FaultProxy;
let direct: RepositoryKind;
let proxied: RepositoryKind;
beforeAll(async () => {
  scratch = await scratchFolder("faults");
  proxy = await startFaultProxy(testServers().s3.endpoint, () => ({ kind: "pass" }));
  direct = s3Kind();
  proxied = s3Kind(proxy.endpoint);
  // This process checks straight against the server; the training scripts go through the proxy.
  useKindInThisProcess(direct, path.join(scratch, "cache"));
});
afterAll(async () => {
  await proxy.close();
  await fs.rm(scratch, { recursive: true, force: true });
});

/** Requests that are not heartbeats (those repeat every 0.2 s whatever happens). */
function work(log: ProxyLogEntry[]): ProxyLogEntry[] {
  return log.filter((entry) => !entry.url.includes("/heartbeats/"));
}

/** The most attempts any one content object took (objects are written once, so repeats are retries). */
function maxAttemptsPerObject(log: ProxyLogEntry[]): number {
  const attempts = new Map<string, number>();
  for (const entry of log) {
    if (entry.method !== "PUT" || !entry.url.includes("/objects/")) continue;
    const key = entry.url.split("?")[0]!;
    attempts.set(key, (attempts.get(key) ?? 0) + 1);
  }
  return Math.max(0, ...attempts.values());
}

describe("network faults between Cairn and S3", () => {
  test("a reader never sees a checkpoint whose files are not all uploaded, however slow the uploads", async () => {
    // Every upload of contents takes 400 ms; checkpoints come faster than that.
    proxy.setPlan((request) => (request.method === "PUT" && request.url.includes("/objects/") ? { kind: "delay", ms: 400 } : { kind: "pass" }));
    const url = direct.newUrl(scratch);
    const project = await makeTrainingProject(scratch, url);
    const run = startTraining(project, trainingSource({ seed: "slow", steps: 8, maxKiB: 64 }), proxied.env());
    let finished = false;
    void run.done.then(() => (finished = true));
    const seen: VerifyProblem[] = [];
    let looks = 0;
    const storage = await direct.storage(url);
    try {
      while (!finished) {
        const report = await verifyRepository(storage, { contents: false });
        seen.push(...report.problems);
        looks += 1;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    } finally {
      await storage.close?.();
    }
    const result = await run.done;
    expect(result.code, result.stderr).toBe(0);
    expect(looks).toBeGreaterThan(3);
    expect(seen).toEqual([]);
    await using(url, project, false, (repository) => checkEveryVisibleCheckpoint(repository, 64));
  }, 120_000);

  test("a record says stopped only once it holds every checkpoint, however slow the uploads", async () => {
    // stop() marked the record while a publish round was under way, and that round published
    // "stopped" with the checkpoints it had started with: readers saw a finished run short of
    // its last checkpoints, and gc, taking the run for finished, deleted their files (the
    // concurrency test, in CI).
    proxy.setPlan((request) => (request.method === "PUT" && request.url.includes("/objects/") ? { kind: "delay", ms: 300 } : { kind: "pass" }));
    const url = direct.newUrl(scratch);
    const project = await makeTrainingProject(scratch, url);
    const run = startTraining(project, trainingSource({ seed: "stop-last", steps: 12, maxKiB: 8 * 1024, metricsBetween: false }), proxied.env());
    let finished = false;
    void run.done.then(() => (finished = true));
    const stoppedCounts: number[] = [];
    const storage = await direct.storage(url);
    try {
      while (!finished) {
        for await (const info of storage.list("experiments/")) {
          const bytes = await storage.get(info.key);
          const record = bytes === null ? null : (JSON.parse(bytes.toString()) as { stopped: string | null; checkpoints: unknown[] });
          if (record?.stopped) stoppedCounts.push(record.checkpoints.length);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } finally {
      await storage.close?.();
      proxy.setPlan(() => ({ kind: "pass" }));
    }
    const result = await run.done;
    expect(result.code, result.stderr).toBe(0);
    const output = parseOutput(result.stdout);
    expect(stoppedCounts.length).toBeGreaterThan(0);
    expect(new Set(stoppedCounts)).toEqual(new Set([output.returned.length]));
  }, 120_000);

  test("a writer's heartbeat is in the bucket before its first upload, however slow (gc sees the writer of every file it lists)", async () => {
    // gc keeps an unreferenced upload only for a writer it can see; before its first record, a
    // writer shows only by its heartbeat. Sent alongside the first uploads, a slow heartbeat let
    // gc delete a new experiment's first weights (the concurrency test, in CI).
    const HEARTBEAT_DELAY_MS = 1500;
    proxy.log.length = 0;
    proxy.setPlan((request) => (request.method === "PUT" && request.url.includes("/heartbeats/") ? { kind: "delay", ms: HEARTBEAT_DELAY_MS } : { kind: "pass" }));
    const url = direct.newUrl(scratch);
    const project = await makeTrainingProject(scratch, url);
    const result = await startTraining(project, trainingSource({ seed: "heartbeat-first", steps: 1, maxKiB: 40 }), proxied.env()).done;
    proxy.setPlan(() => ({ kind: "pass" }));
    expect(result.code, result.stderr).toBe(0);
    const puts = proxy.log.filter((entry) => entry.method === "PUT");
    const firstHeartbeat = puts.find((entry) => entry.url.includes("/heartbeats/"));
    const firstUpload = puts.find((entry) => entry.url.includes("/objects/"));
    expect(firstHeartbeat?.status).toBe(200);
    expect(firstUpload).toBeDefined();
    expect(firstUpload!.time - firstHeartbeat!.time).toBeGreaterThanOrEqual(HEARTBEAT_DELAY_MS);
  }, 60_000);

  test("a whole training run with one request in ten faulted: everything arrives intact, nothing throws, retries are bounded", async () => {
    const url = direct.newUrl(scratch);
    const project = await makeTrainingProject(scratch, url);
    proxy.log.length = 0;
    proxy.setPlan(randomFaults(0.1, random(SEED)));
    const run = startTraining(project, trainingSource({ seed: "faulty", steps: STEPS, maxKiB: MAX_KIB, pauseMs: 50 }), proxied.env());
    const result = await run.done;
    const output = parseOutput(result.stdout);
    proxy.setPlan(() => ({ kind: "pass" }));
    const log = work(proxy.log);
    const faults = log.filter((entry) => entry.action !== "pass");
    const byKind = new Map<string, number>();
    for (const entry of faults) byKind.set(entry.action, (byKind.get(entry.action) ?? 0) + 1);
    console.log(
      `fault figures (seed ${SEED}): ${log.length} requests (heartbeats aside), ${faults.length} faulted (${[...byKind].map(([k, n]) => `${k} ${n}`).join(", ")}); ` +
        `at most ${maxAttemptsPerObject(log)} attempts for one object; the script exited ${result.code}`,
    );
    // No call into the training loop threw: the script ran to its end and stop() returned.
    expect(result.code, result.stderr).toBe(0);
    expect(output.stopped).toBe(true);
    expect(faults.length).toBeGreaterThan(0);
    // Everything arrived: every returned checkpoint, every byte, read straight from the server.
    const counts = await using(url, project, false, async (repository) => {
      const experiment = await repository.experiments.get(output.experimentId!);
      expect(experiment.status).toBe("stopped");
      expect(experiment.checkpoints.map((c) => c.id)).toEqual(output.returned.map((c) => c.id));
      return checkEveryVisibleCheckpoint(repository, MAX_KIB);
    });
    expect(counts.checkpoints).toBe(2 * STEPS);
    const storage = await direct.storage(url);
    expect((await verifyRepository(storage)).problems).toEqual([]);
    await storage.close?.();
    // Bounded: the SDK makes at most 5 attempts per call, and the writer backs off between calls.
    expect(maxAttemptsPerObject(log)).toBeLessThanOrEqual(10);
  }, 180_000);

  test("when the server never comes back, stop() gives up in time, says what was kept and how to push it; cairn push finishes the job", async () => {
    const url = direct.newUrl(scratch);
    const project = await makeTrainingProject(scratch, url);
    proxy.setPlan(() => ({ kind: "pass" }));
    // The server goes away for good once init() has returned.
    const run = startTraining(project, trainingSource({ seed: "gone", steps: 5, maxKiB: MAX_KIB, pauseMs: 50 }), { ...proxied.env(), CAIRN_STOP_TIMEOUT: "4" });
    const watch = (): void => {
      if (parseOutput(run.stdout()).experimentId) {
        proxy.setPlan(serverGone);
        run.child.stdout!.off("data", watch);
      }
    };
    run.child.stdout!.on("data", watch);
    proxy.log.length = 0;
    // Bounded: stop() waits CAIRN_STOP_TIMEOUT (4 s), then the process must end by itself.
    const watchdog = setTimeout(() => run.child.kill("SIGKILL"), 60_000);
    const result = await run.done;
    clearTimeout(watchdog);
    expect(result.signal, `the script did not end by itself; it printed:\n${result.stdout}\n${result.stderr}`).toBeNull();
    const output = parseOutput(result.stdout);
    const outage = work(proxy.log).length;
    // Nothing threw into the loop: every checkpoint() returned, the script ended normally.
    expect(result.code, result.stderr).toBe(0);
    expect(output.returned).toHaveLength(10);
    expect(output.stopped).toBe(true);
    // The last word says what is kept where, and what to run.
    const last = result.stderr.trim().split("\n").at(-1)!;
    expect(last).toMatch(/could not publish experiment [0-9a-f]{7} to s3:\/\//);
    expect(last).toMatch(/kept on local disk in \/\S+/);
    expect(last).toContain(`run "cairn push"`);
    const spool = /kept on local disk in (\S+?);/.exec(last)![1]!;
    expect((await fs.readdir(path.join(spool, "objects"))).length).toBeGreaterThan(0);
    console.log(`outage figures: ${outage} requests (heartbeats aside) during the outage, then: ${last}`);

    // The server is back: `cairn push` publishes it all, complete and stopped.
    proxy.setPlan(() => ({ kind: "pass" }));
    const push = await runCli(project, ["push"], proxied.env());
    expect(push.code, push.stderr).toBe(0);
    expect(push.stdout.trim()).toBe(output.experimentId);
    await using(url, project, false, async (repository) => {
      const experiment = await repository.experiments.get(output.experimentId!);
      expect(experiment.status).toBe("stopped");
      expect(experiment.checkpoints.map((c) => c.id)).toEqual(output.returned.map((c) => c.id));
      await checkEveryVisibleCheckpoint(repository, MAX_KIB);
    });
    await expect(fs.stat(spool)).rejects.toThrow();
  }, 180_000);
});

describe("reading through network faults", () => {
  test("every checkpoint reads back intact through one request in ten faulted, or fails loudly, never with wrong bytes", async () => {
    const url = direct.newUrl(scratch);
    const project = await makeTrainingProject(scratch, url);
    proxy.setPlan(() => ({ kind: "pass" }));
    const result = await startTraining(project, trainingSource({ seed: "reads", steps: 10, maxKiB: MAX_KIB, metricsBetween: false }), proxied.env()).done;
    expect(result.code, result.stderr).toBe(0);
    proxy.log.length = 0;
    proxy.setPlan(randomFaults(0.1, random(SEED + 7)));
    // A fresh cache, so every read goes through the proxy.
    const previousCache = process.env.CAIRN_CACHE_DIR;
    const previousEndpoint = [process.env.AWS_ENDPOINT_URL, process.env.AWS_ENDPOINT_URL_S3];
    process.env.CAIRN_CACHE_DIR = path.join(scratch, "cache-reads");
    process.env.AWS_ENDPOINT_URL = process.env.AWS_ENDPOINT_URL_S3 = proxy.endpoint;
    let intact = 0;
    const failures: string[] = [];
    try {
      for (let attempt = 0; attempt < 3 && intact < 10; attempt++) {
        intact = 0;
        await using(url, project, false, async (repository) => {
          const counts = await checkEveryVisibleCheckpoint(repository, MAX_KIB).catch((error: unknown) => {
            failures.push(String(error));
            return null;
          });
          if (counts) intact = counts.checkpoints;
        });
      }
    } finally {
      process.env.CAIRN_CACHE_DIR = previousCache;
      [process.env.AWS_ENDPOINT_URL, process.env.AWS_ENDPOINT_URL_S3] = previousEndpoint;
      proxy.setPlan(() => ({ kind: "pass" }));
    }
    const faults = proxy.log.filter((entry) => entry.action !== "pass").length;
    console.log(`read figures: ${proxy.log.length} requests, ${faults} faulted; ${failures.length} read attempts failed loudly (${failures.map((f) => f.slice(0, 120)).join(" | ")})`);
    // Wrong bytes would have failed checkEveryVisibleCheckpoint with "other bytes": never that.
    for (const failure of failures) {
      expect(failure).not.toMatch(/holds other bytes/);
      // A clean error naming what was being read, not the SDK's bare "aborted".
      expect(failure).toMatch(/CairnError: .*objects\/[0-9a-f]{2}\/[0-9a-f]{64}/);
    }
    expect(intact).toBe(10);
  }, 180_000);
});

test("a read whose connection drops halfway through the body fails at once with an error naming the object; the next read works", async () => {
  const url = direct.newUrl(scratch);
  const project = await makeTrainingProject(scratch, url);
  proxy.setPlan(() => ({ kind: "pass" }));
  const result = await startTraining(project, trainingSource({ seed: "cut", steps: 12, maxKiB: MAX_KIB, metricsBetween: false }), proxied.env()).done;
  expect(result.code, result.stderr).toBe(0);
  // The first read of every object is cut off halfway; later reads pass.
  const cut = new Set<string>();
  proxy.setPlan((request) => {
    const key = request.url.split("?")[0]!;
    if (request.method !== "GET" || !key.includes("/objects/") || cut.has(key)) return { kind: "pass" };
    cut.add(key);
    return { kind: "reset-response" };
  });
  const previous = [process.env.CAIRN_CACHE_DIR, process.env.AWS_ENDPOINT_URL, process.env.AWS_ENDPOINT_URL_S3];
  process.env.CAIRN_CACHE_DIR = path.join(scratch, "cache-cut");
  process.env.AWS_ENDPOINT_URL = process.env.AWS_ENDPOINT_URL_S3 = proxy.endpoint;
  const outcomes: string[] = [];
  try {
    await using(url, project, false, async (repository) => {
      const experiment = await (await repository.experiments.list())[0]!.load();
      for (const checkpoint of experiment.checkpoints) {
        for (const file of ["weights.bin", "config.json"]) {
          // Whatever happens, it happens promptly: a dropped connection must never leave a read waiting.
          let timer: NodeJS.Timeout | undefined;
          const hung = new Promise<string>((resolve) => (timer = setTimeout(() => resolve("hung"), 20_000)));
          const first = await Promise.race([
            checkpoint.read(file).then(
              () => "read",
              (error: unknown) => (error instanceof CairnError && /objects\/[0-9a-f]{2}\/[0-9a-f]{64}/.test(error.message) ? "clean error" : `other error: ${String(error)}`),
            ),
            hung,
          ]);
          clearTimeout(timer);
          outcomes.push(first);
          // The retry reads the whole file, right.
          if (first !== "hung") expect((await checkpoint.read(file)).length).toBeGreaterThan(0);
        }
      }
    });
  } finally {
    [process.env.CAIRN_CACHE_DIR, process.env.AWS_ENDPOINT_URL, process.env.AWS_ENDPOINT_URL_S3] = previous;
    proxy.setPlan(() => ({ kind: "pass" }));
  }
  console.log(`cut reads: ${outcomes.filter((o) => o === "clean error").length} clean errors, ${outcomes.filter((o) => o === "read").length} read anyway (the SDK retried)`);
  expect(outcomes.filter((o) => o !== "clean error" && o !== "read")).toEqual([]);
}, 600_000);

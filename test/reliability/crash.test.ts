/**
 * Crashes: the training script killed at random moments, many times, on a local and on an S3
 * repository. After every kill: the repository reads, every visible checkpoint has all its
 * files with the right bytes, and after recovery (`cairn push`, or the next process that opens
 * the repository) every checkpoint whose checkpoint() had returned is there. SIGTERM and Ctrl-C
 * (SIGINT) leave the experiment stopped; SIGKILL leaves it crashed once its heartbeat is stale,
 * as another process sees it.
 *
 * RELIABILITY_RUNS is the number of SIGKILL runs, split evenly between the two kinds (200 by
 * default: 100 local, 100 S3; RELIABILITY_RUNS=400 gives 200 of each); RELIABILITY_LANES how
 * many run at once (4); RELIABILITY_SEED replays a sequence of delays (printed with the figures).
 */
import * as fs from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { verifyRepository } from "../../src/repository/verify.js";
import { runCli, waitFor } from "../helpers/project.js";
import { killOnce, type KillTime, type LaneOptions, type RunFacts } from "./support/crash-lane.js";
import { localKind, makeTrainingProject, s3Kind, scratchFolder, useKindInThisProcess, type RepositoryKind } from "./support/kinds.js";
import { parseOutput, random, startTraining, trainingSource } from "./support/training.js";
import { startFaultProxy } from "./fault-proxy.js";
import { testServers } from "../servers/context.js";
import { using } from "./support/crash-lane.js";

const RUNS = Number(process.env.RELIABILITY_RUNS ?? 200);
const RUNS_PER_KIND = Math.ceil(RUNS / 2);
const SIGNAL_RUNS = Math.max(4, Math.round(RUNS / 40));
const LANES = Number(process.env.RELIABILITY_LANES ?? 4);
const SEED = Number(process.env.RELIABILITY_SEED ?? Math.floor(Math.random() * 2 ** 31));
const STEPS = 4;
const MAX_KIB = 2048;
/** Three missed beats at 0.2 s plus the 5 s slack readers allow (src/repository/status.ts). */
const STALE_AFTER_MS = 3 * 200 + 5_000;

let scratch: string;
beforeAll(async () => {
  scratch = await scratchFolder("crash");
});
afterAll(async () => {
  await fs.rm(scratch, { recursive: true, force: true });
});

/** How long an undisturbed run takes here and now: to init()'s return, and from it to the end. */
interface Spans {
  startupMs: number;
  trainingMs: number;
}

async function measureSpans(kind: RepositoryKind, url: string): Promise<Spans> {
  const project = await makeTrainingProject(scratch, url);
  const spans: Spans = { startupMs: 0, trainingMs: 0 };
  for (let i = 0; i < 2; i++) {
    const started = Date.now();
    let initialized = 0;
    const run = startTraining(project, trainingSource({ seed: `calibration-${i}`, steps: STEPS, maxKiB: MAX_KIB }), kind.env());
    run.child.stdout!.on("data", () => {
      if (!initialized && parseOutput(run.stdout()).experimentId) initialized = Date.now();
    });
    const result = await run.done;
    expect(parseOutput(result.stdout).stopped, result.stderr).toBe(true);
    spans.startupMs = Math.max(spans.startupMs, initialized - started);
    spans.trainingMs = Math.max(spans.trainingMs, Date.now() - initialized);
  }
  return spans;
}

/** One kill in ten lands during start-up and init(); the rest in the training loop or stop(). */
function killTime(rng: () => number, spans: Spans): KillTime {
  if (rng() < 0.1) return { after: "start", delayMs: Math.round(rng() * spans.startupMs) };
  return { after: "init", delayMs: Math.round(rng() * spans.trainingMs * 1.2) };
}

function summarize(kind: string, facts: RunFacts[], spans: Spans): string {
  const moments = new Map<string, number>();
  for (const f of facts) moments.set(f.moment, (moments.get(f.moment) ?? 0) + 1);
  const returned = facts.reduce((n, f) => n + f.output.returned.length, 0);
  const unpublishedAtKill = facts.reduce((n, f) => n + Math.max(0, f.visibleAfterRecovery - f.visibleBeforeRecovery), 0);
  const files = facts.reduce((n, f) => n + f.filesVerified, 0);
  const recovered = facts.filter((f) => f.recoveredBy !== "nothing to recover");
  return [
    `crash figures (${kind}, seed ${SEED}): ${facts.length} runs killed by ${[...new Set(facts.map((f) => f.signal))].join("/")}, undisturbed run: init() returns after ${spans.startupMs} ms, then ${spans.trainingMs} ms to the end`,
    `  kill moments: ${[...moments].map(([m, n]) => `${m} ${n}`).join(", ")}`,
    `  checkpoints returned before the kill: ${returned}, all present after recovery; ${unpublishedAtKill} were still on local disk only at the kill`,
    `  recoveries: ${recovered.filter((f) => f.recoveredBy === "cairn push").length} by cairn push, ${recovered.filter((f) => f.recoveredBy === "cairn push killed, then cairn push").length} by a cairn push killed halfway then another, ${recovered.filter((f) => f.recoveredBy === "next open").length} by the next open; files read back and verified: ${files}`,
  ].join("\n");
}

for (const kindName of ["local", "s3"] as const) {
  describe(`crashes on a ${kindName} repository`, () => {
    let kind: RepositoryKind;
    beforeAll(() => {
      kind = kindName === "local" ? localKind : s3Kind();
      useKindInThisProcess(kind, `${scratch}/cache-${kindName}`);
    });

    test(`${RUNS_PER_KIND} SIGKILLs at random moments lose nothing that checkpoint() returned`, async () => {
      const rng = random(SEED);
      const spans = await measureSpans(kind, kind.newUrl(scratch));
      const lanes: LaneOptions[] = [];
      for (let i = 0; i < LANES; i++) {
        const url = kind.newUrl(scratch);
        lanes.push({ kind, url, project: await makeTrainingProject(scratch, url), steps: STEPS, maxKiB: MAX_KIB, pushEvery: 4 });
      }
      const facts: RunFacts[] = [];
      let next = 0;
      let lastKill = Date.now();
      await Promise.all(
        lanes.map(async (lane, laneIndex) => {
          for (let index = next++; index < RUNS_PER_KIND; index = next++) {
            facts.push(await killOnce(lane, `${kindName}-${laneIndex}-${index}`, "SIGKILL", killTime(rng, spans), index));
            lastKill = Date.now();
          }
        }),
      );
      expect(facts).toHaveLength(RUNS_PER_KIND);
      console.log(summarize(kindName, facts, spans));

      // Crashed, once the heartbeat is stale, as another process (the CLI) sees it; and each
      // lane's repository passes `cairn verify`'s full check.
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, lastKill + STALE_AFTER_MS + 500 - Date.now())));
      const statusBySeed = new Map<string, string>();
      for (const lane of lanes) {
        const listing = await runCli(lane.project, ["ls", "--json"], kind.env());
        expect(listing.code, listing.stderr).toBe(0);
        for (const e of JSON.parse(listing.stdout) as { params: { seed: string }; status: string }[]) statusBySeed.set(e.params.seed, e.status);
        const storage = await kind.storage(lane.url);
        const report = await verifyRepository(storage);
        await storage.close?.();
        expect(report.problems).toEqual([]);
      }
      for (const f of facts) {
        const status = statusBySeed.get(f.seed);
        if (f.output.stopped) expect(status, f.seed).toBe("stopped");
        else if (f.output.stopping) expect(["stopped", "crashed"], f.seed).toContain(status);
        else if (f.output.experimentId !== null) expect(status, f.seed).toBe("crashed");
      }
    }, 20 * 60_000);

    test(`SIGTERM and Ctrl-C (SIGINT) at random moments leave the experiment stopped`, async () => {
      const rng = random(SEED + 1);
      const url = kind.newUrl(scratch);
      const spans = await measureSpans(kind, url);
      const lane: LaneOptions = { kind, url, project: await makeTrainingProject(scratch, url), steps: STEPS, maxKiB: MAX_KIB, pushEvery: 2 };
      const facts: RunFacts[] = [];
      for (let i = 0; i < SIGNAL_RUNS * 2; i++) {
        const signal = i % 2 === 0 ? "SIGTERM" : "SIGINT";
        facts.push(await killOnce(lane, `${kindName}-signal-${i}`, signal, killTime(rng, spans), i));
      }
      console.log(summarize(`${kindName}, signals`, facts, spans));
      // Checked from another process too: none of them is running or crashed.
      const listing = await runCli(lane.project, ["ls", "--json"], kind.env());
      const statuses = (JSON.parse(listing.stdout) as { status: string }[]).map((e) => e.status);
      expect(new Set(statuses)).toEqual(new Set(statuses.length ? ["stopped"] : []));
    }, 10 * 60_000);

    test("a killed experiment shows running while its heartbeat is fresh, then crashed, to another process", async () => {
      const url = kind.newUrl(scratch);
      const project = await makeTrainingProject(scratch, url);
      const run = startTraining(project, trainingSource({ seed: "long", steps: 1000, maxKiB: 64, pauseMs: 50 }), kind.env());
      await waitFor(() => parseOutput(run.stdout()).returned.length >= 2, 30_000, "two checkpoints");
      const ps = await runCli(project, ["ps", "--json"], kind.env());
      expect((JSON.parse(ps.stdout) as { status: string }[]).map((e) => e.status)).toEqual(["running"]);
      run.child.kill("SIGKILL");
      await run.done;
      await waitFor(
        async () => {
          const ls = await runCli(project, ["ls", "--json"], kind.env());
          return (JSON.parse(ls.stdout) as { status: string }[])[0]?.status === "crashed";
        },
        30_000,
        "crashed status",
      );
    }, 120_000);
  });
}

describe("signals while init() is still publishing", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    test(`${signal} while the first record is on its way leaves the experiment stopped`, async () => {
      // The first record takes 1.5 s to reach the server; the signal comes while init() waits for it.
      const proxy = await startFaultProxy(testServers().s3.endpoint, () => ({ kind: "pass" }));
      const kind = s3Kind(proxy.endpoint);
      useKindInThisProcess(s3Kind(), `${scratch}/cache-init-signal`);
      const url = kind.newUrl(scratch);
      const project = await makeTrainingProject(scratch, url);
      let run: ReturnType<typeof startTraining> | null = null;
      let signalled = false;
      proxy.setPlan((request) => {
        if (request.method === "PUT" && request.url.includes("/experiments/") && !signalled) {
          signalled = true;
          setTimeout(() => run!.child.kill(signal), 100);
          return { kind: "delay", ms: 1_500 };
        }
        return { kind: "pass" };
      });
      try {
        run = startTraining(project, trainingSource({ seed: "init-signal", steps: 3, maxKiB: 64 }), kind.env());
        const result = await run.done;
        expect(signalled).toBe(true);
        expect(result.signal).toBe(signal);
        const push = await runCli(project, ["push"], kind.env());
        expect(push.code, push.stderr).toBe(0);
        await using(url, project, false, async (repository) => {
          const list = await repository.experiments.list();
          expect(list.map((e) => e.status)).toEqual(["stopped"]);
        });
      } finally {
        await proxy.close();
      }
    }, 60_000);
  }
});

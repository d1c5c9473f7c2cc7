/**
 * Concurrency: 16 processes record experiments into one S3 repository at once (50 checkpoints
 * each), while another process, on "another machine" (its own cache folder, so it cannot see
 * the writers' spools), runs `cairn ls`, `cairn rm` on other experiments and `cairn gc`, with
 * the default grace period and with none at all. All 800 checkpoints must arrive with the right
 * bytes, and gc must delete nothing a live writer needs.
 */
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { verifyRepository } from "../../src/repository/verify.js";
import { makeProject, runCli, startScript } from "../helpers/project.js";
import { using } from "./support/crash-lane.js";
import { checkEveryVisibleCheckpoint } from "./support/checks.js";
import { makeTrainingProject, s3Kind, scratchFolder, useKindInThisProcess, type RepositoryKind } from "./support/kinds.js";
import { parseOutput, startTraining, trainingSource } from "./support/training.js";

const WRITERS = 16;
const CHECKPOINTS = 50;
const OTHERS = 6;
const MAX_KIB = 48;

let scratch: string;
let kind: RepositoryKind;
beforeAll(async () => {
  scratch = await scratchFolder("concurrency");
  kind = s3Kind();
  // This process plays the other machine: its own cache folder, so it cannot see the writers' spools.
  useKindInThisProcess(kind, path.join(scratch, "cache-admin"));
});
afterAll(async () => {
  await fs.rm(scratch, { recursive: true, force: true });
});

test(`${WRITERS} writers × ${CHECKPOINTS} checkpoints into one S3 repository, while ls, rm and gc run from another machine`, async () => {
  const url = kind.newUrl(scratch);
  const admin = await makeTrainingProject(scratch, url, "admin");
  const adminEnv = { ...kind.env(), CAIRN_CACHE_DIR: path.join(scratch, "cache-admin") };
  const writerEnv = { ...kind.env(), CAIRN_CACHE_DIR: path.join(scratch, "cache-writers") };

  // Other experiments, stopped, sharing contents with the writers to come: rm and gc fodder.
  const others: string[] = [];
  for (let i = 0; i < OTHERS; i++) {
    const result = await startTraining(admin, trainingSource({ seed: `other-${i}`, steps: 2, maxKiB: MAX_KIB, metricsBetween: false }), writerEnv).done;
    expect(result.code, result.stderr).toBe(0);
    others.push(parseOutput(result.stdout).experimentId!);
  }

  const writers = await Promise.all(
    Array.from({ length: WRITERS }, async (_, i) => {
      const project = await makeTrainingProject(scratch, url, `writer-${i}`);
      return startTraining(project, trainingSource({ seed: `writer-${i}`, steps: CHECKPOINTS, maxKiB: MAX_KIB, metricsBetween: false }), writerEnv);
    }),
  );
  let running = WRITERS;
  for (const writer of writers) void writer.done.then(() => (running -= 1));
  // Every case stops by itself.
  const watchdog = setTimeout(() => writers.forEach((w) => w.child.kill("SIGKILL")), 8 * 60_000);

  // The other machine: the CLI runs ls, rm one of the others, and gc (default grace, then none)
  // in turn; meanwhile gc with no grace at all runs back to back through the API.
  const removedByGc = new Set<string>();
  const churn = { ls: 0, rm: 0, gc: 0, cliGc: 0, gcNoGrace: 0 };
  const cli = (async () => {
    while (running > 0) {
      const ls = await runCli(admin, ["ls", "--json"], adminEnv);
      expect(ls.code, ls.stderr).toBe(0);
      expect(ls.stderr).not.toMatch(/could not be read/);
      churn.ls += 1;
      const victims = others.slice(churn.rm, churn.rm + 3);
      if (victims.length > 0) {
        const rm = await runCli(admin, ["rm", "-f", ...victims], adminEnv);
        expect(rm.code, rm.stderr).toBe(0);
        churn.rm += victims.length;
      }
      const noGrace = churn.cliGc % 2 === 1;
      const gc = await runCli(admin, ["gc", "--json", ...(noGrace ? ["--grace", "0"] : [])], adminEnv);
      expect(gc.code, gc.stderr).toBe(0);
      for (const key of (JSON.parse(gc.stdout) as { removed: string[] }).removed) removedByGc.add(key);
      churn.gc += 1;
      churn.cliGc += 1;
      if (noGrace) churn.gcNoGrace += 1;
    }
  })();
  const api = using(url, admin, false, async (repository) => {
    while (running > 0) {
      for (const key of (await repository.gc({ gracePeriodMs: 0 })).removed) removedByGc.add(key);
      churn.gc += 1;
      churn.gcNoGrace += 1;
    }
  });
  await Promise.all([cli, api]);
  clearTimeout(watchdog);

  const results = await Promise.all(writers.map((w) => w.done));
  for (const result of results) expect(result.code, result.stderr).toBe(0);
  const outputs = results.map((r) => parseOutput(r.stdout));

  // All 800 checkpoints, each file with the right bytes, read straight from the bucket.
  const counts = await using(url, admin, false, async (repository) => {
    const list = await repository.experiments.list();
    const writerIds = new Set(outputs.map((o) => o.experimentId));
    for (const output of outputs) {
      const experiment = list.find((e) => e.id === output.experimentId);
      expect(experiment?.status).toBe("stopped");
      expect(experiment?.checkpointCount).toBe(output.returned.length);
      expect((await experiment!.load()).checkpoints.map((c) => c.id)).toEqual(output.returned.map((c) => c.id));
    }
    // The removed others are gone; the rest are intact.
    expect(list.filter((e) => !writerIds.has(e.id)).map((e) => e.id).sort()).toEqual(others.slice(churn.rm).sort());
    return checkEveryVisibleCheckpoint(repository, MAX_KIB).catch((error: unknown) => {
      // Say whether gc deleted a missing object, or it went missing some other way.
      const key = /objects\/[0-9a-f]{2}\/[0-9a-f]{64}/.exec(String(error))?.[0];
      if (key !== undefined) (error as Error).message += ` (${removedByGc.has(key) ? "deleted by gc" : "not among the keys gc deleted"})`;
      throw error;
    });
  });
  expect(counts.checkpoints).toBe(WRITERS * CHECKPOINTS + 2 * (OTHERS - churn.rm));
  const storage = await kind.storage(url);
  const report = await verifyRepository(storage);
  await storage.close?.();
  expect(report.problems).toEqual([]);
  console.log(
    `concurrency figures: ${WRITERS} writers, ${counts.checkpoints} checkpoints and ${counts.files} files verified; ` +
      `meanwhile ${churn.ls} ls, ${churn.rm} rm, ${churn.gc} gc (${churn.cliGc} by the CLI; ${churn.gcNoGrace} with no grace period) deleting ${removedByGc.size} keys`,
  );
}, 15 * 60_000);

test("writers starting while other processes open the same repository (and so recover its spools) keep their spools", async () => {
  // Every open publishes the spools of dead writers. A spool seen before its owner was recorded
  // looked dead, and was deleted under the live writer that was creating it.
  const dir = await makeProject({ "code/train.mjs": "// train\n" });
  const stop = path.join(dir, "stop");
  const opener = `
    const fs = await import("node:fs");
    cairn.setDiagnosticSink(() => {});
    let opens = 0;
    while (!fs.existsSync(${JSON.stringify(stop)})) { await cairn.openRepository(".cairn"); opens++; }
    console.log(opens);
  `;
  const writer = `
    const repository = await cairn.openRepository(".cairn", { recover: false });
    const failures = [];
    for (let i = 0; i < 60; i++) {
      try {
        const run = await repository.init({ path: "code" });
        await run.checkpoint({ metrics: { i } });
        await run.stop();
      } catch (error) {
        failures.push(String(error).split("\\n")[0]);
      }
    }
    console.log(JSON.stringify(failures));
  `;
  const openers = [startScript(dir, opener), startScript(dir, opener)];
  const written = await startScript(dir, writer).done;
  await fs.writeFile(stop, "");
  const opens = (await Promise.all(openers.map((o) => o.done))).map((r) => Number(r.stdout.trim()));
  expect(written.code, written.stderr).toBe(0);
  expect(JSON.parse(written.stdout)).toEqual([]);
  expect(opens.every((n) => n > 0)).toBe(true);
  const experiments = await fs.readdir(path.join(dir, ".cairn", "experiments"));
  expect(experiments).toHaveLength(60);
  console.log(`spool race: 60 writers started while ${opens.join(" + ")} opens recovered spools; none lost`);
  await fs.rm(dir, { recursive: true, force: true });
}, 180_000);

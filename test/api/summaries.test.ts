/**
 * Listings read each experiment's summary (`summaries/<id>.json`, written after the record), not
 * the record with every checkpoint: what keeps `cairn ls` of 10,000 experiments under a second.
 * These tests pin what a summary holds, that listings agree with the records, and every way a
 * summary can be missing or damaged (a summary older than its record, which only a remote
 * listing can tell, is in test/storage/remote-behaviour.test.ts).
 */
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CairnError, openRepository, type Repository } from "../../src/index.js";
import { cairn, parseJson } from "../helpers/cli.js";
import { makeProject, waitFor } from "../helpers/project.js";
import { forgetSummary } from "../helpers/record.js";

const projects: string[] = [];
afterEach(async () => {
  for (const dir of projects.splice(0)) await fs.rm(dir, { recursive: true, force: true });
});

async function setup(): Promise<{ dir: string; root: string; repository: Repository }> {
  const dir = await makeProject({ "train.py": "x = 1\n" });
  projects.push(dir);
  const root = path.join(dir, ".cairn");
  return { dir, root, repository: await openRepository(root, { projectDirectory: dir }) };
}

/** Records an experiment whose losses are given; each checkpoint saves model.pth = "loss <value>". */
async function record(dir: string, repository: Repository, params: unknown, losses: number[]): Promise<string> {
  const run = await repository.init({ params });
  for (const loss of losses) {
    await fs.writeFile(path.join(dir, "model.pth"), `loss ${loss}`);
    await run.checkpoint({ path: "model.pth", metrics: { loss, accuracy: 1 - loss }, primaryMetric: ["loss", "minimize"] });
  }
  await run.stop();
  return run.id;
}

async function readJson(file: string): Promise<Record<string, unknown>> {
  return JSON.parse(await fs.readFile(file, "utf8")) as Record<string, unknown>;
}

describe("experiment summaries", () => {
  it("are written beside the record: everything but the checkpoint list, with count, best and latest", async () => {
    const { dir, root, repository } = await setup();
    const id = await record(dir, repository, { lr: 0.1 }, [0.5, 0.2, 0.3]);
    const recordJson = await readJson(path.join(root, "experiments", `${id}.json`));
    const summary = await readJson(path.join(root, "summaries", `${id}.json`));
    const checkpoints = recordJson.checkpoints as { id: string }[];
    const { checkpoints: _all, ...rest } = recordJson;
    expect(summary).toMatchObject(rest);
    expect(summary).not.toHaveProperty("checkpoints");
    expect(summary.checkpointCount).toBe(3);
    expect(summary.primaryMetric).toEqual({ name: "loss", goal: "minimize" });
    expect(summary.best).toEqual({ index: 1, checkpoint: checkpoints[1] });
    expect(summary.latest).toEqual(checkpoints[2]);
  });

  it("back experiments.list(): best, latest and counts at hand, every checkpoint after load()", async () => {
    const { dir, repository } = await setup();
    const id = await record(dir, repository, { lr: 0.1 }, [0.5, 0.2, 0.3]);
    const [listed] = await repository.experiments.list();
    expect(listed!.id).toBe(id);
    expect(listed!.loaded).toBe(false);
    expect(listed!.checkpointCount).toBe(3);
    expect(listed!.best()!.metrics.loss).toBe(0.2);
    expect(listed!.latest()!.step).toBe(2);
    // The listed best checkpoint is a real one: its files read back.
    expect((await listed!.best()!.read("model.pth")).toString()).toBe("loss 0.2");
    const error = (() => {
      try {
        return listed!.checkpoints;
      } catch (e) {
        return e;
      }
    })() as CairnError;
    expect(error).toBeInstanceOf(CairnError);
    expect(error.code).toBe("NOT_LOADED");
    expect(error.message).toMatch(/await experiment\.load\(\)/);
    expect(listed!.toJSON()).not.toHaveProperty("checkpoints");
    expect(listed!.toJSON()).toMatchObject({ checkpointCount: 3 });

    const full = await listed!.load();
    expect(full.loaded).toBe(true);
    expect(full.checkpoints.map((c) => c.metrics.loss)).toEqual([0.5, 0.2, 0.3]);
    expect(full.best()!.id).toBe(listed!.best()!.id);
    expect(await full.load()).toBe(full);
    expect((await repository.experiments.get(id.slice(0, 7))).checkpoints).toHaveLength(3);
  });

  it("give the same listing as the records do (a repository written before summaries existed)", async () => {
    const { dir, root, repository } = await setup();
    const ids = [
      await record(dir, repository, { lr: 0.1, layers: 2 }, [0.5, 0.4]),
      await record(dir, repository, { lr: 0.01, layers: 2 }, [0.3, Number.NaN, 0.35]),
      await record(dir, repository, { lr: 0.001, layers: 3 }, []),
    ];
    const args = ["ls", "--json", "--sort", "metrics.loss:asc"];
    const withSummaries = await cairn(dir, args);
    const filtered = await cairn(dir, ["ls", "-q", "--filter", "metrics.accuracy > 0.6"]);
    for (const id of ids) await forgetSummary(root, id);
    const fromRecords = await cairn(dir, args);
    expect(fromRecords.code).toBe(0);
    expect(parseJson(withSummaries)).toEqual(parseJson(fromRecords));
    expect((await cairn(dir, ["ls", "-q", "--filter", "metrics.accuracy > 0.6"])).stdout).toBe(filtered.stdout);
    expect(filtered.stdout.trim().split("\n")).toEqual([ids[1]]);
  });

  it("are what a listing reads: a record damaged behind an intact, newer summary is listed, and `show` names the damage", async () => {
    const { dir, root, repository } = await setup();
    const id = await record(dir, repository, { lr: 0.1 }, [0.5]);
    const recordFile = path.join(root, "experiments", `${id}.json`);
    const summaryFile = path.join(root, "summaries", `${id}.json`);
    await fs.writeFile(recordFile, "not json");
    // Make the summary the newer of the two, as after a normal write.
    const past = new Date(Date.now() - 60_000);
    await fs.utimes(recordFile, past, past);
    const listing = await cairn(dir, ["ls", "-q"]);
    expect(listing.code).toBe(0);
    expect(listing.stdout.trim()).toBe(id);
    expect(listing.stderr).toBe("");
    const show = await cairn(dir, ["show", id.slice(0, 7)]);
    expect(show.code).not.toBe(0);
    expect(show.stderr).toContain(`experiments/${id}.json is corrupt`);
    expect(await fs.stat(summaryFile)).toBeTruthy();
  });

  it("that are damaged fall back to the record, silently and correctly", async () => {
    const { dir, root, repository } = await setup();
    const id = await record(dir, repository, { lr: 0.1 }, [0.5, 0.4]);
    for (const damage of ["{ torn", JSON.stringify({ format: 1, id, checkpointCount: "many" }), JSON.stringify({ format: 1, id: "f".repeat(32) })]) {
      await fs.writeFile(path.join(root, "summaries", `${id}.json`), damage);
      const list = await repository.experiments.list();
      expect(list.problems).toEqual([]);
      expect(list.map((e) => [e.id, e.checkpointCount, e.best()?.metrics.loss])).toEqual([[id, 2, 0.4]]);
    }
  });

  it("are kept for the next process as the listing checked them, whether or not written as Cairn writes them", async () => {
    const { dir, root, repository } = await setup();
    const plain = await record(dir, repository, { lr: 0.1 }, [0.5, 0.4]);
    const odd = await record(dir, repository, { lr: 0.2 }, [0.3]);
    // As another writer might: keys in another order, one more at each level, and `params` and
    // `updated` left out, which readers take as null and as `created`: so this experiment, not
    // stopped and without a heartbeat, is running for an hour after it started.
    const file = path.join(root, "summaries", `${odd}.json`);
    const { updated: _updated, params: _params, latest, ...rest } = await readJson(file);
    const written = { note: "extra", latest: { ...(latest as object), extra: 1 }, ...rest, created: new Date().toISOString(), stopped: null, heartbeatIntervalMs: 3_600_000 };
    await fs.writeFile(file, JSON.stringify(written));
    await fs.rm(path.join(root, "heartbeats", odd), { force: true });
    await fs.rm(path.join(root, "local", "records"), { recursive: true, force: true });

    const fresh = (await (await openRepository(root, { projectDirectory: dir })).experiments.list()).map((e) => e.toJSON());
    // A new Repository reads what the first one kept (local/records/) instead of the summaries.
    const kept = (await (await openRepository(root, { projectDirectory: dir })).experiments.list()).map((e) => e.toJSON());
    expect(kept.map((e) => e.id).sort()).toEqual([plain, odd].sort());
    expect(JSON.stringify(kept)).toBe(JSON.stringify(fresh));
    expect(kept.find((e) => e.id === odd)).toMatchObject({ params: null, status: "running" });
  });

  it("are kept one per line, whatever their layout, and a damaged copy kept is only read again", async () => {
    const { dir, root, repository } = await setup();
    const plain = await record(dir, repository, { lr: 0.1 }, [0.5, 0.4]);
    const pretty = await record(dir, repository, { lr: 0.2 }, [0.3]);
    // Another writer's layout: the same summary across lines, which parses exactly as Cairn's does.
    const prettyFile = path.join(root, "summaries", `${pretty}.json`);
    await fs.writeFile(prettyFile, JSON.stringify(await readJson(prettyFile), null, 2));
    await fs.rm(path.join(root, "local", "records"), { recursive: true, force: true });
    const listed = JSON.stringify((await (await openRepository(root, { projectDirectory: dir })).experiments.list()).map((e) => e.toJSON()));

    const keptFile = path.join(root, "local", "records", "summaries.json");
    const lines = (await fs.readFile(keptFile, "utf8")).split("\n");
    expect(lines).toHaveLength(4); // the head, two entries, and the empty string after the last newline
    expect(lines.slice(1, 3).map((line) => line.split("\t")[0]).sort()).toEqual([`summaries/${plain}.json`, `summaries/${pretty}.json`].sort());
    // The next process lists from the kept copy what was listed from the summaries, and the
    // same again once the kept copy is torn in a line, or is not Cairn's at all.
    const again = async (): Promise<string> => JSON.stringify((await (await openRepository(root, { projectDirectory: dir })).experiments.list()).map((e) => e.toJSON()));
    expect(await again()).toBe(listed);
    const kept = await fs.readFile(keptFile, "utf8");
    await fs.writeFile(keptFile, kept.slice(0, kept.indexOf(plain) + 40));
    expect(await again()).toBe(listed);
    await fs.writeFile(keptFile, "not what Cairn keeps");
    expect(await again()).toBe(listed);
  });

  it("go with their experiment on rm, and a summary without its record is not listed", async () => {
    const { dir, root, repository } = await setup();
    const keep = await record(dir, repository, { keep: true }, [0.5]);
    const drop = await record(dir, repository, { keep: false }, [0.4]);
    await repository.remove([drop]);
    await expect(fs.stat(path.join(root, "summaries", `${drop}.json`))).rejects.toThrow();
    // A summary left behind (say, by another tool) names no experiment.
    await fs.copyFile(path.join(root, "summaries", `${keep}.json`), path.join(root, "summaries", `${"e".repeat(32)}.json`));
    expect((await repository.experiments.list()).map((e) => e.id)).toEqual([keep]);
  });

  it("of a large repository are read in bulk on two threads, and each damaged or missing one still falls back to its record", async () => {
    const { dir, root, repository } = await setup();
    const template = await record(dir, repository, { lr: 0.1 }, [0.5, 0.4]);
    // Past the 1,024 files from which a local folder's first listing reads summaries on a worker
    // thread (src/storage/bulk-read.ts): copies of the template's record and summary, as the
    // writer lays them out, each with its own ID, start time and params.
    const recordText = await fs.readFile(path.join(root, "experiments", `${template}.json`), "utf8");
    const summaryText = await fs.readFile(path.join(root, "summaries", `${template}.json`), "utf8");
    const ids: string[] = [];
    for (let i = 0; i < 1_200; i++) {
      const id = `e${i.toString(16).padStart(31, "0")}`;
      const created = new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString();
      const rewrite = (text: string): string => text.replaceAll(template, id).replace(/"created":"[^"]+"/, `"created":"${created}"`).replace('"lr":0.1', `"lr":${i}`);
      await fs.writeFile(path.join(root, "experiments", `${id}.json`), rewrite(recordText));
      await fs.writeFile(path.join(root, "summaries", `${id}.json`), rewrite(summaryText));
      ids.push(id);
    }
    // Damage spread over batches (256 summaries each): torn, wrong ID, missing, and a folder.
    await fs.writeFile(path.join(root, "summaries", `${ids[3]}.json`), "{ torn");
    await fs.writeFile(path.join(root, "summaries", `${ids[700]}.json`), summaryText.replaceAll(template, "f".repeat(32)));
    await fs.rm(path.join(root, "summaries", `${ids[900]}.json`));
    await fs.rm(path.join(root, "summaries", `${ids[1_100]}.json`));
    await fs.mkdir(path.join(root, "summaries", `${ids[1_100]}.json`));

    const fresh = await openRepository(root, { projectDirectory: dir });
    const listed = await fresh.experiments.list();
    expect(listed.problems).toEqual([]);
    expect(listed.map((e) => e.id)).toEqual([template, ...[...ids].reverse()]);
    for (const index of [0, 3, 255, 256, 700, 900, 1_100, 1_199]) {
      const experiment = listed.find((e) => e.id === ids[index])!;
      expect([experiment.params, experiment.checkpointCount, experiment.best()?.metrics.loss]).toEqual([{ lr: index }, 2, 0.4]);
    }
    // What the bulk read kept (local/records/) gives the next process the same listing.
    const kept = await (await openRepository(root, { projectDirectory: dir })).experiments.list();
    expect(JSON.stringify(kept.map((e) => e.toJSON()))).toBe(JSON.stringify(listed.map((e) => e.toJSON())));
    // And the CLI, whose bundle starts the worker from its own file.
    await fs.rm(path.join(root, "local", "records"), { recursive: true, force: true });
    const json = await cairn(dir, ["ls", "--json"]);
    expect(json.code).toBe(0);
    expect(parseJson<{ id: string }[]>(json).map((e) => e.id)).toEqual(listed.map((e) => e.id));
  });

  it("are checked by `cairn verify`: a damaged or disagreeing summary is named, and deleting it is the fix", async () => {
    const { dir, root, repository } = await setup();
    const id = await record(dir, repository, { lr: 0.1 }, [0.5, 0.4]);
    const summaryFile = path.join(root, "summaries", `${id}.json`);
    expect((await cairn(dir, ["verify", "--json"])).code).toBe(0);
    const summary = await readJson(summaryFile);
    await fs.writeFile(summaryFile, JSON.stringify({ ...summary, checkpointCount: 7, latest: { ...(summary.latest as object), step: 6 } }));
    const disagreeing = await cairn(dir, ["verify"]);
    expect(disagreeing.code).not.toBe(0);
    expect(disagreeing.stdout + disagreeing.stderr).toMatch(new RegExp(`summaries/${id}\\.json disagrees with its record \\(7 checkpoints listed, 2 recorded\\)`));
    await fs.writeFile(summaryFile, "{ torn");
    const torn = await cairn(dir, ["verify"]);
    expect(torn.stdout + torn.stderr).toMatch(new RegExp(`summaries/${id}\\.json is corrupt`));
    await fs.rm(summaryFile);
    expect((await cairn(dir, ["verify"])).code).toBe(0);
  });

  it("are not reported by `cairn verify` while a writer's last summary is on its way (the record is put first); one left behind for good is", async () => {
    // A writer's last publish puts the stopped record, then its summary: a verify in between
    // saw a summary many checkpoints behind a stopped record, and reported it (network-faults, CI).
    const { dir, root, repository } = await setup();
    const run = await repository.init({ params: { lr: 0.1 } });
    const summaryFile = path.join(root, "summaries", `${run.id}.json`);
    const id = run.id;
    let behind = "";
    for (const loss of [0.5, 0.4, 0.3]) {
      await fs.writeFile(path.join(dir, "model.pth"), `loss ${loss}`);
      await run.checkpoint({ path: "model.pth", metrics: { loss }, primaryMetric: ["loss", "minimize"] });
      // The summary of the first checkpoint's publish: what a reader sees behind the final record.
      if (behind === "") {
        await waitFor(async () => ((await readJson(summaryFile).catch(() => ({}))) as { checkpointCount?: number }).checkpointCount === 1, 20_000, "the first summary");
        behind = await fs.readFile(summaryFile, "utf8");
      }
    }
    await run.stop();
    const final = await fs.readFile(summaryFile, "utf8");
    await fs.writeFile(summaryFile, behind);
    const verifying = cairn(dir, ["verify", "--json"]);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await fs.writeFile(`${summaryFile}.new`, final);
    await fs.rename(`${summaryFile}.new`, summaryFile); // as the writer puts it
    const caughtUp = await verifying;
    expect(caughtUp.code, caughtUp.stdout).toBe(0);

    await fs.writeFile(summaryFile, behind);
    const leftBehind = await cairn(dir, ["verify"]);
    expect(leftBehind.code).not.toBe(0);
    expect(leftBehind.stdout + leftBehind.stderr).toMatch(new RegExp(`summaries/${id}\\.json disagrees with its record \\(1 checkpoints listed, 3 recorded\\)`));
  });
});

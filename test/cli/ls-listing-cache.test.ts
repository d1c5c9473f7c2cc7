/**
 * `cairn ls` of a local repository keeps what it read in `local/records/summaries.json`, and
 * trusts it whole, without looking at each summary, while the folders `experiments/` and
 * `summaries/` have had nothing added, replaced or removed since (their change times, compared
 * with the file system's own clock: src/storage/folder-version.ts). These tests change a
 * repository between two listings in every way a writer does, at once and after the cache has
 * settled, and check that the listing is right every time.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openRepository } from "../../src/index.js";
import { encodeSummary } from "../../src/repository/summary.js";
import type { ExperimentRecord } from "../../src/repository/types.js";
import { cairn, parseJson } from "../helpers/cli.js";
import { makeProject } from "../helpers/project.js";
import { recordExperiment } from "../helpers/record.js";

const projects: string[] = [];
afterAll(async () => {
  for (const dir of projects) await fs.rm(dir, { recursive: true, force: true });
});

/** A project with one stopped experiment recorded through the API. */
async function setup(): Promise<{ dir: string; root: string; first: string }> {
  const dir = await makeProject({ "train.py": "print(1)\n" });
  projects.push(dir);
  const { id } = await recordExperiment(dir, { params: { lr: 0.1 }, checkpoints: [{ metrics: { loss: 0.5 } }] });
  return { dir, root: path.join(dir, ".cairn"), first: id };
}

/** Writes a file the way Cairn's writers do: a temporary file renamed into place. */
async function replace(file: string, contents: string): Promise<void> {
  const temporary = `${file}.tmp-${randomBytes(4).toString("hex")}`;
  await fs.writeFile(temporary, contents);
  await fs.rename(temporary, file);
}

async function readRecord(root: string, id: string): Promise<ExperimentRecord> {
  return JSON.parse(await fs.readFile(path.join(root, "experiments", `${id}.json`), "utf8")) as ExperimentRecord;
}

/** Writes `record` and then its summary, as the publisher does. */
async function publish(root: string, record: ExperimentRecord): Promise<void> {
  await replace(path.join(root, "experiments", `${record.id}.json`), JSON.stringify(record));
  await replace(path.join(root, "summaries", `${record.id}.json`), encodeSummary(record));
}

/** A new experiment copied from `template`, with its own ID and a later start. */
async function addCopy(root: string, template: string, params: unknown): Promise<string> {
  const record = await readRecord(root, template);
  const id = randomBytes(16).toString("hex");
  await publish(root, { ...record, id, params: params as ExperimentRecord["params"], created: new Date(Date.parse(record.created) + 1000).toISOString() });
  return id;
}

async function listedIds(dir: string): Promise<string[]> {
  const result = await cairn(dir, ["ls", "-q"]);
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  return result.stdout.trim().split("\n").filter((line) => line !== "").sort();
}

/** `ls --json`'s experiments by ID. */
async function listedById(dir: string): Promise<Map<string, { checkpointCount: number; stopped: string | null; status: string }>> {
  const listed = parseJson<{ id: string; checkpointCount: number; stopped: string | null; status: string }[]>(await cairn(dir, ["ls", "--json"]));
  return new Map(listed.map((e) => [e.id, e]));
}

/** The cells of `cairn ls`'s row for `id` (the plain table, drawn from the rows kept for it). */
async function tableRow(dir: string, id: string): Promise<string[] | undefined> {
  const result = await cairn(dir, ["ls"]);
  expect(result.code).toBe(0);
  return result.stdout.split("\n").map((line) => line.trim().split(/\s{2,}/)).find((cells) => cells[0] === id.slice(0, 7));
}

/** Moves an experiment's start three and a half days back, so that STARTED reads "3 days ago" in every listing of a test. */
async function startedDaysAgo(root: string, id: string): Promise<void> {
  await publish(root, { ...(await readRecord(root, id)), created: new Date(Date.now() - 3.5 * 86_400_000).toISOString() });
}

/** Lets the file system's clock move past the folders' last change, so the next listing's cache is trusted. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

describe("cairn ls and its listing cache (local repository)", () => {
  it("lists experiments added, updated and removed between two listings, however soon after", async () => {
    const { dir, root, first } = await setup();
    const sorted = (ids: string[]) => [...ids].sort();
    const expected = [first];
    for (let round = 0; round < 6; round++) {
      // Even rounds change the repository at once after a listing (the same clock tick, as
      // like as not); odd ones after the cache has settled, when the next listing trusts it.
      if (round % 2 === 1) await settle();
      expect(await listedIds(dir)).toEqual(sorted(expected));
      expect(await listedIds(dir)).toEqual(sorted(expected));
      expected.push(await addCopy(root, first, { lr: round }));
      expect(await listedIds(dir)).toEqual(sorted(expected));
    }
    // Removed: summary first, then record, as `cairn rm` does.
    await settle();
    await listedIds(dir);
    const gone = expected.pop()!;
    expect((await cairn(dir, ["rm", "--force", gone])).code).toBe(0);
    expect(await listedIds(dir)).toEqual(sorted(expected));
  });

  it("shows a new checkpoint and a stop published after a trusted listing", async () => {
    const { dir, root, first } = await setup();
    const record = await readRecord(root, first);
    // Not stopped, and silent for an hour: crashed, whatever the timing of this test.
    const running = { ...record, id: randomBytes(16).toString("hex"), stopped: null, updated: new Date(Date.now() - 3_600_000).toISOString() };
    await publish(root, running);
    await settle();
    expect((await listedById(dir)).get(running.id)?.checkpointCount).toBe(1);
    expect((await tableRow(dir, running.id))?.at(-1)).toMatch(/ \(step 0\)/);
    expect((await tableRow(dir, running.id))?.[2]).toBe("crashed");

    // A new checkpoint: the record and the summary are replaced (renamed over the old files).
    const checkpoint = { ...record.checkpoints[0]!, id: randomBytes(16).toString("hex"), step: 1 };
    await publish(root, { ...running, checkpoints: [...running.checkpoints, checkpoint] });
    expect((await tableRow(dir, running.id))?.at(-1)).toMatch(new RegExp(`^${checkpoint.id.slice(0, 7)} \\(step 1\\)`));
    expect((await listedById(dir)).get(running.id)?.checkpointCount).toBe(2);

    await settle();
    await tableRow(dir, running.id);
    const stopped = new Date().toISOString();
    await publish(root, { ...running, checkpoints: [...running.checkpoints, checkpoint], stopped, updated: stopped });
    expect((await tableRow(dir, running.id))?.[2]).toBe("stopped");
    const after = (await listedById(dir)).get(running.id);
    expect(after?.stopped).toBe(stopped);
    expect(after?.status).toBe("stopped");
  });

  it("shows a live experiment as running from a trusted listing, and stopped once it stops", async () => {
    const { dir } = await setup();
    const live = await recordExperiment(dir, { params: { lr: 0.3 }, checkpoints: [{ metrics: { loss: 0.4 } }], running: true });
    try {
      await settle();
      for (let i = 0; i < 2; i++) expect((await tableRow(dir, live.id))?.[2]).toBe("running");
    } finally {
      await live.run.stop();
    }
    expect((await tableRow(dir, live.id))?.[2]).toBe("stopped");
  });

  it("notices a change even when the folder's modification time is set back afterwards", async () => {
    const { dir, root, first } = await setup();
    await settle();
    await listedIds(dir);
    await listedIds(dir);
    const folders = ["experiments", "summaries"].map((name) => path.join(root, name));
    // `touch -r` copies times to the nanosecond (fs.utimes would round them to microseconds).
    const saved = folders.map((folder) => path.join(dir, `${path.basename(folder)}.times`));
    folders.forEach((folder, i) => execFileSync("touch", ["-r", folder, saved[i]!]));
    const added = await addCopy(root, first, { lr: 2 });
    // As `cp -a` or `rsync -t` would: only the change time still tells.
    folders.forEach((folder, i) => execFileSync("touch", ["-r", saved[i]!, folder]));
    expect((await fs.stat(folders[1]!, { bigint: true })).mtimeNs).toBe((await fs.stat(saved[1]!, { bigint: true })).mtimeNs);
    expect(await listedIds(dir)).toEqual([first, added].sort());
  });

  it("is right when experiments are added within the same clock tick as the listing before (in-process)", async () => {
    const { dir, root, first } = await setup();
    const repository = await openRepository(root, { projectDirectory: dir });
    const expected = [first];
    const template = await readRecord(root, first);
    for (let round = 0; round < 40; round++) {
      // Synchronous writes straight after a listing: as soon as the file system allows.
      const record = { ...template, id: randomBytes(16).toString("hex") };
      writeFileSync(path.join(root, "experiments", `${record.id}.json`), JSON.stringify(record));
      writeFileSync(path.join(root, "summaries", `${record.id}.json`), encodeSummary(record));
      expected.push(record.id);
      expect((await repository.experiments.list()).map((e) => e.id).sort()).toEqual([...expected].sort());
      if (round % 10 === 9) await settle();
    }
  });

  it("keeps params outside ASCII intact through every rewrite of the cache", async () => {
    const { dir, root, first } = await setup();
    const params = { note: "régularisé → ✓ 学习率", emoji: "🚀" };
    const other = await addCopy(root, first, params);
    const shown = async () => (await listedById(dir)).get(other) as unknown as { params: unknown } | undefined;
    // Read from the summaries (the cache written from their bytes), then from the cache itself.
    expect((await shown())?.params).toEqual(params);
    await settle();
    expect((await shown())?.params).toEqual(params);
    // Another experiment changes: the cache is rewritten from the texts it loaded (strings).
    await addCopy(root, first, { lr: 0.7 });
    expect((await shown())?.params).toEqual(params);
    await settle();
    expect((await shown())?.params).toEqual(params);
    expect((await tableRow(dir, other))?.join(" ")).toContain("régularisé → ✓ 学习率");
    // A torn cache only costs reading everything again, so the listings above would pass with
    // one: the file itself must hold every summary whole.
    const lines = (await fs.readFile(path.join(root, "local", "records", "summaries.json"), "utf8")).split("\n");
    expect(lines.pop()).toBe("");
    const summaries = lines.slice(1).map((line) => JSON.parse(line.split("\t")[2]!) as { id: string; params: unknown });
    expect(summaries.map((summary) => summary.id).sort()).toEqual((await listedIds(dir)).sort());
    expect(summaries.find((summary) => summary.id === other)?.params).toEqual(params);
  });

  it("prints the same table from the rows it kept as from the records, in both layouts", async () => {
    const { dir, root, first } = await setup();
    await startedDaysAgo(root, first);
    await addCopy(root, first, { lr: 0.2, note: "same" });
    await addCopy(root, first, { lr: 0.3, note: "same" });
    await settle();
    const kept = path.join(root, "local", "records", "ls-table.json");
    const fresh = await cairn(dir, ["ls"]);
    const written = (await fs.stat(kept, { bigint: true })).mtimeNs;
    for (const layout of [[], ["--all"]]) {
      const fromKept = await cairn(dir, ["ls", ...layout]);
      // Sorted the default way, but through the API's Experiments: nothing kept is used.
      const fromRecords = await cairn(dir, ["ls", ...layout, "--sort", "created:desc"]);
      expect(fromKept).toMatchObject({ code: 0, stderr: "" });
      expect(fromKept.stdout).toBe(fromRecords.stdout);
      expect(fromKept.stdout.split("\n")).toHaveLength(5); // header, 3 rows, final newline
    }
    expect((await cairn(dir, ["ls"])).stdout).toBe(fresh.stdout);
    expect((await cairn(dir, ["ls", "--all"])).stdout.split("\n")[0]).toMatch(/\bUSER\s+HOST\s+lr\s+note\s+BEST/);
    // Read, not rewritten, by the listings that trusted it.
    expect((await fs.stat(kept, { bigint: true })).mtimeNs).toBe(written);
  });

  it("ignores the rows kept by another version of Cairn", async () => {
    const { dir, root, first } = await setup();
    await startedDaysAgo(root, first);
    await settle();
    const fresh = await cairn(dir, ["ls"]);
    const kept = path.join(dir, ".cairn", "local", "records", "ls-table.json");
    const stored = JSON.parse(await fs.readFile(kept, "utf8")) as { cairn: string; table: { plain: { tails: string[] } } };
    // As if an older Cairn had laid the cells out otherwise.
    stored.cairn = "0.0.0-older";
    stored.table.plain.tails[0] = "laid out by another version";
    await fs.writeFile(kept, JSON.stringify(stored));
    const again = await cairn(dir, ["ls"]);
    expect(again.stdout).not.toContain("another version");
    expect(again.stdout).toBe(fresh.stdout);
  });

  it("reports an unreadable record on every listing, not only the first", async () => {
    const { dir, root, first } = await setup();
    const broken = randomBytes(16).toString("hex");
    await fs.writeFile(path.join(root, "experiments", `${broken}.json`), "{ torn");
    await settle();
    for (let i = 0; i < 3; i++) {
      const result = await cairn(dir, ["ls", "-q"]);
      expect(result.code).toBe(0);
      expect(result.stdout.trim()).toBe(first);
      expect(result.stderr).toContain(`experiments/${broken}.json`);
    }
  });
});

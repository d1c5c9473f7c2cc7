/**
 * Corruption: on a local and an S3 repository, damage one experiment per kind of damage — a
 * flipped byte in a file, in a file list (tree), in a code file and in a chunk of a large file;
 * a truncated object; missing objects; a record that is not JSON and one with wrong types — and
 * check that each is detected with an error naming the object and the experiment, that `ls`,
 * `experiments.list()` and the web UI's API still list every healthy experiment, and that
 * `cairn verify` reports every problem (and nothing about the healthy ones).
 */
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { CairnError, openRepository, type Repository } from "../../src/index.js";
import { objectKey } from "../../src/repository/layout.js";
import { chunkObject } from "../../src/repository/packs.js";
import type { Storage } from "../../src/storage/storage.js";
import { createApp } from "../../src/server/index.js";
import { runCli } from "../helpers/project.js";
import { localKind, makeTrainingProject, s3Kind, scratchFolder, useKindInThisProcess, type RepositoryKind } from "./support/kinds.js";

let scratch: string;
beforeAll(async () => {
  scratch = await scratchFolder("corruption");
});
afterAll(async () => {
  await fs.rm(scratch, { recursive: true, force: true });
});

/** Every kind of damage, each done to an experiment of its own. */
const DAMAGES = ["flipped file byte", "truncated file", "missing file", "flipped tree byte", "missing tree", "flipped code byte", "flipped chunk byte", "record not JSON", "record with wrong types"] as const;
type Damage = (typeof DAMAGES)[number];
const HEALTHY = 2;
/** A file this large is stored as content-defined chunks (where chunking is on), else whole. */
const LARGE = 9 * 1024 * 1024;

function bytesOf(seed: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i += 32) out.write(`${seed}:${i}`.padEnd(32, "."), i);
  return out;
}

/** Records one experiment through the API: its own code, two checkpoints (the second with a large file when asked). */
async function record(repository: Repository, project: string, seed: string, large: boolean): Promise<string> {
  await fs.writeFile(path.join(project, "code", "train.mjs"), `// training code of ${seed}\n`);
  const run = await repository.init({ path: "code", params: { seed } });
  for (let step = 0; step < 2; step++) {
    await fs.rm(path.join(project, "model"), { recursive: true, force: true });
    await fs.mkdir(path.join(project, "model"));
    await fs.writeFile(path.join(project, "model", "weights.bin"), bytesOf(`${seed}/${step}`, 4096 + step));
    await fs.writeFile(path.join(project, "model", "config.json"), JSON.stringify({ seed, step }));
    if (large && step === 1) await fs.writeFile(path.join(project, "model", "large.bin"), bytesOf(`${seed}/large`, LARGE));
    await run.checkpoint({ path: "model", step, metrics: { loss: 1 / (step + 1) }, primaryMetric: ["loss", "minimize"] });
  }
  await run.stop();
  return run.id;
}

interface RawRecord {
  code: { sha256: string };
  checkpoints: { step: unknown; tree: { sha256: string } }[];
  heartbeatIntervalMs: unknown;
}
interface RawTree {
  files: { path: string; sha256: string; size: number; chunks?: { sha256: string }[] }[];
}

async function json<T>(storage: Storage, key: string): Promise<T> {
  return JSON.parse((await storage.get(key))!.toString()) as T;
}

async function flip(storage: Storage, key: string, at: number): Promise<void> {
  const bytes = (await storage.get(key))!;
  const i = at % bytes.length;
  bytes[i] = bytes[i]! ^ 0x20;
  await storage.put(key, bytes);
}

/** Does the damage; returns the key of the damaged object and how a reader meets it. */
async function damage(storage: Storage, id: string, kind: Damage): Promise<{ key: string; read: (repository: Repository, out: string) => Promise<unknown> }> {
  const recordKey = `experiments/${id}.json`;
  const raw = await json<RawRecord>(storage, recordKey);
  const treeKey = (step: number) => objectKey(raw.checkpoints[step]!.tree.sha256);
  const fileOf = async (step: number, name: string) => (await json<RawTree>(storage, treeKey(step))).files.find((f) => f.path === `model/${name}`)!;
  const checkpoint = async (repository: Repository, step: number) => (await repository.experiments.get(id)).checkpoints[step]!;
  switch (kind) {
    case "flipped file byte": {
      const key = objectKey((await fileOf(1, "weights.bin")).sha256);
      await flip(storage, key, 100);
      return { key, read: async (r) => (await checkpoint(r, 1)).read("weights.bin") };
    }
    case "truncated file": {
      const key = objectKey((await fileOf(0, "weights.bin")).sha256);
      await storage.put(key, (await storage.get(key))!.subarray(0, 1000));
      return { key, read: async (r) => (await checkpoint(r, 0)).read("weights.bin") };
    }
    case "missing file": {
      const key = objectKey((await fileOf(1, "config.json")).sha256);
      await storage.delete(key);
      return { key, read: async (r) => (await checkpoint(r, 1)).read("config.json") };
    }
    case "flipped tree byte": {
      const key = treeKey(0);
      await flip(storage, key, 20);
      return { key, read: async (r) => (await checkpoint(r, 0)).files() };
    }
    case "missing tree": {
      const key = treeKey(1);
      await storage.delete(key);
      return { key, read: async (r) => (await checkpoint(r, 1)).files() };
    }
    case "flipped code byte": {
      const tree = await json<RawTree>(storage, objectKey(raw.code.sha256));
      const key = objectKey(tree.files.find((f) => f.path === "train.mjs")!.sha256);
      await flip(storage, key, 5);
      // A checkout meets it, and must leave no half-written file behind.
      return { key, read: async (r, out) => (await r.experiments.get(id)).checkout({ outputDirectory: out }) };
    }
    case "flipped chunk byte": {
      const large = await fileOf(1, "large.bin");
      const chunk = large.chunks?.[0];
      const key = objectKey(chunk ? chunkObject(chunk) : large.sha256);
      await flip(storage, key, (chunk?.offset ?? 0) + 4096);
      return { key, read: async (r, out) => (await checkpoint(r, 1)).checkout({ outputDirectory: out, path: "model/large.bin" }) };
    }
    case "record not JSON":
      await storage.put(recordKey, '{"format":1,"id":"' + id + '","checkpoints":[');
      return { key: recordKey, read: (r) => r.experiments.get(id) };
    case "record with wrong types":
      await storage.put(recordKey, JSON.stringify({ ...raw, heartbeatIntervalMs: "often", checkpoints: raw.checkpoints.map((c) => ({ ...c, step: "three" })) }));
      return { key: recordKey, read: (r) => r.experiments.get(id) };
  }
}

for (const kindName of ["local", "s3"] as const) {
  describe(`corruption in a ${kindName} repository`, () => {
    let kind: RepositoryKind;
    let url: string;
    let project: string;
    const damaged = new Map<Damage, { id: string; key: string; read: (repository: Repository, out: string) => Promise<unknown> }>();
    const healthy: string[] = [];

    beforeAll(async () => {
      kind = kindName === "local" ? localKind : s3Kind();
      // A fresh cache: nothing read before the damage may be served from a local copy.
      useKindInThisProcess(kind, path.join(scratch, `cache-${kindName}`));
      url = kind.newUrl(scratch);
      project = await makeTrainingProject(scratch, url);
      const repository = await openRepository(url, { projectDirectory: project });
      for (let i = 0; i < HEALTHY; i++) healthy.push(await record(repository, project, `healthy-${i}`, false));
      const ids = new Map<Damage, string>();
      for (const what of DAMAGES) ids.set(what, await record(repository, project, what, what === "flipped chunk byte"));
      await repository.storage.close?.();
      const storage = await kind.storage(url);
      for (const [what, id] of ids) damaged.set(what, { id, ...(await damage(storage, id, what)) });
      await storage.close?.();
    }, 300_000);

    for (const what of DAMAGES) {
      test(`${what}: the reader's error names the object and the experiment`, async () => {
        const { id, key, read } = damaged.get(what)!;
        const repository = await openRepository(url, { projectDirectory: project });
        const out = path.join(scratch, `out-${kindName}-${what.replace(/ /g, "-")}`);
        const error = (await read(repository, out).then(
          () => null,
          (e: unknown) => e,
        )) as CairnError | null;
        await repository.storage.close?.();
        expect(error, `${what} went unnoticed`).toBeInstanceOf(CairnError);
        expect(error!.code).toBe("CORRUPT");
        expect(error!.message).toContain(key);
        expect(error!.message).toContain(id.slice(0, 7));
        // Nothing half-written where a checkout met the damage.
        const written = await fs.readdir(out, { recursive: true }).catch(() => [] as string[]);
        expect(written.filter((name) => /cairn-|large\.bin|train\.mjs/.test(String(name)))).toEqual([]);
      });
    }

    test("experiments.list(), `cairn ls` and the web UI's API list every healthy experiment and name the unreadable records", async () => {
      const listable = [...healthy, ...[...damaged].filter(([what]) => !what.startsWith("record")).map(([, d]) => d.id)].sort();
      const unreadable = [...damaged].filter(([what]) => what.startsWith("record")).map(([, d]) => d);
      // A damaged record behind an intact summary: listings read summaries, so the experiment is
      // listed from it (a bucket's listing passes over a summary older than its record, and then
      // names the record instead). Either way it is accounted for exactly once, and reading it in
      // full names the damage (above); `cairn verify` reports it (below).
      const accountedOnce = (ids: string[], problemKeys: string[]): void => {
        expect(ids.filter((id) => listable.includes(id)).sort()).toEqual(listable);
        for (const d of unreadable) expect(Number(ids.includes(d.id)) + Number(problemKeys.includes(d.key)), d.key).toBe(1);
        expect(ids.filter((id) => !listable.includes(id) && !unreadable.some((d) => d.id === id))).toEqual([]);
      };

      const repository = await openRepository(url, { projectDirectory: project });
      const list = await repository.experiments.list();
      accountedOnce(list.map((e) => e.id), list.problems.map((p) => p.key));
      for (const problem of list.problems) expect(problem.message).toContain(problem.key);

      const app = createApp({ repository });
      const response = await app.fetch(new Request("http://127.0.0.1/api/experiments?limit=1000"));
      expect(response.status).toBe(200);
      const body = (await response.json()) as { rows: { id: string }[]; problems: { key: string }[] };
      accountedOnce(body.rows.map((r) => r.id), body.problems.map((p) => p.key));
      await repository.storage.close?.();

      const ls = await runCli(project, ["ls", "--json"], kind.env());
      expect(ls.code).toBe(0);
      const lsIds = (JSON.parse(ls.stdout) as { id: string }[]).map((e) => e.id);
      accountedOnce(lsIds, unreadable.filter((d) => ls.stderr.includes(d.key)).map((d) => d.key));
    });

    test("`cairn verify` reports every problem, naming object and experiment, and nothing about the healthy ones", async () => {
      const result = await runCli(project, ["verify", "--json"], kind.env());
      expect(result.code, result.stderr).toBe(5);
      const report = JSON.parse(result.stdout) as { problems: { key: string; experimentId: string | null; message: string }[] };
      for (const [what, { id, key }] of damaged) {
        const found = report.problems.filter((p) => p.experimentId === id);
        expect(found.map((p) => p.key), what).toContain(key);
        for (const p of found) expect(p.message, what).toContain(key);
      }
      const damagedIds = new Set([...damaged.values()].map((d) => d.id));
      expect(report.problems.filter((p) => p.experimentId === null || !damagedIds.has(p.experimentId))).toEqual([]);
      // --quick reads no contents: it still finds what is missing, cut short or unreadable.
      const quick = await runCli(project, ["verify", "--quick", "--json"], kind.env());
      expect(quick.code).toBe(5);
      const quickProblems = (JSON.parse(quick.stdout) as { problems: { key: string }[] }).problems.map((p) => p.key);
      for (const what of ["truncated file", "missing file", "missing tree", "record not JSON", "record with wrong types"] as const) {
        expect(quickProblems, what).toContain(damaged.get(what)!.key);
      }
      // For people: one line per problem on stdout, a summary on stderr.
      const plain = await runCli(project, ["verify"], kind.env());
      expect(plain.code).toBe(5);
      for (const { key } of damaged.values()) expect(plain.stdout).toContain(key);
      expect(plain.stderr).toMatch(/problems found, damaging 9 experiments/);
    });

    test("after the damaged experiments are removed, verify finds the repository healthy and gc runs", async () => {
      const ids = [...damaged.values()].map((d) => d.id);
      const rm = await runCli(project, ["rm", "-f", ...ids], kind.env());
      expect(rm.code, rm.stderr).toBe(0);
      const gc = await runCli(project, ["gc", "--grace", "0"], kind.env());
      expect(gc.code, gc.stderr).toBe(0);
      const verify = await runCli(project, ["verify"], kind.env());
      expect(verify.code, verify.stdout + verify.stderr).toBe(0);
      expect(verify.stderr).toContain("No problems found");
    });
  });
}

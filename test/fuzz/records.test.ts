/**
 * Fuzzing what Cairn reads back from a repository or a spool: experiment records
 * (`parseExperimentRecord`), file lists (`parseTree`) and the journal replayed after a crash
 * (`ExperimentSpool.readJournal`, through `Repository.open`'s recovery). Thousands of mutated
 * inputs, byte-level and structural; each must either parse into something every reader can
 * use (listing rows, JSON, safe paths) or fail with a clean CairnError, never anything else.
 *
 * FUZZ_RUNS scales the number of inputs (default 4000 per target); FUZZ_SEED replays a run.
 */
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { CairnError, Experiment, openRepository, setDiagnosticSink } from "../../src/index.js";
import { toQueryRow } from "../../src/api/rows.js";
import { selectExperiments } from "../../src/api/repository.js";
import { safeJoin } from "../../src/repository/paths.js";
import { ExperimentSpool } from "../../src/repository/spool.js";
import { parseExperimentRecord, parseTree } from "../../src/repository/validate.js";
import { createFileStorage } from "../../src/storage/fs.js";
import { random } from "../helpers/random.js";

const RUNS = Number(process.env.FUZZ_RUNS ?? 4000);
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));


const ID = "e510303c2a9f4d0b8e7f1a2b3c4d5e6f";
const SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const KEY = `experiments/${ID}.json`;

/** A record as docs/FORMAT.md shows it, every field present. */
const RECORD = {
  format: 1,
  id: ID,
  created: "2026-11-28T10:00:00.000Z",
  params: { learningRate: 0.01, layers: [64, 64], name: "resnet", nested: { a: { b: true } } },
  path: "/home/ana/project",
  code: { sha256: SHA, files: 12, bytes: 40960 },
  environment: {
    user: "ana", host: "gpu-3", command: ["node", "train.mjs", "--lr", "0.01"], workingDirectory: "/home/ana/project",
    node: "20.20.2", os: "linux 6.1.0", arch: "x64", cpu: "AMD EPYC", cpus: 2, memoryBytes: 25769803776,
    gpus: [{ name: "NVIDIA A100", memory: "40960 MiB", driver: "550.54" }], runtimes: { python: "3.11.2" },
  },
  git: { commit: "a".repeat(40), branch: "main", dirty: true, diff: SHA, diffBytes: 812, remote: "https://github.com/org/repo.git" },
  dependencies: { "@tensorflow/tfjs": { source: "package.json", declared: "^4.22.0", installed: "4.22.0" } },
  heartbeatIntervalMs: 5000,
  checkpoints: [
    { id: "3ccb2f1" + "0".repeat(25), step: 0, created: "2026-11-28T10:01:00.000Z", metrics: { loss: 0.25, accuracy: 0.91, grad_norm: "NaN" }, primaryMetric: { name: "loss", goal: "minimize" }, path: "model", tree: { sha256: SHA, files: 2, bytes: 55601 } },
    { id: "4ccb2f1" + "0".repeat(25), step: 1, created: "2026-11-28T10:02:00.000Z", metrics: { loss: "Infinity" }, primaryMetric: null, path: null, tree: null },
  ],
  stopped: "2026-11-28T10:30:00.000Z",
  updated: "2026-11-28T10:30:00.000Z",
};

const TREE = {
  files: [
    { path: "model/model.json", size: 1841, sha256: SHA, mode: 420 },
    { path: "model/weights.bin", size: 53760, sha256: SHA, mode: 493, chunks: [{ sha256: SHA, size: 53000 }, { sha256: SHA, size: 760 }] },
  ],
};

/** Values of every JSON type, and the awkward ones. */
const VALUES: unknown[] = [
  null, true, false, 0, -1, 1.5, 1e308, -0, 2 ** 53, "", "x", "NaN", "Infinity", "-Infinity", "2026-13-45", "../../etc/passwd", "/abs", "a\\b", "a\u0000b",
  "con", "..", ".", "a//b", SHA, ID, [], [null], [1, 2], {}, { __proto__: null }, { "__proto__": { polluted: true } }, { constructor: 1 }, { toString: 1 },
  "é".repeat(3000), [[[[[[[[[[]]]]]]]]]], { length: 5 }, "minimize", "maximize",
];
const TOKENS = ["null", "true", "[", "]", "{", "}", ",", ":", '"', "\\", "\\u0000", "1e999", "-", "0x10", "NaN", '"__proto__"', "\u2028", "\uD800"];

const pick = <T>(rng: () => number, items: readonly T[]): T => items[Math.floor(rng() * items.length)]!;

/** A random path into a JSON value and a replacement, deletion or addition there. */
function mutateStructure(value: unknown, rng: () => number, depth = 0): unknown {
  if (Array.isArray(value)) {
    if (value.length === 0 || rng() < 0.15) return rng() < 0.5 ? [...value, pick(rng, VALUES)] : pick(rng, VALUES);
    const copy = [...value];
    const i = Math.floor(rng() * copy.length);
    if (rng() < 0.2) copy.splice(i, 1);
    else if (rng() < 0.2) copy.push(structuredClone(copy[i]));
    else copy[i] = mutateStructure(copy[i], rng, depth + 1);
    return copy;
  }
  if (value !== null && typeof value === "object") {
    const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
    const keys = Object.keys(copy);
    if (keys.length === 0 || rng() < 0.1) {
      copy[pick(rng, ["__proto__", "constructor", "extra", "format", "files", "chunks", "path", ""])] = pick(rng, VALUES);
      return copy;
    }
    const key = pick(rng, keys);
    if (rng() < 0.2) delete copy[key];
    else copy[key] = depth > 6 || rng() < 0.3 ? pick(rng, VALUES) : mutateStructure(copy[key], rng, depth + 1);
    return copy;
  }
  return rng() < 0.7 ? pick(rng, VALUES) : typeof value === "string" ? value + pick(rng, TOKENS) : value;
}

/** Byte-level damage to serialized text: flips, cuts, insertions, duplications. */
function mutateBytes(text: string, rng: () => number): string {
  let out = Buffer.from(text);
  const edits = 1 + Math.floor(rng() * 4);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(rng() * Math.max(1, out.length));
    const roll = rng();
    if (roll < 0.3 && out.length > 0) out[at] = out[at]! ^ (1 << Math.floor(rng() * 8));
    else if (roll < 0.45) out = out.subarray(0, at);
    else if (roll < 0.7) out = Buffer.concat([out.subarray(0, at), Buffer.from(pick(rng, TOKENS)), out.subarray(at)]);
    else if (roll < 0.85) out = Buffer.concat([out.subarray(0, at), out.subarray(at + 1 + Math.floor(rng() * 20))]);
    else out = Buffer.concat([out.subarray(0, at), out.subarray(at, at + 40), out.subarray(at)]);
  }
  return out.toString("latin1");
}

function mutant(seed: unknown, rng: () => number): string {
  let value = structuredClone(seed);
  const rounds = 1 + Math.floor(rng() * 3);
  for (let r = 0; r < rounds; r++) value = mutateStructure(value, rng);
  const text = JSON.stringify(value) ?? "null";
  return rng() < 0.35 ? mutateBytes(text, rng) : text;
}

/** Runs `check` on each input; collects anything thrown that is not a CairnError. */
async function fuzz(name: string, inputs: number, make: (rng: () => number, i: number) => string, check: (input: string) => Promise<void> | void) {
  const rng = random(SEED);
  const crashes: string[] = [];
  let accepted = 0;
  let refused = 0;
  for (let i = 0; i < inputs; i++) {
    const input = make(rng, i);
    try {
      await check(input);
      accepted += 1;
    } catch (error) {
      if (error instanceof CairnError) refused += 1;
      else if (crashes.length < 5) crashes.push(`${String(error)}\n  input: ${JSON.stringify(input).slice(0, 600)}`);
      else crashes.push("…");
    }
  }
  console.log(`fuzz ${name} (seed ${SEED}): ${inputs} inputs, ${accepted} accepted, ${refused} refused with a CairnError, ${crashes.length} crashes`);
  expect(crashes, `replay with FUZZ_SEED=${SEED}`).toEqual([]);
}

describe(`fuzzing what is read back (FUZZ_SEED=${SEED})`, () => {
  let scratch: string;
  beforeAll(async () => {
    scratch = await fs.mkdtemp(path.join(os.tmpdir(), "cairn-fuzz-"));
    setDiagnosticSink(() => {}); // recovery reports the journals it refuses; the test counts them
  });
  afterAll(async () => {
    await fs.rm(scratch, { recursive: true, force: true });
  });

  test("the seeds themselves are valid", () => {
    expect(parseExperimentRecord(JSON.stringify(RECORD), KEY).checkpoints).toHaveLength(2);
    expect(parseTree(JSON.stringify(TREE), `objects/9f/${SHA}`).files).toHaveLength(2);
  });

  test("experiment records: parsed into what readers use, or refused cleanly", async () => {
    const storage = createFileStorage(path.join(scratch, "records"));
    const now = new Date("2026-11-28T11:00:00.000Z");
    await fuzz("records", RUNS, (rng) => mutant(RECORD, rng), (input) => {
      const record = parseExperimentRecord(input, KEY);
      // Everything a listing, `cairn show --json` and the web UI's table do with a record.
      const experiment = new Experiment(storage, { record, status: "stopped", lastHeartbeat: now });
      const row = toQueryRow(experiment);
      JSON.stringify(experiment.toJSON());
      experiment.best();
      for (const checkpoint of experiment.checkpoints) JSON.stringify(checkpoint.toJSON());
      selectExperiments([experiment], { filter: "metrics.loss < 1 or params.name ~ res", sort: "metrics.loss" });
      expect(typeof row.id).toBe("string");
    });
  });

  test("file lists: parsed into paths that stay inside any folder, or refused cleanly", async () => {
    const root = path.join(scratch, "out");
    await fs.mkdir(root, { recursive: true });
    await fuzz("trees", RUNS, (rng) => mutant(TREE, rng), async (input) => {
      const tree = parseTree(input, `objects/9f/${SHA}`);
      for (const file of tree.files) {
        const target = await safeJoin(root, file.path);
        expect(target.startsWith(root + path.sep)).toBe(true);
        expect(Number.isSafeInteger(file.size) && file.size >= 0).toBe(true);
      }
    });
  });

  test("journals replayed after a crash: recovered, or refused cleanly without breaking the repository", async () => {
    const root = path.join(scratch, "journals");
    const line = (entry: unknown) => JSON.stringify(entry);
    const journal = [
      line({ type: "experiment", record: { ...RECORD, checkpoints: [], stopped: null }, codeTree: TREE, objects: [] }),
      line({ type: "checkpoint", checkpoint: RECORD.checkpoints[0], tree: TREE }),
      line({ type: "checkpoint", checkpoint: RECORD.checkpoints[1], tree: null }),
      line({ type: "stop", time: "2026-11-28T10:30:00.000Z" }),
    ];
    const runs = Math.max(200, Math.round(RUNS / 8));
    let opened = 0;
    let published = 0;
    await fuzz(
      "journals",
      runs,
      (rng) => {
        const lines = journal.map((l) => (rng() < 0.5 ? mutant(JSON.parse(l), rng) : l));
        return lines.join("\n") + (rng() < 0.5 ? "\n" : "");
      },
      async (input) => {
        const spool = path.join(root, "local", "spool", ID);
        await fs.rm(root, { recursive: true, force: true });
        await fs.mkdir(path.join(spool, "objects"), { recursive: true });
        await fs.writeFile(path.join(spool, "journal.jsonl"), input);
        // The one object the seeds name (SHA is the SHA-256 of "test"), so replays can publish.
        await fs.writeFile(path.join(spool, "objects", SHA), "test");
        // The repository opens whatever the journal holds (recovery reports what it cannot publish)…
        const repository = await openRepository(root, { projectDirectory: scratch });
        published += (await repository.experiments.list()).length;
        opened += 1;
        // …and the replay itself accepts the journal or refuses it with a CairnError.
        await ExperimentSpool.open(spool).readJournal();
      },
    );
    console.log(`fuzz journals: the repository opened after ${opened} replays; ${published} replays published an experiment`);
    expect(published).toBeGreaterThan(0);
  });
});

import { createHash } from "node:crypto";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CairnError, openRepository, type Repository, type TreeEntry } from "../../src/index.js";
import { chunkFileInWorker } from "../../src/repository/chunk-worker.js";
import { CHUNK_PARAMETERS, chunkFile, findCut } from "../../src/repository/chunker.js";
import { CHUNK_THRESHOLD_BYTES } from "../../src/repository/publisher.js";
import { listFiles, makeProject, runCli, startScript, waitFor } from "../helpers/project.js";
import { s3RepositoryUrl } from "../helpers/repositories.js";
import { forgetSummary } from "../helpers/record.js";
import { pseudoRandomBytes } from "../helpers/random.js";
import { chunkHolder } from "../helpers/checkpoints.js";

const MiB = 1024 * 1024;
const { min, max } = CHUNK_PARAMETERS;

const projects: string[] = [];
afterEach(async () => {
  for (const dir of projects.splice(0)) await fs.rm(dir, { recursive: true, force: true });
});

async function project(files: Record<string, string | Buffer> = {}): Promise<string> {
  const dir = await makeProject({ "code/train.py": "x = 1\n", ...files });
  projects.push(dir);
  return dir;
}

/** `base` with `length` bytes at `at` replaced by fresh ones: a layer being fine-tuned. */
function withChangedRegion(base: Buffer, at: number, length: number, seed: string): Buffer {
  const copy = Buffer.from(base);
  pseudoRandomBytes(length, seed).copy(copy, at);
  return copy;
}

function sha256(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

async function chunksOf(file: string): Promise<{ offset: number; size: number; sha256: string }[]> {
  const chunks = [];
  for await (const chunk of chunkFile(file)) chunks.push({ offset: chunk.offset, size: chunk.size, sha256: sha256(chunk.bytes) });
  return chunks;
}

/** Bytes under `objects/` of a local repository: what the repository costs. */
async function objectBytes(repositoryFolder: string): Promise<number> {
  let total = 0;
  for (const file of await listFiles(path.join(repositoryFolder, "objects"))) total += (await fs.stat(path.join(repositoryFolder, "objects", file))).size;
  return total;
}

/** Stores `contents` as an object of the local repository at `root`, by hand (as an older writer did); resolves to its hash. */
async function putObject(root: string, contents: Buffer): Promise<string> {
  const sha = sha256(contents);
  await fs.mkdir(path.join(root, "objects", sha.slice(0, 2)), { recursive: true });
  await fs.writeFile(path.join(root, "objects", sha.slice(0, 2), sha), contents);
  return sha;
}

function objectFile(dir: string, sha: string): string {
  return path.join(dir, ".cairn", "objects", sha.slice(0, 2), sha);
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(() => true, () => false);
}

function open(dir: string, recover = true): Promise<Repository> {
  return openRepository(path.join(dir, ".cairn"), { projectDirectory: dir, recover });
}

describe("the chunker", () => {
  it("cuts the same bytes into the same chunks every time, in-process and on the worker, and the chunks make up the file", async () => {
    const dir = await project({ "data.bin": pseudoRandomBytes(24 * MiB, "determinism") });
    const file = path.join(dir, "data.bin");
    const first = await chunksOf(file);
    expect(await chunksOf(file)).toEqual(first);
    expect(await chunkFileInWorker(file)).toEqual(first);
    expect(first.length).toBeGreaterThan(5);
    // Contiguous, in order, adding up to the file, and the concatenation is the file.
    let offset = 0;
    const whole = createHash("sha256");
    for await (const chunk of chunkFile(file)) {
      expect(chunk.offset).toBe(offset);
      offset += chunk.size;
      whole.update(chunk.bytes);
    }
    expect(offset).toBe(24 * MiB);
    expect(whole.digest("hex")).toBe(sha256(await fs.readFile(file)));
  });

  it("respects the minimum and maximum sizes, whatever the contents", async () => {
    const random = await project({ "random.bin": pseudoRandomBytes(24 * MiB + 12345, "sizes"), "zeros.bin": Buffer.alloc(18 * MiB + 7), "tiny.bin": Buffer.from("small") });
    for (const name of ["random.bin", "zeros.bin"]) {
      const chunks = await chunksOf(path.join(random, name));
      for (const chunk of chunks.slice(0, -1)) {
        expect(chunk.size).toBeGreaterThanOrEqual(min);
        expect(chunk.size).toBeLessThanOrEqual(max);
      }
      expect(chunks.at(-1)!.size).toBeLessThanOrEqual(max);
    }
    // Uniform bytes have no content to cut at: every chunk is as large as allowed.
    expect((await chunksOf(path.join(random, "zeros.bin"))).slice(0, -1).every((c) => c.size === max)).toBe(true);
    expect(await chunksOf(path.join(random, "tiny.bin"))).toEqual([{ offset: 0, size: 5, sha256: sha256(Buffer.from("small")) }]);
    // Fewer bytes left than the minimum: they are the last chunk.
    expect(findCut(Buffer.alloc(100), 10, 100)).toBe(100);
  });

  it("is content-defined: an insertion near the start moves only the boundaries near it", async () => {
    const base = pseudoRandomBytes(32 * MiB, "insertion");
    const inserted = Buffer.concat([base.subarray(0, 100_000), pseudoRandomBytes(1000, "inserted bytes"), base.subarray(100_000)]);
    const deleted = Buffer.concat([base.subarray(0, 3 * MiB), base.subarray(3 * MiB + 4096)]);
    const dir = await project({ "base.bin": base, "inserted.bin": inserted, "deleted.bin": deleted });
    const before = await chunksOf(path.join(dir, "base.bin"));
    const known = new Set(before.map((c) => c.sha256));
    for (const [name, shift] of [["inserted.bin", 1000], ["deleted.bin", -4096]] as const) {
      const after = await chunksOf(path.join(dir, name));
      const fresh = after.filter((c) => !known.has(c.sha256));
      // Only the chunk with the edit and at most its neighbours are new...
      expect(fresh.length).toBeLessThanOrEqual(3);
      expect(fresh.reduce((sum, c) => sum + c.size, 0)).toBeLessThanOrEqual(3 * max);
      // ...and every boundary past them is the old one, shifted by the edit's length.
      const lastFresh = fresh.at(-1)!.offset;
      const later = after.filter((c) => c.offset > lastFresh).map((c) => c.offset - shift);
      expect(later.length).toBeGreaterThan(10);
      const oldOffsets = new Set(before.map((c) => c.offset));
      for (const offset of later) expect(oldOffsets.has(offset)).toBe(true);
    }
  });
});

describe("large files in checkpoints", () => {
  const size = 40 * MiB;
  const region = { at: 18 * MiB, length: 4 * MiB }; // a contiguous 10%

  it("are stored as chunks: five checkpoints with a 10% change each cost about 1.4x one, and read back identical", async () => {
    const versions = [pseudoRandomBytes(size, "weights v0")];
    for (let i = 1; i < 5; i++) versions.push(withChangedRegion(versions[0]!, region.at, region.length, `weights v${i}`));
    const dir = await project({ "model/config.json": '{"layers":3}' });
    const repository = await open(dir);
    const run = await repository.init({ path: "code" });
    for (const [i, bytes] of versions.entries()) {
      await fs.writeFile(path.join(dir, "model", "weights.bin"), bytes);
      await run.checkpoint({ path: "model", metrics: { loss: 1 / (i + 1) } });
    }
    await run.stop();

    // Every version's unchanged 90% is shared; each change costs its own bytes plus the chunks it
    // straddles (about 2 MiB on average; we allow two maximal chunks).
    const stored = await objectBytes(path.join(dir, ".cairn"));
    const bound = size + 4 * (region.length + 2 * max) + MiB; // + trees and code: well under 1 MiB
    expect(stored).toBeLessThanOrEqual(bound);
    expect(stored).toBeGreaterThanOrEqual(size + 4 * region.length);

    const experiment = await repository.getExperiment(run.id);
    expect(experiment.checkpoints).toHaveLength(5);
    for (const [i, checkpoint] of experiment.checkpoints.entries()) {
      const files = await checkpoint.files();
      const weights = files.find((f) => f.path === "model/weights.bin")!;
      const config = files.find((f) => f.path === "model/config.json")!;
      // The whole file's size and hash are recorded; its contents are the chunks.
      expect(weights.size).toBe(size);
      expect(weights.sha256).toBe(sha256(versions[i]!));
      expect(weights.chunks!.length).toBeGreaterThan(5);
      expect(weights.chunks!.reduce((sum, c) => sum + c.size, 0)).toBe(size);
      expect(await exists(objectFile(dir, weights.sha256))).toBe(false);
      // In packs of several chunks, each pack an object.
      expect(weights.chunks!.every((chunk) => chunk.pack !== undefined)).toBe(true);
      expect(new Set(weights.chunks!.map((chunk) => chunk.pack)).size).toBeLessThan(weights.chunks!.length / 2);
      for (const chunk of weights.chunks!) expect(await exists(chunkHolder(path.join(dir, ".cairn"), chunk).file)).toBe(true);
      // Small files stay whole.
      expect(config.chunks).toBeUndefined();
      expect(await exists(objectFile(dir, config.sha256))).toBe(true);
      expect((await checkpoint.read("model/weights.bin")).equals(versions[i]!)).toBe(true);
    }
    const out = path.join(dir, "out");
    await experiment.checkpoints[3]!.checkout({ outputDirectory: out });
    expect((await fs.readFile(path.join(out, "model", "weights.bin"))).equals(versions[3]!)).toBe(true);
    expect(await fs.readFile(path.join(out, "model", "config.json"), "utf8")).toBe('{"layers":3}');
    // The spool is gone: nothing left behind on the writer's disk.
    expect(await fs.readdir(path.join(dir, ".cairn", "local", "spool"))).toEqual([]);
  });

  it("are stored whole below the threshold", async () => {
    const dir = await project({ "small.bin": pseudoRandomBytes(CHUNK_THRESHOLD_BYTES - 1, "small") });
    const repository = await open(dir);
    const run = await repository.init({ path: "code" });
    await run.checkpoint({ path: "small.bin" });
    await run.stop();
    const [entry] = await (await repository.getExperiment(run.id)).latest()!.files();
    expect(entry!.chunks).toBeUndefined();
    expect(await exists(objectFile(dir, entry!.sha256))).toBe(true);
  });

  it("fail to read when a chunk is corrupt or missing, with an error naming the object", async () => {
    const bytes = pseudoRandomBytes(16 * MiB, "corruption");
    const dir = await project({ "weights.bin": bytes });
    const repository = await open(dir);
    const run = await repository.init({ path: "code" });
    await run.checkpoint({ path: "weights.bin" });
    await run.stop();
    const checkpoint = (await repository.getExperiment(run.id)).latest()!;
    const [entry] = await checkpoint.files();
    const { key, file, offset } = chunkHolder(path.join(dir, ".cairn"), entry!.chunks![2]!);
    const original = await fs.readFile(file);
    const flipped = Buffer.from(original);
    flipped[offset + 1000] = flipped[offset + 1000]! ^ 0xff;
    await fs.writeFile(file, flipped);

    const error = (await checkpoint.read("weights.bin").catch((e: unknown) => e)) as CairnError;
    expect(error).toBeInstanceOf(CairnError);
    expect(error.code).toBe("CORRUPT");
    expect(error.message).toContain(key);
    expect(error.message).toContain("weights.bin");
    // A checkout fails the same way and leaves nothing behind.
    const out = path.join(dir, "out");
    const checkoutError = (await checkpoint.checkout({ outputDirectory: out }).catch((e: unknown) => e)) as CairnError;
    expect(checkoutError.code).toBe("CORRUPT");
    expect(checkoutError.message).toContain(key);
    expect(await listFiles(out).catch(() => [])).toEqual([]);

    await fs.rm(file);
    const missing = (await checkpoint.read("weights.bin").catch((e: unknown) => e)) as CairnError;
    expect(missing.code).toBe("CORRUPT");
    expect(missing.message).toContain(key);
    expect(missing.message).toMatch(/missing/);
    // Truncated: caught as soon as the object arrives.
    await fs.writeFile(file, original.subarray(0, offset + 1000));
    const truncated = (await checkpoint.read("weights.bin").catch((e: unknown) => e)) as CairnError;
    expect(truncated.code).toBe("CORRUPT");
    expect(truncated.message).toContain(key);
    await fs.writeFile(file, original);
    expect((await checkpoint.read("weights.bin")).equals(bytes)).toBe(true);

    // Every chunk intact, but listed in the wrong order: the whole file's hash catches it.
    const swapped = [...entry!.chunks!];
    [swapped[1], swapped[2]] = [swapped[2]!, swapped[1]!];
    const tree = Buffer.from(JSON.stringify({ files: [{ ...entry, chunks: swapped }] }));
    const treeSha = sha256(tree);
    await fs.mkdir(path.dirname(objectFile(dir, treeSha)), { recursive: true });
    await fs.writeFile(objectFile(dir, treeSha), tree);
    const recordFile = path.join(dir, ".cairn", "experiments", `${run.id}.json`);
    const record = JSON.parse(await fs.readFile(recordFile, "utf8"));
    record.checkpoints[0].tree.sha256 = treeSha;
    await fs.writeFile(recordFile, JSON.stringify(record));
    await forgetSummary(path.join(dir, ".cairn"), run.id);
    const reordered = (await repository.getExperiment(run.id)).latest()!;
    const mismatch = (await reordered.read("weights.bin").catch((e: unknown) => e)) as CairnError;
    expect(mismatch.code).toBe("CORRUPT");
    expect(mismatch.message).toContain(entry!.sha256);
    expect(mismatch.message).toMatch(/chunks are intact/);
  });

  it("lets gc keep packs shared with a live checkpoint and delete the rest once their experiment is removed", async () => {
    const first = pseudoRandomBytes(48 * MiB, "gc v1");
    const second = withChangedRegion(first, 20 * MiB, 2 * MiB, "gc v2");
    const dir = await project();
    const repository = await open(dir);
    // Two experiments: the second's writer knows nothing of the first's chunks, but cuts the
    // same packs wherever the bytes are the same, and finds them stored.
    const record = async (bytes: Buffer): Promise<{ id: string; chunks: string[] }> => {
      await fs.writeFile(path.join(dir, "weights.bin"), bytes);
      const run = await repository.init({ path: "code" });
      await run.checkpoint({ path: "weights.bin" });
      await run.stop();
      const [entry] = await (await repository.getExperiment(run.id)).latest()!.files();
      return { id: run.id, chunks: [...new Set(entry!.chunks!.map((c) => chunkHolder(path.join(dir, ".cairn"), c).sha256))] };
    };
    const a = await record(first);
    const b = await record(second);
    const shared = a.chunks.filter((sha) => b.chunks.includes(sha));
    const onlyA = a.chunks.filter((sha) => !b.chunks.includes(sha));
    expect(shared.length).toBeGreaterThan(onlyA.length);
    expect(onlyA.length).toBeGreaterThan(0);
    // What the second experiment cost: the changed bytes and the packs around them, not the file.
    expect(await objectBytes(path.join(dir, ".cairn"))).toBeLessThan(first.length + 2 * MiB + 3 * 12 * MiB);

    expect((await repository.gc({ gracePeriodMs: 0 })).removed.filter((k) => k.startsWith("objects/"))).toEqual([]);
    await repository.remove([a.id]);
    const report = await repository.gc({ gracePeriodMs: 0 });
    for (const sha of onlyA) expect(report.removed).toContain(`objects/${sha.slice(0, 2)}/${sha}`);
    for (const sha of b.chunks) expect(await exists(objectFile(dir, sha))).toBe(true);
    expect((await (await repository.getExperiment(b.id)).latest()!.read("weights.bin")).equals(second)).toBe(true);

    await repository.remove([b.id]);
    await repository.gc({ gracePeriodMs: 0 });
    for (const sha of [...a.chunks, ...b.chunks]) expect(await exists(objectFile(dir, sha))).toBe(false);
  });
});

describe("large files in an S3 repository", () => {
  it("are chunked, share their unchanged chunks, and read back identical", async () => {
    const v0 = pseudoRandomBytes(16 * MiB, "s3 v0");
    const v1 = withChangedRegion(v0, 6 * MiB, Math.round(1.6 * MiB), "s3 v1");
    const dir = await project();
    const repository = await openRepository(s3RepositoryUrl(), { projectDirectory: dir });
    try {
      const run = await repository.init({ path: "code" });
      for (const bytes of [v0, v1]) {
        await fs.writeFile(path.join(dir, "weights.bin"), bytes);
        await run.checkpoint({ path: "weights.bin" });
      }
      await run.stop();
      let stored = 0;
      for await (const info of repository.storage.list("objects/")) stored += info.size;
      expect(stored).toBeLessThanOrEqual(16 * MiB + Math.round(1.6 * MiB) + 2 * max + MiB);
      const experiment = await repository.getExperiment(run.id);
      const [first, second] = await Promise.all(experiment.checkpoints.map(async (c) => (await c.files())[0]!.chunks!.map((chunk) => chunk.sha256)));
      expect(second!.filter((sha) => first!.includes(sha)).length).toBeGreaterThan(second!.length / 2);
      expect((await experiment.checkpoints[0]!.read("weights.bin")).equals(v0)).toBe(true);
      // The second version uses parts of the first's packs: open() joins each part from the
      // network's pieces, a checkout passes the pieces on as they are.
      expect((await experiment.checkpoints[1]!.read("weights.bin")).equals(v1)).toBe(true);
      const out = path.join(dir, "out");
      await experiment.checkpoints[1]!.checkout({ outputDirectory: out });
      expect((await fs.readFile(path.join(out, "weights.bin"))).equals(v1)).toBe(true);
    } finally {
      await repository.storage.close?.();
    }
  });
});

describe("recovery of chunked checkpoints", () => {
  const bytes = pseudoRandomBytes(40 * MiB, "recovery");

  /** The tree a clean run publishes for weights.bin holding `bytes`. */
  async function referenceTree(): Promise<string> {
    const dir = await project({ "weights.bin": bytes });
    const repository = await open(dir);
    const run = await repository.init({ path: "code" });
    await run.checkpoint({ path: "weights.bin" });
    await run.stop();
    return (await repository.getExperiment(run.id)).latest()!.tree!.sha256;
  }

  const SCRIPT = `
    const experiment = await cairn.init({ path: "code" });
    await experiment.checkpoint({ path: "weights.bin", metrics: { loss: 1 } });
    console.log("ready " + experiment.id);
    setInterval(() => {}, 1000);
  `;

  async function killed(after: (dir: string, id: string) => Promise<void>): Promise<{ dir: string; id: string }> {
    const dir = await project({ "weights.bin": bytes });
    const { child, done } = startScript(dir, SCRIPT);
    let output = "";
    child.stdout!.on("data", (d) => (output += d));
    await waitFor(() => output.includes("ready "), 30_000, "the checkpoint to be captured");
    const id = output.split("ready ")[1]!.trim().slice(0, 32);
    await after(dir, id);
    child.kill("SIGKILL");
    await done;
    return { dir, id };
  }

  async function expectRecovered(dir: string, id: string, tree: string): Promise<void> {
    const repository = await open(dir); // publishes what the dead writer left
    const checkpoint = (await repository.getExperiment(id)).latest()!;
    expect(checkpoint.tree!.sha256).toBe(tree);
    const [entry] = (await checkpoint.files()) as TreeEntry[];
    expect(entry!.chunks!.length).toBeGreaterThan(5);
    expect((await checkpoint.read("weights.bin")).equals(bytes)).toBe(true);
    expect(await fs.readdir(path.join(dir, ".cairn", "local", "spool"))).toEqual([]);
  }

  it("publishes the same chunked tree after SIGKILL in the middle of publishing", async () => {
    const tree = await referenceTree();
    // Killed as soon as checkpoint() returns: the publisher has only just begun cutting the file.
    const { dir, id } = await killed(async () => {});
    await expectRecovered(dir, id, tree);
  });

  it("publishes the same chunked tree after SIGKILL once the chunks were uploaded and the captured copy deleted", async () => {
    const tree = await referenceTree();
    const { dir, id } = await killed(async (dir, id) => {
      // Wait until the record with the checkpoint is out: the chunks are all in the repository
      // and only the spool's chunk list remembers them.
      await waitFor(async () => {
        const experiment = await (await open(dir, false)).getExperiment(id).catch(() => null);
        return (experiment?.checkpoints.length ?? 0) === 1;
      }, 30_000, "the checkpoint to be published");
      const spool = path.join(dir, ".cairn", "local", "spool", id);
      expect((await fs.readdir(path.join(spool, "chunks"))).filter((n) => n.endsWith(".json"))).toHaveLength(1);
    });
    await expectRecovered(dir, id, tree);
  });
});

describe("repositories written before chunking, or before packs", () => {
  /** A local repository holding one experiment written by hand, as an older writer would: `files` are the tree's entries, `objects` the objects to store. */
  async function oldRepository(version: string, objects: Buffer[], files: (put: (contents: Buffer) => Promise<string>) => Promise<object[]>): Promise<{ dir: string; root: string; checkpointId: string }> {
    const dir = await project();
    const root = path.join(dir, ".cairn");
    const put = (contents: Buffer): Promise<string> => putObject(root, contents);
    for (const contents of objects) await put(contents);
    const entries = await files(put);
    const treeSha = await put(Buffer.from(JSON.stringify({ files: entries })));
    const bytes = entries.reduce((sum, entry) => sum + (entry as { size: number }).size, 0);
    const id = "e510303c2a9f4d0b8e7f1a2b3c4d5e6f";
    const checkpointId = "3ccb2f1a2b3c4d5e6f708192a3b4c5d6";
    await fs.writeFile(path.join(root, "cairn.json"), JSON.stringify({ format: "cairn", version }));
    await fs.mkdir(path.join(root, "experiments"), { recursive: true });
    await fs.writeFile(
      path.join(root, "experiments", `${id}.json`),
      JSON.stringify({
        format: 1,
        id,
        created: "2026-11-28T10:00:00.000Z",
        params: { lr: 0.01 },
        path: dir,
        code: null,
        environment: {},
        git: null,
        dependencies: {},
        heartbeatIntervalMs: 5000,
        checkpoints: [
          { id: checkpointId, step: 0, created: "2026-11-28T10:01:00.000Z", metrics: { loss: 0.25 }, primaryMetric: { name: "loss", goal: "minimize" }, path: "weights.bin", tree: { sha256: treeSha, files: entries.length, bytes } },
        ],
        stopped: "2026-11-28T10:30:00.000Z",
        updated: "2026-11-28T10:30:00.000Z",
      }),
    );
    return { dir, root, checkpointId };
  }

  it("still read: a file stored whole, as format 1.0 writers stored every file", async () => {
    const bytes = pseudoRandomBytes(CHUNK_THRESHOLD_BYTES + 3 * MiB, "old writer");
    const fileSha = sha256(bytes);
    const { dir, root, checkpointId } = await oldRepository("1.0", [bytes], async () => [{ path: "weights.bin", size: bytes.length, sha256: fileSha, mode: 420 }]);

    const repository = await open(dir);
    const checkpoint = await repository.getCheckpoint(checkpointId.slice(0, 7));
    const [entry] = await checkpoint.files();
    expect(entry!.chunks).toBeUndefined();
    expect((await checkpoint.read("weights.bin")).equals(bytes)).toBe(true);
    const out = path.join(dir, "out");
    await checkpoint.checkout({ outputDirectory: out });
    expect((await fs.readFile(path.join(out, "weights.bin"))).equals(bytes)).toBe(true);
    // And gc counts the whole object as referenced.
    await repository.gc({ gracePeriodMs: 0 });
    expect(await exists(path.join(root, "objects", fileSha.slice(0, 2), fileSha))).toBe(true);
  });
});

describe("format 1.1 repositories (chunks stored alone)", () => {
  it("still read, verify and keep under gc; a file may mix chunks alone and in a pack", async () => {
    const bytes = pseudoRandomBytes(CHUNK_THRESHOLD_BYTES + 5 * MiB, "format 1.1 writer");
    const file = path.join(await project(), "weights.bin");
    await fs.writeFile(file, bytes);
    const chunks = await chunksOf(file);
    expect(chunks.length).toBeGreaterThan(4);
    // The first chunks alone, as 1.1 writers stored them; the last two in one pack, as 1.2 writers do.
    const alone = chunks.slice(0, -2);
    const packed = chunks.slice(-2);
    const pack = bytes.subarray(packed[0]!.offset, packed[1]!.offset + packed[1]!.size);
    const dir = path.dirname(file);
    const root = path.join(dir, ".cairn");
    const put = (contents: Buffer): Promise<string> => putObject(root, contents);
    for (const chunk of alone) await put(bytes.subarray(chunk.offset, chunk.offset + chunk.size));
    const packSha = await put(pack);
    const entry = {
      path: "weights.bin",
      size: bytes.length,
      sha256: sha256(bytes),
      mode: 420,
      chunks: [...alone.map((c) => ({ sha256: c.sha256, size: c.size })), ...packed.map((c) => ({ sha256: c.sha256, size: c.size, pack: packSha, offset: c.offset - packed[0]!.offset }))],
    };
    const repository = await open(dir, false);
    const run = await repository.init({ path: "code" });
    await run.stop();
    // Point a checkpoint of the recorded experiment at the hand-made tree, as a 1.1 writer would have.
    const treeSha = await put(Buffer.from(JSON.stringify({ files: [entry] })));
    const recordFile = path.join(root, "experiments", `${run.id}.json`);
    const record = JSON.parse(await fs.readFile(recordFile, "utf8"));
    const checkpointId = "3ccb2f1a2b3c4d5e6f708192a3b4c5d6";
    record.checkpoints = [{ id: checkpointId, step: 0, created: record.created, metrics: {}, primaryMetric: null, path: "weights.bin", tree: { sha256: treeSha, files: 1, bytes: bytes.length } }];
    await fs.writeFile(recordFile, JSON.stringify(record));
    await forgetSummary(root, run.id);

    const reopened = await open(dir, false);
    const checkpoint = await reopened.getCheckpoint(checkpointId);
    expect((await checkpoint.read("weights.bin")).equals(bytes)).toBe(true);
    const out = path.join(dir, "out");
    await checkpoint.checkout({ outputDirectory: out });
    expect((await fs.readFile(path.join(out, "weights.bin"))).equals(bytes)).toBe(true);
    const verified = await runCli(dir, ["verify"]);
    expect(verified.stderr + verified.stdout).not.toMatch(/corrupt|missing/i);
    expect(verified.code).toBe(0);
    await reopened.gc({ gracePeriodMs: 0 });
    for (const chunk of alone) expect(await exists(objectFile(dir, chunk.sha256))).toBe(true);
    expect(await exists(objectFile(dir, packSha))).toBe(true);

    // A chunk alone damaged in place is named as before.
    const victim = objectFile(dir, alone[1]!.sha256);
    const good = await fs.readFile(victim);
    await fs.writeFile(victim, Buffer.from(good.map((b) => b ^ 1)));
    const error = (await reopened.getCheckpoint(checkpointId).then((c) => c.read("weights.bin")).catch((e: unknown) => e)) as CairnError;
    expect(error.code).toBe("CORRUPT");
    expect(error.message).toContain(`objects/${alone[1]!.sha256.slice(0, 2)}/${alone[1]!.sha256}`);
  });
});

describe.each([
  { kind: "local folder", url: (dir: string) => path.join(dir, ".cairn") },
  { kind: "S3 bucket", url: () => s3RepositoryUrl() },
])("the same large file in two experiments ($kind)", ({ url }) => {
  it("is stored once: the second writer cuts the same packs and finds them stored", async () => {
    const bytes = pseudoRandomBytes(30 * MiB, "a base model");
    const dir = await project({ "base.bin": bytes });
    const repository = await openRepository(url(dir), { projectDirectory: dir });
    try {
      const packsOf = async (id: string): Promise<string[]> => ((await (await repository.getExperiment(id)).latest()!.files())[0]!.chunks ?? []).map((c) => c.pack!);
      const ids: string[] = [];
      for (let i = 0; i < 2; i++) {
        const run = await repository.init({ path: "code", params: { run: i } });
        await run.checkpoint({ path: "base.bin" });
        await run.stop();
        ids.push(run.id);
      }
      expect(await packsOf(ids[1]!)).toEqual(await packsOf(ids[0]!));
      let stored = 0;
      for await (const info of repository.storage.list("objects/")) stored += info.size;
      expect(stored).toBeLessThan(bytes.length + MiB);
    } finally {
      await repository.storage.close?.();
    }
  });
});

/**
 * Hostile repositories and hostile output folders, beyond what test/api/checkout.test.ts covers
 * (`..`, absolute paths, backslashes, empty segments, a symlinked folder in the output, case
 * collisions, a lying size at checkout). Here: a symlink or a FIFO where a file is to be written,
 * device and symlink modes in a file list, names that collide by Unicode form, names too long for
 * any file system, enormous declared sizes read through open(), paths given to open() that try
 * to leave the checkpoint, a git diff reference that tries to leave the repository, and a project
 * holding FIFOs and links to outside files when it is recorded. Nothing is read or written outside
 * the folders involved, nothing hangs, and every refusal says what is wrong.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CairnError, openRepository, type Repository } from "../../src/index.js";
import { listFiles, makeProject } from "../helpers/project.js";
import { forgetSummary } from "../helpers/record.js";

const projects: string[] = [];
afterEach(async () => {
  for (const dir of projects.splice(0)) await fs.rm(dir, { recursive: true, force: true });
});

const sha = (bytes: string | Buffer) => createHash("sha256").update(bytes).digest("hex");

async function setup(): Promise<{ dir: string; repository: Repository; experimentId: string }> {
  const dir = await makeProject({ "code/train.mjs": "// train\n", "model/a.bin": "AAA", "model/b.bin": "BBB" });
  projects.push(dir);
  const repository = await openRepository(path.join(dir, ".cairn"), { projectDirectory: dir });
  const run = await repository.init({ path: "code" });
  await run.checkpoint({ path: "model", metrics: { loss: 1 } });
  await run.stop();
  return { dir, repository, experimentId: run.id };
}

/** Writes an object into the local repository under its real hash. */
async function plantObject(dir: string, bytes: string | Buffer): Promise<string> {
  const digest = sha(bytes);
  await fs.mkdir(path.join(dir, ".cairn", "objects", digest.slice(0, 2)), { recursive: true });
  await fs.writeFile(path.join(dir, ".cairn", "objects", digest.slice(0, 2), digest), bytes);
  return digest;
}

/** Points the experiment's first checkpoint at a planted file list, as a hostile repository would. */
async function plantTree(dir: string, experimentId: string, files: unknown[]): Promise<void> {
  const digest = await plantObject(dir, JSON.stringify({ files }));
  await editRecord(dir, experimentId, (record) => {
    (record.checkpoints as { tree: { sha256: string } }[])[0]!.tree.sha256 = digest;
  });
}

async function editRecord(dir: string, experimentId: string, edit: (record: Record<string, unknown>) => void): Promise<void> {
  const file = path.join(dir, ".cairn", "experiments", `${experimentId}.json`);
  const record = JSON.parse(await fs.readFile(file, "utf8")) as Record<string, unknown>;
  edit(record);
  await fs.writeFile(file, JSON.stringify(record));
  await forgetSummary(path.join(dir, ".cairn"), experimentId);
}

async function failure(promise: Promise<unknown>): Promise<CairnError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CairnError);
  return error as CairnError;
}

describe("hostile output folders", () => {
  it("never writes through a symlink that stands where a file goes, even with force", async () => {
    const { dir, repository, experimentId } = await setup();
    const outside = path.join(dir, "outside.txt");
    await fs.writeFile(outside, "precious");
    const out = path.join(dir, "out");
    await fs.mkdir(path.join(out, "model"), { recursive: true });
    await fs.symlink(outside, path.join(out, "model", "a.bin"));
    const checkpoint = (await repository.experiments.get(experimentId)).latest()!;
    const error = await failure(checkpoint.checkout({ outputDirectory: out, force: true }));
    expect(error.code).toBe("UNSAFE_PATH");
    expect(error.message).toContain(path.join(out, "model", "a.bin"));
    expect(await fs.readFile(outside, "utf8")).toBe("precious");
  });

  it("refuses, without blocking, a FIFO or a link to a device where a file goes", async () => {
    const { dir, repository, experimentId } = await setup();
    const out = path.join(dir, "out");
    await fs.mkdir(path.join(out, "model"), { recursive: true });
    execFileSync("mkfifo", [path.join(out, "model", "a.bin")]);
    const checkpoint = (await repository.experiments.get(experimentId)).latest()!;
    // Opening a FIFO would wait forever for a writer: the refusal must come first.
    const fifo = await failure(checkpoint.checkout({ outputDirectory: out, force: true }));
    expect(fifo.code).toBe("CONFLICT");
    expect(fifo.message).toMatch(/not a regular file/);
    await fs.rm(path.join(out, "model", "a.bin"));
    await fs.symlink("/dev/null", path.join(out, "model", "a.bin"));
    expect((await failure(checkpoint.checkout({ outputDirectory: out, force: true }))).code).toBe("UNSAFE_PATH");
  });

  it("refuses when a folder on the way is a file", async () => {
    const { dir, repository, experimentId } = await setup();
    const out = path.join(dir, "out");
    await fs.mkdir(out);
    await fs.writeFile(path.join(out, "model"), "a file, not a folder");
    const error = await failure((await repository.experiments.get(experimentId)).latest()!.checkout({ outputDirectory: out }));
    expect(["UNSAFE_PATH", "CONFLICT"]).toContain(error.code);
    expect(await fs.readFile(path.join(out, "model"), "utf8")).toBe("a file, not a folder");
  });
});

describe("hostile file lists", () => {
  const aaa = sha("AAA");
  const cases: [string, unknown[], RegExp][] = [
    ["a character-device mode", [{ path: "model/a.bin", size: 3, sha256: aaa, mode: 0o20644 }], /mode is neither 0644 nor 0755/],
    ["a symlink mode", [{ path: "model/a.bin", size: 3, sha256: aaa, mode: 0o120777 }], /mode is neither 0644 nor 0755/],
    ["a setuid mode", [{ path: "model/a.bin", size: 3, sha256: aaa, mode: 0o4755 }], /mode is neither 0644 nor 0755/],
    ["a name longer than any file system allows", [{ path: `model/${"é".repeat(200)}`, size: 3, sha256: aaa, mode: 420 }], /longer than 255 bytes/],
    ["a NUL in a name", [{ path: "model/a\u0000.bin", size: 3, sha256: aaa, mode: 420 }], /NUL/],
    ["a Windows drive path", [{ path: "C:/Windows/evil.dll", size: 3, sha256: aaa, mode: 420 }], /absolute/],
    ["a path listed twice", [{ path: "model/a.bin", size: 3, sha256: aaa, mode: 420 }, { path: "model/a.bin", size: 3, sha256: aaa, mode: 420 }], /appears twice/],
    ["chunks that do not add up", [{ path: "model/a.bin", size: 3, sha256: aaa, mode: 420, chunks: [{ sha256: aaa, size: 2 ** 40 }] }], /add up/],
  ];
  for (const [name, files, message] of cases) {
    it(`refuses ${name}, naming the file list and the checkpoint`, async () => {
      const { dir, repository, experimentId } = await setup();
      await plantTree(dir, experimentId, files);
      const checkpoint = (await repository.experiments.get(experimentId)).latest()!;
      const out = path.join(dir, "out");
      for (const attempt of [checkpoint.checkout({ outputDirectory: out }), checkpoint.open("model/a.bin"), checkpoint.files()]) {
        const error = await failure(attempt);
        expect(error.code).toBe("CORRUPT");
        expect(error.message).toMatch(message);
        expect(error.message).toMatch(/Tree object objects\/[0-9a-f]{2}\/[0-9a-f]{64} is corrupt/);
        expect(error.message).toContain(`checkpoint ${checkpoint.id.slice(0, 7)} of experiment ${experimentId.slice(0, 7)}`);
      }
      expect(await listFiles(out).catch(() => [])).toEqual([]);
    });
  }

  it("refuses names that collide once Unicode forms are folded (é composed and decomposed)", async () => {
    const { dir, repository, experimentId } = await setup();
    const composed = "model/caf\u00e9.bin";
    const decomposed = "model/cafe\u0301.bin";
    await plantTree(dir, experimentId, [
      { path: composed, size: 3, sha256: sha("AAA"), mode: 420 },
      { path: decomposed, size: 3, sha256: sha("BBB"), mode: 420 },
    ]);
    const checkpoint = (await repository.experiments.get(experimentId)).latest()!;
    const error = await failure(checkpoint.checkout({ outputDirectory: path.join(dir, "out") }));
    expect(error.code).toBe("UNSAFE_PATH");
    expect(error.message).toMatch(/would collide/);
    expect(await listFiles(path.join(dir, "out")).catch(() => [])).toEqual([]);
  });

  it("reads only what is stored for an enormous declared size, then refuses it", async () => {
    const { dir, repository, experimentId } = await setup();
    // 4 PiB declared, whole and in chunks; three bytes stored.
    await plantTree(dir, experimentId, [
      { path: "model/a.bin", size: 2 ** 52, sha256: sha("AAA"), mode: 420 },
      { path: "model/b.bin", size: 2 ** 52, sha256: sha("x"), mode: 420, chunks: [{ sha256: sha("BBB"), size: 2 ** 52 }] },
    ]);
    const checkpoint = (await repository.experiments.get(experimentId)).latest()!;
    for (const file of ["model/a.bin", "model/b.bin"]) {
      const error = await failure(checkpoint.read(file));
      expect(error.code).toBe("CORRUPT");
      expect(error.message).toContain(file);
      expect(error.message).toMatch(/experiment [0-9a-f]{7}/);
    }
    const out = path.join(dir, "out");
    expect((await failure(checkpoint.checkout({ outputDirectory: out }))).code).toBe("CORRUPT");
    expect(await listFiles(out).catch(() => [])).toEqual([]);
  });

  it("open() finds only files the checkpoint lists: paths that leave it are not found", async () => {
    const { dir, repository, experimentId } = await setup();
    await fs.writeFile(path.join(dir, "secret.txt"), "not yours");
    const checkpoint = (await repository.experiments.get(experimentId)).latest()!;
    for (const attempt of ["../secret.txt", "../../secret.txt", path.join(dir, "secret.txt"), "model/../../secret.txt", "/etc/passwd", "..", "", "model/"]) {
      const error = await failure(checkpoint.open(attempt));
      expect(error.code, attempt).toBe("NOT_FOUND");
    }
  });
});

describe("hostile records", () => {
  it("a git diff reference that points outside the repository makes the record unreadable, nothing is read", async () => {
    const { dir, repository, experimentId } = await setup();
    await fs.writeFile(path.join(dir, "secret.txt"), "not yours");
    await editRecord(dir, experimentId, (record) => {
      record.git = { commit: null, branch: null, dirty: true, diff: "../../secret.txt", diffBytes: 9, remote: null };
    });
    const list = await repository.experiments.list();
    expect(list.map((e) => e.id)).not.toContain(experimentId);
    expect(list.problems.map((p) => p.message).join()).toMatch(/git\.diff is not a SHA-256/);
    // Found, but unreadable: the error names the damage rather than saying there is no such ID.
    const error = await failure(repository.experiments.get(experimentId));
    expect(error.code).toBe("CORRUPT");
    expect(error.message).toMatch(/git\.diff is not a SHA-256/);
  });

  it("a record stored under another experiment's name is refused", async () => {
    const { dir, repository, experimentId } = await setup();
    const other = "f".repeat(32);
    await fs.copyFile(path.join(dir, ".cairn", "experiments", `${experimentId}.json`), path.join(dir, ".cairn", "experiments", `${other}.json`));
    const list = await repository.experiments.list();
    expect(list.map((e) => e.id)).toEqual([experimentId]);
    expect(list.problems).toHaveLength(1);
    expect(list.problems[0]!.message).toMatch(/does not match the object's name/);
  });

  it("fields a listing uses with the wrong types make the record unreadable, not the listing", async () => {
    const { dir, repository, experimentId } = await setup();
    const healthy = await repository.init({ path: "code" });
    await healthy.stop();
    await editRecord(dir, experimentId, (record) => {
      (record.environment as Record<string, unknown>).command = "rm -rf /";
      (record.environment as Record<string, unknown>).gpus = "many";
    });
    const list = await repository.experiments.list();
    expect(list.map((e) => e.id)).toEqual([healthy.id]);
    expect(list.problems[0]!.message).toMatch(/environment\.command is not a list of strings/);
  });
});

describe("hostile projects being recorded", () => {
  it("a FIFO, a device link and a link to a file outside the project neither hang init() and checkpoint() nor end up stored", async () => {
    const dir = await makeProject({ "code/train.mjs": "// train\n", "model/weights.bin": "W" });
    projects.push(dir);
    const outside = await makeProject({ "credentials": "aws_secret_access_key = hunter2\n" });
    projects.push(outside);
    execFileSync("mkfifo", [path.join(dir, "code", "pipe")]);
    execFileSync("mkfifo", [path.join(dir, "model", "pipe")]);
    await fs.symlink("/dev/zero", path.join(dir, "code", "zero"));
    await fs.symlink("/dev/zero", path.join(dir, "model", "zero"));
    await fs.symlink(path.join(outside, "credentials"), path.join(dir, "code", "credentials"));
    const repository = await openRepository(path.join(dir, ".cairn"), { projectDirectory: dir });
    const run = await repository.init({ path: "code" });
    await run.checkpoint({ path: "model", metrics: { loss: 1 } });
    await run.stop();
    const experiment = await repository.experiments.get(run.id);
    expect((await experiment.codeFiles()).map((f) => f.path)).toEqual(["train.mjs"]);
    expect((await experiment.latest()!.files()).map((f) => f.path)).toEqual(["model/weights.bin"]);
    for (const file of await listFiles(path.join(dir, ".cairn"))) {
      expect((await fs.readFile(path.join(dir, ".cairn", file))).includes("hunter2"), file).toBe(false);
    }
  });
});

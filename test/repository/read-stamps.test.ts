import * as fs from "node:fs/promises";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CairnError } from "../../src/index.js";
import { listFiles, runCli } from "../helpers/project.js";
import { checkpointOf as recordCheckpoint, chunkHolder } from "../helpers/checkpoints.js";
import { pseudoRandomBytes } from "../helpers/random.js";

/**
 * Read stamps (src/repository/read-stamps.ts): a local repository's files that Cairn has verified
 * are not hashed again while their objects are unchanged, and are checked out by a kernel copy.
 * What must hold: the bytes are always the file's; any change to an object after it was stamped
 * (even with its modification time put back) makes the next read hash it and fail, naming it.
 */

const MiB = 1024 * 1024;

const projects: string[] = [];
afterEach(async () => {
  for (const dir of projects.splice(0)) await fs.rm(dir, { recursive: true, force: true });
});

/** checkpointOf, with the project removed after the test. */
async function checkpointOf(files: Record<string, Buffer>): ReturnType<typeof recordCheckpoint> {
  const made = await recordCheckpoint(files);
  projects.push(made.dir);
  return made;
}

const stampOf = (dir: string, sha: string): string => path.join(dir, ".cairn", "local", "verified", sha.slice(0, 2), sha);
const objectFile = (dir: string, sha: string): string => path.join(dir, ".cairn", "objects", sha.slice(0, 2), sha);

/** Flips one byte of a file in place, then puts its modification time back as it was. */
async function damageQuietly(file: string, at: number): Promise<void> {
  const before = await fs.stat(file);
  const bytes = await fs.readFile(file);
  bytes[at] = bytes[at]! ^ 0x40;
  await fs.writeFile(file, bytes);
  await fs.utimes(file, before.atime, before.mtime);
}

async function failure(promise: Promise<unknown>): Promise<CairnError> {
  const error = await promise.then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(CairnError);
  return error as CairnError;
}

describe("read stamps", () => {
  it("stamps a chunked file as it is published, and checkout() and open() give exactly its bytes", async () => {
    const bytes = pseudoRandomBytes(20 * MiB + 99, "stamped at publish");
    const { dir, checkpoint, entries } = await checkpointOf({ "weights.bin": bytes });
    expect(entries[0]!.chunks!.length).toBeGreaterThan(5);
    await fs.access(stampOf(dir, entries[0]!.sha256));

    const out = path.join(dir, "out");
    const progress: [number, number][] = [];
    const result = await checkpoint.checkout({ outputDirectory: out, onProgress: (done, total) => progress.push([done, total]) });
    expect(result.written).toEqual(["model/weights.bin"]);
    // Progress while the kernel copies: never backwards, never past the total, ending at it.
    expect(progress.at(-1)).toEqual([bytes.length, bytes.length]);
    for (let i = 1; i < progress.length; i++) expect(progress[i]![0]).toBeGreaterThanOrEqual(progress[i - 1]![0]);
    expect(progress.every(([done, total]) => total === bytes.length && done <= total)).toBe(true);
    expect(await listFiles(out)).toEqual(["model/weights.bin"]);
    expect((await fs.readFile(path.join(out, "model", "weights.bin"))).equals(bytes)).toBe(true);
    expect((await fs.stat(path.join(out, "model", "weights.bin"))).mode & 0o777).toBe(0o644);
    expect((await checkpoint.read("weights.bin")).equals(bytes)).toBe(true);

    // The CLI copies the same way, with its progress on stderr and the file whole.
    const cliOut = path.join(dir, "cli-out");
    const cli = await runCli(dir, ["checkout", checkpoint.id, "-o", cliOut]);
    expect(cli.code).toBe(0);
    expect((await fs.readFile(path.join(cliOut, "model", "weights.bin"))).equals(bytes)).toBe(true);
  });

  it("hashes a chunk again when it changed after it was stamped, even with its modification time put back", async () => {
    const bytes = pseudoRandomBytes(12 * MiB, "changed after stamping");
    const { dir, checkpoint, entries } = await checkpointOf({ "weights.bin": bytes });
    const { key, file, offset } = chunkHolder(path.join(dir, ".cairn"), entries[0]!.chunks![2]!);
    await fs.access(stampOf(dir, entries[0]!.sha256));
    await damageQuietly(file, offset + 1000);

    const out = path.join(dir, "out");
    const checkoutError = await failure(checkpoint.checkout({ outputDirectory: out }));
    expect(checkoutError.code).toBe("CORRUPT");
    expect(checkoutError.message).toContain(key);
    expect(await listFiles(out).catch(() => [])).toEqual([]);

    const readError = await failure(checkpoint.read("weights.bin"));
    expect(readError.code).toBe("CORRUPT");
    expect(readError.message).toContain(key);

    const cli = await runCli(dir, ["checkout", checkpoint.id, "-o", path.join(dir, "cli-out")]);
    expect(cli.code).toBe(5);
    expect(cli.stderr).toContain(key);
    expect(await listFiles(path.join(dir, "cli-out")).catch(() => [])).toEqual([]);
  });

  it("verifies a file with no stamp, then stamps it: a file stored whole is copied and still checked after a change", async () => {
    // Under the chunking threshold: stored whole (hard-linked from the spool), so not stamped
    // when published; the first verified read stamps it.
    const bytes = pseudoRandomBytes(3 * MiB + 7, "stored whole");
    const { dir, checkpoint, entries } = await checkpointOf({ "small.bin": bytes });
    expect(entries[0]!.chunks).toBeUndefined();
    await expect(fs.access(stampOf(dir, entries[0]!.sha256))).rejects.toThrow();

    expect((await checkpoint.read("small.bin")).equals(bytes)).toBe(true);
    await fs.access(stampOf(dir, entries[0]!.sha256));
    const out = path.join(dir, "out");
    await checkpoint.checkout({ outputDirectory: out });
    expect((await fs.readFile(path.join(out, "model", "small.bin"))).equals(bytes)).toBe(true);

    await damageQuietly(objectFile(dir, entries[0]!.sha256), 5);
    const again = path.join(dir, "again");
    const error = await failure(checkpoint.checkout({ outputDirectory: again }));
    expect(error.code).toBe("CORRUPT");
    expect(await listFiles(again).catch(() => [])).toEqual([]);
  });

  it("ignores a stamp that does not fit (torn, or for other objects) and reads with verification", async () => {
    const bytes = pseudoRandomBytes(10 * MiB, "torn stamp");
    const { dir, checkpoint, entries } = await checkpointOf({ "weights.bin": bytes });
    const stamp = stampOf(dir, entries[0]!.sha256);
    await fs.writeFile(stamp, '{"size":');
    expect((await checkpoint.read("weights.bin")).equals(bytes)).toBe(true);
    await fs.writeFile(stamp, JSON.stringify({ size: bytes.length, objects: [["0".repeat(64), "1-2-3-4"]] }));
    const out = path.join(dir, "out");
    await checkpoint.checkout({ outputDirectory: out });
    expect((await fs.readFile(path.join(out, "model", "weights.bin"))).equals(bytes)).toBe(true);
    // The verified read wrote a stamp that fits again.
    const rewritten = JSON.parse(await fs.readFile(stamp, "utf8")) as { objects: [string, string][] };
    expect(rewritten.objects.map(([sha]) => sha)).toEqual([...new Set(entries[0]!.chunks!.map((c) => chunkHolder(path.join(dir, ".cairn"), c).sha256))]);
  });

  it("`cairn verify` does not trust stamps: it hashes every object", async () => {
    const bytes = pseudoRandomBytes(10 * MiB, "verify ignores stamps");
    const { dir, entries } = await checkpointOf({ "weights.bin": bytes });
    const victim = chunkHolder(path.join(dir, ".cairn"), entries[0]!.chunks![1]!);
    await damageQuietly(victim.file, victim.offset + 77);
    const result = await runCli(dir, ["verify"]);
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toContain(victim.sha256);
  });
});

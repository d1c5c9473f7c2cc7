/**
 * A checkout from a bucket reads each pack into a pooled buffer and gives it back once every
 * byte of it is in the file (buffer-pool.ts). A buffer given back too early would be filled with
 * the next pack while its bytes still wait to be written: these tests check the lending rules,
 * then check out files from radosgw at once and one after the other and compare every byte.
 */
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import * as cairn from "../../src/index.js";
import { borrowBuffer, lendInViews, POOLED_BYTES, returnViews } from "../../src/storage/buffer-pool.js";
import { makeProject } from "../helpers/project.js";
import { s3RepositoryUrl } from "../helpers/repositories.js";

const projects: string[] = [];
afterEach(async () => {
  for (const dir of projects.splice(0)) await fs.rm(dir, { recursive: true, force: true });
});

const MiB = 1024 * 1024;
const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

describe("pooled buffers lent in views", () => {
  it("go back to the pool only once every byte lent has come back", () => {
    const first = borrowBuffer(3 * MiB);
    lendInViews([first.subarray(0, MiB), first.subarray(MiB, 3 * MiB)]);
    returnViews([first.subarray(0, MiB)]);
    // Two thirds still out: the next borrower gets other memory.
    const second = borrowBuffer(3 * MiB);
    expect(second.buffer).not.toBe(first.buffer);
    // Given back in other pieces than lent: bytes are what count.
    returnViews([first.subarray(MiB, 2 * MiB), first.subarray(2 * MiB, 3 * MiB)]);
    expect(borrowBuffer(MiB).buffer).toBe(first.buffer);
  });

  it("are never reused when part of what was lent does not come back, and other memory is left alone", () => {
    const pooled = borrowBuffer(2 * MiB);
    lendInViews([pooled]);
    returnViews([pooled.subarray(0, MiB)]);
    const plain = Buffer.allocUnsafeSlow(POOLED_BYTES);
    lendInViews([plain]);
    returnViews([plain]);
    for (let i = 0; i < 10; i++) {
      const next = borrowBuffer(MiB);
      expect(next.buffer).not.toBe(pooled.buffer);
      expect(next.buffer).not.toBe(plain.buffer);
    }
  });
});

describe("checkouts from a bucket with pooled reads", () => {
  it("write every byte right, checkouts at once and one after the other, and reuse the pool's memory", async () => {
    const dir = await makeProject({ "train.py": "print(1)\n" });
    projects.push(dir);
    const url = s3RepositoryUrl();
    const repository = await cairn.openRepository(url, { projectDirectory: dir });
    // Two runs, each one large file of many packs (about 8 MiB each).
    const files: Buffer[] = [];
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const run = await repository.init({ path: ".", params: { run: i } });
      const bytes = randomBytes(40 * MiB);
      await fs.writeFile(path.join(dir, "weights.bin"), bytes);
      await run.checkpoint({ path: "weights.bin", metrics: { loss: i } });
      await run.stop();
      files.push(bytes);
      ids.push(run.id);
    }
    const reader = await cairn.openRepository(url, { projectDirectory: dir });
    const checkout = async (i: number, name: string): Promise<Buffer> => {
      const out = path.join(dir, name);
      await (await reader.experiments.get(ids[i]!)).checkout({ outputDirectory: out });
      return fs.readFile(path.join(out, "weights.bin"));
    };
    const together = await Promise.all([checkout(0, "a"), checkout(1, "b")]);
    const after = [await checkout(1, "c"), await checkout(0, "d")];
    for (const [i, got] of [together[0], together[1], after[1], after[0]].entries()) expect(sha256(got!), `checkout ${i}`).toBe(sha256(files[i % 2]!));

    // The pool now holds buffers that last held packs of these files: reused memory, not fresh.
    const held: Buffer[] = [];
    for (let i = 0; i < 8; i++) held.push(borrowBuffer(POOLED_BYTES));
    const reused = held.filter((buffer) => files.some((file) => file.indexOf(buffer.subarray(0, 64)) >= 0));
    expect(reused.length).toBeGreaterThan(0);
  });
});

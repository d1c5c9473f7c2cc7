import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { afterEach, describe, expect, it } from "vitest";
import { CairnError } from "../../src/index.js";
import { READ_PIECE_BYTES } from "../../src/storage/file-writes.js";
import { listFiles, runCli, startScript } from "../helpers/project.js";
import { checkpointOf as recordCheckpoint, chunkHolder } from "../helpers/checkpoints.js";
import { pseudoRandomBytes } from "../helpers/random.js";

/**
 * Reading chunked files back (checkout, open): the bytes are exactly the file's, every read is
 * verified (the whole file's SHA-256, each chunk's size), and a damaged chunk fails the read with
 * the object named and nothing left in the output folder.
 */

const MiB = 1024 * 1024;

const projects: string[] = [];
afterEach(async () => {
  for (const dir of projects.splice(0)) await fs.rm(dir, { recursive: true, force: true });
});

function sha256(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** checkpointOf, with the project removed after the test. */
async function checkpointOf(files: Record<string, Buffer>): ReturnType<typeof recordCheckpoint> {
  const made = await recordCheckpoint(files);
  projects.push(made.dir);
  return made;
}

/** Corrupts one byte of an object in place (same size, so only a hash can tell). */
async function flipByte(file: string, at: number): Promise<Buffer> {
  const original = await fs.readFile(file);
  const flipped = Buffer.from(original);
  flipped[at] = flipped[at]! ^ 0x01;
  await fs.writeFile(file, flipped);
  return original;
}

describe("reading chunked files back", () => {
  it("open() streams exactly the file's bytes, in order, and checkout() writes them", async () => {
    const bytes = pseudoRandomBytes(21 * MiB + 4321, "open streams the bytes");
    const { dir, checkpoint, entries } = await checkpointOf({ "weights.bin": bytes });
    expect(entries[0]!.chunks!.length).toBeGreaterThan(5);

    const received: Buffer[] = [];
    for await (const piece of await checkpoint.open("model/weights.bin")) received.push(piece as Buffer);
    const whole = Buffer.concat(received);
    expect(whole.length).toBe(bytes.length);
    expect(whole.equals(bytes)).toBe(true);

    const streamed = path.join(dir, "streamed.bin");
    await pipeline(await checkpoint.open("weights.bin"), createWriteStream(streamed));
    expect((await fs.readFile(streamed)).equals(bytes)).toBe(true);
    // Piped into a file, in pieces a file write takes well, whatever the storage's reads.
    const writes: number[] = [];
    await pipeline(await checkpoint.open("weights.bin"), new Writable({ write: (piece: Buffer, _encoding, done) => done(null, writes.push(piece.length)) }));
    expect(writes.reduce((sum, n) => sum + n, 0)).toBe(bytes.length);
    expect(Math.max(...writes)).toBeLessThanOrEqual(READ_PIECE_BYTES);

    const out = path.join(dir, "out");
    const result = await checkpoint.checkout({ outputDirectory: out });
    expect(result.written).toEqual(["model/weights.bin"]);
    expect(await listFiles(out)).toEqual(["model/weights.bin"]);
    expect((await fs.readFile(path.join(out, "model", "weights.bin"))).equals(bytes)).toBe(true);
    // Checked out again: the file there is recognised by its hash, and left alone.
    const again = await checkpoint.checkout({ outputDirectory: out });
    expect(again).toMatchObject({ written: [], unchanged: ["model/weights.bin"] });
  });

  it("reads several chunked files at once, each verified on its own", async () => {
    const a = pseudoRandomBytes(12 * MiB, "first of two");
    const b = pseudoRandomBytes(9 * MiB + 17, "second of two");
    const { checkpoint } = await checkpointOf({ "a.bin": a, "b.bin": b });
    const [readA, readB, readA2] = await Promise.all([checkpoint.read("a.bin"), checkpoint.read("b.bin"), checkpoint.read("a.bin")]);
    expect(readA.equals(a)).toBe(true);
    expect(readB.equals(b)).toBe(true);
    expect(readA2.equals(a)).toBe(true);
  });

  it("lets a reader stop early, and later reads are still whole and verified", async () => {
    const bytes = pseudoRandomBytes(16 * MiB, "stop early");
    const { checkpoint } = await checkpointOf({ "weights.bin": bytes });
    for (let i = 0; i < 3; i++) {
      const stream = await checkpoint.open("weights.bin");
      let seen = 0;
      for await (const piece of stream) {
        seen += (piece as Buffer).length;
        if (seen > 2 * MiB) break; // destroys the stream
      }
      expect(stream.destroyed).toBe(true);
    }
    expect((await checkpoint.read("weights.bin")).equals(bytes)).toBe(true);
  });

  it("fails open() and checkout() on a chunk damaged in place, naming the object; the stream never ends and nothing is left in the folder", async () => {
    const bytes = pseudoRandomBytes(14 * MiB, "damaged chunk");
    const { dir, checkpoint, entries } = await checkpointOf({ "weights.bin": bytes });
    const chunks = entries[0]!.chunks!;
    for (const victim of [chunks[0]!, chunks[Math.floor(chunks.length / 2)]!, chunks.at(-1)!]) {
      const { key, file, offset } = chunkHolder(path.join(dir, ".cairn"), victim);
      const original = await flipByte(file, offset + victim.size - 1);

      const stream = await checkpoint.open("weights.bin");
      let ended = false;
      stream.on("end", () => (ended = true));
      const error = (await (async () => {
        for await (const _ of stream) void _;
      })().catch((e: unknown) => e)) as CairnError;
      expect(error).toBeInstanceOf(CairnError);
      expect(error.code).toBe("CORRUPT");
      expect(error.message).toContain(key);
      expect(error.message).toContain("weights.bin");
      expect(ended).toBe(false);

      const out = path.join(dir, "out");
      const checkoutError = (await checkpoint.checkout({ outputDirectory: out }).catch((e: unknown) => e)) as CairnError;
      expect(checkoutError).toBeInstanceOf(CairnError);
      expect(checkoutError.code).toBe("CORRUPT");
      expect(checkoutError.message).toContain(key);
      expect(await listFiles(out).catch(() => [])).toEqual([]);
      await fs.rm(out, { recursive: true, force: true });
      await fs.writeFile(file, original);
    }
    expect((await checkpoint.read("weights.bin")).equals(bytes)).toBe(true);
  });

  it("fails `cairn checkout` on a damaged chunk with the object named, leaving no file in the output folder", async () => {
    const bytes = pseudoRandomBytes(10 * MiB, "cli checkout");
    const { dir, checkpoint, entries } = await checkpointOf({ "weights.bin": bytes });
    const victim = chunkHolder(path.join(dir, ".cairn"), entries[0]!.chunks![1]!);
    await flipByte(victim.file, victim.offset + 12345);
    const out = path.join(dir, "cli-out");
    const result = await runCli(dir, ["checkout", checkpoint.id, "-o", out]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(victim.key);
    expect(await listFiles(out).catch(() => [])).toEqual([]);
  });

  it("does not keep a process alive when a chunked file is opened and never read", async () => {
    const bytes = pseudoRandomBytes(10 * MiB, "never read");
    const { dir, checkpoint } = await checkpointOf({ "weights.bin": bytes });
    const { child, done } = startScript(
      dir,
      `const checkpoint = await (await cairn.openRepository(".cairn")).getCheckpoint(${JSON.stringify(checkpoint.id)});
       const stream = await checkpoint.open("weights.bin");
       stream.once("readable", () => console.log("opened"));`,
    );
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    const result = await done.finally(() => clearTimeout(timer));
    expect(result.signal).toBeNull();
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("opened");
  });
});

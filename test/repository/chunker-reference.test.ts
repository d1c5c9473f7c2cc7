import { createHash } from "node:crypto";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { chunkFileInWorker } from "../../src/repository/chunk-worker.js";
import { chunkFile } from "../../src/repository/chunker.js";
import { makeProject } from "../helpers/project.js";
import { pseudoRandomBytes } from "../helpers/random.js";

/**
 * The chunker cuts exactly where docs/FORMAT.md ("Chunked files") says, byte for byte: the same
 * bytes must give the same chunks in every version of Cairn, or new checkpoints stop sharing
 * chunks with old ones. The reference below is the documented rule written as plainly as
 * possible (one byte per step, exact arithmetic on numbers below 2^34), to check the optimised cutter
 * (an unrolled loop on 32-bit integers) in-process and on the chunk worker.
 */

const KiB = 1024;
const MiB = 1024 * KiB;

const projects: string[] = [];
afterEach(async () => {
  for (const dir of projects.splice(0)) await fs.rm(dir, { recursive: true, force: true });
});

/** Chunk sizes by the rule of FORMAT.md, transcribed. */
function referenceSizes(bytes: Buffer): number[] {
  const gear: number[] = [];
  for (let i = 0; i < 256; i++) gear.push(createHash("sha256").update(Uint8Array.of(i)).digest().readUInt32BE(0));
  const sizes: number[] = [];
  let start = 0;
  while (start < bytes.length) {
    const remaining = bytes.length - start;
    // "a chunk ends at 4 MiB whatever the contents … the last chunk of a file may be shorter"
    let size = Math.min(remaining, 4 * MiB);
    if (remaining > 512 * KiB) {
      // "Starting at h = 0 with the byte at offset 524,288 of the chunk (no cut can fall before it)"
      let h = 0;
      for (let offset = 512 * KiB; offset < Math.min(remaining, 4 * MiB); offset++) {
        h = (h * 2 + gear[bytes[start + offset]!]!) % 2 ** 32;
        // "the top 21 bits of h are zero if that byte's offset in the chunk is below 1,048,576,
        // or the top 19 bits from that offset on"
        const bits = offset < 1 * MiB ? 21 : 19;
        if (h < 2 ** (32 - bits)) {
          size = offset + 1;
          break;
        }
      }
    }
    sizes.push(size);
    start += size;
  }
  return sizes;
}

describe("the chunker against the rule in FORMAT.md", () => {
  it("cuts random bytes, uniform bytes and every remainder length where the rule says", async () => {
    const files: Record<string, Buffer> = {
      // Random contents, then zeros (no content to cut at: 4 MiB chunks), then random again.
      "mixed.bin": Buffer.concat([pseudoRandomBytes(14 * MiB + 5, "mixed a"), Buffer.alloc(9 * MiB), pseudoRandomBytes(3 * MiB + 3, "mixed b")]),
    };
    // Lengths around the minimum and around the unrolled loops' remainders (0 to 3 bytes).
    for (const extra of [-1, 0, 1, 2, 3, 4, 5]) files[`short${extra}.bin`] = pseudoRandomBytes(512 * KiB + extra, `short ${extra}`);
    for (const extra of [1, 2, 3]) files[`max${extra}.bin`] = Buffer.alloc(4 * MiB + extra, 7);
    const dir = await makeProject(files);
    projects.push(dir);
    for (const [name, bytes] of Object.entries(files)) {
      const expected = referenceSizes(bytes);
      const sizes: number[] = [];
      for await (const chunk of chunkFile(path.join(dir, name))) sizes.push(chunk.size);
      expect(sizes, name).toEqual(expected);
      expect((await chunkFileInWorker(path.join(dir, name))).map((c) => c.size), `${name} on the worker`).toEqual(expected);
    }
  }, 120_000);
});

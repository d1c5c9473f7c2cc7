/**
 * Packs (src/repository/packs.ts): where a run of new chunks is cut into packs, and how a chunk
 * list becomes the reads that deliver it. The end-to-end behaviour (dedup, read-back, damage)
 * is in chunking.test.ts and readback.test.ts; these pin the rules FORMAT.md states.
 */
import { describe, expect, it } from "vitest";
import { endsPack, PACK_FULL_BYTES, PACK_MIN_BYTES, readSegments } from "../../src/repository/packs.js";

const MiB = 1024 * 1024;
/** A hash whose first 8 hex digits are `lead`. */
const hash = (lead: string): string => lead.padEnd(64, "0");

describe("endsPack", () => {
  it("never ends a pack under 4 MiB, always at 8 MiB or more, and in between after a chunk whose hash starts with a multiple of 4", () => {
    const selected = hash("0000000c"); // 12: a multiple of 4
    const other = hash("0000000d");
    expect(endsPack(PACK_MIN_BYTES - 1, selected)).toBe(false);
    expect(endsPack(PACK_MIN_BYTES, selected)).toBe(true);
    expect(endsPack(PACK_MIN_BYTES, other)).toBe(false);
    expect(endsPack(PACK_FULL_BYTES - 1, other)).toBe(false);
    expect(endsPack(PACK_FULL_BYTES, other)).toBe(true);
    expect(endsPack(12 * MiB, other)).toBe(true);
  });
});

describe("readSegments", () => {
  const [a, b, c, p, q] = ["a", "b", "c", "p", "q"].map((letter) => letter.repeat(64)) as [string, string, string, string, string];

  it("reads consecutive chunks of one pack together, and a chunk stored alone by itself", () => {
    const segments = readSegments([
      { sha256: a, size: 5, pack: p, offset: 0 },
      { sha256: b, size: 3, pack: p, offset: 5 },
      { sha256: c, size: 4 },
      { sha256: a, size: 7, pack: q, offset: 10 },
      { sha256: b, size: 2, pack: q, offset: 17 },
    ]);
    expect(segments).toEqual([
      { object: p, packed: true, offset: 0, size: 8, firstChunk: 0, chunks: 2 },
      { object: c, packed: false, offset: 0, size: 4, firstChunk: 2, chunks: 1 },
      { object: q, packed: true, offset: 10, size: 9, firstChunk: 3, chunks: 2 },
    ]);
  });

  it("starts a new read where a pack's chunks are not next to each other (a later version of a file, or a chunk repeated)", () => {
    const segments = readSegments([
      { sha256: a, size: 5, pack: p, offset: 0 },
      { sha256: c, size: 4, pack: p, offset: 9 },
      { sha256: b, size: 3, pack: q, offset: 0 },
      { sha256: a, size: 5, pack: p, offset: 0 },
    ]);
    expect(segments.map((s) => [s.object, s.offset, s.size])).toEqual([
      [p, 0, 5],
      [p, 9, 4],
      [q, 0, 3],
      [p, 0, 5],
    ]);
  });

  it("keeps two chunks stored alone apart, even when listed one after the other", () => {
    expect(readSegments([{ sha256: a, size: 5 }, { sha256: b, size: 3 }]).map((s) => s.object)).toEqual([a, b]);
  });
});

import { createCipheriv, createHash } from "node:crypto";

/**
 * A small seeded PRNG (mulberry32), so a failing fuzz or crash run can be replayed from its seed.
 *
 * @example
 * const next = random(42); next(); // 0.6011...
 */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Incompressible bytes that are the same on every run for one seed (an AES-CTR keystream), for
 * files that must chunk the same way each time.
 *
 * @example
 * const weights = pseudoRandomBytes(12 * 1024 * 1024, "weights v1");
 */
export function pseudoRandomBytes(size: number, seed: string): Buffer {
  const key = createHash("sha256").update(seed).digest().subarray(0, 16);
  const cipher = createCipheriv("aes-128-ctr", key, Buffer.alloc(16));
  return Buffer.concat([cipher.update(Buffer.alloc(size)), cipher.final()]);
}

/**
 * Hashing throughput (issue 7, target 3): at least 0.9x `openssl dgst -sha256` on the same file.
 *
 * Cairn's hashing paths, each on the same 1 GiB file of random bytes (read from the page cache,
 * like openssl's):
 *  - hashFile (src/repository/hash.ts): the whole-file SHA-256 that publishing computes for every
 *    captured file (spool.hashCaptured), and that checkout uses to recognise a file already there;
 *  - the SHA-256 of a verified read (src/repository/objects.ts, openFileStream): what checkout and
 *    open() verify a chunked file with, fed the file in chunk-sized buffers as they are read;
 *  - chunkAndHashFile (src/repository/chunk-worker.ts): publishing a large file cuts it into
 *    content-defined chunks and hashes each; it does more than hash (the gear rolling hash of the
 *    cut points runs in JavaScript), so it is shown against openssl for information.
 * Runs rotate with openssl's; medians of the per-side throughputs.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { GiB, MiB, formatBytes, formatSeconds, makeRandomFile, median, run, spread, time, warm } from "../lib.mjs";

export default {
  name: "hashing",
  target: "≥ 0.9x openssl dgst -sha256",
  async run({ quick, runs, directory, dist, log }) {
    const { hashFile } = await import(new URL("./repository/hash.js", dist).href);
    const { chunkAndHashFile } = await import(new URL("./repository/chunk-worker.js", dist).href);
    const size = quick ? 64 * MiB : GiB;
    const count = runs ?? 5;
    const file = path.join(directory, "model.bin");
    log(`writing a ${formatBytes(size)} file of random bytes`);
    await makeRandomFile(file, size);
    await warm(file);
    const { stdout } = await run("openssl", ["dgst", "-sha256", "-r", file]);
    const expected = stdout.split(" ")[0];

    const seconds = { openssl: [], hashFile: [], chunkedRead: [], chunks: [] };
    const sides = {
      async openssl() {
        seconds.openssl.push((await run("openssl", ["dgst", "-sha256", file])).seconds);
      },
      async hashFile() {
        let digest;
        seconds.hashFile.push(await time(async () => (digest = await hashFile(file))));
        if (digest.sha256 !== expected) throw new Error(`hashFile gave ${digest.sha256}, openssl ${expected}`);
      },
      async chunkedRead() {
        let digest;
        seconds.chunkedRead.push(await time(async () => (digest = await hashInChunks(file))));
        if (digest !== expected) throw new Error(`the read's hash gave ${digest}, openssl ${expected}`);
      },
      async chunks() {
        let chunks;
        seconds.chunks.push(await time(async () => (chunks = await chunkAndHashFile(file))));
        if (chunks.reduce((sum, c) => sum + c.size, 0) !== size) throw new Error("the chunks do not add up to the file");
      },
    };
    const order = Object.keys(sides);
    for (let i = 0; i < count; i++) {
      for (let k = 0; k < order.length; k++) await sides[order[(k + i) % order.length]]();
      log(`run ${i + 1}/${count}: openssl ${formatSeconds(seconds.openssl.at(-1))}, hashFile ${formatSeconds(seconds.hashFile.at(-1))}, read ${formatSeconds(seconds.chunkedRead.at(-1))}, chunk worker ${formatSeconds(seconds.chunks.at(-1))}`);
    }
    const rate = (values) => size / median(values);
    const openssl = { label: "openssl dgst -sha256", value: rate(seconds.openssl) };
    const note = (values) => `${spread(values)} for ${formatBytes(size)}; openssl ${spread(seconds.openssl)} (timed from spawn to exit).`;
    return [
      {
        label: `SHA-256 of a ${formatBytes(size)} file: hashFile (publishing, checkout)`,
        value: rate(seconds.hashFile),
        unit: "B/s",
        baseline: openssl,
        limit: { minRatio: 0.9 },
        note: `Streamed in 4 MiB reads, hashed on the calling thread while the next read runs; ${note(seconds.hashFile)}`,
      },
      {
        label: `SHA-256 of the same, as a chunked read verifies it`,
        value: rate(seconds.chunkedRead),
        unit: "B/s",
        baseline: openssl,
        limit: { minRatio: 0.9 },
        note: `The file read in 1.35 MiB pieces (the mean chunk), each read issued before the previous piece is hashed, as openFileStream reads ahead; hashed on the calling thread; ${note(seconds.chunkedRead)}`,
      },
      {
        label: `content-defined chunking + SHA-256 of each chunk (chunk worker)`,
        value: rate(seconds.chunks),
        unit: "B/s",
        baseline: openssl,
        limit: null,
        note: `Information: more work than hashing (FastCDC cut points, a JavaScript loop over about 60% of the bytes, then SHA-256 of every byte), on the publisher's worker thread in the background; ${note(seconds.chunks)}`,
      },
    ];
  },
};

/**
 * Reads `file` in chunk-sized buffers and hashes them as a chunked read does: one whole-file
 * SHA-256 on this thread, the next piece already being read while one is hashed.
 */
async function hashInChunks(file) {
  const handle = await fs.open(file, "r");
  try {
    const piece = Math.round(1.35 * MiB);
    const hash = createHash("sha256");
    const read = async (position) => {
      const buffer = Buffer.allocUnsafeSlow(piece);
      const { bytesRead } = await handle.read(buffer, 0, piece, position);
      return buffer.subarray(0, bytesRead);
    };
    let position = 0;
    let reading = read(0);
    for (;;) {
      const bytes = await reading;
      if (bytes.length === 0) break;
      position += bytes.length;
      reading = read(position);
      hash.update(bytes);
    }
    return hash.digest("hex");
  } finally {
    await handle.close();
  }
}

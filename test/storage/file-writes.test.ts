import { randomBytes } from "node:crypto";
import * as fs from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { afterEach, expect, test } from "vitest";
import { createFileWriteStream, FILE_WRITE_BYTES, writePieces } from "../../src/storage/file-writes.js";

const folders: string[] = [];
afterEach(async () => {
  for (const folder of folders.splice(0)) await fs.rm(folder, { recursive: true, force: true });
});
async function folder(): Promise<string> {
  const made = await fs.mkdtemp(path.join(os.tmpdir(), "cairn-file-writes-"));
  folders.push(made);
  return made;
}

/** A handle that keeps what each writev was given, and writes at most `short` bytes of each (a short write). */
function recordingHandle(short = Infinity): { handle: FileHandle; calls: number[][]; written: Buffer[] } {
  const calls: number[][] = [];
  const written: Buffer[] = [];
  const handle = {
    async writev(buffers: Buffer[]) {
      calls.push(buffers.map((b) => b.length));
      let left = Math.min(short, buffers.reduce((sum, b) => sum + b.length, 0));
      const bytesWritten = left;
      for (const buffer of buffers) {
        const take = Math.min(left, buffer.length);
        written.push(Buffer.from(buffer.subarray(0, take)));
        left -= take;
      }
      return { bytesWritten, buffers };
    },
  } as unknown as FileHandle;
  return { handle, calls, written };
}

test("pieces of every size are written in order, each call at most FILE_WRITE_BYTES and 1,024 buffers", async () => {
  const pieces = [randomBytes(6 * 1024 * 1024 + 7), Buffer.alloc(0), randomBytes(100), ...Array.from({ length: 3000 }, () => randomBytes(10)), randomBytes(FILE_WRITE_BYTES)];
  const { handle, calls, written } = recordingHandle();
  await writePieces(handle, pieces);
  expect(Buffer.concat(written).equals(Buffer.concat(pieces))).toBe(true);
  for (const call of calls) {
    expect(call.reduce((sum, n) => sum + n, 0)).toBeLessThanOrEqual(FILE_WRITE_BYTES);
    expect(call.length).toBeLessThanOrEqual(1024);
    expect(call).not.toContain(0);
  }
  // A 6 MiB pack goes out as 512 KiB writes, not one.
  expect(calls.length).toBeGreaterThanOrEqual(14);
});

test("a short write is continued where it stopped, within a piece or across pieces", async () => {
  const pieces = [randomBytes(1000), randomBytes(3), randomBytes(777_777)];
  for (const short of [1, 999, 1001, 4096]) {
    const { handle, written } = recordingHandle(short);
    await writePieces(handle, pieces);
    expect(Buffer.concat(written).equals(Buffer.concat(pieces))).toBe(true);
  }
});

test("the stream writes a real file whole, refuses an existing one with flags wx, and leaves the mode asked for", async () => {
  const dir = await folder();
  const file = path.join(dir, "model.bin");
  const pieces = Array.from({ length: 40 }, (_, i) => randomBytes(i * 37_000));
  await pipeline(Readable.from(pieces), createFileWriteStream(file, { flags: "wx", mode: 0o640, highWaterMark: 8 * 1024 * 1024 }));
  expect((await fs.readFile(file)).equals(Buffer.concat(pieces))).toBe(true);
  expect((await fs.stat(file)).mode & 0o777).toBe(0o640 & ~process.umask());
  await expect(pipeline(Readable.from([Buffer.from("x")]), createFileWriteStream(file, { flags: "wx" }))).rejects.toMatchObject({ code: "EEXIST" });
  expect((await fs.readFile(file)).equals(Buffer.concat(pieces))).toBe(true);
});

test("a source that fails half-way fails the pipeline and closes the file", async () => {
  const dir = await folder();
  const file = path.join(dir, "partial.bin");
  async function* failing(): AsyncGenerator<Buffer> {
    yield randomBytes(2 * 1024 * 1024);
    throw new Error("connection dropped");
  }
  await expect(pipeline(Readable.from(failing()), createFileWriteStream(file))).rejects.toThrow("connection dropped");
  // Closed: no descriptor of this process still points at the file.
  const open: string[] = [];
  for (const fd of await fs.readdir("/proc/self/fd")) open.push(await fs.readlink(`/proc/self/fd/${fd}`).catch(() => ""));
  expect(open).not.toContain(file);
});

/**
 * Helpers shared by the benchmark cases: timing, medians, subprocesses and big test files.
 * Benchmarks measure; they never assert on time (that is the harness's table, not a test).
 */
import { spawn } from "node:child_process";
import { randomFillSync } from "node:crypto";
import { createReadStream, readFileSync } from "node:fs";
import * as fs from "node:fs/promises";
import * as path from "node:path";

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

/**
 * The median of some numbers (the mean of the middle two for an even count).
 *
 * @example
 * median([3, 1, 2]); // 2
 */
export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/**
 * Seconds that `work` takes (high-resolution clock).
 *
 * @example
 * const seconds = await time(() => fs.copyFile(a, b));
 */
export async function time(work) {
  const start = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/**
 * CPU seconds (user + system) of this process, all threads included (the libuv pool too).
 *
 * @example
 * const before = cpuSeconds(); work(); const used = cpuSeconds() - before;
 */
export function cpuSeconds() {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
}

/**
 * CPU seconds of this process's finished children (Linux: /proc/self/stat cutime + cstime, in
 * 10 ms ticks); null elsewhere. Only meaningful when one child runs at a time.
 */
function childrenCpuSeconds() {
  try {
    const fields = readFileSync("/proc/self/stat", "utf8").split(") ")[1].split(" ");
    return (Number(fields[13]) + Number(fields[14])) / 100;
  } catch {
    return null;
  }
}

/**
 * Runs a command to completion; rejects with its stderr when it fails. Returns stdout, the wall
 * time in seconds from spawn to exit, and the child's CPU seconds (null when unknown).
 *
 * @example
 * const { seconds, cpu } = await run("cp", ["a", "b"]);
 */
export function run(command, args, options = {}) {
  return new Promise((resolve, reject) => {
    const cpuBefore = childrenCpuSeconds();
    const start = process.hrtime.bigint();
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], ...options });
    const out = [];
    const err = [];
    child.stdout.on("data", (chunk) => out.push(chunk));
    child.stderr.on("data", (chunk) => err.push(chunk));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const stdout = Buffer.concat(out).toString();
      const stderr = Buffer.concat(err).toString();
      const cpuAfter = childrenCpuSeconds();
      const cpu = cpuBefore === null || cpuAfter === null ? null : cpuAfter - cpuBefore;
      if (code === 0) resolve({ stdout, stderr, seconds, cpu });
      else reject(new Error(`${command} ${args.join(" ")} failed (${signal ?? `exit ${code}`}):\n${stderr || stdout}`));
    });
  });
}

/**
 * Runs a command as run() does, under `/usr/bin/time`, and adds its peak RSS in bytes (`peak`:
 * the kernel's VmHWM of the process, `%M`). The wall time includes starting `time` (a millisecond).
 *
 * @example
 * const { peak, seconds } = await runWithPeak(process.execPath, [cli, "checkout", id]);
 */
export async function runWithPeak(command, args, options = {}) {
  const result = await run("/usr/bin/time", ["-f", "cairn-bench-peak %M", command, ...args], options);
  const line = result.stderr.split("\n").find((l) => l.startsWith("cairn-bench-peak "));
  if (!line) throw new Error(`no peak RSS from /usr/bin/time:\n${result.stderr}`);
  return { ...result, peak: Number(line.split(" ")[1]) * 1024 };
}

/**
 * Writes `size` bytes of random data (incompressible, no repeated blocks) to `file`.
 *
 * @example
 * await makeRandomFile("/tmp/model.bin", 1024 * MiB);
 */
export async function makeRandomFile(file, size) {
  const handle = await fs.open(file, "w");
  const block = Buffer.alloc(16 * MiB);
  try {
    for (let written = 0; written < size; written += block.length) {
      randomFillSync(block);
      await handle.write(block, 0, Math.min(block.length, size - written));
    }
  } finally {
    await handle.close();
  }
}

/**
 * Reads a file once so later runs find it in the page cache (we cannot drop caches here).
 *
 * @example
 * await warm("/tmp/model.bin");
 */
export async function warm(file) {
  for await (const _ of createReadStream(file, { highWaterMark: 4 * MiB }));
}

/**
 * Flushes dirty pages so each timed run starts with the same amount of pending writeback.
 *
 * @example
 * await sync(); const seconds = await time(() => copy());
 */
export async function sync() {
  await run("sync", []);
}

/**
 * Formats seconds for people.
 *
 * @example
 * formatSeconds(0.0456); // "45.6 ms"
 */
export function formatSeconds(seconds) {
  if (seconds >= 1) return `${seconds.toFixed(2)} s`;
  if (seconds >= 1e-3) return `${(seconds * 1e3).toFixed(seconds >= 0.1 ? 0 : 1)} ms`;
  return `${(seconds * 1e6).toFixed(1)} µs`;
}

/**
 * Formats a byte count.
 *
 * @example
 * formatBytes(64 * MiB); // "64.0 MiB"
 */
export function formatBytes(bytes) {
  if (bytes >= GiB) return `${(bytes / GiB).toFixed(2)} GiB`;
  if (bytes >= MiB) return `${(bytes / MiB).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${bytes} B`;
}

/**
 * The spread of some runs, for a table's notes.
 *
 * @example
 * spread([0.61, 0.65, 0.7]); // "median of 3 (min 610 ms, max 700 ms)"
 */
export function spread(values, format = formatSeconds) {
  return `median of ${values.length} (min ${format(Math.min(...values))}, max ${format(Math.max(...values))})`;
}

/**
 * Writes new first bytes into `file`: unique contents for each run (so Cairn never meets bytes it
 * already holds), while the rest of the file stays in the page cache.
 *
 * @example
 * await stamp(source, run);
 */
export async function stamp(file, run) {
  const handle = await fs.open(file, "r+");
  try {
    const bytes = Buffer.alloc(16);
    bytes.writeUInt32LE(run, 0);
    bytes.writeDoubleLE(Date.now(), 8);
    await handle.write(bytes, 0, bytes.length, 0);
  } finally {
    await handle.close();
  }
}

/**
 * The sum of file sizes under a folder, recursively, leaving out top-level entries named in `skip`.
 *
 * @example
 * const bytes = await folderBytes(repositoryFolder, ["local"]);
 */
export async function folderBytes(folder, skip = []) {
  let total = 0;
  for (const entry of await fs.readdir(folder, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath ?? entry.path, entry.name);
    if (skip.includes(path.relative(folder, full).split(path.sep)[0])) continue;
    total += (await fs.stat(full)).size;
  }
  return total;
}

/**
 * A project folder for a case: `code/train.py` (so init() has a code snapshot) and a file of
 * `size` random bytes at `model.bin`. Returns both paths.
 *
 * @example
 * const { project, source } = await makeModelProject(directory, GiB);
 */
export async function makeModelProject(directory, size) {
  const project = path.join(directory, "project");
  await fs.mkdir(path.join(project, "code"), { recursive: true });
  await fs.writeFile(path.join(project, "code", "train.py"), "print('training')\n");
  const source = path.join(project, "model.bin");
  await makeRandomFile(source, size);
  return { project, source };
}

/**
 * Writes `file`: a script for a child process of its own (as an inference script would run) that
 * opens the repository at argv[2], pipes `open("model.bin")` of checkpoint argv[3] into the file
 * argv[4], and prints its time from opening the repository to the file closed, its CPU seconds
 * and its peak RSS as JSON. The S3 and local read-back cases time `open()` with it.
 *
 * @example
 * await writeOpenScript(path.join(directory, "read.mjs"), dist);
 * const { seconds, cpu, peakRss } = JSON.parse((await run(process.execPath, [script, url, id, out])).stdout);
 */
export async function writeOpenScript(file, dist) {
  await fs.writeFile(
    file,
    `import { createWriteStream, readFileSync } from "node:fs";
import { pipeline } from "node:stream/promises";
import * as cairn from ${JSON.stringify(dist)};
const [url, id, out] = process.argv.slice(2);
const started = process.hrtime.bigint();
const repository = await cairn.openRepository(url);
const checkpoint = await repository.getCheckpoint(id);
await pipeline(await checkpoint.open("model.bin"), createWriteStream(out));
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
const usage = process.resourceUsage();
const peakRss = Number(/VmHWM:\\s+(\\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"))[1]) * 1024;
process.stdout.write(JSON.stringify({ seconds, cpu: (usage.userCPUTime + usage.systemCPUTime) / 1e6, peakRss }));
`,
  );
  return file;
}

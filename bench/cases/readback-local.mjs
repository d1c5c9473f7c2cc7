/**
 * Reading back a chunked checkpoint from a local repository (issue 7, target 2, local part):
 * `checkpoint.checkout()`, `checkpoint.open()` streamed to a file, and the `cairn checkout` CLI,
 * each against `cp` of the same file on the same file system. Target: at most 1.3x cp.
 *
 * The checkpoint is one file of random bytes, large enough to be stored as content-defined
 * chunks (FORMAT.md: from 8 MiB), written through the public API (`checkpoint()`, `stop()`).
 * A read verifies the whole file's SHA-256 and each chunk's size (FORMAT.md) unless a read stamp
 * shows Cairn verified (or wrote) the file and its objects are unchanged since; the publisher
 * stamps what it chunks, so the main rows read a stamped file, and one row removes the stamp to
 * show a verified read. The notes also give `openssl dgst -sha256` of the same file: one SHA-256
 * pass, which a verified read cannot go below (SHA-256 is sequential; it can only overlap the copy).
 *
 * Fairness: the chunks and the source are read once beforehand so both sides copy from the page
 * cache (dropping caches is not possible here); `sync` before each timed side so neither
 * inherits the other's writeback; the order of the sides rotates from run to run. `open()`,
 * Node's own stream copy and a plain copy through one buffer run in processes of their own,
 * as an inference script would.
 */
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { cpuSeconds, formatBytes, formatSeconds, GiB, makeModelProject, median, MiB, run, spread, sync, time, warm, writeOpenScript } from "../lib.mjs";

export default {
  name: "readback-local",
  target: "≤ 1.3x cp",
  async run({ quick, runs, directory, cli, dist, log }) {
    const cairn = await import(dist);
    const size = quick ? 64 * MiB : GiB;
    const count = runs ?? (quick ? 3 : 5);
    log(`writing a ${formatBytes(size)} file of random bytes and checkpointing it`);
    const { project, source } = await makeModelProject(directory, size);
    const repositoryFolder = path.join(directory, "repository");
    const repository = await cairn.openRepository(repositoryFolder, { projectDirectory: project });
    const experiment = await repository.init({ path: "code", params: { bench: "readback" } });
    await experiment.checkpoint({ path: "model.bin", metrics: { loss: 0.5 }, primaryMetric: ["loss", "minimize"] });
    await experiment.stop();
    const checkpoint = (await repository.getExperiment(experiment.id)).latest();
    const [entry] = await checkpoint.files();
    if (entry?.size !== size || !entry.chunks) throw new Error(`the checkpoint holds ${JSON.stringify(entry && { ...entry, chunks: entry.chunks?.length })}, expected ${size} bytes in chunks`);
    // Nothing of the writer's spool stays behind to be read instead of the repository; the read
    // stamp the publisher wrote (local/verified/, FORMAT.md) stays, as it would for a user.
    await fs.rm(path.join(repositoryFolder, "local", "spool"), { recursive: true, force: true });
    const stamp = (sha) => path.join(repositoryFolder, "local", "verified", sha.slice(0, 2), sha);
    await fs.access(stamp(entry.sha256));
    // The same file stored whole, as format 1.0 writers stored every file: what chunking costs a read.
    const whole = (await (await cairn.openRepository(repositoryFolder)).getExperiment(await storeWholeTwin(repositoryFolder, experiment.id, entry, source))).latest();
    await warm(source);
    await warm(path.join(repositoryFolder, "objects", entry.sha256.slice(0, 2), entry.sha256));
    for (const sha of new Set(entry.chunks.map((chunk) => chunk.pack ?? chunk.sha256))) await warm(path.join(repositoryFolder, "objects", sha.slice(0, 2), sha));

    const out = path.join(directory, "out");
    const scripts = await writeChildScripts(directory, dist);
    const figures = { cp: [], checkout: [], checkoutCpu: [], unstamped: [], unstampedCpu: [], whole: [], open: [], openCpu: [], nodeCopy: [], bufferCopy: [], cli: [], version: [], openssl: [] };
    const check = async (file) => {
      const { stdout } = await run("openssl", ["dgst", "-sha256", "-r", file]);
      if (stdout.split(" ")[0] !== entry.sha256) throw new Error(`${file} differs from the checkpoint`);
    };
    const sides = {
      async cp() {
        await sync();
        figures.cp.push((await run("cp", [source, path.join(out, "cp-copy")])).seconds);
      },
      async checkout() {
        await sync();
        const before = cpuSeconds();
        figures.checkout.push(await time(() => checkpoint.checkout({ outputDirectory: path.join(out, "checkout") })));
        figures.checkoutCpu.push(cpuSeconds() - before);
        await check(path.join(out, "checkout", "model.bin"));
      },
      async unstamped() {
        // The stamp removed: the read hashes the whole file (and stamps it again).
        await fs.rm(stamp(entry.sha256));
        await sync();
        const before = cpuSeconds();
        figures.unstamped.push(await time(() => checkpoint.checkout({ outputDirectory: path.join(out, "unstamped") })));
        figures.unstampedCpu.push(cpuSeconds() - before);
        await check(path.join(out, "unstamped", "model.bin"));
        await fs.access(stamp(entry.sha256));
      },
      async whole() {
        await fs.rm(stamp(entry.sha256), { force: true });
        await sync();
        figures.whole.push(await time(() => whole.checkout({ outputDirectory: path.join(out, "whole") })));
        await check(path.join(out, "whole", "model.bin"));
        // That read stamped the file, now as one object: stamp it as chunks again for the others.
        await fs.rm(stamp(entry.sha256));
        for await (const piece of await checkpoint.open("model.bin")) void piece;
        await fs.access(stamp(entry.sha256));
      },
      async open() {
        await sync();
        const target = path.join(out, "open.bin");
        const answer = await runJson(scripts.open, [repositoryFolder, checkpoint.id, target]);
        figures.open.push(answer.seconds);
        figures.openCpu.push(answer.cpu);
        await check(target);
      },
      async nodeCopy() {
        // What open() streamed to a file cannot go below in Node: the same copy through user
        // space with Node's own streams, 1 MiB reads as open() makes from a local folder.
        await sync();
        const target = path.join(out, "node-copy.bin");
        figures.nodeCopy.push((await runJson(scripts.copy, [source, target])).seconds);
        await check(target);
      },
      async bufferCopy() {
        // The plainest copy through a process's memory: one buffer read into and written out
        // again and again, synchronously (no stream, no fresh memory, no overlap either).
        await sync();
        const target = path.join(out, "buffer-copy.bin");
        figures.bufferCopy.push((await runJson(scripts.bufferCopy, [source, target])).seconds);
        await check(target);
      },
      async cli() {
        await sync();
        figures.cli.push((await run(process.execPath, [cli, "checkout", checkpoint.id, "-R", repositoryFolder, "-o", path.join(out, "cli")], { cwd: project })).seconds);
        await check(path.join(out, "cli", "model.bin"));
      },
      async version() {
        figures.version.push((await run(process.execPath, [cli, "--version"])).seconds);
      },
      async openssl() {
        figures.openssl.push((await run("openssl", ["dgst", "-sha256", source])).seconds);
      },
    };
    const order = Object.keys(sides);
    for (let i = 0; i < count; i++) {
      await fs.rm(out, { recursive: true, force: true });
      await fs.mkdir(out);
      // Rotate the order: whatever runs first or last in a run gets no systematic advantage.
      for (let k = 0; k < order.length; k++) await sides[order[(k + i) % order.length]]();
      log(`run ${i + 1}/${count}: cp ${formatSeconds(figures.cp.at(-1))}, checkout() ${formatSeconds(figures.checkout.at(-1))}, open() ${formatSeconds(figures.open.at(-1))}, cairn checkout ${formatSeconds(figures.cli.at(-1))}`);
    }
    await fs.rm(out, { recursive: true, force: true });

    const cp = { label: "cp", value: median(figures.cp) };
    const paired = (values) => median(values.map((v, i) => v / figures.cp[i])).toFixed(2);
    const floor = `One SHA-256 pass over the file (openssl dgst, page cache) took ${formatSeconds(median(figures.openssl))}, ${(median(figures.openssl) / cp.value).toFixed(2)}x cp: the floor of a read that verifies the whole file's hash.`;
    return [
      {
        label: `checkout() of a chunked ${formatBytes(size)} checkpoint, local repository`,
        value: median(figures.checkout),
        unit: "s",
        baseline: cp,
        limit: { maxRatio: 1.3 },
        note:
          `Cairn ${spread(figures.checkout)}, CPU ${formatSeconds(median(figures.checkoutCpu))} (all threads); cp ${spread(figures.cp)} (timed from spawn to exit); ` +
          `median of the per-run ratios ${paired(figures.checkout)}x. ${entry.chunks.length} chunks (mean ${formatBytes(size / entry.chunks.length)}) in ${new Set(entry.chunks.map((chunk) => chunk.pack)).size} packs; ` +
          `the publisher stamped the file (local/verified/: its chunks hashed and written by Cairn, unchanged since), so the packs are not hashed again and are copied by the kernel (/bin/cat, copy_file_range) under a temporary name, renamed once their stat tokens are checked again. ${floor}`,
      },
      {
        label: `checkout() of the same with no read stamp (whole file hashed)`,
        value: median(figures.unstamped),
        unit: "s",
        baseline: cp,
        limit: null,
        note: `Information: the first read of a file Cairn did not write or verify on this machine (a repository copied from elsewhere, or written by another machine into a shared folder): read through Node, the whole file's SHA-256 and each chunk's size verified, then stamped. ${spread(figures.unstamped)}, CPU ${formatSeconds(median(figures.unstampedCpu))}; median of the per-run ratios ${paired(figures.unstamped)}x.`,
      },
      {
        label: `open() of the same, streamed to a file`,
        value: median(figures.open),
        unit: "s",
        baseline: cp,
        limit: { maxRatio: 1.3 },
        note: `Cairn ${spread(figures.open)}, CPU ${formatSeconds(median(figures.openCpu))}; median of the per-run ratios ${paired(figures.open)}x. pipeline(await checkpoint.open(file), fs.createWriteStream(target)) in a process of its own (as an inference script would), timed from opening the repository to the file closed: stamped, so not hashed, but every byte passes through the process (read a pack at a time, written by the stream). Against Node's own stream copy of the source (next row): ${(median(figures.open) / median(figures.nodeCopy)).toFixed(2)}x.`,
      },
      {
        label: `Node's own stream copy of the source file (the floor of open() streamed to a file)`,
        value: median(figures.nodeCopy),
        unit: "s",
        baseline: cp,
        limit: null,
        note: `Information: pipeline(fs.createReadStream(source, { highWaterMark: 1 MiB }), fs.createWriteStream(target)) in a process of its own, timed like open(), ${spread(figures.nodeCopy)}; median of the per-run ratios ${paired(figures.nodeCopy)}x. Every byte is copied into a fresh buffer and out again, where cp has the kernel copy (copy_file_range); what open() streamed to a file costs over this is Cairn's.`,
      },
      {
        label: `a plain copy through one reused 1 MiB buffer, synchronous reads and writes`,
        value: median(figures.bufferCopy),
        unit: "s",
        baseline: cp,
        limit: null,
        note: `Information: readSync into one 1 MiB buffer and writeSync out of it, in a loop, in a process of its own, timed like open(), ${spread(figures.bufferCopy)}; median of the per-run ratios ${paired(figures.bufferCopy)}x. No stream and no fresh memory, but reads and writes take turns where streams overlap them on libuv's threads: not a floor for open(). It and Node's stream copy both make the two copies every reader of bytes makes (page cache into the process, and back), where cp makes one inside the kernel (copy_file_range).`,
      },
      {
        label: `checkout() of the same file stored whole (not chunked)`,
        value: median(figures.whole),
        unit: "s",
        baseline: cp,
        limit: null,
        note: `Information: the same bytes stored as one object, as format 1.0 writers stored every file (a copy of the experiment written by hand in the documented layout), not stamped (hashed as read), ${spread(figures.whole)}. Chunked/whole, both hashed: ${(median(figures.unstamped) / median(figures.whole)).toFixed(2)}x.`,
      },
      {
        label: `cairn checkout (CLI) of the same`,
        value: median(figures.cli),
        unit: "s",
        baseline: cp,
        limit: null,
        note: `Information: the CLI in a subprocess, ${spread(figures.cli)}; it includes starting Node and loading the CLI, which \`cairn --version\` alone takes ${formatSeconds(median(figures.version))} (median). Minus that: ${(Math.max(0, median(figures.cli) - median(figures.version)) / cp.value).toFixed(2)}x cp.`,
      },
    ];
  },
};

/**
 * Adds to a local repository a copy of an experiment whose checkpoint holds `file` stored whole
 * (one object, no `chunks`), as format 1.0 writers stored it. Returns the copy's ID.
 */
async function storeWholeTwin(repositoryFolder, experimentId, entry, file) {
  const put = async (sha, write) => {
    await fs.mkdir(path.join(repositoryFolder, "objects", sha.slice(0, 2)), { recursive: true });
    await write(path.join(repositoryFolder, "objects", sha.slice(0, 2), sha));
  };
  await put(entry.sha256, (target) => fs.copyFile(file, target));
  const tree = Buffer.from(JSON.stringify({ files: [{ path: entry.path, size: entry.size, sha256: entry.sha256, mode: entry.mode }] }));
  const treeSha = createHash("sha256").update(tree).digest("hex");
  await put(treeSha, (target) => fs.writeFile(target, tree));
  const record = JSON.parse(await fs.readFile(path.join(repositoryFolder, "experiments", `${experimentId}.json`), "utf8"));
  record.id = randomBytes(16).toString("hex");
  record.checkpoints = [{ ...record.checkpoints.at(-1), id: randomBytes(16).toString("hex"), tree: { sha256: treeSha, files: 1, bytes: entry.size } }];
  await fs.writeFile(path.join(repositoryFolder, "experiments", `${record.id}.json`), JSON.stringify(record));
  return record.id;
}

/**
 * The sides that copy through a Node process, as scripts for a child process of their own
 * (as the S3 case runs its reader): in the benchmark's own process, after the cases before it,
 * Node's stream copy of 1 GiB took three times what it takes in a fresh one. Each prints its
 * time from the start of its work to the file closed (and open(), its CPU seconds: writeOpenScript
 * in lib.mjs).
 */
async function writeChildScripts(directory, dist) {
  const open = await writeOpenScript(path.join(directory, "open.mjs"), dist);
  const copy = path.join(directory, "copy.mjs");
  await fs.writeFile(
    copy,
    `import { createReadStream, createWriteStream } from "node:fs";
import { pipeline } from "node:stream/promises";
const [source, out] = process.argv.slice(2);
const started = process.hrtime.bigint();
await pipeline(createReadStream(source, { highWaterMark: ${MiB} }), createWriteStream(out));
process.stdout.write(JSON.stringify({ seconds: Number(process.hrtime.bigint() - started) / 1e9 }));
`,
  );
  const bufferCopy = path.join(directory, "buffer-copy.mjs");
  await fs.writeFile(
    bufferCopy,
    `import { closeSync, openSync, readSync, writeSync } from "node:fs";
const [source, out] = process.argv.slice(2);
const started = process.hrtime.bigint();
const input = openSync(source, "r");
const output = openSync(out, "w");
const buffer = Buffer.allocUnsafeSlow(${MiB});
for (let read; (read = readSync(input, buffer, 0, buffer.length, null)) > 0; ) {
  for (let written = 0; written < read; ) written += writeSync(output, buffer, written, read - written);
}
closeSync(input);
closeSync(output);
process.stdout.write(JSON.stringify({ seconds: Number(process.hrtime.bigint() - started) / 1e9 }));
`,
  );
  return { open, copy, bufferCopy };
}

async function runJson(script, args) {
  const { stdout } = await run(process.execPath, [script, ...args]);
  return JSON.parse(stdout);
}

/**
 * Memory (issue 7, target 8): peak RSS at most 300 MB while checkpointing, uploading, checking
 * out and opening a 10 GiB file: into and from a local repository, then into and from an S3
 * repository on radosgw (the same server as the S3 cases; its memstore holds the 10 GiB).
 *
 * Each operation runs in a child process of its own, through the public API, and its peak RSS is
 * what the kernel reports for it (`/usr/bin/time -f %M`, the child's VmHWM):
 *  - checkpoint: init(), checkpoint() of the file, then stop(), which publishes it (hashing and
 *    content-defined chunking included);
 *  - checkout: checkpoint.checkout() of that checkpoint into an empty folder;
 *  - open: pipeline(checkpoint.open(file), fs.createWriteStream(...)).
 * Baselines, measured the same way: `cp` of the file, and a Node process that loads Cairn and
 * does nothing (what any Node program of ours costs before it touches a file).
 * Disk: the file, the repository and one copy at a time (about 3x the file) at the peak; the
 * local repository is removed before the S3 part, whose open() keeps a copy in the object cache.
 */
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { GiB, MiB, formatBytes, formatSeconds, makeRandomFile, runWithPeak } from "../lib.mjs";
import { startS3Server } from "../s3-server.mjs";

const LIMIT = 300e6;

export default {
  name: "memory",
  target: "≤ 300 MB peak RSS",
  async run({ quick, directory, dist, log }) {
    const size = quick ? 64 * MiB : 10 * GiB;
    const project = path.join(directory, "project");
    await fs.mkdir(path.join(project, "code"), { recursive: true });
    await fs.writeFile(path.join(project, "code", "train.py"), "print('training')\n");
    const source = path.join(project, "model.bin");
    const repositoryFolder = path.join(directory, "repository");
    const output = path.join(directory, "out");
    const script = path.join(directory, "operation.mjs");
    await fs.writeFile(script, childProgram(fileURLToPath(dist)));
    log(`writing a ${formatBytes(size)} file of random bytes`);
    await makeRandomFile(source, size);

    /** Runs one operation in a child process; its peak RSS in bytes and its wall time. */
    const measure = async (command, args, env = process.env) => {
      const { peak, seconds, stdout } = await runWithPeak(command, args, { cwd: project, env });
      return { peak, seconds, stdout: stdout.trim() };
    };
    const nodeWith = (env, ...args) => measure(process.execPath, [script, ...args], env);
    const node = (...args) => nodeWith(process.env, ...args);

    log("checkpoint() and stop()");
    const checkpoint = await node("checkpoint", repositoryFolder, project);
    const checkpointId = checkpoint.stdout.split("\n").at(-1);
    // The spool is empty once published; what is left under local/ is not part of the repository.
    log("checkout()");
    const checkout = await node("checkout", repositoryFolder, checkpointId, path.join(output, "checkout"));
    await fs.rm(output, { recursive: true, force: true });
    log("open()");
    const open = await node("open", repositoryFolder, checkpointId, path.join(output, "open.bin"));
    await fs.rm(output, { recursive: true, force: true });
    log("cp");
    await fs.mkdir(output);
    const cp = await measure("cp", [source, path.join(output, "cp-copy")]);
    await fs.rm(output, { recursive: true, force: true });
    const idle = await node("idle");

    // The same through a bucket: the upload is what stop() waits for (checkpoint() only spools).
    await fs.rm(repositoryFolder, { recursive: true, force: true });
    log("starting radosgw");
    const server = await startS3Server(path.join(directory, "ceph"), { buckets: ["cairn"], memoryBytes: size + 4 * GiB });
    let s3;
    try {
      const env = server.childEnv({ CAIRN_QUIET: "1", CAIRN_CACHE_DIR: path.join(directory, "cache") });
      const bucket = "s3://cairn/memory";
      log("checkpoint() and stop() into S3");
      const upload = await nodeWith(env, "checkpoint", bucket, project);
      const uploadedId = upload.stdout.split("\n").at(-1);
      log("checkout() from S3");
      const s3Checkout = await nodeWith(env, "checkout", bucket, uploadedId, path.join(output, "checkout"));
      await fs.rm(output, { recursive: true, force: true });
      log("open() from S3");
      const s3Open = await nodeWith(env, "open", bucket, uploadedId, path.join(output, "open.bin"));
      await fs.rm(output, { recursive: true, force: true });
      s3 = { upload, checkout: s3Checkout, open: s3Open };
    } finally {
      await server.stop();
    }

    const baselineNote = `Baselines: cp peak RSS ${formatBytes(cp.peak)}; a Node process that loads Cairn and does nothing ${formatBytes(idle.peak)}.`;
    const row = (label, m, what, where = "local repository") => ({
      label: `peak RSS, ${label} a ${formatBytes(size)} file, ${where}`,
      value: m.peak,
      unit: "bytes",
      baseline: { label: "Node + Cairn, idle", value: idle.peak },
      limit: { max: LIMIT },
      note: `${what}; took ${formatSeconds(m.seconds)}. ${baselineNote}`,
    });
    return [
      row("checkpoint() + stop() of", checkpoint, "init(), checkpoint() (the copy into the spool), stop() (hashing, chunking and storing the chunks), in one child process"),
      row("checkout() of", checkout, "checkpoint.checkout() into an empty folder, whole-file SHA-256 verified"),
      row("open() streamed to a file, of", open, "pipeline(await checkpoint.open(file), fs.createWriteStream(target))"),
      row("checkpoint() + stop() (upload) of", s3.upload, "the same into s3://cairn/memory: stop() uploads the chunks, packed, several requests at a time", "S3 (radosgw)"),
      row("checkout() of", s3.checkout, "checkpoint.checkout() from the bucket into an empty folder, packs read ahead, whole-file SHA-256 verified", "S3 (radosgw)"),
      row("open() streamed to a file, of", s3.open, "pipeline(await checkpoint.open(file), fs.createWriteStream(target)) from the bucket; each pack is also kept in the object cache (CAIRN_CACHE_DIR)", "S3 (radosgw)"),
    ];
  },
};

/** The child's program: one operation through the public API, named by its first argument. */
function childProgram(distFile) {
  return `
import { createWriteStream } from "node:fs";
import { pipeline } from "node:stream/promises";
const cairn = await import(${JSON.stringify(distFile)});
const [operation, ...args] = process.argv.slice(2);
if (operation === "checkpoint") {
  const [repositoryFolder, project] = args;
  const repository = await cairn.openRepository(repositoryFolder, { projectDirectory: project });
  const experiment = await repository.init({ path: "code", params: { bench: "memory" } });
  const recorded = await experiment.checkpoint({ path: "model.bin", metrics: { loss: 1 } });
  await experiment.stop();
  console.log(recorded.id);
} else if (operation === "checkout") {
  const [repositoryFolder, id, output] = args;
  const checkpoint = await (await cairn.openRepository(repositoryFolder)).getCheckpoint(id);
  await checkpoint.checkout({ outputDirectory: output });
} else if (operation === "open") {
  const [repositoryFolder, id, target] = args;
  const checkpoint = await (await cairn.openRepository(repositoryFolder)).getCheckpoint(id);
  await (await import("node:fs/promises")).mkdir((await import("node:path")).dirname(target), { recursive: true });
  await pipeline(await checkpoint.open("model.bin"), createWriteStream(target));
} else if (operation !== "idle") {
  throw new Error("unknown operation " + operation);
}
`;
}

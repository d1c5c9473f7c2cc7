/**
 * Issue 7, targets 1 and 2 on S3: a 1 GiB file of random bytes into and out of an `s3://`
 * repository on a real radosgw (bench/s3-server.mjs, the server the storage tests use), against
 * rclone and `aws s3 cp` moving the same file to and from the same server, and against the
 * original product's method (a tar.gz of the checkpoint, uploaded, then downloaded and
 * untarred, one at a time).
 *
 * - blocking: checkpoint() in a training process, against `cp` of the file on the same disk.
 * - durable: from the checkpoint() call until stop() resolves (the record is written only after
 *   every byte is in the bucket), against the faster of `rclone copyto` and `aws s3 cp`.
 * - read-back: `cairn checkout <checkpoint>` (spawn to exit) and `open()` piped into a file (in a
 *   process of its own, from opening the repository to the file closed), each with an empty
 *   cache, against the faster of the two downloads (spawn to exit).
 * - memory: the peak RSS (VmHWM) of the training process, which holds the upload, and of the
 *   process reading with open().
 *
 * Every Cairn side runs in a child process of its own (as a training script would), with a fresh
 * cache folder, so no run profits from another's spool or cache. Runs alternate their order.
 * Each run's objects are deleted afterwards (radosgw keeps the bucket in memory). Needs rclone
 * and awscli: `bash scripts/bench-install.sh`. Run alone with `npm run bench -- --only s3-transfer`
 * (the case is named for what it measures: `--only s3` also picks `ls-s3`).
 */
import { existsSync } from "node:fs";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { formatBytes, formatSeconds, GiB, makeRandomFile, median, MiB, run, runWithPeak, spread, stamp, sync, warm, writeOpenScript } from "../lib.mjs";
import { startS3Server } from "../s3-server.mjs";

const CAIRN_BUCKET = "cairn";
const BASELINE_BUCKET = "baseline";

export default {
  name: "s3-transfer",
  target: "durable ≤ 1.1x, read-back ≤ 1.1x the faster of rclone and aws s3 cp",
  async run({ quick, runs, directory, cli, dist, log }) {
    const size = quick ? 64 * MiB : GiB;
    const count = runs ?? (quick ? 2 : 3);
    const aws = findAws();
    await requireCommand("rclone", ["version"]);

    log("starting radosgw");
    const server = await startS3Server(path.join(directory, "ceph"), { buckets: [CAIRN_BUCKET, BASELINE_BUCKET], memoryBytes: 16 * GiB });
    try {
      const env = server.childEnv({ ...rcloneEnv(server), CAIRN_QUIET: "1" });
      const project = path.join(directory, "project");
      await fs.mkdir(path.join(project, "code"), { recursive: true });
      await fs.writeFile(path.join(project, "code", "train.py"), "print('training')\n");
      const source = path.join(project, "model.bin");
      log(`writing a ${formatBytes(size)} file of random bytes`);
      await makeRandomFile(source, size);
      await warm(source);
      const scripts = await writeChildScripts(directory, dist);

      // Before each timed side: the disk's writeback done (sync), and the server's work left from
      // the side before (radosgw can stay busy for a second after a 1 GiB transfer) finished.
      const settled = [];
      const ready = async () => {
        await sync();
        settled.push(await server.settle());
      };
      const figures = { cp: [], blocking: [], durable: [], rss: [], rclonePut: [], awsPut: [], checkout: [], open: [], rcloneGet: [], awsGet: [], checkpointIds: [], readRss: [], checkoutRss: [], cpu: { checkout: [], rcloneGet: [], awsGet: [] } };
      for (let i = 0; i < count; i++) {
        await stamp(source, i);
        const repository = `s3://${CAIRN_BUCKET}/run-${i}`;
        const cache = path.join(directory, `cache-${i}`);
        const uploads = [
          async () => {
            await ready();
            figures.cp.push((await run("cp", [source, path.join(directory, "cp-copy")])).seconds);
            await fs.rm(path.join(directory, "cp-copy"));
          },
          async () => {
            await ready();
            const out = await runJson(scripts.write, [repository, project, String(i)], { ...env, CAIRN_CACHE_DIR: cache });
            figures.blocking.push(out.blocking);
            figures.durable.push(out.durable);
            figures.rss.push(out.peakRss);
            figures.checkpointIds.push(out.checkpointId);
          },
          async () => {
            await ready();
            figures.rclonePut.push((await run("rclone", ["copyto", source, `bench:${BASELINE_BUCKET}/rclone-${i}.bin`], { env })).seconds);
          },
          async () => {
            await ready();
            figures.awsPut.push((await run(aws, ["s3", "cp", "--only-show-errors", "--endpoint-url", server.endpoint, source, `s3://${BASELINE_BUCKET}/aws-${i}.bin`], { env })).seconds);
          },
        ];
        // Rotate the order: no side is always first after the other phase, or always last.
        for (const side of rotate(uploads, i)) await side();
        const checkpointId = figures.checkpointIds.at(-1);

        const downloads = [
          async () => {
            const out = path.join(directory, "checkout");
            await fs.rm(cache, { recursive: true, force: true });
            await ready();
            const checkout = await runWithPeak(process.execPath, [cli, "-R", repository, "checkout", checkpointId, "-o", out], { env: { ...env, CAIRN_CACHE_DIR: cache } });
            figures.checkout.push(checkout.seconds);
            figures.checkoutRss.push(checkout.peak);
            figures.cpu.checkout.push(checkout.cpu);
            await checkSame(path.join(out, "model.bin"), size);
            await fs.rm(out, { recursive: true });
          },
          async () => {
            const out = path.join(directory, "opened.bin");
            await fs.rm(cache, { recursive: true, force: true });
            await ready();
            const read = await runJson(scripts.read, [repository, checkpointId, out], { ...env, CAIRN_CACHE_DIR: cache });
            figures.open.push(read.seconds);
            figures.readRss.push(read.peakRss);
            await checkSame(out, size);
            await fs.rm(out);
          },
          async () => {
            const out = path.join(directory, "rclone.bin");
            await ready();
            const rclone = await run("rclone", ["copyto", `bench:${BASELINE_BUCKET}/rclone-${i}.bin`, out], { env });
            figures.rcloneGet.push(rclone.seconds);
            figures.cpu.rcloneGet.push(rclone.cpu);
            await checkSame(out, size);
            await fs.rm(out);
          },
          async () => {
            const out = path.join(directory, "aws.bin");
            await ready();
            const awsGet = await run(aws, ["s3", "cp", "--only-show-errors", "--endpoint-url", server.endpoint, `s3://${BASELINE_BUCKET}/aws-${i}.bin`, out], { env });
            figures.awsGet.push(awsGet.seconds);
            figures.cpu.awsGet.push(awsGet.cpu);
            await checkSame(out, size);
            await fs.rm(out);
          },
        ];
        for (const side of rotate(downloads, i)) await side();
        log(
          `run ${i + 1}/${count}: checkpoint() ${formatSeconds(figures.blocking.at(-1))} (cp ${formatSeconds(figures.cp.at(-1))}), durable ${formatSeconds(figures.durable.at(-1))} ` +
            `(rclone ${formatSeconds(figures.rclonePut.at(-1))}, aws ${formatSeconds(figures.awsPut.at(-1))}), checkout ${formatSeconds(figures.checkout.at(-1))}, ` +
            `open() ${formatSeconds(figures.open.at(-1))} (rclone ${formatSeconds(figures.rcloneGet.at(-1))}, aws ${formatSeconds(figures.awsGet.at(-1))}), peak RSS ${formatBytes(figures.rss.at(-1))}`,
        );
        // radosgw holds the bucket in memory: free this run's objects.
        await run("rclone", ["purge", `bench:${CAIRN_BUCKET}/run-${i}`], { env });
        await run("rclone", ["delete", `bench:${BASELINE_BUCKET}`], { env });
        await fs.rm(cache, { recursive: true, force: true });
      }

      log("the original product's method: tar.gz, upload, download, untar (once: gzip of 1 GiB takes a while)");
      const original = await timeTarGz({ directory, project, env, faster: fasterTool(figures, aws, server.endpoint) });

      const putBaseline = median(figures.rclonePut) <= median(figures.awsPut) ? { label: "rclone copyto", values: figures.rclonePut } : { label: "aws s3 cp", values: figures.awsPut };
      const getBaseline = median(figures.rcloneGet) <= median(figures.awsGet) ? { label: "rclone copyto", values: figures.rcloneGet } : { label: "aws s3 cp", values: figures.awsGet };
      const both = `rclone ${spread(figures.rclonePut)}; aws s3 cp ${spread(figures.awsPut)}`;
      const bothGet = `rclone ${spread(figures.rcloneGet)}; aws s3 cp ${spread(figures.awsGet)}`;
      const file = formatBytes(size);
      // Per run, against the faster of the two tools in that same run: less exposed to the
      // machine's load changing between runs than a ratio of medians.
      const perRun = (values, a, b) => median(values.map((v, i) => v / Math.min(a[i], b[i]))).toFixed(2);
      const durableRatio = perRun(figures.durable, figures.rclonePut, figures.awsPut);
      const checkoutRatio = perRun(figures.checkout, figures.rcloneGet, figures.awsGet);
      const openRatio = perRun(figures.open, figures.rcloneGet, figures.awsGet);
      return [
        {
          label: `checkpoint() blocking, ${file} file, S3 repository`,
          value: median(figures.blocking),
          unit: "s",
          baseline: { label: "cp", value: median(figures.cp) },
          limit: { maxRatio: 1.3 },
          note: `Cairn ${spread(figures.blocking)}; cp ${spread(figures.cp)} (spawn to exit); median of the per-run ratios ${median(figures.blocking.map((v, i) => v / figures.cp[i])).toFixed(2)}x. The spool is on the same disk as the file.`,
        },
        {
          label: `durable in the bucket (checkpoint() + stop()), ${file}, radosgw`,
          value: median(figures.durable),
          unit: "s",
          baseline: { label: putBaseline.label, value: median(putBaseline.values) },
          limit: { maxRatio: 1.1 },
          note: `Cairn ${spread(figures.durable)}, in a training process of its own; ${both} (spawn to exit, default settings); median of the per-run ratios to the faster tool ${durableRatio}x. Cairn stores the file as content-defined chunks of about 1.35 MiB in packs of 4-12 MiB (one PUT each, after a HEAD while packs are found present), the baselines as one multipart upload.`,
        },
        {
          label: `cairn checkout of the ${file} checkpoint from radosgw`,
          value: median(figures.checkout),
          unit: "s",
          baseline: { label: getBaseline.label, value: median(getBaseline.values) },
          limit: { maxRatio: 1.1 },
          note:
            `Cairn ${spread(figures.checkout)} (spawn to exit, empty cache, the whole file verified; one GET per pack; a checkout keeps no copy in the cache); ${bothGet}; median of the per-run ratios to the faster tool ${checkoutRatio}x. ` +
            `CPU time of each process (user + system, the server's not counted; on two cores the server's share decides much of the wall time): Cairn ${cpuMedian(figures.cpu.checkout)}, rclone ${cpuMedian(figures.cpu.rcloneGet)}, aws s3 cp ${cpuMedian(figures.cpu.awsGet)}. ` +
            `Sides rotate from run to run; before each, after a sync, the bench waited for radosgw and its OSD to use under 5% of a core: ${settled.length} waits, ${settled.filter((s) => s > 0).length} of them longer than 0 s, at most ${formatSeconds(Math.max(0, ...settled))}.`,
        },
        {
          label: `open() streamed to a file, ${file}, radosgw`,
          value: median(figures.open),
          unit: "s",
          baseline: { label: getBaseline.label, value: median(getBaseline.values) },
          limit: { maxRatio: 1.1 },
          note: `Cairn ${spread(figures.open)} (opening the repository to the file closed, empty cache, verified as read); median of the per-run ratios to the faster tool ${openRatio}x.`,
        },
        {
          label: `peak RSS of the training process while uploading ${file}`,
          value: Math.max(...figures.rss),
          unit: "bytes",
          limit: { max: 300 * MiB },
          note: `VmHWM of the process that called checkpoint() and stop(), the largest of ${figures.rss.length} runs (${figures.rss.map(formatBytes).join(", ")}).`,
        },
        {
          label: `peak RSS of the process reading ${file} with open()`,
          value: Math.max(...figures.readRss),
          unit: "bytes",
          limit: { max: 300 * MiB },
          note: `VmHWM of the process that piped open() into a file, the largest of ${figures.readRss.length} runs (${figures.readRss.map(formatBytes).join(", ")}).`,
        },
        {
          label: `peak RSS of \`cairn checkout\` of ${file} from radosgw`,
          value: Math.max(...figures.checkoutRss),
          unit: "bytes",
          limit: { max: 300 * MiB },
          note: `VmHWM of the checkout process (/usr/bin/time), the largest of ${figures.checkoutRss.length} runs (${figures.checkoutRss.map(formatBytes).join(", ")}): packs in flight (at most 8, about 24 MiB) and what the file stream holds (8 MiB).`,
        },
        {
          label: `original product's method, up: tar.gz + ${original.tool} upload, ${file}`,
          value: median(figures.durable),
          unit: "s",
          baseline: { label: "tar.gz + upload", value: original.up },
          limit: null,
          note: `Information: Cairn's time until durable against tar czf (${formatSeconds(original.tar)}) then ${original.tool} (${formatSeconds(original.upload)}), one run. Random bytes do not compress.`,
        },
        {
          label: `original product's method, down: download + untar, ${file}`,
          value: median(figures.checkout),
          unit: "s",
          baseline: { label: "download + tar xzf", value: original.down },
          limit: null,
          note: `Information: cairn checkout against ${original.tool} (${formatSeconds(original.download)}) then tar xzf (${formatSeconds(original.untar)}), one run.`,
        },
      ];
    } finally {
      await server.stop();
    }
  },
};

/** The median of CPU times in seconds, or "unknown" where the platform gave none. */
function cpuMedian(values) {
  const known = values.filter((value) => value !== null);
  return known.length === 0 ? "unknown" : formatSeconds(median(known));
}

/** `sides` starting from the one at `run` (modulo their count), the rest in order after it. */
function rotate(sides, run) {
  const start = run % sides.length;
  return [...sides.slice(start), ...sides.slice(0, start)];
}

/** The rclone remote "bench:" on the radosgw, from environment variables alone (no config file). */
function rcloneEnv(server) {
  return {
    RCLONE_CONFIG_BENCH_TYPE: "s3",
    RCLONE_CONFIG_BENCH_PROVIDER: "Ceph",
    RCLONE_CONFIG_BENCH_ENDPOINT: server.endpoint,
    RCLONE_CONFIG_BENCH_ACCESS_KEY_ID: server.accessKeyId,
    RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY: server.secretAccessKey,
    RCLONE_CONFIG_BENCH_REGION: server.region,
    RCLONE_CONFIG: "/dev/null",
  };
}

/** Debian's awscli, else one on PATH (e.g. pyenv's). */
function findAws() {
  for (const candidate of ["/usr/bin/aws", "/root/.pyenv/shims/aws"]) if (existsSync(candidate)) return candidate;
  return "aws";
}

async function requireCommand(command, args) {
  try {
    await run(command, args);
  } catch (error) {
    throw new Error(`${command} is needed for this case: run \`bash scripts/bench-install.sh\` as root (${error.message.split("\n")[0]})`);
  }
}

function fasterTool(figures, aws, endpoint) {
  return median(figures.rclonePut) + median(figures.rcloneGet) <= median(figures.awsPut) + median(figures.awsGet)
    ? { name: "rclone", put: (file, key) => ["rclone", ["copyto", file, `bench:${BASELINE_BUCKET}/${key}`]], get: (key, file) => ["rclone", ["copyto", `bench:${BASELINE_BUCKET}/${key}`, file]] }
    : { name: "aws s3 cp", put: (file, key) => [aws, ["s3", "cp", "--only-show-errors", "--endpoint-url", endpoint, file, `s3://${BASELINE_BUCKET}/${key}`]], get: (key, file) => [aws, ["s3", "cp", "--only-show-errors", "--endpoint-url", endpoint, `s3://${BASELINE_BUCKET}/${key}`, file]] };
}

async function timeTarGz({ directory, project, env, faster }) {
  const archive = path.join(directory, "checkpoint.tar.gz");
  await sync();
  const tar = (await run("tar", ["czf", archive, "-C", project, "model.bin"])).seconds;
  const upload = (await run(...faster.put(archive, "checkpoint.tar.gz"), { env })).seconds;
  await fs.rm(archive);
  const out = path.join(directory, "untarred");
  await fs.mkdir(out);
  await sync();
  const download = (await run(...faster.get("checkpoint.tar.gz", archive), { env })).seconds;
  const untar = (await run("tar", ["xzf", archive, "-C", out])).seconds;
  await fs.rm(out, { recursive: true });
  await fs.rm(archive);
  await run("rclone", ["delete", `bench:${BASELINE_BUCKET}`], { env });
  return { tool: faster.name, tar, upload, download, untar, up: tar + upload, down: download + untar };
}

/**
 * The two Cairn sides as scripts for a child process: a training process that checkpoints the
 * file and stops (timings and peak RSS on stdout), and a reader that pipes open() into a file
 * (writeOpenScript in lib.mjs).
 */
async function writeChildScripts(directory, dist) {
  const write = path.join(directory, "train.mjs");
  await fs.writeFile(
    write,
    `import { readFileSync } from "node:fs";
import * as cairn from ${JSON.stringify(dist)};
const [url, project, run] = process.argv.slice(2);
const repository = await cairn.openRepository(url, { projectDirectory: project });
const experiment = await repository.init({ path: "code", params: { run: Number(run) } });
const started = process.hrtime.bigint();
const checkpoint = await experiment.checkpoint({ path: "model.bin", metrics: { loss: 1 }, primaryMetric: ["loss", "minimize"] });
const returned = process.hrtime.bigint();
await experiment.stop();
const stopped = process.hrtime.bigint();
const peakRss = Number(/VmHWM:\\s+(\\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"))[1]) * 1024;
process.stdout.write(JSON.stringify({ blocking: Number(returned - started) / 1e9, durable: Number(stopped - started) / 1e9, peakRss, checkpointId: checkpoint.id }));
`,
  );
  const read = await writeOpenScript(path.join(directory, "read.mjs"), dist);
  return { write, read };
}

async function runJson(script, args, env) {
  const { stdout } = await run(process.execPath, [script, ...args], { env });
  return JSON.parse(stdout);
}

/** The copy has the right size (Cairn verifies every byte itself; the baselines check their own transfers). */
async function checkSame(file, size) {
  const stats = await fs.stat(file);
  if (stats.size !== size) throw new Error(`${file} holds ${stats.size} bytes, expected ${size}`);
}


/**
 * The S3 server of the benchmarks: the same throwaway Ceph radosgw the storage tests use
 * (scripts/servers/ceph.mjs), with the benchmarks' buckets made and the environment the AWS SDK,
 * the aws CLI, rclone and Cairn read. Every daemon runs under `setpriv --pdeathsig KILL`, so a
 * benchmark that is killed leaves none behind.
 */
import { readdir, readFile } from "node:fs/promises";
import * as path from "node:path";
import { startCeph } from "../scripts/servers/ceph.mjs";

// The AWS SDK warns on stderr about its future Node requirement: noise in a benchmark log.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

/**
 * Starts radosgw with all state under `root` and creates `buckets`. Resolves to the endpoint,
 * the keys and a `stop()`; `env` holds the variables the AWS SDK, the aws CLI and Cairn read.
 *
 * @example
 * const s3 = await startS3Server("/tmp/bench/ceph", { buckets: ["cairn", "baseline"] });
 * // ... spawn("aws", ["s3", "ls", "--endpoint-url", s3.endpoint], { env: { ...process.env, ...s3.env } })
 * await s3.stop();
 */
export async function startS3Server(root, { buckets = [], memoryBytes = 8 * 1024 ** 3 } = {}) {
  const ceph = await startCeph(root, { memoryBytes, user: "bench" });
  const { endpoint, accessKeyId, secretAccessKey } = ceph;
  const env = {
    AWS_ACCESS_KEY_ID: accessKeyId,
    AWS_SECRET_ACCESS_KEY: secretAccessKey,
    AWS_REGION: ceph.region,
    AWS_DEFAULT_REGION: ceph.region,
    AWS_ENDPOINT_URL: endpoint,
    AWS_ENDPOINT_URL_S3: endpoint,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  };
  try {
    const { S3Client, CreateBucketCommand } = await import("@aws-sdk/client-s3");
    const client = new S3Client({ endpoint, region: ceph.region, forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
    try {
      for (const bucket of buckets) await client.send(new CreateBucketCommand({ Bucket: bucket }));
    } finally {
      client.destroy();
    }
  } catch (error) {
    await ceph.stop();
    throw error;
  }
  const settle = (options) => settleDaemons(root, options);
  return { endpoint, region: ceph.region, accessKeyId, secretAccessKey, env, childEnv: (extra) => childEnv(env, extra), logs: ceph.logs, settle, stop: ceph.stop };
}

/**
 * The environment for a child process that talks to the server: this process's, the server's
 * variables and `extra`, without AWS_CA_BUNDLE (the endpoint is plain http; a CA bundle from the
 * environment only makes rclone's AWS SDK fail: "unable to load custom CA bundle").
 *
 * @example
 * spawn("rclone", ["lsd", "bench:"], { env: s3.childEnv({ CAIRN_QUIET: "1" }) });
 */
function childEnv(serverEnv, extra = {}) {
  const env = { ...process.env, ...serverEnv, ...extra };
  delete env.AWS_CA_BUNDLE;
  return env;
}

/**
 * Waits until the Ceph daemons started under `root` (monitor, OSD, radosgw: their command lines
 * name its ceph.conf) use less than `idleShare` of one core over `windowMs`, or `maxMs` passed;
 * resolves to the seconds waited beyond the first window. A side timed right after a large
 * upload otherwise shares the two cores with the server's work left from it.
 *
 * @example
 * const waited = await settleDaemons("/tmp/bench/ceph");
 */
export async function settleDaemons(root, { idleShare = 0.05, windowMs = 500, maxMs = 30_000 } = {}) {
  let before = await daemonsCpuSeconds(root);
  // The first window is the check itself: only windows after it count as waiting.
  for (let window = 0; ; window++) {
    await new Promise((resolve) => setTimeout(resolve, windowMs));
    const now = await daemonsCpuSeconds(root);
    if (now - before < (idleShare * windowMs) / 1000 || (window + 1) * windowMs >= maxMs) return (window * windowMs) / 1000;
    before = now;
  }
}

/** User + system CPU seconds of the processes whose command line names a file under `root`. */
async function daemonsCpuSeconds(root) {
  let total = 0;
  for (const pid of await readdir("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    const command = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    if (!command.includes(`${root}/`)) continue;
    const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => null);
    if (stat === null) continue;
    // Fields after the command name (which may hold spaces, in parentheses): utime and stime are 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    total += (Number(fields[11]) + Number(fields[12])) / 100; // clock ticks: 100 per second on Linux
  }
  return total;
}

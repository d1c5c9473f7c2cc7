/**
 * The S3 server of the benchmarks: the same throwaway Ceph radosgw the storage tests use
 * (scripts/servers/ceph.mjs), with the benchmarks' buckets made and the environment the AWS SDK,
 * the aws CLI, rclone and Cairn read. Every daemon runs under `setpriv --pdeathsig KILL`, so a
 * benchmark that is killed leaves none behind.
 */
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
  return { endpoint, region: ceph.region, accessKeyId, secretAccessKey, env, logs: ceph.logs, stop: ceph.stop };
}

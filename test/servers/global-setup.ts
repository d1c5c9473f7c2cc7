/**
 * vitest globalSetup: starts the real storage servers the tests run against, once per test run,
 * on 127.0.0.1: Ceph radosgw (S3), Azurite (Azure Blob) and the firebase-tools storage emulator
 * (GCS). Tests read their endpoints with `inject("cairnServers")` (see ./context.ts). A server
 * that cannot start fails the whole run, loudly: nothing is skipped.
 */
import { S3Client, CreateBucketCommand } from "@aws-sdk/client-s3";
import { BlobServiceClient } from "@azure/storage-blob";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import type { TestProject } from "vitest/node";
import { startAzurite, type AzuriteServer } from "./azurite.js";
import { startCeph, type CephServer } from "./ceph.js";
import type { TestServers } from "./context.js";
import { startGcsEmulator, type GcsEmulator } from "./gcs.js";

const ROOT_PREFIX = "cairn-test-servers-";
// The AWS SDK warns on stderr about its future Node requirement: noise in every test run.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
export const TEST_BUCKET = "cairn-test";

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  await removeStaleRoots();
  const root = await mkdtemp(path.join(os.tmpdir(), ROOT_PREFIX));
  await writeFile(path.join(root, "owner.pid"), String(process.pid));
  const started = Date.now();
  const results = await Promise.allSettled([
    startCeph(path.join(root, "ceph")).then(async (ceph) => (await createS3Bucket(ceph), ceph)),
    startAzurite(path.join(root, "azurite")).then(async (azurite) => (await createContainer(azurite), azurite)),
    startGcsEmulator(path.join(root, "gcs")),
  ]);
  const servers = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  const teardown = async () => {
    await Promise.allSettled(servers.map((s) => s.stop()));
    await rm(root, { recursive: true, force: true });
  };
  const failures = results.flatMap((r) => (r.status === "rejected" ? [String((r.reason as Error)?.message ?? r.reason)] : []));
  if (failures.length > 0) {
    // Keep the logs for a look; the folder name is in the message.
    await Promise.allSettled(servers.map((s) => s.stop()));
    throw new Error(
      `The storage test servers did not start (install what they need with \`bash scripts/ci-install.sh\` as root, and \`npm ci\`):\n` +
        failures.map((f) => `  - ${f}`).join("\n"),
    );
  }
  const [ceph, azurite, gcs] = servers as [CephServer, AzuriteServer, GcsEmulator];
  const context: TestServers = {
    s3: {
      endpoint: ceph.endpoint,
      region: ceph.region,
      accessKeyId: ceph.accessKeyId,
      secretAccessKey: ceph.secretAccessKey,
      bucket: TEST_BUCKET,
    },
    azure: {
      accountUrl: azurite.accountUrl,
      account: azurite.account,
      accountKey: azurite.accountKey,
      connectionString: azurite.connectionString,
      container: TEST_BUCKET,
    },
    gcs: { endpoint: gcs.endpoint, projectId: gcs.projectId, bucket: TEST_BUCKET },
    startMs: { ceph: ceph.startMs, azurite: azurite.startMs, gcs: gcs.startMs, total: Date.now() - started },
  };
  project.provide("cairnServers", context);
  if (process.env.CAIRN_SERVERS_TRACE) console.error(`test servers up: ${JSON.stringify(context.startMs)}`);
  return teardown;
}

async function createS3Bucket(ceph: CephServer): Promise<void> {
  const client = new S3Client({
    endpoint: ceph.endpoint,
    region: ceph.region,
    forcePathStyle: true,
    credentials: { accessKeyId: ceph.accessKeyId, secretAccessKey: ceph.secretAccessKey },
  });
  try {
    await client.send(new CreateBucketCommand({ Bucket: TEST_BUCKET }));
  } finally {
    client.destroy();
  }
}

async function createContainer(azurite: AzuriteServer): Promise<void> {
  await BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(TEST_BUCKET).create();
}

/** Removes the folders of earlier runs whose process is gone (a run killed before teardown). */
async function removeStaleRoots(): Promise<void> {
  const entries = await readdir(os.tmpdir()).catch(() => [] as string[]);
  for (const name of entries.filter((n) => n.startsWith(ROOT_PREFIX))) {
    const folder = path.join(os.tmpdir(), name);
    const owner = Number(await readFile(path.join(folder, "owner.pid"), "utf8").catch(() => "NaN"));
    if (Number.isInteger(owner) && isAlive(owner)) continue;
    await rm(folder, { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Large objects are read as parallel ranged requests (src/storage/parallel-download.ts) on S3,
 * GCS and Azure: what comes back is byte-identical, in order, and still verified above the
 * driver. A pass-through proxy in front of each server counts the GETs of an object.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import type { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { openRepository } from "../../src/index.js";
import { objectKey } from "../../src/repository/layout.js";
import { openStorage } from "../../src/storage/open.js";
import type { Storage } from "../../src/storage/storage.js";
import { makeProject } from "../helpers/project.js";
import { randomName } from "../helpers/unreachable.js";
import { startFaultProxy, type FaultProxy } from "../reliability/fault-proxy.js";
import { testServers } from "../servers/context.js";

const MiB = 1024 * 1024;
const servers = testServers();

// Credentials reach each driver through its SDK's own chain, as they reach users.
process.env.AWS_ACCESS_KEY_ID = servers.s3.accessKeyId;
process.env.AWS_SECRET_ACCESS_KEY = servers.s3.secretAccessKey;
process.env.AZURE_STORAGE_KEY = servers.azure.accountKey;
delete process.env.AWS_ENDPOINT_URL;
delete process.env.AWS_ENDPOINT_URL_S3;
delete process.env.STORAGE_EMULATOR_HOST;
delete process.env.AZURE_STORAGE_CONNECTION_STRING;
process.env.CAIRN_CACHE_DIR = await fs.mkdtemp(path.join(os.tmpdir(), "cairn-test-cache-"));

interface Service {
  name: string;
  /** Where the proxy forwards to. */
  target: string;
  /** A fresh repository URL and its storage settings, through the proxy at `endpoint`. */
  repository(endpoint: string): { url: string; settings: Record<string, unknown> };
}

const services: Service[] = [
  {
    name: "s3 (Ceph radosgw)",
    target: servers.s3.endpoint,
    repository: (endpoint) => ({ url: `s3://${servers.s3.bucket}/ranges-${randomName()}`, settings: { endpoint, forcePathStyle: true, region: servers.s3.region } }),
  },
  {
    name: "gcs (firebase-tools emulator)",
    target: servers.gcs.endpoint,
    repository: (endpoint) => ({ url: `gs://${servers.gcs.bucket}/ranges-${randomName()}`, settings: { endpoint, projectId: servers.gcs.projectId } }),
  },
  {
    name: "azure (Azurite)",
    target: servers.azure.accountUrl.replace(/\/[^/]+$/, ""),
    repository: (endpoint) => ({ url: `azure://${servers.azure.account}/${servers.azure.container}/ranges-${randomName()}`, settings: { endpoint: `${endpoint}/${servers.azure.account}` } }),
  },
];

async function readAll(stream: Readable | null): Promise<Buffer> {
  expect(stream).not.toBeNull();
  const parts: Buffer[] = [];
  for await (const part of stream!) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

describe.each(services)("parallel ranged downloads on $name", (service) => {
  let proxy: FaultProxy;
  beforeAll(async () => {
    proxy = await startFaultProxy(service.target, () => ({ kind: "pass" }));
  });
  afterAll(async () => {
    await proxy.close();
  });
  /** GET requests for the object named `sha256` since log entry `from`. */
  const gets = (sha256: string, from: number) => proxy.log.slice(from).filter((r) => r.method === "GET" && r.url.includes(sha256)).length;

  test("a large object comes back byte-identical, as several ranged requests; ranges and small objects too", async () => {
    const { url, settings } = service.repository(proxy.endpoint);
    // 5 MiB parts (the smallest partSizeMiB): 12 MiB is three ranged requests.
    const storage: Storage = await openStorage(url, { settings: { ...settings, partSizeMiB: 5 } });
    const large = randomBytes(12 * MiB + 12345);
    const file = path.join(await fs.mkdtemp(path.join(os.tmpdir(), "cairn-ranges-")), "large.bin");
    await fs.writeFile(file, large);
    const key = "objects/large-object";
    await storage.putFileIfAbsent(key, file);

    let from = proxy.log.length;
    expect((await readAll(await storage.getStream(key))).equals(large)).toBe(true);
    expect(gets("large-object", from)).toBe(3);

    // A range across part boundaries, and one that runs past the end.
    const start = 3 * MiB + 7;
    const end = 11 * MiB + 3;
    expect((await readAll(await storage.getStream(key, { start, end }))).equals(large.subarray(start, end + 1))).toBe(true);
    expect((await readAll(await storage.getStream(key, { start: 9 * MiB }))).equals(large.subarray(9 * MiB))).toBe(true);
    expect((await readAll(await storage.getStream(key, { start: large.length + 10 }))).length).toBe(0);

    // Small and empty objects: one request, as before.
    await storage.put("objects/small-object", "hello");
    from = proxy.log.length;
    expect((await readAll(await storage.getStream("objects/small-object"))).toString()).toBe("hello");
    expect(gets("small-object", from)).toBe(1);
    await storage.put("objects/empty-object", "");
    expect((await readAll(await storage.getStream("objects/empty-object"))).length).toBe(0);
    expect(await storage.getStream("objects/missing-object")).toBeNull();

    // A reader that stops early: the rest is not fetched, and nothing is left hanging. Straight
    // to the server, not through the proxy: connections cut mid-answer are none of its business.
    const direct = await openStorage(url, { settings: { ...service.repository(service.target).settings, partSizeMiB: 5 } });
    const partial = await direct.getStream(key);
    for await (const _ of partial!) break;
    await fs.rm(path.dirname(file), { recursive: true, force: true });
  });

  test("a large file stored whole is read in ranges through open() and checkout, verified; damage is found", async () => {
    const { url, settings } = service.repository(proxy.endpoint);
    // Under the 8 MiB chunking threshold, so the file is one object; in 5 MiB ranges, two requests.
    const weights = randomBytes(7 * MiB + 999);
    const project = await makeProject({ "code/train.py": "x = 1\n", "model.bin": weights });
    const storageSettings = { ...settings, partSizeMiB: 5 };
    const repository = await openRepository(url, { projectDirectory: project, storage: storageSettings });
    const run = await repository.init({ path: "code" });
    await run.checkpoint({ path: "model.bin", metrics: { loss: 1 } });
    await run.stop();

    const checkpoint = (await repository.getExperiment(run.id)).latest()!;
    const [entry] = await checkpoint.files();
    expect(entry!.chunks).toBeUndefined();
    let from = proxy.log.length;
    expect((await readAll(await checkpoint.open("model.bin"))).equals(weights)).toBe(true);
    expect(gets(entry!.sha256, from)).toBe(2);

    const out = path.join(project, "out");
    // A fresh cache: the checkout reads from the server again, not from the copy open() kept.
    process.env.CAIRN_CACHE_DIR = await fs.mkdtemp(path.join(os.tmpdir(), "cairn-test-cache-"));
    const fresh = await openRepository(url, { projectDirectory: project, storage: storageSettings });
    from = proxy.log.length;
    await (await fresh.getCheckpoint(checkpoint.id)).checkout({ outputDirectory: out });
    expect((await fs.readFile(path.join(out, "model.bin"))).equals(weights)).toBe(true);
    expect(gets(entry!.sha256, from)).toBe(2);

    // Damage in the second range only: the verification above the driver still sees it.
    const storage = await openStorage(url, { settings });
    const damaged = Buffer.from(weights);
    damaged[6 * MiB] = damaged[6 * MiB]! ^ 0xff;
    await storage.put(objectKey(entry!.sha256), damaged);
    process.env.CAIRN_CACHE_DIR = await fs.mkdtemp(path.join(os.tmpdir(), "cairn-test-cache-"));
    const again = await openRepository(url, { projectDirectory: project, storage: storageSettings });
    await expect(readAll(await (await again.getCheckpoint(checkpoint.id)).open("model.bin"))).rejects.toThrow(/corrupt/i);
    await fs.rm(project, { recursive: true, force: true });
  });
});

import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { openRepository, setDiagnosticSink, type Repository } from "../../../src/index.js";
import { openStorage } from "../../../src/storage/open.js";
import type { Storage } from "../../../src/storage/storage.js";
import { randomName } from "../../helpers/unreachable.js";
import { testServers } from "../../servers/context.js";

/**
 * The kinds of repository the reliability suite runs against: a local folder, and a prefix in
 * the S3 test server (Ceph radosgw, started for the whole run by test/servers/global-setup.ts).
 * Credentials and the endpoint reach Cairn the way they reach users: through the AWS SDK's
 * environment variables, never through cairn.yaml.
 */
export interface RepositoryKind {
  name: "local" | "s3";
  /** A new, empty repository URL (a folder under `scratch`, or a fresh S3 prefix). */
  newUrl(scratch: string): string;
  /** Environment for child processes (and this one) so Cairn reaches the repository. */
  env(): Record<string, string>;
  /** The raw storage under a URL, for planting damage and reading every byte. */
  storage(url: string): Promise<Storage>;
}

export const localKind: RepositoryKind = {
  name: "local",
  newUrl: (scratch) => path.join(scratch, `repo-${randomName()}`),
  env: () => ({}),
  storage: (url) => openStorage(url),
};

/**
 * The S3 kind. Its environment points the AWS SDK at `endpoint` (the server itself, or a
 * fault-injecting proxy in front of it).
 *
 * @example
 * const kind = s3Kind();
 */
export function s3Kind(endpoint?: string): RepositoryKind {
  const { s3 } = testServers();
  const env = {
    AWS_ACCESS_KEY_ID: s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    AWS_REGION: s3.region,
    // Both: the driver prefers the S3-specific one, which another helper may have set.
    AWS_ENDPOINT_URL: endpoint ?? s3.endpoint,
    AWS_ENDPOINT_URL_S3: endpoint ?? s3.endpoint,
  };
  return {
    name: "s3",
    newUrl: () => `s3://${s3.bucket}/reliability-${randomName()}${randomName()}`,
    env: () => env,
    // Straight to the server, whatever `endpoint` is: checks must not go through the faults.
    storage: (url) => openStorage(url, { settings: { endpoint: s3.endpoint, region: s3.region, forcePathStyle: true } }),
  };
}

/**
 * Sets the kind's variables in this process too (the checks open repositories here), plus a
 * private Cairn cache folder so spools of remote repositories stay inside the test's scratch.
 *
 * @example
 * useKindInThisProcess(kind, scratch);
 */
export function useKindInThisProcess(kind: RepositoryKind, cacheDirectory: string): void {
  for (const [name, value] of Object.entries(kind.env())) process.env[name] = value;
  process.env.CAIRN_CACHE_DIR = cacheDirectory;
  // The checks' own opens report through the library's sink; keep the test output clean.
  setDiagnosticSink(() => {});
}

/**
 * A project folder for the training script: its code, and a cairn.yaml naming the repository
 * (child processes get no CAIRN_REPOSITORY: the shared helpers strip it).
 *
 * @example
 * const project = await makeTrainingProject(scratch, url);
 */
export async function makeTrainingProject(scratch: string, url: string, name = `project-${randomName()}`): Promise<string> {
  const project = path.join(scratch, name);
  await fs.mkdir(path.join(project, "code"), { recursive: true });
  await fs.writeFile(path.join(project, "code", "train.mjs"), "// the training script lives in the test\n");
  await fs.writeFile(path.join(project, "cairn.yaml"), `repository: ${JSON.stringify(url)}\n`);
  return project;
}

/** A scratch folder for one test file, removed by the caller. */
export async function scratchFolder(label: string): Promise<string> {
  return fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), `cairn-reliability-${label}-`)));
}

/** Opens a repository without publishing left-over spools: what another machine would see. */
export function openAsAnotherMachine(url: string, projectDirectory: string): Promise<Repository> {
  return openRepository(url, { projectDirectory, recover: false });
}

/**
 * Every key and its bytes, for searching a whole repository (secrets) or comparing states.
 *
 * @example
 * for await (const { key, bytes } of everyByte(storage)) expect(bytes.includes(secret)).toBe(false);
 */
export async function* everyByte(storage: Storage): AsyncIterable<{ key: string; bytes: Buffer }> {
  const keys: string[] = [];
  for await (const info of storage.list("")) keys.push(info.key);
  for (const key of keys.sort()) {
    const bytes = await storage.get(key);
    if (bytes !== null) yield { key, bytes };
  }
}

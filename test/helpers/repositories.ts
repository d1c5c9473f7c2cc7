/**
 * The kinds of repository the core's scenario tests run against: a local folder, and an S3
 * prefix on the Ceph radosgw that test/servers/global-setup.ts starts. Use with describe.each:
 *
 *   describe.each(repositoryKinds())("training ($name)", (kind) => {
 *     it("...", async () => {
 *       const repository = await openRepository(kind.url(projectDirectory), { projectDirectory });
 *     });
 *   });
 */
import { mkdtempSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { testServers } from "../servers/context.js";
import { randomName } from "./unreachable.js";

export interface RepositoryKind {
  name: "local" | "s3";
  /** A fresh, empty repository for one test: a folder in the project, or a new S3 prefix. */
  url(projectDirectory: string): string;
  /**
   * Environment variables a child process (the CLI, a training script) needs to reach it:
   * for S3 the test credentials, the endpoint, the region and a private cache folder.
   */
  env(): Record<string, string>;
}

let s3Env: Record<string, string> | null = null;

/**
 * The S3 variables, also set on this process so in-process API calls reach radosgw through the
 * AWS SDK's default chain, as a user's would (once per test file; each file is its own process).
 *
 * @example
 * const env = s3Environment(); // { AWS_ACCESS_KEY_ID: "...", AWS_ENDPOINT_URL_S3: "http://127.0.0.1:..." }
 */
export function s3Environment(): Record<string, string> {
  if (s3Env === null) {
    const { s3 } = testServers();
    s3Env = {
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
      AWS_REGION: s3.region,
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
      // Spools and caches of these throwaway repositories stay out of the user's home.
      CAIRN_CACHE_DIR: mkdtempSync(path.join(os.tmpdir(), "cairn-test-cache-")),
    };
    Object.assign(process.env, s3Env);
  }
  return s3Env;
}

/** A fresh `s3://` repository URL (its own prefix in the test bucket). */
export function s3RepositoryUrl(): string {
  s3Environment();
  return `s3://${testServers().s3.bucket}/repositories/${Date.now().toString(36)}-${randomName()}`;
}

/**
 * Every repository kind the scenario tests should pass on.
 *
 * @example
 * describe.each(repositoryKinds())("reading ($name)", (kind) => { ... });
 */
export function repositoryKinds(): RepositoryKind[] {
  return [
    { name: "local", url: (projectDirectory) => path.join(projectDirectory, ".cairn"), env: () => ({}) },
    { name: "s3", url: () => s3RepositoryUrl(), env: () => s3Environment() },
  ];
}

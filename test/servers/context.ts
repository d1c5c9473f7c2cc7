import { inject } from "vitest";

/** What the test servers started by ./global-setup.ts offer the tests. */
export interface TestServers {
  s3: { endpoint: string; region: string; accessKeyId: string; secretAccessKey: string; bucket: string };
  azure: { accountUrl: string; account: string; accountKey: string; connectionString: string; container: string };
  gcs: { endpoint: string; projectId: string; bucket: string };
  /** Milliseconds each server took to start (and all of them together). */
  startMs: { ceph: number; azurite: number; gcs: number; total: number };
}

declare module "vitest" {
  export interface ProvidedContext {
    cairnServers: TestServers;
  }
}

/**
 * The running test servers' endpoints and test credentials.
 *
 * @example
 * const { s3 } = testServers();
 */
export function testServers(): TestServers {
  const servers = inject("cairnServers");
  if (!servers) throw new Error("The test servers are not running: vitest.config.ts must list test/servers/global-setup.ts in globalSetup.");
  return servers;
}

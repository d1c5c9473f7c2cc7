import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    // Real storage servers (Ceph radosgw, Azurite, the GCS emulator) for the storage tests.
    globalSetup: ["test/servers/global-setup.ts"],
  },
});

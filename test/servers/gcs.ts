import { mkdir, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { freePort } from "./ports.js";

export interface GcsEmulator {
  /** The JSON API endpoint, e.g. http://127.0.0.1:PORT (the form STORAGE_EMULATOR_HOST takes). */
  endpoint: string;
  projectId: string;
  startMs: number;
  stop(): Promise<void>;
}

// The emulator's internals (lib/emulator/...) are not a public API: firebase-tools is pinned to
// an exact version in package.json for this reason.
interface StorageEmulatorInstance {
  start(): Promise<void>;
  stop(): Promise<void>;
  _rulesRuntime: { start(): Promise<void>; stop(): Promise<void> };
}
type StorageEmulatorClass = new (args: Record<string, unknown>) => StorageEmulatorInstance;

/**
 * Starts the Cloud Storage emulator from firebase-tools inside this process, without its Java
 * rules engine (`firebase emulators:start` needs Java 21 and a download): the JSON API is plain
 * Node code. Limits, from the notes: buckets are implicit, preconditions (`ifGenerationMatch`)
 * are ignored, no copy/compose, no chunked resumable uploads, bodies up to 130 MB.
 *
 * @example
 * const gcs = await startGcsEmulator("/tmp/cairn-servers/gcs");
 * const storage = new Storage({ apiEndpoint: gcs.endpoint, projectId: gcs.projectId });
 */
export async function startGcsEmulator(root: string): Promise<GcsEmulator> {
  const started = Date.now();
  await mkdir(root, { recursive: true });
  const require = createRequire(import.meta.url);
  const { StorageEmulator } = require("firebase-tools/lib/emulator/storage/index.js") as { StorageEmulator: StorageEmulatorClass };
  const { EmulatorRegistry } = require("firebase-tools/lib/emulator/registry.js") as {
    EmulatorRegistry: { start(instance: unknown): Promise<void>; stop(name: string): Promise<void> };
  };
  const blobs = `${root}/blobs`;
  const noRules = { start: async () => [], stop: async () => {}, getRuleset: () => undefined };
  // Its default blob folder is one fixed path under the system temp folder, shared by every
  // emulator on the machine (and emptied by each one's stop): give this one its own.
  class PrivateEmulator extends (StorageEmulator as StorageEmulatorClass) {
    getPersistenceTmpDir(): string {
      return blobs;
    }
    createRulesManager(): unknown {
      return noRules;
    }
  }
  const projectId = "cairn-test";
  const port = await freePort();
  const emulator = new PrivateEmulator({ projectId, host: "127.0.0.1", port, auto_download: false });
  emulator._rulesRuntime.start = async () => {};
  emulator._rulesRuntime.stop = async () => {};
  try {
    // The registry is how the emulator finds its own URL for upload locations.
    await EmulatorRegistry.start(emulator);
  } catch (error) {
    throw new Error(`The GCS emulator (firebase-tools) did not start: ${(error as Error).message}`, { cause: error });
  }
  return {
    endpoint: `http://127.0.0.1:${port}`,
    projectId,
    startMs: Date.now() - started,
    async stop() {
      await EmulatorRegistry.stop("storage");
      await rm(root, { recursive: true, force: true });
    },
  };
}

import { mkdir } from "node:fs/promises";
import { createRequire } from "node:module";
import * as path from "node:path";
import { startDaemon } from "./daemon.js";
import { freePort, waitForPort } from "./ports.js";

/** Azurite's well-known development account (public, from Azurite's documentation). */
export const AZURITE_ACCOUNT = "devstoreaccount1";
export const AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

export interface AzuriteServer {
  /** The account's blob service URL, e.g. http://127.0.0.1:PORT/devstoreaccount1. */
  accountUrl: string;
  account: string;
  accountKey: string;
  connectionString: string;
  startMs: number;
  stop(): Promise<void>;
}

/**
 * Starts Azurite's blob service on 127.0.0.1, in memory. `--skipApiVersionCheck` because the
 * installed @azure/storage-blob speaks a newer API version than Azurite knows. The server is the
 * package's own script run by this Node (an `npx` wrapper would leave it running when killed).
 *
 * @example
 * const azurite = await startAzurite("/tmp/cairn-servers/azurite");
 */
export async function startAzurite(root: string): Promise<AzuriteServer> {
  const started = Date.now();
  await mkdir(root, { recursive: true });
  const port = await freePort();
  const script = createRequire(import.meta.url).resolve("azurite/dist/src/blob/main.js");
  const args = [
    script,
    "--blobHost", "127.0.0.1",
    "--blobPort", String(port),
    "--inMemoryPersistence",
    "--disableTelemetry",
    "--skipApiVersionCheck",
    "--silent",
  ];
  const daemon = startDaemon("azurite-blob", process.execPath, args, { logFile: path.join(root, "azurite.out"), cwd: root });
  try {
    await waitForPort(port, 30_000, () => daemon.exitMessage());
  } catch (error) {
    await daemon.stop();
    throw new Error(`Azurite did not start: ${(error as Error).message}. Is the azurite package installed (npm ci)?`, { cause: error });
  }
  const accountUrl = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  return {
    accountUrl,
    account: AZURITE_ACCOUNT,
    accountKey: AZURITE_KEY,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${accountUrl};`,
    startMs: Date.now() - started,
    stop: () => daemon.stop(),
  };
}

import { execSync } from "node:child_process";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { captureEnvironment } from "../../src/capture/index.js";
import { parseGpuList } from "../../src/capture/environment.js";

const temporaryFolders: string[] = [];

afterAll(async () => {
  await Promise.all(temporaryFolders.map((folder) => rm(folder, { recursive: true, force: true })));
});

/** Runs `body` with PATH holding only a folder with a fake nvidia-smi (or none at all). */
async function withFakeNvidiaSmi<T>(script: string | null, body: () => Promise<T>): Promise<T> {
  const folder = await mkdtemp(path.join(os.tmpdir(), "cairn-env-"));
  temporaryFolders.push(folder);
  if (script !== null) {
    const file = path.join(folder, "nvidia-smi");
    await writeFile(file, `#!/bin/sh\n${script}\n`);
    await chmod(file, 0o755);
  }
  const savedPath = process.env.PATH;
  process.env.PATH = folder;
  try {
    return await body();
  } finally {
    process.env.PATH = savedPath;
  }
}

describe("captureEnvironment", () => {
  it("describes the process and the machine", async () => {
    const environment = await captureEnvironment({ runtimes: { python: "3.11.2" } });
    expect(environment.user).toBe(os.userInfo().username);
    expect(environment.host).toBe(os.hostname());
    expect(environment.command[0]).toBe(path.basename(process.execPath));
    expect(environment.command.slice(-process.argv.length + 1)).toEqual(process.argv.slice(1));
    expect(environment.workingDirectory).toBe(process.cwd());
    expect(environment.node).toBe(process.versions.node);
    expect(environment.os).toBe(`${os.platform()} ${os.release()}`);
    expect(environment.arch).toBe(os.arch());
    expect(environment.cpu.length).toBeGreaterThan(0);
    expect(environment.cpus).toBeGreaterThan(0);
    expect(environment.memoryBytes).toBe(os.totalmem());
    expect(Array.isArray(environment.gpus)).toBe(true);
    expect(environment.runtimes).toEqual({ python: "3.11.2" });
  });

  it("records no environment variables", async () => {
    const savedValue = process.env.CAIRN_TEST_SECRET;
    process.env.CAIRN_TEST_SECRET = "hunter2-do-not-record";
    try {
      const environment = await captureEnvironment();
      expect(JSON.stringify(environment)).not.toContain("hunter2-do-not-record");
      expect(environment.runtimes).toEqual({});
    } finally {
      if (savedValue === undefined) delete process.env.CAIRN_TEST_SECRET;
      else process.env.CAIRN_TEST_SECRET = savedValue;
    }
  });

  it("reads GPUs from nvidia-smi", async () => {
    const environment = await withFakeNvidiaSmi(
      `echo "NVIDIA A100-SXM4-40GB, 40960 MiB, 535.54.03"\necho "Tesla T4, [N/A], 470.82.01"`,
      () => captureEnvironment(),
    );
    expect(environment.gpus).toEqual([
      { name: "NVIDIA A100-SXM4-40GB", memory: "40960 MiB", driver: "535.54.03" },
      { name: "Tesla T4", memory: null, driver: "470.82.01" },
    ]);
  });

  it("records no GPUs when nvidia-smi is missing or fails", async () => {
    expect((await withFakeNvidiaSmi(null, () => captureEnvironment())).gpus).toEqual([]);
    expect((await withFakeNvidiaSmi(`echo "NVIDIA-SMI has failed" >&2\nexit 9`, () => captureEnvironment())).gpus).toEqual([]);
  });

  it("gives up on nvidia-smi after a few seconds", async () => {
    const started = Date.now();
    const environment = await withFakeNvidiaSmi(`exec ${execSync("command -v sleep", { encoding: "utf8" }).trim()} 30`, () => captureEnvironment());
    expect(environment.gpus).toEqual([]);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

describe("parseGpuList", () => {
  it("keeps commas inside a name and skips blank or short lines", () => {
    expect(parseGpuList("Odd, Name GPU, 8192 MiB, 1.2.3\n\ngarbage\n")).toEqual([
      { name: "Odd, Name GPU", memory: "8192 MiB", driver: "1.2.3" },
    ]);
  });
});

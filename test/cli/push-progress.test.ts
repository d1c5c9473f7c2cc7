/**
 * `cairn push` of what a killed training script left on local disk, to an S3 repository: a
 * progress bar on a terminal, a plain summary otherwise. A proxy in front of radosgw holds each
 * object upload for a while, so the push lasts long enough for a bar. No timing is asserted.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { openRepository } from "../../src/index.js";
import { CLI, childEnvironment, makeProject, runCli, runScript } from "../helpers/project.js";
import { s3Environment, s3RepositoryUrl } from "../helpers/repositories.js";
import { startFaultProxy, type FaultProxy } from "../reliability/fault-proxy.js";
import { testServers } from "../servers/context.js";

const MiB = 1024 * 1024;

let proxy: FaultProxy;
beforeAll(async () => {
  s3Environment();
  proxy = await startFaultProxy(testServers().s3.endpoint, (request) =>
    request.method === "PUT" && request.url.includes("/objects/") ? { kind: "delay", ms: 1000 } : { kind: "pass" },
  );
});
afterAll(async () => {
  await proxy.close();
});
const projects: string[] = [];
afterEach(async () => {
  for (const dir of projects.splice(0)) await fs.rm(dir, { recursive: true, force: true });
});

/** A training script that checkpoints a 12 MiB model into an S3 repository and is killed before publishing it. */
async function leftOnDisk(): Promise<{ project: string; url: string; env: Record<string, string>; id: string }> {
  const project = await makeProject({ "code/train.py": "x = 1\n", "model.bin": randomBytes(12 * MiB) });
  projects.push(project);
  const url = s3RepositoryUrl();
  const env = { ...s3Environment(), AWS_ENDPOINT_URL_S3: proxy.endpoint, CAIRN_CACHE_DIR: await fs.mkdtemp(path.join(os.tmpdir(), "cairn-test-cache-")), REPOSITORY: url };
  const result = await runScript(
    project,
    `const repository = await cairn.openRepository(process.env.REPOSITORY, { projectDirectory: process.cwd() });
     const run = await repository.init({ path: "code" });
     await run.checkpoint({ path: "model.bin", metrics: { loss: 1 } });
     process.stdout.write(run.id);
     process.kill(process.pid, "SIGKILL");`,
    env,
  );
  expect(result.signal).toBe("SIGKILL");
  return { project, url, env, id: result.stdout.trim() };
}

async function expectPublished(url: string, id: string): Promise<void> {
  const experiment = await (await openRepository(url)).getExperiment(id);
  expect((await experiment.latest()!.files())[0]!.size).toBe(12 * MiB);
}

describe("cairn push progress", () => {
  it("prints a plain summary when stderr is not a terminal", async () => {
    const { project, url, env, id } = await leftOnDisk();
    const result = await runCli(project, ["-R", url, "push"], env);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${id}\n`);
    expect(result.stderr).toMatch(new RegExp(`^Sent 12 MiB in [1-9]\\d* files? to ${url.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}\\.$`, "m"));
    expect(result.stderr).toMatch(/^Published 1 experiment\.$/m);
    expect(result.stderr).not.toMatch(/\r|\x1b\[/);
    await expectPublished(url, id);
  });

  it("draws a bar when stderr is a terminal", async () => {
    const { project, url, env, id } = await leftOnDisk();
    // util-linux `script` gives the CLI a pseudo-terminal and copies what it prints to stdout.
    const result = await new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = spawn("script", ["-qfec", `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} -R ${url} push`, "/dev/null"], {
        cwd: project,
        env: childEnvironment(env),
        stdio: ["ignore", "pipe", "pipe"],
      });
      let output = "";
      child.stdout.on("data", (data) => (output += data));
      child.on("close", (code) => resolve({ code, output }));
    });
    expect(result.code).toBe(0);
    // NO_COLOR is set (childEnvironment): a bar without colour codes in its label.
    expect(result.output).toMatch(/push \[[█░]+\] \d+% [\d.]+ (B|KiB|MiB) of 12 MiB, \d+ of \d+ files?/);
    expect(result.output).toContain(id);
    expect(result.output).toMatch(/Published 1 experiment\./);
    await expectPublished(url, id);
  });
});

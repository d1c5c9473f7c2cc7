/**
 * When stop(), a normal exit (with or without stop()) or SIGTERM waits for uploads to an S3 repository for more than a
 * moment, the training process says so on stderr with what is left to upload: plain lines when
 * stderr is not a terminal (a log, a pipe, the Python binding's core), a bar redrawn in place on
 * a terminal. A proxy in front of radosgw holds each object upload for a while, so the wait is
 * long. No timing is asserted: only what is printed, and that everything arrives.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import * as readline from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { openRepository } from "../../src/index.js";
import { CLI, DIST_INDEX, childEnvironment, makeProject, runScript, type ScriptResult } from "../helpers/project.js";
import { s3Environment, s3RepositoryUrl } from "../helpers/repositories.js";
import { startFaultProxy, type FaultPlan, type FaultProxy } from "../reliability/fault-proxy.js";
import { testServers } from "../servers/context.js";

const MiB = 1024 * 1024;
/** The Python binding's package (python/cairn), for PYTHONPATH. */
const PYTHON_PACKAGE = fileURLToPath(new URL("../../python", import.meta.url));
/** How long the proxy holds each object upload: the whole publish takes a few seconds. */
const HOLD_MS = 1500;

/** Holds each object upload for `ms`, and tells `onObjectPut` (if set) of each as it arrives. */
function holdObjectPuts(ms: number, onObjectPut?: () => void): FaultPlan {
  return (request) => {
    if (request.method !== "PUT" || !request.url.includes("/objects/")) return { kind: "pass" };
    onObjectPut?.();
    return { kind: "delay", ms };
  };
}

let proxy: FaultProxy;
beforeAll(async () => {
  s3Environment();
  proxy = await startFaultProxy(testServers().s3.endpoint, holdObjectPuts(HOLD_MS));
});
afterAll(async () => {
  await proxy.close();
});
const projects: string[] = [];
afterEach(async () => {
  proxy.setPlan(holdObjectPuts(HOLD_MS));
  for (const dir of projects.splice(0)) await fs.rm(dir, { recursive: true, force: true });
});

/** A project with a 12 MiB model (about nine chunks), a fresh S3 repository, and the environment to reach it through the proxy. */
async function setUp(): Promise<{ project: string; url: string; env: Record<string, string> }> {
  const project = await makeProject({ "code/train.py": "x = 1\n", "model.bin": randomBytes(12 * MiB) });
  projects.push(project);
  const env = { ...s3Environment(), AWS_ENDPOINT_URL_S3: proxy.endpoint, CAIRN_CACHE_DIR: await fs.mkdtemp(path.join(os.tmpdir(), "cairn-test-cache-")), REPOSITORY: s3RepositoryUrl() };
  return { project, url: env.REPOSITORY, env };
}

/** A training script that checkpoints the model, prints the experiment ID, then ends as `ending` says. */
function training(ending: string): string {
  return `const repository = await cairn.openRepository(process.env.REPOSITORY, { projectDirectory: process.cwd() });
const run = await repository.init({ path: "code" });
await run.checkpoint({ path: "model.bin", metrics: { loss: 1 } });
process.stdout.write(run.id + "\\n");
${ending}`;
}

/** The experiment is in the bucket, stopped, with all of the model. */
async function expectPublished(url: string, id: string): Promise<void> {
  const experiment = await (await openRepository(url)).getExperiment(id);
  expect(experiment.status).toBe("stopped");
  expect((await experiment.latest()!.files())[0]!.size).toBe(12 * MiB);
}

// The round running when a line is printed may be the code snapshot's (a few bytes) or the model's.
const progressLine = /^cairn: publishing: [\d.]+ (B|KiB|MiB) of [\d.]+ (B|KiB|MiB) uploaded, \d+ of \d+ files?$/m;

describe("progress while waiting for uploads (stderr not a terminal)", () => {
  it("an explicit stop() says what it waits for and how far the uploads are", async () => {
    const { project, url, env } = await setUp();
    const result = await runScript(project, training("await run.stop();"), env);
    expect(result.code).toBe(0);
    const id = result.stdout.trim();
    expect(result.stderr).toContain(`cairn: waiting for ${id.slice(0, 7)} to finish publishing…`);
    expect(result.stderr).toMatch(progressLine);
    // Plain lines only: no carriage returns or cursor codes in a log.
    expect(result.stderr).not.toMatch(/\r|\x1b\[/);
    await expectPublished(url, id);
  });

  it("a script that just ends (no stop()) says it is finishing writes, with progress, and publishes everything", async () => {
    // The uploads run on a worker thread that does not keep the process alive, so the end of
    // the script is seen while they are in flight, and exit handling reports the wait.
    const { project, url, env } = await setUp();
    const result = await runScript(project, training(""), env);
    expect(result.code).toBe(0);
    const id = result.stdout.trim();
    expect(result.stderr).toContain(`cairn: finishing writes for ${id.slice(0, 7)} before exiting (press Ctrl-C again to exit now;`);
    expect(result.stderr).toMatch(progressLine);
    expect(result.stderr).not.toMatch(/\r|\x1b\[/);
    await expectPublished(url, id);
  });

  it("a script that ends while the checkpoint's uploads are in flight is seen to end at once, and reports the wait", async () => {
    // The script ends only once the proxy holds one of the model's uploads. Uploads made on the
    // script's own thread would keep it alive until they were all done, and the end would be
    // seen too late to report anything.
    const { project, url, env } = await setUp();
    const source = `const cairn = await import(${JSON.stringify(DIST_INDEX)});\n${training(`await new Promise((resolve) => process.stdin.once("data", resolve));\nprocess.stdin.destroy();`)}`;
    const child = spawn(process.execPath, ["--input-type=module", "-e", source], { cwd: project, env: childEnvironment(env), stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let objectPuts = 0;
    // The code snapshot makes two object uploads (its file and its tree) before init() returns;
    // a third after the ID is printed is the model's.
    const release = (): void => {
      if (objectPuts >= 3 && stdout.includes("\n") && child.stdin.writable) child.stdin.end("go\n");
    };
    proxy.setPlan(holdObjectPuts(2 * HOLD_MS, () => {
      objectPuts += 1;
      release();
    }));
    child.stdout.on("data", (data) => {
      stdout += data;
      release();
    });
    child.stderr.on("data", (data) => (stderr += data));
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(code).toBe(0);
    const id = stdout.trim();
    expect(stderr).toContain(`cairn: finishing writes for ${id.slice(0, 7)} before exiting`);
    expect(stderr).toMatch(progressLine);
    await expectPublished(url, id);
  });

  it("SIGTERM finishes the writes, with progress, then ends as the signal asks", async () => {
    const { project, url, env } = await setUp();
    const result: ScriptResult = await runScript(project, training(`process.kill(process.pid, "SIGTERM");`), env);
    expect(result.signal).toBe("SIGTERM");
    const id = result.stdout.trim();
    expect(result.stderr).toContain(`cairn: finishing writes for ${id.slice(0, 7)} before exiting`);
    expect(result.stderr).toMatch(progressLine);
    await expectPublished(url, id);
  });

  it("the Python binding's core (cairn _rpc, stderr a pipe) prints the same lines when its input closes", async () => {
    const { project, url, env } = await setUp();
    const core = spawn(process.execPath, [CLI, "_rpc"], { cwd: project, env: childEnvironment(env) });
    let stderr = "";
    core.stderr.on("data", (data) => (stderr += data));
    const answers = new Map<number, (message: { result?: { id: string }; error?: unknown }) => void>();
    readline.createInterface({ input: core.stdout }).on("line", (line) => {
      const message = JSON.parse(line);
      answers.get(message.id)?.(message);
    });
    let next = 0;
    const call = (method: string, params: Record<string, unknown>) =>
      new Promise<{ id: string }>((resolve, reject) => {
        const id = ++next;
        answers.set(id, (message) => (message.error ? reject(new Error(JSON.stringify(message.error))) : resolve(message.result!)));
        core.stdin.write(JSON.stringify({ id, method, params }) + "\n");
      });
    const spec = { directory: project, repository: url };
    const run = await call("init", { project: spec, path: "code" });
    await call("run.checkpoint", { run: run.id, path: "model.bin", metrics: { loss: 1 } });
    // As the binding does at exit: close the core's input; it stops what runs and publishes.
    const code = await new Promise<number | null>((resolve) => {
      core.on("close", resolve);
      core.stdin.end();
    });
    expect(code).toBe(0);
    // One announcement, worded for the binding (which prints none of its own): Ctrl-C reaches Python only.
    expect(stderr).toContain(`cairn: finishing writes for ${run.id.slice(0, 7)} before exiting (press Ctrl-C again to leave now; Cairn's core goes on publishing in the background)…`);
    expect(stderr.match(/finishing writes|to finish publishing/g)).toHaveLength(1);
    expect(stderr).toMatch(progressLine);
    await expectPublished(url, run.id);
  });
});

describe("the Python binding at exit", () => {
  it("shows one wait message, the core's, with progress, while a script that just ends is published", async () => {
    const { project, url, env } = await setUp();
    const script = `import cairn\nexperiment = cairn.init(path="code")\nexperiment.checkpoint(path="model.bin", metrics={"loss": 1.0})\nprint(experiment.id, flush=True)\n`;
    await fs.writeFile(path.join(project, "train.py"), script);
    const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn("/usr/bin/python3", ["train.py"], {
        cwd: project,
        env: { ...childEnvironment({ ...env, CAIRN_REPOSITORY: url, CAIRN_CORE: `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)}` }), PYTHONPATH: PYTHON_PACKAGE, PYTHONDONTWRITEBYTECODE: "1" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (data) => (stdout += data));
      child.stderr.on("data", (data) => (stderr += data));
      child.on("error", reject);
      child.on("close", (code) => resolve({ code, stdout, stderr }));
    });
    expect(result.code, result.stderr).toBe(0);
    const id = result.stdout.trim();
    expect(result.stderr.match(/finishing writes|to finish publishing/g)).toEqual(["finishing writes"]);
    expect(result.stderr).toContain(`cairn: finishing writes for ${id.slice(0, 7)} before exiting (press Ctrl-C again to leave now;`);
    expect(result.stderr).toMatch(progressLine);
    await expectPublished(url, id);
  });
});

describe("progress while waiting for uploads (stderr a terminal)", () => {
  it.each([
    { ending: "await run.stop();", announced: "to finish publishing…", case: "an explicit stop()" },
    { ending: "", announced: "before exiting", case: "a script that just ends" },
  ])("draws a bar, in colour unless NO_COLOR: $case", async ({ ending, announced }) => {
    const { project, url, env } = await setUp();
    const source = `const cairn = await import(${JSON.stringify(DIST_INDEX)});\n${training(ending)}`;
    const script = path.join(project, "train.mjs");
    await fs.writeFile(script, source);
    // util-linux `script` gives the child a pseudo-terminal and copies what it prints to stdout.
    const result = await new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = spawn("script", ["-qfec", `${JSON.stringify(process.execPath)} train.mjs`, "/dev/null"], {
        cwd: project,
        env: { ...childEnvironment(env), NO_COLOR: "" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let output = "";
      child.stdout.on("data", (data) => (output += data));
      child.on("close", (code) => resolve({ code, output }));
    });
    expect(result.code).toBe(0);
    const id = /^([0-9a-f]{32})\r?$/m.exec(result.output)?.[1];
    expect(id).toBeDefined();
    expect(result.output).toContain(announced);
    // The bar: a coloured label, the bar itself, the bytes and the files.
    expect(result.output).toMatch(/\x1b\[36muploading\x1b\[39m \[[█░]+\] \d+% [\d.]+ (B|KiB|MiB) of [\d.]+ (B|KiB|MiB), \d+ of \d+ files?/);
    await expectPublished(url, id!);
  });
});

import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import * as readline from "node:readline";
import { afterEach, describe, expect, it } from "vitest";
import { CLI, childEnvironment, makeProject, runCli } from "../helpers/project.js";

/** `cairn _rpc`, the core end of the Python binding, spoken to as the binding does. */
class Connection {
  readonly child: ChildProcessWithoutNullStreams;
  private readonly waiting = new Map<number | string | null, (value: Record<string, unknown>) => void>();
  private next = 0;
  stderr = "";

  constructor(cwd: string) {
    this.child = spawn(process.execPath, [CLI, "_rpc"], { cwd, env: childEnvironment() });
    this.child.stderr.on("data", (data) => (this.stderr += data));
    readline.createInterface({ input: this.child.stdout }).on("line", (line) => {
      const message = JSON.parse(line) as Record<string, unknown>;
      const id = message.id as number | string | null;
      this.waiting.get(id)?.(message);
      this.waiting.delete(id);
    });
  }

  /** Sends raw text and waits for the response with `id`. */
  sendRaw(text: string, id: number | string | null): Promise<Record<string, unknown>> {
    const answer = new Promise<Record<string, unknown>>((resolve) => this.waiting.set(id, resolve));
    this.child.stdin.write(text);
    return answer;
  }

  request(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const id = ++this.next;
    return this.sendRaw(JSON.stringify({ id, method, params }) + "\n", id);
  }

  async result(method: string, params: Record<string, unknown> = {}): Promise<any> {
    const response = await this.request(method, params);
    if ("error" in response) throw new Error(`${method} failed: ${JSON.stringify(response.error)}`);
    return response.result;
  }

  /** Closes stdin, as the binding does at exit, and waits for the core to exit. */
  close(): Promise<number | null> {
    return new Promise((resolve) => {
      this.child.on("close", (code) => resolve(code));
      this.child.stdin.end();
    });
  }
}

const open: Connection[] = [];
afterEach(() => {
  for (const connection of open.splice(0)) connection.child.kill();
});

async function connect(files: Record<string, string> = { "train.py": "pass\n" }): Promise<{ connection: Connection; project: string; spec: Record<string, unknown> }> {
  const project = await makeProject(files);
  const connection = new Connection(project);
  open.push(connection);
  return { connection, project, spec: { directory: project, repository: null } };
}

describe("cairn _rpc", () => {
  it("answers hello with the protocol version", async () => {
    const { connection } = await connect();
    const hello = await connection.result("hello");
    expect(hello).toMatchObject({ protocol: 2, version: expect.any(String), node: process.versions.node });
    expect(await connection.close()).toBe(0);
  });

  it("records an experiment, carrying NaN and infinities as tagged numbers both ways", async () => {
    const { connection, project, spec } = await connect();
    const run = await connection.result("init", { project: spec, params: { lr: 0.1 }, runtimes: { python: "3.11.2" }, command: ["python3", "train.py"], workingDirectory: project, dependencies: { torch: { source: "imported", declared: null, installed: "2.1.0" } } });
    expect(run).toMatchObject({ status: "running", params: { lr: 0.1 }, checkpoints: [] });
    await fs.writeFile(path.join(project, "model.pth"), "weights");
    const first = await connection.result("run.checkpoint", { run: run.id, path: "model.pth", step: 0, metrics: { loss: 0.5 }, primaryMetric: ["loss", "minimize"] });
    expect(first).toMatchObject({ step: 0, metrics: { loss: 0.5 }, path: "model.pth", experimentId: run.id });
    // Raw, to see the wire: a tagged NaN in, a tagged NaN out.
    const raw = await connection.sendRaw(`{"id":"nan","method":"run.checkpoint","params":{"run":"${run.id}","metrics":{"loss":{"$number":"NaN"},"gain":{"$number":"-Infinity"}}}}\n`, "nan");
    expect((raw.result as any).metrics).toEqual({ loss: { $number: "NaN" }, gain: { $number: "-Infinity" } });
    const state = await connection.result("run.get", { run: run.id });
    expect(state.best).toBe(first.id);
    expect(state.latest).toBe((raw.result as any).id);
    const stopped = await connection.result("run.stop", { run: run.id });
    expect(stopped.status).toBe("stopped");

    const listed = await connection.result("experiments.list", { project: spec, filter: "params.lr > 0.01", sort: "created" });
    expect(listed.problems).toEqual([]);
    expect(listed.experiments.map((e: any) => e.id)).toEqual([run.id]);
    const experiment = listed.experiments[0];
    expect(experiment.environment).toMatchObject({ runtimes: { python: "3.11.2" }, command: ["python3", "train.py"], workingDirectory: project });
    expect(experiment.dependencies.torch).toEqual({ source: "imported", declared: null, installed: "2.1.0" });
    // A listing carries best and latest, not every checkpoint: experiments.get has them all.
    expect(experiment.checkpoints).toBeNull();
    expect(experiment.checkpointCount).toBe(2);
    expect(experiment.latestCheckpoint.metrics.loss).toEqual({ $number: "NaN" });
    const full = await connection.result("experiments.get", { project: spec, id: run.id });
    expect(full.checkpoints[1].metrics.loss).toEqual({ $number: "NaN" });
    expect(full.bestCheckpoint.id).toBe(first.id);
    expect(await connection.close()).toBe(0);
  });

  it("hands a checkpoint file over through a folder, verified, and checks out", async () => {
    const { connection, project, spec } = await connect();
    const run = await connection.result("init", { project: spec });
    await fs.writeFile(path.join(project, "model.pth"), "the weights");
    const checkpoint = await connection.result("run.checkpoint", { run: run.id, path: "model.pth" });
    await connection.result("run.stop", { run: run.id });
    const into = path.join(project, "handover");
    const handed = await connection.result("checkpoint.open", { project: spec, checkpoint: checkpoint.id, file: "model.pth", directory: into });
    expect(path.dirname(handed.path)).toBe(into);
    expect(handed.size).toBe(11);
    expect(await fs.readFile(handed.path, "utf8")).toBe("the weights");
    expect(await fs.readdir(into)).toEqual([path.basename(handed.path)]);
    const files = await connection.result("checkpoint.files", { project: spec, checkpoint: checkpoint.id });
    expect(files).toEqual([expect.objectContaining({ path: "model.pth", size: 11 })]);
    const out = path.join(project, "out");
    const result = await connection.result("checkpoint.checkout", { project: spec, checkpoint: checkpoint.id.slice(0, 8), outputDirectory: out });
    expect(result).toEqual({ outputDirectory: out, written: ["model.pth"], unchanged: [] });
    const byExperiment = await connection.result("experiment.checkout", { project: spec, experiment: run.id, outputDirectory: path.join(project, "all") });
    expect(byExperiment.written.sort()).toEqual(["model.pth", "train.py"]);
    expect(byExperiment.checkpoint).toBe(checkpoint.id);
  });

  it("answers errors with the core's codes and messages, and protocol errors for malformed requests", async () => {
    const { connection, spec } = await connect();
    expect(await connection.request("experiments.get", { project: spec, id: "zz" })).toMatchObject({ error: { code: "INVALID_ARGUMENT", message: expect.stringContaining('"zz" is not an ID') } });
    expect(await connection.request("experiments.list", { project: spec, filter: "params.lr <" })).toMatchObject({ error: { code: "INVALID_FILTER" } });
    expect(await connection.request("nope")).toMatchObject({ error: { code: "PROTOCOL", message: expect.stringContaining('unknown method "nope"') } });
    expect(await connection.request("run.stop", { run: "x" })).toMatchObject({ error: { code: "PROTOCOL" } });
    expect(await connection.request("experiments.list", { project: { directory: "relative" } })).toMatchObject({ error: { code: "PROTOCOL" } });
    expect(await connection.sendRaw("not json\n", null)).toMatchObject({ id: null, error: { code: "PROTOCOL", message: expect.stringContaining("not valid JSON") } });
    expect(await connection.sendRaw(`{"id":7,"params":{}}\n`, 7)).toMatchObject({ error: { code: "PROTOCOL", message: expect.stringContaining('"method"') } });
    const init = await connection.request("init", { project: spec, params: { lr: { $number: "NaN" } } });
    expect(init).toMatchObject({ error: { code: "INVALID_ARGUMENT", message: expect.stringContaining("params.lr is NaN") } });
    // Still serving after all that.
    expect(await connection.result("hello")).toMatchObject({ protocol: 2 });
  });

  it("stops running experiments when its input ends", async () => {
    const { connection, project, spec } = await connect();
    const run = await connection.result("init", { project: spec });
    await connection.result("run.checkpoint", { run: run.id, metrics: { loss: 1 } });
    expect(await connection.close()).toBe(0);
    const listed = await runCli(project, ["ls", "--json"]);
    expect(JSON.parse(listed.stdout)).toMatchObject([{ id: run.id, status: "stopped", latest: { metrics: { loss: 1 } } }]);
  });

  it("is not listed in --help", async () => {
    const help = await runCli(await makeProject(), ["--help"]);
    expect(help.stdout).not.toContain("_rpc");
  });
});

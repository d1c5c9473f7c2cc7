import * as fs from "node:fs/promises";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CairnError, openRepository, type Repository } from "../../src/index.js";
import { listFiles, makeProject } from "../helpers/project.js";

const projects: string[] = [];
afterEach(async () => {
  for (const dir of projects.splice(0)) await fs.rm(dir, { recursive: true, force: true });
});

async function setup(files: Record<string, string | Buffer> = {}): Promise<{ dir: string; repository: Repository }> {
  const dir = await makeProject({ "train.py": "print('train')\n", ...files });
  projects.push(dir);
  const repository = await openRepository(path.join(dir, ".cairn"), { projectDirectory: dir });
  return { dir, repository };
}

describe("recording an experiment", () => {
  it("records params, code, environment and checkpoints, and reads them back", async () => {
    const { dir, repository } = await setup({
      ".cairnignore": "data/\n*.log\n",
      "data/big.csv": "1,2,3\n",
      "run.log": "noise",
      "src/model.py": "class Model: pass\n",
      "node_modules/x/index.js": "x",
    });
    const run = await repository.init({ path: ".", params: { learningRate: 0.01, layers: [64, 64] } });
    expect(run.id).toMatch(/^[0-9a-f]{32}$/);
    await fs.mkdir(path.join(dir, "model"));
    for (let epoch = 0; epoch < 3; epoch++) {
      await fs.writeFile(path.join(dir, "model", "weights.bin"), `weights of epoch ${epoch}`);
      await fs.writeFile(path.join(dir, "model", "model.json"), `{"layers":2}`);
      const checkpoint = await run.checkpoint({ path: "model", metrics: { loss: [0.5, 0.2, 0.3][epoch]!, accuracy: epoch / 3 }, primaryMetric: ["loss", "minimize"] });
      expect(checkpoint.step).toBe(epoch);
    }
    await run.stop();

    const experiment = await repository.experiments.get(run.id);
    expect(experiment.status).toBe("stopped");
    expect(experiment.params).toEqual({ learningRate: 0.01, layers: [64, 64] });
    expect(experiment.environment.node).toBe(process.versions.node);
    expect(experiment.environment.host).toBeTruthy();
    expect(experiment.environment.command.length).toBeGreaterThan(0);
    expect(experiment.checkpoints.map((c) => c.step)).toEqual([0, 1, 2]);
    const codePaths = (await experiment.codeFiles()).map((f) => f.path);
    expect(codePaths).toEqual([".cairnignore", "src/model.py", "train.py"]);

    const best = experiment.best()!;
    expect(best.step).toBe(1);
    expect(best.metrics.loss).toBe(0.2);
    expect(experiment.latest()!.step).toBe(2);
    expect((await best.read("model/weights.bin")).toString()).toBe("weights of epoch 1");
    // A path inside the checkpoint's folder works too.
    expect((await best.read("weights.bin")).toString()).toBe("weights of epoch 1");
    const chunks: Buffer[] = [];
    for await (const chunk of await best.open("model/model.json")) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe(`{"layers":2}`);

    const out = path.join(dir, "out");
    const result = await experiment.checkout({ outputDirectory: out });
    expect(result.checkpoint?.id).toBe(best.id);
    expect(await listFiles(out)).toEqual([".cairnignore", "model/model.json", "model/weights.bin", "src/model.py", "train.py"]);
    expect(await fs.readFile(path.join(out, "model/weights.bin"), "utf8")).toBe("weights of epoch 1");
  });

  it("captures files before checkpoint() returns, so the script may overwrite them at once", async () => {
    const { dir, repository } = await setup();
    const run = await repository.init({ params: {} });
    const file = path.join(dir, "model.pth");
    for (let i = 0; i < 5; i++) {
      await fs.writeFile(file, `version ${i}`);
      await run.checkpoint({ path: "model.pth", metrics: { i } });
      await fs.writeFile(file, "overwritten straight away");
    }
    await run.stop();
    const experiment = await repository.experiments.get(run.id);
    const contents = await Promise.all(experiment.checkpoints.map(async (c) => (await c.read("model.pth")).toString()));
    expect(contents).toEqual(["version 0", "version 1", "version 2", "version 3", "version 4"]);
  });

  it("keeps NaN and infinities, counts steps up from 0, and skips non-finite values for best()", async () => {
    const { repository } = await setup();
    const run = await repository.init();
    await run.checkpoint({ metrics: { loss: NaN }, primaryMetric: ["loss", "minimize"] });
    await run.checkpoint({ metrics: { loss: -Infinity }, primaryMetric: ["loss", "minimize"] });
    await run.checkpoint({ metrics: { loss: 0.7 }, primaryMetric: ["loss", "minimize"] });
    await run.checkpoint({ step: 10, metrics: { loss: Infinity } });
    await run.checkpoint({ metrics: { loss: 0.9 } });
    await run.stop();
    const experiment = await repository.experiments.get(run.id);
    expect(experiment.checkpoints.map((c) => c.step)).toEqual([0, 1, 2, 10, 11]);
    expect(experiment.checkpoints.map((c) => c.metrics.loss)).toEqual([NaN, -Infinity, 0.7, Infinity, 0.9]);
    expect(experiment.best()?.step).toBe(2);
    expect(experiment.checkpoints[0]!.tree).toBeNull();
    expect(experiment.params).toBeNull();
  });

  it("stores identical contents once across checkpoints and experiments", async () => {
    const { dir, repository } = await setup();
    await fs.writeFile(path.join(dir, "same.bin"), Buffer.alloc(100_000, 7));
    for (let e = 0; e < 2; e++) {
      const run = await repository.init();
      for (let i = 0; i < 3; i++) await run.checkpoint({ path: "same.bin" });
      await run.stop();
    }
    const objects = await listFiles(path.join(dir, ".cairn", "objects"));
    const sizes = await Promise.all(objects.map(async (o) => (await fs.stat(path.join(dir, ".cairn", "objects", o))).size));
    expect(sizes.filter((s) => s === 100_000)).toHaveLength(1);
    // Every object is named by the SHA-256 of its bytes.
    const { createHash } = await import("node:crypto");
    for (const object of objects) {
      const bytes = await fs.readFile(path.join(dir, ".cairn", "objects", object));
      expect(path.basename(object)).toBe(createHash("sha256").update(bytes).digest("hex"));
    }
  });

  it("records the git state without credentials, and no environment variables", async () => {
    const { dir, repository } = await setup();
    const { execFileSync } = await import("node:child_process");
    const git = (...args: string[]) => execFileSync("git", args, { cwd: dir, stdio: "pipe" });
    git("init", "-q", "-b", "main");
    git("config", "user.email", "t@example.com");
    git("config", "user.name", "T");
    git("add", "train.py");
    git("commit", "-qm", "first");
    git("remote", "add", "origin", "https://ana:ghp_SECRETTOKEN123@github.com/org/repo.git");
    await fs.writeFile(path.join(dir, "train.py"), "print('changed')\n");
    process.env.CAIRN_TEST_PLANTED_SECRET = "planted-secret-value-8841";
    try {
      const run = await repository.init({ params: { a: 1 } });
      await run.stop();
      const experiment = await repository.experiments.get(run.id);
      expect(experiment.git?.branch).toBe("main");
      expect(experiment.git?.dirty).toBe(true);
      expect(experiment.git?.commit).toMatch(/^[0-9a-f]{40}$/);
      expect(experiment.git?.remote).toBe("https://github.com/org/repo.git");
      expect(await experiment.gitDiff()).toContain("+print('changed')");
      for (const file of await listFiles(path.join(dir, ".cairn"))) {
        const bytes = await fs.readFile(path.join(dir, ".cairn", file), "utf8");
        expect(bytes).not.toContain("ghp_SECRETTOKEN123");
        expect(bytes).not.toContain("planted-secret-value-8841");
      }
    } finally {
      delete process.env.CAIRN_TEST_PLANTED_SECRET;
    }
  });
});

describe("wrong arguments throw at once with a message that says what to do", () => {
  const cases: [string, (run: Awaited<ReturnType<Repository["init"]>>) => Promise<unknown>, RegExp][] = [
    ["a missing path", (run) => run.checkpoint({ path: "nope.pth" }), /does not exist.*leave out "path"/],
    ["a path outside the project", (run) => run.checkpoint({ path: "../elsewhere" }), /inside the project directory/],
    ["a metric that is a string", (run) => run.checkpoint({ metrics: { loss: "0.3" as unknown as number } }), /metric "loss" is the string "0.3"/],
    ["a bad goal", (run) => run.checkpoint({ metrics: { loss: 1 }, primaryMetric: ["loss", "lowest" as "minimize"] }), /"minimize" or "maximize"/],
    ["a primary metric not among the metrics", (run) => run.checkpoint({ metrics: { loss: 1 }, primaryMetric: ["acc", "maximize"] }), /not among this checkpoint's metrics \(loss\)/],
    ["a negative step", (run) => run.checkpoint({ step: -1 }), /non-negative integer/],
  ];
  for (const [name, call, message] of cases) {
    it(name, async () => {
      const { repository } = await setup();
      const run = await repository.init();
      const error = await call(run).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CairnError);
      expect((error as CairnError).code).toBe("INVALID_ARGUMENT");
      expect((error as Error).message).toMatch(message);
      await run.stop();
      // Nothing half-written: the experiment has no checkpoint.
      expect((await repository.experiments.get(run.id)).checkpoints).toHaveLength(0);
    });
  }

  it("refuses params JSON cannot hold, naming where", async () => {
    const { repository } = await setup();
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    await expect(repository.init({ params: { lr: NaN } })).rejects.toThrow(/params.lr is NaN/);
    await expect(repository.init({ params: { f: () => 1 } })).rejects.toThrow(/params.f is a function/);
    await expect(repository.init({ params: { when: new Date() } })).rejects.toThrow(/params.when is a Date/);
    await expect(repository.init({ params: { a: [1, undefined] } })).rejects.toThrow(/params.a\[1\] is undefined/);
    await expect(repository.init({ params: circular })).rejects.toThrow(/circular/);
    await expect(repository.init({ params: { n: 10n } })).rejects.toThrow(/bigint/);
    expect(await repository.experiments.list()).toHaveLength(0);
  });

  it("refuses checkpoints after stop()", async () => {
    const { repository } = await setup();
    const run = await repository.init();
    await run.stop();
    await expect(run.checkpoint({ metrics: { a: 1 } })).rejects.toThrow(/stopped; start a new one/);
  });
});

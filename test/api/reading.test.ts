import * as fs from "node:fs/promises";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import * as cairn from "../../src/index.js";
import { CairnError, openRepository, type Repository } from "../../src/index.js";
import { makeProject } from "../helpers/project.js";
import { forgetSummary } from "../helpers/record.js";

const projects: string[] = [];
afterEach(async () => {
  for (const dir of projects.splice(0)) await fs.rm(dir, { recursive: true, force: true });
});

async function setup(): Promise<{ dir: string; repository: Repository }> {
  const dir = await makeProject({ "train.py": "x = 1\n", "model.pth": "weights" });
  projects.push(dir);
  return { dir, repository: await openRepository(path.join(dir, ".cairn"), { projectDirectory: dir }) };
}

async function record(repository: Repository, params: unknown, losses: number[]): Promise<string> {
  const run = await repository.init({ params });
  for (const loss of losses) await run.checkpoint({ path: "model.pth", metrics: { loss }, primaryMetric: ["loss", "minimize"] });
  await run.stop();
  return run.id;
}

describe("finding experiments and checkpoints", () => {
  it("takes any unique prefix, for experiments and checkpoints alike", async () => {
    const { repository } = await setup();
    const id = await record(repository, { lr: 0.1 }, [0.5, 0.4]);
    const experiment = await repository.experiments.get(id.slice(0, 6));
    expect(experiment.id).toBe(id);
    const checkpointId = experiment.checkpoints[1]!.id;
    const checkpoint = await repository.checkpoints.get(checkpointId.slice(0, 8));
    expect(checkpoint.id).toBe(checkpointId);
    expect(checkpoint.experimentId).toBe(id);
    expect(checkpoint.metrics.loss).toBe(0.4);
    expect((await repository.resolve(checkpointId.slice(0, 8))).id).toBe(checkpointId);
  });

  it("reports an ambiguous prefix with its candidates, and an unknown one clearly", async () => {
    const { repository } = await setup();
    const ids = new Set<string>();
    // With 17 experiments, two share a first hex digit (pigeonhole).
    for (let i = 0; i < 17; i++) ids.add(await record(repository, { i }, []));
    const first = [...ids].map((id) => id[0]!);
    const shared = first.find((c, i) => first.indexOf(c) !== i)!;
    const error = (await repository.experiments.get(shared).catch((e: unknown) => e)) as CairnError;
    expect(error.code).toBe("AMBIGUOUS_ID");
    const candidates = [...ids].filter((id) => id.startsWith(shared));
    for (const candidate of candidates) expect(error.message).toContain(candidate);
    const missing = (await repository.experiments.get("zzzz").catch((e: unknown) => e)) as CairnError;
    expect(missing.code).toBe("INVALID_ARGUMENT");
    const unknown = [..."0123456789abcdef"].find((c) => !first.includes(c));
    if (unknown) {
      const notFound = (await repository.experiments.get(unknown).catch((e: unknown) => e)) as CairnError;
      expect(notFound.code).toBe("NOT_FOUND");
      expect(notFound.message).toMatch(/cairn ls/);
    }
  });

  it("filters and sorts with the shared language", async () => {
    const { repository } = await setup();
    const a = await record(repository, { lr: 0.1, model: { depth: 2 } }, [0.9, 0.5]);
    const b = await record(repository, { lr: 0.01, model: { depth: 4 } }, [0.3]);
    const c = await record(repository, { lr: 0.001, model: { depth: 4 } }, [0.6, 0.7]);
    const ids = (list: { id: string }[]) => list.map((e) => e.id);
    expect(ids(await repository.experiments.list({ filter: "params.lr < 0.05" }))).toEqual([c, b]);
    expect(ids(await repository.experiments.list({ filter: ["params.model.depth = 4", "metrics.loss <= 0.6"] }))).toEqual([c, b]);
    expect(ids(await repository.experiments.list({ filter: "(params.lr = 0.1 or params.lr = 0.001) and status = stopped" }))).toEqual([c, a]);
    expect(ids(await repository.experiments.list({ sort: "metrics.loss:asc" }))).toEqual([b, a, c]);
    expect(ids(await repository.experiments.list({ sort: "metrics.loss:desc" }))).toEqual([c, a, b]);
    const error = (await repository.experiments.list({ filter: "params.learning_rate < 1" }).catch((e: unknown) => e)) as CairnError;
    expect(error.code).toBe("INVALID_FILTER");
    expect(error.message).toContain("params.lr");
  });

  it("lists every healthy experiment when one record is corrupt, and names the bad one", async () => {
    const { dir, repository } = await setup();
    const good = await record(repository, { ok: true }, [0.1]);
    const bad = await record(repository, { ok: false }, [0.2]);
    await fs.writeFile(path.join(dir, ".cairn", "experiments", `${bad}.json`), "{ not json");
    await forgetSummary(path.join(dir, ".cairn"), bad);
    const list = await repository.experiments.list();
    expect(list.map((e) => e.id)).toEqual([good]);
    expect(list.problems).toHaveLength(1);
    expect(list.problems[0]!.message).toContain(bad);
    const wrongTypes = await record(repository, { ok: 2 }, [0.2]);
    const recordFile = path.join(dir, ".cairn", "experiments", `${wrongTypes}.json`);
    const parsed = JSON.parse(await fs.readFile(recordFile, "utf8"));
    parsed.checkpoints[0].metrics.loss = "lots";
    await fs.writeFile(recordFile, JSON.stringify(parsed));
    await forgetSummary(path.join(dir, ".cairn"), wrongTypes);
    const again = await repository.experiments.list();
    expect(again.map((e) => e.id)).toEqual([good]);
    expect(again.problems.map((p) => p.message).join("\n")).toMatch(/metrics.loss is not a number/);
  });

  it("detects a flipped byte or a missing object when reading, naming the object and the experiment", async () => {
    const { dir, repository } = await setup();
    const id = await record(repository, {}, [0.1]);
    const experiment = await repository.experiments.get(id);
    const entry = (await experiment.best()!.files())[0]!;
    const objectFile = path.join(dir, ".cairn", "objects", entry.sha256.slice(0, 2), entry.sha256);
    const bytes = await fs.readFile(objectFile);
    bytes[0] = bytes[0]! ^ 0xff;
    await fs.chmod(objectFile, 0o644);
    await fs.writeFile(objectFile, bytes);
    const error = (await experiment.best()!.read("model.pth").catch((e: unknown) => e)) as CairnError;
    expect(error.code).toBe("CORRUPT");
    expect(error.message).toContain(entry.sha256);
    expect(error.message).toContain(id.slice(0, 7));
    await fs.rm(objectFile);
    const missing = (await experiment.best()!.read("model.pth").catch((e: unknown) => e)) as CairnError;
    expect(missing.code).toBe("CORRUPT");
    expect(missing.message).toMatch(/missing/);
    // Checking out refuses too, and leaves no partial file behind.
    const out = path.join(dir, "out");
    await expect(experiment.best()!.checkout({ outputDirectory: out })).rejects.toThrow(/missing/);
    expect(await fs.readdir(out).catch(() => [])).toEqual([]);
  });
});

describe("the repository", () => {
  it("refuses a newer major format with a clear message", async () => {
    const { dir, repository } = await setup();
    await record(repository, {}, []);
    await fs.writeFile(path.join(dir, ".cairn", "cairn.json"), JSON.stringify({ format: "cairn", version: "2.0" }));
    const error = (await openRepository(path.join(dir, ".cairn")).catch((e: unknown) => e)) as CairnError;
    expect(error.code).toBe("FORMAT_TOO_NEW");
    expect(error.message).toMatch(/format 2.0.*Upgrade Cairn/);
  });

  it("says other URL schemes are not supported yet", async () => {
    const error = (await openRepository("ftp://example.com/repo").catch((e: unknown) => e)) as CairnError;
    expect(error.code).toBe("UNSUPPORTED_URL");
    expect(error.message).toMatch(/ftp:\/\/.*not support/);
  });

  it("is found from cairn.yaml walking up, overridden by CAIRN_REPOSITORY and by an explicit option", async () => {
    const dir = await makeProject({ "cairn.yaml": "repository: shared-repo\n", "sub/deeper/x.txt": "x" });
    projects.push(dir);
    const cwd = process.cwd();
    try {
      process.chdir(path.join(dir, "sub", "deeper"));
      expect(cairn.resolveProject().repository).toBe(path.join(dir, "shared-repo"));
      expect(cairn.resolveProject().directory).toBe(dir);
      process.env.CAIRN_REPOSITORY = "file:///tmp/elsewhere";
      expect(cairn.resolveProject().repository).toBe("file:///tmp/elsewhere");
      expect(cairn.resolveProject({ repository: "/tmp/explicit" }).repository).toBe("/tmp/explicit");
      delete process.env.CAIRN_REPOSITORY;
      await fs.rm(path.join(dir, "cairn.yaml"));
      expect(cairn.resolveProject().repository).toBe(path.join(dir, "sub", "deeper", ".cairn"));
      await fs.mkdir(path.join(dir, ".cairn"));
      expect(cairn.resolveProject().repository).toBe(path.join(dir, ".cairn"));
      await fs.writeFile(path.join(dir, "cairn.yaml"), "repository: [1, 2]\n");
      expect(() => cairn.resolveProject()).toThrow(/must be a non-empty string/);
    } finally {
      delete process.env.CAIRN_REPOSITORY;
      process.chdir(cwd);
    }
  });

  it("works through the module-level API with a file:// URL", async () => {
    const { dir } = await setup();
    const url = `file://${path.join(dir, "elsewhere")}`;
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      const run = await cairn.init({ repository: url, params: { x: 1 } });
      await run.checkpoint({ path: "model.pth", metrics: { loss: 1 } });
      await run.stop();
      const experiment = await cairn.experiments.get(run.id.slice(0, 8), { repository: url });
      expect((await experiment.latest()!.read("model.pth")).toString()).toBe("weights");
      const checkpoint = await cairn.checkpoints.get(experiment.latest()!.id, { repository: url });
      expect(checkpoint.step).toBe(0);
      expect(await cairn.experiments.list({ repository: url })).toHaveLength(1);
    } finally {
      process.chdir(cwd);
    }
  });
});

import { createHash } from "node:crypto";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CairnError, openRepository, type Repository } from "../../src/index.js";
import { listFiles, makeProject } from "../helpers/project.js";
import { forgetSummary } from "../helpers/record.js";

const projects: string[] = [];
afterEach(async () => {
  for (const dir of projects.splice(0)) await fs.rm(dir, { recursive: true, force: true });
});

async function setup(): Promise<{ dir: string; repository: Repository; experimentId: string }> {
  const dir = await makeProject({ "train.py": "x = 1\n", "model/a.bin": "AAA", "model/b.bin": "BBB", "run.sh": "#!/bin/sh\necho hi\n" });
  await fs.chmod(path.join(dir, "run.sh"), 0o755);
  projects.push(dir);
  const repository = await openRepository(path.join(dir, ".cairn"), { projectDirectory: dir });
  const run = await repository.init();
  await run.checkpoint({ path: "model", metrics: { loss: 1 } });
  await run.stop();
  return { dir, repository, experimentId: run.id };
}

/** Rewrites a checkpoint's tree in place the way a hostile repository would. */
async function plantTree(dir: string, experimentId: string, files: unknown[]): Promise<void> {
  const bytes = Buffer.from(JSON.stringify({ files }));
  const sha = createHash("sha256").update(bytes).digest("hex");
  await fs.mkdir(path.join(dir, ".cairn", "objects", sha.slice(0, 2)), { recursive: true });
  await fs.writeFile(path.join(dir, ".cairn", "objects", sha.slice(0, 2), sha), bytes);
  const recordFile = path.join(dir, ".cairn", "experiments", `${experimentId}.json`);
  const record = JSON.parse(await fs.readFile(recordFile, "utf8"));
  record.checkpoints[0].tree.sha256 = sha;
  await fs.writeFile(recordFile, JSON.stringify(record));
  await forgetSummary(path.join(dir, ".cairn"), experimentId);
}

describe("checkout", () => {
  it("is non-destructive: lists differing files and writes nothing, unless forced", async () => {
    const { dir, repository, experimentId } = await setup();
    const out = path.join(dir, "out");
    await fs.mkdir(path.join(out, "model"), { recursive: true });
    await fs.writeFile(path.join(out, "model", "a.bin"), "AAA"); // same contents: fine
    await fs.writeFile(path.join(out, "model", "b.bin"), "local edits");
    const experiment = await repository.experiments.get(experimentId);
    const error = (await experiment.checkout({ outputDirectory: out }).catch((e: unknown) => e)) as CairnError;
    expect(error.code).toBe("CONFLICT");
    expect(error.message).toContain("model/b.bin");
    expect(error.message).not.toContain("model/a.bin");
    expect(await listFiles(out)).toEqual(["model/a.bin", "model/b.bin"]);
    expect(await fs.readFile(path.join(out, "model", "b.bin"), "utf8")).toBe("local edits");
    const result = await experiment.checkout({ outputDirectory: out, force: true });
    expect(result.unchanged).toEqual(["model/a.bin"]);
    expect(result.written.sort()).toEqual(["model/b.bin", "run.sh", "train.py"]);
    expect(await fs.readFile(path.join(out, "model", "b.bin"), "utf8")).toBe("BBB");
    expect((await fs.stat(path.join(out, "run.sh"))).mode & 0o777).toBe(0o755);
  });

  it("checks out one file or folder with `path`", async () => {
    const { dir, repository, experimentId } = await setup();
    const checkpoint = (await repository.experiments.get(experimentId)).latest()!;
    const out = path.join(dir, "only-b");
    await checkpoint.checkout({ outputDirectory: out, path: "model/b.bin" });
    expect(await listFiles(out)).toEqual(["model/b.bin"]);
    await expect(checkpoint.checkout({ outputDirectory: out, path: "nothing/here" })).rejects.toThrow(/Nothing stored at "nothing\/here"/);
  });

  it("never writes through a symbolic link in the output folder", async () => {
    const { dir, repository, experimentId } = await setup();
    const outside = path.join(dir, "outside");
    await fs.mkdir(outside);
    const out = path.join(dir, "out");
    await fs.mkdir(out);
    await fs.symlink(outside, path.join(out, "model"));
    const checkpoint = (await repository.experiments.get(experimentId)).latest()!;
    const error = (await checkpoint.checkout({ outputDirectory: out }).catch((e: unknown) => e)) as CairnError;
    expect(error.code).toBe("UNSAFE_PATH");
    expect(await fs.readdir(outside)).toEqual([]);
  });

  const hostile: [string, string][] = [
    ["a .. segment", "../escaped.bin"],
    ["an absolute path", "/tmp/cairn-escaped.bin"],
    ["a backslash", "..\\escaped.bin"],
    ["an empty segment", "model//a.bin"],
  ];
  for (const [name, badPath] of hostile) {
    it(`refuses a stored path with ${name}`, async () => {
      const { dir, repository, experimentId } = await setup();
      const sha = createHash("sha256").update("AAA").digest("hex");
      await plantTree(dir, experimentId, [{ path: badPath, size: 3, sha256: sha, mode: 420 }]);
      const checkpoint = (await repository.experiments.get(experimentId)).latest()!;
      const out = path.join(dir, "deep", "out");
      const error = (await checkpoint.checkout({ outputDirectory: out }).catch((e: unknown) => e)) as CairnError;
      expect(error).toBeInstanceOf(CairnError);
      expect(error.code).toBe("CORRUPT");
      expect(await listFiles(dir)).not.toContain("deep/escaped.bin");
      await expect(fs.stat("/tmp/cairn-escaped.bin")).rejects.toThrow();
    });
  }

  it("refuses names that collide on case-insensitive file systems, and sizes that lie", async () => {
    const { dir, repository, experimentId } = await setup();
    const sha = createHash("sha256").update("AAA").digest("hex");
    await plantTree(dir, experimentId, [
      { path: "Model.bin", size: 3, sha256: sha, mode: 420 },
      { path: "model.bin", size: 3, sha256: sha, mode: 420 },
    ]);
    const checkpoint = (await repository.experiments.get(experimentId)).latest()!;
    await expect(checkpoint.checkout({ outputDirectory: path.join(dir, "o1") })).rejects.toThrow(/differ only by case/);
    await plantTree(dir, experimentId, [{ path: "huge.bin", size: 2 ** 50, sha256: sha, mode: 420 }]);
    const lying = (await repository.experiments.get(experimentId)).latest()!;
    const error = (await lying.checkout({ outputDirectory: path.join(dir, "o2") }).catch((e: unknown) => e)) as CairnError;
    expect(error.code).toBe("CORRUPT");
    expect(await listFiles(path.join(dir, "o2")).catch(() => [])).toEqual([]);
  });
});

describe("rm and gc", () => {
  it("removes an experiment, then gc deletes only what nothing else refers to", async () => {
    const { dir, repository, experimentId } = await setup();
    const keep = await repository.init();
    await keep.checkpoint({ path: "model/a.bin" });
    await keep.stop();
    await fs.writeFile(path.join(dir, "model", "c.bin"), "only in the removed one");
    const doomed = await repository.init();
    await doomed.checkpoint({ path: "model" });
    await doomed.stop();

    expect((await repository.gc({ gracePeriodMs: 0 })).removed).toEqual([]);
    await repository.remove([doomed.id.slice(0, 10), experimentId]);
    expect((await repository.experiments.list()).map((e) => e.id)).toEqual([keep.id]);
    const young = await repository.gc();
    expect(young.removed).toEqual([]);
    expect(young.keptYoung).toBeGreaterThan(0);
    const report = await repository.gc({ gracePeriodMs: 0 });
    expect(report.removed.some((key) => key.startsWith("objects/"))).toBe(true);
    expect((await (await repository.experiments.get(keep.id)).latest()!.read("model/a.bin")).toString()).toBe("AAA");
    const remaining = await listFiles(path.join(dir, ".cairn", "objects"));
    const hashOf = (text: string) => createHash("sha256").update(text).digest("hex");
    expect(remaining.map((p) => path.basename(p))).not.toContain(hashOf("only in the removed one"));
    expect(remaining.map((p) => path.basename(p))).toContain(hashOf("AAA"));
  });

  it("refuses to remove a running experiment unless forced, and gc refuses with a corrupt record", async () => {
    const { dir, repository } = await setup();
    const running = await repository.init();
    await expect(repository.remove([running.id])).rejects.toThrow(/running; stop it first/);
    await running.stop();
    const other = await repository.init();
    await other.stop();
    await fs.writeFile(path.join(dir, ".cairn", "experiments", `${other.id}.json`), "garbage");
    await forgetSummary(path.join(dir, ".cairn"), other.id);
    await expect(repository.gc({ gracePeriodMs: 0 })).rejects.toThrow(/cannot be read/);
  });
});

describe("rm of a corrupt record", () => {
  it("removes an experiment whose record cannot be read, by its ID", async () => {
    const { dir, repository, experimentId } = await setup();
    await fs.writeFile(path.join(dir, ".cairn", "experiments", `${experimentId}.json`), "garbage");
    await forgetSummary(path.join(dir, ".cairn"), experimentId);
    expect((await repository.experiments.list()).problems).toHaveLength(1);
    expect(await repository.remove([experimentId.slice(0, 9)])).toEqual([{ id: experimentId, readable: false }]);
    expect((await repository.experiments.list()).problems).toHaveLength(0);
    expect((await repository.gc({ gracePeriodMs: 0 })).removed.length).toBeGreaterThan(0);
  });
});

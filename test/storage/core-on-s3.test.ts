/**
 * The core's training and reading scenario, unchanged, on every repository kind: a local folder
 * and an S3 prefix on radosgw (opened with openRepository("s3://...")), plus the cairn.yaml path
 * where the repository URL and the storage settings come from the project.
 */
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { afterEach, describe, expect, it } from "vitest";
import * as cairn from "../../src/index.js";
import { READ_PIECE_BYTES } from "../../src/storage/file-writes.js";
import { listFiles, makeProject } from "../helpers/project.js";
import { repositoryKinds, s3Environment, s3RepositoryUrl } from "../helpers/repositories.js";
import { testServers } from "../servers/context.js";

const projects: string[] = [];
afterEach(async () => {
  for (const dir of projects.splice(0)) await fs.rm(dir, { recursive: true, force: true });
});

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

describe.each(repositoryKinds())("training and reading ($name)", (kind) => {
  it("init, checkpoints with files, stop; list, get by prefix, best, open, checkout", async () => {
    kind.env();
    const dir = await makeProject({ "train.py": "print('train')\n", "src/model.py": "class Model: pass\n" });
    projects.push(dir);
    const url = kind.url(dir);
    const repository = await cairn.openRepository(url, { projectDirectory: dir });

    const run = await repository.init({ path: ".", params: { learningRate: 0.01, layers: [64, 64] } });
    await fs.mkdir(path.join(dir, "model"));
    // A large file (past the 8 MiB part size) and small ones, changing every epoch.
    const large = randomBytes(9 * 1024 * 1024);
    for (let epoch = 0; epoch < 3; epoch++) {
      await fs.writeFile(path.join(dir, "model", "weights.bin"), `weights of epoch ${epoch}`);
      await fs.writeFile(path.join(dir, "model", "model.json"), `{"layers":2}`);
      large[0] = epoch;
      await fs.writeFile(path.join(dir, "model", "large.bin"), large);
      await run.checkpoint({ path: "model", metrics: { loss: [0.5, 0.2, 0.3][epoch]!, accuracy: epoch / 3 }, primaryMetric: ["loss", "minimize"] });
    }
    await run.stop();

    // A fresh reader, as another process would be.
    const reader = await cairn.openRepository(url, { projectDirectory: dir });
    const list = await reader.experiments.list();
    expect(list.map((e) => e.id)).toEqual([run.id]);
    expect(list.problems).toEqual([]);
    const experiment = await reader.experiments.get(run.id.slice(0, 7));
    expect(experiment.status).toBe("stopped");
    expect(experiment.params).toEqual({ learningRate: 0.01, layers: [64, 64] });
    expect(experiment.checkpoints.map((c) => c.step)).toEqual([0, 1, 2]);
    expect((await experiment.codeFiles()).map((f) => f.path)).toEqual(["src/model.py", "train.py"]);

    const best = experiment.best()!;
    expect(best.step).toBe(1);
    expect((await reader.checkpoints.get(best.id.slice(0, 8))).id).toBe(best.id);
    expect((await best.read("model/weights.bin")).toString()).toBe("weights of epoch 1");
    const chunks: Buffer[] = [];
    for await (const chunk of await best.open("model/large.bin")) chunks.push(chunk as Buffer);
    large[0] = 1;
    expect(sha256(Buffer.concat(chunks))).toBe(sha256(large));
    // Packs are read whole (MiBs), but a stream piped into a file gets pieces a file write takes well.
    const writes: number[] = [];
    await pipeline(await best.open("model/large.bin"), new Writable({ write: (piece: Buffer, _encoding, done) => done(null, writes.push(piece.length)) }));
    expect(writes.reduce((sum, n) => sum + n, 0)).toBe(large.length);
    expect(Math.max(...writes)).toBeLessThanOrEqual(READ_PIECE_BYTES);

    const out = path.join(dir, "out");
    const result = await experiment.checkout({ outputDirectory: out });
    expect(result.checkpoint?.id).toBe(best.id);
    expect(await listFiles(out)).toEqual(["model/large.bin", "model/model.json", "model/weights.bin", "src/model.py", "train.py"]);
    expect(sha256(await fs.readFile(path.join(out, "model/large.bin")))).toBe(sha256(large));
  });
});

describe("a project whose cairn.yaml names an S3 repository and its storage settings", () => {
  it("records and reads through cairn.init() and cairn.experiments with no other set-up", async () => {
    const { s3 } = testServers();
    s3Environment();
    const url = s3RepositoryUrl();
    const dir = await makeProject({
      "train.py": "print('train')\n",
      // The endpoint comes from cairn.yaml here, not from AWS_ENDPOINT_URL_S3.
      "cairn.yaml": `repository: ${url}\nstorage:\n  endpoint: ${s3.endpoint}\n  forcePathStyle: true\n  region: ${s3.region}\n`,
    });
    projects.push(dir);
    const saved = { cwd: process.cwd(), endpoint: process.env.AWS_ENDPOINT_URL_S3 };
    delete process.env.AWS_ENDPOINT_URL_S3;
    try {
      process.chdir(dir);
      const run = await cairn.init({ params: { seed: 1 } });
      await fs.writeFile(path.join(dir, "model.pth"), "the weights");
      await run.checkpoint({ path: "model.pth", metrics: { loss: 0.1 }, primaryMetric: ["loss", "minimize"] });
      await run.stop();
      const experiment = await cairn.experiments.get(run.id);
      expect(experiment.checkpoints).toHaveLength(1);
      expect((await experiment.best()!.read("model.pth")).toString()).toBe("the weights");
      expect((await cairn.experiments.list()).map((e) => e.id)).toEqual([run.id]);
    } finally {
      process.chdir(saved.cwd);
      process.env.AWS_ENDPOINT_URL_S3 = saved.endpoint;
    }
  });

  it("a typo in the storage settings is a CONFIG error naming the key", async () => {
    const dir = await makeProject({ "cairn.yaml": `repository: s3://somewhere/x\nstorage:\n  forcePathstyle: true\n` });
    projects.push(dir);
    const cwd = process.cwd();
    try {
      process.chdir(dir);
      const error = (await cairn.experiments.list().catch((e: unknown) => e)) as cairn.CairnError;
      expect(error.code).toBe("CONFIG");
      expect(error.message).toContain("storage.forcePathstyle");
    } finally {
      process.chdir(cwd);
    }
  });
});

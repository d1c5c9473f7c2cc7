/**
 * A demo repository for screenshots and trying the page: a small project under git (with an
 * uncommitted change), eight finished experiments of a learning-rate and batch-size sweep with
 * loss/accuracy curves and model files, and optionally one still running. Recorded through the
 * public API of the built package (run `npm run build` first).
 *
 *   node ui/demo.mjs DIRECTORY     # then: cd DIRECTORY && cairn ui
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

const TRAIN = `import * as cairn from "cairn";
import { buildModel, trainEpoch } from "./lib/model.js";

const params = { lr: Number(process.env.LR ?? 0.01), batchSize: 64, optimizer: "adam" };
const experiment = await cairn.init({ path: ".", params });
const model = buildModel({ layers: [128, 64] });
for (let epoch = 0; epoch < 40; epoch++) {
  const { loss, accuracy } = await trainEpoch(model, params);
  await model.save("file://model");
  await experiment.checkpoint({ path: "model", step: epoch, metrics: { loss, accuracy }, primaryMetric: ["loss", "minimize"] });
}
await experiment.stop();
`;

const MODEL = `export function buildModel({ layers }) {
  return { layers, weights: layers.map((n) => new Float32Array(n)) };
}

export async function trainEpoch(model, { lr, batchSize }) {
  // … one pass over the data …
  return { loss: Math.random() * lr, accuracy: 1 - Math.random() * lr };
}
`;

function git(cwd, ...args) {
  execFileSync("git", args, { cwd, stdio: "ignore", env: { ...process.env, GIT_AUTHOR_DATE: "2024-05-02T10:00:00Z", GIT_COMMITTER_DATE: "2024-05-02T10:00:00Z" } });
}

/** A smooth, slightly noisy training curve that depends on the params. */
function curve(step, { lr, batchSize }, seed) {
  const rate = Math.min(0.35, lr * 9) * (64 / batchSize) ** 0.3;
  const floor = 0.08 + Math.abs(Math.log10(lr) + 2) * 0.09 + (batchSize === 128 ? 0.03 : 0);
  const noise = 0.018 * Math.sin(step * 1.7 + seed) + 0.01 * Math.sin(step * 0.61 + seed * 3);
  const loss = floor + (2.3 - floor) * Math.exp(-rate * step) + noise * (1 + 1 / (1 + step));
  const accuracy = Math.min(0.995, 0.1 + 0.88 * (1 - Math.exp(-rate * 1.1 * step)) - floor * 0.25 + noise / 2);
  return { loss, accuracy };
}

/**
 * Makes the demo under `directory`; returns `{ project, repository, running }` where `running`
 * (when asked for) is a Run to stop when done.
 *
 * @example
 * const { project, running } = await makeDemo("/tmp/demo", { running: true });
 */
export async function makeDemo(directory, { running: withRunning = false, steps = 40 } = {}) {
  const cairn = await import(pathToFileURL(path.join(root, "dist", "index.js")).href);
  const project = path.join(directory, "image-classifier");
  await fs.mkdir(path.join(project, "lib"), { recursive: true });
  await fs.writeFile(path.join(project, "train.js"), TRAIN);
  await fs.writeFile(path.join(project, "lib", "model.js"), MODEL);
  await fs.writeFile(path.join(project, "package.json"), JSON.stringify({ name: "image-classifier", type: "module", dependencies: { cairn: "^0.1.0" } }, null, 2));
  await fs.writeFile(path.join(project, ".gitignore"), "model/\n.cairn/\n");
  git(project, "init", "-q", "-b", "main");
  git(project, "-c", "user.name=Ana", "-c", "user.email=ana@example.com", "add", ".");
  git(project, "-c", "user.name=Ana", "-c", "user.email=ana@example.com", "-c", "commit.gpgsign=false", "commit", "-q", "-m", "Train the classifier");
  await fs.writeFile(path.join(project, "lib", "model.js"), MODEL.replace("// … one pass over the data …", "// … one pass over the data, with label smoothing 0.1 …"));

  const repository = await cairn.openRepository(path.join(project, ".cairn"), { projectDirectory: project });
  const sweep = [
    { lr: 0.1, batchSize: 64 },
    { lr: 0.03, batchSize: 64 },
    { lr: 0.01, batchSize: 64 },
    { lr: 0.003, batchSize: 64 },
    { lr: 0.03, batchSize: 128 },
    { lr: 0.01, batchSize: 128 },
    { lr: 0.001, batchSize: 64 },
    { lr: 0.01, batchSize: 32 },
  ];
  const ids = [];
  for (const [index, sweepParams] of sweep.entries()) {
    const params = { ...sweepParams, optimizer: index === 7 ? "sgd" : "adam", model: { layers: [128, 64], dropout: 0.1 } };
    const run = await repository.init({ path: ".", params });
    for (let step = 0; step < steps; step++) {
      const metrics = curve(step, sweepParams, index);
      const save = step % 10 === 9 || step === steps - 1;
      if (save) {
        await fs.mkdir(path.join(project, "model"), { recursive: true });
        await fs.writeFile(path.join(project, "model", "model.json"), JSON.stringify({ format: "layers-model", step, params }));
        await fs.writeFile(path.join(project, "model", "weights.bin"), Buffer.alloc(4096 + step * 64, step));
      }
      await run.checkpoint({ ...(save ? { path: "model" } : {}), step, metrics, primaryMetric: ["loss", "minimize"] });
    }
    await run.stop();
    ids.push(run.id);
  }
  let running = null;
  if (withRunning) {
    const params = { lr: 0.02, batchSize: 64, optimizer: "adam", model: { layers: [256, 128], dropout: 0.2 } };
    running = await repository.init({ path: ".", params });
    for (let step = 0; step < Math.round(steps * 0.45); step++) {
      await running.checkpoint({ step, metrics: curve(step, { lr: 0.02, batchSize: 64 }, 11), primaryMetric: ["loss", "minimize"] });
    }
  }
  return { project, repository, ids, running };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const directory = path.resolve(process.argv[2] ?? "cairn-demo");
  const { project } = await makeDemo(directory);
  process.stdout.write(`${project}\n`);
}

#!/usr/bin/env node
/**
 * Loads a model recorded by train.mjs straight from the Cairn repository (no checkout to disk)
 * and predicts with it.
 *
 *   node infer.mjs e510303     # an experiment's ID (or prefix): its best checkpoint
 *   node infer.mjs 3ccb2f1     # a checkpoint's own ID (or prefix): that checkpoint
 *
 * Run it from the same project folder as train.mjs, so it finds the same repository.
 */
import * as path from "node:path/posix";
import * as tf from "@tensorflow/tfjs";
import * as cairn from "cairn";
import { twoMoons } from "./data.mjs";

tf.enableProdMode(); // see train.mjs: pure JavaScript on purpose

const prefix = process.argv[2];
if (!prefix) {
  console.error("Usage: node infer.mjs ID_PREFIX   (an experiment's or a checkpoint's ID; see `cairn ls`)");
  process.exit(2);
}

try {
  const checkpoint = await findCheckpoint(prefix);
  console.log(`using ${checkpoint.description}, step ${checkpoint.step}, loss ${checkpoint.metrics.loss?.toFixed(4)}`);
  const model = await loadModel(checkpoint, `${checkpoint.path}/model.json`);

  // A few points on each moon: the upper one is class 0, the lower one class 1.
  const points = [[-0.9, 0.3], [0, 1], [0.9, 0.3], [0.1, 0.1], [1, -0.5], [1.9, 0.2]];
  const probabilities = model.predict(tf.tensor2d(points)).dataSync();
  console.log("point            P(lower moon)  class");
  points.forEach(([x, y], i) => {
    const p = probabilities[i];
    console.log(`(${fixed(x)}, ${fixed(y)})    ${p.toFixed(3).padStart(13)}  ${p >= 0.5 ? 1 : 0}`);
  });

  // Points the model never saw (another seed): how often it is right.
  const fresh = twoMoons({ samples: 500, noise: 0.15, seed: 12345 });
  const predicted = model.predict(tf.tensor2d(fresh.xs)).dataSync();
  const correct = fresh.ys.filter((label, i) => (predicted[i] >= 0.5 ? 1 : 0) === label).length;
  console.log(`accuracy on 500 fresh points: ${(correct / fresh.ys.length).toFixed(3)}`);
} catch (error) {
  // Cairn's errors say what to do next (an unknown or ambiguous ID lists what exists).
  console.error(`infer.mjs: ${error.message}`);
  process.exit(1);
}

/** An experiment's best checkpoint (its latest when no metric ranks them), or a checkpoint by ID. */
async function findCheckpoint(idOrPrefix) {
  try {
    const experiment = await cairn.experiments.get(idOrPrefix);
    const checkpoint = experiment.best() ?? experiment.latest();
    if (!checkpoint) throw new Error(`experiment ${idOrPrefix} has no checkpoints yet.`);
    return checkpoint;
  } catch (error) {
    if (!cairn.isCairnError(error, "NOT_FOUND")) throw error;
    return cairn.checkpoints.get(idOrPrefix);
  }
}

/**
 * Reads model.json and the weight files it lists from the checkpoint (each read is verified
 * against its SHA-256) and hands them to tfjs in memory.
 */
async function loadModel(checkpoint, modelJsonPath) {
  const modelJson = JSON.parse((await checkpoint.read(modelJsonPath)).toString("utf8"));
  const artifacts = await tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
    const specs = manifest.flatMap((group) => group.weights);
    const files = manifest.flatMap((group) => group.paths.map((file) => path.join(path.dirname(modelJsonPath), file)));
    const bytes = Buffer.concat(await Promise.all(files.map((file) => checkpoint.read(file))));
    // tfjs wants an ArrayBuffer of exactly these bytes (a Buffer may be a view into a larger one).
    return [specs, bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)];
  });
  return tf.loadLayersModel(tf.io.fromMemory(artifacts));
}

function fixed(value) {
  return value.toFixed(1).padStart(4);
}

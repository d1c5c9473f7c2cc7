#!/usr/bin/env node
/**
 * Trains a small classifier on the "two moons" data set with pure TensorFlow.js (no native
 * add-on), saves the model after every epoch into model/ (model.json + weights.bin), and records
 * the run and each saved model with Cairn.
 *
 *   node train.mjs --lr 0.05 --epochs 8 --units 16
 *
 * Run it from your project folder: the experiment goes into the repository that folder uses
 * (cairn.yaml, CAIRN_REPOSITORY, or .cairn/ next to it).
 */
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs";
import * as cairn from "cairn";
import { seededRandom, twoMoons } from "./data.mjs";

// Pure JavaScript on purpose (no native add-on to build); prod mode also silences tfjs's advice
// to install tfjs-node.
tf.enableProdMode();

const { values } = parseArgs({
  options: {
    lr: { type: "string", default: "0.05" },
    epochs: { type: "string", default: "8" },
    units: { type: "string", default: "16" },
    seed: { type: "string", default: "1" },
    samples: { type: "string", default: "1000" },
  },
});
const params = {
  learningRate: number(values.lr, "--lr"),
  epochs: integer(values.epochs, "--epochs"),
  units: integer(values.units, "--units"),
  seed: integer(values.seed, "--seed"),
  samples: integer(values.samples, "--samples"),
  batchSize: 32,
};

// The data: 80% to train on, 20% held out to measure accuracy on points the model never saw.
const { xs, ys } = twoMoons({ samples: params.samples, noise: 0.15, seed: params.seed });
const split = Math.floor(xs.length * 0.8);
const train = { xs: xs.slice(0, split), ys: ys.slice(0, split) };
const validation = { x: tf.tensor2d(xs.slice(split)), y: tf.tensor2d(ys.slice(split), [xs.length - split, 1]) };

const model = buildModel(params);
const experiment = await cairn.init({ path: ".", params });
console.log(`experiment ${experiment.id.slice(0, 7)}  params ${JSON.stringify(params)}`);

const shuffle = seededRandom(params.seed + 1);
for (let epoch = 0; epoch < params.epochs; epoch++) {
  // Shuffle with our own seeded generator (tfjs's shuffle uses Math.random) so runs repeat.
  const order = [...train.xs.keys()];
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(shuffle() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const x = tf.tensor2d(order.map((i) => train.xs[i]));
  const y = tf.tensor2d(order.map((i) => [train.ys[i]]));
  const history = await model.fit(x, y, { epochs: 1, batchSize: params.batchSize, shuffle: false, validationData: [validation.x, validation.y], verbose: 0 });
  tf.dispose([x, y]);
  const metric = (name) => Number(history.history[name][0]);
  const metrics = { loss: metric("loss"), accuracy: metric("acc"), valLoss: metric("val_loss"), valAccuracy: metric("val_acc") };

  await saveModel(model, "model");
  const checkpoint = await experiment.checkpoint({ path: "model", step: epoch, metrics, primaryMetric: ["loss", "minimize"] });
  console.log(
    `epoch ${epoch}  loss ${metrics.loss.toFixed(4)}  accuracy ${metrics.accuracy.toFixed(3)}  ` +
      `valAccuracy ${metrics.valAccuracy.toFixed(3)}  checkpoint ${checkpoint.id.slice(0, 7)}`,
  );
}
await experiment.stop();
console.log(`done: experiment ${experiment.id}`);

/** Two hidden layers; initial weights from the seed so the same params give the same model. */
function buildModel({ units, learningRate, seed }) {
  const init = (offset) => tf.initializers.glorotUniform({ seed: seed * 100 + offset });
  const model = tf.sequential();
  model.add(tf.layers.dense({ inputShape: [2], units, activation: "relu", kernelInitializer: init(1) }));
  model.add(tf.layers.dense({ units, activation: "relu", kernelInitializer: init(2) }));
  model.add(tf.layers.dense({ units: 1, activation: "sigmoid", kernelInitializer: init(3) }));
  model.compile({ optimizer: tf.train.adam(learningRate), loss: "binaryCrossentropy", metrics: ["accuracy"] });
  return model;
}

/**
 * Saves the model as tfjs's file format: model.json (topology + weights manifest) and one
 * weights.bin. tfjs hands over the weights as one ArrayBuffer or several; we concatenate them.
 */
async function saveModel(model, folder) {
  await fs.mkdir(folder, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const parts = Array.isArray(artifacts.weightData) ? artifacts.weightData : [artifacts.weightData];
      const weights = Buffer.concat(parts.map((part) => Buffer.from(part)));
      const modelJson = {
        modelTopology: artifacts.modelTopology,
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy,
        trainingConfig: artifacts.trainingConfig,
        weightsManifest: [{ paths: ["weights.bin"], weights: artifacts.weightSpecs }],
      };
      await fs.writeFile(path.join(folder, "weights.bin"), weights);
      await fs.writeFile(path.join(folder, "model.json"), JSON.stringify(modelJson));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON", weightDataBytes: weights.length } };
    }),
  );
}

function number(text, flag) {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) usage(`${flag} must be a positive number; got "${text}".`);
  return value;
}

function integer(text, flag) {
  const value = number(text, flag);
  if (!Number.isInteger(value)) usage(`${flag} must be a whole number; got "${text}".`);
  return value;
}

function usage(message) {
  console.error(`${message}\nUsage: node train.mjs [--lr 0.05] [--epochs 8] [--units 16] [--seed 1] [--samples 1000]`);
  process.exit(2);
}

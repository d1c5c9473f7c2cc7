#!/usr/bin/env node
/**
 * `npm run demo`: the whole loop on a fresh project folder, examples/demo-project/ (recreated
 * each time, git-ignored). It trains the TensorFlow.js example twice with different params, then
 * lists, shows and checks out the best experiment with the CLI, and predicts with its model.
 * Every command is printed before its output, so you can repeat any step by hand.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const examples = path.dirname(fileURLToPath(import.meta.url));
const root = path.dirname(examples);
const project = path.join(examples, "demo-project");
const cli = path.join(root, "dist", "cli", "main.js");

// The demo's repository is the project's own .cairn/, whatever the environment says.
const env = { ...process.env };
delete env.CAIRN_REPOSITORY;

try {
  await fs.access(cli);
} catch {
  fail(`${path.relative(process.cwd(), cli)} is missing: build first with \`npm run build\` (\`npm run demo\` does both).`);
}

await fs.rm(project, { recursive: true, force: true });
await fs.mkdir(project, { recursive: true });
// The training code is copied in, as it would sit in your own project (see examples/README.md).
for (const file of ["train.mjs", "infer.mjs", "data.mjs"]) await fs.copyFile(path.join(examples, "tfjs", file), path.join(project, file));
say(`A fresh project in ${path.relative(process.cwd(), project) || "."}: train.mjs, infer.mjs, data.mjs.`);
say(`"cairn" below is this repository's CLI: node ${path.relative(project, cli)}`);

await step("cairn", ["init"], "Name the repository in cairn.yaml (here the default, .cairn/ in the project)");
await fs.appendFile(path.join(project, ".cairnignore"), "\n# Saved models are recorded by checkpoints, not as code.\nmodel/\n");
show("echo 'model/' >> .cairnignore");

await step("node", ["train.mjs", "--lr", "0.005", "--units", "8", "--epochs", "6"], "Train: a small learning rate and a narrow model");
await step("node", ["train.mjs", "--lr", "0.05", "--units", "16", "--epochs", "6"], "Train again with other params");
await step("cairn", ["ls"], "Both experiments, with the params that differ and their best checkpoints");
const sorted = await step("cairn", ["ls", "--sort", "metrics.loss", "-q"], "Full IDs, best loss first", { capture: true });
const best = sorted.trim().split("\n")[0]?.trim();
if (!best) fail("`cairn ls -q` printed no ID.");
const id = best.slice(0, 7);
await step("cairn", ["show", id], `The best experiment (a prefix of its ID is enough)`);
await step("cairn", ["checkout", id, "-o", "checkout"], "Its code and its best checkpoint, written into checkout/");
await step("node", ["infer.mjs", id], "Load the best checkpoint's model straight from the repository and predict");
say("Done. Try more in examples/demo-project: `node ../../dist/cli/main.js diff ID ID`, or `node infer.mjs CHECKPOINT_ID`.");

/**
 * Prints a command, then runs it in the project folder with its output going straight to the
 * terminal (so colours and progress work); with `capture`, returns stdout after printing it.
 */
async function step(command, args, comment, { capture = false } = {}) {
  say(`\n# ${comment}`);
  show([command, ...args].join(" "));
  const [program, programArgs] = command === "cairn" ? [process.execPath, [cli, ...args]] : command === "node" ? [process.execPath, args] : [command, args];
  const child = spawn(program, programArgs, { cwd: project, env, stdio: ["ignore", capture ? "pipe" : "inherit", "inherit"] });
  const chunks = [];
  child.stdout?.on("data", (chunk) => {
    chunks.push(chunk);
    process.stdout.write(chunk);
  });
  const code = await new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (exitCode, signal) => resolve(signal ? 128 : exitCode));
  });
  if (code !== 0) fail(`\`${[command, ...args].join(" ")}\` failed with exit code ${code}.`);
  return Buffer.concat(chunks).toString();
}

function show(commandLine) {
  console.log(`$ ${commandLine}`);
}

function say(text) {
  console.log(text);
}

function fail(message) {
  console.error(`demo: ${message}`);
  process.exit(1);
}

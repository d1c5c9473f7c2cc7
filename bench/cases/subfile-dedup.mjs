/**
 * Sub-file dedup (issue 7, target 5): 20 checkpoints of one 1 GiB weights file in which a
 * contiguous 10% (a layer being fine-tuned) changes each time. Repository bytes at most 3x one
 * checkpoint. No peer stores less than 20x: rclone, `aws s3 cp` and a tar.gz per checkpoint (the
 * original product) store every checkpoint whole, so that figure is computed, not measured.
 * `restic`, which cuts files into content-defined chunks too, shows what chunking achieves; it
 * runs when installed (`apt-get install restic`) and is reported missing otherwise.
 *
 * The floor for anyone is 1 + 19 × 0.1 = 2.9x: the first checkpoint, then each changed 10%.
 * What a content-defined chunker adds is the chunks the edit straddles at either end.
 *
 * The contents are deterministic (an AES-CTR keystream of a seed), so every run stores the same
 * bytes and the ratio is reproducible. Also noted, because chunking must not cost them:
 * checkpoint() blocking time inside this loop (capture only; chunking runs in the background)
 * and how long stop() then takes to publish the rest. Reading a chunked checkpoint back (target
 * 2) is measured by bench/cases/readback-local.mjs, against cp and against the same file stored
 * whole.
 */
import { createCipheriv, createHash } from "node:crypto";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { folderBytes, formatBytes, formatSeconds, GiB, median, MiB, run, spread, time } from "../lib.mjs";

const CHECKPOINTS = 20;
const CHANGED = 0.1;

export default {
  name: "subfile-dedup",
  // The limit is on the first row only; the others are reference points.
  target: "",
  async run({ quick, directory, dist, log }) {
    const cairn = await import(dist);
    const size = quick ? 64 * MiB : GiB;
    const region = { at: Math.floor(size * 0.4), length: Math.floor(size * CHANGED) };
    const project = path.join(directory, "project");
    await fs.mkdir(path.join(project, "code"), { recursive: true });
    await fs.writeFile(path.join(project, "code", "train.py"), "print('fine-tuning one layer')\n");
    const source = path.join(project, "model.bin");
    log(`writing a ${formatBytes(size)} weights file`);
    await writeKeystream(source, 0, size, "weights, step 0");

    const restic = await resticVersion();
    const resticRepository = path.join(directory, "restic");
    const resticEnv = { ...process.env, RESTIC_PASSWORD: "bench", RESTIC_CACHE_DIR: path.join(directory, "restic-cache") };
    if (restic) await run("restic", ["init", "--repo", resticRepository], { env: resticEnv });

    const repositoryFolder = path.join(directory, "repository");
    const repository = await cairn.openRepository(repositoryFolder, { projectDirectory: project });
    const experiment = await repository.init({ path: "code", params: { layer: "fine-tuned" } });
    const blocking = [];
    const resticSeconds = [];
    for (let step = 0; step < CHECKPOINTS; step++) {
      // The fine-tuned layer gets new values; the other 90% of the file stays as it was.
      if (step > 0) await writeKeystream(source, region.at, region.length, `weights, step ${step}`);
      blocking.push(await time(() => experiment.checkpoint({ path: "model.bin", step, metrics: { loss: 1 / (step + 1) }, primaryMetric: ["loss", "minimize"] })));
      if (restic) resticSeconds.push((await run("restic", ["backup", "--repo", resticRepository, "--host", "bench", "--quiet", source], { env: resticEnv })).seconds);
      if (step % 5 === 4 || step === CHECKPOINTS - 1) log(`${step + 1}/${CHECKPOINTS} checkpoints`);
    }
    const publishing = await time(() => experiment.stop());

    const cairnBytes = await folderBytes(repositoryFolder, ["local"]);
    const resticBytes = restic ? await folderBytes(resticRepository) : null;
    const last = (await repository.getExperiment(experiment.id)).latest();
    const [entry] = await last.files();
    if (entry?.size !== size || !entry.chunks) throw new Error(`the last checkpoint holds ${JSON.stringify(entry && { ...entry, chunks: entry.chunks?.length })}, expected ${size} bytes in chunks`);

    const floor = 1 + (CHECKPOINTS - 1) * CHANGED;
    const one = { label: "one checkpoint", value: size };
    const rows = [
      {
        label: `repository bytes, ${CHECKPOINTS} checkpoints of a ${formatBytes(size)} file, ${CHANGED * 100}% changed each time`,
        value: cairnBytes,
        unit: "bytes",
        baseline: one,
        limit: { maxRatio: 3 },
        note:
          `${entry.chunks.length} chunks in the last checkpoint (mean ${formatBytes(size / entry.chunks.length)}), in ${new Set(entry.chunks.map((chunk) => chunk.pack ?? chunk.sha256)).size} packs. ` +
          (quick ? `Quick size: the chunks an edit straddles (about 2 MiB) weigh 16 times more against a 64 MiB file than against the 1 GiB of the target. ` : "") +
          `The floor for any tool is ${floor.toFixed(1)}x (the first checkpoint, then each changed ${CHANGED * 100}%); ` +
          `Cairn stores ${formatBytes(cairnBytes - size * floor)} above it, ${formatBytes((cairnBytes - size * floor) / (CHECKPOINTS - 1))} per changed checkpoint (the chunks the edit straddles). ` +
          `checkpoint() blocked ${formatSeconds(median(blocking))} (median over the ${CHECKPOINTS}, copying into the spool while earlier checkpoints were chunked in the background); ` +
          `stop() then took ${formatSeconds(publishing)} to publish what was left.`,
      },
      {
        label: "every peer without sub-file dedup (rclone, aws s3 cp, tar.gz per checkpoint)",
        value: CHECKPOINTS * size,
        unit: "bytes",
        baseline: one,
        note: `computed: each of the ${CHECKPOINTS} checkpoints stored whole.`,
      },
    ];
    if (restic) {
      rows.push({
        label: `restic (content-defined chunking), same ${CHECKPOINTS} checkpoints`,
        value: resticBytes,
        unit: "bytes",
        baseline: one,
        note: `${restic}; each backup took ${spread(resticSeconds)}.`,
      });
    } else {
      log("restic is not installed (apt-get install restic): its row is left out");
    }
    return rows;
  },
};

/** Writes `length` bytes of a seed's keystream at `offset` (the same bytes on every run). */
async function writeKeystream(file, offset, length, seed) {
  const key = createHash("sha256").update(seed).digest().subarray(0, 16);
  const cipher = createCipheriv("aes-128-ctr", key, Buffer.alloc(16));
  const zeros = Buffer.alloc(16 * MiB);
  const handle = await fs.open(file, offset === 0 ? "w" : "r+");
  try {
    for (let done = 0; done < length; ) {
      const n = Math.min(zeros.length, length - done);
      const block = cipher.update(zeros.subarray(0, n));
      await handle.write(block, 0, block.length, offset + done);
      done += n;
    }
  } finally {
    await handle.close();
  }
}

async function resticVersion() {
  try {
    return (await run("restic", ["version"])).stdout.trim().split("\n")[0];
  } catch {
    return null;
  }
}

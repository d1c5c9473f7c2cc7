/**
 * A training script killed right after checkpoint() leaves its file captured in the spool but
 * not hashed (the writer hashes in the background, on a worker thread that does not keep the
 * process alive). Whoever publishes the spool later (`cairn push`, or any process opening the
 * repository) hashes it on that worker too, and must stay alive until it is done: the process
 * has nothing else to wait for.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cairn, parseJson } from "../helpers/cli.js";
import { makeProject, runScript, startScript } from "../helpers/project.js";

const MiB = 1024 * 1024;
const projects: string[] = [];
afterAll(async () => {
  for (const dir of projects) await fs.rm(dir, { recursive: true, force: true });
});

/** A project whose script checkpoints model.bin and is killed before anything is hashed. */
async function killedAfterCheckpoint(): Promise<{ dir: string; id: string }> {
  const dir = await makeProject({ "code/train.py": "x = 1\n", "model.bin": randomBytes(20 * MiB) });
  projects.push(dir);
  // SIGKILL in the same turn as checkpoint() returns: the hash, asked of the worker then, cannot
  // have come back yet.
  const { done } = startScript(
    dir,
    `const run = await cairn.init({ path: "code" });
     await run.checkpoint({ path: "model.bin", metrics: { loss: 0.5 } });
     process.stdout.write(run.id);
     process.kill(process.pid, "SIGKILL");`,
  );
  const result = await done;
  expect(result.signal).toBe("SIGKILL");
  const id = result.stdout.trim();
  const journal = await fs.readFile(path.join(dir, ".cairn", "local", "spool", id, "journal.jsonl"), "utf8");
  expect(journal).toContain(`"type":"capture"`);
  return { dir, id };
}

/** The experiment as `cairn show` sees it: its one checkpoint holds all of model.bin. */
async function expectRecovered(dir: string, id: string): Promise<void> {
  const shown = parseJson<{ checkpoints: { files: number; bytes: number }[] }>(await cairn(dir, ["show", id, "--json"]));
  expect(shown.checkpoints).toHaveLength(1);
  expect(shown.checkpoints[0]).toMatchObject({ files: 1, bytes: 20 * MiB });
}

describe("a file captured but not hashed when its script was killed", () => {
  it("is hashed and published by cairn push", async () => {
    const { dir, id } = await killedAfterCheckpoint();
    const pushed = await cairn(dir, ["push"]);
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(pushed.stdout).toBe(`${id}\n`);
    await expectRecovered(dir, id);
  });

  it("is hashed and published by a script that only opens the repository", async () => {
    const { dir, id } = await killedAfterCheckpoint();
    const opened = await runScript(dir, `await cairn.openRepository(".cairn");`);
    expect(opened.code, opened.stderr).toBe(0);
    await expect(fs.readdir(path.join(dir, ".cairn", "local", "spool"))).resolves.toEqual([]);
    await expectRecovered(dir, id);
  });
});

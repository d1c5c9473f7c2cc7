import * as fs from "node:fs/promises";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cairn, cairnInTerminal, parseJson } from "../helpers/cli.js";
import { listFiles, makeProject } from "../helpers/project.js";
import { recordExperiment, forgetSummary } from "../helpers/record.js";

const projects: string[] = [];
afterAll(async () => {
  for (const dir of projects) await fs.rm(dir, { recursive: true, force: true });
});

async function project(): Promise<string> {
  const dir = await makeProject({ "train.py": "print(1)\n" });
  projects.push(dir);
  return dir;
}

async function ids(dir: string): Promise<string[]> {
  return (await cairn(dir, ["ls", "-q"])).stdout.split("\n").filter(Boolean);
}

describe("cairn rm", () => {
  it("needs -f when stdin is not a terminal (exit 2), and removes nothing", async () => {
    const dir = await project();
    const { id } = await recordExperiment(dir, { params: { lr: 1 } });
    const result = await cairn(dir, ["rm", id], { input: "y\n" });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/needs -f\/--force/);
    expect(await ids(dir)).toEqual([id]);
  });

  it("-f removes and prints the removed IDs; prefixes work", async () => {
    const dir = await project();
    const a = await recordExperiment(dir, { params: { lr: 1 } });
    const b = await recordExperiment(dir, { params: { lr: 2 } });
    const c = await recordExperiment(dir, { params: { lr: 3 } });
    const result = await cairn(dir, ["rm", "-f", a.id.slice(0, 10), c.id]);
    expect(result.code).toBe(0);
    expect(result.stdout.split("\n").filter(Boolean).sort()).toEqual([a.id, c.id].sort());
    expect(result.stderr).toMatch(/Removed 2 experiments/);
    expect(await ids(dir)).toEqual([b.id]);
    const json = await cairn(dir, ["rm", "-f", "--json", b.id]);
    expect(parseJson(json)).toEqual([b.id]);
    expect(await ids(dir)).toEqual([]);
  });

  it("exits 3 for an unknown ID and removes nothing", async () => {
    const dir = await project();
    const { id } = await recordExperiment(dir);
    const unused = [..."0123456789abcdef"].map((d) => d.repeat(8)).find((p) => !id.startsWith(p))!;
    const result = await cairn(dir, ["rm", "-f", id, unused]);
    expect(result.code).toBe(3);
    expect(await ids(dir)).toEqual([id]);
  });

  it("asks on a terminal: y removes, anything else keeps (exit 1)", async () => {
    const dir = await project();
    const { id } = await recordExperiment(dir, { checkpoints: [{ metrics: { loss: 1 } }] });
    const declined = await cairnInTerminal(dir, ["rm", id.slice(0, 8)], { when: /\[y\/N\]/, answer: "n\r" });
    expect(declined.output).toMatch(new RegExp(`${id.slice(0, 7)}.*stopped, started .*, 1 checkpoint`));
    expect(declined.output).toMatch(/Remove this experiment\? \[y\/N\]/);
    expect(declined.output).toMatch(/Nothing was removed/);
    expect(declined.code).toBe(1);
    expect(await ids(dir)).toEqual([id]);
    const accepted = await cairnInTerminal(dir, ["rm", id.slice(0, 8)], { when: /\[y\/N\]/, answer: "y\r" });
    expect(accepted.code).toBe(0);
    expect(accepted.output).toContain(id);
    expect(await ids(dir)).toEqual([]);
  });

  it("exits 130 when interrupted at the prompt", async () => {
    const dir = await project();
    const { id } = await recordExperiment(dir);
    const interrupted = await cairnInTerminal(dir, ["rm", id], { when: /\[y\/N\]/, answer: "\x03" });
    expect(interrupted.code).toBe(130);
    expect(await ids(dir)).toEqual([id]);
  });

  it("removes a running experiment only with -f", async () => {
    const dir = await project();
    const running = await recordExperiment(dir, { checkpoints: [{ metrics: { loss: 1 } }], running: true });
    try {
      const refused = await cairnInTerminal(dir, ["rm", running.id]);
      expect(refused.code).toBe(2);
      expect(refused.output).toMatch(/is running; stop it first, or use rm -f/);
      expect(await ids(dir)).toEqual([running.id]);
      const forced = await cairn(dir, ["rm", "-f", running.id]);
      expect(forced.code).toBe(0);
      expect(forced.stdout).toBe(`${running.id}\n`);
    } finally {
      await running.run.stop();
    }
  });
});

describe("cairn gc", () => {
  it("deletes what removed experiments left, after the grace period; --dry-run only reports", async () => {
    const dir = await project();
    const kept = await recordExperiment(dir, { checkpoints: [{ metrics: { loss: 1 }, files: { "w.bin": "kept weights" } }] });
    const gone = await recordExperiment(dir, { checkpoints: [{ metrics: { loss: 1 }, files: { "w.bin": "x".repeat(5000) } }] });
    expect((await cairn(dir, ["rm", "-f", gone.id])).code).toBe(0);
    const objects = async () => (await listFiles(path.join(dir, ".cairn", "objects"))).length;
    const before = await objects();

    const young = await cairn(dir, ["gc"]);
    expect(young.code).toBe(0);
    expect(young.stdout).toBe("");
    expect(young.stderr).toMatch(/^Deleted 0 objects, 0 B freed; kept \d+ unreferenced objects? younger than 24h\./);

    const dry = await cairn(dir, ["gc", "--grace", "0s", "--dry-run"]);
    expect(dry.code).toBe(0);
    const listed = dry.stdout.split("\n").filter(Boolean);
    expect(listed.length).toBeGreaterThan(0);
    for (const key of listed) expect(key).toMatch(/^(objects\/[0-9a-f]{2}\/[0-9a-f]{64}|heartbeats\/[0-9a-f]{32})$/);
    expect(dry.stderr).toMatch(/^Would delete \d+ objects?, [\d.]+ (B|KiB) would be freed\./);
    expect(await objects()).toBe(before);

    const json = parseJson<{ removed: string[]; bytes: number; dryRun: boolean }>(await cairn(dir, ["gc", "--grace", "0", "--dry-run", "--json"]));
    expect(json.removed.sort()).toEqual([...listed].sort());
    expect(json.bytes).toBeGreaterThanOrEqual(5000);
    expect(json.dryRun).toBe(true);

    const real = await cairn(dir, ["gc", "--grace", "0m"]);
    expect(real.code).toBe(0);
    expect(real.stdout.split("\n").filter(Boolean).sort()).toEqual([...listed].sort());
    expect(real.stderr).toMatch(/^Deleted \d+ objects?, [\d.]+ KiB freed\./);
    expect(await objects()).toBeLessThan(before);
    // What remains is intact: the kept experiment checks out.
    const out = path.join(dir, "out");
    expect((await cairn(dir, ["checkout", kept.id, "-o", out])).code).toBe(0);
    expect(await fs.readFile(path.join(out, "model/w.bin"), "utf8")).toBe("kept weights");
  });

  it("rejects a bad duration (exit 2) and stops on a corrupt record (exit 5)", async () => {
    const dir = await project();
    const bad = await cairn(dir, ["gc", "--grace", "soon"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/"soon" is not a duration; use a number with a unit, like 30m, 1h, 24h, 2d/);
    const { id } = await recordExperiment(dir);
    await fs.writeFile(path.join(dir, ".cairn", "experiments", `${id}.json`), "{ broken");
    await forgetSummary(path.join(dir, ".cairn"), id);
    const corrupt = await cairn(dir, ["gc", "--grace", "0"]);
    expect(corrupt.code).toBe(5);
    expect(corrupt.stderr).toMatch(/gc stopped: 1 record\(s\) cannot be read/);
  });
});

/**
 * The CLI, unchanged, on an S3 repository (radosgw started by the test run): ls, ps, show, diff,
 * checkout, rm and gc through -R s3://….
 */
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openRepository } from "../../src/index.js";
import { makeProject, runCli } from "../helpers/project.js";
import { s3Environment, s3RepositoryUrl } from "../helpers/repositories.js";

const projects: string[] = [];
afterEach(async () => {
  for (const dir of projects.splice(0)) await fs.rm(dir, { recursive: true, force: true });
});

describe("the CLI on an S3 repository", () => {
  it("lists, shows, diffs, checks out, removes and collects", async () => {
    const env = s3Environment();
    const dir = await makeProject({ "train.py": "x = 1\n" });
    projects.push(dir);
    const url = s3RepositoryUrl();
    const repository = await openRepository(url, { projectDirectory: dir });
    const ids: string[] = [];
    for (const lr of [0.1, 0.01]) {
      const run = await repository.init({ params: { lr } });
      await fs.writeFile(path.join(dir, "model.bin"), `weights for ${lr}`);
      await run.checkpoint({ path: "model.bin", metrics: { loss: lr * 10 }, primaryMetric: ["loss", "minimize"] });
      await run.stop();
      ids.push(run.id);
    }
    const cli = (...args: string[]) => runCli(dir, ["-R", url, ...args], env);

    const ls = await cli("ls");
    expect(ls.code).toBe(0);
    expect(ls.stdout).toContain(ids[0]!.slice(0, 7));
    expect(ls.stdout).toMatch(/0\.01/);
    expect((await cli("ps", "-q")).stdout).toBe("");
    const filtered = await cli("ls", "-q", "--filter", "params.lr < 0.05");
    expect(filtered.stdout.trim()).toBe(ids[1]);

    const show = JSON.parse((await cli("show", ids[0]!.slice(0, 8), "--json")).stdout);
    expect(show.params).toEqual({ lr: 0.1 });
    const diff = await cli("diff", ids[0]!, ids[1]!);
    expect(diff.code).toBe(0);
    expect(diff.stdout).toContain("lr");

    const out = path.join(dir, "out");
    const checkout = await cli("checkout", ids[1]!, "-o", out);
    expect(checkout.code).toBe(0);
    expect(await fs.readFile(path.join(out, "model.bin"), "utf8")).toBe("weights for 0.01");

    expect((await cli("rm", "-f", ids[0]!)).code).toBe(0);
    const gc = await cli("gc", "--grace", "0");
    expect(gc.code).toBe(0);
    expect(gc.stdout).toMatch(/objects\//);
    expect((await cli("ls", "-q")).stdout.trim()).toBe(ids[1]);
    const again = path.join(dir, "again");
    expect((await cli("checkout", ids[1]!, "-o", again)).code).toBe(0);
    expect(await fs.readFile(path.join(again, "model.bin"), "utf8")).toBe("weights for 0.01");
  });
});

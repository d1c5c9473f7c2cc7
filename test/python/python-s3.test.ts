/**
 * The Python binding against a remote repository: the example training script records into an
 * s3:// repository on radosgw, then the CLI lists it, and the inference script loads the best
 * checkpoint back through the binding.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { childEnvironment, makeProject, runCli } from "../helpers/project.js";
import { s3Environment, s3RepositoryUrl } from "../helpers/repositories.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const EXAMPLE = path.join(ROOT, "examples", "python");
const projects: string[] = [];
afterEach(async () => {
  for (const dir of projects.splice(0)) await fs.rm(dir, { recursive: true, force: true });
});

function python(cwd: string, args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("/usr/bin/python3", args, {
      cwd,
      env: { ...childEnvironment(env), PYTHONPATH: path.join(ROOT, "python"), PYTHONDONTWRITEBYTECODE: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("the Python binding on S3", () => {
  it("trains into an s3:// repository and loads the best checkpoint back", async () => {
    const dir = await makeProject();
    projects.push(dir);
    for (const file of ["train.py", "infer.py", "model.py"]) await fs.copyFile(path.join(EXAMPLE, file), path.join(dir, file));
    const url = s3RepositoryUrl();
    const env = { ...s3Environment(), CAIRN_REPOSITORY: url };
    const train = await python(dir, ["train.py", "--epochs", "5"], env);
    expect(train.code, train.stderr).toBe(0);
    const id = train.stdout.match(/experiment ([0-9a-f]{7})/)![1]!;

    const listed = JSON.parse((await runCli(dir, ["-R", url, "ls", "--json"], env)).stdout);
    expect(listed).toHaveLength(1);
    expect(listed[0].id.startsWith(id)).toBe(true);
    expect(listed[0].status).toBe("stopped");
    expect(listed[0].checkpointCount).toBe(5);

    const infer = await python(dir, ["infer.py", id], env);
    expect(infer.code, infer.stderr).toBe(0);
    expect(infer.stdout).toMatch(/step \d/);
  }, 300_000);
});

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/**
 * The Python binding's own suite (python/tests, unittest) run by Debian's Python with
 * python3-torch, python3-numpy and python3-matplotlib, against the built core in dist/. It runs
 * the training and inference scripts for real; see python/tests/*.py.
 */
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const PYTHON = "/usr/bin/python3";

function runSuite(): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1", PYTHONDONTWRITEBYTECODE: "1" };
    delete env.CAIRN_REPOSITORY;
    delete env.CAIRN_CORE;
    const child = spawn(PYTHON, ["-m", "unittest", "discover", "-s", "python/tests", "-v"], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (data) => (output += data));
    child.stderr.on("data", (data) => (output += data));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, output }));
  });
}

describe("the Python binding", () => {
  it("passes its unittest suite with Debian's python3 and torch", async () => {
    expect(existsSync(PYTHON), `${PYTHON} is missing: apt-get install python3 python3-venv python3-pip python3-setuptools python3-wheel python3-torch python3-numpy python3-matplotlib`).toBe(true);
    const { code, output } = await runSuite();
    // The whole unittest report on failure: which test, and its traceback.
    expect(code, output.slice(-20_000)).toBe(0);
    expect(output).toMatch(/\nOK\s*$/);
  }, 1_200_000);
});

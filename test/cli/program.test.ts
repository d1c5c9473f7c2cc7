import * as fs from "node:fs/promises";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cairn } from "../helpers/cli.js";
import { makeProject } from "../helpers/project.js";
import { recordExperiment } from "../helpers/record.js";

const projects: string[] = [];
afterAll(async () => {
  for (const dir of projects) await fs.rm(dir, { recursive: true, force: true });
});

async function project(files: Record<string, string> = { "train.py": "x\n" }): Promise<string> {
  const dir = await makeProject(files);
  projects.push(dir);
  return dir;
}

const COMMANDS = ["ls", "ps", "show", "diff", "checkout", "rm", "gc", "init", "push"];

describe("cairn", () => {
  it("--version prints the package version", async () => {
    const dir = await project();
    const { version } = JSON.parse(await fs.readFile(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
    const result = await cairn(dir, ["--version"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${version}\n`);
  });

  it("--help lists every command and documents the exit codes", async () => {
    const dir = await project();
    const result = await cairn(dir, ["--help"]);
    expect(result.code).toBe(0);
    for (const command of COMMANDS) expect(result.stdout).toMatch(new RegExp(`^  ${command}\\b`, "m"));
    expect(result.stdout).toMatch(/-R, --repository <url>/);
    expect(result.stdout).toMatch(/^Exit codes:$/m);
    for (const code of ["0", "1", "2", "3", "4", "5", "130"]) expect(result.stdout).toMatch(new RegExp(`^  ${code}\\s+\\w`, "m"));
    expect(result.stdout).toMatch(/NO_COLOR/);
  });

  it.each(COMMANDS)("%s --help shows its options, the global -R, and examples", async (command) => {
    const dir = await project();
    const result = await cairn(dir, [command, "--help"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^Usage: cairn ${command}`, "m"));
    expect(result.stdout).toMatch(/Global Options:\n\s+-R, --repository <url>/);
    expect(result.stdout).toMatch(/^Examples:\n  \$ cairn /m);
    expect((await cairn(dir, ["help", command])).stdout).toBe(result.stdout);
  });

  it("exits 2 on an unknown command or option, or with no command at all", async () => {
    const dir = await project();
    const unknownCommand = await cairn(dir, ["lss"]);
    expect(unknownCommand.code).toBe(2);
    expect(unknownCommand.stderr).toMatch(/unknown command 'lss'/);
    expect(unknownCommand.stderr).toMatch(/Did you mean ls\?/);
    const unknownOption = await cairn(dir, ["ls", "--colour"]);
    expect(unknownOption.code).toBe(2);
    expect(unknownOption.stderr).toMatch(/unknown option '--colour'/);
    expect(unknownOption.stdout).toBe("");
    const nothing = await cairn(dir, []);
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toMatch(/^Usage: cairn/m);
  });

  it("exits 5 for a corrupt repository and 1 for one written by a newer Cairn", async () => {
    const dir = await project();
    await recordExperiment(dir);
    const marker = path.join(dir, ".cairn", "cairn.json");
    await fs.writeFile(marker, "not json");
    const corrupt = await cairn(dir, ["ls"]);
    expect(corrupt.code).toBe(5);
    expect(corrupt.stderr).toMatch(/^error: cairn\.json in .* is not valid JSON/);
    await fs.writeFile(marker, JSON.stringify({ format: "cairn", version: "99.0" }));
    const tooNew = await cairn(dir, ["ls"]);
    expect(tooNew.code).toBe(1);
    expect(tooNew.stderr).toMatch(/uses format 99\.0, newer than this Cairn reads/);
  });

  it("exits 5 when a stored object fails verification", async () => {
    const dir = await project();
    const { checkpoints } = await recordExperiment(dir, { checkpoints: [{ metrics: { loss: 1 }, files: { "w.bin": "original weights" } }] });
    const objects = path.join(dir, ".cairn", "objects");
    for (const prefix of await fs.readdir(objects)) {
      for (const name of await fs.readdir(path.join(objects, prefix))) {
        const file = path.join(objects, prefix, name);
        if ((await fs.readFile(file, "utf8")) === "original weights") await fs.writeFile(file, "tampered weights");
      }
    }
    const result = await cairn(dir, ["checkout", checkpoints[0]!, "-o", path.join(dir, "out")]);
    expect(result.code).toBe(5);
    expect(result.stderr).toMatch(/^error: /);
  });
});

import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { captureDependencies } from "../../src/capture/index.js";
import { parseRequirements } from "../../src/capture/dependencies.js";

const temporaryFolders: string[] = [];

async function makeTree(files: Record<string, string | Buffer>): Promise<string> {
  const root = await mkdtemp(path.join(os.tmpdir(), "cairn-deps-"));
  temporaryFolders.push(root);
  for (const [relative, content] of Object.entries(files)) {
    const absolute = path.join(root, ...relative.split("/"));
    await mkdir(path.dirname(absolute), { recursive: true });
    await writeFile(absolute, content);
  }
  return root;
}

const manifest = (value: unknown) => JSON.stringify(value, null, 2);

afterAll(async () => {
  await Promise.all(temporaryFolders.map((folder) => rm(folder, { recursive: true, force: true })));
});

describe("captureDependencies", () => {
  it("records declared and installed versions from the nearest package.json", async () => {
    const root = await makeTree({
      "package.json": manifest({
        dependencies: { yaml: "^2.9.1", "@scope/tool": "~1.0.0", missing: "^3.0.0" },
        devDependencies: { vitest: "^3.2.7", yaml: "^1.0.0" },
        optionalDependencies: { fsevents: "^2.3.0" },
      }),
      "node_modules/yaml/package.json": manifest({ name: "yaml", version: "2.9.1" }),
      "node_modules/@scope/tool/package.json": manifest({ name: "@scope/tool", version: "1.0.4" }),
      "node_modules/vitest/package.json": "{ not json",
      "scripts/train/.keep": "",
    });
    const dependencies = await captureDependencies(path.join(root, "scripts", "train"));
    expect(dependencies).toEqual({
      yaml: { source: "package.json", declared: "^2.9.1", installed: "2.9.1" },
      "@scope/tool": { source: "package.json", declared: "~1.0.0", installed: "1.0.4" },
      missing: { source: "package.json", declared: "^3.0.0", installed: null },
      vitest: { source: "package.json", declared: "^3.2.7", installed: null },
      fsevents: { source: "package.json", declared: "^2.3.0", installed: null },
    });
  });

  it("resolves installed packages from parent folders, as Node does", async () => {
    const root = await makeTree({
      "node_modules/lodash/package.json": manifest({ version: "4.17.21" }),
      "packages/app/package.json": manifest({ dependencies: { lodash: "^4.17.0" } }),
    });
    const dependencies = await captureDependencies(path.join(root, "packages", "app"));
    expect(dependencies.lodash).toEqual({ source: "package.json", declared: "^4.17.0", installed: "4.17.21" });
  });

  it("does not read outside node_modules for odd names, and strips credentials from specifiers", async () => {
    const root = await makeTree({
      "package.json": manifest({ dependencies: { "../../etc": "1.0.0", private: "git+https://user:token@github.com/org/private.git" } }),
    });
    const dependencies = await captureDependencies(root);
    expect(Object.keys(dependencies)).toEqual(["private"]);
    expect(dependencies.private?.declared).toBe("git+https://github.com/org/private.git");
  });

  it("reads requirements.txt in the folder", async () => {
    const root = await makeTree({
      "requirements.txt": [
        "# training",
        "torch==2.1.0",
        "numpy>=1.24,<2  # pinned below 2",
        "requests[security]>=2.8; python_version >= '3.8'",
        "tqdm",
        "-r other.txt",
        "--index-url https://user:pw@pypi.example.com/simple",
        "-e ./local",
        "./vendored/pkg",
        "mylib @ git+https://user:token@github.com/org/mylib.git",
        "hashed==1.0 \\",
        "    --hash=sha256:abcdef",
        "",
      ].join("\n"),
    });
    const dependencies = await captureDependencies(root);
    expect(dependencies).toEqual({
      torch: { source: "requirements.txt", declared: "==2.1.0", installed: null },
      numpy: { source: "requirements.txt", declared: ">=1.24,<2", installed: null },
      requests: { source: "requirements.txt", declared: ">=2.8", installed: null },
      tqdm: { source: "requirements.txt", declared: null, installed: null },
      mylib: { source: "requirements.txt", declared: "@ git+https://github.com/org/mylib.git", installed: null },
      hashed: { source: "requirements.txt", declared: "==1.0", installed: null },
    });
  });

  it("reads a UTF-16 requirements.txt as written by PowerShell", async () => {
    const text = "scipy==1.11.4\r\npandas==2.1.3\r\n";
    const root = await makeTree({ "requirements.txt": Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, "utf16le")]) });
    expect(Object.keys(await captureDependencies(root))).toEqual(["scipy", "pandas"]);
  });

  it("skips malformed files without throwing", async () => {
    const root = await makeTree({ "package.json": "{ this is not json", "requirements.txt": "\u0000\u0001 binary junk ==\n" });
    expect(await captureDependencies(root)).toEqual({});
    const array = await makeTree({ "package.json": "[1, 2]" });
    expect(await captureDependencies(array)).toEqual({});
    const badSection = await makeTree({ "package.json": manifest({ dependencies: ["a"], devDependencies: { ok: 3 } }) });
    expect(await captureDependencies(badSection)).toEqual({ ok: { source: "package.json", declared: null, installed: null } });
  });

  it("returns an empty record when nothing is declared", async () => {
    const root = await makeTree({ "train.py": "" });
    // Nothing in the temp folder; a package.json above os.tmpdir() would be picked up, so only
    // check that no requirements came from here and nothing throws.
    const dependencies = await captureDependencies(root);
    expect(Object.values(dependencies).every((dependency) => dependency.source === "package.json")).toBe(true);
  });
});

describe("parseRequirements", () => {
  it("skips URLs and paths that name no package", () => {
    expect(parseRequirements("https://example.com/pkg.whl\nfile:///tmp/x\n/abs/path\nok~=1.0\n")).toEqual([["ok", "~=1.0"]]);
  });
});

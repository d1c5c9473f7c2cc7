import { mkdtemp, mkdir, writeFile, symlink, chmod, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import net from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { formatSnapshotWarning, listSnapshotFiles, SNAPSHOT_WARN_BYTES, type SnapshotListing } from "../../src/capture/index.js";
import { CairnError } from "../../src/errors.js";

const temporaryFolders: string[] = [];

async function makeTree(files: Record<string, string | Buffer>): Promise<string> {
  const root = await mkdtemp(path.join(os.tmpdir(), "cairn-snapshot-"));
  temporaryFolders.push(root);
  for (const [relative, content] of Object.entries(files)) {
    const absolute = path.join(root, ...relative.split("/"));
    await mkdir(path.dirname(absolute), { recursive: true });
    await writeFile(absolute, content);
  }
  return root;
}

const paths = (listing: SnapshotListing) => listing.files.map((file) => file.path);

afterAll(async () => {
  await Promise.all(temporaryFolders.map((folder) => rm(folder, { recursive: true, force: true })));
});

describe("listSnapshotFiles", () => {
  it("lists files sorted, with POSIX paths, sizes and totals", async () => {
    const root = await makeTree({ "train.py": "print(1)\n", "src/b.ts": "bb", "src/a/deep.txt": "12345", "README.md": "" });
    const listing = await listSnapshotFiles(root);
    expect(paths(listing)).toEqual(["README.md", "src/a/deep.txt", "src/b.ts", "train.py"]);
    const deep = listing.files.find((file) => file.path === "src/a/deep.txt")!;
    expect(deep.size).toBe(5);
    expect(deep.absolutePath).toBe(path.join(root, "src", "a", "deep.txt"));
    expect(listing.totalBytes).toBe(9 + 2 + 5);
  });

  it("always leaves out version control, dependencies, caches and virtualenvs", async () => {
    const root = await makeTree({
      "keep.py": "x",
      ".git/HEAD": "ref: refs/heads/main",
      "node_modules/pkg/index.js": "x",
      ".cairn/objects/ab": "x",
      "pkg/__pycache__/mod.cpython-311.pyc": "x",
      "pkg/mod.pyc": "x",
      "pkg/mod.py": "x",
      "venv/bin/python": "x",
      ".venv/lib/site.py": "x",
      "env/pyvenv.cfg": "home = /usr/bin",
      "env/lib/x.py": "x",
      "py311/pyvenv.cfg": "home = /usr/bin",
      "py311/lib/y.py": "x",
      ".DS_Store": "x",
      "sub/.DS_Store": "x",
    });
    // A folder merely named "env" without pyvenv.cfg is ordinary code.
    await mkdir(path.join(root, "config", "env"), { recursive: true });
    await writeFile(path.join(root, "config", "env", "prod.yaml"), "a: 1");
    const listing = await listSnapshotFiles(root);
    expect(paths(listing)).toEqual(["config/env/prod.yaml", "keep.py", "pkg/mod.py"]);
  });

  it("honours a root .cairnignore with negation", async () => {
    const root = await makeTree({
      ".cairnignore": "# data is big\ndata/\n*.log\n!important.log\n/outputs\n",
      "data/a.bin": "x",
      "nested/data/b.bin": "x",
      "run.log": "x",
      "important.log": "x",
      "outputs/model.pt": "x",
      "nested/outputs/keep.txt": "x",
      "train.py": "x",
    });
    const listing = await listSnapshotFiles(root);
    expect(paths(listing)).toEqual([".cairnignore", "important.log", "nested/outputs/keep.txt", "train.py"]);
  });

  it("honours nested .cairnignore files relative to their folder, deeper files winning", async () => {
    const root = await makeTree({
      ".cairnignore": "*.csv\n",
      "a.csv": "x",
      "exp/.cairnignore": "/cache\n!keep.csv\n",
      "exp/keep.csv": "x",
      "exp/other.csv": "x",
      "exp/cache/c.txt": "x",
      "exp/sub/cache/d.txt": "x",
      "cache/e.txt": "x",
    });
    const listing = await listSnapshotFiles(root);
    expect(paths(listing)).toEqual([".cairnignore", "cache/e.txt", "exp/.cairnignore", "exp/keep.csv", "exp/sub/cache/d.txt"]);
  });

  it("lets a deeper .cairnignore re-include a folder an outer one excludes", async () => {
    const root = await makeTree({
      ".cairnignore": "build/\n*.tmp\n",
      "build/x.txt": "x",
      "pkg/.cairnignore": "!build/\n",
      "pkg/build/y.txt": "x",
      "pkg/build/z.tmp": "x",
    });
    const listing = await listSnapshotFiles(root);
    expect(paths(listing)).toEqual([".cairnignore", "pkg/.cairnignore", "pkg/build/y.txt"]);
  });

  it("treats folder names with pattern characters literally in nested .cairnignore files", async () => {
    const root = await makeTree({
      "run[1]/.cairnignore": "*.ckpt\n",
      "run[1]/a.ckpt": "x",
      "run[1]/a.py": "x",
      "run1/b.ckpt": "x",
      "#odd!*/.cairnignore": "/tmp\n",
      "#odd!*/tmp/c.txt": "x",
      "#odd!*/d.txt": "x",
    });
    const listing = await listSnapshotFiles(root);
    expect(paths(listing)).toEqual(["#odd!*/.cairnignore", "#odd!*/d.txt", "run1/b.ckpt", "run[1]/.cairnignore", "run[1]/a.py"]);
  });

  it("uses another ignore file name when asked", async () => {
    const root = await makeTree({ ".myignore": "secret.txt\n", ".cairnignore": "a.txt\n", "secret.txt": "x", "a.txt": "x" });
    const listing = await listSnapshotFiles(root, { ignoreFileName: ".myignore" });
    expect(paths(listing)).toEqual([".cairnignore", ".myignore", "a.txt"]);
  });

  it("skips symlinks to files and folders, and does not loop on cycles", async () => {
    const outside = await makeTree({ "dataset/huge.bin": "0123456789" });
    const root = await makeTree({ "real.txt": "x", "dir/inner.txt": "y" });
    await symlink(path.join(outside, "dataset"), path.join(root, "data"));
    await symlink(path.join(root, "real.txt"), path.join(root, "link.txt"));
    await symlink(root, path.join(root, "dir", "loop"));
    await symlink(path.join(root, "missing"), path.join(root, "dangling"));
    const listing = await listSnapshotFiles(root);
    expect(paths(listing)).toEqual(["dir/inner.txt", "real.txt"]);
  });

  it("skips sockets", async () => {
    const root = await makeTree({ "a.txt": "x" });
    const socketPath = path.join(root, "s.sock");
    const server = net.createServer();
    const listening = await new Promise<boolean>((resolve) => {
      server.once("error", () => resolve(false));
      server.listen(socketPath, () => resolve(true));
    });
    try {
      const listing = await listSnapshotFiles(root);
      expect(paths(listing)).toEqual(["a.txt"]);
      if (listening) expect(listing.files).toHaveLength(1);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it("keeps the executable bit as 0o755 and the rest as 0o644", async () => {
    const root = await makeTree({ "run.sh": "#!/bin/sh\necho hi\n", "data.txt": "x", "readonly.txt": "x" });
    await chmod(path.join(root, "run.sh"), 0o750);
    await chmod(path.join(root, "readonly.txt"), 0o400);
    const listing = await listSnapshotFiles(root);
    const modes = Object.fromEntries(listing.files.map((file) => [file.path, file.mode]));
    expect(modes).toEqual({ "data.txt": 0o644, "readonly.txt": 0o644, "run.sh": 0o755 });
  });

  it("reports the five largest folders at any depth, excluding the root", async () => {
    const root = await makeTree({
      "top.bin": Buffer.alloc(1000),
      "data/raw/a.bin": Buffer.alloc(600),
      "data/clean/b.bin": Buffer.alloc(300),
      "data/c.bin": Buffer.alloc(50),
      "src/x.ts": Buffer.alloc(40),
      "docs/y.md": Buffer.alloc(20),
      "tests/z.ts": Buffer.alloc(10),
    });
    const listing = await listSnapshotFiles(root);
    expect(listing.largestFolders).toEqual([
      { path: "data", bytes: 950 },
      { path: "data/raw", bytes: 600 },
      { path: "data/clean", bytes: 300 },
      { path: "src", bytes: 40 },
      { path: "docs", bytes: 20 },
    ]);
    expect(listing.totalBytes).toBe(2020);
  });

  it("throws INVALID_ARGUMENT for a missing root or a file", async () => {
    const root = await makeTree({ "a.txt": "x" });
    await expect(listSnapshotFiles(path.join(root, "nope"))).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    await expect(listSnapshotFiles(path.join(root, "a.txt"))).rejects.toBeInstanceOf(CairnError);
  });

  it("lists 20,000 files quickly", async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), "cairn-snapshot-big-"));
    temporaryFolders.push(root);
    const writes: Promise<void>[] = [];
    for (let folder = 0; folder < 200; folder += 1) {
      const directory = path.join(root, `f${folder}`, "inner");
      await mkdir(directory, { recursive: true });
      for (let file = 0; file < 100; file += 1) writes.push(writeFile(path.join(directory, `${file}.txt`), "abc"));
      if (writes.length > 2000) await Promise.all(writes.splice(0));
    }
    await Promise.all(writes);
    const started = performance.now();
    const listing = await listSnapshotFiles(root);
    const elapsed = performance.now() - started;
    expect(listing.files).toHaveLength(20_000);
    expect(listing.totalBytes).toBe(60_000);
    // Generous: the machine running the tests may be busy; a serial, unbatched walk takes far longer.
    expect(elapsed).toBeLessThan(8000);
  });
});

describe("formatSnapshotWarning", () => {
  const fabricated = (totalBytes: number): SnapshotListing => ({
    files: Array.from({ length: 3 }, (_, index) => ({ path: `f${index}`, absolutePath: `/p/f${index}`, size: 0, mode: 0o644 })),
    totalBytes,
    largestFolders: [
      { path: "data", bytes: 900 * 1024 * 1024 },
      { path: "data/raw", bytes: 600 * 1024 * 1024 },
      { path: "outputs", bytes: 250 * 1024 * 1024 },
    ],
  });

  it("is null at or under the threshold", () => {
    expect(formatSnapshotWarning(fabricated(SNAPSHOT_WARN_BYTES))).toBeNull();
    expect(formatSnapshotWarning(fabricated(10))).toBeNull();
    expect(SNAPSHOT_WARN_BYTES).toBe(100 * 1024 * 1024);
  });

  it("names the size, the largest folders and .cairnignore over the threshold", () => {
    const warning = formatSnapshotWarning(fabricated(1.2 * 1024 * 1024 * 1024))!;
    const lines = warning.split("\n");
    expect(lines[0]).toContain("1.2 GB");
    expect(lines[0]).toContain("3 files");
    expect(lines[0]).toContain("100 MB");
    expect(lines[0]).toContain(".cairnignore");
    expect(lines.slice(1)).toEqual(["  data/      900 MB", "  data/raw/  600 MB", "  outputs/   250 MB"]);
  });

  it("takes a custom threshold and ignore file name", () => {
    const warning = formatSnapshotWarning(fabricated(2048), { thresholdBytes: 1024, ignoreFileName: ".myignore" });
    expect(warning).toContain(".myignore");
    expect(warning).toContain("2 KB");
  });
});

import { execFileSync } from "node:child_process";
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { captureGit, stripUrlCredentials } from "../../src/capture/index.js";

const temporaryFolders: string[] = [];

async function temporaryFolder(): Promise<string> {
  const folder = await mkdtemp(path.join(os.tmpdir(), "cairn-git-"));
  temporaryFolders.push(folder);
  return folder;
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, { cwd, encoding: "utf8", env: { ...process.env, LC_ALL: "C" } });
}

async function newRepository(): Promise<string> {
  const folder = await temporaryFolder();
  git(folder, "init", "-q");
  git(folder, "config", "user.name", "Cairn Test");
  git(folder, "config", "user.email", "test@example.com");
  git(folder, "config", "commit.gpgsign", "false");
  git(folder, "checkout", "-q", "-b", "main");
  return folder;
}

afterAll(async () => {
  await Promise.all(temporaryFolders.map((folder) => rm(folder, { recursive: true, force: true })));
});

describe("captureGit", () => {
  it("returns null outside a git work tree", async () => {
    expect(await captureGit(await temporaryFolder())).toBeNull();
  });

  it("returns null for a folder that does not exist", async () => {
    expect(await captureGit(path.join(os.tmpdir(), "cairn-definitely-missing-folder"))).toBeNull();
  });

  it("returns null when git is not installed", async () => {
    const repo = await newRepository();
    const savedPath = process.env.PATH;
    process.env.PATH = await temporaryFolder();
    try {
      expect(await captureGit(repo)).toBeNull();
    } finally {
      process.env.PATH = savedPath;
    }
  });

  it("records a clean repository", async () => {
    const repo = await newRepository();
    await writeFile(path.join(repo, "train.py"), "print('hello')\n");
    git(repo, "add", ".");
    git(repo, "commit", "-q", "-m", "first");
    const head = git(repo, "rev-parse", "HEAD").trim();

    const result = await captureGit(repo);
    expect(result).toEqual({
      info: { commit: head, branch: "main", dirty: false, diff: null, diffBytes: 0, remote: null },
      diff: null,
    });
  });

  it("records changes as dirty with the diff against HEAD, from a subfolder too", async () => {
    const repo = await newRepository();
    await mkdir(path.join(repo, "src"));
    await writeFile(path.join(repo, "train.py"), "lr = 0.1\n");
    await writeFile(path.join(repo, "src", "model.py"), "layers = 2\n");
    git(repo, "add", ".");
    git(repo, "commit", "-q", "-m", "first");
    await writeFile(path.join(repo, "train.py"), "lr = 0.01 # café\n");
    await writeFile(path.join(repo, "src", "model.py"), "layers = 3\n");
    git(repo, "add", "src/model.py"); // staged changes count as well as unstaged ones

    const result = await captureGit(path.join(repo, "src"));
    expect(result).not.toBeNull();
    const { info, diff } = result!;
    expect(info.dirty).toBe(true);
    expect(info.diff).toBeNull();
    expect(diff).toContain("-lr = 0.1");
    expect(diff).toContain("+lr = 0.01 # café");
    expect(diff).toContain("+layers = 3");
    expect(diff).toContain("diff --git a/train.py b/train.py");
    expect(info.diffBytes).toBe(Buffer.byteLength(diff!, "utf8"));
    expect(info.diffBytes).toBeGreaterThan(diff!.length - 1); // "é" is two bytes
  });

  it("counts untracked files as dirty, with no diff to store", async () => {
    const repo = await newRepository();
    await writeFile(path.join(repo, "a.txt"), "a\n");
    git(repo, "add", ".");
    git(repo, "commit", "-q", "-m", "first");
    await writeFile(path.join(repo, "new.txt"), "new\n");
    const result = await captureGit(repo);
    expect(result?.info.dirty).toBe(true);
    expect(result?.diff).toBeNull();
    expect(result?.info.diffBytes).toBe(0);
  });

  it("handles a repository without commits", async () => {
    const repo = await newRepository();
    expect((await captureGit(repo))?.info).toEqual({ commit: null, branch: "main", dirty: false, diff: null, diffBytes: 0, remote: null });

    await writeFile(path.join(repo, "train.py"), "x = 1\n");
    git(repo, "add", "train.py");
    const result = await captureGit(repo);
    expect(result?.info.commit).toBeNull();
    expect(result?.info.dirty).toBe(true);
    expect(result?.diff).toContain("+x = 1");
  });

  it("records a detached HEAD with a null branch", async () => {
    const repo = await newRepository();
    await writeFile(path.join(repo, "a.txt"), "a\n");
    git(repo, "add", ".");
    git(repo, "commit", "-q", "-m", "first");
    const head = git(repo, "rev-parse", "HEAD").trim();
    git(repo, "checkout", "-q", "--detach");
    const result = await captureGit(repo);
    expect(result?.info.branch).toBeNull();
    expect(result?.info.commit).toBe(head);
  });

  it("records the origin remote without credentials", async () => {
    const repo = await newRepository();
    git(repo, "remote", "add", "backup", "git@github.com:org/backup.git");
    git(repo, "remote", "add", "origin", "https://user:secret@example.com/r.git");
    const result = await captureGit(repo);
    expect(result?.info.remote).toBe("https://example.com/r.git");
    expect(JSON.stringify(result)).not.toContain("secret");
  });

  it("falls back to the first remote when there is no origin", async () => {
    const repo = await newRepository();
    git(repo, "remote", "add", "upstream", "git@github.com:org/repo.git");
    expect((await captureGit(repo))?.info.remote).toBe("git@github.com:org/repo.git");
  });
});

describe("stripUrlCredentials", () => {
  it.each([
    ["https://user:secret@example.com/r.git", "https://example.com/r.git"],
    ["https://ghp_token123@github.com/org/repo.git", "https://github.com/org/repo.git"],
    ["http://a:b@host:8080/x", "http://host:8080/x"],
    ["git+https://user:tok@github.com/o/r.git#main", "git+https://github.com/o/r.git#main"],
    ["https://example.com/r.git", "https://example.com/r.git"],
    ["git@github.com:org/repo.git", "git@github.com:org/repo.git"],
    ["ssh://git@github.com/org/repo.git", "ssh://git@github.com/org/repo.git"],
    ["ssh://git:pw@host:22/repo.git", "ssh://git@host:22/repo.git"],
    ["/srv/git/repo.git", "/srv/git/repo.git"],
    ["https://host/path/with@sign", "https://host/path/with@sign"],
  ])("%s -> %s", (input, expected) => {
    expect(stripUrlCredentials(input)).toBe(expected);
  });
});

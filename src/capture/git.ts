import type { GitInfo } from "../repository/types.js";
import { runQuietly } from "./exec.js";
import { stripUrlCredentials } from "./url.js";

export interface GitCapture {
  /** `diff` is null here: the caller stores the diff text as a blob and fills in its hash. */
  info: GitInfo;
  /** `git diff HEAD` output; null when there are no changes to tracked files. */
  diff: string | null;
}

const GIT_TIMEOUT_MS = 15_000;
/** A large diff (a notebook with outputs, a vendored file) takes a while on slow disks. */
const DIFF_TIMEOUT_MS = 60_000;
const MAX_OUTPUT_BYTES = 256 * 1024 * 1024;

/**
 * Records the git state of the folder an experiment runs in: commit, branch, whether the work
 * tree has changes, the remote (credentials stripped) and the diff against HEAD.
 *
 * Returns null when `directory` is not in a git work tree or git is not installed. It never
 * throws: git trouble must not stop a training run. When only the diff fails (for instance it
 * exceeds 256 MB) the rest is still returned with `diff: null` and `diffBytes: 0`.
 *
 * `dirty` counts untracked files, but the diff cannot show them (`git diff HEAD` only covers
 * tracked files), so a work tree whose only change is a new file is dirty with a null diff;
 * the code snapshot holds that file.
 *
 * @example
 * const git = await captureGit(process.cwd());
 * if (git?.diff) git.info.diff = await storeBlob(git.diff);
 */
export async function captureGit(directory: string): Promise<GitCapture | null> {
  const topLevel = await git(directory, ["rev-parse", "--show-toplevel"]);
  if (topLevel === null || topLevel.trim() === "") return null;
  // Running from the top level keeps `diff.relative` and similar settings from narrowing the
  // diff to the subfolder the script happened to start in.
  const cwd = topLevel.trim();

  const [commitOutput, branchOutput, status, remote] = await Promise.all([
    git(cwd, ["rev-parse", "--verify", "--quiet", "HEAD"]),
    git(cwd, ["symbolic-ref", "--quiet", "--short", "HEAD"]),
    git(cwd, ["status", "--porcelain", "--untracked-files=normal"]),
    captureRemote(cwd),
  ]);
  if (status === null) return null;
  const commit = commitOutput?.trim() || null;
  const dirty = status.trim() !== "";
  const diffText = dirty ? await captureDiff(cwd, commit) : null;
  const diff = diffText === null || diffText === "" ? null : diffText;

  return {
    info: {
      commit,
      branch: branchOutput?.trim() || null,
      dirty,
      diff: null,
      diffBytes: diff === null ? 0 : Buffer.byteLength(diff, "utf8"),
      remote,
    },
    diff,
  };
}

async function captureDiff(cwd: string, commit: string | null): Promise<string | null> {
  // Before the first commit there is no HEAD to diff against; the empty tree plays its part
  // (asked from git, so SHA-256 repositories get their own empty tree).
  const base = commit ?? (await git(cwd, ["hash-object", "-t", "tree", "--stdin"]))?.trim();
  if (!base) return null;
  return git(cwd, ["diff", "--no-color", "--no-ext-diff", "--no-textconv", base], DIFF_TIMEOUT_MS);
}

async function captureRemote(cwd: string): Promise<string | null> {
  const remotes = await git(cwd, ["remote"]);
  if (remotes === null) return null;
  const names = remotes.split(/\r?\n/).map((name) => name.trim()).filter((name) => name !== "");
  const name = names.includes("origin") ? "origin" : names[0];
  if (name === undefined) return null;
  const url = await git(cwd, ["remote", "get-url", name]);
  return url?.trim() ? stripUrlCredentials(url.trim()) : null;
}

function git(cwd: string, args: string[], timeoutMs = GIT_TIMEOUT_MS): Promise<string | null> {
  return runQuietly("git", args, {
    cwd,
    timeoutMs,
    maxBuffer: MAX_OUTPUT_BYTES,
    env: {
      ...process.env,
      // Never block a training run on a credential prompt, and parse untranslated output.
      GIT_TERMINAL_PROMPT: "0",
      LC_ALL: "C",
      // Reading status must not take index.lock away from the user's own git commands.
      GIT_OPTIONAL_LOCKS: "0",
    },
  });
}

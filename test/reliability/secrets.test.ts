/**
 * Secrets: plant every kind the issue names — environment variable values, cloud credentials in
 * the environment, tokens in git remote URLs (and in dependency URLs), extra keys in cairn.yaml —
 * record a real training run into a local and an S3 repository, use the CLI on it, and search
 * every byte of the repository for each secret (as text and as base64).
 *
 * One exception, by design: a code snapshot keeps the project's files verbatim, so a token
 * written into package.json or requirements.txt is in the snapshot's copy of that file (as it
 * is in git); the record's dependency list, which Cairn writes itself, must not have it.
 */
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { objectKey } from "../../src/repository/layout.js";
import { runCli } from "../helpers/project.js";
import { everyByte, localKind, s3Kind, scratchFolder, useKindInThisProcess, type RepositoryKind } from "./support/kinds.js";
import { parseOutput, startTraining, trainingSource } from "./support/training.js";

let scratch: string;
beforeAll(async () => {
  scratch = await scratchFolder("secrets");
});
afterAll(async () => {
  await fs.rm(scratch, { recursive: true, force: true });
});

const secret = (label: string) => `${label}${randomBytes(12).toString("hex")}`;

function git(cwd: string, ...args: string[]): void {
  execFileSync("git", args, { cwd, stdio: "ignore", env: { ...process.env, GIT_CONFIG_NOSYSTEM: "1", LC_ALL: "C" } });
}

for (const kindName of ["local", "s3"] as const) {
  describe(`secrets and a ${kindName} repository`, () => {
    let kind: RepositoryKind;
    beforeAll(() => {
      kind = kindName === "local" ? localKind : s3Kind();
      useKindInThisProcess(kind, path.join(scratch, `cache-${kindName}`));
    });

    test("no planted secret ends up anywhere in the repository", async () => {
      const planted: Record<string, string> = {
        "an environment variable": secret("envvalue"),
        "a database URL in the environment": secret("dbpassword"),
        "a GitHub token in the environment": `ghp_${secret("")}`,
        "an AWS session token in the environment": secret("sessiontoken"),
        "a token in the origin remote URL": `ghp_${secret("remote")}`,
        "a password in a second remote URL": secret("sshpassword"),
        "a token in a package.json dependency URL": secret("npmtoken"),
        "a token in a requirements.txt URL": secret("piptoken"),
        "an extra key in cairn.yaml": secret("yamlkey"),
        "a nested extra key in cairn.yaml": secret("yamlnested"),
      };
      // Cloud credentials: the real test ones for S3 (they must reach the SDK, and no further),
      // made-up ones for a local repository.
      const credentials =
        kindName === "s3"
          ? { AWS_ACCESS_KEY_ID: kind.env().AWS_ACCESS_KEY_ID!, AWS_SECRET_ACCESS_KEY: kind.env().AWS_SECRET_ACCESS_KEY! }
          : { AWS_ACCESS_KEY_ID: `AKIA${secret("").slice(0, 16).toUpperCase()}`, AWS_SECRET_ACCESS_KEY: secret("awssecret") };
      planted["the AWS access key ID in the environment"] = credentials.AWS_ACCESS_KEY_ID;
      planted["the AWS secret access key in the environment"] = credentials.AWS_SECRET_ACCESS_KEY;

      const url = kind.newUrl(scratch);
      const project = path.join(scratch, `project-${kindName}`);
      await fs.mkdir(path.join(project, "model"), { recursive: true });
      await fs.writeFile(path.join(project, "train.mjs"), "// the training script lives in the test\n");
      await fs.writeFile(
        path.join(project, "package.json"),
        JSON.stringify({ name: "demo", dependencies: { "private-lib": `git+https://carol:${planted["a token in a package.json dependency URL"]}@github.com/org/private-lib.git` } }),
      );
      await fs.writeFile(
        path.join(project, "requirements.txt"),
        `--index-url https://erin:${planted["a token in a requirements.txt URL"]}@pypi.example.com/simple\nlib @ git+https://dave:${planted["a token in a requirements.txt URL"]}@github.com/org/lib.git\n`,
      );
      await fs.writeFile(
        path.join(project, "cairn.yaml"),
        [`repository: ${JSON.stringify(url)}`, `api_token: ${planted["an extra key in cairn.yaml"]}`, `team:`, `  password: ${planted["a nested extra key in cairn.yaml"]}`, ""].join("\n"),
      );
      git(project, "init", "-q");
      git(project, "config", "user.email", "t@example.com");
      git(project, "config", "user.name", "T");
      git(project, "config", "commit.gpgsign", "false");
      git(project, "add", "train.mjs", "package.json");
      git(project, "commit", "-q", "-m", "first");
      git(project, "remote", "add", "origin", `https://alice:${planted["a token in the origin remote URL"]}@github.com/org/repo.git`);
      git(project, "remote", "add", "mirror", `ssh://bob:${planted["a password in a second remote URL"]}@git.example.com/org/repo.git`);

      const env = {
        ...kind.env(),
        ...credentials,
        PLANTED_SECRET: planted["an environment variable"]!,
        DATABASE_URL: `postgres://app:${planted["a database URL in the environment"]}@db.example.com/prod`,
        GITHUB_TOKEN: planted["a GitHub token in the environment"]!,
        AWS_SESSION_TOKEN: kindName === "s3" ? "" : planted["an AWS session token in the environment"]!,
      };
      // A real run: init with the whole project as code (cairn.yaml, package.json and the
      // requirements included), checkpoints, stop; then the CLI reads and lists it.
      const source = trainingSource({ seed: "secrets", steps: 2, maxKiB: 64 }).replace(`path: "code"`, `path: "."`);
      const result = await startTraining(project, source, env).done;
      expect(result.code, result.stderr).toBe(0);
      const id = parseOutput(result.stdout).experimentId!;
      for (const args of [["ls"], ["show", id], ["show", id, "--json"], ["verify"]]) {
        const cli = await runCli(project, args, env);
        expect(cli.code, `${args.join(" ")}: ${cli.stderr}`).toBe(0);
        for (const [what, value] of Object.entries(planted)) expect(cli.stdout, `${what} printed by cairn ${args.join(" ")}`).not.toContain(value);
      }

      // Every byte of the repository, every object and record and heartbeat.
      const storage = await kind.storage(url);
      const verbatim = new Set<string>();
      for (const file of ["package.json", "requirements.txt"]) verbatim.add(objectKey(createHash("sha256").update(await fs.readFile(path.join(project, file))).digest("hex")));
      const inTheirOwnFiles = new Set(["a token in a package.json dependency URL", "a token in a requirements.txt URL"]);
      const leaks: string[] = [];
      let keys = 0;
      let sawRemote = false;
      let sawVerbatim = 0;
      for await (const { key, bytes } of everyByte(storage)) {
        keys += 1;
        const text = bytes.toString("latin1");
        if (text.includes("https://github.com/org/repo.git")) sawRemote = true;
        if (verbatim.has(key)) sawVerbatim += 1;
        for (const [what, value] of Object.entries(planted)) {
          if (inTheirOwnFiles.has(what) && verbatim.has(key)) continue;
          if (text.includes(value) || text.includes(Buffer.from(value).toString("base64"))) leaks.push(`${what} in ${key}`);
        }
      }
      await storage.close?.();
      expect(leaks).toEqual([]);
      // The search did read the data: the remote is there, stripped of its token, and so are
      // the snapshot's copies of the dependency files.
      expect(sawRemote).toBe(true);
      expect(sawVerbatim).toBe(2);
      console.log(`secrets (${kindName}): ${Object.keys(planted).length} planted, ${keys} keys searched, ${leaks.length} found`);
    }, 120_000);
  });
}

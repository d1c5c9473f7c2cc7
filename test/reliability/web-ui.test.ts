/**
 * The web UI's server, over real sockets (test/server/api.test.ts covers the API without one:
 * traversal in file paths, the DNS-rebinding check, the token on every endpoint, read-only).
 * Here: `cairn ui` listens on loopback only by default; with a non-loopback host it warns and
 * requires the token even from loopback; no file outside the repository is served, whether the
 * request tries to leave (encoded traversal in IDs and paths, a symlink in the page's folder)
 * or the repository does (a hostile file list or diff reference).
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs/promises";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { openRepository, type Repository } from "../../src/index.js";
import { startServer } from "../../src/server/index.js";
import { CLI, childEnvironment, makeProject } from "../helpers/project.js";
import { forgetSummary } from "../helpers/record.js";

let dir: string;
let repository: Repository;
let experimentId: string;
let checkpointId: string;
const SECRET = "outside-the-repository-" + Math.random().toString(36).slice(2);

beforeAll(async () => {
  dir = await makeProject({ "code/train.mjs": "// train\n", "model/a.bin": "AAA" });
  await fs.writeFile(path.join(dir, "secret.txt"), SECRET);
  repository = await openRepository(path.join(dir, ".cairn"), { projectDirectory: dir });
  const run = await repository.init({ path: "code" });
  checkpointId = (await run.checkpoint({ path: "model", metrics: { loss: 1 } })).id;
  await run.stop();
  experimentId = run.id;
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** This machine's addresses other machines could reach it at (none in some sandboxes). */
function externalAddresses(): string[] {
  return Object.values(os.networkInterfaces())
    .flatMap((list) => list ?? [])
    .filter((a) => a.family === "IPv4" && !a.internal)
    .map((a) => a.address);
}

function connects(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port, timeout: 2_000 });
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
    socket.once("timeout", () => (socket.destroy(), resolve(false)));
  });
}

/** Runs `cairn ui` with `args` until it prints its URL; returns the URL, stderr so far, and a stop. */
async function cairnUi(args: string[]): Promise<{ url: string; stderr: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [CLI, "ui", "--port", "0", ...args], { cwd: dir, env: childEnvironment(), stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const ended = new Promise((resolve) => child.on("close", resolve));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`cairn ui printed no URL: ${stderr}`)), 30_000);
    child.stdout.on("data", (d) => {
      stdout += d;
      if (stdout.includes("\n")) {
        clearTimeout(timer);
        resolve(stdout.split("\n")[0]!.trim());
      }
    });
  });
  // The warning and "Serving ..." follow the URL.
  await new Promise((resolve) => setTimeout(resolve, 300));
  return {
    url,
    stderr,
    stop: async () => {
      child.kill("SIGTERM");
      await ended;
    },
  };
}

describe("where the web UI listens", () => {
  test("cairn ui listens on 127.0.0.1 only, with no token, by default", async () => {
    const ui = await cairnUi([]);
    try {
      const url = new URL(ui.url);
      expect(url.hostname).toBe("127.0.0.1");
      expect(url.searchParams.has("token")).toBe(false);
      expect((await fetch(new URL("/api/repository", url))).status).toBe(200);
      for (const address of externalAddresses()) expect(await connects(address, Number(url.port)), address).toBe(false);
      expect(ui.stderr).not.toMatch(/warning/);
    } finally {
      await ui.stop();
    }
  }, 60_000);

  test("with a non-loopback host, cairn ui warns, and every request needs the token, even from loopback", async () => {
    const ui = await cairnUi(["--host", "0.0.0.0"]);
    try {
      const printed = new URL(ui.url);
      const token = printed.searchParams.get("token");
      expect(token).toMatch(/^[A-Za-z0-9_-]{20,}$/);
      expect(ui.stderr).toMatch(/warning: listening on 0\.0\.0\.0: other machines can reach this page/);
      const port = printed.port;
      for (const host of ["127.0.0.1", ...externalAddresses()]) {
        const base = `http://${host}:${port}`;
        expect((await fetch(`${base}/api/experiments`)).status, host).toBe(401);
        expect((await fetch(`${base}/api/experiments`, { headers: { "x-cairn-token": "x".repeat(token!.length) } })).status, host).toBe(401);
        expect((await fetch(`${base}/api/checkpoints/${checkpointId}/files/model/a.bin`)).status, host).toBe(401);
        const allowed = await fetch(`${base}/api/experiments`, { headers: { "x-cairn-token": token! } });
        expect(allowed.status, host).toBe(200);
        expect((await fetch(`${base}/api/checkpoints/${checkpointId}/files/model/a.bin?token=${token}`)).status, host).toBe(200);
      }
    } finally {
      await ui.stop();
    }
  }, 60_000);
});

describe("no file outside the repository is served", () => {
  test("encoded traversal in IDs and file paths, over a real socket, never returns an outside file", async () => {
    const server = await startServer({ repository, port: 0 });
    try {
      const base = `http://127.0.0.1:${server.port}`;
      const attempts = [
        `/api/experiments/..%2F..%2Fsecret.txt`,
        `/api/experiments/%2e%2e%2f%2e%2e%2fsecret.txt/code`,
        `/api/experiments/${experimentId}/code/..%2F..%2F..%2Fsecret.txt`,
        `/api/experiments/${experimentId}/code/%252e%252e%252fsecret.txt`,
        `/api/checkpoints/${checkpointId}/files/model%2F..%2F..%2F..%2Fsecret.txt`,
        `/api/checkpoints/${checkpointId}/files/%2Fetc%2Fhostname`,
        `/api/checkpoints/${checkpointId}/files/model/..%5C..%5Csecret.txt`,
        `/api/checkpoints/..%2F..%2F.cairn%2Fcairn.json/files/x`,
        `/..%2F..%2Fsecret.txt`,
        `/%2e%2e/%2e%2e/secret.txt`,
      ];
      for (const attempt of attempts) {
        // A raw request: fetch() would normalise the dots away before sending.
        const { status, body } = await rawGet(server.port, attempt);
        expect(status, attempt).toBeGreaterThanOrEqual(400);
        expect(body, attempt).not.toContain(SECRET);
      }
    } finally {
      await server.close();
    }
  });

  test("a symlink in the page's folder is not followed", async () => {
    const ui = await fs.mkdtemp(path.join(dir, "ui-"));
    await fs.writeFile(path.join(ui, "index.html"), "<!doctype html><title>cairn</title>");
    await fs.symlink(path.join(dir, "secret.txt"), path.join(ui, "leak.txt"));
    const server = await startServer({ repository, port: 0, uiDirectory: ui });
    try {
      expect((await rawGet(server.port, "/")).status).toBe(200);
      const leak = await rawGet(server.port, "/leak.txt");
      expect(leak.status).toBe(404);
      expect(leak.body).not.toContain(SECRET);
    } finally {
      await server.close();
    }
  });

  test("a hostile repository (a file list that leaves the checkpoint, a diff reference that leaves the repository) gets an error, not the file", async () => {
    const project = await makeProject({ "code/train.mjs": "// train\n", "model/a.bin": "AAA" });
    await fs.writeFile(path.join(project, "secret.txt"), SECRET);
    const hostile = await openRepository(path.join(project, ".cairn"), { projectDirectory: project });
    const run = await hostile.init({ path: "code" });
    const checkpoint = await run.checkpoint({ path: "model", metrics: { loss: 1 } });
    await run.stop();
    // The file list names "../../secret.txt"; a second experiment's diff names a path, not a hash.
    const tree = Buffer.from(JSON.stringify({ files: [{ path: "../../secret.txt", size: SECRET.length, sha256: createHash("sha256").update(SECRET).digest("hex"), mode: 420 }] }));
    const treeSha = createHash("sha256").update(tree).digest("hex");
    await fs.mkdir(path.join(project, ".cairn", "objects", treeSha.slice(0, 2)), { recursive: true });
    await fs.writeFile(path.join(project, ".cairn", "objects", treeSha.slice(0, 2), treeSha), tree);
    const recordFile = path.join(project, ".cairn", "experiments", `${run.id}.json`);
    const record = JSON.parse(await fs.readFile(recordFile, "utf8"));
    record.checkpoints[0].tree.sha256 = treeSha;
    await fs.writeFile(recordFile, JSON.stringify(record));
    await forgetSummary(path.join(project, ".cairn"), run.id);
    const other = "a".repeat(32);
    await fs.writeFile(path.join(project, ".cairn", "experiments", `${other}.json`), JSON.stringify({ ...record, id: other, git: { commit: null, branch: null, dirty: true, diff: "../../secret.txt", diffBytes: 1, remote: null } }));
    await forgetSummary(path.join(project, ".cairn"), other);

    const server = await startServer({ repository: hostile, port: 0 });
    try {
      for (const attempt of [
        `/api/checkpoints/${checkpoint.id}`,
        `/api/checkpoints/${checkpoint.id}/files/..%2F..%2Fsecret.txt`,
        `/api/checkpoints/${checkpoint.id}/files/secret.txt`,
        `/api/experiments/${other}/diff`,
        `/api/experiments/${other}`,
      ]) {
        const { status, body } = await rawGet(server.port, attempt);
        expect(status, attempt).toBeGreaterThanOrEqual(400);
        expect(body, attempt).not.toContain(SECRET);
      }
      // The listing still works, and says which record it could not read.
      const listing = await rawGet(server.port, "/api/experiments");
      expect(listing.status).toBe(200);
      expect(listing.body).toContain(`experiments/${other}.json`);
    } finally {
      await server.close();
      await fs.rm(project, { recursive: true, force: true });
    }
  });
});

/** A GET with the path sent exactly as given, and a loopback Host. */
function rawGet(port: number, requestPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    let data = "";
    socket.on("data", (d) => (data += d));
    socket.on("error", reject);
    socket.on("end", () => resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(data)?.[1] ?? 0), body: data.slice(data.indexOf("\r\n\r\n") + 4) }));
    socket.write(`GET ${requestPath} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`);
  });
}

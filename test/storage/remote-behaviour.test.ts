/**
 * What only remote repositories do: a local copy of the records so a repeated listing sends only
 * LIST requests, a local cache of contents so a second open() reads from disk, and a spool on
 * local disk that survives the training process and is uploaded by `cairn push`.
 * Requests are counted by a pass-through proxy in front of radosgw.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import * as cairn from "../../src/index.js";
import { openStorage } from "../../src/storage/open.js";
import { makeProject, runCli, runScript, startScript, waitFor } from "../helpers/project.js";
import { s3Environment, s3RepositoryUrl } from "../helpers/repositories.js";
import { startFaultProxy, type FaultProxy } from "../reliability/fault-proxy.js";
import { testServers } from "../servers/context.js";

let proxy: FaultProxy;
const projects: string[] = [];

beforeAll(async () => {
  s3Environment();
  proxy = await startFaultProxy(testServers().s3.endpoint, () => ({ kind: "pass" }));
});
afterAll(async () => {
  await proxy.close();
});
afterEach(async () => {
  for (const dir of projects.splice(0)) await fs.rm(dir, { recursive: true, force: true });
});

/** Environment for a child process talking to radosgw through the counting proxy. */
async function environment(): Promise<Record<string, string>> {
  const cache = await fs.mkdtemp(path.join(os.tmpdir(), "cairn-remote-cache-"));
  projects.push(cache);
  return { ...s3Environment(), AWS_ENDPOINT_URL_S3: proxy.endpoint, CAIRN_CACHE_DIR: cache };
}

/** Requests the proxy saw from index `from` on, as "METHOD kind" where kind is LIST or the key's prefix. */
function requestsSince(from: number): string[] {
  return proxy.log.slice(from).map((r) => {
    const url = new URL(r.url, "http://x");
    if (r.method === "GET" && url.searchParams.has("list-type")) return "LIST";
    const kind = /\/(experiments|summaries|objects|heartbeats|cairn\.json)(\/|$)/.exec(decodeURIComponent(url.pathname))?.[1] ?? url.pathname;
    return `${r.method} ${kind}`;
  });
}

async function record(dir: string, url: string, env: Record<string, string>, count: number): Promise<void> {
  const result = await startScript(dir, `
    const fs = await import("node:fs");
    for (let e = 0; e < ${count}; e++) {
      const experiment = await cairn.init({ repository: ${JSON.stringify(url)}, params: { e } });
      fs.writeFileSync("model.bin", "weights " + e);
      await experiment.checkpoint({ path: "model.bin", metrics: { loss: 1 / (e + 1) }, primaryMetric: ["loss", "minimize"] });
      await experiment.stop();
    }
  `, env).done;
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
}

describe("a remote repository read twice", () => {
  it("sends only LIST requests for a repeated ls of an unchanged repository, and fetches only what changed", async () => {
    const dir = await makeProject({ "train.py": "x = 1\n" });
    projects.push(dir);
    const url = s3RepositoryUrl();
    const env = await environment();
    await record(dir, url, env, 3);

    let from = proxy.log.length;
    const cold = await runCli(dir, ["-R", url, "ls", "-q"], env);
    expect(cold.code).toBe(0);
    expect(cold.stdout.trim().split("\n")).toHaveLength(3);
    // A listing reads each experiment's small summary, never the records with every checkpoint.
    expect(requestsSince(from).filter((r) => r === "GET summaries")).toHaveLength(3);
    expect(requestsSince(from).filter((r) => r === "GET experiments")).toHaveLength(0);

    from = proxy.log.length;
    const warm = await runCli(dir, ["-R", url, "ls", "-q"], env);
    expect(warm.stdout).toBe(cold.stdout);
    expect(new Set(requestsSince(from))).toEqual(new Set(["LIST"]));

    await record(dir, url, env, 1);
    from = proxy.log.length;
    const changed = await runCli(dir, ["-R", url, "ls", "-q"], env);
    expect(changed.stdout.trim().split("\n")).toHaveLength(4);
    expect(requestsSince(from).filter((r) => r === "GET summaries")).toHaveLength(1);
    expect(requestsSince(from).filter((r) => r === "GET experiments")).toHaveLength(0);

    // The table is kept with the digest of the listing it came from: the same listing gives it
    // back (LIST requests only); a summary replaced in place (same keys, another etag) does not.
    const table = await runCli(dir, ["-R", url, "ls"], env);
    expect(table.code).toBe(0);
    from = proxy.log.length;
    const again = await runCli(dir, ["-R", url, "ls"], env);
    expect(again.stdout).toBe(table.stdout);
    expect(new Set(requestsSince(from))).toEqual(new Set(["LIST"]));
    const id = changed.stdout.trim().split("\n")[0]!;
    const storage = await openStorage(url);
    const key = `summaries/${id}.json`;
    const summary = JSON.parse((await storage.get(key))!.toString());
    await storage.put(key, JSON.stringify({ ...summary, params: { e: 4242 } }));
    await storage.close?.();
    const replaced = await runCli(dir, ["-R", url, "ls"], env);
    expect(replaced.stdout).toContain("4242");
    expect(table.stdout).not.toContain("4242");
  });

  it("passes over a summary older than its record (its writer died between the two writes)", async () => {
    const dir = await makeProject({ "train.py": "x = 1\n" });
    projects.push(dir);
    const url = s3RepositoryUrl();
    const writer = await cairn.openRepository(url, { projectDirectory: dir });
    const run = await writer.init({ params: { stale: true } });
    for (const loss of [0.5, 0.4]) await run.checkpoint({ metrics: { loss }, primaryMetric: ["loss", "minimize"] });
    await run.stop();
    const key = `experiments/${run.id}.json`;
    const record = JSON.parse((await writer.storage.get(key))!.toString()) as { checkpoints: Record<string, unknown>[] };
    record.checkpoints.push({ ...record.checkpoints[1], id: "c".repeat(32), step: 2, metrics: { loss: 0.1 } });
    // Bucket times have a resolution of one second: make the record the newer object.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await writer.storage.put(key, JSON.stringify(record));
    const reader = await cairn.openRepository(url, { projectDirectory: dir });
    const listed = (await reader.experiments.list()).find((e) => e.id === run.id)!;
    expect(listed.checkpointCount).toBe(3);
    expect(listed.best()!.id).toBe("c".repeat(32));
  });

  it("reads a checkpoint's file from the local cache once open() has read it, and `cairn cache clear` empties it; a checkout keeps no copy of its own", async () => {
    const dir = await makeProject({ "train.py": "x = 1\n" });
    projects.push(dir);
    const url = s3RepositoryUrl();
    const env = await environment();
    await record(dir, url, env, 1);
    const out1 = path.join(dir, "out1");
    const out2 = path.join(dir, "out2");
    const list = await runCli(dir, ["-R", url, "ls", "-q"], env);
    const id = list.stdout.trim();

    // A checkout's files are this machine's copy: it reads their contents from the server each
    // time (only the file lists it read are kept).
    let from = proxy.log.length;
    expect((await runCli(dir, ["-R", url, "checkout", id, "-o", out1], env)).code).toBe(0);
    const firstObjectGets = requestsSince(from).filter((r) => r === "GET objects").length;
    expect(firstObjectGets).toBeGreaterThan(1);
    from = proxy.log.length;
    expect((await runCli(dir, ["-R", url, "checkout", id, "-o", path.join(dir, "again")], env)).code).toBe(0);
    const again = requestsSince(from).filter((r) => r === "GET objects").length;
    expect(again).toBeGreaterThan(0);
    expect(again).toBeLessThan(firstObjectGets);

    // open() keeps a copy, which later reads use, a checkout's too.
    const modelObject = createHash("sha256").update("weights 0").digest("hex");
    from = proxy.log.length;
    const read = await runScript(
      dir,
      `const checkpoint = (await (await cairn.openRepository(${JSON.stringify(url)})).getExperiment(${JSON.stringify(id)})).latest();
process.stdout.write((await checkpoint.read("model.bin")).toString());`,
      env,
    );
    expect(read.stdout).toBe("weights 0");
    expect(proxy.log.slice(from).filter((r) => r.method === "GET" && r.url.includes(modelObject)).length).toBe(1);
    from = proxy.log.length;
    expect((await runCli(dir, ["-R", url, "checkout", id, "-o", out2], env)).code).toBe(0);
    // (The checkout also writes the experiment's code, which the script did not read.)
    expect(proxy.log.slice(from).filter((r) => r.method === "GET" && r.url.includes(modelObject))).toEqual([]);
    expect(await fs.readFile(path.join(out2, "model.bin"), "utf8")).toBe("weights 0");

    const cleared = await runCli(dir, ["cache", "clear"], env);
    expect(cleared.code).toBe(0);
    expect(cleared.stderr).toMatch(/Cleared [\d.]+ (B|KiB)/);
    from = proxy.log.length;
    expect((await runCli(dir, ["-R", url, "checkout", id, "-o", path.join(dir, "out3")], env)).code).toBe(0);
    expect(requestsSince(from).filter((r) => r === "GET objects").length).toBe(firstObjectGets);
  });
});

describe("a remote repository whose writer dies", () => {
  it("keeps what checkpoint() accepted on local disk until `cairn push` uploads it", async () => {
    const dir = await makeProject({ "train.py": "x = 1\n" });
    projects.push(dir);
    const url = s3RepositoryUrl();
    const env = await environment();
    // The storage goes away after init: checkpoints pile up in the spool.
    const { child, done } = startScript(dir, `
      const fs = await import("node:fs");
      const experiment = await cairn.init({ repository: ${JSON.stringify(url)}, params: { a: 1 } });
      console.log("init " + experiment.id);
      await new Promise((r) => process.stdin.once ? setTimeout(r, 500) : r());
      for (let step = 0; step < 5; step++) {
        fs.writeFileSync("model.bin", "epoch " + step);
        const c = await experiment.checkpoint({ path: "model.bin", metrics: { loss: 5 - step }, primaryMetric: ["loss", "minimize"] });
        console.log("returned " + c.id);
      }
      setInterval(() => {}, 1000);
    `, env);
    let output = "";
    child.stdout!.on("data", (d) => (output += d));
    await waitFor(() => output.includes("init "), 30_000, "init");
    proxy.setPlan(() => ({ kind: "reset" }));
    await waitFor(() => (output.match(/returned/g) ?? []).length === 5, 30_000, "five checkpoints");
    child.kill("SIGKILL");
    await done;
    proxy.setPlan(() => ({ kind: "pass" }));
    const returned = [...output.matchAll(/returned ([0-9a-f]{32})/g)].map((m) => m[1]);

    const push = await runCli(dir, ["-R", url, "push"], env);
    expect(push.code).toBe(0);
    const id = output.match(/init ([0-9a-f]{32})/)![1]!;
    expect(push.stdout.trim()).toBe(id);

    const shown = JSON.parse((await runCli(dir, ["-R", url, "show", id, "--json"], env)).stdout);
    expect(shown.checkpoints.map((c: { id: string }) => c.id)).toEqual(returned);
    const out = path.join(dir, "out");
    expect((await runCli(dir, ["-R", url, "checkout", returned[4]!, "-o", out], env)).code).toBe(0);
    expect(await fs.readFile(path.join(out, "model.bin"), "utf8")).toBe("epoch 4");
  });
});

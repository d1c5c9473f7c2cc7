/**
 * A bucket where many experiments are running at once (more than 64 not stopped): the listing
 * learns their heartbeats from one listing of `heartbeats/` instead of asking for each one, and
 * still tells the running ones from those whose writer died. Requests are counted by a
 * pass-through proxy in front of radosgw.
 */
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { makeProject, runCli, startScript, type ScriptResult } from "../helpers/project.js";
import { s3Environment, s3RepositoryUrl } from "../helpers/repositories.js";
import { startFaultProxy, type FaultProxy } from "../reliability/fault-proxy.js";
import { testServers } from "../servers/context.js";
import type { ChildProcess } from "node:child_process";

let proxy: FaultProxy;
const folders: string[] = [];
const children: ChildProcess[] = [];

beforeAll(async () => {
  s3Environment();
  proxy = await startFaultProxy(testServers().s3.endpoint, () => ({ kind: "pass" }));
});
afterAll(async () => {
  await proxy.close();
});
afterEach(async () => {
  for (const child of children.splice(0)) child.kill("SIGKILL");
  for (const dir of folders.splice(0)) await fs.rm(dir, { recursive: true, force: true });
});

/** Each machine has its own local state (spool, caches): a fresh CAIRN_CACHE_DIR is another machine. */
async function machine(): Promise<Record<string, string>> {
  const cache = await fs.mkdtemp(path.join(os.tmpdir(), "cairn-machine-"));
  folders.push(cache);
  return { ...s3Environment(), AWS_ENDPOINT_URL_S3: proxy.endpoint, CAIRN_CACHE_DIR: cache, CAIRN_HEARTBEAT_INTERVAL: "0.2" };
}

/** Starts `count` experiments that stay running (never stopped); resolves with their IDs once all are published. */
async function startRunning(dir: string, url: string, count: number): Promise<{ ids: string[]; child: ChildProcess; done: Promise<ScriptResult> }> {
  const script = startScript(
    dir,
    `for (let e = 0; e < ${count}; e++) {
      const experiment = await cairn.init({ repository: ${JSON.stringify(url)}, params: { e } });
      await experiment.checkpoint({ metrics: { loss: 1 / (e + 1) } });
      process.stdout.write(experiment.id + "\\n");
    }
    process.stdout.write("ready\\n");
    setInterval(() => {}, 1000);`,
    await machine(),
  );
  children.push(script.child);
  const ids: string[] = [];
  await new Promise<void>((resolve, reject) => {
    let buffered = "";
    script.child.stdout!.on("data", (data: Buffer) => {
      buffered += data.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      for (const line of lines) {
        if (line === "ready") resolve();
        else ids.push(line);
      }
    });
    void script.done.then((result) => reject(new Error(`the writer ended early (code ${result.code}): ${result.stderr}`)));
  });
  return { ids, ...script };
}

describe("a bucket with more than 64 running experiments", () => {
  it("lists heartbeats instead of asking for each, and tells running from crashed", async () => {
    const dir = await makeProject({ "train.py": "x = 1\n" });
    folders.push(dir);
    const url = s3RepositoryUrl();

    // One machine's writer dies without a word (SIGKILL: no stop recorded anywhere) ...
    const dead = await startRunning(dir, url, 66);
    dead.child.kill("SIGKILL");
    await dead.done;
    // ... another's keeps beating.
    const alive = await startRunning(dir, url, 2);
    // Past three missed beats plus slack (staleAfterMs: 3 × 0.2 s + 5 s), the dead ones are crashed.
    await new Promise((resolve) => setTimeout(resolve, 6_500));

    const from = proxy.log.length;
    const listed = await runCli(dir, ["-R", url, "ls", "--json"], await machine());
    expect(listed.stderr).toBe("");
    expect(listed.code).toBe(0);
    const rows = JSON.parse(listed.stdout) as { id: string; status: string }[];
    const statusOf = new Map(rows.map((row) => [row.id, row.status]));
    expect(rows).toHaveLength(68);
    for (const id of dead.ids) expect(statusOf.get(id)).toBe("crashed");
    for (const id of alive.ids) expect(statusOf.get(id)).toBe("running");

    const requests = proxy.log.slice(from).map((request) => {
      const url = new URL(request.url, "http://x");
      if (request.method === "GET" && url.searchParams.has("list-type")) return `LIST ${url.searchParams.get("prefix") ?? ""}`;
      return `${request.method} ${decodeURIComponent(url.pathname)}`;
    });
    // (The live writer's own heartbeat PUTs go on meanwhile; the listing reads none one by one.)
    expect(requests.filter((r) => r.includes("/heartbeats/") && /^(HEAD|GET) /.test(r))).toEqual([]);
    expect(requests.some((r) => r.startsWith("LIST") && r.includes("heartbeats/"))).toBe(true);

    alive.child.kill("SIGTERM");
    const ended = await alive.done;
    expect(ended.signal ?? ended.code).toBe("SIGTERM");
  }, 120_000);
});

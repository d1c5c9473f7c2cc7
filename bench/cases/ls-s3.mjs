/**
 * `cairn ls` over 10,000 experiments of 100 checkpoints each in an S3 repository on radosgw
 * (issue 7: at most 10 s cold, at most 1 s warm when nothing changed, with only LIST requests
 * sent). Cold: a new local cache folder (CAIRN_CACHE_DIR), so every summary is fetched; warm: the
 * same command again. Requests are counted by a pass-through relay in front of radosgw that reads
 * the request heads (countingProxy below).
 * Baseline (not a target): `aws s3 ls --recursive` of the repository's experiments/ (LIST only).
 *
 * The repository is the one of ls-local.mjs (a few experiments through the public API, the rest
 * copies written in the documented layout), made on local disk and then uploaded object by
 * object in the writer's order: the record, then its summary.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs/promises";
import * as net from "node:net";
import * as path from "node:path";
import { formatSeconds, median, run, spread, time } from "../lib.mjs";
import { startS3Server } from "../s3-server.mjs";
import { makeRepository } from "./ls-local.mjs";

export default {
  name: "ls-s3",
  target: "≤ 10 s cold, ≤ 1 s warm, LIST only",
  async run({ quick, runs, directory, dist, cli, log }) {
    const cairn = await import(dist);
    const { encodeSummary } = await import(new URL("repository/summary.js", dist).href);
    const { openStorage } = await import(new URL("storage/open.js", dist).href);
    const experimentCount = quick ? 200 : 10_000;
    const checkpointCount = 100;
    const count = runs ?? 3;
    const project = path.join(directory, "project");
    const repositoryFolder = path.join(project, ".cairn");

    log(`making ${experimentCount} experiments of ${checkpointCount} checkpoints on local disk`);
    await makeRepository({ cairn, encodeSummary, project, repositoryFolder, experimentCount, checkpointCount, templates: 2 });
    log("starting radosgw");
    const s3 = await startS3Server(path.join(directory, "ceph"), { buckets: ["cairn"], memoryBytes: 2 * 1024 ** 3 });
    const proxy = await countingProxy(s3.endpoint);
    try {
      Object.assign(process.env, s3.env);
      const url = "s3://cairn/repo";
      log(`uploading the repository to ${url}`);
      const uploadSeconds = await upload(openStorage, repositoryFolder, url);

      const env = { ...process.env, ...s3.env, AWS_ENDPOINT_URL: proxy.endpoint, AWS_ENDPOINT_URL_S3: proxy.endpoint, NO_COLOR: "1", CAIRN_REPOSITORY: "" };
      const cold = [];
      const warm = [];
      const coldRequests = [];
      const warmRequests = [];
      let rows = 0;
      for (let i = 0; i < count; i++) {
        const cache = await fs.mkdtemp(path.join(directory, "cache-"));
        const runEnv = { ...env, CAIRN_CACHE_DIR: cache };
        let from = proxy.log.length;
        const first = await run(process.execPath, [cli, "-R", url, "ls", "-q"], { cwd: project, env: runEnv });
        cold.push(first.seconds);
        coldRequests.push(summarize(proxy.log.slice(from)));
        rows = first.stdout.trim().split("\n").length;
        from = proxy.log.length;
        const again = await run(process.execPath, [cli, "-R", url, "ls", "-q"], { cwd: project, env: runEnv });
        warm.push(again.seconds);
        warmRequests.push(summarize(proxy.log.slice(from)));
        if (again.stdout !== first.stdout) throw new Error("the warm listing differs from the cold one");
        await fs.rm(cache, { recursive: true, force: true });
      }
      if (rows !== experimentCount) throw new Error(`cairn ls printed ${rows} experiments, expected ${experimentCount}`);

      // The same through the API, in this process: a new Repository with an empty local cache
      // (cold), then the same Repository again (warm), through the same counting proxy.
      const apiCold = [];
      const apiWarm = [];
      const apiWarmRequests = [];
      const savedEnvironment = { ...process.env };
      try {
        for (let i = 0; i < count; i++) {
          const cache = await fs.mkdtemp(path.join(directory, "api-cache-"));
          Object.assign(process.env, { AWS_ENDPOINT_URL: proxy.endpoint, AWS_ENDPOINT_URL_S3: proxy.endpoint, CAIRN_CACHE_DIR: cache });
          const check = (list) => {
            if (list.length !== experimentCount) throw new Error(`experiments.list() found ${list.length} experiments, expected ${experimentCount}`);
          };
          let repository;
          apiCold.push(await time(async () => check(await (repository = await cairn.openRepository(url, { projectDirectory: project })).listExperiments())));
          const from = proxy.log.length;
          apiWarm.push(await time(async () => check(await repository.listExperiments())));
          apiWarmRequests.push(summarize(proxy.log.slice(from)));
          await fs.rm(cache, { recursive: true, force: true });
        }
      } finally {
        for (const key of ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "CAIRN_CACHE_DIR"]) {
          if (savedEnvironment[key] === undefined) delete process.env[key];
          else process.env[key] = savedEnvironment[key];
        }
      }
      const apiOnlyList = apiWarmRequests.every((r) => Object.keys(r).every((kind) => kind === "LIST"));
      const baseline = awsList(s3.env, s3.endpoint);
      const scale = `${experimentCount.toLocaleString("en")} experiments × ${checkpointCount} checkpoints`;
      const onlyList = warmRequests.every((r) => Object.keys(r).every((kind) => kind === "LIST"));
      return [
        {
          label: `cairn ls, S3 (radosgw), cold: empty local cache, ${scale}`,
          value: median(cold),
          unit: "s",
          baseline: baseline === null ? undefined : { label: "aws s3 ls experiments/", value: baseline },
          limit: { max: 10 },
          note: `${spread(cold)}; requests: ${describe(coldRequests.at(-1))}. Uploaded in ${formatSeconds(uploadSeconds)}.`,
        },
        {
          label: `cairn ls, S3 (radosgw), warm: nothing changed, ${scale}`,
          value: median(warm),
          unit: "s",
          baseline: baseline === null ? undefined : { label: "aws s3 ls experiments/", value: baseline },
          limit: { max: 1 },
          note: `${spread(warm)}; requests: ${describe(warmRequests.at(-1))} (${onlyList ? "LIST only, as required" : "NOT only LIST"}).`,
        },
        {
          label: `experiments.list(), S3 (radosgw), cold: new Repository, empty local cache, ${scale}`,
          value: median(apiCold),
          unit: "s",
          baseline: baseline === null ? undefined : { label: "aws s3 ls experiments/", value: baseline },
          limit: { max: 10 },
          note: `${spread(apiCold)}; in the benchmark's own process (no Node start).`,
        },
        {
          label: `experiments.list(), S3 (radosgw), warm: same Repository, nothing changed, ${scale}`,
          value: median(apiWarm),
          unit: "s",
          baseline: baseline === null ? undefined : { label: "aws s3 ls experiments/", value: baseline },
          limit: { max: 1 },
          note: `${spread(apiWarm)}; requests: ${describe(apiWarmRequests.at(-1))} (${apiOnlyList ? "LIST only, as required" : "NOT only LIST"}).`,
        },
      ];
    } finally {
      await proxy.close();
      await s3.stop();
    }
  },
};

/** Uploads a local repository folder into `url`, each record before its summary. */
async function upload(openStorage, folder, url) {
  const started = process.hrtime.bigint();
  const storage = await openStorage(url, { baseDirectory: folder });
  const keys = [];
  const walk = async (dir, prefix) => {
    for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
      const key = prefix ? `${prefix}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (key !== "local" && key !== "summaries") await walk(path.join(dir, entry.name), key);
      } else keys.push(key);
    }
  };
  await walk(folder, "");
  const put = async (key) => storage.put(key, await fs.readFile(path.join(folder, key)));
  const work = keys.map((key) => async () => {
    await put(key);
    // As the writer does: the summary after its record.
    const id = /^experiments\/([0-9a-f]{32})\.json$/.exec(key)?.[1];
    if (id) await put(`summaries/${id}.json`);
  });
  let next = 0;
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (next < work.length) await work[next++]();
  }));
  await storage.close?.();
  return Number(process.hrtime.bigint() - started) / 1e9;
}

/**
 * A pass-through proxy that logs each request as LIST, GET, PUT, HEAD or DELETE. It relays
 * bytes at the TCP level and reads only the request heads (method, target, Content-Length) to
 * count them. An HTTP-level proxy (a Node http server forwarding through http.request) took
 * 3.2 s of CPU over a cold listing of 10,000 summaries, this one 1.3 s (measured side by side on
 * a busy machine): that time is taken from the same two cores as Cairn and radosgw, and is
 * the instrument's, not Cairn's.
 */
async function countingProxy(target) {
  const upstream = new URL(target);
  const log = [];
  const sockets = new Set();
  const server = net.createServer((client) => {
    const origin = net.connect({ host: upstream.hostname, port: Number(upstream.port) });
    for (const socket of [client, origin]) {
      socket.setNoDelay(true);
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => {
        client.destroy();
        origin.destroy();
      });
    }
    client.on("data", requestCounter(log, () => client.destroy()));
    client.pipe(origin);
    origin.pipe(client);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    endpoint: `http://127.0.0.1:${server.address().port}`,
    log,
    close: () => new Promise((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}

/**
 * Follows the requests of one client connection through the bytes it sends: each request head
 * (up to a blank line) is logged, and a body of Content-Length bytes skipped. Chunked request
 * bodies are not followed (no request of `cairn ls` has one): the connection is dropped rather
 * than miscounted.
 */
function requestCounter(log, refuse) {
  let pending = "";
  let bodyLeft = 0;
  return (chunk) => {
    pending += chunk.toString("latin1");
    for (;;) {
      if (bodyLeft > 0) {
        const skip = Math.min(bodyLeft, pending.length);
        bodyLeft -= skip;
        pending = pending.slice(skip);
        if (bodyLeft > 0) return;
      }
      const end = pending.indexOf("\r\n\r\n");
      if (end < 0) return;
      const [line, ...fields] = pending.slice(0, end).split("\r\n");
      pending = pending.slice(end + 4);
      const [method, target] = line.split(" ");
      const url = new URL(target, "http://x");
      log.push(method === "GET" && (url.searchParams.has("list-type") || url.pathname.split("/").filter(Boolean).length <= 1) ? "LIST" : method);
      for (const field of fields) {
        const colon = field.indexOf(":");
        const name = field.slice(0, colon).trim().toLowerCase();
        const value = field.slice(colon + 1).trim();
        if (name === "content-length") bodyLeft = Number(value);
        if (name === "transfer-encoding" && value.toLowerCase() !== "identity") return refuse();
      }
    }
  };
}

function summarize(entries) {
  const counts = {};
  for (const kind of entries) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}

function describe(counts = {}) {
  return Object.entries(counts).map(([kind, n]) => `${n} ${kind}`).join(", ") || "none";
}

/** Seconds `aws s3 ls --recursive` takes over experiments/, or null without the aws CLI. */
function awsList(env, endpoint) {
  const started = process.hrtime.bigint();
  const result = spawnSync("aws", ["s3", "ls", "--recursive", "--endpoint-url", endpoint, "s3://cairn/repo/experiments/"], { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"] });
  if (result.error || result.status !== 0) return null;
  return Number(process.hrtime.bigint() - started) / 1e9;
}

/**
 * A throwaway single-node Ceph cluster whose radosgw speaks S3 on 127.0.0.1, for the benchmarks:
 * the same server the storage tests use (test/servers/ceph.ts, which is TypeScript and not
 * built into dist/, so its steps are repeated here in plain JavaScript). One monitor, one
 * memstore OSD (the bucket lives in memory: size it with `memoryBytes`), radosgw, an S3 user
 * with random keys; no cephx, no systemd. Every daemon runs under `setpriv --pdeathsig KILL`,
 * so a benchmark that is killed leaves none behind.
 */
import { execFile, spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { closeSync, openSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import * as net from "node:net";
import * as path from "node:path";
import { promisify } from "node:util";

const exec = promisify(execFile);
// The AWS SDK warns on stderr about its future Node requirement: noise in a benchmark log.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const RGW_POOLS = [".rgw.root", "default.rgw.log", "default.rgw.control", "default.rgw.meta", "default.rgw.buckets.index", "default.rgw.buckets.data", "default.rgw.buckets.non-ec"];

// One Python process (Debian's python3-rados) registers the OSD and creates the pools.
const SETUP_SCRIPT = `
import json, sys, rados
conf, osd_uuid, pools = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
cluster = rados.Rados(conffile=conf)
cluster.connect(timeout=20)
def command(**fields):
    code, out, err = cluster.mon_command(json.dumps(fields), b"")
    if code != 0:
        raise SystemExit("ceph %s failed (%d): %s" % (fields["prefix"], code, err))
    return out
command(prefix="osd new", uuid=osd_uuid, id=0)
for pool in pools:
    command(prefix="osd pool create", pool=pool, pg_num=8, pgp_num=8)
    command(prefix="osd pool application enable", pool=pool, app="rgw", yes_i_really_mean_it=True)
cluster.shutdown()
`;

/**
 * Starts radosgw with all state under `root` and creates `buckets`. Resolves to the endpoint,
 * the keys and a `stop()`; `env` holds the variables the AWS SDK, the aws CLI and Cairn read.
 *
 * @example
 * const s3 = await startS3Server("/tmp/bench/ceph", { buckets: ["cairn", "baseline"] });
 * // ... spawn("aws", ["s3", "ls", "--endpoint-url", s3.endpoint], { env: { ...process.env, ...s3.env } })
 * await s3.stop();
 */
export async function startS3Server(root, { buckets = [], memoryBytes = 8 * 1024 ** 3 } = {}) {
  const [monPort, rgwPort] = [await freePort(), await freePort()];
  const fsid = randomUUID();
  const osdUuid = randomUUID();
  const dir = (name) => path.join(root, name);
  await Promise.all(["run", "log", "mon", "osd", "rgw"].map((name) => mkdir(dir(name), { recursive: true })));
  const conf = dir("ceph.conf");
  await writeFile(conf, cephConf({ root, fsid, monPort, rgwPort, memoryBytes }));
  const daemons = [];
  const stop = async () => {
    // Referenced again, so the wait for their exit holds the event loop open (they are reaped).
    for (const daemon of daemons.reverse()) daemon.ref(), daemon.kill("SIGKILL");
    await Promise.all(daemons.map((daemon) => (daemon.exitCode === null && daemon.signalCode === null ? new Promise((resolve) => daemon.once("exit", resolve)) : null)));
  };
  const daemon = (name, args) => {
    const log = openSync(dir(`log/${name}.out`), "a");
    try {
      const child = spawn("setpriv", ["--pdeathsig", "KILL", "--", name, ...args], { stdio: ["ignore", log, log] });
      child.unref();
      daemons.push(child);
      return child;
    } finally {
      closeSync(log);
    }
  };
  try {
    await exec("monmaptool", ["--create", "--fsid", fsid, "--addv", "a", `[v2:127.0.0.1:${monPort}]`, dir("monmap")]);
    await Promise.all([
      exec("ceph-mon", ["-c", conf, "--mkfs", "-i", "a", "--monmap", dir("monmap")], { timeout: 30_000 }),
      exec("ceph-osd", ["-c", conf, "--mkfs", "--no-mon-config", "-i", "0", "--osd-uuid", osdUuid], { timeout: 30_000 }),
    ]);
    daemon("ceph-mon", ["-f", "-c", conf, "-i", "a"]);
    await exec("/usr/bin/python3", ["-c", SETUP_SCRIPT, conf, osdUuid, RGW_POOLS.join(",")], { timeout: 30_000 });
    daemon("ceph-osd", ["-f", "-c", conf, "-i", "0"]);
    const accessKeyId = `bench${randomBytes(8).toString("hex")}`;
    const secretAccessKey = randomBytes(24).toString("hex");
    await exec("radosgw-admin", ["-c", conf, "-n", "client.rgw", "user", "create", "--uid=bench", "--display-name=bench", `--access-key=${accessKeyId}`, `--secret-key=${secretAccessKey}`], {
      timeout: 30_000,
    });
    daemon("radosgw", ["-f", "-c", conf, "-n", "client.rgw"]);
    await waitForPort(rgwPort, 30_000);
    const endpoint = `http://127.0.0.1:${rgwPort}`;
    const env = {
      AWS_ACCESS_KEY_ID: accessKeyId,
      AWS_SECRET_ACCESS_KEY: secretAccessKey,
      AWS_REGION: "us-east-1",
      AWS_DEFAULT_REGION: "us-east-1",
      AWS_ENDPOINT_URL: endpoint,
      AWS_ENDPOINT_URL_S3: endpoint,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    };
    const { S3Client, CreateBucketCommand } = await import("@aws-sdk/client-s3");
    const client = new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
    try {
      for (const bucket of buckets) await client.send(new CreateBucketCommand({ Bucket: bucket }));
    } finally {
      client.destroy();
    }
    return { endpoint, region: "us-east-1", accessKeyId, secretAccessKey, env, logs: dir("log"), stop };
  } catch (error) {
    await stop();
    throw new Error(`Ceph (radosgw) did not start (\`bash scripts/ci-install.sh\` installs it): ${error.message}\n${error.stderr ?? ""}Logs are in ${dir("log")}.`);
  }
}

function cephConf({ root, fsid, monPort, rgwPort, memoryBytes }) {
  const p = (name) => path.join(root, name);
  return `[global]
fsid = ${fsid}
mon host = v2:127.0.0.1:${monPort}
public addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
run dir = ${p("run")}
admin socket = ${p("run")}/$name.asok
pid file = ${p("run")}/$name.pid
log file = ${p("log")}/$name.log
log to stderr = false
err to stderr = false
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
mon allow pool size one = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
paxos propose interval = 0.05
objecter tick interval = 0.1
ms bind ipv6 = false
[mon]
mon data = ${p("mon")}
mon data avail warn = 1
mon data avail crit = 0
[osd]
osd data = ${p("osd")}
osd objectstore = memstore
memstore device bytes = ${memoryBytes}
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:${rgwPort} tcp_nodelay=1
rgw data = ${p("rgw")}
ms mon client mode = crc
rgw thread pool size = 64
# Deleted objects' data is freed at once, not after the default 2 hours: the benchmark deletes
# each run's gigabytes, and the bucket lives in memory.
rgw gc obj min wait = 0
rgw gc processor period = 10
`;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(port, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const up = await new Promise((resolve) => {
      const socket = net.connect({ host: "127.0.0.1", port });
      socket.once("connect", () => (socket.destroy(), resolve(true)));
      socket.once("error", () => resolve(false));
    });
    if (up) return;
    if (Date.now() > deadline) throw new Error(`radosgw does not listen on 127.0.0.1:${port} after ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
